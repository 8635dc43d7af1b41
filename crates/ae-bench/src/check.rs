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

/// Metrics tracked by the check, with whether lower is better: the reconstruction error,
/// and one headline metric per evaluation task ([`headline`]). A name ending in `@`
/// stands for every `name@<label>` (the denoising PSNR, one per corruption).
pub const TRACKED: [(&str, bool); 10] = [
    ("test_sse_per_image", true),
    ("test_bce_per_image", true),
    ("psnr_denoised@", false),
    ("auroc_mean", false),
    ("probe_acc", false),
    ("kmeans_acc", false),
    ("dec_acc", false),
    ("tsne_knn_acc", false),
    ("iwae_nll", true),
    ("sse@8", true),
];

/// Whether `metric` is tracked, and if so whether lower is better.
pub fn tracked(metric: &str) -> Option<bool> {
    TRACKED
        .iter()
        .find(|(m, _)| match m.strip_suffix('@') {
            Some(prefix) => metric
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('@') && rest.len() > 1),
            None => *m == metric,
        })
        .map(|(_, lower)| *lower)
}

/// The tracked headline metric of each evaluation task (exhaustive: a new task must
/// name one, and `experiments/tasks-ci.toml` must run it).
pub fn headline(task: crate::experiment::Task) -> &'static str {
    use crate::experiment::Task;
    match task {
        Task::Denoise => "psnr_denoised@",
        Task::Anomaly => "auroc_mean",
        Task::Features => "probe_acc",
        Task::Cluster => "kmeans_acc",
        Task::Tsne => "tsne_knn_acc",
        Task::Generate => "iwae_nll",
        Task::Compress => "sse@8",
    }
}

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
    for r in rows.iter().filter(|r| r.status.is_ok()) {
        if tracked(&r.metric).is_some() {
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
    outcomes(baseline, rows)
        .into_iter()
        .filter(|(_, passed)| !passed)
        .map(|(f, _)| f)
        .collect()
}

/// Every baseline entry with this run's value and whether it passed.
pub fn outcomes(baseline: &[BaselineRow], rows: &[Row]) -> Vec<(Finding, bool)> {
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
        let lower_better = tracked(&b.metric).unwrap_or(true);
        let found = run.get(&key).map_or(0, Vec::len);
        // A mean over fewer seeds than the baseline's is not the same measurement (a task
        // that died took some seeds with it): it fails rather than passes on a subset.
        let value = match run.get(&key) {
            Some(v) if v.len() >= b.seeds => mean_sd(v).0,
            Some(_) | None => f64::NAN,
        };
        let worse = if lower_better {
            value - b.value
        } else {
            b.value - value
        };
        // A missing or NaN value is a regression too.
        let passed = !(worse.is_nan() || worse > b.tolerance);
        let seeds_note = if found < b.seeds {
            format!(" ({found} of {} seeds)", b.seeds)
        } else {
            String::new()
        };
        out.push((
            Finding {
                what: format!(
                    "{} {} k={} {} {}{seeds_note}",
                    b.dataset, b.model, b.code_size, b.backend, b.metric
                ),
                baseline: b.value,
                value,
                tolerance: b.tolerance,
            },
            passed,
        ));
    }
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// A JUnit XML report (the format CI systems display): one test case per tracked metric,
/// a `<failure>` for each that got worse than its tolerance or is missing.
pub fn junit(outcomes: &[(Finding, bool)], suite: &str) -> String {
    let failures = outcomes.iter().filter(|(_, p)| !p).count();
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"ae-bench check\" \
         tests=\"{n}\" failures=\"{failures}\" errors=\"0\">\n  <testsuite name=\"{}\" \
         tests=\"{n}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"0\">\n",
        xml_escape(suite),
        n = outcomes.len(),
    );
    for (f, passed) in outcomes {
        // "mnist pca k=30 flex test_sse_per_image": the cell is the class, the metric the name.
        let (cell, metric) = f.what.rsplit_once(' ').unwrap_or((&f.what, ""));
        s.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
            xml_escape(cell),
            xml_escape(metric)
        ));
        if *passed {
            s.push_str("/>\n");
        } else {
            let msg = format!(
                "{}: baseline {:.4}, this run {:.4}, worse by {:+.4} (tolerance {:.4})",
                f.what,
                f.baseline,
                f.value,
                f.value - f.baseline,
                f.tolerance
            );
            s.push_str(&format!(
                ">\n      <failure message=\"{m}\" type=\"regression\">{m}</failure>\n    </testcase>\n",
                m = xml_escape(&msg)
            ));
        }
    }
    s.push_str("  </testsuite>\n</testsuites>\n");
    s
}

/// Every tracked metric as a Markdown table of deltas, failures first.
pub fn markdown(outcomes: &[(Finding, bool)]) -> String {
    let failed = outcomes.iter().filter(|(_, p)| !p).count();
    let mut s = format!(
        "**{}** — {} of {} tracked metrics within tolerance\n\n\
         | | cell | baseline | this run | delta | tolerance |\n|---|---|---:|---:|---:|---:|\n",
        if failed == 0 {
            "check passed"
        } else {
            "check FAILED"
        },
        outcomes.len() - failed,
        outcomes.len()
    );
    let mut sorted: Vec<&(Finding, bool)> = outcomes.iter().collect();
    sorted.sort_by_key(|(_, p)| *p);
    for (f, passed) in sorted {
        s.push_str(&format!(
            "| {} | {} | {:.4} | {:.4} | {:+.4} | {:.4} |\n",
            if *passed { "✅" } else { "❌" },
            f.what,
            f.baseline,
            f.value,
            f.value - f.baseline,
            f.tolerance
        ));
    }
    s
}

/// Reads a baseline CSV and validates it: a check against nothing, or against a value or
/// tolerance that is not a finite number (tolerances also >= 0), must not pass.
pub fn read_baseline(path: &Path) -> Result<Vec<BaselineRow>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read baseline {}", path.display()))?;
    parse_baseline(path, file)
}

/// [`read_baseline`] of CSV text from `input` (`path` names it in errors).
pub fn parse_baseline(path: &Path, input: impl std::io::Read) -> Result<Vec<BaselineRow>> {
    let mut rdr = csv::Reader::from_reader(input);
    let mut out = Vec::new();
    for (i, rec) in rdr.deserialize().enumerate() {
        let line = i + 2;
        let row: BaselineRow =
            rec.with_context(|| format!("{}: bad row on line {line}", path.display()))?;
        let bad = |field: &str, value: String, expected: &str| {
            anyhow::anyhow!(
                "{}: line {line}: {field} = {value}, expected {expected}",
                path.display()
            )
        };
        if !row.value.is_finite() {
            return Err(bad("value", row.value.to_string(), "a finite number"));
        }
        if !(row.tolerance.is_finite() && row.tolerance >= 0.0) {
            return Err(bad(
                "tolerance",
                row.tolerance.to_string(),
                "a finite number >= 0",
            ));
        }
        if row.seeds == 0 {
            return Err(bad("seeds", "0".into(), ">= 1"));
        }
        if tracked(&row.metric).is_none() {
            let names: Vec<&str> = TRACKED.iter().map(|(m, _)| *m).collect();
            return Err(bad(
                "metric",
                format!("{:?}", row.metric),
                &format!("one of {names:?}"),
            ));
        }
        if row.dataset.is_empty() || row.model.is_empty() || row.backend.is_empty() {
            return Err(bad(
                "dataset/model/backend",
                "an empty name".into(),
                "non-empty names",
            ));
        }
        out.push(row);
    }
    anyhow::ensure!(
        !out.is_empty(),
        "{}: the baseline tracks no metric (empty or header only); a check against it would \
         pass on nothing. Write one with `check --update-baseline`.",
        path.display()
    );
    Ok(out)
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
    fn a_baseline_that_tracks_nothing_or_nonsense_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.csv");
        let header = "dataset,model,code_size,backend,metric,value,tolerance,seeds\n";
        let cases = [
            ("", "tracks no metric"),
            (header, "tracks no metric"),
            ("garbage\n1,2\n", "bad row"),
            (
                &format!("{header}mnist,ae,30,flex,test_sse_per_image,NaN,1,3\n"),
                "value = NaN",
            ),
            (
                &format!("{header}mnist,ae,30,flex,test_sse_per_image,10,-1,3\n"),
                "tolerance = -1",
            ),
            (
                &format!("{header}mnist,ae,30,flex,test_sse_per_image,10,NaN,3\n"),
                "tolerance = NaN",
            ),
            (
                &format!("{header}mnist,ae,30,flex,test_sse_per_image,ten,1,3\n"),
                "bad row on line 2",
            ),
            (
                &format!("{header}mnist,ae,30,flex,test_sse_per_image,10,1,0\n"),
                "seeds = 0",
            ),
            (
                &format!("{header}mnist,ae,30,flex,accuracy,10,1,3\n"),
                "metric",
            ),
        ];
        for (text, expected) in cases {
            std::fs::write(&p, text).unwrap();
            let e = format!("{:#}", read_baseline(&p).unwrap_err());
            assert!(e.contains(expected), "{text:?}: {e}");
        }
        // A NaN in the run is a regression, not a pass.
        let base = baseline_from(&[row("ae", 0, 9.0)], 0.0);
        assert_eq!(regressions(&base, &[row("ae", 0, f64::NAN)]).len(), 1);
        // So is a mean over fewer seeds than the baseline's (a dead task took some).
        let base = baseline_from(
            &[row("ae", 0, 9.0), row("ae", 1, 10.0), row("ae", 2, 11.0)],
            0.0,
        );
        let f = regressions(&base, &[row("ae", 0, 9.0), row("ae", 1, 10.0)]);
        assert_eq!(f.len(), 1);
        assert!(f[0].what.ends_with("(2 of 3 seeds)"), "{:?}", f[0]);
    }

    #[test]
    fn junit_and_markdown_reports_list_every_metric() {
        let base = baseline_from(
            &[row("ae", 0, 9.0), row("ae", 1, 10.0), row("p<ca", 0, 5.0)],
            0.0,
        );
        let o = outcomes(
            &base,
            &[row("ae", 0, 9.5), row("ae", 1, 9.5), row("p<ca", 0, 7.0)],
        );
        assert_eq!(o.iter().filter(|(_, p)| *p).count(), 1);
        let xml = junit(&o, "smoke");
        assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
        assert!(
            xml.contains("classname=\"mnist p&lt;ca k=30 flex\" name=\"test_sse_per_image\""),
            "{xml}"
        );
        assert_eq!(xml.matches("<testcase").count(), 2);
        assert_eq!(xml.matches("<failure").count(), 1);
        let md = markdown(&o);
        assert!(md.starts_with("**check FAILED** — 1 of 2"), "{md}");
        assert!(
            md.contains(
                "| ❌ | mnist p<ca k=30 flex test_sse_per_image | 5.0000 | 7.0000 | +2.0000 |"
            ),
            "{md}"
        );
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
