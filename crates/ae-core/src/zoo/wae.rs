//! The Wasserstein autoencoder with an MMD penalty (Tolstikhin, Bousquet, Gelly &
//! Schölkopf 2018, WAE-MMD): a deterministic encoder and decoder, and λ·MMD²(q(z), p(z))
//! between a batch's codes and as many draws from the prior p(z) = N(0, I), with the
//! inverse-multiquadratic kernel the paper uses on MNIST, summed over its scales.

use burn::prelude::*;

use super::mlp_ae::{MlpAe, Regularizer};
use crate::config::CheckedAe;
use crate::model::{AeOutput, Autoencoder, Codec};

/// Multiples of the base scale C = 2·code·σ² (σ = 1) summed in the kernel, as in the
/// paper's code: one bandwidth would be blind to differences at other distances.
pub const IMQ_SCALES: [f64; 7] = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0];

/// Σ_s C_s / (C_s + ‖x_i − y_j‖²) for every pair: `[n, m]`, C_s = s · `base`.
fn imq_kernel<B: Backend>(x: Tensor<B, 2>, y: Tensor<B, 2>, base: f64) -> Tensor<B, 2> {
    let xx = x.clone().square().sum_dim(1); // [n, 1]
    let yy = y.clone().square().sum_dim(1).transpose(); // [1, m]
    let d2 = (xx + yy - x.matmul(y.transpose()) * 2.0).clamp_min(0.0); // [n, m]
    let mut k: Option<Tensor<B, 2>> = None;
    for s in IMQ_SCALES {
        let c = s * base;
        let ks = (d2.clone() + c).recip() * c;
        k = Some(match k {
            Some(sum) => sum + ks,
            None => ks,
        });
    }
    k.expect("IMQ_SCALES is not empty")
}

/// The unbiased estimate of MMD²(P, Q) from samples `x` `[n, d]` ~ P and `y` `[m, d]` ~ Q
/// (n, m ≥ 2) with the multi-scale IMQ kernel, base scale `2·d`:
/// Σ_{i≠j} k(x_i, x_j)/(n(n−1)) + Σ_{i≠j} k(y_i, y_j)/(m(m−1)) − 2 Σ_{i,j} k(x_i, y_j)/(nm).
/// The diagonal terms are k(x, x) = |scales| exactly, so they are subtracted in closed form.
pub fn mmd_imq<B: Backend>(x: Tensor<B, 2>, y: Tensor<B, 2>) -> Tensor<B, 1> {
    let [n, d] = x.dims();
    let m = y.dims()[0];
    if n < 2 || m < 2 {
        // No pair to estimate from (e.g. a last batch of one image).
        return Tensor::zeros([1], &x.device());
    }
    let base = 2.0 * d as f64;
    let diag = IMQ_SCALES.len() as f64;
    let (nf, mf) = (n as f64, m as f64);
    let kxx = (imq_kernel(x.clone(), x.clone(), base).sum() - nf * diag) / (nf * (nf - 1.0));
    let kyy = (imq_kernel(y.clone(), y.clone(), base).sum() - mf * diag) / (mf * (mf - 1.0));
    let kxy = imq_kernel(x, y, base).sum() / (nf * mf);
    kxx + kyy - kxy * 2.0
}

/// WAE-MMD: the MLP autoencoder's body with a linear code, and λ·MMD² to N(0, I).
#[derive(Module, Debug)]
pub struct Wae<B: Backend> {
    ae: MlpAe<B>,
    #[module(skip)]
    lambda: f32,
}

impl<B: Backend> Wae<B> {
    /// Builds the network for a checked config (whose code layer the check made linear).
    pub(crate) fn new(checked: &CheckedAe, lambda: f32, device: &B::Device) -> Self {
        Wae {
            ae: MlpAe::new(checked, Regularizer::None, device),
            lambda,
        }
    }
}

super::codec_via!(Wae, ae);

impl<B: Backend> Autoencoder<B> for Wae<B> {
    /// Reconstruction + λ·MMD²(codes, as many N(0, I) draws).
    fn loss_against(&self, input: Tensor<B, 2>, target: Tensor<B, 2>) -> AeOutput<B> {
        let mut out = self.ae.loss_against(input, target); // the plain AE's: no terms
        let prior = crate::noise::normal(out.code.dims(), 1.0, &out.code.device());
        let mmd = mmd_imq(out.code.clone(), prior) * self.lambda; // [1]
        out.total = out.total + mmd.clone();
        out.terms.push(("mmd", mmd));
        out
    }

    fn sample_prior(&self, n: usize, device: &B::Device) -> Option<Tensor<B, 2>> {
        let z = crate::noise::normal([n, self.code_size()], 1.0, device);
        Some(self.decode(z))
    }
}
