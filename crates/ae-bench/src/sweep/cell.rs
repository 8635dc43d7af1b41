//! One cell from start to stored record: datasets loaded once per sweep, the cell run on
//! its thread pool with errors and panics turned into a failed record, rows built.

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::Instant;

use ae_core::Pca;
use ae_core::checkpoint::Checkpointing;
use ae_data::{DataError, Dataset, DatasetId};
use anyhow::{Context, Result, anyhow, bail};
use indicatif::ProgressBar;

use super::jobs::{EvalPca, EvalPixels, TrainAe};
use super::threads::{peak_rss_mib, reset_peak_rss};
use crate::artifacts::{Artifacts, TestView};
use crate::backend::dispatch;
use crate::experiment::{Cell, DatasetEntry, Experiment, ModelSpec};
use crate::store::{self, CellRecord, Row, Status};
use crate::tasks::TaskCtx;

/// What one cell produced.
#[derive(Default)]
pub(super) struct CellOutput {
    pub(super) metrics: Vec<(String, f64)>,
    /// Per-epoch (epoch, train recon, val recon).
    pub(super) curves: Vec<(usize, f64, Option<f64>)>,
    pub(super) artifacts: Option<Artifacts>,
}

/// State shared by the cells of one sweep: datasets loaded once, PCA fitted once each.
pub(super) struct SweepState<'a> {
    pub(super) exp: &'a Experiment,
    pub(super) data: &'a BTreeMap<DatasetId, Dataset>,
    /// Each dataset's PCA fit and its seconds, or why it failed (its cells then fail).
    pub(super) pca: HashMap<DatasetId, Result<(Pca, f64), String>>,
    /// Pictures are kept for the lowest seed only: the other seeds would look alike.
    pub(super) artifact_seed: u64,
    /// The run folder: cells in training checkpoint into its `checkpoints/`.
    pub(super) run_dir: &'a Path,
}

/// Metrics that assume values in [0, 1].
const UNIT_ONLY_METRICS: [&str; 2] = ["test_bce_per_image", "test_psnr_db"];

/// How often a cell in training checkpoints mid-epoch (and always at epoch ends).
pub(super) const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(120);

pub(super) fn named(values: &[(&'static str, f64)]) -> Vec<(String, f64)> {
    values.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

impl SweepState<'_> {
    /// The test images of `kind`, limited to `eval.test_limit`.
    fn test_view(&self, kind: &DatasetId) -> Result<TestView<'_>> {
        let ds = self
            .data
            .get(kind)
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
        let test = self.test_view(&cell.dataset)?;
        let limit = test.labels.len();
        // Pictures are square grey images in [0, 1]: a table's rows or standardised
        // values have none to draw.
        let drawable = ds.values == ae_data::ValueKind::Unit
            && ds.train.height == ds.train.width
            && ds.train.height > 1;
        let artifacts = cell.seed == self.artifact_seed && drawable;
        // Out-of-distribution images: the experiment's first other dataset of the same
        // size, if loaded (a model of 784 inputs cannot score a table of 13 columns).
        let ood = self
            .data
            .iter()
            .find(|(k, d)| **k != cell.dataset && d.dim() == dim)
            .map(|(k, _)| self.test_view(k).map(|v| (k.name(), v)))
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
                                    store::checkpoint_path(self.run_dir, &cell.key()),
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

pub(super) fn rows_for(cell: &Cell, result: Result<Vec<(String, f64)>, String>) -> Vec<Row> {
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
pub(super) fn curve_rows(cell: &Cell, curves: &[(usize, f64, Option<f64>)]) -> Vec<Row> {
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
pub(super) fn load_datasets(
    exp: &Experiment,
    data_dir: Option<&Path>,
) -> Result<(BTreeMap<DatasetId, Dataset>, Vec<String>)> {
    let mut data = BTreeMap::new();
    let mut skipped = Vec::new();
    for entry in &exp.datasets {
        match entry {
            DatasetEntry::Builtin(name) => {
                let kind: ae_data::DatasetKind = (*name).into();
                match kind.load(data_dir) {
                    Ok(ds) => {
                        data.insert(entry.id(), ds);
                    }
                    Err(e @ DataError::NotFound { .. }) => {
                        eprintln!("note: skipping {kind}: {e}");
                        skipped.push(kind.name().to_string());
                    }
                    Err(e) => return Err(e).with_context(|| format!("cannot load {kind}")),
                }
            }
            // A user's file is never skipped: it was asked for by path.
            DatasetEntry::File(f) => {
                let ds = f
                    .load(&exp.base_dir)
                    .with_context(|| format!("cannot load dataset `{}`", f.name))?;
                data.insert(entry.id(), ds);
            }
        }
    }
    if data.is_empty() {
        bail!("none of the experiment's datasets is available; see the notes above");
    }
    exp.check_against(&data)?;
    Ok((data, skipped))
}

/// Runs one cell on its own thread pool, turning errors and panics into a failed record.
pub(super) fn execute(
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
            // Cross-entropy and PSNR (peak 1) are defined for values in [0, 1] only: on real
            // values or counts they would be numbers without a meaning.
            if state
                .data
                .get(&cell.dataset)
                .is_some_and(|d| d.values != ae_data::ValueKind::Unit)
            {
                out.metrics
                    .retain(|(m, _)| !UNIT_ONLY_METRICS.contains(&m.as_str()));
            }
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
