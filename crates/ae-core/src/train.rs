//! The trainer shared by every variant: seeded batches, optional input corruption, Adam or
//! SGD with momentum, per-epoch train/validation losses, early stopping, and a hard stop
//! on a non-finite loss.

use std::time::Instant;

use ae_data::{Batches, Split};
use burn::module::AutodiffModule;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use crate::cg::cg_batch;
use crate::config::{AnyAe, CheckedAe};
use crate::error::{CoreError, Result};
use crate::model::{Autoencoder, from_slice, to_vec};

/// Which optimizer to use.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum OptimizerSpec {
    /// Adam with burn's defaults (β₁ = 0.9, β₂ = 0.999, ε = 1e-5).
    Adam,
    /// SGD with (heavy-ball) momentum.
    Sgd {
        /// Momentum factor, e.g. 0.9.
        momentum: f64,
    },
    /// Nonlinear conjugate gradients (Polak–Ribière+, Moré–Thuente line search), as
    /// Hinton & Salakhutdinov (2006) fine-tuned: `line_searches` per batch, on batches of
    /// `batch_size` (the paper: 3 line searches on 1000 images). `lr` is unused.
    Cg {
        /// Line searches per batch.
        line_searches: u64,
    },
}

/// Training hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSpec {
    /// Optimizer.
    pub optimizer: OptimizerSpec,
    /// Learning rate.
    pub lr: f64,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Maximum number of epochs.
    pub epochs: usize,
    /// Images held out of the training split for validation (0: none).
    pub validation: usize,
    /// Stop when the validation loss has not improved for this many epochs (needs
    /// `validation > 0`); the best epoch's weights are returned.
    pub patience: Option<usize>,
    /// Train on the first `train_limit` training images only (0: all).
    pub train_limit: usize,
    /// Dynamic binarization: every batch's pixels are redrawn as Bernoulli(intensity), the
    /// protocol of the VAE/IWAE likelihood papers (Burda et al. 2016).
    pub binarize: bool,
}

impl Default for TrainSpec {
    fn default() -> Self {
        TrainSpec {
            optimizer: OptimizerSpec::Adam,
            lr: 1e-3,
            batch_size: 128,
            epochs: 5,
            validation: 0,
            patience: None,
            train_limit: 0,
            binarize: false,
        }
    }
}

impl TrainSpec {
    /// Checks every field's range; errors name the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, value: String, expected: &str| {
            Err(CoreError::InvalidConfig {
                field,
                value,
                expected: expected.into(),
            })
        };
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad("train.lr", self.lr.to_string(), "a finite value > 0");
        }
        if self.batch_size == 0 {
            return bad("train.batch_size", "0".into(), ">= 1");
        }
        if self.epochs == 0 {
            return bad("train.epochs", "0".into(), ">= 1");
        }
        if self.patience.is_some() && self.validation == 0 {
            return bad(
                "train.patience",
                format!("{:?}", self.patience),
                "early stopping needs a validation split: set train.validation > 0",
            );
        }
        if let OptimizerSpec::Sgd { momentum } = self.optimizer
            && !(0.0..1.0).contains(&momentum)
        {
            return bad(
                "train.optimizer.momentum",
                momentum.to_string(),
                "0 <= momentum < 1",
            );
        }
        if let OptimizerSpec::Cg { line_searches: 0 } = self.optimizer {
            return bad(
                "train.optimizer.line_searches",
                "0".into(),
                ">= 1 line search per batch",
            );
        }
        Ok(())
    }
}

/// Losses of one epoch (per image, batch means averaged over the epoch's images).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training objective (recon + regularizer).
    pub train_total: f64,
    /// Mean training reconstruction loss.
    pub train_recon: f64,
    /// Mean validation reconstruction loss, if there is a validation split.
    pub val_recon: Option<f64>,
    /// Wall time of the epoch in seconds.
    pub seconds: f64,
}

/// Everything recorded while training.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One entry per epoch run.
    pub epochs: Vec<EpochStats>,
    /// Whether early stopping ended training.
    pub stopped_early: bool,
    /// Training images seen per second, over the whole run.
    pub samples_per_second: f64,
}

/// Where training is, for progress displays.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Current epoch, from 1.
    pub epoch: usize,
    /// Total epochs.
    pub epochs: usize,
    /// Batches done in this epoch.
    pub batch: usize,
    /// Batches per epoch.
    pub batches: usize,
    /// Loss of the last batch.
    pub loss: f32,
}

/// Trains a fresh model of `checked` on `train`, seeded by `seed`, on autodiff backend `B`.
pub fn fit<B: AutodiffBackend>(
    checked: &CheckedAe,
    spec: &TrainSpec,
    seed: u64,
    train: &Split,
    device: &B::Device,
    progress: &mut dyn FnMut(Progress),
) -> Result<(AnyAe<B::InnerBackend>, History)> {
    let model = crate::noise::init_seeded::<B, _>(device, seed, || checked.init::<B>(device));
    fit_from(
        model,
        checked,
        spec,
        seed,
        train,
        device,
        progress,
        &mut |_, _| Ok(()),
    )
}

/// Called after every epoch with its statistics and the model as it stands (e.g. to
/// record the test error per epoch).
pub type EpochHook<'a, B> = dyn FnMut(&EpochStats, &AnyAe<B>) -> Result<()> + 'a;

/// Trains `model` (fresh, or pretrained — e.g. an unrolled RBM stack) of config `checked`.
/// Batches are shuffled and training noise drawn from `seed`; build `model` with
/// [`crate::noise::init_seeded`] for reproducible initial weights.
#[allow(clippy::too_many_arguments)] // each is a distinct input of one training run
pub fn fit_from<B: AutodiffBackend>(
    model: AnyAe<B>,
    checked: &CheckedAe,
    spec: &TrainSpec,
    seed: u64,
    train: &Split,
    device: &B::Device,
    progress: &mut dyn FnMut(Progress),
    on_epoch: &mut EpochHook<'_, B::InnerBackend>,
) -> Result<(AnyAe<B::InnerBackend>, History)> {
    spec.validate()?;
    // Training noise (VAE, contractive estimator) comes from this thread's host stream,
    // never the backend's process-wide RNG, so concurrent cells stay reproducible.
    crate::noise::seed(seed);
    let limited;
    let train = if spec.train_limit > 0 && spec.train_limit < train.len() {
        limited = train.head(spec.train_limit);
        &limited
    } else {
        train
    };
    let (train, val) = if spec.validation > 0 {
        let (t, v) = train.split_validation(spec.validation, seed).map_err(|e| {
            CoreError::InvalidConfig {
                field: "train.validation",
                value: spec.validation.to_string(),
                expected: e.to_string(),
            }
        })?;
        (t, Some(v))
    } else {
        (train.clone(), None)
    };
    let run = Run {
        checked,
        spec,
        seed,
        train: &train,
        val: val.as_ref(),
        device,
    };
    match spec.optimizer {
        OptimizerSpec::Adam => run.go(
            model,
            &mut BurnStep {
                optim: crate::kernel::FusedAdam::init(),
                lr: spec.lr,
            },
            progress,
            on_epoch,
        ),
        OptimizerSpec::Sgd { momentum } => run.go(
            model,
            &mut BurnStep {
                optim: SgdConfig::new()
                    .with_momentum(Some(
                        MomentumConfig::new()
                            .with_momentum(momentum)
                            .with_dampening(0.0),
                    ))
                    .init(),
                lr: spec.lr,
            },
            progress,
            on_epoch,
        ),
        OptimizerSpec::Cg { line_searches } => {
            run.go(model, &mut CgStepper { line_searches }, progress, on_epoch)
        }
    }
}

/// One parameter update on a batch; returns the updated model and the batch's total and
/// reconstruction losses before the update.
trait Stepper<B: AutodiffBackend> {
    fn step(
        &mut self,
        model: AnyAe<B>,
        input: Tensor<B, 2>,
        target: Tensor<B, 2>,
    ) -> Result<(AnyAe<B>, f32, f32)>;
}

struct BurnStep<O> {
    optim: O,
    lr: f64,
}

impl<B: AutodiffBackend, O: Optimizer<AnyAe<B>, B>> Stepper<B> for BurnStep<O> {
    fn step(
        &mut self,
        model: AnyAe<B>,
        input: Tensor<B, 2>,
        target: Tensor<B, 2>,
    ) -> Result<(AnyAe<B>, f32, f32)> {
        let out = model.loss_against(input, target);
        let total = scalar(out.total.clone())?;
        let recon = scalar(out.recon)?;
        if !total.is_finite() {
            // Stepping on a non-finite loss would only spread NaNs into the weights.
            return Ok((model, total, recon));
        }
        let grads = GradientsParams::from_grads(out.total.backward(), &model);
        Ok((self.optim.step(self.lr, model, grads), total, recon))
    }
}

struct CgStepper {
    line_searches: u64,
}

impl<B: AutodiffBackend> Stepper<B> for CgStepper {
    fn step(
        &mut self,
        model: AnyAe<B>,
        input: Tensor<B, 2>,
        target: Tensor<B, 2>,
    ) -> Result<(AnyAe<B>, f32, f32)> {
        let before = model.loss_against(input.clone(), target.clone());
        let (total, recon) = (scalar(before.total)?, scalar(before.recon)?);
        if !total.is_finite() {
            return Ok((model, total, recon));
        }
        let (model, _) = cg_batch(model, input, target, self.line_searches)?;
        Ok((model, total, recon))
    }
}

struct Run<'a, B: AutodiffBackend> {
    checked: &'a CheckedAe,
    spec: &'a TrainSpec,
    seed: u64,
    train: &'a Split,
    val: Option<&'a Split>,
    device: &'a B::Device,
}

fn scalar<B: Backend>(t: Tensor<B, 1>) -> Result<f32> {
    Ok(to_vec(t)?.first().copied().unwrap_or(f32::NAN))
}

impl<B: AutodiffBackend> Run<'_, B> {
    fn go(
        &self,
        mut model: AnyAe<B>,
        stepper: &mut dyn Stepper<B>,
        progress: &mut dyn FnMut(Progress),
        on_epoch: &mut EpochHook<'_, B::InnerBackend>,
    ) -> Result<(AnyAe<B::InnerBackend>, History)> {
        let dim = self.train.dim();
        let batches = self.train.len().div_ceil(self.spec.batch_size);
        let corruption = self.checked.corruption();
        let mut history = History::default();
        let mut best: Option<(f64, AnyAe<B::InnerBackend>)> = None;
        let mut since_best = 0;
        let started = Instant::now();
        let mut seen = 0usize;
        for epoch in 0..self.spec.epochs {
            let t = Instant::now();
            let (mut total_sum, mut recon_sum) = (0f64, 0f64);
            for (bi, batch) in
                Batches::shuffled(self.train, self.spec.batch_size, self.seed, epoch as u64)
                    .enumerate()
            {
                let n = batch.len();
                // A distinct, reproducible noise draw for every (seed, epoch, batch).
                let s = self.seed ^ ((epoch as u64) << 32) ^ (bi as u64).wrapping_mul(0x9e37_79b9);
                let binary;
                let pixels = if self.spec.binarize {
                    binary = ae_data::binarize_dynamic(&batch.images, s.rotate_left(17));
                    &binary
                } else {
                    &batch.images
                };
                let x = from_slice::<B>(pixels, n, dim, self.device);
                let input = match corruption {
                    Some(c) => from_slice::<B>(&c.apply(pixels, s), n, dim, self.device),
                    None => x.clone(),
                };
                let (next, total, recon) = stepper.step(model, input, x)?;
                model = next;
                if !total.is_finite() {
                    return Err(CoreError::NonFinite {
                        epoch,
                        batch: bi,
                        value: total,
                    });
                }
                total_sum += f64::from(total) * n as f64;
                recon_sum += f64::from(recon) * n as f64;
                seen += n;
                progress(Progress {
                    epoch: epoch + 1,
                    epochs: self.spec.epochs,
                    batch: bi + 1,
                    batches,
                    loss: total,
                });
            }
            let val_recon = match self.val {
                Some(v) => Some(recon_on(
                    &model.valid(),
                    v,
                    self.spec.batch_size,
                    self.device,
                )?),
                None => None,
            };
            let n = self.train.len() as f64;
            let stats = EpochStats {
                epoch: epoch + 1,
                train_total: total_sum / n,
                train_recon: recon_sum / n,
                val_recon,
                seconds: t.elapsed().as_secs_f64(),
            };
            on_epoch(&stats, &model.valid())?;
            history.epochs.push(stats);
            if let (Some(patience), Some(v)) = (self.spec.patience, val_recon) {
                if best.as_ref().is_none_or(|(b, _)| v < *b) {
                    best = Some((v, model.valid()));
                    since_best = 0;
                } else {
                    since_best += 1;
                    if since_best >= patience {
                        history.stopped_early = true;
                        break;
                    }
                }
            }
        }
        history.samples_per_second = seen as f64 / started.elapsed().as_secs_f64();
        let model = match best {
            Some((_, m)) if history.stopped_early => m,
            _ => model.valid(),
        };
        Ok((model, history))
    }
}

/// Mean reconstruction loss per image of `model` on `split` (no corruption, no grad).
pub fn recon_on<B: Backend>(
    model: &AnyAe<B>,
    split: &Split,
    batch_size: usize,
    device: &B::Device,
) -> Result<f64> {
    let mut sum = 0f64;
    for batch in Batches::sequential(split, batch_size) {
        let x = from_slice::<B>(&batch.images, batch.len(), split.dim(), device);
        sum += f64::from(scalar(model.loss(x).recon)?) * batch.len() as f64;
    }
    Ok(sum / split.len() as f64)
}
