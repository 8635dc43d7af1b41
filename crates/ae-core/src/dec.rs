//! Deep Embedded Clustering (Xie, Girshick & Farhadi 2016): cluster centres in code
//! space, Student-t soft assignments q, a sharpened target p, and KL(p ‖ q) minimised over
//! the encoder and the centres together. Works on any trained model of the zoo; only its
//! encoder is updated.

use ae_data::Batches;
use burn::module::{AutodiffModule, Param};
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use crate::error::{CoreError, Result};
use crate::model::{Codec, from_slice, to_vec};
use crate::zoo::AnyAe;

/// An autoencoder's encoder with cluster centres in its code space.
#[derive(Module, Debug)]
pub struct Dec<B: Backend> {
    /// The autoencoder (its decoder gets no gradient).
    pub ae: AnyAe<B>,
    /// `[clusters, code]`.
    pub centroids: Param<Tensor<B, 2>>,
}

/// DEC's fine-tuning settings; the defaults are the paper's (SGD, lr 0.01, momentum 0.9,
/// batch 256, stop when < 0.1 % of assignments change between target updates).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecSpec {
    /// At most this many passes; the target p is recomputed before each.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// SGD learning rate.
    pub lr: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// Stop when fewer than this fraction of points changed cluster since the last pass.
    pub tolerance: f64,
}

impl Default for DecSpec {
    fn default() -> Self {
        DecSpec {
            epochs: 20,
            batch_size: 256,
            lr: 0.01,
            momentum: 0.9,
            tolerance: 0.001,
        }
    }
}

/// Student-t (one degree of freedom) soft assignment of codes `z` `[n, code]` to centres
/// `mu` `[clusters, code]`: q_ij ∝ (1 + ‖z_i − μ_j‖²)⁻¹, rows summing to 1: `[n, clusters]`.
pub fn soft_assign<B: Backend>(z: Tensor<B, 2>, mu: Tensor<B, 2>) -> Tensor<B, 2> {
    let zz = z.clone().square().sum_dim(1); // [n, 1]
    let mm = mu.clone().square().sum_dim(1).transpose(); // [1, clusters]
    let d2 = (zz + mm - z.matmul(mu.transpose()) * 2.0).clamp_min(0.0);
    let kernel = (d2 + 1.0).recip();
    kernel.clone() / kernel.sum_dim(1)
}

/// The target distribution p_ij ∝ q_ij² / f_j with cluster frequencies f_j = Σ_i q_ij,
/// rows normalised: it sharpens confident assignments and keeps big clusters from
/// swallowing the rest.
pub fn target_distribution<B: Backend>(q: Tensor<B, 2>) -> Tensor<B, 2> {
    let f = q.clone().sum_dim(0); // [1, clusters]
    let w = q.square() / f;
    w.clone() / w.sum_dim(1)
}

/// KL(p ‖ q) summed over clusters, averaged over the rows: `[1]`.
pub fn kl_loss<B: Backend>(p: Tensor<B, 2>, q: Tensor<B, 2>) -> Tensor<B, 1> {
    let eps = 1e-10;
    let n = p.dims()[0] as f64;
    let terms = p.clone() * ((p + eps).log() - (q + eps).log());
    terms.sum() / n
}

/// Soft assignments of `images` (`[n, dim]`) in batches, on the host: `[n * clusters]`.
pub fn assignments<B: Backend>(
    dec: &Dec<B>,
    images: &[f32],
    dim: usize,
    batch_size: usize,
    device: &B::Device,
) -> Result<Vec<f32>> {
    let mut q = Vec::new();
    for chunk in images.chunks(batch_size.max(1) * dim) {
        let x = from_slice::<B>(chunk, chunk.len() / dim, dim, device);
        q.extend(to_vec(soft_assign(dec.ae.encode(x), dec.centroids.val()))?);
    }
    Ok(q)
}

/// The most probable cluster of each row of `q` (`clusters` columns).
pub fn hard_labels(q: &[f32], clusters: usize) -> Vec<usize> {
    q.chunks(clusters)
        .map(|row| {
            row.iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(j, _)| j)
        })
        .collect()
}

/// What a DEC run did.
#[derive(Debug, Clone, PartialEq)]
pub struct DecHistory {
    /// KL(p ‖ q) averaged over each pass's batches.
    pub losses: Vec<f64>,
    /// Fraction of points whose cluster changed before each pass (the first is 1).
    pub changed: Vec<f64>,
}

/// Fine-tunes `dec` on `images` (`[n, dim]`): before each pass, q on every image gives the
/// target p (the paper refreshes it every T batches; once a pass is the same at T = n/b);
/// batches are shuffled by `seed`.
pub fn fit<B: AutodiffBackend>(
    mut dec: Dec<B>,
    split: &ae_data::Split,
    spec: DecSpec,
    seed: u64,
    device: &B::Device,
) -> Result<(Dec<B::InnerBackend>, DecHistory)> {
    let clusters = dec.centroids.dims()[0];
    let dim = split.dim();
    if spec.epochs == 0
        || spec.batch_size == 0
        || spec.lr.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
    {
        return Err(CoreError::InvalidConfig {
            field: "dec",
            value: format!("{spec:?}"),
            expected: "epochs >= 1, batch_size >= 1, lr > 0".into(),
        });
    }
    let mut optim = SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new()
                .with_momentum(spec.momentum)
                .with_dampening(0.0),
        ))
        .init();
    let mut history = DecHistory {
        losses: Vec::new(),
        changed: Vec::new(),
    };
    let mut previous: Option<Vec<usize>> = None;
    for epoch in 0..spec.epochs {
        let inner = dec.valid();
        let q = assignments(&inner, &split.images, dim, 1000, device)?;
        let labels = hard_labels(&q, clusters);
        let changed = previous.as_ref().map_or(1.0, |old| {
            old.iter().zip(&labels).filter(|(a, b)| a != b).count() as f64 / labels.len() as f64
        });
        history.changed.push(changed);
        if changed < spec.tolerance {
            break;
        }
        previous = Some(labels);
        let q_all = Tensor::<B::InnerBackend, 2>::from_data(
            TensorData::new(q, [split.len(), clusters]),
            device,
        );
        let p = to_vec(target_distribution(q_all))?;
        let (mut sum, mut seen) = (0f64, 0usize);
        for batch in Batches::shuffled(split, spec.batch_size, seed, epoch as u64) {
            let n = batch.len();
            let rows: Vec<f32> = batch
                .indices
                .iter()
                .flat_map(|&i| p[i * clusters..(i + 1) * clusters].iter().copied())
                .collect();
            let target = from_slice::<B>(&rows, n, clusters, device);
            let x = from_slice::<B>(&batch.images, n, dim, device);
            let q = soft_assign(dec.ae.encode(x), dec.centroids.val());
            let loss = kl_loss(target, q);
            let value = f64::from(to_vec(loss.clone())?.first().copied().unwrap_or(f32::NAN));
            if !value.is_finite() {
                return Err(CoreError::NonFinite {
                    epoch,
                    batch: seen / spec.batch_size,
                    value: value as f32,
                });
            }
            sum += value * n as f64;
            seen += n;
            let grads = GradientsParams::from_grads(loss.backward(), &dec);
            dec = optim.step(spec.lr, dec, grads);
        }
        history.losses.push(sum / seen.max(1) as f64);
    }
    Ok((dec.valid(), history))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use burn::backend::{Autodiff, Flex};

    type B = Flex;
    type AD = Autodiff<Flex>;

    fn t2<Bk: Backend>(v: &[f32], r: usize, c: usize) -> Tensor<Bk, 2> {
        from_slice::<Bk>(v, r, c, &Default::default())
    }

    /// The same three quantities in f64, written out from the paper's equations.
    fn host(z: &[[f64; 2]], mu: &[[f64; 2]]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let q: Vec<Vec<f64>> = z
            .iter()
            .map(|zi| {
                let k: Vec<f64> = mu
                    .iter()
                    .map(|m| 1.0 / (1.0 + (zi[0] - m[0]).powi(2) + (zi[1] - m[1]).powi(2)))
                    .collect();
                let s: f64 = k.iter().sum();
                k.iter().map(|v| v / s).collect()
            })
            .collect();
        let f: Vec<f64> = (0..mu.len())
            .map(|j| q.iter().map(|r| r[j]).sum())
            .collect();
        let p = q
            .iter()
            .map(|r| {
                let w: Vec<f64> = r.iter().zip(&f).map(|(q, f)| q * q / f).collect();
                let s: f64 = w.iter().sum();
                w.iter().map(|v| v / s).collect()
            })
            .collect();
        (q, p)
    }

    fn kl_host(p: &[Vec<f64>], q: &[Vec<f64>]) -> f64 {
        let mut s = 0.0;
        for (pr, qr) in p.iter().zip(q) {
            for (a, b) in pr.iter().zip(qr) {
                s += a * (a / b).ln();
            }
        }
        s / p.len() as f64
    }

    const Z: [[f64; 2]; 3] = [[0.0, 0.0], [1.0, 2.0], [3.0, -1.0]];
    const MU: [[f64; 2]; 2] = [[0.5, 0.5], [2.0, 0.0]];

    fn flat(a: &[[f64; 2]]) -> Vec<f32> {
        a.iter().flatten().map(|&v| v as f32).collect()
    }

    #[test]
    fn assignments_target_and_kl_match_the_equations() {
        let (qh, ph) = host(&Z, &MU);
        let q = soft_assign::<B>(t2(&flat(&Z), 3, 2), t2(&flat(&MU), 2, 2));
        let qv = to_vec(q.clone()).unwrap();
        let pv = to_vec(target_distribution(q.clone())).unwrap();
        for i in 0..3 {
            for j in 0..2 {
                assert!((f64::from(qv[i * 2 + j]) - qh[i][j]).abs() < 1e-6);
                assert!((f64::from(pv[i * 2 + j]) - ph[i][j]).abs() < 1e-6);
            }
        }
        let p = t2::<B>(&pv, 3, 2);
        let kl = to_vec(kl_loss(p, q)).unwrap()[0];
        assert!((f64::from(kl) - kl_host(&ph, &qh)).abs() < 1e-6);
        assert_eq!(hard_labels(&qv, 2), vec![0, 0, 1]);
    }

    #[test]
    fn centroid_gradient_matches_finite_differences() {
        let (_, ph) = host(&Z, &MU);
        let p = t2::<AD>(
            &ph.iter().flatten().map(|&v| v as f32).collect::<Vec<_>>(),
            3,
            2,
        );
        let mu = t2::<AD>(&flat(&MU), 2, 2).require_grad();
        let loss = kl_loss(p, soft_assign(t2::<AD>(&flat(&Z), 3, 2), mu.clone()));
        let grads = loss.backward();
        let g = to_vec(mu.grad(&grads).unwrap()).unwrap();
        // p is held fixed, as in DEC's updates.
        let loss_at = |m: [[f64; 2]; 2]| {
            let (q, _) = host(&Z, &m);
            kl_host(&ph, &q)
        };
        let h = 1e-5;
        for j in 0..2 {
            for d in 0..2 {
                let (mut a, mut b) = (MU, MU);
                a[j][d] += h;
                b[j][d] -= h;
                let fd = (loss_at(a) - loss_at(b)) / (2.0 * h);
                assert!(
                    (f64::from(g[j * 2 + d]) - fd).abs() < 1e-4,
                    "{j} {d}: {} vs {fd}",
                    g[j * 2 + d]
                );
            }
        }
    }

    #[test]
    fn fine_tuning_sharpens_assignments_and_keeps_separated_clusters() {
        use crate::config::{AeConfig, ArchSpec};
        // Two blobs in 4-d, a tiny linear 4 -> 2 encoder.
        let mut images = Vec::new();
        let mut labels = Vec::new();
        for i in 0..200 {
            let c = i % 2;
            for d in 0..4 {
                let jitter = (((i * 13 + d * 7) % 11) as f32 - 5.0) * 0.02;
                images.push(if d % 2 == c { 0.8 } else { 0.2 } + jitter);
            }
            labels.push(c as u8);
        }
        let split = ae_data::Split {
            images,
            labels: labels.clone(),
            width: 2,
            height: 2,
        };
        let cfg = AeConfig::Shallow {
            arch: ArchSpec {
                code_activation: crate::mlp::Activation::Linear,
                ..ArchSpec::default()
            },
        };
        let device = Default::default();
        let checked = cfg.check(4, 2).unwrap();
        let ae = crate::noise::init_seeded::<AD, _>(&device, 1, || checked.init::<AD>(&device));
        // Centres: the codes of one member of each blob.
        let enc = ae.valid().encode(t2::<B>(&split.images[..8], 2, 4));
        let mu = Tensor::<AD, 2>::from_data(enc.into_data(), &device);
        let dec = Dec {
            ae,
            centroids: Param::from_tensor(mu),
        };
        let spec = DecSpec {
            epochs: 10,
            batch_size: 20,
            lr: 0.1,
            tolerance: 0.0,
            ..DecSpec::default()
        };
        let confidence =
            |q: &[f32]| q.chunks(2).map(|r| f64::from(r[0].max(r[1]))).sum::<f64>() / 200.0;
        let before = confidence(&assignments(&dec.valid(), &split.images, 4, 64, &device).unwrap());
        let (fitted, history) = fit(dec, &split, spec, 3, &device).unwrap();
        assert_eq!(history.losses.len(), 10);
        assert!(history.losses.iter().all(|l| l.is_finite() && *l >= 0.0));
        let q = assignments(&fitted, &split.images, 4, 64, &device).unwrap();
        // Self-training sharpens the soft assignments.
        assert!(
            confidence(&q) > before + 0.01,
            "{before} -> {}",
            confidence(&q)
        );
        let pred = hard_labels(&q, 2);
        let agree = pred
            .iter()
            .zip(&labels)
            .filter(|(p, l)| **p == usize::from(**l))
            .count();
        assert!(agree == 200 || agree == 0, "{agree}");
    }
}
