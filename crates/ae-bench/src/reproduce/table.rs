//! The paper-style table, charts and `results/paper/` file, drawn from stored cells.

use std::path::Path;

use ae_data::Dataset;
use anyhow::Result;

use super::ReproduceOptions;
use super::budget::{Budget, RowKind, paper_value};
use crate::artifacts;
use crate::store::{self, CellRecord, Row};
use crate::{gallery, plot};

/// Tables, charts, `summary.md` and `results/paper/<file>` from the stored cells.
pub(super) fn write_outputs(
    opts: &ReproduceOptions,
    run_dir: &Path,
    data: &Dataset,
) -> Result<String> {
    let mut cells = store::load_cells(run_dir)?;
    // The table's order: the rows' order, then anything else by key.
    let order = |c: &CellRecord| {
        let model = c.rows.first().map_or("", |r| r.model.as_str());
        RowKind::ALL
            .iter()
            .flat_map(|r| r.cells().iter())
            .position(|n| *n == model)
            .unwrap_or(usize::MAX)
    };
    cells.sort_by_key(order);
    let rows: Vec<Row> = cells.iter().flat_map(|c| c.rows.clone()).collect();
    store::write_tables(run_dir, &rows)?;
    plot::curves(
        &rows,
        &run_dir.join("fine_tuning_curves"),
        &plot::FINE_TUNING,
    )?;
    let side = data.test.width;
    let mut grid = Vec::new();
    for c in &cells {
        let Some(a) = &c.artifacts else { continue };
        if grid.is_empty()
            && let Some(o) = a.originals.decode()
        {
            grid.push(("test digits".to_string(), o));
        }
        if a.codes.is_none()
            && let (Some(r), Some(row)) = (a.reconstructions.decode(), c.rows.first())
        {
            grid.push((row.model.clone(), r));
        }
    }
    if !grid.is_empty() {
        plot::image_grid(&grid, side, &run_dir.join("reconstructions.png"))?;
    }
    let panels: Vec<(&str, &artifacts::Codes2d)> = cells
        .iter()
        .filter_map(|c| {
            let codes = c.artifacts.as_ref()?.codes.as_ref()?;
            Some((c.rows.first()?.model.as_str(), codes))
        })
        .collect();
    if !panels.is_empty() {
        gallery::code_scatter(
            "mnist",
            "figure 3 — 2-D codes of the first 2 000 test images",
            &panels,
            &run_dir.join("figure3_codes.png"),
        )?;
    }
    let table = table_markdown(opts, &cells, run_dir);
    store::write_atomic(&run_dir.join("summary.md"), |f| {
        use std::io::Write;
        Ok(f.write_all(table.as_bytes())?)
    })?;
    // The paper's table as LaTeX (booktabs), in the run and beside the Markdown one.
    let tex = table_latex(opts, &cells);
    let tex_name = opts.budget.paper_file().replace(".md", ".tex");
    for dir in [
        run_dir.join("latex"),
        opts.paper_root.join("paper").join("latex"),
    ] {
        std::fs::create_dir_all(&dir)?;
        store::write_atomic(&dir.join(&tex_name), |f| {
            use std::io::Write;
            Ok(f.write_all(tex.as_bytes())?)
        })?;
    }
    write_paper_file(&opts.paper_root, &opts.budget)?;
    Ok(table)
}

/// `results/paper/<file>` of a budget: every row of the paper's table as the run folders
/// under `root` hold it (stored, not finished, not run), with its run and build.
pub fn write_paper_file(root: &Path, budget: &Budget) -> Result<String> {
    let rows = super::ledger::ledger(root, &budget.name)?;
    let mut s = format!(
        "# Hinton & Salakhutdinov (2006), MNIST, {}-dimensional codes — budget `{}`\n\n\
         Average squared error per MNIST test image (summed over 784 pixels, 10 000 test \
         images), seed 0, flex backend. Every row of the paper's table is listed: each from \
         the newest run folder under `{}` that holds it, a row still training with the last \
         epoch of its curve, a row no run holds as **not run**. *Build* is the commit the \
         binary was built from (\"uncommitted\" when it was built from, or ran in, a tree \
         with changes). Wall time includes pretraining; \"≤ 3.00 at\" is the training clock \
         when the test error first reached the paper's 3.00. Regenerate with `ae-bench \
         reproduce hinton2006 --budget {} --table-only`.\n\n",
        budget.code(),
        budget.name,
        root.display(),
        budget.name
    );
    s.push_str(&super::ledger::markdown(&rows, root));
    s.push_str(
        "\nEach run folder holds its own `summary.md`, `fine_tuning_curves.png` (test error \
         after each fine-tuning epoch), `reconstructions.png` (the paper's figure 2), \
         `figure3_codes.png` (figure 3, when run) and `rbm_pretraining.json` (RBM monitors \
         per layer and epoch).\n",
    );
    let paper_dir = root.join("paper");
    std::fs::create_dir_all(&paper_dir)?;
    store::write_atomic(&paper_dir.join(budget.paper_file()), |f| {
        use std::io::Write;
        Ok(f.write_all(s.as_bytes())?)
    })?;
    Ok(s)
}

/// When a fine-tuning curve first reached `target`: (epoch, training-clock seconds).
pub(super) fn reached(rows: &[Row], target: f64) -> Option<(usize, f64)> {
    let value = |metric: String| rows.iter().find(|r| r.metric == metric).map(|r| r.value);
    (1..)
        .map_while(|e| value(format!("curve_test_sse@{e}")).map(|v| (e, v)))
        .find(|&(_, v)| v <= target)
        .and_then(|(e, _)| Some((e, value(format!("curve_train_seconds@{e}"))?)))
}

/// The table in the paper's layout (method, paper, ours), booktabs.
fn table_latex(opts: &ReproduceOptions, cells: &[CellRecord]) -> String {
    use crate::report::latex_escape;
    let b = &opts.budget;
    let mut t = format!(
        "\\begin{{table}}[htbp]\n\\centering\n\\caption{{Average squared error per MNIST test \
         image, {}-dimensional codes: Hinton \\& Salakhutdinov (2006) and this reproduction \
         (budget \\texttt{{{}}}, seed {}, {} training images).}}\n\\label{{tab:hinton2006-{}}}\n\
         \\begin{{tabular}}{{lrr}}\n\\toprule\nmethod & paper & ours \\\\\n\\midrule\n",
        b.code(),
        latex_escape(&b.name),
        opts.seed,
        if b.train_limit == 0 {
            60_000
        } else {
            b.train_limit
        },
        b.name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    );
    for c in cells {
        let Some(head) = c.rows.iter().find(|r| r.metric == "test_sse_per_image") else {
            continue;
        };
        t.push_str(&format!(
            "{} & {} & {:.2} \\\\\n",
            latex_escape(&head.model),
            paper_value(&head.model).map_or("--".into(), |p| format!("{p:.2}")),
            head.value
        ));
    }
    t.push_str("\\bottomrule\n\\end{tabular}\n\\end{table}\n");
    t
}

fn table_markdown(opts: &ReproduceOptions, cells: &[CellRecord], run_dir: &Path) -> String {
    let b = &opts.budget;
    let mut s = format!(
        "# Hinton & Salakhutdinov (2006), MNIST, {}-dimensional codes — budget `{}`\n\n\
         Produced by: `{}`\n\n\
         Average squared error per MNIST test image (summed over 784 pixels, 10 000 test \
         images), seed {}, backend `{}`; {} training images. Run folder: `{}`. Wall time \
         includes pretraining; \"≤ 3.00 at\" is the training clock (per-epoch test \
         evaluations excluded) when the test error first reached the paper's 3.00.\n\n\
         | method | paper | ours | wall time | ≤ 3.00 at | how |\n|---|---:|---:|---:|---:|---|\n",
        b.code(),
        b.name,
        opts.command,
        opts.seed,
        opts.backend.name(),
        if b.train_limit == 0 {
            60_000
        } else {
            b.train_limit
        },
        run_dir.display()
    );
    for c in cells {
        let Some(head) = c
            .rows
            .iter()
            .find(|r| r.metric == "test_sse_per_image")
            .or(c.rows.first())
        else {
            continue;
        };
        let name = head.model.as_str();
        s.push_str(&format!(
            "| {} | {} | {:.2} | {:.0} s | {} | {} |\n",
            name,
            paper_value(name).map_or("—".into(), |p| format!("{p:.2}")),
            head.value,
            c.seconds,
            reached(&c.rows, 3.0).map_or("—".into(), |(e, t)| format!("epoch {e}, {t:.0} s")),
            if head.status.is_ok() {
                head.detail.clone()
            } else {
                format!("failed: {}", head.detail)
            }
        ));
    }
    let missing: Vec<String> = opts
        .budget
        .rows
        .iter()
        .flat_map(|r| r.cells().iter())
        .filter(|m| !cells.iter().any(|c| c.rows.first().is_some_and(|r| r.model == **m)))
        .map(|m| match super::ledger::in_progress(run_dir, m) {
            Some((epoch, value)) => format!(
                "`{m}`: **not finished**, epoch {epoch}, test SSE {value:.2} (`in-progress/{m}.csv`)"
            ),
            None => format!("`{m}`: **not run yet**"),
        })
        .collect();
    if !missing.is_empty() {
        s.push_str(&format!(
            "\nRows of this budget not stored in this run: {}.\n",
            missing.join("; ")
        ));
    }
    s.push_str(
        "\nCharts: `fine_tuning_curves.png` (test error after each fine-tuning epoch), \
         `reconstructions.png` (the first test digits and each method's reconstructions, as \
         the paper's figure 2), `figure3_codes.png` (the paper's figure 3, when run). RBM \
         monitors per layer and epoch (reconstruction error, free-energy gap, \
         pseudo-log-likelihood): `rbm_pretraining.json`.\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reached_finds_the_first_epoch_at_or_below_the_target() {
        let rows: Vec<Row> = [
            ("curve_test_sse@1", 5.0),
            ("curve_train_seconds@1", 10.0),
            ("curve_test_sse@2", 3.0),
            ("curve_train_seconds@2", 20.0),
            ("curve_test_sse@3", 2.0),
            ("curve_train_seconds@3", 30.0),
        ]
        .iter()
        .map(|(m, v)| Row::ok_for_test("rbm+adam", 30, 0, m, *v))
        .collect();
        assert_eq!(reached(&rows, 3.0), Some((2, 20.0)));
        assert_eq!(reached(&rows, 1.0), None);
    }
}
