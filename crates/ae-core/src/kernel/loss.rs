//! The VAE's and every logistic decoder's element-wise loss work, fused.
//!
//! Profiling the VAE 784-500-(30, 30) training step on flex (`perf`, 1 thread) put about
//! half of it outside the matrix products: libm's `expf`/`logf` (25 %), burn's unary and
//! binary closures (18 %), and the masks of `clamp_min`/`abs` backward (5 %), nearly all
//! from the binary cross-entropy's eight burn ops over the `[batch, 784]` logits and
//! their backward passes. Here each of these functions is one pass forward and one pass
//! backward per input, with the vectorised [`exp_f32`] and [`ln_1p_unit`].

use std::sync::Arc;

use super::binary::{FlexBinary, apply_binary, par_rows};
use super::*;

/// ln(1 + t) for t ∈ [0, 1] (Cephes' `logf` polynomial on the reduced argument), within a
/// few ulp and plain arithmetic, so loops over it vectorise.
#[inline(always)]
pub(super) fn ln_1p_unit(t: f32) -> f32 {
    // 1 + t = 2ᵉ (1 + f) with 1 + f ∈ [√½, √2): e = 0, f = t (exact) up to √2 − 1,
    // else e = 1, f = (t − 1) / 2 (exact by Sterbenz for t ≥ ½, one rounding below).
    let big = t > std::f32::consts::SQRT_2 - 1.0;
    let f = if big { (t - 1.0) * 0.5 } else { t };
    let e = if big { 1.0 } else { 0.0 };
    let z = f * f;
    let p = ((((((((7.037_683_6e-2 * f - 1.151_461e-1) * f + 1.167_699_9e-1) * f
        - 1.242_014_1e-1)
        * f
        + 1.424_932_3e-1)
        * f
        - 1.666_805_8e-1)
        * f
        + 2.000_071_5e-1)
        * f
        - 2.499_999_4e-1)
        * f
        + 3.333_333e-1)
        * f
        * z;
    // ln 2 split as in `exp_f32`: e·LN2_HI is exact.
    f + (p - 2.121_944_4e-4 * e - 0.5 * z) + 0.693_359_4 * e
}

/// Σ of `v`, in 16 interleaved partial sums so the loop vectorises.
#[inline(always)]
fn lane_sum(v: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let chunks = v.chunks_exact(16);
    let rest: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// Per-image binary cross-entropy from logits, summed over pixels: `[batch, dim]` x2 ->
/// `[batch, 1]`, in the stable form max(l, 0) − l·x + ln(1 + e^{−|l|}).
pub fn bce_with_logits_rows<B: Backend>(logits: Tensor<B, 2>, x: Tensor<B, 2>) -> Tensor<B, 2> {
    apply_binary(BceRows::default(), logits, x, |logits, x| {
        let pos = logits.clone().clamp_min(0.0);
        let log1p = burn::tensor::activation::softplus(logits.clone().abs().neg(), 1.0);
        (pos - logits * x + log1p).sum_dim(1)
    })
}

simd_kernel!(BceRow<'a> {
    elems: &'a mut [f32],
    sigma: &'a mut [f32],
    logits: &'a [f32],
    x: &'a [f32],
} {
    for (((e, s), &l), &x) in elems.iter_mut().zip(sigma.iter_mut()).zip(logits).zip(x) {
        let t = exp_f32(-l.abs());
        let r = 1.0 / (1.0 + t);
        *s = if l >= 0.0 { r } else { t * r };
        *e = l.max(0.0) - l * x + ln_1p_unit(t);
    }
});

/// [`bce_with_logits_rows`]'s op; keeps σ(l), the logits' gradient without a second `exp`.
#[derive(Clone, Debug, Default)]
struct BceRows {
    sigma: Option<Arc<Vec<f32>>>,
}

impl FlexBinary for BceRows {
    fn forward(&self, logits: &[f32], x: &[f32], dims: &[usize]) -> (FlexTensor, Self) {
        let (rows, width) = (dims[0], dims[1]);
        let mut sigma = vec![0.0f32; logits.len()];
        let mut sums = vec![0.0f32; rows];
        if let Some(rows_per_task) = ELEMS_PER_TASK.checked_div(width) {
            let rows_per_task = rows_per_task.max(1);
            sums.par_chunks_mut(rows_per_task)
                .zip(sigma.par_chunks_mut(rows_per_task * width))
                .zip(logits.par_chunks(rows_per_task * width))
                .zip(x.par_chunks(rows_per_task * width))
                .for_each(|(((sums, sigma), logits), x)| {
                    // The element losses, then their sum: a reduction in the same loop
                    // would keep it scalar.
                    let mut elems = vec![0.0f32; width];
                    for (((sum, s), l), x) in sums
                        .iter_mut()
                        .zip(sigma.chunks_mut(width))
                        .zip(logits.chunks(width))
                        .zip(x.chunks(width))
                    {
                        pulp::Arch::new().dispatch(BceRow {
                            elems: &mut elems,
                            sigma: s,
                            logits: l,
                            x,
                        });
                        *sum = lane_sum(&elems);
                    }
                });
        }
        let op = BceRows {
            sigma: Some(Arc::new(sigma)),
        };
        (flex_tensor(sums, vec![rows, 1]), op)
    }

    /// d/dl = g (σ(l) − x), d/dx = −g l, with g the row's output gradient.
    fn backward(&self, grad: &[f32], logits: &[f32], x: &[f32], which: usize) -> Vec<f32> {
        let mut out = vec![0.0f32; logits.len()];
        if out.is_empty() {
            return out;
        }
        let width = logits.len() / grad.len();
        let sigma = self.sigma.as_ref().expect("set by forward");
        // (σ, x) for the logits' gradient; the logits alone (twice) for the target's.
        let (a, b): (&[f32], &[f32]) = if which == 0 {
            (sigma, x)
        } else {
            (logits, logits)
        };
        let rows_per_task = (ELEMS_PER_TASK / width).max(1);
        out.par_chunks_mut(rows_per_task * width)
            .zip(a.par_chunks(rows_per_task * width))
            .zip(b.par_chunks(rows_per_task * width))
            .zip(grad.par_chunks(rows_per_task))
            .for_each(|(((out, a), b), g)| {
                for (((o, a), b), &g) in out
                    .chunks_mut(width)
                    .zip(a.chunks(width))
                    .zip(b.chunks(width))
                    .zip(g)
                {
                    if which == 0 {
                        for ((o, &s), &x) in o.iter_mut().zip(a).zip(b) {
                            *o = g * (s - x);
                        }
                    } else {
                        for (o, &l) in o.iter_mut().zip(a) {
                            *o = -g * l;
                        }
                    }
                }
            });
        out
    }
}

/// KL(N(μ, σ²) ‖ N(0, I)) per image in closed form, 0.5 Σ_j (μ² + σ² − 1 − ln σ²):
/// `[batch, latent]` x2 -> `[batch, 1]`.
pub fn gaussian_kl_rows<B: Backend>(mu: Tensor<B, 2>, logvar: Tensor<B, 2>) -> Tensor<B, 2> {
    apply_binary(GaussianKl, mu, logvar, |mu, logvar| {
        (mu.square() + logvar.clone().exp() - logvar - 1.0).sum_dim(1) * 0.5
    })
}

/// [`gaussian_kl_rows`]'s op.
#[derive(Clone, Copy, Debug)]
struct GaussianKl;

impl FlexBinary for GaussianKl {
    fn forward(&self, mu: &[f32], logvar: &[f32], dims: &[usize]) -> (FlexTensor, Self) {
        let (rows, width) = (dims[0], dims[1]);
        let mut sums = vec![0.0f32; rows];
        par_rows(&mut sums, 1, mu, logvar, width, |sum, mu, lv| {
            let s: f32 = mu
                .iter()
                .zip(lv)
                .map(|(&m, &v)| m * m + exp_f32(v) - 1.0 - v)
                .sum();
            sum[0] = 0.5 * s;
        });
        (flex_tensor(sums, vec![rows, 1]), GaussianKl)
    }

    /// d/dμ = g μ, d/d(ln σ²) = ½ g (σ² − 1).
    fn backward(&self, grad: &[f32], mu: &[f32], logvar: &[f32], which: usize) -> Vec<f32> {
        let width = mu.len() / grad.len().max(1);
        let mut out = vec![0.0f32; mu.len()];
        if out.is_empty() {
            return out;
        }
        // [batch, latent]: small enough for one thread.
        let input = if which == 0 { mu } else { logvar };
        for ((o, v), &g) in out.chunks_mut(width).zip(input.chunks(width)).zip(grad) {
            for (o, &v) in o.iter_mut().zip(v) {
                *o = if which == 0 {
                    g * v
                } else {
                    0.5 * g * (exp_f32(v) - 1.0)
                };
            }
        }
        out
    }
}

/// The reparameterisation z = μ + e^{½ ln σ²} ε for fixed noise `eps`, all `[batch,
/// latent]`; ε carries no gradient.
pub fn reparameterize<B: Backend>(
    mu: Tensor<B, 2>,
    logvar: Tensor<B, 2>,
    eps: Tensor<B, 2>,
) -> Tensor<B, 2> {
    let values = (is_flex::<B>() && eps.dims() == mu.dims())
        .then(|| eps.to_data().to_vec::<f32>().ok())
        .flatten();
    let fallback = move |mu: Tensor<B, 2>, logvar: Tensor<B, 2>| mu + (logvar * 0.5).exp() * eps;
    match values {
        Some(eps) => apply_binary(Reparam { eps: Arc::new(eps) }, mu, logvar, fallback),
        None => fallback(mu, logvar),
    }
}

/// [`reparameterize`]'s op, holding ε.
#[derive(Clone, Debug)]
struct Reparam {
    eps: Arc<Vec<f32>>,
}

impl FlexBinary for Reparam {
    fn forward(&self, mu: &[f32], logvar: &[f32], dims: &[usize]) -> (FlexTensor, Self) {
        let z = mu
            .iter()
            .zip(logvar)
            .zip(self.eps.iter())
            .map(|((&m, &v), &e)| m + exp_f32(0.5 * v) * e)
            .collect();
        (flex_tensor(z, dims.to_vec()), self.clone())
    }

    /// d/dμ = g, d/d(ln σ²) = ½ g σ ε.
    fn backward(&self, grad: &[f32], _mu: &[f32], logvar: &[f32], which: usize) -> Vec<f32> {
        if which == 0 {
            return grad.to_vec();
        }
        grad.iter()
            .zip(logvar)
            .zip(self.eps.iter())
            .map(|((&g, &v), &e)| 0.5 * g * exp_f32(0.5 * v) * e)
            .collect()
    }
}
