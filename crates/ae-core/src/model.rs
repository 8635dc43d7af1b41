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
    /// `recon + regularizer`: what the optimizer minimises, `[1]`.
    pub total: Tensor<B, 1>,
    /// Reconstruction loss per image (batch mean), `[1]`.
    pub recon: Tensor<B, 1>,
    /// The variant's regularizer (already weighted), `[1]`; zero for plain AEs.
    pub regularizer: Tensor<B, 1>,
    /// The code, `[batch, code]`.
    pub code: Tensor<B, 2>,
    /// The reconstruction in pixel space, `[batch, dim]`.
    pub reconstruction: Tensor<B, 2>,
}

impl<B: Backend> AeOutput<B> {
    /// Assembles the output of a model whose decoder emits logits (x̂ = σ(logits)).
    pub fn from_logits(
        recon: Tensor<B, 1>,
        regularizer: Tensor<B, 1>,
        code: Tensor<B, 2>,
        logits: Tensor<B, 2>,
    ) -> Self {
        AeOutput {
            total: recon.clone() + regularizer.clone(),
            recon,
            regularizer,
            code,
            reconstruction: burn::tensor::activation::sigmoid(logits),
        }
    }
}

/// An autoencoder: a [`Codec`] with a training loss.
pub trait Autoencoder<B: Backend>: Codec<B> {
    /// Loss of reconstructing `target` from `input` (they differ for denoising AEs).
    fn loss_against(&self, input: Tensor<B, 2>, target: Tensor<B, 2>) -> AeOutput<B>;

    /// Loss of reconstructing `x` from itself.
    fn loss(&self, x: Tensor<B, 2>) -> AeOutput<B> {
        self.loss_against(x.clone(), x)
    }
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
