//! The encode/decode interface every model answers, PCA included.

use burn::prelude::*;

use crate::error::{CoreError, Result};
use crate::metrics::ReconMetrics;

/// Anything that maps images to codes and codes back to images.
///
/// Shapes: `encode` takes `[batch, dim]` pixels in `[0, 1]` and returns `[batch, code]`;
/// `decode` returns `[batch, dim]` in pixel space (after any output nonlinearity).
pub trait Codec<B: Backend> {
    /// Size of the code.
    fn code_size(&self) -> usize;

    /// `[batch, dim]` -> `[batch, code]`.
    fn encode(&self, x: Tensor<B, 2>) -> Tensor<B, 2>;

    /// `[batch, code]` -> `[batch, dim]`.
    fn decode(&self, z: Tensor<B, 2>) -> Tensor<B, 2>;

    /// `decode(encode(x))`.
    fn reconstruct(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.decode(self.encode(x))
    }
}

/// What a training step needs from a model: the losses, named, and what produced them.
#[derive(Debug, Clone)]
pub struct AeOutput<B: Backend> {
    /// `recon + Σ terms`: what the optimizer minimises, `[1]`.
    pub total: Tensor<B, 1>,
    /// Reconstruction loss per image (batch mean), `[1]`.
    pub recon: Tensor<B, 1>,
    /// The variant's other loss terms, already weighted, by name (e.g. `("kl", …)`),
    /// each `[1]`; empty for plain AEs.
    pub terms: Vec<(&'static str, Tensor<B, 1>)>,
    /// The code, `[batch, code]`.
    pub code: Tensor<B, 2>,
    /// The reconstruction in pixel space, `[batch, dim]`.
    pub reconstruction: Tensor<B, 2>,
}

impl<B: Backend> AeOutput<B> {
    /// Assembles the output of a model whose decoder emits logits (x̂ = σ(logits), or
    /// the logits themselves under the Gaussian loss).
    pub fn from_logits(
        loss: crate::config::ReconLoss,
        recon: Tensor<B, 1>,
        terms: Vec<(&'static str, Tensor<B, 1>)>,
        code: Tensor<B, 2>,
        logits: Tensor<B, 2>,
    ) -> Self {
        let total = terms
            .iter()
            .fold(recon.clone(), |sum, (_, t)| sum + t.clone());
        AeOutput {
            total,
            recon,
            terms,
            code,
            reconstruction: crate::loss::recon_output(loss, logits),
        }
    }

    /// The sum of the terms beside the reconstruction (zero when there are none), `[1]`.
    pub fn regularization(&self) -> Tensor<B, 1> {
        let zero = Tensor::zeros([1], &self.recon.device());
        self.terms.iter().fold(zero, |sum, (_, t)| sum + t.clone())
    }
}

/// An autoencoder: a [`Codec`] with a training loss, and optional capabilities (a prior
/// to sample from, a training step of several phases) whose defaults say "none".
pub trait Autoencoder<B: Backend>: Codec<B> {
    /// Loss of reconstructing `target` from `input` (they differ for denoising AEs).
    fn loss_against(&self, input: Tensor<B, 2>, target: Tensor<B, 2>) -> AeOutput<B>;

    /// Loss of reconstructing `x` from itself.
    fn loss(&self, x: Tensor<B, 2>) -> AeOutput<B> {
        self.loss_against(x.clone(), x)
    }

    /// `n` images decoded from codes drawn from the model's prior (this thread's
    /// [`crate::noise`] stream), `[n, dim]`; `None` for models without a prior.
    fn sample_prior(&self, _n: usize, _device: &B::Device) -> Option<Tensor<B, 2>> {
        None
    }

    /// The weights from the input to the encoder's first layer, `[units, input]`: what
    /// each first-layer unit responds to (drawn as the model's learned features); `None`
    /// for encoders that do not start with a dense layer.
    fn input_filters(&self) -> Option<Tensor<B, 2>> {
        None
    }

    /// Optimizer steps per batch. A model with several (an adversarial AE: reconstruction,
    /// discriminator, generator) gets one step per phase on the same batch, in order, each
    /// on [`Autoencoder::phase_loss`]; a parameter a phase's loss does not reach is not
    /// updated in that phase (so one per-parameter optimizer acts as one per phase).
    fn phases(&self) -> usize {
        1
    }

    /// The loss minimised in step `phase` (1 ≤ phase < [`Autoencoder::phases`]) of a
    /// batch, `[1]`; phase 0 is [`Autoencoder::loss_against`], whose reconstruction the
    /// training curve records.
    fn phase_loss(&self, phase: usize, input: Tensor<B, 2>, target: Tensor<B, 2>) -> Tensor<B, 1> {
        debug_assert_eq!(phase, 0, "a one-phase model has only phase 0");
        self.loss_against(input, target).total
    }
}

/// Decodes `steps` codes evenly spaced on the segment from `za` to `zb` (`[1, code]`
/// each), endpoints included: `[steps, dim]`.
pub fn interpolate<B: Backend, C: Codec<B> + ?Sized>(
    codec: &C,
    za: Tensor<B, 2>,
    zb: Tensor<B, 2>,
    steps: usize,
) -> Tensor<B, 2> {
    let rows: Vec<Tensor<B, 2>> = (0..steps)
        .map(|i| {
            let t = if steps > 1 {
                i as f64 / (steps - 1) as f64
            } else {
                0.0
            };
            za.clone() * (1.0 - t) + zb.clone() * t
        })
        .collect();
    codec.decode(Tensor::cat(rows, 0))
}

/// Reads a tensor back to host memory as f32.
pub fn to_vec<B: Backend, const D: usize>(t: Tensor<B, D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .map_err(|e| CoreError::Data(e.to_string()))
}

/// Uploads `[rows, cols]` row-major f32 data to `device`.
pub fn from_slice<B: Backend>(
    data: &[f32],
    rows: usize,
    cols: usize,
    device: &B::Device,
) -> Tensor<B, 2> {
    Tensor::from_data(TensorData::new(data.to_vec(), [rows, cols]), device)
}

/// Reconstruction metrics of `model` over `images` (`[n, dim]` row-major), in batches.
pub fn evaluate<B: Backend, M: Codec<B>>(
    model: &M,
    images: &[f32],
    dim: usize,
    batch_size: usize,
    device: &B::Device,
) -> Result<ReconMetrics> {
    if dim == 0 || !images.len().is_multiple_of(dim) {
        return Err(CoreError::Shape {
            what: "evaluation images",
            expected: format!("a multiple of dim = {dim} values"),
            found: format!("{} values", images.len()),
        });
    }
    let mut m = ReconMetrics::new(dim);
    for chunk in images.chunks(batch_size.max(1) * dim) {
        let x = from_slice::<B>(chunk, chunk.len() / dim, dim, device);
        let x_hat = to_vec(model.reconstruct(x))?;
        m.add(chunk, &x_hat);
    }
    Ok(m)
}
