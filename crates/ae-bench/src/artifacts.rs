//! What a cell keeps besides its numbers, so that `report` can draw pictures without
//! retraining: a few reconstructions, the 2-D codes of a code-size-2 model, VAE samples
//! and interpolations, and denoising before/after images. Stored with the cell record
//! (images as hex-encoded bytes: 8 MNIST images are 12.5 KB of text).

use ae_core::model::{from_slice, to_vec};
use ae_core::{AnyAe, Autoencoder, Codec};
use anyhow::Result;
use burn::prelude::Backend;
use serde::{Deserialize, Serialize};

/// Test images shown in reconstruction grids.
pub const SHOWN: usize = 8;
/// Test images whose 2-D codes are kept for the scatter chart.
pub const SCATTER_POINTS: usize = 2000;
/// Steps of each latent interpolation.
pub const INTERPOLATION_STEPS: usize = 10;
/// Pairs of test images interpolated between.
const INTERPOLATION_PAIRS: [(usize, usize); 3] = [(0, 1), (2, 3), (4, 5)];
/// VAE samples drawn from the prior.
pub const SAMPLES: usize = 16;
/// First-layer filters kept of an overcomplete model (an 8 × 8 grid).
pub const FEATURES: usize = 64;

/// Grayscale images quantised to bytes, stored as one hex string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Images(String);

impl Images {
    /// Quantises pixels in [0, 1] (clamped) to bytes.
    pub fn encode(pixels: &[f32]) -> Images {
        use std::fmt::Write;
        let mut s = String::with_capacity(pixels.len() * 2);
        for &p in pixels {
            let _ = write!(s, "{:02x}", (p.clamp(0.0, 1.0) * 255.0).round() as u8);
        }
        Images(s)
    }

    /// The pixels back in [0, 1]; `None` if the string is not hex.
    pub fn decode(&self) -> Option<Vec<f32>> {
        let b = self.0.as_bytes();
        if !b.len().is_multiple_of(2) {
            return None;
        }
        b.chunks(2)
            .map(|h| {
                let s = std::str::from_utf8(h).ok()?;
                u8::from_str_radix(s, 16).ok().map(|v| f32::from(v) / 255.0)
            })
            .collect()
    }
}

/// 2-D codes with the test labels, for code size 2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Codes2d {
    /// `[n, 2]` row-major, rounded to 3 decimals.
    pub values: Vec<f32>,
    /// Class label of each point.
    pub labels: Vec<u8>,
}

/// Denoising before/after: the corruption applied to the shown test images, and the
/// model's output for them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Denoised {
    /// The corruption, as written in the config.
    pub corruption: String,
    /// Corrupted inputs.
    pub noisy: Images,
    /// Reconstructions of the corrupted inputs.
    pub denoised: Images,
}

/// Everything a cell keeps for the charts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifacts {
    /// Image side in pixels (square images).
    pub side: usize,
    /// The first [`SHOWN`] test images.
    pub originals: Images,
    /// Their reconstructions.
    pub reconstructions: Images,
    /// The first [`SCATTER_POINTS`] test codes when the code is 2-D.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codes: Option<Codes2d>,
    /// VAE samples from the prior.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<Images>,
    /// VAE interpolations, [`INTERPOLATION_STEPS`] images per pair of test images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpolations: Option<Images>,
    /// Denoising AEs: noisy inputs and outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denoising: Option<Denoised>,
    /// An overcomplete model's learned features: the first [`FEATURES`] units' input
    /// weights, each scaled to [0, 1] on its own (min to max).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Images>,
    /// Pictures of the evaluation tasks (`[eval] tasks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<TaskPictures>,
}

impl Artifacts {
    /// Keeps the tasks' pictures, unless there are none.
    pub fn set_tasks(&mut self, pics: TaskPictures) {
        if pics != TaskPictures::default() {
            self.tasks = Some(pics);
        }
    }
}

/// Denoising pictures of one corruption.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenoiseShow {
    /// The corruption's label, e.g. `gaussian-0.3`.
    pub noise: String,
    /// Corrupted test images.
    pub noisy: Images,
    /// The model's output for them.
    pub denoised: Images,
}

/// Per-image test SSE of the model's own test set and of the other dataset's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OodScores {
    /// Dataset the model was trained on.
    pub inlier: String,
    /// The out-of-distribution dataset.
    pub outlier: String,
    /// SSE of in-distribution test images (the first `tasks::OOD_KEPT`).
    pub inlier_sse: Vec<f32>,
    /// SSE of out-of-distribution test images.
    pub outlier_sse: Vec<f32>,
}

/// Pictures of the tasks, kept for the lowest seed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskPictures {
    /// Denoising examples, one per corruption kind at its middle level.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denoise: Vec<DenoiseShow>,
    /// The t-SNE embedding of the test codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsne: Option<Codes2d>,
    /// Error distributions in and out of distribution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ood: Option<OodScores>,
}

/// The test images an artifact set is computed on.
pub struct TestView<'a> {
    /// `[n, dim]` row-major pixels.
    pub images: &'a [f32],
    /// Labels of the same images.
    pub labels: &'a [u8],
    /// Pixels per image.
    pub dim: usize,
    /// Image side.
    pub side: usize,
}

impl TestView<'_> {
    fn head(&self, n: usize) -> (&[f32], usize) {
        let n = n.min(self.images.len() / self.dim);
        (&self.images[..n * self.dim], n)
    }
}

fn round3(v: Vec<f32>) -> Vec<f32> {
    v.into_iter()
        .map(|x| (x * 1000.0).round() / 1000.0)
        .collect()
}

/// Reconstructions and (for a 2-D code) codes of any codec — PCA included.
pub fn of_codec<B: Backend, M: Codec<B>>(
    model: &M,
    test: &TestView<'_>,
    device: &B::Device,
) -> Result<Artifacts> {
    let (shown, n) = test.head(SHOWN);
    let recon = to_vec(model.reconstruct(from_slice::<B>(shown, n, test.dim, device)))?;
    let codes = if model.code_size() == 2 {
        let (pts, n) = test.head(SCATTER_POINTS);
        let z = to_vec(model.encode(from_slice::<B>(pts, n, test.dim, device)))?;
        Some(Codes2d {
            values: round3(z),
            labels: test.labels[..n].to_vec(),
        })
    } else {
        None
    };
    Ok(Artifacts {
        side: test.side,
        originals: Images::encode(shown),
        reconstructions: Images::encode(&recon),
        codes,
        samples: None,
        interpolations: None,
        denoising: None,
        features: None,
        tasks: None,
    })
}

/// Each row of `filters` (`[units, dim]`) scaled to [0, 1] on its own, so that every
/// feature uses the whole grey range (a flat row becomes mid-grey).
pub fn scale_rows(filters: &[f32], dim: usize) -> Vec<f32> {
    filters
        .chunks(dim)
        .flat_map(|row| {
            let lo = row.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let span = hi - lo;
            row.iter().map(move |&w| {
                if span > 0.0 && span.is_finite() {
                    (w - lo) / span
                } else {
                    0.5
                }
            })
        })
        .collect()
}

/// [`of_codec`] plus what the variant has to show: VAE samples and interpolations,
/// denoising before/after. Noise comes from the thread's seeded stream and `seed`.
pub fn of_autoencoder<B: Backend>(
    model: &AnyAe<B>,
    checked: &ae_core::CheckedAe,
    test: &TestView<'_>,
    seed: u64,
    device: &B::Device,
) -> Result<Artifacts> {
    let mut art = of_codec(model, test, device)?;
    // Models with a prior (the VAE, and any family that declares one) show samples from
    // it and decoded paths between two test images' codes. The noise stream is left as
    // it was for models without one.
    let stream = ae_core::noise::position();
    ae_core::noise::seed(seed);
    let samples = model.sample_prior(SAMPLES, device);
    if samples.is_none() {
        ae_core::noise::set_position(stream);
    }
    if let Some(samples) = samples {
        art.samples = Some(Images::encode(&to_vec(samples)?));
        let mut path = Vec::new();
        for (a, b) in INTERPOLATION_PAIRS {
            if b * test.dim >= test.images.len() {
                break;
            }
            let img = |i: usize| {
                from_slice::<B>(
                    &test.images[i * test.dim..(i + 1) * test.dim],
                    1,
                    test.dim,
                    device,
                )
            };
            let (za, zb) = (model.encode(img(a)), model.encode(img(b)));
            path.extend(to_vec(ae_core::model::interpolate(
                model,
                za,
                zb,
                INTERPOLATION_STEPS,
            ))?);
        }
        art.interpolations = Some(Images::encode(&path));
    }
    // Features are drawn where they are the point: a first layer at least as wide as
    // the input (an overcomplete model), whose units could otherwise just copy pixels.
    if let Some(w) = model.input_filters() {
        let [units, dim] = w.dims();
        if units >= dim && dim == test.dim {
            let kept = units.min(FEATURES);
            let w = to_vec(w.narrow(0, 0, kept))?;
            art.features = Some(Images::encode(&scale_rows(&w, dim)));
        }
    }
    if let Some(c) = checked.corruption() {
        let (shown, n) = test.head(SHOWN);
        let noisy = c.apply(shown, seed);
        let out = to_vec(model.reconstruct(from_slice::<B>(&noisy, n, test.dim, device)))?;
        art.denoising = Some(Denoised {
            corruption: serde_json::to_string(&c)?,
            noisy: Images::encode(&noisy),
            denoised: Images::encode(&out),
        });
    }
    Ok(art)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_round_trip_to_a_byte_of_precision() {
        let px = [0.0, 1.0, 0.5, 0.2, -3.0, 7.0];
        let img = Images::encode(&px);
        assert_eq!(img.0.len(), 12);
        let back = img.decode().unwrap();
        for (a, b) in px.iter().zip(&back) {
            assert!(
                (a.clamp(0.0, 1.0) - b).abs() <= 0.5 / 255.0 + 1e-6,
                "{a} {b}"
            );
        }
        assert_eq!(Images("zz".into()).decode(), None);
        assert_eq!(Images("abc".into()).decode(), None);
    }

    #[test]
    fn filters_are_scaled_row_by_row() {
        let w = [-2.0, 0.0, 2.0, 5.0, 5.0, 5.0, 1.0, 3.0, 2.0];
        assert_eq!(
            scale_rows(&w, 3),
            [0.0, 0.5, 1.0, 0.5, 0.5, 0.5, 0.0, 1.0, 0.5]
        );
    }
}
