//! Learning-rate schedules: the step's rate as a pure function of the step number, so a
//! resumed run computes the same rates as an uninterrupted one.

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};

/// How the learning rate moves over the run; `train.lr` is the peak rate.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Schedule {
    /// `lr` at every step.
    #[default]
    Constant,
    /// Linear warm-up from 0 to `lr` over the first `warmup` fraction of the steps, then a
    /// half cosine down to `lr · final_fraction` at the last step.
    WarmupCosine {
        /// Fraction of all steps spent warming up, in [0, 1).
        warmup: f64,
        /// The last step's rate as a fraction of `lr`, in [0, 1].
        #[serde(default)]
        final_fraction: f64,
    },
    /// Smith & Topin's one-cycle policy as PyTorch's `OneCycleLR` (cosine annealing, no
    /// momentum cycling): from `lr / div_factor` up to `lr` over the first `pct_start` of
    /// the steps, then down to `lr / (div_factor · final_div_factor)`.
    OneCycle {
        /// Fraction of the steps spent rising; PyTorch's default 0.3.
        #[serde(default = "default_pct_start")]
        pct_start: f64,
        /// Initial rate = `lr / div_factor`; PyTorch's default 25.
        #[serde(default = "default_div_factor")]
        div_factor: f64,
        /// Final rate = initial rate / `final_div_factor`; PyTorch's default 1e4.
        #[serde(default = "default_final_div_factor")]
        final_div_factor: f64,
    },
}

fn default_pct_start() -> f64 {
    0.3
}
fn default_div_factor() -> f64 {
    25.0
}
fn default_final_div_factor() -> f64 {
    1e4
}

impl Schedule {
    /// PyTorch's `OneCycleLR` defaults.
    pub fn one_cycle() -> Schedule {
        Schedule::OneCycle {
            pct_start: default_pct_start(),
            div_factor: default_div_factor(),
            final_div_factor: default_final_div_factor(),
        }
    }

    /// Checks the fields' ranges; errors name the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, value: f64, expected: &str| {
            Err(CoreError::InvalidConfig {
                field,
                value: value.to_string(),
                expected: expected.into(),
            })
        };
        match *self {
            Schedule::Constant => Ok(()),
            Schedule::WarmupCosine {
                warmup,
                final_fraction,
            } => {
                if !(0.0..1.0).contains(&warmup) {
                    return bad("train.schedule.warmup", warmup, "a fraction in [0, 1)");
                }
                if !(0.0..=1.0).contains(&final_fraction) {
                    return bad(
                        "train.schedule.final_fraction",
                        final_fraction,
                        "a fraction of lr in [0, 1]",
                    );
                }
                Ok(())
            }
            Schedule::OneCycle {
                pct_start,
                div_factor,
                final_div_factor,
            } => {
                if !(pct_start > 0.0 && pct_start < 1.0) {
                    return bad("train.schedule.pct_start", pct_start, "0 < pct_start < 1");
                }
                if !(div_factor >= 1.0 && div_factor.is_finite()) {
                    return bad(
                        "train.schedule.div_factor",
                        div_factor,
                        "a finite value >= 1",
                    );
                }
                if !(final_div_factor >= 1.0 && final_div_factor.is_finite()) {
                    return bad(
                        "train.schedule.final_div_factor",
                        final_div_factor,
                        "a finite value >= 1",
                    );
                }
                Ok(())
            }
        }
    }

    /// The rate of step `step` (from 0) of `total` steps, for peak rate `lr`.
    pub fn lr(&self, lr: f64, step: usize, total: usize) -> f64 {
        // Cosine from `from` at t = 0 to `to` at t = 1.
        let cos = |from: f64, to: f64, t: f64| {
            to + (from - to) * 0.5 * (1.0 + (std::f64::consts::PI * t.clamp(0.0, 1.0)).cos())
        };
        let last = total.saturating_sub(1).max(1) as f64;
        let s = step as f64;
        match *self {
            Schedule::Constant => lr,
            Schedule::WarmupCosine {
                warmup,
                final_fraction,
            } => {
                let w = (warmup * total as f64).floor();
                if s < w {
                    lr * (s + 1.0) / w
                } else {
                    let span = (last - w).max(1.0);
                    cos(lr, lr * final_fraction, (s - w) / span)
                }
            }
            Schedule::OneCycle {
                pct_start,
                div_factor,
                final_div_factor,
            } => {
                // PyTorch: the peak is at step pct_start · total − 1, the end at total − 1.
                let initial = lr / div_factor;
                let min = initial / final_div_factor;
                let peak = (pct_start * total as f64 - 1.0).max(0.0);
                if s <= peak {
                    cos(initial, lr, if peak > 0.0 { s / peak } else { 1.0 })
                } else {
                    cos(lr, min, (s - peak) / (last - peak).max(1.0))
                }
            }
        }
    }

    /// A short name for tables and notes.
    pub fn describe(&self) -> String {
        match *self {
            Schedule::Constant => "constant".into(),
            Schedule::WarmupCosine {
                warmup,
                final_fraction,
            } => format!("warm-up {warmup} + cosine to {final_fraction}·lr"),
            Schedule::OneCycle {
                pct_start,
                div_factor,
                final_div_factor,
            } => format!(
                "one-cycle (pct_start {pct_start}, div {div_factor}, final div {final_div_factor})"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PyTorch's `OneCycleLR` (anneal_strategy="cos", three_phase=False) as its source
    /// writes it, step by step: an independent transcription to compare against.
    fn torch_one_cycle(max_lr: f64, total: usize, pct: f64, div: f64, fdiv: f64) -> Vec<f64> {
        let initial = max_lr / div;
        let min = initial / fdiv;
        let phases = [
            (pct * total as f64 - 1.0, initial, max_lr),
            (total as f64 - 1.0, max_lr, min),
        ];
        (0..total)
            .map(|step| {
                let step = step as f64;
                let mut start_step = 0.0;
                let mut out = f64::NAN;
                for (i, &(end_step, start, end)) in phases.iter().enumerate() {
                    if step <= end_step || i == phases.len() - 1 {
                        let pct = (step - start_step) / (end_step - start_step);
                        let cos_out = (std::f64::consts::PI * pct).cos() + 1.0;
                        out = end + (start - end) / 2.0 * cos_out;
                        break;
                    }
                    start_step = end_step;
                }
                out
            })
            .collect()
    }

    #[test]
    fn one_cycle_matches_pytorch() {
        for (total, pct) in [(1000, 0.3), (47, 0.25), (600, 0.5)] {
            let expected = torch_one_cycle(3e-3, total, pct, 25.0, 1e4);
            let s = Schedule::OneCycle {
                pct_start: pct,
                div_factor: 25.0,
                final_div_factor: 1e4,
            };
            for (step, e) in expected.iter().enumerate() {
                let got = s.lr(3e-3, step, total);
                assert!(
                    (got - e).abs() <= 1e-12 * e.abs().max(1e-9),
                    "step {step}: {got} vs {e}"
                );
            }
        }
    }

    #[test]
    fn one_cycle_hand_values() {
        let s = Schedule::one_cycle();
        // 100 steps: start lr/25, peak lr at step 29, end lr/25/1e4 at step 99.
        assert!((s.lr(1.0, 0, 100) - 0.04).abs() < 1e-15);
        assert!((s.lr(1.0, 29, 100) - 1.0).abs() < 1e-15);
        assert!((s.lr(1.0, 99, 100) - 4e-6).abs() < 1e-15);
        // Halfway down the cosine the rate is the mean of its ends.
        let mid = 29.0 + (99.0 - 29.0) / 2.0;
        assert!((s.lr(1.0, mid as usize, 100) - (1.0 + 4e-6) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn warmup_cosine_hand_values() {
        let s = Schedule::WarmupCosine {
            warmup: 0.1,
            final_fraction: 0.0,
        };
        // 101 steps, 10 of warm-up: 0.1, 0.2, ... 1.0, then cos from step 10 to step 100.
        assert!((s.lr(2.0, 0, 101) - 0.2).abs() < 1e-12);
        assert!((s.lr(2.0, 9, 101) - 2.0).abs() < 1e-12);
        assert!((s.lr(2.0, 10, 101) - 2.0).abs() < 1e-12);
        assert!((s.lr(2.0, 55, 101) - 1.0).abs() < 1e-12);
        assert!(s.lr(2.0, 100, 101).abs() < 1e-12);
        let f = Schedule::WarmupCosine {
            warmup: 0.0,
            final_fraction: 0.1,
        };
        assert!((f.lr(1.0, 0, 11) - 1.0).abs() < 1e-12);
        assert!((f.lr(1.0, 10, 11) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn constant_and_validation() {
        assert_eq!(Schedule::Constant.lr(0.5, 123, 7), 0.5);
        assert!(Schedule::one_cycle().validate().is_ok());
        let e = Schedule::OneCycle {
            pct_start: 1.5,
            div_factor: 25.0,
            final_div_factor: 1e4,
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(e.contains("train.schedule.pct_start"), "{e}");
        assert!(
            Schedule::WarmupCosine {
                warmup: 1.0,
                final_fraction: 0.0
            }
            .validate()
            .is_err()
        );
    }
}
