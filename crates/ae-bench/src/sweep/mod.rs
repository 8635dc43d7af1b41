//! Running a sweep: cells in parallel within a thread budget, each persisted the moment
//! it finishes, then the tables, summary and charts drawn from the stored cells.
//!
//! Files: `threads` (the core budget), `jobs` (what a cell computes on a backend), `cell`
//! (one cell to a stored record), `outputs` (tables, charts, summary); this file parses
//! nothing and only orchestrates. Children never import from here.

mod cell;
mod jobs;
mod outputs;
#[cfg(test)]
mod tests;
mod threads;
#[cfg(test)]
mod user_data_tests;

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use ae_core::Pca;
use anyhow::{Context, Result, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::backend::BackendKind;
use crate::experiment::{Cell, Experiment, ModelSpec, Shard};
use crate::manifest::RunManifest;
use crate::provenance::{Git, Machine, Versions};
use crate::store::{self, CellRecord, Row};
use cell::{SweepState, execute, load_datasets};
pub use outputs::{write_outputs, write_tables_and_charts};
pub use threads::{ThreadBudget, allocated_cores};

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// The experiment file.
    pub experiment: PathBuf,
    /// `--set KEY=VALUE` overrides of the experiment file.
    pub sets: Vec<String>,
    /// Folder under which the dated run folder is created.
    pub out_root: PathBuf,
    /// Explicit data root (`--data-dir`).
    pub data_dir: Option<PathBuf>,
    /// Replace the experiment's backends with this one.
    pub backend: Option<BackendKind>,
    /// Keep only the models with these names (empty: all).
    pub models: Vec<String>,
    /// Continue this run folder instead of creating one: cells already stored as ok are
    /// kept, the rest (missing or failed) are run.
    pub resume: Option<PathBuf>,
    /// Run only this shard of the cells.
    pub shard: Option<Shard>,
    /// Write into exactly this folder: created when missing, continued (as `resume`) when
    /// it already holds a run — what a Slurm array task uses, so a requeued or resubmitted
    /// task finds its own cells.
    pub run_dir: Option<PathBuf>,
    /// Cells run at once (default: see [`ThreadBudget::choose`]).
    pub jobs: Option<usize>,
    /// The command line, recorded in run.json and summary.md.
    pub command: String,
}

/// What a finished sweep reports back.
#[derive(Debug)]
pub struct SweepOutcome {
    /// The run folder.
    pub run_dir: PathBuf,
    /// Every stored row.
    pub rows: Vec<Row>,
    /// Cells that finished.
    pub ok: usize,
    /// Cells recorded as failed.
    pub failed: usize,
    /// Datasets skipped because they are not on this machine.
    pub skipped: Vec<String>,
}

/// run.json: provenance of a run.
#[derive(Debug, Serialize)]
struct RunInfo<'a> {
    command: &'a str,
    experiment_file: String,
    /// The experiment after `--set`, `--backend` and `--model`.
    experiment: &'a Experiment,
    sets: &'a [String],
    shard: Option<Shard>,
    threads: ThreadBudget,
    git: Git,
    versions: Versions,
    machine: Machine,
    data: BTreeMap<String, String>,
    skipped_datasets: &'a [String],
    started: String,
    finished: Option<String>,
    cells: usize,
    cells_ok: usize,
    cells_failed: usize,
    /// Cells kept from an earlier, interrupted invocation (`--resume`).
    cells_resumed: usize,
}

/// A new, empty folder `<root>/<YYYY-MM-DD>-<name>[-N]`; never reuses an existing one.
pub fn new_run_dir(root: &Path, name: &str) -> Result<PathBuf> {
    let date = chrono::Local::now().format("%Y-%m-%d");
    std::fs::create_dir_all(root).with_context(|| format!("cannot create {}", root.display()))?;
    for n in 1.. {
        let dir = if n == 1 {
            root.join(format!("{date}-{name}"))
        } else {
            root.join(format!("{date}-{name}-{n}"))
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
        }
    }
    unreachable!("1.. is unbounded")
}

/// An existing run folder of experiment `exp`, to continue. Cell keys carry the dataset,
/// model config, code size, backend and seed but not `[train]` / `[eval]`, so those must
/// match the stored run's, or kept and new cells would not be comparable.
fn resumable(dir: &Path, exp: &Experiment) -> Result<PathBuf> {
    let name = exp.name.as_str();
    let manifest = RunManifest::read(dir).context("--resume")?;
    let found = manifest.name();
    if found != name {
        bail!(
            "--resume {}: that run is of experiment `{found}`, not `{name}`",
            dir.display()
        );
    }
    // Through text, as the stored run.json was: f32 fields (noise levels) then read back
    // the same (0.1, not 0.10000000149).
    let now: serde_json::Value = serde_json::from_str(&serde_json::to_string(exp)?)?;
    for field in ["train", "eval"] {
        if manifest.experiment[field] != now[field] {
            bail!(
                "--resume {}: `[{field}]` differs from the stored run's ({} there, {} now); \
                 resume with the same experiment file and --set overrides",
                dir.display(),
                manifest.experiment[field],
                now[field]
            );
        }
    }
    // Nor do the keys carry the code: cells computed by another build of ae-bench would
    // sit in one table with the new ones as if only the seed told them apart.
    if let Some(stored) = manifest.raw["git"]["binary_revision"].as_str()
        && let Err(why) = same_build(stored, env!("AE_BUILD_REVISION"))
    {
        bail!(
            "--resume {}: {why}; resume with a binary built from that revision (e.g. `git \
             worktree add ../ae-{stored:.7} {stored}` and build there) or start a new run",
            dir.display()
        );
    }
    Ok(dir.to_path_buf())
}

/// Whether cells stored by a binary built from `stored` may be continued by one built from
/// `built` (revisions as `git rev-parse HEAD` prints them; "unknown" outside a repository,
/// where nothing can be told).
fn same_build(stored: &str, built: &str) -> std::result::Result<(), String> {
    if stored == built || stored == "unknown" || built == "unknown" {
        Ok(())
    } else {
        Err(format!(
            "its cells were computed by ae-bench built from {stored}, this binary is built \
             from {built}"
        ))
    }
}

/// Runs the sweep described by `opts`.
pub fn run(opts: &SweepOptions) -> Result<SweepOutcome> {
    let mut exp = Experiment::load_with(&opts.experiment, &opts.sets)?;
    if let Some(b) = opts.backend {
        exp.backends = vec![b];
    }
    // Every cell of the experiment as written (before --model and --shard select some):
    // a stored file in cells/ that is none of these (a stale cell of an earlier config
    // under the same label, a stray file) is never counted in the tables.
    let all_keys: HashSet<String> = exp.cells().iter().map(Cell::key).collect();
    if !opts.models.is_empty() {
        let names: Vec<String> = exp.models.iter().map(|m| m.name()).collect();
        if let Some(missing) = opts.models.iter().find(|m| !names.contains(m)) {
            bail!(
                "--model {missing}: {} has no such model; it has {}",
                opts.experiment.display(),
                names.join(", ")
            );
        }
        exp.models.retain(|m| opts.models.contains(&m.name()));
    }
    for &b in &exp.backends {
        crate::backend::probe(b)
            .with_context(|| format!("backend `{}` is unavailable", b.name()))?;
    }
    let started = chrono::Local::now().to_rfc3339();
    let (data, skipped) = load_datasets(&exp, opts.data_dir.as_deref())?;
    let mut cells: Vec<Cell> = exp.cells();
    if let Some(shard) = opts.shard {
        cells = shard.select(cells);
    }
    cells.retain(|c| data.contains_key(&c.dataset));
    let run_dir = match (&opts.resume, opts.shard) {
        (Some(dir), _) => resumable(dir, &exp)?,
        (None, _) if opts.run_dir.is_some() => {
            let dir = opts.run_dir.clone().unwrap_or_default();
            if dir.join(crate::manifest::FILE).is_file() {
                resumable(&dir, &exp)?
            } else {
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                dir
            }
        }
        (None, Some(s)) => new_run_dir(
            &opts.out_root,
            &format!("{}-shard{}of{}", exp.name, s.k, s.n),
        )?,
        (None, None) => new_run_dir(&opts.out_root, &exp.name)?,
    };
    let _lock = store::lock_run(&run_dir)?;
    let done: HashSet<String> = store::load_cells(&run_dir)?
        .into_iter()
        .filter(|c| c.rows.first().is_some_and(|r| r.status.is_ok()))
        .map(|c| c.key)
        .collect();
    let (kept, pending): (Vec<&Cell>, Vec<&Cell>) =
        cells.iter().partition(|c| done.contains(&c.key()));
    let budget = ThreadBudget::choose(allocated_cores(), opts.jobs, pending.len());
    // SIGTERM (Slurm's preemption or time limit, `scancel`): finish the running cells,
    // start no new one, and stop with the stored cells intact.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    #[cfg(unix)]
    signal_hook::flag::register(signal_hook::consts::SIGTERM, std::sync::Arc::clone(&stop))
        .context("cannot install the SIGTERM handler")?;
    let info = Mutex::new(RunInfo {
        command: &opts.command,
        experiment_file: opts.experiment.display().to_string(),
        experiment: &exp,
        sets: &opts.sets,
        shard: opts.shard,
        threads: budget,
        git: Git::detect(),
        versions: Versions::current(),
        machine: Machine::detect(),
        data: data
            .iter()
            .map(|(k, d)| (k.name().to_string(), d.dir.display().to_string()))
            .collect(),
        skipped_datasets: &skipped,
        started,
        finished: None,
        cells: cells.len(),
        cells_ok: kept.len(),
        cells_failed: 0,
        cells_resumed: kept.len(),
    });
    let write_info = |info: &RunInfo| RunManifest::write(&run_dir, info);
    write_info(&info.lock().expect("not poisoned"))?;

    // PCA is fitted once per dataset, before the cells, on all cores; a failed fit fails
    // only the PCA cells of that dataset.
    let mut pca = HashMap::new();
    for c in pending.iter().filter(|c| matches!(c.model, ModelSpec::Pca)) {
        if let Entry::Vacant(e) = pca.entry(c.dataset.clone()) {
            let t = Instant::now();
            let ds = &data[&c.dataset];
            let fit = Pca::fit(&ds.train.images, ds.train.dim())
                .map(|p| (p, t.elapsed().as_secs_f64()))
                .map_err(|e| e.to_string());
            e.insert(fit);
        }
    }
    let state = SweepState {
        exp: &exp,
        data: &data,
        pca,
        artifact_seed: exp.seeds.iter().copied().min().unwrap_or(0),
        run_dir: &run_dir,
    };

    let bars = MultiProgress::new();
    let bar = bars.add(
        ProgressBar::new(cells.len() as u64).with_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} cells [{elapsed_precise}, eta {eta}] {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
    );
    bar.set_position(kept.len() as u64);
    bar.set_message(format!(
        "{} at once × {} thread(s)",
        budget.jobs, budget.threads_per_cell
    ));
    let cell_style =
        ProgressStyle::with_template("  {bar:30} {pos}/{len} batches [eta {eta}] {prefix} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    // `jobs` plain threads take cells from a shared counter; each owns a rayon pool of
    // `threads_per_cell` threads on which its cells' backend kernels run. Not a rayon pool
    // of cells: a rayon worker that waits on another pool keeps stealing from its own, so
    // every cell started at once (measured: 6 of 6 with --jobs 2).
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..budget.jobs {
            scope.spawn(|| {
                let pool = match rayon::ThreadPoolBuilder::new()
                    .num_threads(budget.threads_per_cell)
                    .build()
                {
                    Ok(p) => p,
                    Err(e) => {
                        *failure.lock().expect("not poisoned") = Some(e.into());
                        return;
                    }
                };
                while let Some(cell) = pending.get(next.fetch_add(1, Ordering::SeqCst)) {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let cell_bar = bars.add(ProgressBar::new(1).with_style(cell_style.clone()));
                    cell_bar.set_prefix(cell.key());
                    let record = execute(&state, cell, &pool, &cell_bar, budget.jobs == 1);
                    cell_bar.finish_and_clear();
                    bars.remove(&cell_bar);
                    let ok = record.rows[0].status.is_ok();
                    if !ok {
                        bar.println(format!(
                            "cell {} failed: {}",
                            cell.key(),
                            record.rows[0].detail
                        ));
                    }
                    // Persisted the moment it finishes: a kill loses only running cells.
                    if let Err(e) = store::save_cell(&run_dir, &record) {
                        *failure.lock().expect("not poisoned") = Some(e);
                        return;
                    }
                    // A failed cell keeps its checkpoint: a retry continues from there.
                    if ok
                        && let Err(e) = ae_core::checkpoint::remove(&store::checkpoint_path(
                            &run_dir,
                            &cell.key(),
                        ))
                    {
                        *failure.lock().expect("not poisoned") = Some(e.into());
                        return;
                    }
                    let mut info = info.lock().expect("not poisoned");
                    if ok {
                        info.cells_ok += 1;
                    } else {
                        info.cells_failed += 1;
                    }
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    if let Some(e) = failure.into_inner().expect("not poisoned") {
        return Err(e.context(format!("cannot store a cell in {}", run_dir.display())));
    }
    if stop.load(Ordering::SeqCst) {
        let stored = store::load_cells(&run_dir)?.len();
        bail!(
            "stopped by SIGTERM at a cell boundary: {stored} cell(s) stored in {}; continue \
             with `--resume {}` (or resubmit the Slurm task)",
            run_dir.display(),
            run_dir.display()
        );
    }

    let (records, foreign): (Vec<CellRecord>, Vec<CellRecord>) = store::load_cells(&run_dir)?
        .into_iter()
        .partition(|c| all_keys.contains(&c.key));
    if !foreign.is_empty() {
        println!(
            "note: {} file(s) in {}/cells are not cells of this experiment (an earlier \
             configuration, or not ours) and are left out of the tables: {}",
            foreign.len(),
            run_dir.display(),
            foreign
                .iter()
                .map(|c| c.key.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    write_outputs(&run_dir, &exp.name, &opts.command, &records)?;
    let rows: Vec<Row> = records.into_iter().flat_map(|c| c.rows).collect();
    let mut info = info.into_inner().expect("not poisoned");
    info.finished = Some(chrono::Local::now().to_rfc3339());
    write_info(&info)?;
    Ok(SweepOutcome {
        run_dir,
        ok: info.cells_ok,
        failed: info.cells_failed,
        rows,
        skipped,
    })
}
