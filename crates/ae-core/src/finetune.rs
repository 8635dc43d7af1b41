//! Supervised fine-tuning of a pretrained encoder with a softmax head: the like-for-like
//! reference of the frozen linear probe (the stacked-denoising-autoencoder protocol of
//! Vincent et al. 2010, whose 3-layer SdA reaches 98.7 % on MNIST this way).
//!
//! Works on any model of the zoo: the encoder and the head get gradients, the decoder
//! none (it is not on the path to the loss).

use ae_data::Batches;
use burn::module::AutodiffModule;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use crate::error::{CoreError, Result};
use crate::model::{Codec, from_slice, to_vec};
use crate::schedule::Schedule;
use crate::zoo::AnyAe;

/// An autoencoder's encoder with a linear softmax head on its code.
#[derive(Module, Debug)]
pub struct Classifier<B: Backend> {
    /// The pretrained autoencoder (only its encoder is used).
    pub ae: AnyAe<B>,
    /// `code -> classes`.
    pub head: Linear<B>,
}

impl<B: Backend> Classifier<B> {
    /// Puts a fresh head (seeded by `seed`) on `ae`'s code.
    pub fn new(ae: AnyAe<B>, classes: usize, seed: u64, device: &B::Device) -> Self {
        let k = ae.code_size();
        let head =
            crate::noise::init_seeded(device, seed, || LinearConfig::new(k, classes).init(device));
        Classifier { ae, head }
    }

    /// Class scores (logits), `[batch, dim]` -> `[batch, classes]`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.head.forward(self.ae.encode(x))
    }
}

/// Fine-tuning settings: Adam with a one-cycle schedule (the trainer's), cross-entropy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FinetuneSpec {
    /// Passes over the labelled images.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Peak learning rate.
    pub lr: f64,
}

impl FinetuneSpec {
    fn check(&self) -> Result<()> {
        if self.epochs == 0 || self.batch_size == 0 || !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(CoreError::InvalidConfig {
                field: "eval.features.finetune",
                value: format!("{self:?}"),
                expected: "epochs >= 1, batch_size >= 1, a finite lr > 0".into(),
            });
        }
        Ok(())
    }
}

/// Cross-entropy of `logits` `[n, classes]` against `labels`: the mean negative
/// log-softmax of the true class.
pub fn cross_entropy<B: Backend>(logits: Tensor<B, 2>, labels: &[u8]) -> Tensor<B, 1> {
    let device = logits.device();
    let targets = Tensor::<B, 1, Int>::from_data(
        TensorData::new(
            labels.iter().map(|&l| i64::from(l)).collect::<Vec<_>>(),
            [labels.len()],
        ),
        &device,
    );
    CrossEntropyLossConfig::new()
        .init(&device)
        .forward(logits, targets)
}

/// Fine-tunes `model` on `split` (images and labels) and returns it with each epoch's
/// mean training loss; batches are shuffled by `seed`.
pub fn fit<B: AutodiffBackend>(
    mut model: Classifier<B>,
    split: &ae_data::Split,
    spec: FinetuneSpec,
    seed: u64,
    device: &B::Device,
) -> Result<(Classifier<B::InnerBackend>, Vec<f64>)> {
    spec.check()?;
    if split.labels.len() != split.len() {
        return Err(CoreError::Shape {
            what: "fine-tuning labels",
            expected: format!("{} labels", split.len()),
            found: split.labels.len().to_string(),
        });
    }
    let dim = split.dim();
    let schedule = Schedule::one_cycle();
    let per_epoch = split.len().div_ceil(spec.batch_size);
    let total = spec.epochs * per_epoch;
    let mut optim = AdamConfig::new().init();
    let mut losses = Vec::with_capacity(spec.epochs);
    let mut step = 0;
    for epoch in 0..spec.epochs {
        let (mut sum, mut seen) = (0f64, 0usize);
        for batch in Batches::shuffled(split, spec.batch_size, seed, epoch as u64) {
            let n = batch.len();
            let x = from_slice::<B>(&batch.images, n, dim, device);
            let loss = cross_entropy(model.forward(x), &batch.labels);
            let value = f64::from(to_vec(loss.clone())?.first().copied().unwrap_or(f32::NAN));
            if !value.is_finite() {
                return Err(CoreError::NonFinite {
                    epoch,
                    batch: step % per_epoch,
                    value: value as f32,
                });
            }
            sum += value * n as f64;
            seen += n;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(schedule.lr(spec.lr, step, total), model, grads);
            step += 1;
        }
        losses.push(sum / seen.max(1) as f64);
    }
    Ok((model.valid(), losses))
}

/// Predicted classes of `images` (`[n, dim]`), in batches of `batch`.
pub fn predict<B: Backend>(
    model: &Classifier<B>,
    images: &[f32],
    dim: usize,
    batch: usize,
    device: &B::Device,
) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(images.len() / dim.max(1));
    for chunk in images.chunks(batch.max(1) * dim) {
        let x = from_slice::<B>(chunk, chunk.len() / dim, dim, device);
        let classes: Vec<i64> = model
            .forward(x)
            .argmax(1)
            .into_data()
            .convert::<i64>()
            .to_vec::<i64>()
            .map_err(|e| CoreError::Data(e.to_string()))?;
        out.extend(classes.into_iter().map(|c| c as usize));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::{AeConfig, ArchSpec, CheckedAe};
    use burn::backend::{Autodiff, Flex};

    type B = Flex;
    type AD = Autodiff<Flex>;

    fn shallow(input: usize, code: usize) -> CheckedAe {
        AeConfig::Shallow {
            arch: ArchSpec::default(),
        }
        .check(input, code)
        .unwrap()
    }

    #[test]
    fn cross_entropy_matches_a_hand_computation() {
        let logits = [1.0f32, 2.0, 0.5, -1.0, 0.0, 3.0];
        let labels = [1u8, 0];
        let t = from_slice::<B>(&logits, 2, 3, &Default::default());
        let got = f64::from(to_vec(cross_entropy(t, &labels)).unwrap()[0]);
        // −log softmax of the true class, averaged, in f64.
        let nll = |row: &[f32], y: usize| {
            let lse = row.iter().map(|&v| f64::from(v).exp()).sum::<f64>().ln();
            lse - f64::from(row[y])
        };
        let want = (nll(&logits[..3], 1) + nll(&logits[3..], 0)) / 2.0;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }

    /// Two classes that differ in which half of the image is lit: a tiny AE's encoder with a
    /// head learns them, and the decoder is untouched (it is off the loss's path).
    #[test]
    fn learns_a_separable_task_and_leaves_the_decoder_alone() {
        let device = Default::default();
        let (n, dim) = (64, 16);
        let mut images = vec![0f32; n * dim];
        let mut labels = vec![0u8; n];
        for i in 0..n {
            let class = i % 2;
            labels[i] = class as u8;
            for j in 0..dim / 2 {
                let pixel = if class == 0 { j } else { dim / 2 + j };
                images[i * dim + pixel] = 0.5 + 0.5 * ((i * 7 + j * 3) % 5) as f32 / 5.0;
            }
        }
        let split = ae_data::Split {
            images: images.clone(),
            labels: labels.clone(),
            height: 4,
            width: 4,
        };
        let cfg = shallow(dim, 3);
        let ae = crate::noise::init_seeded::<AD, _>(&device, 1, || cfg.init::<AD>(&device));
        let original = ae.valid();
        let model = Classifier::new(ae, 2, 2, &device);
        let spec = FinetuneSpec {
            epochs: 30,
            batch_size: 16,
            lr: 0.05,
        };
        let (tuned, losses) = fit(model, &split, spec, 3, &device).unwrap();
        assert_eq!(losses.len(), 30);
        assert!(losses[29] < 0.5 * losses[0], "{losses:?}");
        let pred = predict(&tuned, &images, dim, 10, &device).unwrap();
        let right = pred
            .iter()
            .zip(&labels)
            .filter(|(p, y)| **p == **y as usize);
        assert_eq!(right.count(), n);
        // The encoder moved, the decoder did not.
        let x = from_slice::<B>(&images[..4 * dim], 4, dim, &device);
        let z = from_slice::<B>(&[0.3, -0.2, 0.9, 0.1, 0.5, -0.7], 2, 3, &device);
        let enc = |ae: &AnyAe<B>| to_vec(ae.encode(x.clone())).unwrap();
        let dec = |ae: &AnyAe<B>| to_vec(ae.decode(z.clone())).unwrap();
        assert_ne!(enc(&tuned.ae), enc(&original), "the encoder never moved");
        assert_eq!(dec(&tuned.ae), dec(&original), "the decoder moved");
    }

    #[test]
    fn rejects_bad_settings_before_training() {
        let device = Default::default();
        let cfg = shallow(4, 2);
        let model = Classifier::new(cfg.init::<AD>(&device), 2, 0, &device);
        let split = ae_data::Split {
            images: vec![0.0; 8],
            labels: vec![0, 1],
            height: 2,
            width: 2,
        };
        let spec = FinetuneSpec {
            epochs: 0,
            batch_size: 2,
            lr: 0.1,
        };
        let err = fit(model, &split, spec, 0, &device).err().unwrap();
        assert!(err.to_string().contains("eval.features.finetune"), "{err}");
    }
}
