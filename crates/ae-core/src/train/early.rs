//! Early stopping on the validation loss, as burn-train's `MetricEarlyStoppingStrategy`:
//! the best epoch is remembered (its weights are what training returns whenever there is a
//! validation split), and training stops after `patience` epochs without improvement.

use serde::{Deserialize, Serialize};

/// What the trainer does after an epoch's validation loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A new best: keep these weights.
    Improved,
    /// Not better; go on.
    Continue,
    /// `patience` epochs without improvement: stop (the best weights are returned).
    Stop,
}

/// The best validation loss so far and the epochs since it.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Epochs without improvement before stopping; `None`: never stop early.
    pub patience: Option<usize>,
    /// Best validation loss seen.
    pub best: Option<f64>,
    /// Epochs since the best one.
    pub since_best: usize,
}

impl EarlyStopping {
    /// A fresh tracker.
    pub fn new(patience: Option<usize>) -> EarlyStopping {
        EarlyStopping {
            patience,
            best: None,
            since_best: 0,
        }
    }

    /// Records one epoch's validation loss. A NaN never counts as an improvement.
    pub fn update(&mut self, value: f64) -> Verdict {
        if !value.is_nan() && self.best.is_none_or(|b| value < b) {
            self.best = Some(value);
            self.since_best = 0;
            return Verdict::Improved;
        }
        self.since_best += 1;
        match self.patience {
            Some(p) if self.since_best >= p => Verdict::Stop,
            Some(_) | None => Verdict::Continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::{Continue, Improved, Stop};

    #[test]
    fn verdicts_table() {
        let nan = f64::NAN;
        let cases: [(Option<usize>, &[f64], &[Verdict]); 7] = [
            (Some(2), &[3.0, 2.0, 1.0], &[Improved, Improved, Improved]),
            (Some(2), &[3.0, 3.5, 4.0], &[Improved, Continue, Stop]),
            (
                Some(2),
                &[3.0, 3.5, 2.9, 3.0, 3.1],
                &[Improved, Continue, Improved, Continue, Stop],
            ),
            // Equal is not better.
            (Some(1), &[3.0, 3.0], &[Improved, Stop]),
            // Without patience it never stops, but still tracks the best.
            (
                None,
                &[3.0, 4.0, 5.0, 6.0],
                &[Improved, Continue, Continue, Continue],
            ),
            (
                Some(3),
                &[3.0, nan, nan, nan],
                &[Improved, Continue, Continue, Stop],
            ),
            (
                Some(2),
                &[nan, 4.0, 5.0, 6.0],
                &[Continue, Improved, Continue, Stop],
            ),
        ];
        for (patience, values, verdicts) in cases {
            let mut e = EarlyStopping::new(patience);
            let got: Vec<Verdict> = values.iter().map(|&v| e.update(v)).collect();
            assert_eq!(got, verdicts, "patience {patience:?}, values {values:?}");
        }
        let mut e = EarlyStopping::new(None);
        for v in [5.0, 2.0, 4.0] {
            e.update(v);
        }
        assert_eq!((e.best, e.since_best), (Some(2.0), 1));
    }
}
