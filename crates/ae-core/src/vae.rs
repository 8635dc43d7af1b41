//! The variational autoencoder (Kingma & Welling 2014): Gaussian encoder, Bernoulli (BCE)
//! or Gaussian (MSE) decoder, reparameterisation, β-weighted closed-form KL.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::sigmoid;

use crate::ae::{decoder_config, recon_loss};
use crate::config::{ArchSpec, ReconLoss};
use crate::loss::{bce_with_logits_rows, gaussian_kl_rows};
use crate::mlp::{Mlp, MlpConfig};
use crate::model::{AeOutput, Autoencoder, Codec};

/// VAE: x -> hidden MLP -> (μ, log σ²) -> z = μ + σ ε -> decoder logits.
#[derive(Module, Debug)]
pub struct Vae<B: Backend> {
    body: Mlp<B>,
    mu: Linear<B>,
    logvar: Linear<B>,
    decoder: Mlp<B>,
    #[module(skip)]
    beta: f32,
    #[module(skip)]
    loss: ReconLoss,
}

impl<B: Backend> Vae<B> {
    /// Builds the network for checked sizes (`encoder` ends with the latent size).
    pub(crate) fn new(
        encoder: &[usize],
        decoder: &[usize],
        arch: &ArchSpec,
        beta: f32,
        device: &B::Device,
    ) -> Self {
        let body_sizes = &encoder[..encoder.len() - 1];
        let hidden_out = *body_sizes.last().unwrap_or(&encoder[0]);
        let latent = encoder[encoder.len() - 1];
        Vae {
            body: MlpConfig::new(
                body_sizes.to_vec(),
                vec![arch.activation; body_sizes.len() - 1],
            )
            .init(device),
            mu: LinearConfig::new(hidden_out, latent).init(device),
            logvar: LinearConfig::new(hidden_out, latent).init(device),
            decoder: decoder_config(decoder, arch).init(device),
            beta,
            loss: arch.loss,
        }
    }

    /// (μ, log σ²) of q(z | x), each `[batch, latent]`.
    pub fn posterior(&self, x: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let h = self.body.forward(x);
        (self.mu.forward(h.clone()), self.logvar.forward(h))
    }

    /// `n` images decoded from z ~ N(0, I) (the backend's seeded RNG): `[n, dim]`.
    pub fn sample(&self, n: usize, device: &B::Device) -> Tensor<B, 2> {
        let z = Tensor::random(
            [n, self.code_size()],
            Distribution::Normal(0.0, 1.0),
            device,
        );
        self.decode(z)
    }

    /// Decodes `steps` codes evenly spaced on the segment from `za` to `zb` (`[1, latent]`
    /// each), endpoints included: `[steps, dim]`.
    pub fn interpolate(&self, za: Tensor<B, 2>, zb: Tensor<B, 2>, steps: usize) -> Tensor<B, 2> {
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
        self.decode(Tensor::cat(rows, 0))
    }

    /// Importance-weighted estimate of −ln p(x) per image (Burda et al. 2016) with `k`
    /// samples from q(z | x), for binary `x` under the Bernoulli decoder: `[batch, 1]`.
    /// ln p(x) ≈ logsumexp_k [ln p(x|z_k) + ln p(z_k) − ln q(z_k|x)] − ln k.
    pub fn iwae_nll(&self, x: Tensor<B, 2>, k: usize) -> Tensor<B, 2> {
        let (mu, logvar) = self.posterior(x.clone());
        let std = (logvar.clone() * 0.5).exp();
        let log_w: Vec<Tensor<B, 2>> = (0..k.max(1))
            .map(|_| {
                let eps = Tensor::random(mu.shape(), Distribution::Normal(0.0, 1.0), &mu.device());
                let z = mu.clone() + std.clone() * eps.clone();
                let log_px_z =
                    bce_with_logits_rows(self.decoder.forward(z.clone()), x.clone()).neg();
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
        sigmoid(self.decoder.forward(z))
    }
}

impl<B: Backend> Autoencoder<B> for Vae<B> {
    /// Negative ELBO with a β-weighted KL: recon + β KL, both per image, batch mean.
    /// With `loss = "mse"` the decoder is Gaussian with σ² = ½ (so −ln p = SSE + const).
    fn loss_against(&self, input: Tensor<B, 2>, target: Tensor<B, 2>) -> AeOutput<B> {
        let (mu, logvar) = self.posterior(input);
        let eps = Tensor::random(mu.shape(), Distribution::Normal(0.0, 1.0), &mu.device());
        let z = mu.clone() + (logvar.clone() * 0.5).exp() * eps;
        let logits = self.decoder.forward(z);
        let recon = recon_loss(self.loss, logits.clone(), target);
        let regularizer = gaussian_kl_rows(mu.clone(), logvar).mean() * self.beta;
        AeOutput::from_logits(recon, regularizer, mu, logits)
    }
}
