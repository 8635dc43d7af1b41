//! Reconstruction metrics, each defined once with its exact reduction.
//!
//! Conventions: images are rows of `dim` pixels with intensities in `[0, 1]`; sums are
//! accumulated in f64 so a 10 000-image test set loses no precision.
//!
//! - `test_sse_per_image` = (1/N) Σ_n Σ_i (x_ni − x̂_ni)²: mean over images of the squared
//!   error *summed* over pixels. This is what Hinton & Salakhutdinov (2006) report
//!   (PCA-30 on MNIST: 13.87).
//! - `test_mse_per_pixel` = `test_sse_per_image` / dim.
//! - `test_bce_per_image` = (1/N) Σ_n Σ_i −[x ln x̂c + (1 − x) ln(1 − x̂c)], with
//!   x̂c = clamp(x̂, 1e-7, 1 − 1e-7) so that models whose output leaves (0, 1) (PCA) still
//!   get a finite value; in nats, summed over pixels.
//! - `test_psnr_db` = 10 log10(1 / `test_mse_per_pixel`): PSNR of the whole test set with
//!   peak value 1 (not a mean of per-image PSNRs).

use serde::{Deserialize, Serialize};

/// Clamp applied to reconstructions before the logarithms of the BCE.
pub const BCE_EPS: f64 = 1e-7;

/// Names of the metrics produced by [`ReconMetrics::values`], in order.
pub const METRIC_NAMES: [&str; 4] = [
    "test_sse_per_image",
    "test_mse_per_pixel",
    "test_bce_per_image",
    "test_psnr_db",
];

/// Running sums for the reconstruction metrics; feed batches with [`add`](Self::add).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReconMetrics {
    images: u64,
    dim: usize,
    sse: f64,
    bce: f64,
}

impl ReconMetrics {
    /// Empty accumulator for images of `dim` pixels.
    pub fn new(dim: usize) -> Self {
        ReconMetrics {
            dim,
            ..Default::default()
        }
    }

    /// Adds a batch: `x` and `x_hat` both `[batch, dim]` row-major.
    ///
    /// # Panics
    /// If the slices differ in length or are not a whole number of images.
    pub fn add(&mut self, x: &[f32], x_hat: &[f32]) {
        assert_eq!(x.len(), x_hat.len(), "x and x_hat differ in length");
        assert_eq!(
            x.len() % self.dim,
            0,
            "batch is not a whole number of images"
        );
        for (&a, &b) in x.iter().zip(x_hat) {
            let (a, b) = (f64::from(a), f64::from(b));
            self.sse += (a - b) * (a - b);
            let bc = b.clamp(BCE_EPS, 1.0 - BCE_EPS);
            self.bce -= a * bc.ln() + (1.0 - a) * (1.0 - bc).ln();
        }
        self.images += (x.len() / self.dim) as u64;
    }

    /// Images seen so far.
    pub fn images(&self) -> u64 {
        self.images
    }

    /// Mean over images of the summed squared error.
    pub fn sse_per_image(&self) -> f64 {
        self.sse / self.images as f64
    }

    /// Mean squared error per pixel.
    pub fn mse_per_pixel(&self) -> f64 {
        self.sse_per_image() / self.dim as f64
    }

    /// Mean over images of the summed binary cross-entropy, in nats.
    pub fn bce_per_image(&self) -> f64 {
        self.bce / self.images as f64
    }

    /// PSNR in dB with peak 1.
    pub fn psnr_db(&self) -> f64 {
        10.0 * (1.0 / self.mse_per_pixel()).log10()
    }

    /// `(name, value)` for every metric, names as in [`METRIC_NAMES`].
    pub fn values(&self) -> [(&'static str, f64); 4] {
        [
            (METRIC_NAMES[0], self.sse_per_image()),
            (METRIC_NAMES[1], self.mse_per_pixel()),
            (METRIC_NAMES[2], self.bce_per_image()),
            (METRIC_NAMES[3], self.psnr_db()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_two_images_of_two_pixels() {
        let x = [0.0, 1.0, 0.5, 0.5];
        let x_hat = [0.5, 1.0, 0.5, 0.0];
        let mut m = ReconMetrics::new(2);
        m.add(&x[..2], &x_hat[..2]);
        m.add(&x[2..], &x_hat[2..]);
        // Image 1: 0.25 + 0; image 2: 0 + 0.25 -> SSE/image 0.25, MSE/pixel 0.125.
        assert_eq!(m.images(), 2);
        assert!((m.sse_per_image() - 0.25).abs() < 1e-12);
        assert!((m.mse_per_pixel() - 0.125).abs() < 1e-12);
        assert!((m.psnr_db() - 10.0 * 8f64.log10()).abs() < 1e-9);
        // BCE: image 1: -ln(0.5) + -ln(1-1e-7); image 2: 2*(-ln 0.5)... pixel 4 has x=0.5,
        // x_hat clamped to 1e-7: -(0.5 ln 1e-7 + 0.5 ln(1-1e-7)).
        let e = BCE_EPS;
        let img1 = -(0.5f64.ln()) - (1.0 - e).ln();
        let img2 = -(0.5 * 0.5f64.ln() + 0.5 * 0.5f64.ln()) - (0.5 * e.ln() + 0.5 * (1.0 - e).ln());
        assert!((m.bce_per_image() - (img1 + img2) / 2.0).abs() < 1e-9);
    }

    #[test]
    fn batching_does_not_change_the_result() {
        let x: Vec<f32> = (0..60).map(|i| (i % 7) as f32 / 7.0).collect();
        let y: Vec<f32> = (0..60).map(|i| (i % 5) as f32 / 5.0).collect();
        let mut whole = ReconMetrics::new(6);
        whole.add(&x, &y);
        let mut parts = ReconMetrics::new(6);
        for (a, b) in x.chunks(18).zip(y.chunks(18)) {
            parts.add(a, b);
        }
        for ((n, a), (_, b)) in whole.values().iter().zip(parts.values()) {
            assert!((a - b).abs() < 1e-12, "{n}");
        }
    }
}
