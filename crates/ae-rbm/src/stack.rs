//! Greedy layer-wise pretraining of a stack of RBMs (each layer trained on the previous
//! layer's hidden probabilities), its training monitors, and unrolling the stack into an
//! ae-core deep autoencoder (Hinton & Salakhutdinov 2006).

use std::time::Instant;

use ae_core::checkpoint::{Checkpointing, load_msgpack, remove, save_msgpack};
use ae_core::{AeConfig, AnyAe, ArchSpec, CheckedAe, ReconLoss, mlp::Activation};
use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{RbmError, Result};
use crate::rbm::{HiddenUnits, Rbm, RbmConfig, RbmState, TrainParams, VisibleUnits, host};

/// How to pretrain a stack. Defaults are the paper's MNIST protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StackSpec {
    /// Hidden sizes from the input upwards; the last is the linear code layer.
    pub layers: Vec<usize>,
    /// Epochs per layer (the paper: 50).
    pub epochs: usize,
    /// Mini-batch size (the paper: 100).
    pub batch_size: usize,
    /// Learning rate of the binary-hidden layers (the paper: 0.1).
    pub lr_binary: f64,
    /// Learning rate of the linear-hidden top layer (the paper: 0.001).
    pub lr_linear: f64,
    /// Gibbs steps (CD-k).
    pub k: usize,
    /// Momentum for the first `momentum_switch` epochs (the paper: 0.5) ...
    pub momentum_initial: f64,
    /// ... and after them (the paper: 0.9).
    pub momentum_final: f64,
    /// Epoch (0-based) from which `momentum_final` applies (the paper: 5).
    pub momentum_switch: usize,
    /// L2 weight decay (the paper: 2e-4).
    pub weight_decay: f64,
    /// Images in each monitor subset (training subset and held-out data).
    pub monitor: usize,
}

impl Default for StackSpec {
    fn default() -> Self {
        StackSpec {
            layers: vec![1000, 500, 250, 30],
            epochs: 50,
            batch_size: 100,
            lr_binary: 0.1,
            lr_linear: 0.001,
            k: 1,
            momentum_initial: 0.5,
            momentum_final: 0.9,
            momentum_switch: 5,
            weight_decay: 2e-4,
            monitor: 1000,
        }
    }
}

/// A [`StackSpec`] checked once, at the boundary (linfa's `ParamGuard`): what
/// [`pretrain`] takes. Built only by [`StackSpec::check`]; reads as a `StackSpec`.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedStack(StackSpec);

impl std::ops::Deref for CheckedStack {
    type Target = StackSpec;
    fn deref(&self) -> &StackSpec {
        &self.0
    }
}

impl StackSpec {
    /// Checks every field, each layer's RBM settings included; errors name the field.
    pub fn check(&self) -> Result<CheckedStack> {
        self.validate()?;
        Ok(CheckedStack(self.clone()))
    }

    fn validate(&self) -> Result<()> {
        let bad = |field, value, expected| Err(RbmError::invalid(field, value, expected));
        if self.layers.is_empty() || self.layers.contains(&0) {
            return bad(
                "layers",
                format!("{:?}", self.layers),
                "one or more layers of >= 1 unit",
            );
        }
        if self.epochs == 0 {
            return bad("epochs", "0".into(), ">= 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "0".into(), ">= 1");
        }
        for lr in [self.lr_binary, self.lr_linear] {
            self.params(lr, self.momentum_initial).check()?;
            self.params(lr, self.momentum_final).check()?;
        }
        Ok(())
    }

    fn params(&self, lr: f64, momentum: f64) -> TrainParams {
        TrainParams {
            k: self.k,
            lr,
            momentum,
            weight_decay: self.weight_decay,
        }
    }
}

/// One epoch of one layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerEpoch {
    /// Layer index from the input, 0-based.
    pub layer: usize,
    /// Epoch, from 1.
    pub epoch: usize,
    /// Mean one-step reconstruction SSE per example over the epoch's batches.
    pub recon_sse: f64,
    /// Mean free energy of the held-out subset minus that of the training subset; growing
    /// values mean the layer is overfitting (Hinton's practical guide, section 6).
    pub free_energy_gap: f64,
    /// Stochastic pseudo-log-likelihood per example of the (binarised) training subset,
    /// for binary-hidden layers: D · ln σ(F(x̃) − F(x)) with x̃ = x with one random unit
    /// flipped.
    pub pseudo_log_likelihood: Option<f64>,
    /// Wall time of the epoch.
    pub seconds: f64,
}

/// Where pretraining is, for progress displays.
#[derive(Debug, Clone, Copy)]
pub struct StackProgress {
    /// Layer, 0-based.
    pub layer: usize,
    /// Number of layers.
    pub layers: usize,
    /// Epoch, from 1.
    pub epoch: usize,
    /// Batches done in this epoch.
    pub batch: usize,
    /// Batches per epoch.
    pub batches: usize,
}

fn mean_of<B: Backend>(t: Tensor<B, 2>) -> Result<f64> {
    let v = host(t.mean())?;
    Ok(v.first().copied().map_or(f64::NAN, f64::from))
}

/// Trains the stack greedily on `train` (`[n, dim]` row-major, values in [0, 1]), watching
/// `held_out` (`[m, dim]`, used for the free-energy monitor only).
pub fn pretrain<B: Backend>(
    spec: &CheckedStack,
    train: &[f32],
    held_out: &[f32],
    dim: usize,
    seed: u64,
    device: &B::Device,
    progress: &mut dyn FnMut(StackProgress),
) -> Result<(Vec<Rbm<B>>, Vec<LayerEpoch>)> {
    pretrain_resumable(spec, train, held_out, dim, seed, device, progress, None)
}

/// A pretraining run frozen between two epochs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackState {
    /// The run's identity (spec, data sizes, seed): another run's checkpoint is refused.
    pub fingerprint: String,
    /// Finished layers, from the input up.
    pub done: Vec<RbmState>,
    /// The layer in progress and how many of its epochs are finished.
    pub current: Option<(RbmState, usize)>,
    /// Every finished epoch's monitors.
    pub log: Vec<LayerEpoch>,
}

/// The sampling stream of `layer`'s epoch `epoch` (> 0): reseeded at every epoch so that
/// a run resumed between two epochs draws what the uninterrupted run draws. Epoch 0
/// continues the stream that drew the layer's initial weights.
fn epoch_seed(seed: u64, layer: usize, epoch: usize) -> u64 {
    seed.wrapping_mul(1000)
        .wrapping_add(layer as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(epoch as u64)
}

/// [`pretrain`], writing `checkpoint` after every epoch and continuing from it when it
/// exists; it is removed when the stack is finished. A resumed run ends bit for bit where
/// the uninterrupted one does (same backend).
#[allow(clippy::too_many_arguments)] // pretrain's arguments plus the checkpoint
pub fn pretrain_resumable<B: Backend>(
    spec: &CheckedStack,
    train: &[f32],
    held_out: &[f32],
    dim: usize,
    seed: u64,
    device: &B::Device,
    progress: &mut dyn FnMut(StackProgress),
    checkpoint: Option<&Checkpointing>,
) -> Result<(Vec<Rbm<B>>, Vec<LayerEpoch>)> {
    let spec: &StackSpec = spec;
    if dim == 0 || train.is_empty() || !train.len().is_multiple_of(dim) {
        return Err(RbmError::InvalidConfig {
            field: "train",
            value: format!("{} values", train.len()),
            expected: "a non-empty multiple of the input dimension",
        });
    }
    let n = train.len() / dim;
    let m = held_out.len() / dim;
    let fingerprint = format!("{spec:?} n={n} m={m} dim={dim} seed={seed}");
    let saved = match checkpoint {
        Some(c) => load_msgpack::<StackState>(&c.path, "an RBM pretraining checkpoint")?,
        None => None,
    };
    if let Some(s) = &saved
        && s.fingerprint != fingerprint
    {
        return Err(RbmError::invalid(
            "checkpoint",
            checkpoint.map_or(String::new(), |c| c.path.display().to_string()),
            "a checkpoint of this pretraining run (same spec, data and seed); remove it to start over",
        ));
    }
    let (done, mut current, mut log) = match saved {
        Some(s) => (s.done, s.current, s.log),
        None => (Vec::new(), None, Vec::new()),
    };
    let mut data = Tensor::<B, 2>::from_data(TensorData::new(train.to_vec(), [n, dim]), device);
    let mut held = Tensor::<B, 2>::from_data(
        TensorData::new(held_out[..m * dim].to_vec(), [m, dim]),
        device,
    );
    let mut rbms: Vec<Rbm<B>> = Vec::new();
    let mut visible = dim;
    // Finished layers come back from the checkpoint; their outputs are recomputed.
    for state in &done {
        let rbm = Rbm::<B>::import(state, device)?;
        data = rbm.hidden_mean(data);
        if m > 0 {
            held = rbm.hidden_mean(held);
        }
        visible = rbm.config.hidden;
        rbms.push(rbm);
    }
    for (layer, &hidden) in spec.layers.iter().enumerate().skip(rbms.len()) {
        let top = layer + 1 == spec.layers.len();
        let (mut rbm, first_epoch) = match current.take() {
            Some((state, epochs)) => (Rbm::<B>::import(&state, device)?, epochs),
            None => {
                B::seed(device, seed.wrapping_mul(1000).wrapping_add(layer as u64));
                let config = RbmConfig {
                    visible,
                    hidden,
                    visible_units: VisibleUnits::Bernoulli,
                    hidden_units: if top {
                        HiddenUnits::Linear
                    } else {
                        HiddenUnits::Bernoulli
                    },
                };
                (Rbm::<B>::new(config, device)?, 0)
            }
        };
        let lr = if top { spec.lr_linear } else { spec.lr_binary };
        let batches = n.div_ceil(spec.batch_size);
        let mon = spec.monitor.min(n).max(1);
        let train_sub = data.clone().narrow(0, 0, mon);
        let held_sub = held.clone().narrow(0, 0, spec.monitor.min(m).max(1).min(m));
        for epoch in first_epoch..spec.epochs {
            let t = Instant::now();
            if epoch > 0 {
                B::seed(device, epoch_seed(seed, layer, epoch));
            }
            let momentum = if epoch < spec.momentum_switch {
                spec.momentum_initial
            } else {
                spec.momentum_final
            };
            // Both momenta at both rates were checked with the spec; checked again per
            // epoch (not per step), it cannot fail.
            let params = spec.params(lr, momentum).check()?;
            let mut order: Vec<i64> = (0..n as i64).collect();
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(
                seed ^ ((layer as u64) << 40) ^ ((epoch as u64) << 20),
            ));
            let idx = Tensor::<B, 1, Int>::from_data(TensorData::new(order, [n]), device);
            let shuffled = data.clone().select(0, idx);
            let mut sse = 0f64;
            for b in 0..batches {
                let start = b * spec.batch_size;
                let len = spec.batch_size.min(n - start);
                let stats = rbm.cd_step(shuffled.clone().narrow(0, start, len), &params)?;
                sse += stats.recon_sse * len as f64;
                progress(StackProgress {
                    layer,
                    layers: spec.layers.len(),
                    epoch: epoch + 1,
                    batch: b + 1,
                    batches,
                });
            }
            let free_energy_gap = if m > 0 {
                mean_of(rbm.free_energy(held_sub.clone()))?
                    - mean_of(rbm.free_energy(train_sub.clone()))?
            } else {
                f64::NAN
            };
            let pseudo_log_likelihood = if top {
                None
            } else {
                Some(pseudo_log_likelihood(
                    &rbm,
                    train_sub.clone(),
                    seed ^ epoch as u64,
                )?)
            };
            log.push(LayerEpoch {
                layer,
                epoch: epoch + 1,
                recon_sse: sse / n as f64,
                free_energy_gap,
                pseudo_log_likelihood,
                seconds: t.elapsed().as_secs_f64(),
            });
            if let Some(c) = checkpoint {
                let state = StackState {
                    fingerprint: fingerprint.clone(),
                    done: rbms.iter().map(Rbm::export).collect::<Result<_>>()?,
                    current: Some((rbm.export()?, epoch + 1)),
                    log: log.clone(),
                };
                save_msgpack(&state, &c.path)?;
            }
        }
        // The next layer learns from this one's hidden probabilities.
        data = rbm.hidden_mean(data);
        if m > 0 {
            held = rbm.hidden_mean(held);
        }
        visible = hidden;
        rbms.push(rbm);
    }
    if let Some(c) = checkpoint {
        remove(&c.path)?;
    }
    Ok((rbms, log))
}

/// Stochastic pseudo-log-likelihood per example of `v` binarised at 0.5 (Besag 1975, as in
/// scikit-learn's `BernoulliRBM.score_samples`), one random flipped unit per example.
pub fn pseudo_log_likelihood<B: Backend>(rbm: &Rbm<B>, v: Tensor<B, 2>, seed: u64) -> Result<f64> {
    let [rows, cols] = v.dims();
    let device = v.device();
    let x = v.greater_elem(0.5).float();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut flip = vec![0f32; rows * cols];
    for r in 0..rows {
        let j = rand::Rng::random_range(&mut rng, 0..cols);
        flip[r * cols + j] = 1.0;
    }
    let flip = Tensor::<B, 2>::from_data(TensorData::new(flip, [rows, cols]), &device);
    // x̃ = x xor flip
    let x_flipped = x.clone() + flip.clone() - x.clone() * flip * 2.0;
    let diff = rbm.free_energy(x_flipped) - rbm.free_energy(x);
    Ok(mean_of(log_sigmoid(diff))? * cols as f64)
}

/// The deterministic up-down pass: hidden means up the stack, visible means back down.
pub fn up_down<B: Backend>(rbms: &[Rbm<B>], v: Tensor<B, 2>) -> Tensor<B, 2> {
    let mut h = v;
    for r in rbms {
        h = r.hidden_mean(h);
    }
    for r in rbms.iter().rev() {
        h = r.visible_mean(h);
    }
    h
}

/// The autoencoder a stack unrolls into: logistic layers throughout, a linear code if
/// the top layer has linear hidden units, cross-entropy loss.
pub fn unrolled_config(input: usize, layers: &[usize], linear_code: bool) -> Result<CheckedAe> {
    let (hidden, code) = match layers.split_last() {
        Some((&code, hidden)) => (hidden.to_vec(), code),
        None => {
            return Err(RbmError::InvalidConfig {
                field: "layers",
                value: "[]".into(),
                expected: "at least one layer to unroll",
            });
        }
    };
    let arch = ArchSpec {
        hidden,
        activation: Activation::Sigmoid,
        code_activation: if linear_code {
            Activation::Linear
        } else {
            Activation::Sigmoid
        },
        loss: ReconLoss::Bce,
        ..ArchSpec::default()
    };
    let config = if arch.hidden.is_empty() {
        AeConfig::Shallow { arch }
    } else {
        AeConfig::Deep { arch }
    };
    Ok(config.check(input, code)?)
}

/// Unrolls the stack: the encoder uses each RBM's W and hidden biases, the decoder Wᵀ and
/// visible biases, in reverse; the two halves are untied from here on.
pub fn unroll<B: Backend>(rbms: &[Rbm<B>]) -> Result<(AnyAe<B>, CheckedAe)> {
    let input = rbms.first().map_or(0, |r| r.config.visible);
    let layers: Vec<usize> = rbms.iter().map(|r| r.config.hidden).collect();
    let linear = rbms
        .last()
        .is_some_and(|r| r.config.hidden_units == HiddenUnits::Linear);
    let checked = unrolled_config(input, &layers, linear)?;
    let bias = |b: &Tensor<B, 2>| b.clone().squeeze_dim::<1>(0);
    let encoder = rbms.iter().map(|r| (r.w.clone(), bias(&r.hb))).collect();
    let decoder = rbms
        .iter()
        .rev()
        .map(|r| (r.w.clone().transpose(), bias(&r.vb)))
        .collect();
    let model = checked.init_from_layers(encoder, decoder)?;
    Ok((model, checked))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ae_core::Codec;
    use burn::backend::Flex;

    type B = Flex;

    fn bars(n: usize) -> Vec<f32> {
        // 4x4 images with one horizontal or vertical bar.
        (0..n)
            .flat_map(|i| {
                (0..16).map(move |p| {
                    let (r, c) = (p / 4, p % 4);
                    let on = if i % 2 == 0 {
                        r == i / 2 % 4
                    } else {
                        c == i / 2 % 4
                    };
                    on as u8 as f32
                })
            })
            .collect()
    }

    fn small_spec() -> StackSpec {
        StackSpec {
            layers: vec![12, 8, 3],
            epochs: 6,
            batch_size: 8,
            lr_linear: 0.01,
            monitor: 32,
            ..StackSpec::default()
        }
    }

    #[test]
    fn unrolled_network_reconstructs_exactly_like_the_up_down_pass() {
        let d = Default::default();
        let data = bars(64);
        let (rbms, log) = pretrain::<B>(
            &small_spec().check().unwrap(),
            &data,
            &bars(16),
            16,
            3,
            &d,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(rbms.len(), 3);
        assert_eq!(log.len(), 3 * 6);
        assert!(
            log.iter()
                .all(|e| e.recon_sse.is_finite() && e.free_energy_gap.is_finite())
        );
        assert!(
            log.iter()
                .filter(|e| e.layer < 2)
                .all(|e| e.pseudo_log_likelihood.is_some())
        );
        assert!(
            log.iter()
                .filter(|e| e.layer == 2)
                .all(|e| e.pseudo_log_likelihood.is_none())
        );
        let (model, checked) = unroll(&rbms).unwrap();
        assert_eq!(checked.encoder_sizes(), &[16, 12, 8, 3]);
        let x = Tensor::<B, 2>::from_data(TensorData::new(data[..8 * 16].to_vec(), [8, 16]), &d);
        let ours = host(model.reconstruct(x.clone())).unwrap();
        let reference = host(up_down(&rbms, x)).unwrap();
        for (a, b) in ours.iter().zip(&reference) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn first_layer_learns_bars_and_its_pseudo_likelihood_rises() {
        let d = Default::default();
        let spec = StackSpec {
            layers: vec![8, 2],
            epochs: 30,
            ..small_spec()
        };
        let (_, log) = pretrain::<B>(
            &spec.check().unwrap(),
            &bars(64),
            &bars(8),
            16,
            0,
            &d,
            &mut |_| {},
        )
        .unwrap();
        let first = &log[0];
        let last = &log[29];
        assert_eq!((first.layer, last.layer), (0, 0));
        assert!(
            last.recon_sse < 0.5 * first.recon_sse,
            "{first:?} -> {last:?}"
        );
        let (p0, p1) = (
            first.pseudo_log_likelihood.unwrap(),
            last.pseudo_log_likelihood.unwrap(),
        );
        assert!(p1 > p0, "PLL {p0} -> {p1}");
    }

    #[test]
    fn pseudo_log_likelihood_matches_its_definition_on_a_tiny_rbm() {
        // 3 visible units, so the exact flipped-unit terms can be listed by hand.
        let d = Default::default();
        let mut rbm = Rbm::<B>::new(
            RbmConfig {
                visible: 3,
                hidden: 2,
                visible_units: VisibleUnits::Bernoulli,
                hidden_units: HiddenUnits::Bernoulli,
            },
            &d,
        )
        .unwrap();
        rbm.w = Tensor::from_floats([[0.5, -1.0], [1.5, 0.2], [-0.3, 0.8]], &d);
        rbm.vb = Tensor::from_floats([[0.1, -0.2, 0.3]], &d);
        rbm.hb = Tensor::from_floats([[-0.4, 0.6]], &d);
        let fe = |v: [f64; 3]| {
            let w = [[0.5, -1.0], [1.5, 0.2], [-0.3, 0.8]];
            let (b, c) = ([0.1, -0.2, 0.3], [-0.4, 0.6]);
            let vb: f64 = (0..3).map(|i| v[i] * b[i]).sum();
            let sp: f64 = (0..2)
                .map(|j| (1.0 + (c[j] + (0..3).map(|i| v[i] * w[i][j]).sum::<f64>()).exp()).ln())
                .sum();
            -vb - sp
        };
        let v = [1.0, 0.0, 1.0];
        // Average over which unit is flipped: the expectation of the estimator.
        let exact: f64 = (0..3)
            .map(|j| {
                let mut f = v;
                f[j] = 1.0 - f[j];
                3.0 * (-(1.0 + (-(fe(f) - fe(v))).exp()).ln())
            })
            .sum::<f64>()
            / 3.0;
        let x = Tensor::<B, 2>::from_data(
            TensorData::new([1f32, 0.0, 1.0].repeat(3000), [3000, 3]),
            &d,
        );
        let est = pseudo_log_likelihood(&rbm, x, 5).unwrap();
        assert!((est - exact).abs() < 0.05 * exact.abs(), "{est} vs {exact}");
    }
}
