//! Anomaly scores that need no autoencoder, the baselines beside reconstruction error:
//! the distance to the k-th nearest normal training item, and Liu, Ting & Zhou's (2008)
//! isolation forest. Higher scores mean "more anomalous", as [`crate::score::auroc`] wants.

use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{EvalError, Features, Result};

fn same_dim(train: &Features<'_>, test: &Features<'_>) -> Result<()> {
    if train.dim != test.dim {
        return Err(EvalError::Shape {
            what: "anomaly test items",
            expected: format!("{} values per item (the training items')", train.dim),
            found: format!("{}", test.dim),
        });
    }
    Ok(())
}

/// Squared Euclidean distance from each test row to its `k`-th nearest training row.
pub fn knn_distance(train: &Features<'_>, test: &Features<'_>, k: usize) -> Result<Vec<f64>> {
    same_dim(train, test)?;
    if k == 0 || k > train.len() {
        return Err(EvalError::Invalid {
            field: "k",
            value: k.to_string(),
            expected: format!("1..={} (the training rows)", train.len()),
        });
    }
    let d = train.dim;
    Ok(test
        .values
        .chunks(d)
        .map(|q| {
            let mut dist: Vec<f64> = train
                .values
                .chunks(d)
                .map(|t| t.iter().zip(q).map(|(a, b)| f64::from(a - b).powi(2)).sum())
                .collect();
            dist.select_nth_unstable_by(k - 1, f64::total_cmp);
            dist[k - 1]
        })
        .collect())
}

/// c(n): the average path length of an unsuccessful search in a binary search tree of
/// n items, which normalises isolation depths (Liu et al. 2008, eq. 1).
pub fn average_path(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            // H(n − 1) ≈ ln(n − 1) + Euler–Mascheroni.
            2.0 * ((n - 1.0).ln() + 0.577_215_664_901_532_9) - 2.0 * (n - 1.0) / n
        }
    }
}

enum Node {
    Leaf(usize),
    Split {
        feature: usize,
        at: f32,
        left: Box<Node>,
        right: Box<Node>,
    },
}

fn grow(
    x: &Features<'_>,
    rows: &mut [usize],
    depth: usize,
    limit: usize,
    rng: &mut ChaCha8Rng,
) -> Node {
    if depth >= limit || rows.len() <= 1 {
        return Node::Leaf(rows.len());
    }
    let d = x.dim;
    let value = |r: usize, f: usize| x.values[r * d + f];
    // A feature that still varies among these rows, tried in a random order.
    let start = rng.random_range(0..d);
    let Some((feature, lo, hi)) = (0..d).map(|i| (start + i) % d).find_map(|f| {
        let (lo, hi) = rows
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &r| {
                (lo.min(value(r, f)), hi.max(value(r, f)))
            });
        (hi > lo).then_some((f, lo, hi))
    }) else {
        return Node::Leaf(rows.len());
    };
    let at = rng.random_range(lo..hi);
    let mut split = 0;
    for i in 0..rows.len() {
        if value(rows[i], feature) < at {
            rows.swap(i, split);
            split += 1;
        }
    }
    let (l, r) = rows.split_at_mut(split);
    Node::Split {
        feature,
        at,
        left: Box::new(grow(x, l, depth + 1, limit, rng)),
        right: Box::new(grow(x, r, depth + 1, limit, rng)),
    }
}

fn path_length(node: &Node, q: &[f32], depth: usize) -> f64 {
    match node {
        Node::Leaf(n) => depth as f64 + average_path(*n),
        Node::Split {
            feature,
            at,
            left,
            right,
        } => {
            let next = if q[*feature] < *at { left } else { right };
            path_length(next, q, depth + 1)
        }
    }
}

/// Isolation-forest anomaly scores 2^(−E[h(x)] / c(ψ)) of the test rows, from `trees`
/// trees grown on subsamples of `psi` training rows (the paper's defaults: 100, 256).
pub fn isolation_forest(
    train: &Features<'_>,
    test: &Features<'_>,
    trees: usize,
    psi: usize,
    seed: u64,
) -> Result<Vec<f64>> {
    same_dim(train, test)?;
    if trees == 0 || psi < 2 {
        return Err(EvalError::Invalid {
            field: "isolation forest",
            value: format!("{trees} trees of {psi} rows"),
            expected: "at least 1 tree of at least 2 rows".into(),
        });
    }
    let psi = psi.min(train.len());
    let limit = (psi as f64).log2().ceil() as usize;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let forest: Vec<Node> = (0..trees)
        .map(|_| {
            let mut rows = sample(&mut rng, train.len(), psi).into_vec();
            grow(train, &mut rows, 0, limit, &mut rng)
        })
        .collect();
    let c = average_path(psi).max(f64::MIN_POSITIVE);
    Ok(test
        .values
        .chunks(test.dim)
        .map(|q| {
            let mean = forest.iter().map(|t| path_length(t, q, 0)).sum::<f64>() / trees as f64;
            2f64.powf(-mean / c)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knn_distance_hand_case() {
        let train = [0.0f32, 0.0, 1.0, 0.0, 0.0, 2.0];
        let test = [0.0f32, 0.0, 3.0, 0.0];
        let tr = Features::new("t", &train, 2).unwrap();
        let te = Features::new("q", &test, 2).unwrap();
        // (0,0): distances 0, 1, 4; (3,0): 9, 4, 13.
        assert_eq!(knn_distance(&tr, &te, 1).unwrap(), vec![0.0, 4.0]);
        assert_eq!(knn_distance(&tr, &te, 2).unwrap(), vec![1.0, 9.0]);
        assert!(knn_distance(&tr, &te, 4).is_err());
    }

    #[test]
    fn average_path_matches_the_harmonic_sum() {
        // c(n) = 2 H(n−1) − 2(n−1)/n with the exact harmonic number, for large n.
        let n = 10_000usize;
        let h: f64 = (1..n).map(|i| 1.0 / i as f64).sum();
        let exact = 2.0 * h - 2.0 * (n as f64 - 1.0) / n as f64;
        assert!(
            (average_path(n) - exact).abs() < 1e-3,
            "{} {exact}",
            average_path(n)
        );
        assert_eq!(average_path(2), 1.0);
        assert_eq!(average_path(1), 0.0);
    }

    /// 300 points in a unit square and one far away: the far one isolates in fewer splits
    /// than c(ψ) (score above 0.5; splits are drawn inside the training range, so it
    /// follows the most extreme training points, about 0.65 here), the inliers in about
    /// c(ψ) or more (score near 0.5 or below).
    #[test]
    fn isolation_forest_ranks_a_far_point_first() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let train: Vec<f32> = (0..600).map(|_| rng.random::<f32>()).collect();
        let test = [0.5f32, 0.5, 0.2, 0.7, 9.0, 9.0];
        let tr = Features::new("t", &train, 2).unwrap();
        let te = Features::new("q", &test, 2).unwrap();
        let s = isolation_forest(&tr, &te, 100, 256, 7).unwrap();
        assert!(s[2] > 0.6 && s[2] > s[0].max(s[1]) + 0.1, "{s:?}");
        assert!(s[0] < 0.55 && s[1] < 0.55, "{s:?}");
        // Seeded: the same forest each time.
        assert_eq!(s, isolation_forest(&tr, &te, 100, 256, 7).unwrap());
    }
}
