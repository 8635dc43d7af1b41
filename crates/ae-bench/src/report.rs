//! Wide summary tables drawn from the long-format rows.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::store::Row;

/// Metrics shown in `summary.md`, with whether lower is better.
pub const SUMMARY_METRICS: [(&str, bool); 3] = [
    ("test_sse_per_image", true),
    ("test_mse_per_pixel", true),
    ("test_psnr_db", false),
];

/// Mean and sample standard deviation of `v` (sd is 0 for a single value).
pub fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 {
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (mean, sd)
}

/// One cell of a wide table: mean ± sd over seeds, or failed.
#[derive(Debug, Clone, PartialEq)]
enum Entry {
    Ok { mean: f64, sd: f64, n: usize },
    Failed,
}

/// Per row `(model, backend)`, per code size: the seeds' values and whether any failed.
type Collected = BTreeMap<(String, String), BTreeMap<u32, (Vec<f64>, bool)>>;

/// A wide table for one dataset and metric: rows are `(model, backend)`, columns code sizes.
fn wide(
    rows: &[Row],
    dataset: &str,
    metric: &str,
) -> BTreeMap<(String, String), BTreeMap<u32, Entry>> {
    let mut values: Collected = BTreeMap::new();
    for r in rows.iter().filter(|r| r.dataset == dataset) {
        let failed = !r.status.is_ok();
        if !failed && r.metric != metric {
            continue;
        }
        let slot = values
            .entry((r.model.clone(), r.backend.clone()))
            .or_default()
            .entry(r.code_size)
            .or_default();
        if failed {
            slot.1 = true;
        } else {
            slot.0.push(r.value);
        }
    }
    values
        .into_iter()
        .map(|(k, cols)| {
            let cols = cols
                .into_iter()
                .map(|(c, (v, failed))| {
                    let e = if v.is_empty() || failed {
                        Entry::Failed
                    } else {
                        let (mean, sd) = mean_sd(&v);
                        Entry::Ok {
                            mean,
                            sd,
                            n: v.len(),
                        }
                    };
                    (c, e)
                })
                .collect();
            (k, cols)
        })
        .collect()
}

/// A wide table's code sizes, and the best mean of each column (lowest or highest).
fn columns_and_best(
    table: &BTreeMap<(String, String), BTreeMap<u32, Entry>>,
    lower_better: bool,
) -> (BTreeSet<u32>, BTreeMap<u32, f64>) {
    let sizes: BTreeSet<u32> = table.values().flat_map(|c| c.keys().copied()).collect();
    let best = sizes
        .iter()
        .filter_map(|&c| {
            let vals = table.values().filter_map(|cols| match cols.get(&c) {
                Some(Entry::Ok { mean, .. }) => Some(*mean),
                _ => None,
            });
            let b = if lower_better {
                vals.fold(f64::INFINITY, f64::min)
            } else {
                vals.fold(f64::NEG_INFINITY, f64::max)
            };
            b.is_finite().then_some((c, b))
        })
        .collect();
    (sizes, best)
}

/// The fewest and most seeds the ok cells of a wide table average: cells with fewer than
/// the most are marked, so a table that is partly a third seed says which means rest on
/// fewer.
fn seed_range(table: &BTreeMap<(String, String), BTreeMap<u32, Entry>>) -> (usize, usize) {
    table
        .values()
        .flat_map(|cols| cols.values())
        .filter_map(|e| match e {
            Entry::Ok { n, .. } => Some(*n),
            Entry::Failed => None,
        })
        .fold((usize::MAX, 0), |(lo, hi), n| (lo.min(n), hi.max(n)))
}

fn fmt_value(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else if v.abs() >= 0.1 {
        format!("{v:.3}")
    } else {
        format!("{v:.5}")
    }
}

/// Renders the markdown tables for every dataset and summary metric.
pub fn summary_markdown(title: &str, command: &str, rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {title}\n");
    let _ = writeln!(out, "Produced by: `{command}`\n");
    let _ = writeln!(
        out,
        "Values are means over seeds (± sample sd when there are several); the best value in \
         each column is in bold. Metric definitions: `crates/ae-core/src/metrics.rs`.\n"
    );
    let datasets: BTreeSet<&str> = rows.iter().map(|r| r.dataset.as_str()).collect();
    for (metric, lower_better) in SUMMARY_METRICS {
        for dataset in &datasets {
            let table = wide(rows, dataset, metric);
            if table.is_empty() {
                continue;
            }
            let (sizes, best) = columns_and_best(&table, lower_better);
            let (fewest, most) = seed_range(&table);
            let _ = writeln!(out, "## {dataset}: `{metric}`\n");
            let header: Vec<String> = sizes.iter().map(|c| format!("k={c}")).collect();
            let _ = writeln!(out, "| model | backend | {} |", header.join(" | "));
            let _ = writeln!(out, "|---|---|{}", "---:|".repeat(sizes.len()));
            for ((model, backend), cols) in &table {
                let cells: Vec<String> = sizes
                    .iter()
                    .map(|c| match cols.get(c) {
                        None => "".into(),
                        Some(Entry::Failed) => "failed".into(),
                        Some(Entry::Ok { mean, sd, n }) => {
                            let mut s = fmt_value(*mean);
                            if *n > 1 {
                                s = format!("{s} ± {}", fmt_value(*sd));
                            }
                            if best.get(c) == Some(mean) && table.len() > 1 {
                                s = format!("**{s}**");
                            }
                            if *n < most {
                                s = format!("{s} (n={n})");
                            }
                            s
                        }
                    })
                    .collect();
                let _ = writeln!(out, "| {model} | {backend} | {} |", cells.join(" | "));
            }
            if fewest < most {
                let _ = writeln!(
                    out,
                    "\n(n=…) marks a mean over fewer seeds than the table's {most}."
                );
            }
            let _ = writeln!(out);
        }
    }
    let failed: Vec<&Row> = rows.iter().filter(|r| !r.status.is_ok()).collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "## Failed cells\n");
        for r in failed {
            let _ = writeln!(
                out,
                "- {} {} k={} {} seed {}: {}",
                r.dataset, r.model, r.code_size, r.backend, r.seed, r.detail
            );
        }
        let _ = writeln!(out);
    }
    out
}

/// LaTeX special characters escaped for text mode.
pub fn latex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            _ => out.push(c),
        }
    }
    out
}

/// A label-safe slug: letters and digits, the rest as '-'.
fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// One booktabs table per dataset and summary metric, for a paper: mean ± sd over seeds,
/// the best of each column in bold, the metric and `budget` in the caption, a `\label`
/// derived from the run's `name`. Returns `(file name, text)` pairs, plus `tables.tex`
/// that `\input`s them all, and `preamble.tex` listing the packages they need.
pub fn summary_latex(name: &str, budget: &str, rows: &[Row]) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let datasets: BTreeSet<&str> = rows.iter().map(|r| r.dataset.as_str()).collect();
    for (metric, lower_better) in SUMMARY_METRICS {
        for dataset in &datasets {
            let table = wide(rows, dataset, metric);
            if table.is_empty() {
                continue;
            }
            let (sizes, best) = columns_and_best(&table, lower_better);
            let (_, most) = seed_range(&table);
            let mut t = String::new();
            let _ = writeln!(t, "\\begin{{table}}[htbp]\n\\centering\n\\small");
            let _ = writeln!(
                t,
                "\\caption{{{}: {} ({} is better), mean $\\pm$ sd over seeds; {}. Run \\texttt{{{}}}.}}",
                latex_escape(dataset),
                latex_escape(&metric.replace('_', " ")),
                if lower_better { "lower" } else { "higher" },
                latex_escape(budget),
                latex_escape(name)
            );
            let _ = writeln!(
                t,
                "\\label{{tab:{}-{}-{}}}",
                slug(name),
                slug(dataset),
                slug(metric)
            );
            let _ = writeln!(
                t,
                "\\begin{{tabular}}{{ll{}}}\n\\toprule",
                "r".repeat(sizes.len())
            );
            let header: Vec<String> = sizes.iter().map(|c| format!("$k={c}$")).collect();
            let _ = writeln!(
                t,
                "model & backend & {} \\\\\n\\midrule",
                header.join(" & ")
            );
            for ((model, backend), cols) in &table {
                let cells: Vec<String> = sizes
                    .iter()
                    .map(|c| match cols.get(c) {
                        None => String::new(),
                        Some(Entry::Failed) => "failed".into(),
                        Some(Entry::Ok { mean, sd, n }) => {
                            let mut s = fmt_value(*mean);
                            if *n > 1 {
                                s = format!("{s} $\\pm$ {}", fmt_value(*sd));
                            }
                            if best.get(c) == Some(mean) && table.len() > 1 {
                                s = format!("\\textbf{{{s}}}");
                            }
                            if *n < most {
                                s = format!("{s} ($n={n}$)");
                            }
                            s
                        }
                    })
                    .collect();
                let _ = writeln!(
                    t,
                    "{} & {} & {} \\\\",
                    latex_escape(model),
                    latex_escape(backend),
                    cells.join(" & ")
                );
            }
            let _ = writeln!(t, "\\bottomrule\n\\end{{tabular}}\n\\end{{table}}");
            files.push((format!("{}_{}.tex", slug(dataset), metric), t));
        }
    }
    let all: String = files
        .iter()
        .map(|(f, _)| format!("\\input{{{}}}\n", f.trim_end_matches(".tex")))
        .collect();
    files.push(("tables.tex".into(), all));
    files.push((
        "preamble.tex".into(),
        "% The packages the tables need; \\input this in the preamble.\n\\usepackage{booktabs}\n"
            .into(),
    ));
    files
}

/// What of summary.md a person reads in a terminal: the title and notes, the headline
/// tables (test SSE per image) and the evaluation tasks' tables; not the MSE/PSNR tables
/// (the same ranking in other units) nor the chart section (links to pictures).
pub fn terminal_summary(summary: &str) -> String {
    let mut out = String::new();
    let mut keep = true;
    for line in summary.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            keep = !(heading.starts_with("Charts")
                || heading.contains("`test_mse_per_pixel`")
                || heading.contains("`test_psnr_db`"));
        }
        if keep && !line.trim_start().starts_with("![") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str("(MSE and PSNR tables, and every chart: summary.md)\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(model: &str, k: u32, seed: u64, v: f64) -> Row {
        Row::ok_for_test(model, k, seed, "test_sse_per_image", v)
    }

    #[test]
    fn mean_sd_hand_case() {
        let (m, s) = mean_sd(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, 2.5);
        assert!((s - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn wide_table_with_seeds_best_and_failures() {
        let mut rows = vec![
            row("pca", 2, 0, 50.0),
            row("pca", 30, 0, 13.87),
            row("ae", 30, 0, 4.0),
            row("ae", 30, 1, 6.0),
        ];
        let mut failed = row("ae", 2, 0, f64::NAN);
        failed.status = crate::store::Status::Failed;
        failed.metric = "failed".into();
        failed.detail = "loss became NaN at epoch 3".into();
        rows.push(failed);
        let md = summary_markdown("t", "ae-bench sweep", &rows);
        assert!(md.contains("| model | backend | k=2 | k=30 |"), "{md}");
        assert!(
            md.contains("| ae | flex | failed | **5.000 ± 1.414** |"),
            "{md}"
        );
        // PCA has one seed where the AE has two: its means say so.
        assert!(
            md.contains("| pca | flex | **50.000** (n=1) | 13.870 (n=1) |"),
            "{md}"
        );
        assert!(md.contains("loss became NaN at epoch 3"), "{md}");
    }

    #[test]
    fn means_over_fewer_seeds_are_marked() {
        let rows = vec![
            row("ae", 2, 0, 4.0),
            row("ae", 2, 1, 6.0),
            row("ae", 2, 2, 8.0),
            row("ae", 30, 0, 3.0),
            row("ae", 30, 1, 5.0),
            row("pca", 2, 0, 9.0),
        ];
        let md = summary_markdown("t", "ae-bench merge", &rows);
        assert!(
            md.contains("| ae | flex | **6.000 ± 2.000** | **4.000 ± 1.414** (n=2) |"),
            "{md}"
        );
        assert!(md.contains("| pca | flex | 9.000 (n=1) |  |"), "{md}");
        assert!(md.contains("fewer seeds than the table's 3"), "{md}");
        // Two seeds everywhere: nothing to mark.
        let same = summary_markdown("t", "ae-bench merge", &rows[3..5]);
        assert!(!same.contains("(n="), "{same}");
        let files = summary_latex("t", "b", &rows);
        let (_, t) = files
            .iter()
            .find(|(f, _)| f == "mnist_test_sse_per_image.tex")
            .unwrap();
        assert!(t.contains("4.000 $\\pm$ 1.414} ($n=2$)"), "{t}");
    }

    #[test]
    fn latex_tables_are_booktabs_with_bold_best_escaped_names_and_labels() {
        let rows = vec![
            row("deep_ae", 2, 0, 10.0),
            row("deep_ae", 2, 1, 12.0),
            row("pca", 2, 0, 13.0),
        ];
        let files = summary_latex("2026-11-29-smoke", "3 epochs on 5 000 images", &rows);
        let (name, t) = files
            .iter()
            .find(|(f, _)| f == "mnist_test_sse_per_image.tex")
            .unwrap();
        assert!(name.ends_with(".tex"));
        for needle in [
            "\\toprule",
            "\\midrule",
            "\\bottomrule",
            "\\label{tab:2026-11-29-smoke-mnist-test-sse-per-image}",
            "deep\\_ae & flex & \\textbf{11.000 $\\pm$ 1.414} \\\\",
            "pca & flex & 13.000 ($n=1$) \\\\",
            "3 epochs on 5 000 images",
        ] {
            assert!(t.contains(needle), "{needle}\n{t}");
        }
        assert_eq!(t.matches("\\begin{").count(), t.matches("\\end{").count());
        assert!(
            files
                .iter()
                .any(|(f, s)| f == "tables.tex" && s.contains("\\input{mnist_test_sse_per_image}"))
        );
        assert_eq!(
            latex_escape("a_b&c%d#e$f{g}~^\\"),
            "a\\_b\\&c\\%d\\#e\\$f\\{g\\}\\textasciitilde{}\\textasciicircum{}\\textbackslash{}"
        );
    }

    #[test]
    fn the_terminal_gets_the_headline_and_task_tables_only() {
        let md = "# smoke\n\nProduced by: `x`\n\n## mnist: `test_sse_per_image`\n\n| a |\n\n\
                  ## mnist: `test_mse_per_pixel`\n\n| b |\n\n## mnist: `test_psnr_db`\n\n| c |\n\n\
                  ## Task `cluster`\n\n| d |\n\n## Charts\n\n### x.png\n\n![x.png](x.png)\n";
        let t = terminal_summary(md);
        for kept in [
            "# smoke",
            "Produced by",
            "test_sse_per_image",
            "| a |",
            "Task `cluster`",
            "| d |",
        ] {
            assert!(t.contains(kept), "{kept} missing:\n{t}");
        }
        for dropped in ["test_mse", "| b |", "test_psnr", "| c |", "Charts", "x.png"] {
            assert!(!t.contains(dropped), "{dropped} kept:\n{t}");
        }
    }
}
