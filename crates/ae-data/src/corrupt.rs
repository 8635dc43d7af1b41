//! Input corruptions for denoising autoencoders, and binarization.
//!
//! Each is a pure function of its input batch, its level and a seed: the same call always
//! gives the same output, so a denoising run is reproducible pixel for pixel.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// A corruption process with its level. Build through [`Corruption::validate`] to get a
/// value whose level is known to be in range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Corruption {
    /// Add N(0, sigma²) noise to every pixel, then clip to [0, 1].
    Gaussian {
        /// Standard deviation of the noise, ≥ 0.
        sigma: f32,
    },
    /// Set each pixel to 0 with probability `p` (the "masking noise" of Vincent et al. 2008).
    Masking {
        /// Fraction of pixels zeroed, in [0, 1].
        p: f32,
    },
    /// Masking that keeps the mean: each pixel is 0 with probability `p`, else divided by
    /// 1 − p (inverted dropout), so the expected input is the clean image. Plain masking
    /// darkens inputs by p on average, and a network trained on them meets brighter clean
    /// images at test time (see experiments/denoising-shift.toml).
    Dropout {
        /// Fraction of pixels zeroed, in [0, 1).
        p: f32,
    },
    /// Set each pixel with probability `p` to 0 or 1 (each with probability ½).
    SaltAndPepper {
        /// Fraction of pixels replaced, in [0, 1].
        p: f32,
    },
}

impl Corruption {
    /// Checks the level is in range; the error names the field and its valid range.
    pub fn validate(self) -> Result<Self> {
        let (name, v, ok, expected) = match self {
            Corruption::Gaussian { sigma } => (
                "gaussian.sigma",
                sigma,
                sigma.is_finite() && sigma >= 0.0,
                "a finite value >= 0",
            ),
            Corruption::Masking { p } => ("masking.p", p, (0.0..=1.0).contains(&p), "0 <= p <= 1"),
            Corruption::Dropout { p } => ("dropout.p", p, (0.0..1.0).contains(&p), "0 <= p < 1"),
            Corruption::SaltAndPepper { p } => (
                "salt-and-pepper.p",
                p,
                (0.0..=1.0).contains(&p),
                "0 <= p <= 1",
            ),
        };
        if ok {
            Ok(self)
        } else {
            Err(DataError::InvalidParameter {
                name,
                value: v.to_string(),
                expected,
            })
        }
    }

    /// Returns a corrupted copy of `batch` (any shape; pixels in [0, 1]).
    pub fn apply(&self, batch: &[f32], seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        match *self {
            Corruption::Gaussian { sigma } => batch
                .iter()
                .map(|&x| {
                    let n: f32 = StandardNormal.sample(&mut rng);
                    (x + sigma * n).clamp(0.0, 1.0)
                })
                .collect(),
            Corruption::Masking { p } => batch
                .iter()
                .map(|&x| if rng.random::<f32>() < p { 0.0 } else { x })
                .collect(),
            Corruption::Dropout { p } => {
                let keep = 1.0 / (1.0 - p);
                batch
                    .iter()
                    .map(|&x| {
                        if rng.random::<f32>() < p {
                            0.0
                        } else {
                            x * keep
                        }
                    })
                    .collect()
            }
            Corruption::SaltAndPepper { p } => batch
                .iter()
                .map(|&x| {
                    if rng.random::<f32>() < p {
                        if rng.random::<bool>() { 1.0 } else { 0.0 }
                    } else {
                        x
                    }
                })
                .collect(),
        }
    }
}

/// Static binarization: a pixel is 1 when its intensity is above 0.5, else 0.
pub fn binarize_static(batch: &[f32]) -> Vec<f32> {
    batch
        .iter()
        .map(|&x| if x > 0.5 { 1.0 } else { 0.0 })
        .collect()
}

/// Dynamic binarization: each pixel is an independent Bernoulli draw with its intensity as
/// probability (Salakhutdinov & Murray 2008), re-drawn with each new seed.
pub fn binarize_dynamic(batch: &[f32], seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    batch
        .iter()
        .map(|&x| if rng.random::<f32>() < x { 1.0 } else { 0.0 })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(n: usize) -> Vec<f32> {
        vec![0.5; n]
    }

    #[test]
    fn corruptions_are_pure_and_seeded() {
        for c in [
            Corruption::Gaussian { sigma: 0.3 },
            Corruption::Masking { p: 0.3 },
            Corruption::Dropout { p: 0.3 },
            Corruption::SaltAndPepper { p: 0.3 },
        ] {
            let x = grey(1000);
            assert_eq!(c.apply(&x, 7), c.apply(&x, 7), "{c:?}");
            assert_ne!(c.apply(&x, 7), c.apply(&x, 8), "{c:?}");
            assert_eq!(x, grey(1000), "input untouched");
        }
    }

    #[test]
    fn gaussian_noise_has_the_requested_spread_and_is_clipped() {
        let x = grey(200_000);
        let y = Corruption::Gaussian { sigma: 0.1 }.apply(&x, 1);
        let n = y.len() as f64;
        let mean = y.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = y
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        // At 5 sigma from 0.5 clipping is negligible, so the sd is sigma.
        assert!((mean - 0.5).abs() < 2e-3, "{mean}");
        assert!((var.sqrt() - 0.1).abs() < 2e-3, "{}", var.sqrt());
        let big = Corruption::Gaussian { sigma: 5.0 }.apply(&x, 1);
        assert!(big.iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert!(big.iter().filter(|&&v| v == 0.0 || v == 1.0).count() > 150_000);
    }

    #[test]
    fn masking_zeroes_the_requested_fraction() {
        let x = grey(100_000);
        let y = Corruption::Masking { p: 0.25 }.apply(&x, 3);
        let zeros = y.iter().filter(|&&v| v == 0.0).count() as f64 / 1e5;
        assert!((zeros - 0.25).abs() < 0.01, "{zeros}");
        assert!(y.iter().all(|&v| v == 0.0 || v == 0.5));
    }

    #[test]
    fn dropout_keeps_the_mean_that_masking_lowers() {
        // Closed form: masking's mean is (1 − p)·x, dropout's is x; Monte Carlo on 10⁵ pixels
        // (sd of the mean ≈ 0.4·√(p/(1−p)/10⁵) ≈ 8e-4).
        let x = vec![0.4f32; 100_000];
        let mean = |v: &[f32]| v.iter().map(|&v| f64::from(v)).sum::<f64>() / v.len() as f64;
        let d = Corruption::Dropout { p: 0.25 }.apply(&x, 5);
        let m = Corruption::Masking { p: 0.25 }.apply(&x, 5);
        assert!((mean(&d) - 0.4).abs() < 4e-3, "{}", mean(&d));
        assert!((mean(&m) - 0.3).abs() < 4e-3, "{}", mean(&m));
        let zeros = d.iter().filter(|&&v| v == 0.0).count() as f64 / 1e5;
        assert!((zeros - 0.25).abs() < 0.01, "{zeros}");
        assert!(d.iter().all(|&v| v == 0.0 || (v - 0.4 / 0.75).abs() < 1e-6));
        let e = Corruption::Dropout { p: 1.0 }.validate().unwrap_err();
        assert!(e.to_string().contains("dropout.p"), "{e}");
    }

    #[test]
    fn salt_and_pepper_splits_evenly() {
        let x = grey(100_000);
        let y = Corruption::SaltAndPepper { p: 0.4 }.apply(&x, 3);
        let salt = y.iter().filter(|&&v| v == 1.0).count() as f64 / 1e5;
        let pepper = y.iter().filter(|&&v| v == 0.0).count() as f64 / 1e5;
        assert!(
            (salt - 0.2).abs() < 0.01 && (pepper - 0.2).abs() < 0.01,
            "{salt} {pepper}"
        );
    }

    #[test]
    fn out_of_range_levels_are_refused_with_the_field_name() {
        let e = Corruption::Masking { p: 1.5 }.validate().unwrap_err();
        assert!(e.to_string().contains("masking.p = 1.5"), "{e}");
        let e = Corruption::Gaussian { sigma: -1.0 }.validate().unwrap_err();
        assert!(e.to_string().contains("gaussian.sigma"), "{e}");
        assert!(
            Corruption::SaltAndPepper { p: f32::NAN }
                .validate()
                .is_err()
        );
        assert!(Corruption::SaltAndPepper { p: 0.0 }.validate().is_ok());
    }

    #[test]
    fn binarization() {
        assert_eq!(
            binarize_static(&[0.0, 0.5, 0.51, 1.0]),
            vec![0.0, 0.0, 1.0, 1.0]
        );
        let x = vec![0.3; 100_000];
        let b = binarize_dynamic(&x, 9);
        let ones = b.iter().filter(|&&v| v == 1.0).count() as f64 / 1e5;
        assert!((ones - 0.3).abs() < 0.01, "{ones}");
        assert!(b.iter().all(|&v| v == 0.0 || v == 1.0));
        assert_ne!(b, binarize_dynamic(&x, 10));
    }
}
