//! The MLP autoencoder shared by the shallow, deep, sparse, denoising and contractive
//! variants: one body, and a [`Regularizer`] that is the only thing that differs.

use burn::module::Param;
use burn::prelude::*;

use crate::config::{CheckedAe, ReconLoss, Sparsity};
use crate::loss::{bernoulli_kl_sum, recon_loss, recon_output};
use crate::mlp::{Activation, Mlp, MlpConfig};
use crate::model::{AeOutput, Autoencoder, Codec, from_slice, to_vec};

/// The variant-specific term added to the reconstruction loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Regularizer {
    /// None (shallow, deep and denoising AEs).
    None,
    /// A sparsity penalty on the code, or k-sparse selection.
    Sparse(Sparsity),
    /// λ ‖J_f(x)‖²_F of the encoder.
    Contractive(f32),
}

/// Standard deviation of the input perturbation of the contractive estimator for
/// encoders deeper than one layer (see [`MlpAe::jacobian_frobenius_sq`]).
pub const CONTRACTIVE_FD_SIGMA: f64 = 1e-2;

/// The decoder of an MLP AE: its own weights, or the encoder's transposed (tied).
#[derive(Module, Debug)]
pub enum MlpDecoder<B: Backend> {
    /// Untied: an MLP of its own.
    Free(Mlp<B>),
    /// Tied: one bias per layer; the weights are the encoder's, transposed, in reverse.
    Tied(TiedDecoder<B>),
}

/// Biases and activations of a tied decoder, code side first.
#[derive(Module, Debug)]
pub struct TiedDecoder<B: Backend> {
    biases: Vec<Param<Tensor<B, 1>>>,
    #[module(skip)]
    activations: Vec<Activation>,
}

/// Encoder and decoder MLPs. The decoder's last layer emits logits; x̂ = σ(logits).
#[derive(Module, Debug)]
pub struct MlpAe<B: Backend> {
    encoder: Mlp<B>,
    decoder: MlpDecoder<B>,
    #[module(skip)]
    regularizer: Regularizer,
    #[module(skip)]
    loss: ReconLoss,
    #[module(skip)]
    code_activation: Activation,
}

impl<B: Backend> MlpAe<B> {
    /// Builds the network for a checked config.
    pub(crate) fn new(checked: &CheckedAe, regularizer: Regularizer, device: &B::Device) -> Self {
        let arch = checked.config().arch();
        // Encoder first: the backend's seeded RNG stream then initialises the same
        // weights as before tied decoders existed, which keeps committed baselines valid.
        let encoder =
            MlpConfig::new(checked.encoder.clone(), checked.encoder_acts.clone()).init(device);
        let decoder = if arch.tied {
            MlpDecoder::Tied(TiedDecoder {
                biases: checked.decoder[1..]
                    .iter()
                    .map(|&n| Param::from_tensor(Tensor::zeros([n], device)))
                    .collect(),
                activations: checked.decoder_acts.clone(),
            })
        } else {
            MlpDecoder::Free(
                MlpConfig::new(checked.decoder.clone(), checked.decoder_acts.clone()).init(device),
            )
        };
        MlpAe {
            encoder,
            decoder,
            regularizer,
            loss: arch.loss,
            code_activation: arch.code_activation,
        }
    }

    /// An untied AE with the given layers (e.g. unrolled from pretrained RBMs); the
    /// caller's shapes must match `checked`'s sizes, which [`CheckedAe::init_from_layers`]
    /// verifies.
    pub(crate) fn from_parts(
        checked: &CheckedAe,
        regularizer: Regularizer,
        encoder: Mlp<B>,
        decoder: Mlp<B>,
    ) -> Self {
        let arch = checked.config().arch();
        MlpAe {
            encoder,
            decoder: MlpDecoder::Free(decoder),
            regularizer,
            loss: arch.loss,
            code_activation: arch.code_activation,
        }
    }

    /// Decoder logits for codes `[batch, code]` -> `[batch, dim]`.
    pub fn logits(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        match &self.decoder {
            MlpDecoder::Free(m) => m.forward(z),
            MlpDecoder::Tied(t) => {
                let mut x = z;
                let layers = self.encoder.layers().iter().rev();
                for ((layer, b), act) in layers.zip(&t.biases).zip(&t.activations) {
                    // [batch, out] x [out, in] -> [batch, in]
                    x = act.forward(crate::kernel::affine(
                        x,
                        layer.weight.val().transpose(),
                        b.val(),
                    ));
                }
                x
            }
        }
    }

    /// The encoder network.
    pub fn encoder(&self) -> &Mlp<B> {
        &self.encoder
    }

    /// The decoder (its own MLP, or biases tied to the encoder's weights).
    pub fn decoder(&self) -> &MlpDecoder<B> {
        &self.decoder
    }

    /// Keeps the k largest entries of each row, zeroes the rest; gradients flow only
    /// through the kept entries (the mask is a constant). The mask is built on the host:
    /// burn 0.21's autodiff has no `topk`, and ties must not keep more than k.
    fn k_sparse(h: Tensor<B, 2>, k: usize) -> Tensor<B, 2> {
        let [rows, cols] = h.dims();
        // `forward` cannot return an error, and a model trained through a silently empty
        // mask is worse than a failed cell (the sweep records a panic as one).
        let values = match to_vec(h.clone()) {
            Ok(v) => v,
            Err(e) => panic!("k-sparse code: {e}"),
        };
        let mut mask = vec![0f32; rows * cols];
        let mut order: Vec<usize> = (0..cols).collect();
        for (r, row) in values.chunks(cols).enumerate() {
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
            for &j in &order[..k.min(cols)] {
                mask[r * cols + j] = 1.0;
            }
        }
        h.clone() * from_slice::<B>(&mask, rows, cols, &h.device())
    }

    /// ‖J_f(x)‖²_F per example, averaged over the batch.
    ///
    /// Exact for a one-layer encoder h = a(Wx + b): Σ_j a'(·)_j² Σ_i W_ij², with a'
    /// recovered from h (σ: h(1 − h); tanh: 1 − h²; ReLU: 1[h > 0]; linear: 1).
    /// For deeper encoders, the unbiased-as-σ→0 estimator
    /// E_ε ‖f(x + ε) − f(x)‖² / σ², ε ~ N(0, σ² I), with one draw per example and
    /// σ = [`CONTRACTIVE_FD_SIGMA`] (Rifai et al. 2011's CAE+H uses the same idea).
    pub fn jacobian_frobenius_sq(&self, x: Tensor<B, 2>, h: Tensor<B, 2>) -> Tensor<B, 1> {
        let layers = self.encoder.layers();
        if layers.len() == 1 {
            let w2 = layers[0].weight.val().square().sum_dim(0); // [1, code]
            let da = match self.code_activation {
                Activation::Sigmoid => h.clone() * h.neg().add_scalar(1.0),
                Activation::Tanh => h.square().neg().add_scalar(1.0),
                Activation::Relu => h.greater_elem(0.0).float(),
                Activation::Linear => h.ones_like(),
            };
            (da.square() * w2).sum_dim(1).mean()
        } else {
            let eps = crate::noise::normal(x.dims(), CONTRACTIVE_FD_SIGMA, &x.device());
            let moved = self.encoder.forward(x + eps);
            (moved - h).square().sum_dim(1).mean() / (CONTRACTIVE_FD_SIGMA * CONTRACTIVE_FD_SIGMA)
        }
    }
}

impl<B: Backend> Codec<B> for MlpAe<B> {
    fn code_size(&self) -> usize {
        self.encoder.output_size()
    }

    fn encode(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let h = self.encoder.forward(x); // [batch, code]
        match self.regularizer {
            Regularizer::Sparse(Sparsity::KSparse { k }) => Self::k_sparse(h, k),
            _ => h,
        }
    }

    fn decode(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        recon_output(self.loss, self.logits(z))
    }
}

impl<B: Backend> Autoencoder<B> for MlpAe<B> {
    fn loss_against(&self, input: Tensor<B, 2>, target: Tensor<B, 2>) -> AeOutput<B> {
        let code = self.encode(input.clone()); // [batch, code]
        let logits = self.logits(code.clone()); // [batch, dim]
        let recon = recon_loss(self.loss, logits.clone(), target);
        let term = match self.regularizer {
            Regularizer::None | Regularizer::Sparse(Sparsity::KSparse { .. }) => None,
            Regularizer::Sparse(Sparsity::L1 { lambda }) => {
                Some(("l1", code.clone().abs().sum_dim(1).mean() * lambda))
            }
            Regularizer::Sparse(Sparsity::L2 { lambda }) => {
                Some(("l2", code.clone().square().sum_dim(1).mean() * lambda))
            }
            Regularizer::Sparse(Sparsity::Kl { rho, beta }) => Some((
                "sparsity_kl",
                bernoulli_kl_sum(rho, code.clone().mean_dim(0)) * beta,
            )),
            Regularizer::Contractive(lambda) => Some((
                "contractive",
                self.jacobian_frobenius_sq(input, code.clone()) * lambda,
            )),
        };
        AeOutput::from_logits(self.loss, recon, term.into_iter().collect(), code, logits)
    }

    fn input_filters(&self) -> Option<Tensor<B, 2>> {
        // burn's Linear stores `[input, output]`; a unit's filter is a column.
        let first = self.encoder.layers().first()?;
        Some(first.weight.val().transpose()) // [units, input]
    }
}
