//! `ae-bench theory RUN`: what theory says a run's numbers must show, checked on the run.
//!
//! - `monotone`: a family's test error falls (or stays within noise) as the code grows.
//! - `linear-vs-pca`: a shallow AE with a linear code and a logistic (BCE) decoder does at
//!   least as well as PCA at every code size: PCA's subspace is one of its solutions.
//! - `beats-pca`: the deep, conv, sparse and denoising AEs beat PCA at k = 10, 30 and 50.
//! - `converged`: every cell's validation loss is flat at the end: its last
//!   [`FLAT_EPOCHS`] epochs improved on the epoch before them by at most [`FLAT_TOLERANCE`]
//!   (read from the per-epoch `curve_val_recon@E` rows; per seed, not averaged).
//!
//! "Within noise" is two standard deviations over the seeds of both cells compared, and at
//! least 1 % of the larger mean: one seed has no spread to measure.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use crate::experiment::{Experiment, ModelSpec};
use crate::manifest::RunManifest;
use crate::report::mean_sd;
use crate::runs::rows_of;

/// One of the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Check {
    /// Error falls (within noise) as the code grows, for every model.
    Monotone,
    /// A linear-code shallow AE with a BCE decoder is no worse than PCA at every k.
    LinearVsPca,
    /// Deep, conv, sparse and denoising AEs beat PCA at k = 10, 30, 50.
    BeatsPca,
    /// Every cell's validation loss is flat over its last epochs (a rise, which early
    /// stopping undoes, counts as flat: more epochs would not help either way).
    Converged,
}

impl Check {
    /// Every check, in report order.
    pub const ALL: [Check; 4] = [
        Check::Monotone,
        Check::LinearVsPca,
        Check::BeatsPca,
        Check::Converged,
    ];

    fn name(self) -> &'static str {
        match self {
            Check::Monotone => "monotone",
            Check::LinearVsPca => "linear-vs-pca",
            Check::BeatsPca => "beats-pca",
            Check::Converged => "converged",
        }
    }
}

/// Epochs at the end of a training curve that [`Check::Converged`] looks at.
pub const FLAT_EPOCHS: u32 = 5;
/// How much those epochs may still have lowered the validation loss, as a fraction of it
/// (issue 16's "flat within 1 %").
pub const FLAT_TOLERANCE: f64 = 0.01;

/// [`Check::Converged`] on every ok cell that recorded a validation curve: the loss at
/// epoch `E − FLAT_EPOCHS` (the first epoch, for shorter runs) must not exceed the best of
/// the epochs after it by more than `FLAT_TOLERANCE` of itself.
fn convergence(rows: &[crate::store::Row]) -> Vec<Finding> {
    type Curves = BTreeMap<(String, String, u32, u64), BTreeMap<u32, f64>>;
    let mut curves = Curves::new();
    for r in rows.iter().filter(|r| r.status.is_ok()) {
        let epoch = r.metric.strip_prefix("curve_val_recon@");
        if let Some(e) = epoch.and_then(|e| e.parse::<u32>().ok()) {
            curves
                .entry((r.dataset.clone(), r.model.clone(), r.code_size, r.seed))
                .or_default()
                .insert(e, r.value);
        }
    }
    curves
        .into_iter()
        .filter_map(|((dataset, model, k, seed), curve)| {
            let (&first, _) = curve.first_key_value()?;
            let (&last, _) = curve.last_key_value()?;
            let from = last.saturating_sub(FLAT_EPOCHS).max(first);
            let before = *curve.get(&from)?;
            let best_after = curve.range(from + 1..).map(|(_, &v)| v).reduce(f64::min)?;
            let noise = FLAT_TOLERANCE * before.abs();
            Some(Finding {
                check: Check::Converged,
                dataset,
                what: format!(
                    "{model} k={k} seed {seed}: val epoch {from} vs best of {}–{last}",
                    from + 1
                ),
                values: (before, best_after),
                noise,
                ok: before <= best_after + noise,
            })
        })
        .collect()
}

/// One comparison a check made.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The check.
    pub check: Check,
    /// Dataset.
    pub dataset: String,
    /// What was compared, e.g. `deep k=30 vs pca k=30`.
    pub what: String,
    /// The value that must be the smaller (within noise) and the other one.
    pub values: (f64, f64),
    /// The noise allowed.
    pub noise: f64,
    /// Whether it held.
    pub ok: bool,
}

type Cells = BTreeMap<(String, String, u32), (f64, f64)>;

/// Seed mean and sd of `test_sse_per_image` per (dataset, model, code size), ok cells only.
fn means(rows: &[crate::store::Row]) -> Cells {
    let mut values: BTreeMap<(String, String, u32), Vec<f64>> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.status.is_ok() && r.metric == "test_sse_per_image")
    {
        values
            .entry((r.dataset.clone(), r.model.clone(), r.code_size))
            .or_default()
            .push(r.value);
    }
    values.into_iter().map(|(k, v)| (k, mean_sd(&v))).collect()
}

/// `a` must not exceed `b` by more than the noise of the two.
fn compare(check: Check, dataset: &str, what: String, a: (f64, f64), b: (f64, f64)) -> Finding {
    let sd = |s: f64| if s.is_finite() { s } else { 0.0 };
    let noise = (2.0 * (sd(a.1).powi(2) + sd(b.1).powi(2)).sqrt()).max(0.01 * a.0.max(b.0));
    Finding {
        check,
        dataset: dataset.to_string(),
        what,
        values: (a.0, b.0),
        noise,
        ok: a.0 <= b.0 + noise,
    }
}

/// Runs `checks` on the cells of `exp` in `cells`.
pub fn evaluate(exp: &Experiment, cells: &Cells, checks: &[Check]) -> Vec<Finding> {
    let mut out = Vec::new();
    let kind_of = |name: &str| {
        exp.models
            .iter()
            .find(|m| m.name() == name)
            .map(|m| match m {
                ModelSpec::Pca => ("pca", None),
                ModelSpec::Pixels => ("pixels", None),
                ModelSpec::Ae { config, .. } => (config.kind(), Some(config)),
            })
    };
    for &check in checks {
        for ((dataset, model, k), &value) in cells {
            let pca = cells.get(&(dataset.clone(), "pca".to_string(), *k));
            match check {
                Check::Monotone => {
                    // The next larger code size of the same model.
                    let next = cells
                        .range((dataset.clone(), model.clone(), k + 1)..)
                        .next()
                        .filter(|((d, m, _), _)| d == dataset && m == model);
                    if let Some(((_, _, k2), &bigger)) = next {
                        let what = format!("{model} k={k2} vs k={k}");
                        out.push(compare(check, dataset, what, bigger, value));
                    }
                }
                Check::LinearVsPca => {
                    let linear_shallow = kind_of(model).is_some_and(|(kind, config)| {
                        kind == "shallow"
                            && config.is_some_and(|c| {
                                c.arch().code_activation == ae_core::mlp::Activation::Linear
                                    && c.arch().loss == ae_core::ReconLoss::Bce
                            })
                    });
                    if let (true, Some(&p)) = (linear_shallow, pca) {
                        let what = format!("{model} k={k} vs pca");
                        out.push(compare(check, dataset, what, value, p));
                    }
                }
                // Per seed, from the curves: see `convergence`, called by `check_run`.
                Check::Converged => {}
                Check::BeatsPca => {
                    let family = kind_of(model).is_some_and(|(kind, _)| {
                        matches!(kind, "deep" | "conv" | "sparse" | "denoising")
                    });
                    if let (true, true, Some(&p)) = (family, [10, 30, 50].contains(k), pca) {
                        let what = format!("{model} k={k} vs pca");
                        // Strictly better: no noise allowance in the AE's favour.
                        let mut f = compare(check, dataset, what, value, p);
                        f.ok = value.0 < p.0;
                        out.push(f);
                    }
                }
            }
        }
    }
    out
}

/// Loads the run's experiment (from its run.json) and rows, and runs `checks`.
pub fn check_run(run: &Path, checks: &[Check]) -> Result<Vec<Finding>> {
    let exp: Experiment = RunManifest::read(run)?.typed_experiment()?;
    let rows = rows_of(run)?;
    let mut findings = evaluate(&exp, &means(&rows), checks);
    if checks.contains(&Check::Converged) {
        findings.extend(convergence(&rows));
    }
    Ok(findings)
}

/// The findings as a Markdown table, failures first.
pub fn markdown(findings: &[Finding]) -> String {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| f.ok);
    let mut s = String::from(
        "| check | dataset | comparison | must be lower | than | noise | holds |\n\
         |---|---|---|---:|---:|---:|---|\n",
    );
    for f in sorted {
        s.push_str(&format!(
            "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {} |\n",
            f.check.name(),
            f.dataset,
            f.what,
            f.values.0,
            f.values.1,
            f.noise,
            if f.ok { "yes" } else { "**no**" }
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn exp() -> Experiment {
        Experiment::parse(
            r#"
name = "t"
datasets = ["mnist"]
code_sizes = [10, 30]
models = [
  { kind = "pca" },
  { kind = "shallow", label = "lin", arch = { code_activation = "linear" } },
  { kind = "shallow", label = "sig" },
  { kind = "deep", arch = { hidden = [64] } },
]
"#,
        )
        .unwrap()
    }

    fn cells(entries: &[(&str, u32, f64, f64)]) -> Cells {
        entries
            .iter()
            .map(|&(m, k, v, sd)| (("mnist".to_string(), m.to_string(), k), (v, sd)))
            .collect()
    }

    /// A hand-made run: each check's verdict and noise, computed by hand.
    #[test]
    fn each_check_on_a_hand_case() {
        let c = cells(&[
            ("pca", 10, 26.7, 0.0),
            ("pca", 30, 13.9, 0.0),
            ("lin", 10, 26.5, 0.1),
            ("lin", 30, 14.5, 0.1), // worse than PCA by 0.6 > noise max(2·0.1, 0.145)
            ("sig", 10, 53.0, 0.0), // not a linear code: not in linear-vs-pca
            ("sig", 30, 53.2, 0.0), // rises by 0.2 < 1 % of 53.2: within noise
            ("deep", 10, 20.0, 1.0),
            ("deep", 30, 25.0, 1.0), // rises by 5 > 2·√2: not monotone; and loses to PCA
        ]);
        let f = evaluate(&exp(), &c, &Check::ALL);
        let verdict = |check: Check, what: &str| {
            f.iter()
                .find(|x| x.check == check && x.what == what)
                .map(|x| x.ok)
        };
        assert_eq!(verdict(Check::Monotone, "sig k=30 vs k=10"), Some(true));
        assert_eq!(verdict(Check::Monotone, "deep k=30 vs k=10"), Some(false));
        assert_eq!(verdict(Check::Monotone, "pca k=30 vs k=10"), Some(true));
        assert_eq!(verdict(Check::LinearVsPca, "lin k=10 vs pca"), Some(true));
        assert_eq!(verdict(Check::LinearVsPca, "lin k=30 vs pca"), Some(false));
        assert_eq!(verdict(Check::LinearVsPca, "sig k=10 vs pca"), None);
        assert_eq!(verdict(Check::BeatsPca, "deep k=10 vs pca"), Some(true));
        assert_eq!(verdict(Check::BeatsPca, "deep k=30 vs pca"), Some(false));
        let deep = f.iter().find(|x| x.what == "deep k=30 vs k=10").unwrap();
        assert!((deep.noise - 2.0 * 2f64.sqrt()).abs() < 1e-12, "{deep:?}");
        assert!(markdown(&f).lines().nth(2).unwrap().contains("**no**"));
    }

    /// The convergence check on hand-made curves: flat, still falling by 2 %, rising at the
    /// end (overfitting), and a 3-epoch run judged from its first epoch.
    #[test]
    fn convergence_on_hand_curves() {
        let curve = |model: &str, values: &[f64]| -> Vec<crate::store::Row> {
            values
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let metric = format!("curve_val_recon@{}", i + 1);
                    crate::store::Row::ok_for_test(model, 30, 0, &metric, v)
                })
                .collect()
        };
        let mut rows = Vec::new();
        // Epochs 1..=8: epoch 3 = 100.0, the best of 4..=8 is 99.5: 0.5 % < 1 %.
        rows.extend(curve(
            "flat",
            &[150.0, 110.0, 100.0, 99.9, 99.8, 99.7, 99.6, 99.5],
        ));
        // Epoch 3 = 100.0, best after = 98.0: 2 % > 1 %.
        rows.extend(curve(
            "falling",
            &[150.0, 110.0, 100.0, 99.5, 99.0, 98.5, 98.2, 98.0],
        ));
        // The best after epoch 3 is 99.8 and the end rises: flat.
        rows.extend(curve(
            "rising",
            &[150.0, 110.0, 100.0, 99.8, 100.5, 101.0, 102.0, 103.0],
        ));
        // Three epochs: epoch 1 vs the best of 2..=3, 150 vs 100: not converged.
        rows.extend(curve("short", &[150.0, 120.0, 100.0]));
        // Test-set rows and other metrics do not count as curves.
        rows.push(crate::store::Row::ok_for_test(
            "flat",
            30,
            0,
            "test_sse_per_image",
            5.0,
        ));
        let f = convergence(&rows);
        let verdict = |what: &str| {
            f.iter()
                .find(|x| x.what.starts_with(what))
                .map(|x| (x.ok, x.values, x.noise))
        };
        assert_eq!(f.len(), 4, "{f:?}");
        assert_eq!(
            verdict("flat k=30 seed 0: val epoch 3 vs best of 4–8"),
            Some((true, (100.0, 99.5), 1.0))
        );
        assert_eq!(
            verdict("falling k=30 seed 0"),
            Some((false, (100.0, 98.0), 1.0))
        );
        assert_eq!(
            verdict("rising k=30 seed 0"),
            Some((true, (100.0, 99.8), 1.0))
        );
        assert_eq!(
            verdict("short k=30 seed 0: val epoch 1 vs best of 2–3"),
            Some((false, (150.0, 100.0), 1.5))
        );
    }
}
