//! Running a sweep: cells in order, each persisted the moment it finishes, then the
//! tables, summary and charts drawn from the stored rows.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ae_core::{Pca, ReconMetrics, evaluate};
use ae_data::{DataError, Dataset, DatasetKind};
use anyhow::{Context, Result, anyhow, bail};
use burn::prelude::Backend;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::backend::{BackendJob, BackendKind, dispatch};
use crate::experiment::{Cell, Experiment, ModelSpec};
use crate::provenance::{Git, Machine, Versions};
use crate::store::{self, CellRecord, Row};
use crate::{plot, report};

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// The experiment file.
    pub experiment: PathBuf,
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
    experiment: &'a Experiment,
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

/// An existing run folder of experiment `name`, to continue.
fn resumable(dir: &Path, name: &str) -> Result<PathBuf> {
    let info = dir.join("run.json");
    let text = std::fs::read_to_string(&info).with_context(|| {
        format!(
            "--resume {}: not a run folder (no readable run.json)",
            dir.display()
        )
    })?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("--resume: {} is not valid JSON", info.display()))?;
    let found = json["experiment"]["name"].as_str().unwrap_or("");
    if found != name {
        bail!(
            "--resume {}: that run is of experiment `{found}`, not `{name}`",
            dir.display()
        );
    }
    Ok(dir.to_path_buf())
}

/// Evaluates a fitted PCA on the test images on backend `B`.
struct EvalPca<'a> {
    pca: &'a Pca,
    images: &'a [f32],
    dim: usize,
    batch: usize,
}

impl BackendJob for EvalPca<'_> {
    type Output = ReconMetrics;
    fn run<B: Backend>(self, device: B::Device) -> Result<ReconMetrics> {
        let codec = self.pca.to_device::<B>(&device);
        Ok(evaluate::<B, _>(
            &codec,
            self.images,
            self.dim,
            self.batch,
            &device,
        )?)
    }
}

/// Trains an autoencoder on backend `B` (autodiff on top) and evaluates it on the test images.
struct TrainAe<'a> {
    checked: ae_core::CheckedAe,
    spec: &'a ae_core::TrainSpec,
    seed: u64,
    train: &'a ae_data::Split,
    test: &'a [f32],
    eval_batch: usize,
    bar: &'a ProgressBar,
}

/// What a trained cell reports.
struct Trained {
    metrics: ReconMetrics,
    history: ae_core::History,
    params: usize,
    seconds: f64,
}

impl BackendJob for TrainAe<'_> {
    type Output = Trained;
    fn run<B: Backend>(self, device: B::Device) -> Result<Trained> {
        use burn::module::Module;
        let t = Instant::now();
        let bar = self.bar;
        bar.set_position(0);
        let (model, history) = ae_core::fit::<burn::backend::Autodiff<B>>(
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
        )?;
        let seconds = t.elapsed().as_secs_f64();
        let dim = self.train.dim();
        let metrics = evaluate::<B, _>(&model, self.test, dim, self.eval_batch, &device)?;
        Ok(Trained {
            metrics,
            history,
            params: model.num_params(),
            seconds,
        })
    }
}

/// State shared by the cells of one sweep: datasets loaded once, PCA fitted once each.
struct SweepState<'a> {
    exp: &'a Experiment,
    data: &'a HashMap<DatasetKind, Dataset>,
    pca: HashMap<DatasetKind, (Pca, f64)>,
    /// Per-epoch (epoch, train recon, val recon) of the cell that just ran.
    curves: Vec<(usize, f64, Option<f64>)>,
}

impl SweepState<'_> {
    fn run_cell(&mut self, cell: &Cell, bar: &ProgressBar) -> Result<Vec<(&'static str, f64)>> {
        let ds = self
            .data
            .get(&cell.dataset)
            .ok_or_else(|| anyhow!("dataset {} not loaded", cell.dataset))?;
        let dim = ds.train.dim();
        let limit = match self.exp.eval.test_limit {
            0 => ds.test.len(),
            n => n.min(ds.test.len()),
        };
        let test = &ds.test.images[..limit * dim];
        match &cell.model {
            ModelSpec::Pca => {
                let (full, fit_seconds) = match self.pca.entry(cell.dataset) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => {
                        let t = Instant::now();
                        let fit = Pca::fit(&ds.train.images, dim)?;
                        e.insert((fit, t.elapsed().as_secs_f64()))
                    }
                };
                let pca = full.truncated(cell.code_size)?;
                let t = Instant::now();
                let m = dispatch(
                    cell.backend,
                    EvalPca {
                        pca: &pca,
                        images: test,
                        dim,
                        batch: self.exp.eval.batch_size,
                    },
                )?;
                let eval_seconds = t.elapsed().as_secs_f64();
                let mut out: Vec<(&'static str, f64)> = m.values().to_vec();
                out.push(("params", (cell.code_size * dim + dim) as f64));
                out.push(("train_seconds", *fit_seconds));
                out.push(("eval_seconds", eval_seconds));
                out.push(("eval_samples_per_second", limit as f64 / eval_seconds));
                Ok(out)
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
                        test,
                        eval_batch: self.exp.eval.batch_size,
                        bar,
                    },
                )?;
                let mut out: Vec<(&'static str, f64)> = t.metrics.values().to_vec();
                let last = t.history.epochs.last();
                out.push(("params", t.params as f64));
                out.push(("train_seconds", t.seconds));
                out.push(("train_samples_per_second", t.history.samples_per_second));
                out.push(("epochs", t.history.epochs.len() as f64));
                out.push(("final_train_loss", last.map_or(f64::NAN, |e| e.train_total)));
                for e in &t.history.epochs {
                    // Curves are stored as rows too, so `report` can redraw them.
                    self.curves.push((e.epoch, e.train_recon, e.val_recon));
                }
                Ok(out)
            }
        }
    }
}

fn rows_for(cell: &Cell, result: Result<Vec<(&'static str, f64)>, String>) -> Vec<Row> {
    let row = |metric: &str, value: f64, status: &str, detail: String| Row {
        dataset: cell.dataset.name().into(),
        model: cell.model.name(),
        code_size: cell.code_size as u32,
        seed: cell.seed,
        backend: cell.backend.name().into(),
        metric: metric.into(),
        value,
        status: status.into(),
        detail,
    };
    match result {
        Ok(metrics) => {
            if let Some((name, v)) = metrics.iter().find(|(_, v)| !v.is_finite()) {
                return vec![row(
                    "failed",
                    f64::NAN,
                    "failed",
                    format!("{name} is not finite ({v})"),
                )];
            }
            metrics
                .into_iter()
                .map(|(m, v)| row(m, v, "ok", String::new()))
                .collect()
        }
        Err(reason) => vec![row("failed", f64::NAN, "failed", reason)],
    }
}

/// Training curves as rows: metric `curve_train_recon@<epoch>` / `curve_val_recon@<epoch>`.
fn curve_rows(cell: &Cell, curves: &[(usize, f64, Option<f64>)]) -> Vec<Row> {
    let base = rows_for(cell, Ok(vec![("x", 0.0)])).remove(0);
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

/// Runs the sweep described by `opts`.
pub fn run(opts: &SweepOptions) -> Result<SweepOutcome> {
    let mut exp = Experiment::load(&opts.experiment)?;
    if let Some(b) = opts.backend {
        exp.backends = vec![b];
    }
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
    let cells: Vec<Cell> = exp
        .cells()
        .into_iter()
        .filter(|c| data.contains_key(&c.dataset))
        .collect();
    let run_dir = match &opts.resume {
        Some(dir) => resumable(dir, &exp.name)?,
        None => new_run_dir(&opts.out_root, &exp.name)?,
    };
    let done: std::collections::HashSet<String> = store::load_cells(&run_dir)?
        .into_iter()
        .filter(|c| c.rows.first().is_some_and(|r| r.status == "ok"))
        .map(|c| c.key)
        .collect();
    let mut info = RunInfo {
        command: &opts.command,
        experiment_file: opts.experiment.display().to_string(),
        experiment: &exp,
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
        cells_ok: 0,
        cells_failed: 0,
        cells_resumed: 0,
    };
    let write_info = |info: &RunInfo| {
        store::write_atomic(&run_dir.join("run.json"), |f| {
            Ok(serde_json::to_writer_pretty(f, info)?)
        })
    };
    write_info(&info)?;

    let bars = MultiProgress::new();
    let bar = bars.add(
        ProgressBar::new(cells.len() as u64).with_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} cells [{elapsed_precise}, eta {eta}] {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
    );
    let cell_bar = bars.add(
        ProgressBar::new(1).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} batches [eta {eta}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
    );
    let mut ctx = SweepState {
        exp: &exp,
        data: &data,
        pca: HashMap::new(),
        curves: Vec::new(),
    };
    for cell in &cells {
        if done.contains(&cell.key()) {
            info.cells_ok += 1;
            info.cells_resumed += 1;
            bar.inc(1);
            continue;
        }
        bar.set_message(cell.key());
        let t = Instant::now();
        ctx.curves.clear();
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| ctx.run_cell(cell, &cell_bar)))
            .map_err(|p| {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                format!("panicked: {msg}")
            })
            .and_then(|r| r.map_err(|e| format!("{e:#}")));
        let mut rows = rows_for(cell, result);
        if rows[0].status == "ok" {
            rows.extend(curve_rows(cell, &ctx.curves));
        }
        if rows[0].status == "ok" {
            info.cells_ok += 1;
        } else {
            info.cells_failed += 1;
            bar.println(format!("cell {} failed: {}", cell.key(), rows[0].detail));
        }
        store::save_cell(
            &run_dir,
            &CellRecord {
                key: cell.key(),
                rows,
                seconds: t.elapsed().as_secs_f64(),
            },
        )?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    cell_bar.finish_and_clear();

    let rows: Vec<Row> = store::load_cells(&run_dir)?
        .into_iter()
        .flat_map(|c| c.rows)
        .collect();
    write_outputs(&run_dir, &exp.name, &opts.command, &rows)?;
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

/// Writes the tables, summary and charts of a run from its rows.
pub fn write_outputs(run_dir: &Path, name: &str, command: &str, rows: &[Row]) -> Result<()> {
    store::write_tables(run_dir, rows)?;
    let md = report::summary_markdown(name, command, rows);
    store::write_atomic(&run_dir.join("summary.md"), |f| {
        use std::io::Write;
        Ok(f.write_all(md.as_bytes())?)
    })?;
    plot::training_curves(rows, &run_dir.join("training_curves"))?;
    plot::error_vs_code_size(
        rows,
        "test_sse_per_image",
        &[plot::HINTON_PCA30],
        &run_dir.join("error_vs_code_size"),
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
        let rows = rows_for(&cell, Ok(vec![("test_sse_per_image", f64::NAN)]));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].status, "failed");
        assert!(rows[0].detail.contains("test_sse_per_image"));
        let rows = rows_for(&cell, Err("out of memory".into()));
        assert_eq!(
            (rows[0].status.as_str(), rows[0].detail.as_str()),
            ("failed", "out of memory")
        );
    }

    /// End to end on real MNIST, test split cut to 2 000 images to stay fast.
    #[test]
    fn sweep_on_real_mnist_writes_every_output() {
        let dir = tempfile::tempdir().unwrap();
        let exp = dir.path().join("e.toml");
        std::fs::write(
            &exp,
            "name = \"t\"\ndatasets = [\"mnist\"]\nmodels = [{ kind = \"pca\" }]\n\
             code_sizes = [5, 30, 1000]\n[eval]\nbatch_size = 500\ntest_limit = 2000\n",
        )
        .unwrap();
        let out = run(&SweepOptions {
            experiment: exp.clone(),
            out_root: dir.path().join("results"),
            data_dir: None,
            backend: None,
            models: Vec::new(),
            resume: None,
            command: "test".into(),
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
            experiment: exp.clone(),
            out_root: dir.path().join("unused"),
            data_dir: None,
            backend: None,
            models: Vec::new(),
            resume: Some(out.run_dir.clone()),
            command: "test --resume".into(),
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
}
