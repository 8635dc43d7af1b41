//! Reconstruction losses, written once for every variant.
//!
//! Both are *summed over pixels and averaged over the batch*, the same reduction as the
//! reported metrics (see [`crate::metrics`]), so a training curve and a test table read
//! in the same units.

use burn::prelude::*;

use crate::config::ReconLoss;
use crate::kernel::sigmoid;

/// Squared error summed over pixels, mean over the batch: `[batch, dim]` x2 -> `[1]`.
pub fn sse_per_image<B: Backend>(x_hat: Tensor<B, 2>, x: Tensor<B, 2>) -> Tensor<B, 1> {
    (x_hat - x).square().sum_dim(1).mean()
}

/// ln(1 + eˣ) element-wise without overflow, as −ln σ(−x) through burn's `log_sigmoid`
/// (log-sum-exp form, its own exact backward). burn's `softplus` computes ln(eˣ + 1) as
/// written: +inf above x ≈ 88 in f32 (a confident discriminator's logit; it made the AAE
/// "diverge") and NaN in its gradient.
pub fn softplus<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    burn::tensor::activation::log_sigmoid(x.neg()).neg()
}

// One fused pass each way on flex (see `kernel::loss`), burn ops elsewhere.
pub use crate::kernel::{bce_with_logits_rows, gaussian_kl_rows};

/// Σ_j KL(Bernoulli(ρ) ‖ Bernoulli(ρ̂_j)) for mean activations `rho_hat` `[1, units]`;
/// ρ̂ is clamped to [1e-6, 1 − 1e-6] so a dead or saturated unit gives a large, finite value.
pub fn bernoulli_kl_sum<B: Backend>(rho: f32, rho_hat: Tensor<B, 2>) -> Tensor<B, 1> {
    let r = rho_hat.clamp(1e-6, 1.0 - 1e-6);
    let rho = f64::from(rho);
    let a = r.clone().log().neg().add_scalar(rho.ln()) * rho;
    let b = r
        .neg()
        .add_scalar(1.0)
        .log()
        .neg()
        .add_scalar((1.0 - rho).ln())
        * (1.0 - rho);
    (a + b).sum()
}

/// Binary cross-entropy from logits, summed over pixels, mean over the batch.
///
/// Uses the stable form `max(l, 0) − l·x + ln(1 + e^{−|l|})`, which equals
/// `−[x ln σ(l) + (1 − x) ln(1 − σ(l))]` without overflowing for large |l|.
pub fn bce_with_logits_per_image<B: Backend>(
    logits: Tensor<B, 2>,
    x: Tensor<B, 2>,
) -> Tensor<B, 1> {
    bce_with_logits_rows(logits, x).mean()
}

/// Reconstruction loss from decoder logits, in the units of the metrics.
pub fn recon_loss<B: Backend>(
    loss: ReconLoss,
    logits: Tensor<B, 2>,
    x: Tensor<B, 2>,
) -> Tensor<B, 1> {
    match loss {
        ReconLoss::Bce => bce_with_logits_per_image(logits, x),
        ReconLoss::Mse => sse_per_image(sigmoid(logits), x),
        ReconLoss::Gaussian => sse_per_image(logits, x),
    }
}

/// The reconstruction a decoder's logits stand for under `loss`: σ(logits) for the
/// losses on [0, 1] values, the logits themselves for the Gaussian loss.
pub fn recon_output<B: Backend>(loss: ReconLoss, logits: Tensor<B, 2>) -> Tensor<B, 2> {
    match loss {
        ReconLoss::Bce | ReconLoss::Mse => sigmoid(logits),
        ReconLoss::Gaussian => logits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{from_slice, to_vec};
    use burn::backend::{Autodiff, Flex};

    type B = Flex;
    type A = Autodiff<Flex>;

    fn naive_bce(l: f64, x: f64) -> f64 {
        let p = 1.0 / (1.0 + (-l).exp());
        -(x * p.ln() + (1.0 - x) * (1.0 - p).ln())
    }

    #[test]
    fn softplus_is_finite_and_exact_far_from_zero() {
        let d = Default::default();
        let xs = [
            -200.0f32, -30.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 30.0, 100.0, 200.0,
        ];
        let x = Tensor::<A, 1>::from_floats(xs, &d).require_grad();
        let y = softplus(x.clone());
        let got: Vec<f32> = y.to_data().to_vec().unwrap();
        let grads = y.sum().backward();
        let dx: Vec<f32> = x.grad(&grads).unwrap().to_data().to_vec().unwrap();
        for ((&v, &g), &dg) in xs.iter().zip(&got).zip(&dx) {
            // Reference in f64: ln(1 + eˣ), and its derivative σ(x).
            let v = f64::from(v);
            let want = v.max(0.0) + (-v.abs()).exp().ln_1p();
            let slope = 1.0 / (1.0 + (-v).exp());
            assert!(
                (f64::from(g) - want).abs() <= 1e-6 * want.max(1.0),
                "{v}: {g} vs {want}"
            );
            assert!(
                (f64::from(dg) - slope).abs() <= 1e-6,
                "{v}: {dg} vs {slope}"
            );
        }
    }

    /// The Gaussian loss is the SSE of the logits themselves (a linear output that can
    /// leave [0, 1]), and its gradient is 2 (x̂ − x) per element (the closed form).
    #[test]
    fn gaussian_loss_is_sse_on_a_linear_output() {
        let d = Default::default();
        let l = from_slice::<A>(&[2.5, -1.0, 0.0, 4.0], 2, 2, &d).require_grad();
        let x = from_slice::<A>(&[0.5, 1.0, -2.0, 3.0], 2, 2, &d);
        let loss = recon_loss(ReconLoss::Gaussian, l.clone(), x);
        // Image 1: 2² + 2² = 8; image 2: 2² + 1² = 5 -> mean 6.5.
        assert_eq!(to_vec(loss.clone().inner()).unwrap(), vec![6.5]);
        let g: Vec<f32> = l
            .grad(&loss.backward())
            .unwrap()
            .to_data()
            .to_vec()
            .unwrap();
        // d/dl of mean over 2 images of Σ (l − x)²: (l − x).
        assert_eq!(g, vec![2.0, -2.0, 2.0, 1.0]);
        let out = recon_output(ReconLoss::Gaussian, from_slice::<B>(&[-3.0, 7.0], 1, 2, &d));
        assert_eq!(to_vec(out).unwrap(), vec![-3.0, 7.0]);
        let out = recon_output(ReconLoss::Bce, from_slice::<B>(&[0.0], 1, 1, &d));
        assert_eq!(to_vec(out).unwrap(), vec![0.5]);
    }

    #[test]
    fn sse_hand_case() {
        let d = Default::default();
        let xh = from_slice::<B>(&[1.0, 2.0, 0.0, 0.0], 2, 2, &d);
        let x = from_slice::<B>(&[0.0, 0.0, 0.0, 3.0], 2, 2, &d);
        // Image 1: 1 + 4 = 5; image 2: 9 -> mean 7.
        assert_eq!(to_vec(sse_per_image(xh, x)).unwrap(), vec![7.0]);
    }

    #[test]
    fn bce_matches_the_naive_formula_and_stays_finite() {
        let d = Default::default();
        let logits = [-3.0f32, -0.5, 0.0, 0.7, 4.0, 2.0];
        let x = [0.0f32, 1.0, 0.5, 0.2, 1.0, 0.0];
        let got = to_vec(bce_with_logits_per_image(
            from_slice::<B>(&logits, 2, 3, &d),
            from_slice::<B>(&x, 2, 3, &d),
        ))
        .unwrap()[0];
        let want: f64 = logits
            .iter()
            .zip(&x)
            .map(|(&l, &x)| naive_bce(f64::from(l), f64::from(x)))
            .sum::<f64>()
            / 2.0;
        assert!((f64::from(got) - want).abs() < 1e-5, "{got} vs {want}");
        // Logits of ±100 overflow the naive form in f32; the stable one gives the limit.
        let big = to_vec(bce_with_logits_per_image(
            from_slice::<B>(&[100.0, -100.0], 1, 2, &d),
            from_slice::<B>(&[0.0, 0.0], 1, 2, &d),
        ))
        .unwrap()[0];
        assert!((big - 100.0).abs() < 1e-3, "{big}");
    }

    #[test]
    fn bce_at_targets_exactly_zero_and_one() {
        // x = 1, l = 2: -ln σ(2) = ln(1 + e^-2); x = 0, l = 2: -ln(1 - σ(2)) = ln(1 + e^2).
        let d = Default::default();
        let got = to_vec(bce_with_logits_rows(
            from_slice::<B>(&[2.0, 2.0], 2, 1, &d),
            from_slice::<B>(&[1.0, 0.0], 2, 1, &d),
        ))
        .unwrap();
        assert!((f64::from(got[0]) - (1.0 + (-2f64).exp()).ln()).abs() < 1e-6);
        assert!((f64::from(got[1]) - (1.0 + 2f64.exp()).ln()).abs() < 1e-5);
    }

    #[test]
    fn bernoulli_kl_three_unit_hand_case() {
        let d = Default::default();
        let rho_hat = [0.1f64, 0.05, 0.5];
        let rho = 0.05f64;
        let want: f64 = rho_hat
            .iter()
            .map(|r| rho * (rho / r).ln() + (1.0 - rho) * ((1.0 - rho) / (1.0 - r)).ln())
            .sum();
        let rh: Vec<f32> = rho_hat.iter().map(|&r| r as f32).collect();
        let got = to_vec(bernoulli_kl_sum(0.05, from_slice::<B>(&rh, 1, 3, &d))).unwrap()[0];
        assert!((f64::from(got) - want).abs() < 1e-5, "{got} vs {want}");
    }

    #[test]
    fn gaussian_kl_closed_form_matches_monte_carlo() {
        use rand::SeedableRng;
        use rand_distr::{Distribution, Normal};
        let d = Default::default();
        let (mu, logvar) = ([0.5f32, -1.0, 0.0], [0.2f32, -0.7, 1.1]);
        let got = f64::from(
            to_vec(gaussian_kl_rows(
                from_slice::<B>(&mu, 1, 3, &d),
                from_slice::<B>(&logvar, 1, 3, &d),
            ))
            .unwrap()[0],
        );
        // MC: E_q[ln q(z) - ln p(z)], 200k draws; standard error is about 0.003 here.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let n = 200_000;
        let mut acc = 0.0;
        for _ in 0..n {
            for j in 0..3 {
                let (m, s) = (f64::from(mu[j]), (0.5 * f64::from(logvar[j])).exp());
                let z = Normal::new(m, s).unwrap().sample(&mut rng);
                let ln_q = -0.5 * ((z - m) / s).powi(2) - s.ln();
                let ln_p = -0.5 * z * z;
                acc += ln_q - ln_p;
            }
        }
        let mc = acc / f64::from(n);
        assert!((got - mc).abs() < 0.015, "closed form {got} vs MC {mc}");
    }

    #[test]
    fn bce_gradient_matches_finite_differences() {
        // d/dl BCE = σ(l) − x, per image then averaged over the batch of 1.
        let d = Default::default();
        let logits = [-1.2f32, 0.3, 2.5];
        let x = [0.1f32, 0.9, 0.4];
        let l = from_slice::<A>(&logits, 1, 3, &d).require_grad();
        let loss = bce_with_logits_per_image(l.clone(), from_slice::<A>(&x, 1, 3, &d));
        let grads = loss.backward();
        let g = to_vec(l.grad(&grads).unwrap()).unwrap();
        let h = 1e-4;
        for (i, gi) in g.iter().enumerate() {
            let f = |dl: f64| -> f64 {
                (0..3)
                    .map(|j| {
                        let lj = f64::from(logits[j]) + if i == j { dl } else { 0.0 };
                        naive_bce(lj, f64::from(x[j]))
                    })
                    .sum()
            };
            let fd = (f(h) - f(-h)) / (2.0 * h);
            assert!((f64::from(*gi) - fd).abs() < 1e-3, "{i}: {gi} vs {fd}");
        }
    }
}
