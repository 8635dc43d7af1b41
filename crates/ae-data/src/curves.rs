//! The synthetic "curves" set of Hinton & Salakhutdinov (2006): 28 × 28 images of one
//! smooth curve each, whose shape is set by three random points in the plane (so the set
//! has six degrees of freedom; the paper's 784-400-200-100-50-25-6 autoencoder has a 6-d
//! code). 20 000 training and 10 000 test images, seeded.
//!
//! How ours may differ from the authors' set, which is not published with its generator:
//! the curve is the quadratic through the three points at t = 0, ½, 1 (Lagrange form),
//! sampled at 256 values of t; the points are uniform in [4, 24]² (pixel units); a pixel's
//! intensity is exp(−d² / 2σ²) of its centre's distance d to the nearest sample, σ = 0.75
//! pixel, quantised to bytes. The paper's figure shows thin anti-aliased strokes of this
//! kind; the stroke width and the point distribution are our choices.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{DataError, Result};
use crate::idx::{self, IdxImages};

/// Image side in pixels.
pub const SIDE: usize = 28;
/// Images in the training file.
pub const TRAIN: usize = 20_000;
/// Images in the test file.
pub const TEST: usize = 10_000;
/// Seeds of the two files (distinct streams, so the test curves are not training curves).
pub const SEEDS: (u64, u64) = (2006, 2007);
/// Samples along each curve.
const SAMPLES: usize = 256;
/// Stroke width (Gaussian σ, pixels).
const SIGMA: f64 = 0.75;
/// The range of the control points' coordinates (pixels).
const RANGE: (f64, f64) = (4.0, 24.0);

/// File names written by [`write`], in the IDX naming of MNIST.
pub const FILES: [&str; 2] = ["train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"];

/// The point of the quadratic through `p` at t = 0, ½, 1, at parameter `t`.
pub fn point_at(p: &[[f64; 2]; 3], t: f64) -> [f64; 2] {
    let l0 = 2.0 * (t - 0.5) * (t - 1.0);
    let l1 = -4.0 * t * (t - 1.0);
    let l2 = 2.0 * t * (t - 0.5);
    [
        l0 * p[0][0] + l1 * p[1][0] + l2 * p[2][0],
        l0 * p[0][1] + l1 * p[1][1] + l2 * p[2][1],
    ]
}

/// One image `[SIDE * SIDE]` of the curve through `p` (x = column, y = row).
pub fn render(p: &[[f64; 2]; 3]) -> Vec<u8> {
    let pts: Vec<[f64; 2]> = (0..SAMPLES)
        .map(|i| point_at(p, i as f64 / (SAMPLES - 1) as f64))
        .collect();
    let mut img = vec![0u8; SIDE * SIDE];
    for (k, px) in img.iter_mut().enumerate() {
        let (cx, cy) = ((k % SIDE) as f64 + 0.5, (k / SIDE) as f64 + 0.5);
        let d2 = pts
            .iter()
            .map(|q| (q[0] - cx).powi(2) + (q[1] - cy).powi(2))
            .fold(f64::INFINITY, f64::min);
        *px = (255.0 * (-d2 / (2.0 * SIGMA * SIGMA)).exp()).round() as u8;
    }
    img
}

/// `n` images from `seed`, with their control points.
pub fn generate(n: usize, seed: u64) -> (IdxImages, Vec<[[f64; 2]; 3]>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pixels = Vec::with_capacity(n * SIDE * SIDE);
    let mut points = Vec::with_capacity(n);
    for _ in 0..n {
        let mut p = [[0.0; 2]; 3];
        for q in &mut p {
            for c in q.iter_mut() {
                *c = rng.random_range(RANGE.0..RANGE.1);
            }
        }
        pixels.extend(render(&p));
        points.push(p);
    }
    let images = IdxImages {
        count: n,
        height: SIDE,
        width: SIDE,
        pixels,
    };
    (images, points)
}

/// Generates both files into `dir` (gzipped IDX) and returns their paths with the
/// SHA-256 of the uncompressed bytes; `progress(done, total)` is called per image.
pub fn write(dir: &Path, progress: &mut dyn FnMut(usize, usize)) -> Result<Vec<(PathBuf, String)>> {
    std::fs::create_dir_all(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    let total = TRAIN + TEST;
    for (name, (n, seed, before)) in FILES
        .iter()
        .zip([(TRAIN, SEEDS.0, 0), (TEST, SEEDS.1, TRAIN)])
    {
        let (images, _) = generate(n, seed);
        progress(before + n, total);
        let bytes = idx::encode_images(&images);
        let path = dir.join(name);
        let io = |source| DataError::Io {
            path: path.clone(),
            source,
        };
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&bytes).map_err(io)?;
        std::fs::write(&path, gz.finish().map_err(io)?).map_err(io)?;
        out.push((path, idx::sha256_hex(&bytes)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The curve passes through its three control points at t = 0, ½, 1, and the image
    /// is brightest there (a pixel centre within half a pixel of a point is > 0.6 bright).
    #[test]
    fn the_curve_passes_through_its_points() {
        let p = [[5.2, 7.9], [14.0, 20.5], [22.3, 6.1]];
        for (t, q) in [(0.0, p[0]), (0.5, p[1]), (1.0, p[2])] {
            let c = point_at(&p, t);
            assert!((c[0] - q[0]).abs() < 1e-12 && (c[1] - q[1]).abs() < 1e-12);
        }
        let img = render(&p);
        for q in p {
            let (x, y) = (q[0].floor() as usize, q[1].floor() as usize);
            let centre_d2 = (x as f64 + 0.5 - q[0]).powi(2) + (y as f64 + 0.5 - q[1]).powi(2);
            let floor = 255.0 * (-centre_d2 / (2.0 * SIGMA * SIGMA)).exp();
            assert!(f64::from(img[y * SIDE + x]) >= floor.round() - 1.0, "{q:?}");
        }
        // Far from the curve (the corner (0, 27) is > 5 pixels away) stays black.
        assert_eq!(img[27 * SIDE], 0);
    }

    /// Same seed, same images; the first ones' bytes are pinned by their SHA-256, so a
    /// change to the generator cannot pass unnoticed (the full files' checksums are in
    /// data/curves/SHA256SUMS, checked by `ae-bench data make curves`).
    #[test]
    fn generation_is_seeded_and_pinned() {
        let (a, pa) = generate(50, SEEDS.0);
        let (b, _) = generate(50, SEEDS.0);
        assert_eq!(a, b);
        assert_ne!(generate(50, SEEDS.1).0, a);
        for p in &pa {
            for q in p {
                assert!(q.iter().all(|c| (RANGE.0..RANGE.1).contains(c)));
            }
        }
        let mean: f64 = a.pixels.iter().map(|&v| f64::from(v)).sum::<f64>() / a.pixels.len() as f64;
        // Thin strokes: a few percent of the image is ink.
        assert!((2.0..40.0).contains(&mean), "mean intensity {mean}");
        assert_eq!(idx::sha256_hex(&a.pixels), PINNED_FIRST_50);
    }

    const PINNED_FIRST_50: &str =
        "beedc3f8f30118fba9049414594079a33eb1c934f2542507ff30830658cd7bba";
}
