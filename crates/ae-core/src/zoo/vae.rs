//! The variational autoencoder (Kingma & Welling 2014): Gaussian encoder, Bernoulli (BCE)
//! or Gaussian (MSE) decoder, reparameterisation, β-weighted closed-form KL.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;

use super::conv::{ConvDecoder, ConvEncoder};
use crate::config::{AeConfig, CheckedAe, ReconLoss};
use crate::kernel::{linear, reparameterize};
use crate::loss::{bce_with_logits_rows, gaussian_kl_rows, recon_loss, recon_output};
use crate::mlp::{Mlp, MlpConfig};
use crate::model::{AeOutput, Autoencoder, Codec};

/// The part of the encoder before the (μ, log σ²) heads.
#[derive(Module, Debug)]
pub enum VaeBody<B: Backend> {
    /// Hidden MLP layers (none: the heads read the pixels).
    Mlp(Mlp<B>),
    /// Conv + pool stages, flattened.
    Conv(ConvEncoder<B>),
}

/// The decoder, emitting logits.
// Like `AnyAe`: a few tensor handles; boxing would add an indirection per forward pass.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum VaeDecoder<B: Backend> {
    /// An MLP.
    Mlp(Mlp<B>),
    /// Linear to a feature map, then transposed convs.
    Conv(ConvDecoder<B>),
}

/// VAE: x -> body (MLP or conv) -> (μ, log σ²) -> z = μ + σ ε -> decoder logits.
#[derive(Module, Debug)]
pub struct Vae<B: Backend> {
    body: VaeBody<B>,
    mu: Linear<B>,
    logvar: Linear<B>,
    decoder: VaeDecoder<B>,
    #[module(skip)]
    beta: f32,
    #[module(skip)]
    loss: ReconLoss,
}

impl<B: Backend> Vae<B> {
    /// Builds the network for a checked config (`encoder` ends with the latent size).
    pub(crate) fn new(checked: &CheckedAe, beta: f32, device: &B::Device) -> Self {
        let latent = checked.code();
        let (body, features, decoder) = match checked.config() {
            AeConfig::Vae {
                channels: Some(channels),
                ..
            } => {
                let side = checked.side();
                (
                    VaeBody::Conv(ConvEncoder::new(side, channels, device)),
                    ConvEncoder::<B>::features(side, channels),
                    VaeDecoder::Conv(ConvDecoder::new(side, channels, latent, device)),
                )
            }
            _ => {
                let enc = &checked.encoder;
                let body_sizes = enc[..enc.len() - 1].to_vec();
                let acts = checked.encoder_acts[..enc.len() - 2].to_vec();
                let features = *body_sizes.last().unwrap_or(&enc[0]);
                (
                    VaeBody::Mlp(MlpConfig::new(body_sizes, acts).init(device)),
                    features,
                    VaeDecoder::Mlp(
                        MlpConfig::new(checked.decoder.clone(), checked.decoder_acts.clone())
                            .init(device),
                    ),
                )
            }
        };
        Vae {
            body,
            mu: LinearConfig::new(features, latent).init(device),
            logvar: LinearConfig::new(features, latent).init(device),
            decoder,
            beta,
            loss: checked.config().arch().loss,
        }
    }

    /// (μ, log σ²) of q(z | x), each `[batch, latent]`.
    pub fn posterior(&self, x: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let h = match &self.body {
            VaeBody::Mlp(m) => m.forward(x),
            VaeBody::Conv(c) => c.forward(x),
        };
        (linear(&self.mu, h.clone()), linear(&self.logvar, h))
    }

    /// Decoder logits, `[batch, latent]` -> `[batch, dim]`.
    pub fn logits(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        match &self.decoder {
            VaeDecoder::Mlp(m) => m.forward(z),
            VaeDecoder::Conv(c) => c.logits(z),
        }
    }

    /// `n` images decoded from z ~ N(0, I) (this thread's [`crate::noise`] stream): `[n, dim]`.
    pub fn sample(&self, n: usize, device: &B::Device) -> Tensor<B, 2> {
        let z = crate::noise::normal([n, self.code_size()], 1.0, device);
        self.decode(z)
    }

    /// Decodes `steps` codes evenly spaced on the segment from `za` to `zb` (`[1, latent]`
    /// each), endpoints included: `[steps, dim]`.
    pub fn interpolate(&self, za: Tensor<B, 2>, zb: Tensor<B, 2>, steps: usize) -> Tensor<B, 2> {
        crate::model::interpolate(self, za, zb, steps)
    }

    /// Importance-weighted estimate of −ln p(x) per image (Burda et al. 2016) with `k`
    /// samples from q(z | x), for binary `x` under the Bernoulli decoder: `[batch, 1]`.
    /// ln p(x) ≈ logsumexp_k [ln p(x|z_k) + ln p(z_k) − ln q(z_k|x)] − ln k.
    pub fn iwae_nll(&self, x: Tensor<B, 2>, k: usize) -> Tensor<B, 2> {
        let (mu, logvar) = self.posterior(x.clone());
        let std = (logvar.clone() * 0.5).exp();
        let log_w: Vec<Tensor<B, 2>> = (0..k.max(1))
            .map(|_| {
                let eps = crate::noise::normal(mu.dims(), 1.0, &mu.device());
                let z = mu.clone() + std.clone() * eps.clone();
                let log_px_z = bce_with_logits_rows(self.logits(z.clone()), x.clone()).neg();
                // The 0.5 ln 2π terms cancel between ln p(z) and ln q(z|x).
                let log_pz = z.square().sum_dim(1) * -0.5;
                let log_qz = (eps.square() * -0.5 - logvar.clone() * 0.5).sum_dim(1);
                log_px_z + log_pz - log_qz
            })
            .collect();
        let w = Tensor::cat(log_w, 1); // [batch, k]
        let m = w.clone().max_dim(1); // [batch, 1]
        let lse = (w - m.clone()).exp().sum_dim(1).log() + m;
        (lse - (k.max(1) as f64).ln()).neg()
    }
}

impl<B: Backend> Codec<B> for Vae<B> {
    fn code_size(&self) -> usize {
        self.mu.weight.dims()[1]
    }

    /// The posterior mean μ(x): the deterministic code used for evaluation.
    fn encode(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.posterior(x).0
    }

    fn decode(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        recon_output(self.loss, self.logits(z))
    }
}

impl<B: Backend> Autoencoder<B> for Vae<B> {
    /// Negative ELBO with a β-weighted KL: recon + β KL, both per image, batch mean.
    /// With `loss = "mse"` the decoder is Gaussian with σ² = ½ (so −ln p = SSE + const).
    fn loss_against(&self, input: Tensor<B, 2>, target: Tensor<B, 2>) -> AeOutput<B> {
        let (mu, logvar) = self.posterior(input);
        let eps = crate::noise::normal(mu.dims(), 1.0, &mu.device());
        let z = reparameterize(mu.clone(), logvar.clone(), eps);
        let logits = self.logits(z);
        let recon = recon_loss(self.loss, logits.clone(), target);
        let kl = gaussian_kl_rows(mu.clone(), logvar).mean() * self.beta;
        AeOutput::from_logits(self.loss, recon, vec![("kl", kl)], mu, logits)
    }

    fn sample_prior(&self, n: usize, device: &B::Device) -> Option<Tensor<B, 2>> {
        Some(self.sample(n, device))
    }
}
