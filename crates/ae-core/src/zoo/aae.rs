//! The adversarial autoencoder (Makhzani, Shlens, Jaitly, Goodfellow & Frey 2015): an MLP
//! autoencoder whose aggregate code distribution q(z) is pushed toward a prior p(z) by a
//! discriminator on the code. Each batch takes three steps, each with its own optimizer
//! state (see [`Autoencoder::phases`]): reconstruction (encoder + decoder), discriminator
//! (prior draws are "real", codes "fake"), generator (the encoder fools the discriminator).

use std::f64::consts::TAU;

use burn::prelude::*;

use super::mlp_ae::{MlpAe, Regularizer};
use crate::config::{AeConfig, CheckedAe, Prior};
use crate::mlp::{Activation, Mlp, MlpConfig};
use crate::model::{AeOutput, Autoencoder, Codec, from_slice};

/// Radius of the circle the mixture prior's means sit on (first two code dimensions).
pub const MIXTURE_RADIUS: f64 = 4.0;
/// Standard deviation of each mixture component in the first two code dimensions (the
/// others are N(0, 1)): 10 components at radius 4 are then well apart (spacing ≈ 2.5).
pub const MIXTURE_SD: f64 = 0.5;

/// Phases of a batch: reconstruction, discriminator, generator.
const PHASES: usize = 3;

/// The AAE: encoder/decoder (linear code) and a discriminator `code -> hidden -> 1 logit`.
#[derive(Module, Debug)]
pub struct Aae<B: Backend> {
    ae: MlpAe<B>,
    discriminator: Mlp<B>,
    #[module(skip)]
    prior: Prior,
}

impl<B: Backend> Aae<B> {
    /// Builds the network for a checked config (whose code layer the check made linear).
    pub(crate) fn new(checked: &CheckedAe, device: &B::Device) -> Self {
        let (prior, hidden) = match checked.config() {
            AeConfig::Aae {
                prior,
                discriminator,
                ..
            } => (*prior, discriminator.clone()),
            other => unreachable!("Aae::new is only called for kind = \"aae\", not {other:?}"),
        };
        let mut sizes = vec![checked.code()];
        sizes.extend(&hidden);
        sizes.push(1);
        let mut acts = vec![Activation::Relu; hidden.len()];
        acts.push(Activation::Linear);
        Aae {
            ae: MlpAe::new(checked, Regularizer::None, device),
            discriminator: MlpConfig::new(sizes, acts).init(device),
            prior,
        }
    }

    /// `n` draws from the prior, `[n, code]` (this thread's [`crate::noise`] stream).
    pub fn prior_sample(&self, n: usize, device: &B::Device) -> Tensor<B, 2> {
        let code = self.code_size();
        match self.prior {
            Prior::Gaussian => crate::noise::normal([n, code], 1.0, device),
            Prior::Mixture { components } => {
                // Stratified: draw i comes from component i mod K, so every batch holds
                // the components in equal shares (an unbiased, lower-variance way to
                // sample the equal-weight mixture).
                let mut shift = vec![0f32; n * code];
                let mut scale = vec![1f32; n * code];
                for i in 0..n {
                    let c = i % components;
                    let angle = TAU * c as f64 / components as f64;
                    shift[i * code] = (MIXTURE_RADIUS * angle.cos()) as f32;
                    shift[i * code + 1] = (MIXTURE_RADIUS * angle.sin()) as f32;
                    scale[i * code] = MIXTURE_SD as f32;
                    scale[i * code + 1] = MIXTURE_SD as f32;
                }
                crate::noise::normal([n, code], 1.0, device) * from_slice(&scale, n, code, device)
                    + from_slice(&shift, n, code, device)
            }
        }
    }

    /// Discriminator logits for codes `[batch, code]` -> `[batch, 1]`; with `frozen` its
    /// weights are constants, so the gradient reaches only the codes (the generator step).
    pub fn discriminate(&self, z: Tensor<B, 2>, frozen: bool) -> Tensor<B, 2> {
        if frozen {
            self.discriminator.forward_frozen(z)
        } else {
            self.discriminator.forward(z)
        }
    }
}

/// Mean binary cross-entropy of logits `[batch, 1]` against label 1 (`real`) or 0: `[1]`.
fn bce_mean<B: Backend>(logits: Tensor<B, 2>, real: bool) -> Tensor<B, 1> {
    // −ln σ(l) = softplus(−l); −ln(1 − σ(l)) = softplus(l).
    let l = if real { logits.neg() } else { logits };
    crate::loss::softplus(l).mean()
}

super::codec_via!(Aae, ae);

impl<B: Backend> Autoencoder<B> for Aae<B> {
    /// Phase 0: the reconstruction alone (the adversarial phases are separate steps).
    fn loss_against(&self, input: Tensor<B, 2>, target: Tensor<B, 2>) -> AeOutput<B> {
        self.ae.loss_against(input, target)
    }

    fn sample_prior(&self, n: usize, device: &B::Device) -> Option<Tensor<B, 2>> {
        Some(self.decode(self.prior_sample(n, device)))
    }

    fn phases(&self) -> usize {
        PHASES
    }

    /// 1: the discriminator learns prior draws as real and (constant) codes as fake;
    /// 2: the encoder makes its codes pass as real through the frozen discriminator.
    fn phase_loss(&self, phase: usize, input: Tensor<B, 2>, _target: Tensor<B, 2>) -> Tensor<B, 1> {
        let code = self.ae.encode(input); // [batch, code]
        match phase {
            1 => {
                let real = self.prior_sample(code.dims()[0], &code.device());
                bce_mean(self.discriminate(real, false), true)
                    + bce_mean(self.discriminate(code.detach(), false), false)
            }
            _ => bce_mean(self.discriminate(code, true), true),
        }
    }
}
