//! `ae-bench reproduce hinton2006`: the MNIST table of Hinton & Salakhutdinov (2006),
//! "Reducing the dimensionality of data with neural networks" — PCA, logistic PCA and the
//! RBM-pretrained 784-1000-500-250-30 autoencoder — with the paper's numbers beside ours,
//! plus the same net without pretraining and with stacked-autoencoder pretraining.

mod budget;
mod job;
mod ledger;
mod pretrain;
mod table;

use std::path::{Path, PathBuf};

use ae_data::DatasetKind;
use anyhow::{Context, Result};
use serde::Serialize;

pub use budget::{Budget, BudgetKind, RowKind};
use job::Job;
pub use table::write_paper_file;

use crate::backend::{BackendKind, dispatch};
use crate::manifest::RunManifest;
use crate::provenance::{Git, Machine, Versions};
use crate::{store, sweep};

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct ReproduceOptions {
    /// Budget (with overrides applied).
    pub budget: Budget,
    /// Folder in which the run folder is created.
    pub out_root: PathBuf,
    /// Where `paper/hinton2006.md` goes (the repository's `results/`).
    pub paper_root: PathBuf,
    /// Data root.
    pub data_dir: Option<PathBuf>,
    /// Backend.
    pub backend: BackendKind,
    /// Seed.
    pub seed: u64,
    /// Continue this run folder: rows stored there are kept, the pretrained stacks reused.
    pub resume: Option<PathBuf>,
    /// The command line, recorded next to the results.
    pub command: String,
}

#[derive(Serialize)]
struct RunInfo<'a> {
    command: &'a str,
    paper: &'static str,
    budget: &'a Budget,
    seed: u64,
    backend: &'static str,
    git: Git,
    versions: Versions,
    machine: Machine,
    data: String,
    started: String,
    finished: Option<String>,
    /// Earlier sessions of this run folder (`--resume`): their start times and commands.
    #[serde(default)]
    sessions: Vec<serde_json::Value>,
}

/// What a reproduction produced.
pub struct Outcome {
    /// The run folder.
    pub run_dir: PathBuf,
    /// The paper-style table.
    pub table: String,
}

/// The budget a stored run was made with, compared field by field with `budget` (rows
/// aside: a resume may add rows). Names every differing field.
fn check_resume_budget(run_dir: &Path, budget: &Budget) -> Result<Vec<serde_json::Value>> {
    let stored = RunManifest::read(run_dir).context("--resume")?;
    let path = &stored.path;
    let mut old = stored.raw.get("budget").cloned().unwrap_or_default();
    // Through text, as the stored run.json was written: f32 fields (the masking level)
    // then read back the same (0.2, not 0.20000000298).
    let mut new: serde_json::Value = serde_json::from_str(&serde_json::to_string(budget)?)?;
    for v in [&mut old, &mut new] {
        if let Some(o) = v.as_object_mut() {
            o.remove("rows");
        }
    }
    let (Some(o), Some(n)) = (old.as_object(), new.as_object()) else {
        anyhow::bail!("--resume: {} holds no budget object", path.display());
    };
    let differ: Vec<&String> = n.keys().filter(|k| o.get(*k) != n.get(*k)).collect();
    if !differ.is_empty() {
        anyhow::bail!(
            "--resume {}: the stored run used another budget (differs in: {}); resume with the \
             same --budget and overrides, or start a new run",
            run_dir.display(),
            differ
                .iter()
                .map(|s| format!("budget.{s}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut sessions: Vec<serde_json::Value> = stored
        .raw
        .get("sessions")
        .and_then(|s| s.as_array().cloned())
        .unwrap_or_default();
    sessions.push(serde_json::json!({
        "command": stored.raw.get("command"),
        "started": stored.raw.get("started"),
        "finished": stored.raw.get("finished"),
        "git": stored.raw.get("git"),
    }));
    Ok(sessions)
}

/// Runs the reproduction and writes its folder, table and charts.
pub fn run(opts: &ReproduceOptions) -> Result<Outcome> {
    crate::backend::probe(opts.backend)?;
    let budget = &opts.budget;
    let (run_dir, sessions) = match &opts.resume {
        Some(dir) => (dir.clone(), check_resume_budget(dir, budget)?),
        None => (
            sweep::new_run_dir(&opts.out_root, &format!("hinton2006-{}", budget.name))?,
            Vec::new(),
        ),
    };
    let _lock = store::lock_run(&run_dir)?;
    let data = DatasetKind::Mnist
        .load(opts.data_dir.as_deref())
        .context("hinton2006 needs MNIST")?;
    let train = if budget.train_limit > 0 && budget.train_limit < data.train.len() {
        data.train.head(budget.train_limit)
    } else {
        data.train.clone()
    };
    let stored: Vec<String> = store::load_cells(&run_dir)?
        .into_iter()
        .filter(|c| c.rows.iter().all(|r| r.status.is_ok()))
        .flat_map(|c| c.rows.into_iter().map(|r| r.model).take(1))
        .collect();
    if !stored.is_empty() {
        println!("Kept from {}: {}", run_dir.display(), stored.join(", "));
    }
    let mut info = RunInfo {
        command: &opts.command,
        paper: "Hinton & Salakhutdinov (2006), Science 313:504, MNIST 30-d codes",
        budget,
        seed: opts.seed,
        backend: opts.backend.name(),
        git: Git::detect(),
        versions: Versions::current(),
        machine: Machine::detect(),
        data: data.dir.display().to_string(),
        started: chrono::Local::now().to_rfc3339(),
        finished: None,
        sessions,
    };
    let write_info = |info: &RunInfo| RunManifest::write(&run_dir, info);
    write_info(&info)?;
    dispatch(
        opts.backend,
        Job {
            opts,
            data: &data,
            train,
            run_dir: &run_dir,
            stored,
        },
    )?;
    info.finished = Some(chrono::Local::now().to_rfc3339());
    write_info(&info)?;
    // Every row asked for is stored: the resume caches (pretrained stacks, training
    // checkpoints) have served their purpose and would only bloat the run folder.
    let stored: Vec<String> = store::load_cells(&run_dir)?
        .into_iter()
        .filter(|c| c.rows.iter().all(|r| r.status.is_ok()))
        .flat_map(|c| c.rows.into_iter().map(|r| r.model).take(1))
        .collect();
    let complete = budget
        .rows
        .iter()
        .all(|r| r.cells().iter().all(|c| stored.iter().any(|s| s == c)));
    if complete {
        for cache in ["pretrained", "checkpoints"] {
            let dir = run_dir.join(cache);
            if dir.exists() {
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("cannot remove {}", dir.display()))?;
            }
        }
    }
    let table = table::write_outputs(opts, &run_dir, &data)?;
    Ok(Outcome { run_dir, table })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_refuses_another_budget_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let b = Budget::new(BudgetKind::Smoke);
        // Written as run() writes it: the struct straight to text.
        #[derive(serde::Serialize)]
        struct Info<'a> {
            budget: &'a Budget,
            command: &'a str,
        }
        let text = serde_json::to_string(&Info {
            budget: &b,
            command: "x",
        })
        .unwrap();
        std::fs::write(dir.path().join("run.json"), text).unwrap();
        assert!(check_resume_budget(dir.path(), &b).is_ok());
        let mut rows_only = b.clone();
        rows_only.rows = vec![RowKind::Pca];
        assert!(check_resume_budget(dir.path(), &rows_only).is_ok());
        let mut other = b.clone();
        other.train_limit = 1000;
        let e = check_resume_budget(dir.path(), &other)
            .unwrap_err()
            .to_string();
        assert!(e.contains("budget.train_limit"), "{e}");
    }
}
