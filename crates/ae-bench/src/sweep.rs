//! Running a sweep: cells in parallel within a thread budget, each persisted the moment
//! it finishes, then the tables, summary and charts drawn from the stored cells.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use ae_core::checkpoint::Checkpointing;
use ae_core::{Pca, ReconMetrics, evaluate};
use ae_data::{DataError, Dataset, DatasetKind};
use anyhow::{Context, Result, anyhow, bail};
use burn::prelude::Backend;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::artifacts::{self, Artifacts, TestView};
use crate::backend::{BackendJob, BackendKind, dispatch};
use crate::eval::{self, TaskCtx};
use crate::experiment::{Cell, Experiment, ModelSpec, Shard};
use crate::manifest::RunManifest;
use crate::provenance::{Git, Machine, Versions};
use crate::store::{self, CellRecord, Row, Status};
use crate::{gallery, plot, report};

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

/// The cores this process may use: Slurm's allocation (`SLURM_CPUS_PER_TASK`) when run as
/// a Slurm task (whose cgroup the plain core count does not see with `task/none`), else
/// every core.
pub fn allocated_cores() -> usize {
    std::env::var("SLURM_CPUS_PER_TASK")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n >= 1)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// How the cores are shared: `jobs` cells at once, each on its own rayon pool of
/// `threads_per_cell` threads (the backend's matmuls and elementwise kernels run on the
/// pool they are called from), so `jobs × threads_per_cell ≤ cores`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ThreadBudget {
    /// Cores available to this process.
    pub cores: usize,
    /// Cells run at once.
    pub jobs: usize,
    /// Backend threads of each cell.
    pub threads_per_cell: usize,
}

impl ThreadBudget {
    /// Default: one cell per core. The sweep's cells are independent and mostly small
    /// (batch 128, layers ≤ 1000 wide), where two cells on one thread each finish in
    /// about half the time one cell takes on two threads (measured: README). `--jobs J`
    /// overrides; `--jobs 1` gives every core to one cell (best for a single large model).
    pub fn choose(cores: usize, jobs: Option<usize>, pending: usize) -> ThreadBudget {
        let cores = cores.max(1);
        let jobs = jobs.unwrap_or(cores).clamp(1, cores).min(pending.max(1));
        ThreadBudget {
            cores,
            jobs,
            threads_per_cell: (cores / jobs).max(1),
        }
    }
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
    data: HashMap<&'static str, String>,
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
    Ok(dir.to_path_buf())
}

/// Evaluates a fitted PCA on the test images on backend `B`, keeps its pictures, and
/// runs the experiment's tasks (one-class PCAs are fitted on each class's images).
struct EvalPca<'a> {
    pca: &'a Pca,
    test: &'a TestView<'a>,
    batch: usize,
    artifacts: bool,
    tasks: &'a TaskCtx<'a>,
}

impl BackendJob for EvalPca<'_> {
    type Output = (ReconMetrics, Option<Artifacts>, eval::Metrics);
    fn run<B: Backend>(self, device: B::Device) -> Result<Self::Output> {
        let codec = self.pca.to_device::<B>(&device);
        let m = evaluate::<B, _>(&codec, self.test.images, self.test.dim, self.batch, &device)?;
        let (dim, k) = (self.test.dim, self.pca.components());
        let one_class = |split: &ae_data::Split| -> Result<Vec<f64>> {
            let fitted = Pca::fit(&split.images, dim)?.truncated(k)?;
            let c = fitted.to_device::<B>(&device);
            eval::per_image_sse(&c, self.test.images, dim, self.batch, &device)
        };
        let (metrics, pics, _) = eval::run_tasks(&codec, self.tasks, Some(&one_class), &device)?;
        let art = codec_pictures(&codec, self.test, self.artifacts, pics, &device)?;
        Ok((m, art, metrics))
    }
}

/// A baseline codec's pictures with its tasks' ones, when this cell keeps pictures.
fn codec_pictures<B: Backend, C: ae_core::Codec<B>>(
    codec: &C,
    test: &TestView<'_>,
    keep: bool,
    tasks: eval::TaskPictures,
    device: &B::Device,
) -> Result<Option<Artifacts>> {
    if !keep {
        return Ok(None);
    }
    let mut a = artifacts::of_codec::<B, _>(codec, test, device)?;
    a.set_tasks(tasks);
    Ok(Some(a))
}

/// The raw-pixel baseline: only the tasks.
struct EvalPixels<'a> {
    test: &'a TestView<'a>,
    artifacts: bool,
    tasks: &'a TaskCtx<'a>,
}

impl BackendJob for EvalPixels<'_> {
    type Output = (Option<Artifacts>, eval::Metrics);
    fn run<B: Backend>(self, device: B::Device) -> Result<Self::Output> {
        let codec = eval::Identity { dim: self.test.dim };
        let (metrics, pics, _) = eval::run_tasks::<B, _>(&codec, self.tasks, None, &device)?;
        let art = codec_pictures::<B, _>(&codec, self.test, self.artifacts, pics, &device)?;
        Ok((art, metrics))
    }
}

/// Trains an autoencoder on backend `B` (autodiff on top), evaluates it on the test
/// images and runs the experiment's tasks.
struct TrainAe<'a> {
    checked: ae_core::CheckedAe,
    spec: &'a ae_core::TrainSpec,
    seed: u64,
    train: &'a ae_data::Split,
    test: &'a TestView<'a>,
    eval_batch: usize,
    artifacts: bool,
    bar: &'a ProgressBar,
    tasks: &'a TaskCtx<'a>,
    /// Where the training checkpoints (none for SGD, which keeps no exportable state).
    checkpoint: Option<Checkpointing>,
}

/// What a trained cell reports.
struct Trained {
    metrics: ReconMetrics,
    history: ae_core::History,
    params: usize,
    seconds: f64,
    artifacts: Option<Artifacts>,
    tasks: eval::Metrics,
}

impl BackendJob for TrainAe<'_> {
    type Output = Trained;
    fn run<B: Backend>(self, device: B::Device) -> Result<Trained> {
        use burn::module::Module;
        let t = Instant::now();
        let bar = self.bar;
        let fit = |split: &ae_data::Split| {
            ae_core::fit::<burn::backend::Autodiff<B>>(
                &self.checked,
                self.spec,
                self.seed,
                split,
                &device,
                &mut |p| {
                    bar.set_length((p.batches * p.epochs) as u64);
                    bar.set_position(((p.epoch - 1) * p.batches + p.batch) as u64);
                    bar.set_message(format!("epoch {}/{} loss {:.3}", p.epoch, p.epochs, p.loss));
                },
            )
        };
        // The cell's own training checkpoints (every epoch end and every few minutes), so
        // a killed sweep resumed with --resume continues the cell mid-way; the
        // one-class models of the novelty task are short and are not checkpointed.
        let (model, history) = {
            type A<B> = burn::backend::Autodiff<B>;
            let init = || self.checked.init::<A<B>>(&device);
            let model = ae_core::noise::init_seeded::<A<B>, _>(&device, self.seed, init);
            ae_core::fit_from::<A<B>>(
                model,
                &self.checked,
                self.spec,
                self.seed,
                self.train,
                &device,
                &mut |p| {
                    bar.set_length((p.batches * p.epochs) as u64);
                    bar.set_position(((p.epoch - 1) * p.batches + p.batch) as u64);
                    bar.set_message(format!("epoch {}/{} loss {:.3}", p.epoch, p.epochs, p.loss));
                },
                &mut |_, _| Ok(Vec::new()),
                self.checkpoint.as_ref(),
            )?
        };
        let seconds = t.elapsed().as_secs_f64();
        let metrics = evaluate::<B, _>(
            &model,
            self.test.images,
            self.test.dim,
            self.eval_batch,
            &device,
        )?;
        let one_class = |split: &ae_data::Split| -> Result<Vec<f64>> {
            let (m, _) = fit(split)?;
            eval::per_image_sse(
                &m,
                self.test.images,
                self.test.dim,
                self.eval_batch,
                &device,
            )
        };
        let (mut tasks, pics, kmeans) =
            eval::run_tasks(&model, self.tasks, Some(&one_class), &device)?;
        tasks.extend(eval::run_ae_tasks::<burn::backend::Autodiff<B>>(
            &model,
            &self.checked,
            self.tasks,
            kmeans,
            &device,
        )?);
        let artifacts = if self.artifacts {
            let mut a = artifacts::of_autoencoder::<B>(
                &model,
                &self.checked,
                self.test,
                self.seed,
                &device,
            )?;
            a.set_tasks(pics);
            Some(a)
        } else {
            None
        };
        Ok(Trained {
            metrics,
            history,
            params: model.num_params(),
            seconds,
            artifacts,
            tasks,
        })
    }
}

/// What one cell produced.
#[derive(Default)]
struct CellOutput {
    metrics: Vec<(String, f64)>,
    /// Per-epoch (epoch, train recon, val recon).
    curves: Vec<(usize, f64, Option<f64>)>,
    artifacts: Option<Artifacts>,
}

/// State shared by the cells of one sweep: datasets loaded once, PCA fitted once each.
struct SweepState<'a> {
    exp: &'a Experiment,
    data: &'a HashMap<DatasetKind, Dataset>,
    /// Each dataset's PCA fit and its seconds, or why it failed (its cells then fail).
    pca: HashMap<DatasetKind, Result<(Pca, f64), String>>,
    /// Pictures are kept for the lowest seed only: the other seeds would look alike.
    artifact_seed: u64,
    /// The run folder: cells in training checkpoint into its `checkpoints/`.
    run_dir: &'a Path,
}

/// How often a cell in training checkpoints mid-epoch (and always at epoch ends).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(120);

fn named(values: &[(&'static str, f64)]) -> Vec<(String, f64)> {
    values.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

impl SweepState<'_> {
    /// The test images of `kind`, limited to `eval.test_limit`.
    fn test_view(&self, kind: DatasetKind) -> Result<TestView<'_>> {
        let ds = self
            .data
            .get(&kind)
            .ok_or_else(|| anyhow!("dataset {kind} not loaded"))?;
        let dim = ds.train.dim();
        let limit = match self.exp.eval.test_limit {
            0 => ds.test.len(),
            n => n.min(ds.test.len()),
        };
        Ok(TestView {
            images: &ds.test.images[..limit * dim],
            labels: &ds.test.labels[..limit],
            dim,
            side: ds.test.width,
        })
    }

    fn run_cell(&self, cell: &Cell, bar: &ProgressBar) -> Result<CellOutput> {
        let ds = self
            .data
            .get(&cell.dataset)
            .ok_or_else(|| anyhow!("dataset {} not loaded", cell.dataset))?;
        let dim = ds.train.dim();
        let test = self.test_view(cell.dataset)?;
        let limit = test.labels.len();
        let artifacts = cell.seed == self.artifact_seed;
        // Out-of-distribution images: the experiment's other dataset, if loaded.
        let ood = self
            .data
            .keys()
            .find(|&&k| k != cell.dataset)
            .map(|&k| self.test_view(k).map(|v| (k.name(), v)))
            .transpose()?;
        let tasks = TaskCtx {
            spec: &self.exp.eval,
            model: &cell.model,
            train: &ds.train,
            test: &test,
            ood,
            dataset: cell.dataset.name(),
            seed: cell.seed,
            pictures: artifacts,
            bar,
        };
        match &cell.model {
            ModelSpec::Pixels => {
                if dim != cell.code_size {
                    bail!(
                        "the pixel baseline expects {} pixels per image, found {dim}",
                        cell.code_size
                    );
                }
                let t = Instant::now();
                let (art, mut out) = dispatch(
                    cell.backend,
                    EvalPixels {
                        test: &test,
                        artifacts,
                        tasks: &tasks,
                    },
                )?;
                out.push(("eval_seconds".into(), t.elapsed().as_secs_f64()));
                Ok(CellOutput {
                    metrics: out,
                    artifacts: art,
                    ..CellOutput::default()
                })
            }
            ModelSpec::Pca => {
                let (full, fit_seconds) = self
                    .pca
                    .get(&cell.dataset)
                    .ok_or_else(|| anyhow!("PCA of {} was not fitted", cell.dataset))?
                    .as_ref()
                    .map_err(|e| anyhow!("PCA fit failed: {e}"))?;
                let pca = full.truncated(cell.code_size)?;
                let t = Instant::now();
                let (m, art, task_metrics) = dispatch(
                    cell.backend,
                    EvalPca {
                        pca: &pca,
                        test: &test,
                        batch: self.exp.eval.batch_size,
                        artifacts,
                        tasks: &tasks,
                    },
                )?;
                let eval_seconds = t.elapsed().as_secs_f64();
                let mut out = named(&m.values());
                out.push(("params".into(), (cell.code_size * dim + dim) as f64));
                out.push(("train_seconds".into(), *fit_seconds));
                out.push(("eval_seconds".into(), eval_seconds));
                out.push((
                    "eval_samples_per_second".into(),
                    limit as f64 / eval_seconds,
                ));
                out.extend(task_metrics);
                Ok(CellOutput {
                    metrics: out,
                    artifacts: art,
                    ..CellOutput::default()
                })
            }
            ModelSpec::Ae { config, .. } => {
                let checked = config.check(dim, cell.code_size)?;
                let spec = cell.model.train_spec(&self.exp.train)?;
                let t = dispatch(
                    cell.backend,
                    TrainAe {
                        checked,
                        spec: &spec,
                        seed: cell.seed,
                        train: &ds.train,
                        test: &test,
                        eval_batch: self.exp.eval.batch_size,
                        artifacts,
                        bar,
                        tasks: &tasks,
                        checkpoint: match spec.optimizer {
                            ae_core::OptimizerSpec::Sgd { .. } => None,
                            ae_core::OptimizerSpec::Adam | ae_core::OptimizerSpec::Cg { .. } => {
                                Some(Checkpointing::new(
                                    self.run_dir
                                        .join("checkpoints")
                                        .join(format!("{}.msgpack", cell.key())),
                                    CHECKPOINT_EVERY,
                                ))
                            }
                        },
                    },
                )?;
                let mut out = named(&t.metrics.values());
                let last = t.history.epochs.last();
                out.push(("params".into(), t.params as f64));
                out.push(("train_seconds".into(), t.seconds));
                out.push((
                    "train_samples_per_second".into(),
                    t.history.samples_per_second,
                ));
                out.push(("epochs".into(), t.history.epochs.len() as f64));
                out.push((
                    "final_train_loss".into(),
                    last.map_or(f64::NAN, |e| e.train_total),
                ));
                out.extend(t.tasks);
                Ok(CellOutput {
                    metrics: out,
                    // Curves are stored as rows too, so `report` can redraw them.
                    curves: t
                        .history
                        .epochs
                        .iter()
                        .map(|e| (e.epoch, e.train_recon, e.val_recon))
                        .collect(),
                    artifacts: t.artifacts,
                })
            }
        }
    }
}

fn rows_for(cell: &Cell, result: Result<Vec<(String, f64)>, String>) -> Vec<Row> {
    let row = |metric: &str, value: f64, status: Status, detail: String| Row {
        dataset: cell.dataset.name().into(),
        model: cell.model.name(),
        code_size: cell.code_size as u32,
        seed: cell.seed,
        backend: cell.backend.name().into(),
        metric: metric.into(),
        value,
        status,
        detail,
    };
    match result {
        Ok(metrics) => {
            if let Some((name, v)) = metrics.iter().find(|(_, v)| !v.is_finite()) {
                return vec![row(
                    "failed",
                    f64::NAN,
                    Status::Failed,
                    format!("{name} is not finite ({v})"),
                )];
            }
            metrics
                .into_iter()
                .map(|(m, v)| row(&m, v, Status::Ok, String::new()))
                .collect()
        }
        Err(reason) => vec![row("failed", f64::NAN, Status::Failed, reason)],
    }
}

/// Training curves as rows: metric `curve_train_recon@<epoch>` / `curve_val_recon@<epoch>`.
fn curve_rows(cell: &Cell, curves: &[(usize, f64, Option<f64>)]) -> Vec<Row> {
    let base = rows_for(cell, Ok(vec![("x".into(), 0.0)])).remove(0);
    let mut out = Vec::new();
    for &(epoch, train, val) in curves {
        out.push(Row {
            metric: format!("curve_train_recon@{epoch}"),
            value: train,
            ..base.clone()
        });
        if let Some(v) = val {
            out.push(Row {
                metric: format!("curve_val_recon@{epoch}"),
                value: v,
                ..base.clone()
            });
        }
    }
    out
}

/// Loads every dataset of the experiment; absent ones are skipped (and reported), any
/// other problem (corrupt file, bad checksum) stops the sweep before it starts.
fn load_datasets(
    exp: &Experiment,
    data_dir: Option<&Path>,
) -> Result<(HashMap<DatasetKind, Dataset>, Vec<String>)> {
    let mut data = HashMap::new();
    let mut skipped = Vec::new();
    for &name in &exp.datasets {
        let kind: DatasetKind = name.into();
        match kind.load(data_dir) {
            Ok(ds) => {
                data.insert(kind, ds);
            }
            Err(e @ DataError::NotFound { .. }) => {
                eprintln!("note: skipping {kind}: {e}");
                skipped.push(kind.name().to_string());
            }
            Err(e) => return Err(e).with_context(|| format!("cannot load {kind}")),
        }
    }
    if data.is_empty() {
        bail!("none of the experiment's datasets is available; see the notes above");
    }
    Ok((data, skipped))
}

/// Peak resident memory of this process in MiB (Linux `VmHWM`); `None` elsewhere.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Restarts the peak-memory counter (Linux ≥ 4.0), so that with one cell at a time
/// each cell's `peak_rss_mib` is its own.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Runs one cell on its own thread pool, turning errors and panics into a failed record.
fn execute(
    state: &SweepState<'_>,
    cell: &Cell,
    pool: &rayon::ThreadPool,
    bar: &ProgressBar,
    own_peak: bool,
) -> CellRecord {
    let t = Instant::now();
    if own_peak {
        reset_peak_rss();
    }
    let result = pool
        .install(|| std::panic::catch_unwind(AssertUnwindSafe(|| state.run_cell(cell, bar))))
        .map_err(|p| {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            format!("panicked: {msg}")
        })
        .and_then(|r| r.map_err(|e| format!("{e:#}")));
    let (metrics, out) = match result {
        Ok(mut out) => {
            if let Some(mib) = peak_rss_mib() {
                out.metrics.push(("peak_rss_mib".into(), mib));
            }
            (Ok(std::mem::take(&mut out.metrics)), Some(out))
        }
        Err(e) => (Err(e), None),
    };
    let mut rows = rows_for(cell, metrics);
    let ok = rows[0].status.is_ok();
    let artifacts = match out {
        Some(out) if ok => {
            rows.extend(curve_rows(cell, &out.curves));
            out.artifacts
        }
        _ => None,
    };
    CellRecord {
        key: cell.key(),
        rows,
        seconds: t.elapsed().as_secs_f64(),
        artifacts,
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
            .map(|(k, d)| (k.name(), d.dir.display().to_string()))
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
        if let Entry::Vacant(e) = pca.entry(c.dataset) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_dirs_are_never_reused() {
        let root = tempfile::tempdir().unwrap();
        let a = new_run_dir(root.path(), "x").unwrap();
        let b = new_run_dir(root.path(), "x").unwrap();
        assert_ne!(a, b);
        assert!(b.file_name().unwrap().to_string_lossy().ends_with("-x-2"));
    }

    #[test]
    fn non_finite_metrics_mark_the_cell_failed() {
        let cell = Cell {
            dataset: DatasetKind::Mnist,
            model: ModelSpec::Pca,
            code_size: 3,
            backend: BackendKind::Flex,
            seed: 0,
        };
        let rows = rows_for(&cell, Ok(vec![("test_sse_per_image".into(), f64::NAN)]));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].status, Status::Failed);
        assert!(rows[0].detail.contains("test_sse_per_image"));
        let rows = rows_for(&cell, Err("out of memory".into()));
        assert_eq!(
            (rows[0].status.as_str(), rows[0].detail.as_str()),
            ("failed", "out of memory")
        );
    }

    #[test]
    fn thread_budget_never_oversubscribes() {
        for cores in 1..=16 {
            for jobs in [None, Some(1), Some(2), Some(3), Some(64)] {
                for pending in [0, 1, 5, 100] {
                    let b = ThreadBudget::choose(cores, jobs, pending);
                    assert!(b.jobs >= 1 && b.threads_per_cell >= 1);
                    assert!(b.jobs * b.threads_per_cell <= cores, "{b:?}");
                    assert!(b.jobs <= pending.max(1), "{b:?}");
                }
            }
        }
        assert_eq!(ThreadBudget::choose(2, None, 84).jobs, 2);
        assert_eq!(ThreadBudget::choose(8, Some(2), 84).threads_per_cell, 4);
        assert_eq!(ThreadBudget::choose(8, None, 1).threads_per_cell, 8);
    }

    /// A PCA-only experiment on real MNIST at `code_sizes`, its test split cut to `test`
    /// images, and the options that sweep it into `<dir>/results`.
    impl SweepOptions {
        fn with_experiment(self, experiment: PathBuf) -> SweepOptions {
            SweepOptions { experiment, ..self }
        }
    }

    fn pca_sweep(dir: &Path, code_sizes: &str, test: usize) -> SweepOptions {
        let exp = dir.join("e.toml");
        std::fs::write(
            &exp,
            format!(
                "name = \"t\"\ndatasets = [\"mnist\"]\nmodels = [{{ kind = \"pca\" }}]\n\
                 code_sizes = {code_sizes}\n[eval]\nbatch_size = 500\ntest_limit = {test}\n"
            ),
        )
        .unwrap();
        SweepOptions {
            experiment: exp,
            sets: Vec::new(),
            out_root: dir.join("results"),
            data_dir: None,
            backend: None,
            models: Vec::new(),
            resume: None,
            shard: None,
            run_dir: None,
            jobs: None,
            command: "test".into(),
        }
    }

    /// Two shards cover the experiment, and merged they equal the unsharded run.
    #[test]
    fn shards_merge_into_the_full_run() {
        let dir = tempfile::tempdir().unwrap();
        let base = pca_sweep(dir.path(), "[5, 10, 20]", 500);
        let opts = |shard: Option<Shard>| SweepOptions {
            shard,
            ..base.clone()
        };
        let full = run(&opts(None)).unwrap();
        let a = run(&opts(Some(Shard { k: 1, n: 2 }))).unwrap();
        let b = run(&opts(Some(Shard { k: 2, n: 2 }))).unwrap();
        assert!(a.run_dir.to_string_lossy().ends_with("-t-shard1of2"));
        assert_eq!((a.ok, b.ok), (2, 1));
        let merged =
            crate::runs::merge(&[a.run_dir, b.run_dir], &dir.path().join("m"), "merge").unwrap();
        let sse = |rows: Vec<Row>| -> Vec<(u32, f64)> {
            let mut v: Vec<(u32, f64)> = rows
                .into_iter()
                .filter(|r| r.metric == "test_sse_per_image")
                .map(|r| (r.code_size, r.value))
                .collect();
            v.sort_by_key(|p| p.0);
            v
        };
        let merged_rows = crate::runs::rows_of(&merged.dir).unwrap();
        assert_eq!(sse(merged_rows), sse(full.rows));
    }

    /// End to end on real MNIST, test split cut to 2 000 images to stay fast.
    #[test]
    fn sweep_on_real_mnist_writes_every_output() {
        let dir = tempfile::tempdir().unwrap();
        let base = pca_sweep(dir.path(), "[5, 30, 1000]", 2000);
        let exp = base.experiment.clone();
        let out = run(&SweepOptions {
            jobs: Some(2),
            ..base.clone()
        })
        .unwrap();
        // k = 1000 > 784 pixels: recorded as failed, and the sweep went on.
        assert_eq!((out.ok, out.failed), (2, 1));
        for f in [
            "results.csv",
            "results.parquet",
            "summary.md",
            "run.json",
            "error_vs_code_size.png",
            "error_vs_code_size.svg",
        ] {
            assert!(out.run_dir.join(f).is_file(), "{f} missing");
        }
        let sse = |k: u32| {
            out.rows
                .iter()
                .find(|r| r.code_size == k && r.metric == "test_sse_per_image")
                .unwrap()
                .value
        };
        assert!(sse(5) > sse(30) && sse(30) > 5.0 && sse(30) < 25.0);
        let info: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.run_dir.join("run.json")).unwrap())
                .unwrap();
        assert_eq!(info["versions"]["burn"], "0.21.0");
        assert_eq!(info["cells_failed"], 1);
        assert!(info["finished"].is_string());

        // --resume after a kill: the k=5 cell is gone, k=30 is kept as stored, the failed
        // k=1000 cell is retried.
        let cell_file = |k: u32| {
            std::fs::read_dir(out.run_dir.join("cells"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.to_string_lossy().contains(&format!("__k{k}__")))
        };
        std::fs::remove_file(cell_file(5).unwrap()).unwrap();
        let kept = std::fs::read(cell_file(30).unwrap()).unwrap();
        let opts = SweepOptions {
            out_root: dir.path().join("unused"),
            resume: Some(out.run_dir.clone()),
            command: "test --resume".into(),
            ..base
        };
        let again = run(&opts).unwrap();
        assert_eq!(again.run_dir, out.run_dir);
        assert_eq!((again.ok, again.failed), (2, 1));
        assert!(cell_file(5).is_some(), "the missing cell was rerun");
        assert_eq!(std::fs::read(cell_file(30).unwrap()).unwrap(), kept);
        let info: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.run_dir.join("run.json")).unwrap())
                .unwrap();
        assert_eq!(info["cells_resumed"], 1);
        assert!(!dir.path().join("unused").exists());
        // Resuming with other training settings is refused: the keys would not tell.
        let err = run(&SweepOptions {
            sets: vec!["eval.test_limit=1000".into()],
            ..opts.clone()
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("`[eval]` differs"), "{err:#}");
        // Resuming another experiment's folder is refused.
        let other = dir.path().join("o.toml");
        std::fs::write(
            &other,
            std::fs::read_to_string(&exp)
                .unwrap()
                .replace("name = \"t\"", "name = \"u\""),
        )
        .unwrap();
        let err = run(&SweepOptions {
            experiment: other,
            ..opts
        })
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("experiment `t`, not `u`"),
            "{err:#}"
        );
    }

    #[test]
    fn every_eval_task_runs_on_real_data_and_writes_its_outputs() {
        // Tiny budgets: the point is that every task's path runs end to end on real images
        // for a baseline, an AE (DEC) and a VAE (likelihood), and that the numbers are sane.
        let dir = tempfile::tempdir().unwrap();
        let exp = dir.path().join("evals.toml");
        std::fs::write(
            &exp,
            r#"
name = "evals"
datasets = ["mnist"]
code_sizes = [8]
models = [
  { kind = "pixels" },
  { kind = "pca" },
  { kind = "vae", arch = { hidden = [64], activation = "relu" } },
]
[train]
epochs = 1
train_limit = 600
binarize = true
[eval]
test_limit = 300
tasks = ["denoise", "anomaly", "features", "cluster", "tsne", "generate", "compress"]
denoise = { noises = [{ kind = "gaussian", sigma = 0.5 }, { kind = "masking", p = 0.5 }] }
anomaly = { classes = [1], ood = false }
features = { train_images = 600, probe_iterations = 30 }
cluster = { images = 300, restarts = 2, dec_epochs = 2 }
tsne = { points = 120, perplexity = 10.0, iterations = 250 }
generate = { iwae_k = 8, images = 50 }
"#,
        )
        .unwrap();
        let out = run(&SweepOptions {
            jobs: Some(1),
            ..pca_sweep(dir.path(), "[8]", 300)
        }
        .with_experiment(exp))
        .unwrap();
        assert_eq!((out.ok, out.failed), (3, 0));
        let get = |model: &str, metric: &str| {
            out.rows
                .iter()
                .find(|r| r.model == model && r.metric == metric)
                .unwrap_or_else(|| panic!("{model} {metric} missing"))
                .value
        };
        // The pixel baseline: one cell at 784, no reconstruction-based tasks.
        assert!(
            out.rows
                .iter()
                .filter(|r| r.model == "pixels")
                .all(|r| r.code_size == 784)
        );
        assert!(
            !out.rows
                .iter()
                .any(|r| r.model == "pixels" && r.metric.starts_with("psnr"))
        );
        for (model, metric) in [
            ("pixels", "probe_acc"),
            ("pixels", "knn_acc"),
            ("pca", "knn_acc"),
            ("pixels", "kmeans_acc"),
            ("pca", "kmeans_nmi"),
            ("vae", "dec_acc"),
            ("pixels", "tsne_knn_acc"),
            ("pca", "auroc@1"),
            ("vae", "auroc_mean"),
        ] {
            let v = get(model, metric);
            assert!((0.0..=1.0).contains(&v), "{model} {metric} = {v}");
        }
        // Pixels carry class information well above chance (10 %), even at these sizes.
        assert!(get("pixels", "knn_acc") > 0.6 && get("pixels", "probe_acc") > 0.5);
        // Digit 1 is the easiest one-class problem for PCA.
        assert!(get("pca", "auroc@1") > 0.9);
        // PCA denoises heavy Gaussian noise: its output beats the noisy input.
        assert!(get("pca", "psnr_denoised@gaussian-0.5") > get("pca", "psnr_noisy@gaussian-0.5"));
        // Quantising to 4 bits can only lose (on average) against float codes; PNG beats raw.
        assert!(get("pca", "sse@4") >= get("pca", "sse@32") - 1e-3);
        assert_eq!(get("pca", "bits@8"), 64.0);
        assert!(get("pixels", "bits@png") < get("pixels", "bits@raw"));
        // A Bernoulli NLL in nats per binarized 784-pixel image: positive, below 784 ln 2.
        let nll = get("vae", "iwae_nll");
        assert!(nll > 50.0 && nll < 784.0 * 2f64.ln(), "{nll}");
        for f in [
            "denoise_psnr.png",
            "anomaly_auroc.png",
            "features_accuracy.png",
            "cluster_accuracy.png",
            "compress_rate_distortion.png",
            "tsne_mnist.png",
            "denoise_mnist.png",
        ] {
            assert!(out.run_dir.join(f).is_file(), "{f} missing");
        }
        let summary = std::fs::read_to_string(out.run_dir.join("summary.md")).unwrap();
        for section in [
            "Task `denoise`",
            "Task `cluster`",
            "Deep SVDD",
            "Task `generate`",
        ] {
            assert!(
                summary.contains(section),
                "{section} missing from summary.md"
            );
        }
    }
}
