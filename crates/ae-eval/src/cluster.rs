//! k-means on codes (linfa), seeded.

use linfa::prelude::*;
use linfa_clustering::KMeans;
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::SeedableRng;

use crate::{EvalError, Features, Result};

/// A k-means partition.
#[derive(Debug, Clone)]
pub struct KMeansFit {
    /// Cluster of each row.
    pub labels: Vec<usize>,
    /// `[clusters, dim]` row-major centroids.
    pub centroids: Vec<f32>,
}

/// k-means++ with `restarts` runs (the one of least inertia is kept), seeded.
pub fn kmeans(x: &Features<'_>, clusters: usize, restarts: usize, seed: u64) -> Result<KMeansFit> {
    if clusters == 0 || clusters > x.len() {
        return Err(EvalError::Invalid {
            field: "k-means clusters",
            value: clusters.to_string(),
            expected: format!("1..={} (the number of points)", x.len()),
        });
    }
    let data = DatasetBase::from(x.array().to_owned());
    let model = KMeans::params_with_rng(clusters, Xoshiro256Plus::seed_from_u64(seed))
        .n_runs(restarts.max(1))
        .fit(&data)
        .map_err(|e| EvalError::Backend {
            what: "k-means",
            message: e.to_string(),
        })?;
    let labels = model.predict(x.array()).targets.iter().copied().collect();
    Ok(KMeansFit {
        labels,
        centroids: model.centroids().iter().copied().collect(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::score::cluster_accuracy;

    #[test]
    fn kmeans_finds_three_separated_blobs() {
        let centres = [[0.0f32, 0.0], [10.0, 0.0], [0.0, 10.0]];
        let mut x = Vec::new();
        let mut truth = Vec::new();
        for i in 0..60 {
            let c = i % 3;
            let jitter = ((i * 37 % 17) as f32 - 8.0) * 0.1;
            x.extend([centres[c][0] + jitter, centres[c][1] - jitter]);
            truth.push(c as u8);
        }
        let f = Features::new("x", &x, 2).unwrap();
        let fit = kmeans(&f, 3, 3, 7).unwrap();
        assert_eq!(cluster_accuracy(&fit.labels, &truth).unwrap(), 1.0);
        assert_eq!(fit.centroids.len(), 6);
        // Each centroid sits at a blob centre (the jitter averages out to ~0).
        for c in fit.centroids.chunks(2) {
            assert!(
                centres
                    .iter()
                    .any(|m| (m[0] - c[0]).abs() < 0.5 && (m[1] - c[1]).abs() < 0.5)
            );
        }
        assert!(kmeans(&f, 61, 1, 0).is_err());
    }
}
