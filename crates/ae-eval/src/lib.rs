//! What codes are for: the downstream evaluations of a trained encoder, on host arrays.
//!
//! Everything here takes codes as row-major `f32` slices (`[n, dim]`) with their labels, so
//! it serves PCA, raw pixels and every autoencoder alike. The heavy lifting is done by
//! maintained crates — linfa (logistic regression, k-means, ROC, Barnes–Hut t-SNE),
//! pathfinding (Hungarian matching), png and flate2 (lossless baselines) — and each
//! metric is tested against a hand-computed case.

pub mod anomaly;
pub mod classify;
pub mod cluster;
pub mod compress;
pub mod embed;
mod error;
pub mod score;

pub use error::{EvalError, Result};

/// A borrowed `[n, dim]` row-major matrix of features.
#[derive(Debug, Clone, Copy)]
pub struct Features<'a> {
    /// The values, `n * dim` of them.
    pub values: &'a [f32],
    /// Columns.
    pub dim: usize,
}

impl<'a> Features<'a> {
    /// Checks that `values` holds whole rows of `dim` values.
    pub fn new(what: &'static str, values: &'a [f32], dim: usize) -> Result<Self> {
        if dim == 0 || !values.len().is_multiple_of(dim) || values.is_empty() {
            return Err(EvalError::Shape {
                what,
                expected: format!("a non-empty multiple of dim = {dim} values"),
                found: format!("{} values", values.len()),
            });
        }
        Ok(Features { values, dim })
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.values.len() / self.dim
    }

    /// Never true for a checked matrix; here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The first `n` rows (all of them if there are fewer).
    pub fn head(&self, n: usize) -> Features<'a> {
        let n = n.min(self.len());
        Features {
            values: &self.values[..n * self.dim],
            dim: self.dim,
        }
    }

    fn array(&self) -> ndarray::ArrayView2<'a, f32> {
        ndarray::ArrayView2::from_shape((self.len(), self.dim), self.values)
            .expect("Features::new checked the shape")
    }
}

fn check_labels(what: &'static str, x: &Features<'_>, labels: &[u8]) -> Result<()> {
    if labels.len() != x.len() {
        return Err(EvalError::Shape {
            what,
            expected: format!("{} labels (one per row)", x.len()),
            found: format!("{} labels", labels.len()),
        });
    }
    Ok(())
}
