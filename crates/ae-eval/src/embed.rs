//! 2-D embeddings for looking at codes: Barnes–Hut t-SNE (linfa-tsne / bhtsne).

use linfa::traits::Transformer;
use linfa_tsne::TSneParams;
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::SeedableRng;

use crate::{EvalError, Features, Result};

/// Settings of a t-SNE run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TsneSpec {
    /// Perplexity (effective neighbours), 30 as in van der Maaten's defaults.
    pub perplexity: f64,
    /// Gradient iterations.
    pub iterations: usize,
    /// Barnes–Hut angle θ (0: exact, slow).
    pub theta: f64,
}

impl Default for TsneSpec {
    fn default() -> Self {
        TsneSpec {
            perplexity: 30.0,
            iterations: 1000,
            theta: 0.5,
        }
    }
}

/// The 2-D t-SNE embedding of the rows of `x`: `[n, 2]` row-major. The initial layout
/// comes from `seed`, but the embedding is not bit-reproducible: bhtsne picks the
/// vantage-point tree's pivots with `thread_rng`, which changes the order of its sums.
pub fn tsne(x: &Features<'_>, spec: TsneSpec, seed: u64) -> Result<Vec<f32>> {
    let data = x.array().mapv(f64::from);
    let out = TSneParams::embedding_size_with_rng(2, Xoshiro256Plus::seed_from_u64(seed))
        .perplexity(spec.perplexity)
        .approx_threshold(spec.theta)
        .max_iter(spec.iterations)
        .transform(data)
        .map_err(|e| EvalError::Backend {
            what: "t-SNE",
            message: e.to_string(),
        })?;
    Ok(out.iter().map(|&v| v as f32).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::classify::knn_loo_accuracy;

    #[test]
    fn tsne_keeps_separated_clusters_apart() {
        // Two 10-d clusters of 40 points each.
        let mut x = Vec::new();
        let mut labels = Vec::new();
        for i in 0..80 {
            let c = i % 2;
            for d in 0..10 {
                let noise = (((i * 31 + d * 17) % 13) as f32 - 6.0) * 0.05;
                x.push(if d == c { 5.0 } else { 0.0 } + noise);
            }
            labels.push(c as u8);
        }
        let f = Features::new("x", &x, 10).unwrap();
        let spec = TsneSpec {
            perplexity: 10.0,
            iterations: 300,
            theta: 0.5,
        };
        for seed in [1, 2] {
            let a = tsne(&f, spec, seed).unwrap();
            assert_eq!(a.len(), 160);
            let e = Features::new("e", &a, 2).unwrap();
            let acc = knn_loo_accuracy(&e, &labels, 5).unwrap();
            assert!(acc >= 0.95, "{acc}");
        }
        // Labels that ignore the structure are not kept together.
        let a = tsne(&f, spec, 1).unwrap();
        let e = Features::new("e", &a, 2).unwrap();
        let mixed: Vec<u8> = (0..80).map(|i| ((i / 2) % 2) as u8).collect();
        assert!(knn_loo_accuracy(&e, &mixed, 5).unwrap() < 0.8);
    }
}
