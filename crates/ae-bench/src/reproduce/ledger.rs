//! Where each row of the paper's table stands across every run folder of one budget:
//! stored (with its value and the build that made it), still training (its last epoch
//! and value from `in-progress/<row>.csv`) or not run. `results/paper/hinton2006.md` is
//! drawn from this, so no row ever silently disappears from it.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::budget::{RowKind, paper_value};
use crate::store::{self, CellRecord};

/// The state of one model row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowState {
    /// A stored, ok cell.
    Done {
        /// Test SSE per image.
        value: f64,
        /// Wall seconds of the cell.
        seconds: f64,
        /// First (epoch, training seconds) at or below the paper's 3.00.
        reached: Option<(usize, f64)>,
        /// The cell's own description of how it was made.
        how: String,
    },
    /// Training, or interrupted mid-training: its curve so far.
    Running {
        /// Last finished epoch.
        epoch: usize,
        /// Of this many.
        of: Option<usize>,
        /// Test SSE after that epoch.
        value: f64,
        /// Whether its checkpoint is in this checkout (it can be continued here).
        resumable: bool,
    },
    /// No run folder holds it.
    NotRun,
}

/// One row of the table with the run and build it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerRow {
    /// The model name (`rbm+cg`, `pca-2d`, …).
    pub model: String,
    /// Where it stands.
    pub state: RowState,
    /// The run folder it comes from.
    pub run: Option<PathBuf>,
    /// The build, in words: a commit, or "uncommitted build at …".
    pub build: String,
}

/// The build that wrote a run, from its `run.json` `git` object.
pub fn build_of(git: &serde_json::Value) -> String {
    let short = |v: &serde_json::Value| v.as_str().map(|s| s.chars().take(7).collect::<String>());
    match (
        short(&git["binary_revision"]),
        git["binary_dirty"].as_bool(),
    ) {
        (Some(rev), Some(false)) if rev != "unknown" => rev,
        (Some(rev), Some(true)) => format!("uncommitted build at {rev}"),
        // Before binary_revision was recorded: only the tree the run started in is known.
        _ => match (short(&git["revision"]), git["dirty"].as_bool()) {
            (Some(rev), Some(false)) => format!("{rev} (tree; build not recorded)"),
            (Some(rev), _) => format!("uncommitted tree at {rev} (build not recorded)"),
            _ => "unknown".into(),
        },
    }
}

/// Every run folder under `root` of this paper and budget, oldest first (folder names
/// begin with their date).
fn runs_of(root: &Path, budget: &str) -> Result<Vec<(PathBuf, serde_json::Value)>> {
    let mut out = Vec::new();
    if !root.is_dir() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(root)? {
        let dir = entry?.path();
        let Ok(text) = std::fs::read_to_string(dir.join("run.json")) else {
            continue;
        };
        let Ok(info) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let paper = info["paper"].as_str().unwrap_or("");
        if paper.starts_with("Hinton") && info["budget"]["name"].as_str() == Some(budget) {
            out.push((dir, info));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The curve so far of a row in training: (last epoch, its test SSE).
pub(super) fn in_progress(run: &Path, model: &str) -> Option<(usize, f64)> {
    let text =
        std::fs::read_to_string(run.join("in-progress").join(format!("{model}.csv"))).ok()?;
    let last = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .last()?;
    let mut f = last.split(',');
    Some((
        f.next()?.trim().parse().ok()?,
        f.next()?.trim().parse().ok()?,
    ))
}

fn done(c: &CellRecord) -> Option<RowState> {
    let head = c.rows.iter().find(|r| r.metric == "test_sse_per_image")?;
    if !c.rows.iter().all(|r| r.status.is_ok()) {
        return None;
    }
    Some(RowState::Done {
        value: head.value,
        seconds: c.seconds,
        reached: super::table::reached(&c.rows, 3.0),
        how: head.detail.clone(),
    })
}

/// Fine-tuning epochs of a row in a budget (for "epoch E of N").
fn epochs_of(info: &serde_json::Value, model: &str) -> Option<usize> {
    let key = if model.ends_with("+cg") {
        "fine_tune"
    } else if model.contains("adam") {
        "adam"
    } else {
        return None;
    };
    info["budget"][key]["epochs"].as_u64().map(|e| e as usize)
}

/// Each model row of `RowKind::ALL`: the newest run holding it stored, else the newest
/// holding it in training, else not run.
pub fn ledger(root: &Path, budget: &str) -> Result<Vec<LedgerRow>> {
    let runs = runs_of(root, budget)?;
    let mut stored: Vec<(usize, CellRecord)> = Vec::new();
    for (i, (dir, _)) in runs.iter().enumerate() {
        // A run whose cells cannot be read is left out, not fatal: the table says what
        // the other runs hold.
        for c in store::load_cells(dir).unwrap_or_default() {
            stored.push((i, c));
        }
    }
    let mut out = Vec::new();
    for model in RowKind::ALL.iter().flat_map(|r| r.cells().iter()) {
        let newest_done = stored
            .iter()
            .rev()
            .filter(|(_, c)| c.rows.first().is_some_and(|r| r.model == *model))
            .find_map(|(i, c)| Some((*i, done(c)?)));
        let row = match newest_done {
            Some((i, state)) => Some((i, state)),
            None => runs.iter().enumerate().rev().find_map(|(i, (dir, info))| {
                let (epoch, value) = in_progress(dir, model)?;
                let checkpoint = dir.join("checkpoints").join(format!("{model}.msgpack"));
                Some((
                    i,
                    RowState::Running {
                        epoch,
                        of: epochs_of(info, model),
                        value,
                        resumable: checkpoint.is_file(),
                    },
                ))
            }),
        };
        out.push(match row {
            Some((i, state)) => LedgerRow {
                model: model.to_string(),
                state,
                run: Some(runs[i].0.clone()),
                build: build_of(&runs[i].1["git"]),
            },
            None => LedgerRow {
                model: model.to_string(),
                state: RowState::NotRun,
                run: None,
                build: "—".into(),
            },
        });
    }
    Ok(out)
}

/// The table in Markdown: every row, its state, run and build.
pub fn markdown(rows: &[LedgerRow], root: &Path) -> String {
    let mut s = String::from(
        "| method | paper | ours | status | wall time | ≤ 3.00 at | run | build | how |\n\
         |---|---:|---:|---|---:|---:|---|---|---|\n",
    );
    for r in rows {
        let paper = paper_value(&r.model).map_or("—".into(), |p| format!("{p:.2}"));
        let run = r.run.as_ref().map_or("—".into(), |p| {
            let rel = p.strip_prefix(root).unwrap_or(p).display().to_string();
            format!("[`{rel}`](../{rel}/)")
        });
        let (ours, status, wall, at, how) = match &r.state {
            RowState::Done {
                value,
                seconds,
                reached,
                how,
            } => (
                format!("{value:.2}"),
                "done".to_string(),
                format!("{seconds:.0} s"),
                reached.map_or("—".into(), |(e, t)| format!("epoch {e}, {t:.0} s")),
                how.replace('|', "/"),
            ),
            RowState::Running {
                epoch,
                of,
                value,
                resumable,
            } => (
                format!("{value:.2}"),
                format!(
                    "**not finished**: epoch {epoch}{}",
                    of.map_or(String::new(), |n| format!(" of {n}"))
                ),
                "—".into(),
                "—".into(),
                if *resumable {
                    "last value of its curve so far (`in-progress/`); its checkpoint is here: \
                     continue with `--resume` on this run folder"
                        .into()
                } else {
                    "last value of its curve so far (`in-progress/`); its checkpoint is not in \
                     this checkout, so it cannot be continued here"
                        .into()
                },
            ),
            RowState::NotRun => (
                "—".into(),
                "**not run**".into(),
                "—".into(),
                "—".into(),
                String::new(),
            ),
        };
        s.push_str(&format!(
            "| {} | {paper} | {ours} | {status} | {wall} | {at} | {run} | {} | {how} |\n",
            r.model, r.build
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Row;

    fn run_json(dir: &Path, git: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("run.json"),
            format!(
                "{{\"paper\": \"Hinton & Salakhutdinov (2006)\", \"budget\": {{\"name\": \"full\", \
                 \"fine_tune\": {{\"epochs\": 200}}}}, \"git\": {git}}}"
            ),
        )
        .unwrap();
    }

    fn cell(dir: &Path, model: &str, value: f64) {
        let rows = vec![Row::ok_for_test(model, 30, 0, "test_sse_per_image", value)];
        let rec = CellRecord {
            key: format!("mnist__{model}"),
            rows,
            seconds: 10.0,
            artifacts: None,
        };
        store::save_cell(dir, &rec).unwrap();
    }

    /// Stored rows come from the newest run holding them, a row in training shows its
    /// last epoch, every other row is listed as not run, and each names its build.
    #[test]
    fn every_row_is_listed_with_its_state_and_build() {
        let root = tempfile::tempdir().unwrap();
        let old = root.path().join("2026-11-29-hinton2006-full");
        let new = root.path().join("2026-12-03-hinton2006-full");
        run_json(&old, r#"{"revision": "4013767aaaa", "dirty": true}"#);
        run_json(
            &new,
            r#"{"revision": "afccb22bbbb", "dirty": false, "binary_revision": "afccb22bbbb", "binary_dirty": false}"#,
        );
        cell(&old, "pca", 13.87);
        cell(&old, "rbm+adam", 2.71);
        cell(&new, "pca", 13.866);
        std::fs::create_dir_all(new.join("in-progress")).unwrap();
        std::fs::write(
            new.join("in-progress/rbm+cg.csv"),
            "epoch,test_sse_per_image,train_recon,epoch_seconds\n1,6.2,70,80\n2,5.7,66,81\n",
        )
        .unwrap();
        let rows = ledger(root.path(), "full").unwrap();
        let get = |m: &str| rows.iter().find(|r| r.model == m).unwrap();
        assert_eq!(rows.len(), 9, "every model row of the table");
        assert!(matches!(get("pca").state, RowState::Done { value, .. } if value == 13.866));
        assert_eq!(get("pca").build, "afccb22");
        assert_eq!(
            get("rbm+adam").build,
            "uncommitted tree at 4013767 (build not recorded)"
        );
        assert_eq!(
            get("rbm+cg").state,
            RowState::Running {
                epoch: 2,
                of: Some(200),
                value: 5.7,
                resumable: false
            }
        );
        assert_eq!(get("random+cg").state, RowState::NotRun);
        let md = markdown(&rows, root.path());
        assert!(
            md.contains("| rbm+cg | 3.00 | 5.70 | **not finished**: epoch 2 of 200 |"),
            "{md}"
        );
        assert!(
            md.contains("| stacked-ae+cg | — | — | **not run** |"),
            "{md}"
        );
        // A budget with no run at all lists every row as not run.
        let none = ledger(root.path(), "fast").unwrap();
        assert!(none.iter().all(|r| r.state == RowState::NotRun));
    }
}
