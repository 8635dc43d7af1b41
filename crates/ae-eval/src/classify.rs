//! How much class information a code carries: a linear probe and k-nearest neighbours.

use linfa::prelude::*;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2, Axis};

use crate::{EvalError, Features, Result, check_labels};

/// Settings of the linear probe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeSpec {
    /// L2 penalty on the weights (linfa's `alpha`, on the summed log-likelihood).
    pub l2: f64,
    /// L-BFGS iterations.
    pub max_iterations: u64,
}

impl Default for ProbeSpec {
    fn default() -> Self {
        ProbeSpec {
            l2: 1.0,
            max_iterations: 100,
        }
    }
}

/// Standardises columns with the training set's mean and standard deviation (constant
/// columns, e.g. MNIST's border pixels, are centred only): without it L-BFGS crawls on
/// codes whose scales differ by orders of magnitude.
fn standardize(train: &Features<'_>, other: &Features<'_>) -> (Array2<f64>, Array2<f64>) {
    let a = train.array().mapv(f64::from);
    let b = other.array().mapv(f64::from);
    let mean = a
        .mean_axis(Axis(0))
        .unwrap_or_else(|| Array1::zeros(a.ncols()));
    let sd = a
        .std_axis(Axis(0), 0.0)
        .mapv(|s| if s > 1e-8 { s } else { 1.0 });
    ((&a - &mean) / &sd, (&b - &mean) / &sd)
}

/// Test accuracy of a multinomial logistic regression fitted on the training codes.
pub fn linear_probe(
    train: &Features<'_>,
    train_labels: &[u8],
    test: &Features<'_>,
    test_labels: &[u8],
    spec: ProbeSpec,
) -> Result<f64> {
    check_labels("probe training labels", train, train_labels)?;
    check_labels("probe test labels", test, test_labels)?;
    same_dim(train, test)?;
    let (xa, xb) = standardize(train, test);
    let ya: Array1<usize> = train_labels.iter().map(|&l| l as usize).collect();
    let fitted = MultiLogisticRegression::default()
        .alpha(spec.l2)
        .max_iterations(spec.max_iterations)
        .fit(&Dataset::new(xa, ya))
        .map_err(|e| EvalError::Backend {
            what: "logistic regression",
            message: e.to_string(),
        })?;
    let pred = fitted.predict(&xb);
    Ok(accuracy(pred.iter().copied(), test_labels))
}

fn same_dim(a: &Features<'_>, b: &Features<'_>) -> Result<()> {
    if a.dim != b.dim {
        return Err(EvalError::Shape {
            what: "test features",
            expected: format!("{} columns, as the training features", a.dim),
            found: format!("{}", b.dim),
        });
    }
    Ok(())
}

/// Fraction of predicted classes equal to the true labels (over the labels given).
pub fn accuracy(pred: impl Iterator<Item = usize>, truth: &[u8]) -> f64 {
    let hits = pred
        .zip(truth)
        .filter(|(p, t)| *p == usize::from(**t))
        .count();
    hits as f64 / truth.len().max(1) as f64
}

/// Majority vote of the `k` nearest reference points (Euclidean); a tie goes to the
/// tied class with the nearest member.
fn vote(neighbours: &[(f32, u8)]) -> usize {
    let mut count = [0usize; 256];
    for &(_, l) in neighbours {
        count[usize::from(l)] += 1;
    }
    let top = count.iter().max().copied().unwrap_or(0);
    // `neighbours` is sorted by distance, so the first with a top count is the nearest.
    neighbours
        .iter()
        .find(|(_, l)| count[usize::from(*l)] == top)
        .map_or(0, |&(_, l)| usize::from(l))
}

/// The `k` nearest reference rows of each query row, as (squared distance, label), nearest
/// first. Distances come from one matrix product per block of queries
/// (|a|² + |b|² − 2a·b), which is what makes 10 000 × 10 000 pixel images take seconds.
fn nearest(
    reference: &Features<'_>,
    labels: &[u8],
    queries: &Features<'_>,
    k: usize,
    skip_same_index: bool,
) -> Vec<Vec<(f32, u8)>> {
    let r = reference.array();
    let r_norm: Vec<f32> = r.rows().into_iter().map(|x| x.dot(&x)).collect();
    let mut out = Vec::with_capacity(queries.len());
    const BLOCK: usize = 512;
    for start in (0..queries.len()).step_by(BLOCK) {
        let q = queries.array();
        let q = q.slice_axis(
            Axis(0),
            ndarray::Slice::from(start..(start + BLOCK).min(queries.len())),
        );
        let dots = q.dot(&r.t()); // [block, reference]
        for (i, row) in dots.rows().into_iter().enumerate() {
            let qi = q.row(i);
            let qn = qi.dot(&qi);
            let mut d: Vec<(f32, u8)> = row
                .iter()
                .enumerate()
                .filter(|(j, _)| !(skip_same_index && *j == start + i))
                .map(|(j, &dot)| ((qn + r_norm[j] - 2.0 * dot).max(0.0), labels[j]))
                .collect();
            let kk = k.min(d.len());
            if kk > 0 && kk < d.len() {
                d.select_nth_unstable_by(kk - 1, |a, b| a.0.total_cmp(&b.0));
            }
            d.truncate(kk);
            d.sort_by(|a, b| a.0.total_cmp(&b.0));
            out.push(d);
        }
    }
    out
}

fn check_k(k: usize, available: usize) -> Result<()> {
    if k == 0 || k > available {
        return Err(EvalError::Invalid {
            field: "k-NN k",
            value: k.to_string(),
            expected: format!("1 <= k <= {available} reference points"),
        });
    }
    Ok(())
}

/// Test accuracy of k-nearest-neighbour classification against the training codes.
pub fn knn_accuracy(
    train: &Features<'_>,
    train_labels: &[u8],
    test: &Features<'_>,
    test_labels: &[u8],
    k: usize,
) -> Result<f64> {
    check_labels("k-NN training labels", train, train_labels)?;
    check_labels("k-NN test labels", test, test_labels)?;
    same_dim(train, test)?;
    check_k(k, train.len())?;
    let nn = nearest(train, train_labels, test, k, false);
    Ok(accuracy(nn.iter().map(|n| vote(n)), test_labels))
}

/// Leave-one-out k-NN accuracy within one set (e.g. of a 2-D embedding): how well
/// neighbourhoods keep classes together.
pub fn knn_loo_accuracy(x: &Features<'_>, labels: &[u8], k: usize) -> Result<f64> {
    check_labels("k-NN labels", x, labels)?;
    check_k(k, x.len().saturating_sub(1))?;
    let nn = nearest(x, labels, x, k, true);
    Ok(accuracy(nn.iter().map(|n| vote(n)), labels))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn brute_knn(train: &[[f32; 2]], tl: &[u8], q: [f32; 2], k: usize) -> usize {
        let mut d: Vec<(f32, u8)> = train
            .iter()
            .zip(tl)
            .map(|(p, &l)| ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2), l))
            .collect();
        d.sort_by(|a, b| a.0.total_cmp(&b.0));
        vote(&d[..k])
    }

    #[test]
    fn knn_matches_a_hand_case_and_brute_force() {
        let train = [
            [0.0, 0.0],
            [0.0, 1.0],
            [1.0, 0.0],
            [5.0, 5.0],
            [5.0, 6.0],
            [6.0, 5.0],
        ];
        let tl = [0u8, 0, 0, 1, 1, 1];
        let flat: Vec<f32> = train.iter().flatten().copied().collect();
        let tr = Features::new("train", &flat, 2).unwrap();
        // (0.4, 0.4) is class 0, (5.2, 5.1) class 1; (2.6, 2.6) is nearer the 0s; the last
        // query is labelled wrongly on purpose: 3 of 4 right.
        let queries = [0.4f32, 0.4, 5.2, 5.1, 2.6, 2.6, 4.9, 5.3];
        let ql = [0u8, 1, 0, 0];
        let te = Features::new("test", &queries, 2).unwrap();
        assert_eq!(knn_accuracy(&tr, &tl, &te, &ql, 3).unwrap(), 0.75);
        for (i, q) in queries.chunks(2).enumerate() {
            let nn = nearest(&tr, &tl, &te.head(4), 3, false);
            assert_eq!(vote(&nn[i]), brute_knn(&train, &tl, [q[0], q[1]], 3));
        }
        // Leave-one-out: every point's 2 other neighbours share its class.
        assert_eq!(knn_loo_accuracy(&tr, &tl, 2).unwrap(), 1.0);
        // With itself allowed, 1-NN would be trivially right; without it the lone outlier fails.
        let flat2 = [0.0f32, 0.0, 0.1, 0.0, 0.2, 0.0, 9.0, 9.0];
        let x = Features::new("x", &flat2, 2).unwrap();
        assert_eq!(knn_loo_accuracy(&x, &[0, 0, 0, 1], 1).unwrap(), 0.75);
        assert!(knn_accuracy(&tr, &tl, &te, &ql, 7).is_err());
    }

    #[test]
    fn probe_separates_linearly_separable_classes_and_fails_on_noise_labels() {
        // Three classes on three axis directions, plus noise.
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..90 {
            let c = i % 3;
            let mut row = [0.05 * ((i * 7 % 11) as f32 - 5.0); 3];
            row[c] += 2.0;
            x.extend(row);
            y.push(c as u8);
        }
        let f = Features::new("x", &x, 3).unwrap();
        let acc = linear_probe(&f, &y, &f, &y, ProbeSpec::default()).unwrap();
        assert_eq!(acc, 1.0);
        // Labels unrelated to the features: chance level on held-out points.
        let (a, b) = (f.head(60), Features::new("t", &x[180..], 3).unwrap());
        let shuffled: Vec<u8> = (0..90).map(|i| ((i * i / 3) % 3) as u8).collect();
        let acc = linear_probe(
            &a,
            &shuffled[..60],
            &b,
            &shuffled[60..],
            ProbeSpec::default(),
        )
        .unwrap();
        assert!(acc < 0.7, "{acc}");
    }
}
