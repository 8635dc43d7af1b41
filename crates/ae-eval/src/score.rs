//! Scores of a ranking or a partition: AUROC, clustering accuracy, NMI.

use linfa::prelude::BinaryClassification;
use pathfinding::prelude::{Matrix, kuhn_munkres};

use crate::{EvalError, Result};

/// Area under the ROC curve of `scores` for telling `positive` items (higher scores
/// expected) from the rest; ties count one half, as in the Mann–Whitney statistic.
pub fn auroc(scores: &[f64], positive: &[bool]) -> Result<f64> {
    if scores.len() != positive.len() {
        return Err(EvalError::Shape {
            what: "AUROC labels",
            expected: format!("{} labels (one per score)", scores.len()),
            found: format!("{}", positive.len()),
        });
    }
    let pos = positive.iter().filter(|&&p| p).count();
    if pos == 0 || pos == scores.len() {
        return Err(EvalError::Invalid {
            field: "AUROC labels",
            value: format!("{pos} positives of {}", scores.len()),
            expected: "both classes present".into(),
        });
    }
    if let Some(s) = scores.iter().find(|s| !s.is_finite()) {
        return Err(EvalError::Invalid {
            field: "AUROC scores",
            value: s.to_string(),
            expected: "finite scores".into(),
        });
    }
    // linfa's ROC takes probabilities; ranks scaled to [0, 1] keep the order and the ties.
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank = vec![0f32; scores.len()];
    let mut distinct = 0usize;
    for w in 0..order.len() {
        if w > 0 && scores[order[w]] != scores[order[w - 1]] {
            distinct += 1;
        }
        rank[order[w]] = distinct as f32;
    }
    let top = distinct.max(1) as f32;
    let probs: Vec<linfa::dataset::Pr> = rank
        .iter()
        .map(|&r| linfa::dataset::Pr::new(r / top))
        .collect();
    let roc = probs
        .as_slice()
        .roc(positive)
        .map_err(|e| EvalError::Backend {
            what: "ROC",
            message: e.to_string(),
        })?;
    Ok(f64::from(roc.area_under_curve()))
}

fn check_partition(pred: &[usize], truth: &[u8]) -> Result<()> {
    if pred.len() != truth.len() || pred.is_empty() {
        return Err(EvalError::Shape {
            what: "cluster assignments",
            expected: format!("{} assignments (one per label), at least one", truth.len()),
            found: format!("{}", pred.len()),
        });
    }
    Ok(())
}

fn contingency(pred: &[usize], truth: &[u8]) -> (Vec<Vec<i64>>, usize, usize) {
    let clusters = pred.iter().max().map_or(0, |m| m + 1);
    let classes = truth.iter().max().map_or(0, |&m| m as usize + 1);
    let mut table = vec![vec![0i64; classes]; clusters];
    for (&p, &t) in pred.iter().zip(truth) {
        table[p][t as usize] += 1;
    }
    (table, clusters, classes)
}

/// Unsupervised clustering accuracy: the fraction of points whose cluster maps to their
/// class under the best one-to-one mapping (Hungarian matching, as in DEC's paper).
pub fn cluster_accuracy(pred: &[usize], truth: &[u8]) -> Result<f64> {
    check_partition(pred, truth)?;
    let (table, clusters, classes) = contingency(pred, truth);
    // kuhn_munkres needs rows <= columns: pad the smaller side with zero columns.
    let side = clusters.max(classes);
    let weights = Matrix::from_fn(side, side, |(r, c)| {
        table
            .get(r)
            .and_then(|row| row.get(c))
            .copied()
            .unwrap_or(0)
    });
    let (matched, _) = kuhn_munkres(&weights);
    Ok(matched as f64 / pred.len() as f64)
}

/// Normalised mutual information with the arithmetic-mean normalisation
/// (scikit-learn's default): I(P; T) / ((H(P) + H(T)) / 2), in [0, 1].
pub fn nmi(pred: &[usize], truth: &[u8]) -> Result<f64> {
    check_partition(pred, truth)?;
    let (table, _, _) = contingency(pred, truth);
    let n = pred.len() as f64;
    let entropy = |counts: &[f64]| -> f64 {
        counts
            .iter()
            .filter(|&&c| c > 0.0)
            .map(|&c| -(c / n) * (c / n).ln())
            .sum()
    };
    let rows: Vec<f64> = table.iter().map(|r| r.iter().sum::<i64>() as f64).collect();
    let cols: Vec<f64> = (0..table.first().map_or(0, Vec::len))
        .map(|c| table.iter().map(|r| r[c]).sum::<i64>() as f64)
        .collect();
    let mut mi = 0.0;
    for (r, row) in table.iter().enumerate() {
        for (c, &nij) in row.iter().enumerate() {
            if nij > 0 {
                let p = nij as f64 / n;
                mi += p * (p * n * n / (rows[r] * cols[c])).ln();
            }
        }
    }
    let (hp, ht) = (entropy(&rows), entropy(&cols));
    if hp + ht <= f64::EPSILON {
        // Both partitions are a single block: identical, by convention 1.
        return Ok(1.0);
    }
    Ok((mi / ((hp + ht) / 2.0)).clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// AUROC by its definition: P(score of a positive > score of a negative), ties ½.
    fn mann_whitney(scores: &[f64], positive: &[bool]) -> f64 {
        let (mut wins, mut pairs) = (0.0, 0.0);
        for (i, &pi) in positive.iter().enumerate() {
            for (j, &pj) in positive.iter().enumerate() {
                if pi && !pj {
                    pairs += 1.0;
                    wins += match scores[i].total_cmp(&scores[j]) {
                        std::cmp::Ordering::Greater => 1.0,
                        std::cmp::Ordering::Equal => 0.5,
                        std::cmp::Ordering::Less => 0.0,
                    };
                }
            }
        }
        wins / pairs
    }

    #[test]
    fn auroc_of_tiny_rankings_matches_hand_counts() {
        // Perfect, reversed, and one swap of 3 x 2 pairs: 1, 0, 5/6.
        let pos = [false, false, false, true, true];
        assert_eq!(auroc(&[0.1, 0.2, 0.3, 0.8, 0.9], &pos).unwrap(), 1.0);
        assert_eq!(auroc(&[0.9, 0.8, 0.7, 0.2, 0.1], &pos).unwrap(), 0.0);
        let one_swap = [0.1, 0.2, 0.85, 0.8, 0.9];
        assert!((auroc(&one_swap, &pos).unwrap() - 5.0 / 6.0).abs() < 1e-6);
        // Ties and unbounded scores (reconstruction errors), against the definition.
        let scores = [3.0, 7.5, 3.0, 12.0, 7.5, 0.5, 7.5, 40.0];
        let pos = [false, true, true, true, false, false, false, true];
        let want = mann_whitney(&scores, &pos);
        assert!(
            (auroc(&scores, &pos).unwrap() - want).abs() < 1e-6,
            "{want}"
        );
    }

    #[test]
    fn auroc_refuses_one_class_and_nan() {
        assert!(auroc(&[1.0, 2.0], &[true, true]).is_err());
        assert!(auroc(&[1.0, f64::NAN], &[true, false]).is_err());
        assert!(auroc(&[1.0], &[true, false]).is_err());
    }

    #[test]
    fn accuracy_and_nmi_on_six_points_match_hand_values() {
        let truth = [0u8, 0, 0, 1, 1, 1];
        let pred = [0usize, 0, 1, 1, 2, 2];
        // One-to-one: 0 -> 0 (2 points), 2 -> 1 (2); cluster 1 has no class left: 4/6.
        assert!((cluster_accuracy(&pred, &truth).unwrap() - 4.0 / 6.0).abs() < 1e-12);
        // H(T) = ln 2, H(P) = ln 3, I = ln 2 - (1/3) ln 2.
        let (l2, l3) = (2f64.ln(), 3f64.ln());
        let want = (l2 - l2 / 3.0) / ((l2 + l3) / 2.0);
        assert!((nmi(&pred, &truth).unwrap() - want).abs() < 1e-12, "{want}");
        // A relabelled perfect partition scores 1 on both.
        let swapped = [1usize, 1, 1, 0, 0, 0];
        assert_eq!(cluster_accuracy(&swapped, &truth).unwrap(), 1.0);
        assert!((nmi(&swapped, &truth).unwrap() - 1.0).abs() < 1e-12);
        // Everything in one cluster: accuracy 1/2, no information.
        let one = [0usize; 6];
        assert_eq!(cluster_accuracy(&one, &truth).unwrap(), 0.5);
        assert!(nmi(&one, &truth).unwrap().abs() < 1e-12);
        assert!(cluster_accuracy(&[0, 1], &truth).is_err());
    }
}
