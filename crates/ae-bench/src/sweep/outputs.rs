//! A run's outputs drawn from its stored cells: tables, charts, summary.md, latex/.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::manifest::RunManifest;
use crate::store::{self, CellRecord, Row};
use crate::{gallery, plot, report};

/// Writes the tables, summary and charts of a run from its stored cells.
pub fn write_outputs(
    run_dir: &Path,
    name: &str,
    command: &str,
    cells: &[CellRecord],
) -> Result<()> {
    let rows: Vec<Row> = cells.iter().flat_map(|c| c.rows.iter().cloned()).collect();
    let mut charts = row_charts(run_dir, &rows)?;
    charts.extend(gallery::draw_all(cells, run_dir)?);
    charts.extend(crate::eval_report::draw_all(&rows, cells, run_dir)?);
    write_summary(run_dir, name, command, &rows, &charts)
}

/// The outputs that need only the rows (all a Parquet-only folder can give).
pub fn write_tables_and_charts(
    run_dir: &Path,
    name: &str,
    command: &str,
    rows: &[Row],
) -> Result<()> {
    let charts = row_charts(run_dir, rows)?;
    write_summary(run_dir, name, command, rows, &charts)
}

fn row_charts(run_dir: &Path, rows: &[Row]) -> Result<Vec<PathBuf>> {
    store::write_tables(run_dir, rows)?;
    let mut charts = Vec::new();
    plot::error_vs_code_size(
        rows,
        "test_sse_per_image",
        &[plot::HINTON_PCA30],
        &run_dir.join("error_vs_code_size"),
    )?;
    charts.push(run_dir.join("error_vs_code_size.png"));
    if plot::training_curves(rows, &run_dir.join("training_curves"))? {
        charts.push(run_dir.join("training_curves.png"));
    }
    Ok(charts)
}

/// summary.md: the wide tables, then every chart inline.
fn write_summary(
    run_dir: &Path,
    name: &str,
    command: &str,
    rows: &[Row],
    charts: &[PathBuf],
) -> Result<()> {
    let mut md = report::summary_markdown(name, command, rows);
    md.push_str(&crate::eval_report::summary_sections(rows));
    if !charts.is_empty() {
        md.push_str("## Charts\n\n");
        for c in charts {
            if let Some(f) = c.file_name() {
                let f = f.to_string_lossy();
                md.push_str(&format!("### {f}\n\n![{f}]({f})\n\n"));
            }
        }
    }
    store::write_atomic(&run_dir.join("summary.md"), |f| {
        use std::io::Write;
        Ok(f.write_all(md.as_bytes())?)
    })?;
    // The same tables for a paper: latex/*.tex (booktabs).
    let latex = run_dir.join("latex");
    std::fs::create_dir_all(&latex)
        .with_context(|| format!("cannot create {}", latex.display()))?;
    for (file, text) in report::summary_latex(name, &budget_note(run_dir), rows) {
        store::write_atomic(&latex.join(file), |f| {
            use std::io::Write;
            Ok(f.write_all(text.as_bytes())?)
        })?;
    }
    Ok(())
}

/// The training budget in words, from the run's run.json (for table captions).
fn budget_note(run_dir: &Path) -> String {
    RunManifest::read(run_dir).map_or_else(
        |_| format!("budget as in the run's {}", crate::manifest::FILE),
        |m| m.budget_note(),
    )
}
