//! Regression check of a run against a committed baseline.
//!
//! A baseline row holds, per (dataset, model, code size, backend, metric), the mean over
//! seeds and a tolerance of 3 sample standard deviations of the seed-to-seed spread
//! (floored at 1e-4 relative, for deterministic models such as PCA). A run fails the check
//! when its seed mean is worse than the baseline by more than the tolerance, or when a
//! baseline cell is missing or failed.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::report::mean_sd;
use crate::store::Row;

/// Metrics tracked by the check, with whether lower is better.
pub const TRACKED: [(&str, bool); 2] = [("test_sse_per_image", true), ("test_bce_per_image", true)];

/// Tolerance = this many seed standard deviations.
pub const SIGMAS: f64 = 3.0;
/// Smallest tolerance, relative to the baseline value.
pub const MIN_RELATIVE_TOLERANCE: f64 = 1e-4;

/// One baseline entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineRow {
    /// Dataset.
    pub dataset: String,
    /// Model label.
    pub model: String,
    /// Code size.
    pub code_size: u32,
    /// Backend.
    pub backend: String,
    /// Metric.
    pub metric: String,
    /// Mean over seeds.
    pub value: f64,
    /// Allowed worsening.
    pub tolerance: f64,
    /// Seeds the mean and spread came from.
    pub seeds: usize,
}

type Key = (String, String, u32, String, String);

fn seed_values(rows: &[Row]) -> BTreeMap<Key, Vec<f64>> {
    let mut out: BTreeMap<Key, Vec<f64>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.status == "ok") {
        if TRACKED.iter().any(|(m, _)| *m == r.metric) {
            out.entry((
                r.dataset.clone(),
                r.model.clone(),
                r.code_size,
                r.backend.clone(),
                r.metric.clone(),
            ))
            .or_default()
            .push(r.value);
        }
    }
    out
}

/// A baseline from a run's rows (what `--update-baseline` writes); `min_relative` floors
/// every tolerance (at least [`MIN_RELATIVE_TOLERANCE`]).
pub fn baseline_from(rows: &[Row], min_relative: f64) -> Vec<BaselineRow> {
    let floor = min_relative.max(MIN_RELATIVE_TOLERANCE);
    seed_values(rows)
        .into_iter()
        .map(|((dataset, model, code_size, backend, metric), v)| {
            let (mean, sd) = mean_sd(&v);
            BaselineRow {
                dataset,
                model,
                code_size,
                backend,
                metric,
                value: mean,
                tolerance: (SIGMAS * sd).max(floor * mean.abs()),
                seeds: v.len(),
            }
        })
        .collect()
}

/// One line of the check's report.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// `dataset model k=.. backend metric`.
    pub what: String,
    /// Baseline value.
    pub baseline: f64,
    /// This run's value (NaN if missing or failed).
    pub value: f64,
    /// Allowed worsening.
    pub tolerance: f64,
}

/// Every baseline entry the run got worse on (or lacks).
pub fn regressions(baseline: &[BaselineRow], rows: &[Row]) -> Vec<Finding> {
    let run = seed_values(rows);
    let mut out = Vec::new();
    for b in baseline {
        let key = (
            b.dataset.clone(),
            b.model.clone(),
            b.code_size,
            b.backend.clone(),
            b.metric.clone(),
        );
        let lower_better = TRACKED
            .iter()
            .find(|(m, _)| *m == b.metric)
            .is_none_or(|(_, l)| *l);
        let value = run.get(&key).map_or(f64::NAN, |v| mean_sd(v).0);
        let worse = if lower_better {
            value - b.value
        } else {
            b.value - value
        };
        // A missing or NaN value is a regression too.
        if worse.is_nan() || worse > b.tolerance {
            out.push(Finding {
                what: format!(
                    "{} {} k={} {} {}",
                    b.dataset, b.model, b.code_size, b.backend, b.metric
                ),
                baseline: b.value,
                value,
                tolerance: b.tolerance,
            });
        }
    }
    out
}

/// Reads a baseline CSV.
pub fn read_baseline(path: &Path) -> Result<Vec<BaselineRow>> {
    let mut rdr = csv_reader(path)?;
    let mut out = Vec::new();
    for (i, rec) in rdr.deserialize().enumerate() {
        out.push(rec.with_context(|| format!("{}: bad row {}", path.display(), i + 2))?);
    }
    Ok(out)
}

fn csv_reader(path: &Path) -> Result<csv::Reader<std::fs::File>> {
    csv::Reader::from_path(path).with_context(|| format!("cannot read baseline {}", path.display()))
}

/// Writes a baseline CSV atomically.
pub fn write_baseline(path: &Path, rows: &[BaselineRow]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::store::write_atomic(path, |f| {
        let mut w = csv::Writer::from_writer(f);
        for r in rows {
            w.serialize(r)?;
        }
        w.flush()?;
        Ok(())
    })
}

/// The findings as a markdown table.
pub fn render(findings: &[Finding]) -> String {
    let mut s = String::from(
        "| cell | baseline | this run | worse by | tolerance |\n|---|---:|---:|---:|---:|\n",
    );
    for f in findings {
        s.push_str(&format!(
            "| {} | {:.4} | {:.4} | {:+.4} | {:.4} |\n",
            f.what,
            f.baseline,
            f.value,
            f.value - f.baseline,
            f.tolerance
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(model: &str, seed: u64, v: f64) -> Row {
        Row::ok_for_test(model, 30, seed, "test_sse_per_image", v)
    }

    #[test]
    fn tolerance_is_three_seed_sds_and_a_worse_model_fails() {
        let good = vec![
            row("ae", 0, 9.0),
            row("ae", 1, 10.0),
            row("ae", 2, 11.0),
            row("pca", 0, 13.866),
        ];
        let base = baseline_from(&good, 0.0);
        let ae = base.iter().find(|b| b.model == "ae").unwrap();
        assert_eq!((ae.value, ae.seeds), (10.0, 3));
        assert!((ae.tolerance - 3.0).abs() < 1e-12, "sd is 1");
        let pca = base.iter().find(|b| b.model == "pca").unwrap();
        assert!((pca.tolerance - 13.866e-4).abs() < 1e-12);
        assert!(regressions(&base, &good).is_empty());
        // Within noise: fine. A deliberately worse model (mean 13.5 > 10 + 3): fails.
        let noisy = vec![
            row("ae", 0, 11.0),
            row("ae", 1, 12.0),
            row("ae", 2, 13.0),
            row("pca", 0, 13.867),
        ];
        assert!(regressions(&base, &noisy).is_empty());
        let worse = vec![
            row("ae", 0, 13.0),
            row("ae", 1, 13.5),
            row("ae", 2, 14.0),
            row("pca", 0, 13.866),
        ];
        let f = regressions(&base, &worse);
        assert_eq!(f.len(), 1);
        assert!(render(&f).contains(
            "| mnist ae k=30 flex test_sse_per_image | 10.0000 | 13.5000 | +3.5000 | 3.0000 |"
        ));
        // PCA moving by more than 1e-4 relative is caught too; a missing cell is a failure.
        let f = regressions(&base, &[row("pca", 0, 13.9)]);
        assert_eq!(f.len(), 2, "{f:?}");
    }

    #[test]
    fn baseline_round_trips_through_csv() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.csv");
        let base = baseline_from(&[row("ae", 0, 9.0), row("ae", 1, 10.0)], 0.0);
        write_baseline(&p, &base).unwrap();
        assert_eq!(read_baseline(&p).unwrap(), base);
    }
}
