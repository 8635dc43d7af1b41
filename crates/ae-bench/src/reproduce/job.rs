//! The rows' training and evaluation, each stored as a cell the moment it ends.

use std::path::Path;
use std::time::Instant;

use ae_core::checkpoint::Checkpointing;
use ae_core::train::Progress;
use ae_core::{
    AeConfig, AnyAe, ArchSpec, CheckedAe, Codec, OptimizerSpec, Pca, ReconLoss, TrainSpec,
    evaluate, fit, fit_from, mlp::Activation,
};
use ae_data::{Dataset, Split};
use anyhow::Result;
use burn::backend::Autodiff;
use burn::prelude::Backend;
use indicatif::{ProgressBar, ProgressStyle};

use super::{ReproduceOptions, RowKind};
use crate::artifacts::{self, Artifacts, TestView};
use crate::backend::BackendJob;
use crate::store::{self, CellRecord, Row, Status};

/// Named metric values of one method.
type Metrics = Vec<(String, f64)>;

/// One method's outcome, before it is stored.
struct Method {
    name: &'static str,
    rows: Metrics,
    seconds: f64,
    artifacts: Artifacts,
    note: String,
}

pub(super) struct Job<'a> {
    pub opts: &'a ReproduceOptions,
    pub data: &'a Dataset,
    pub train: Split,
    pub run_dir: &'a Path,
    /// Model names whose cells are already stored (kept on resume).
    pub stored: Vec<String>,
}

pub(super) fn bar(msg: &str) -> ProgressBar {
    let b = ProgressBar::new(1).with_style(
        ProgressStyle::with_template("{msg:42} {bar:30} {pos}/{len} {elapsed_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    b.set_message(msg.to_string());
    b
}

fn follow(b: &ProgressBar) -> impl FnMut(Progress) + '_ {
    move |p: Progress| {
        b.set_length((p.batches * p.epochs) as u64);
        b.set_position(((p.epoch - 1) * p.batches + p.batch) as u64);
    }
}

/// How often a fine-tuning run writes a mid-epoch checkpoint (and always at epoch ends).
pub(super) const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(120);

impl Job<'_> {
    pub(super) fn test(&self) -> &[f32] {
        &self.data.test.images
    }

    pub(super) fn dim(&self) -> usize {
        self.data.test.dim()
    }

    fn view(&self) -> TestView<'_> {
        TestView {
            images: &self.data.test.images,
            labels: &self.data.test.labels,
            dim: self.dim(),
            side: self.data.test.width,
        }
    }

    fn eval<B: Backend, M: Codec<B>>(
        &self,
        m: &M,
        device: &B::Device,
    ) -> Result<(Metrics, Artifacts)> {
        let metrics = evaluate::<B, _>(m, self.test(), self.dim(), 1000, device)?;
        let artifacts = artifacts::of_codec::<B, _>(m, &self.view(), device)?;
        let rows = metrics
            .values()
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        Ok((rows, artifacts))
    }

    fn wanted(&self, row: RowKind) -> bool {
        self.opts.budget.rows.contains(&row)
            && !row
                .cells()
                .iter()
                .all(|c| self.stored.iter().any(|s| s == c))
    }

    fn save(&self, m: Method) -> Result<()> {
        let code = m
            .artifacts
            .codes
            .as_ref()
            .map_or(self.opts.budget.code(), |_| 2);
        println!(
            "{:>24}: test SSE per image {:.3} ({:.0} s)",
            m.name,
            m.rows
                .iter()
                .find(|(k, _)| k == "test_sse_per_image")
                .map_or(f64::NAN, |r| r.1),
            m.seconds
        );
        let rows = m
            .rows
            .iter()
            .map(|(metric, value)| Row {
                dataset: "mnist".into(),
                model: m.name.into(),
                code_size: code as u32,
                seed: self.opts.seed,
                backend: self.opts.backend.name().into(),
                metric: metric.clone(),
                value: *value,
                status: if value.is_finite() {
                    Status::Ok
                } else {
                    Status::Failed
                },
                // The method's description travels with its headline number, so a
                // resumed run can draw the table from stored cells alone.
                detail: if metric == "test_sse_per_image" {
                    m.note.clone()
                } else {
                    String::new()
                },
            })
            .collect();
        store::save_cell(
            self.run_dir,
            &CellRecord {
                key: store::cell_key(
                    "mnist",
                    m.name,
                    code,
                    self.opts.backend.name(),
                    self.opts.seed,
                ),
                rows,
                seconds: m.seconds,
                artifacts: Some(m.artifacts),
            },
        )?;
        // Training left its finished checkpoint for this moment (the row is stored).
        ae_core::checkpoint::remove(&self.checkpoint(m.name))?;
        Ok(())
    }

    /// Where the row `name` checkpoints its fine-tuning.
    fn checkpoint(&self, name: &str) -> std::path::PathBuf {
        self.run_dir
            .join("checkpoints")
            .join(format!("{name}.msgpack"))
    }

    /// Fine-tunes `model` (pretrained for `pretrain_seconds`, or not) with `spec`,
    /// recording the test SSE and the training clock after every epoch, and evaluates
    /// the result.
    #[allow(clippy::too_many_arguments)] // one method row: what it is and how it was made
    fn fine_tune<B: Backend>(
        &self,
        name: &'static str,
        model: AnyAe<Autodiff<B>>,
        checked: &CheckedAe,
        spec: &TrainSpec,
        pretrain_seconds: Option<f64>,
        note: String,
        device: &B::Device,
    ) -> Result<Method> {
        let t = Instant::now();
        let b = bar(&format!("{name}: fine-tuning"));
        let before = pretrain_seconds.unwrap_or(0.0);
        let ckpt = Checkpointing::new(self.checkpoint(name), CHECKPOINT_EVERY);
        // The curve so far, rewritten after every epoch: a row still training (the CG row
        // takes hours) shows where it stands in the run folder, not only in a log.
        let progress = self.run_dir.join("in-progress").join(format!("{name}.csv"));
        let mut so_far = read_progress(&progress);
        // Epochs a checkpoint holds count too (a session before this file existed).
        if let Some(state) = ae_core::checkpoint::TrainState::load(&ckpt.path)? {
            for e in &state.history.epochs {
                if let Some((_, sse)) = e.extra.iter().find(|(k, _)| k == "test_sse") {
                    so_far.insert(
                        e.epoch,
                        format!("{},{sse},{},{}", e.epoch, e.train_recon, e.seconds),
                    );
                }
            }
        }
        let (model, history) = fit_from::<Autodiff<B>>(
            model,
            checked,
            &spec.check()?,
            self.opts.seed,
            &self.train,
            device,
            &mut follow(&b),
            &mut |stats, m| {
                let sse =
                    evaluate::<B, _>(m, self.test(), self.dim(), 1000, device)?.sse_per_image();
                let line = format!(
                    "{name}: epoch {} test SSE {sse:.3} (train {:.3}, {:.0} s)",
                    stats.epoch, stats.train_recon, stats.seconds
                );
                // A hidden bar (output to a file, e.g. under nohup) prints nothing itself.
                if b.is_hidden() {
                    println!("{line}");
                } else {
                    b.println(line);
                }
                so_far.insert(
                    stats.epoch,
                    format!(
                        "{},{sse},{},{}",
                        stats.epoch, stats.train_recon, stats.seconds
                    ),
                );
                write_progress(&progress, &so_far)?;
                Ok(vec![("test_sse".into(), sse)])
            },
            Some(&ckpt),
        )?;
        b.finish_and_clear();
        // The finished row's curve is in its rows; the partial one would only be stale.
        ae_core::checkpoint::remove(&progress)?;
        // The training clock: pretraining plus each epoch's own time (the hook's test
        // evaluation is not in it), summed over sessions when the run was resumed.
        let mut clock = before;
        let mut curve = Vec::new();
        for e in &history.epochs {
            clock += e.seconds;
            for (k, v) in &e.extra {
                curve.push((format!("curve_{k}@{}", e.epoch), *v));
            }
            curve.push((format!("curve_train_seconds@{}", e.epoch), clock));
        }
        let secs = clock - before;
        let (mut rows, artifacts) = self.eval::<B, _>(&model, device)?;
        rows.extend(curve);
        rows.push(("fine_tune_seconds".into(), secs));
        rows.push(("fine_tune_epochs".into(), history.epochs.len() as f64));
        rows.push(("session_wall_seconds".into(), t.elapsed().as_secs_f64()));
        if let Some(p) = pretrain_seconds {
            rows.push(("pretrain_seconds".into(), p));
        }
        Ok(Method {
            name,
            rows,
            seconds: secs + before,
            artifacts,
            note,
        })
    }
}

impl BackendJob for Job<'_> {
    type Output = ();

    fn run<B: Backend>(self, device: B::Device) -> Result<()> {
        let budget = &self.opts.budget;
        let seed = self.opts.seed;
        let dim = self.dim();

        // PCA on all training images, as in the paper.
        if self.wanted(RowKind::Pca) {
            let t = Instant::now();
            let pca = Pca::fit(&self.data.train.images, dim)?.truncated(budget.code())?;
            let (rows, artifacts) = self.eval::<B, _>(&pca.to_device::<B>(&device), &device)?;
            self.save(Method {
                name: "pca",
                rows,
                seconds: t.elapsed().as_secs_f64(),
                artifacts,
                note: "fitted on all 60 000 training images (cheap; as in the paper, whatever the budget)".into(),
            })?;
        }

        // Logistic PCA: a linear code and a logistic output trained by cross-entropy.
        if self.wanted(RowKind::LogisticPca) {
            let t = Instant::now();
            let lpca = AeConfig::Shallow {
                arch: ArchSpec {
                    code_activation: Activation::Linear,
                    loss: ReconLoss::Bce,
                    ..ArchSpec::default()
                },
            }
            .check(dim, budget.code())?;
            let b = bar("logistic PCA");
            let mut curve = Vec::new();
            let (m, _) = fit::<Autodiff<B>>(
                &lpca,
                &budget.logistic_pca.check()?,
                seed,
                &self.train,
                &device,
                &mut follow(&b),
            )
            .map(|(m, h)| {
                curve.extend(
                    h.epochs
                        .iter()
                        .map(|e| (format!("curve_train_bce@{}", e.epoch), e.train_recon)),
                );
                (m, h)
            })?;
            b.finish_and_clear();
            let (mut rows, artifacts) = self.eval::<B, _>(&m, &device)?;
            rows.extend(curve);
            self.save(Method {
                name: "logistic-pca",
                rows,
                seconds: t.elapsed().as_secs_f64(),
                artifacts,
                note: format!(
                    "linear encoder, logistic decoder, cross-entropy; {}",
                    optimizer_name(&budget.logistic_pca)
                ),
            })?;
        }

        // RBM pretraining, then unrolling; the net is shared by three rows.
        let needs_rbm = [RowKind::RbmUnrolled, RowKind::RbmCg, RowKind::RbmAdam]
            .into_iter()
            .any(|r| self.wanted(r));
        if needs_rbm {
            let (unrolled, checked, pretrain_seconds) =
                self.pretrained_rbm::<B>(&budget.layers, "rbm", &device)?;
            if self.wanted(RowKind::RbmUnrolled) {
                let (mut rows, artifacts) = self.eval::<Autodiff<B>, _>(&unrolled, &device)?;
                rows.push(("pretrain_seconds".into(), pretrain_seconds));
                self.save(Method {
                    name: "rbm-unrolled",
                    rows,
                    seconds: pretrain_seconds,
                    artifacts,
                    note: format!(
                        "the unrolled RBM stack ({} epochs/layer) before any fine-tuning",
                        budget.rbm.epochs
                    ),
                })?;
            }
            // The paper's method (conjugate gradients), and the zoo's Adam trainer.
            for (row, name, spec) in [
                (RowKind::RbmCg, "rbm+cg", &budget.fine_tune),
                (RowKind::RbmAdam, "rbm+adam", &budget.adam),
            ] {
                if !self.wanted(row) {
                    continue;
                }
                let note = format!(
                    "RBM pretraining ({} epochs/layer), then {} fine-tuning epochs ({})",
                    budget.rbm.epochs,
                    spec.epochs,
                    optimizer_name(spec)
                );
                let m = self.fine_tune::<B>(
                    name,
                    unrolled.clone(),
                    &checked,
                    spec,
                    Some(pretrain_seconds),
                    note,
                    &device,
                )?;
                self.save(m)?;
            }
        }

        // The same net from a random start, same fine-tuning budget.
        if self.wanted(RowKind::RandomCg) {
            let checked = ae_rbm::stack::unrolled_config(dim, &budget.layers, true)?;
            let random = ae_core::noise::init_seeded::<Autodiff<B>, _>(&device, seed, || {
                checked.init::<Autodiff<B>>(&device)
            });
            let note = format!("no pretraining, {} CG epochs", budget.fine_tune.epochs);
            let m = self.fine_tune::<B>(
                "random+cg",
                random,
                &checked,
                &budget.fine_tune,
                None,
                note,
                &device,
            )?;
            self.save(m)?;
        }

        // Stacked (denoising) autoencoder pretraining, same fine-tuning.
        if self.wanted(RowKind::StackedAeCg) {
            let t = Instant::now();
            let b = bar("stacked-AE pretraining");
            let (stacked, checked_s, _) = ae_rbm::pretrain_autoencoders::<Autodiff<B>>(
                &budget.layers,
                &self.train,
                &budget.stacked.check()?,
                Some(budget.stacked_corruption),
                seed,
                &device,
                &mut |layer, p| {
                    b.set_message(format!("stacked AE layer {}", layer + 1));
                    follow(&b)(p);
                },
            )?;
            b.finish_and_clear();
            let stacked_seconds = t.elapsed().as_secs_f64();
            let stacked = stacked_to_autodiff::<B>(stacked, &checked_s, &device)?;
            let note = format!(
                "stacked denoising AEs ({} epochs/layer), then {} CG epochs",
                budget.stacked.epochs, budget.fine_tune.epochs
            );
            let m = self.fine_tune::<B>(
                "stacked-ae+cg",
                stacked,
                &checked_s,
                &budget.fine_tune,
                Some(stacked_seconds),
                note,
                &device,
            )?;
            self.save(m)?;
        }

        // Figure 3: 2-D codes of the test set, autoencoder beside PCA.
        if self.wanted(RowKind::Figure3) {
            let t = Instant::now();
            let pca = Pca::fit(&self.data.train.images, dim)?.truncated(2)?;
            let (rows, artifacts) = self.eval::<B, _>(&pca.to_device::<B>(&device), &device)?;
            self.save(Method {
                name: "pca-2d",
                rows,
                seconds: t.elapsed().as_secs_f64(),
                artifacts,
                note: "PCA, first two components (figure 3B)".into(),
            })?;
            let mut layers = budget.layers.clone();
            if let Some(top) = layers.last_mut() {
                *top = 2;
            }
            let (net, checked, pretrain_seconds) =
                self.pretrained_rbm::<B>(&layers, "rbm-2d", &device)?;
            let note = format!(
                "784-{}: RBM pretraining ({} epochs/layer), then {} epochs ({}) (figure 3A)",
                layers
                    .iter()
                    .map(|l| l.to_string())
                    .collect::<Vec<_>>()
                    .join("-"),
                budget.rbm.epochs,
                budget.adam.epochs,
                optimizer_name(&budget.adam)
            );
            let m = self.fine_tune::<B>(
                "rbm+adam-2d",
                net,
                &checked,
                &budget.adam,
                Some(pretrain_seconds),
                note,
                &device,
            )?;
            self.save(m)?;
        }
        Ok(())
    }
}

/// The stacked AE comes back on the inner backend; fine-tuning needs it under autodiff.
fn stacked_to_autodiff<B: Backend>(
    model: AnyAe<B>,
    checked: &CheckedAe,
    device: &B::Device,
) -> Result<AnyAe<Autodiff<B>>> {
    let flat: Vec<f32> = ae_core::flat::params_to_vec(&model)?;
    let fresh = checked.init::<Autodiff<B>>(device);
    Ok(ae_core::flat::params_from_vec(fresh, &flat)?)
}

fn optimizer_name(spec: &TrainSpec) -> String {
    match spec.optimizer {
        OptimizerSpec::Cg { line_searches } => format!(
            "conjugate gradients, {line_searches} line searches per {}-image batch",
            spec.batch_size
        ),
        OptimizerSpec::Adam => format!(
            "Adam lr {}, batch {}, {} schedule",
            spec.lr,
            spec.batch_size,
            spec.schedule.describe()
        ),
        OptimizerSpec::Sgd { momentum } => format!("SGD lr {} momentum {momentum}", spec.lr),
    }
}

const PROGRESS_HEADER: &str = "epoch,test_sse_per_image,train_recon,epoch_seconds";

/// The epochs of a partial curve written by an earlier session (none when absent).
fn read_progress(path: &Path) -> std::collections::BTreeMap<usize, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| Some((l.split(',').next()?.parse().ok()?, l.to_string())))
        .collect()
}

/// Writes a partial curve (one line per epoch, re-run epochs replaced) atomically, with
/// the run's other result files' writer.
fn write_progress(
    path: &Path,
    lines: &std::collections::BTreeMap<usize, String>,
) -> ae_core::Result<()> {
    let mut text = String::from(PROGRESS_HEADER);
    for l in lines.values() {
        text.push('\n');
        text.push_str(l);
    }
    text.push('\n');
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .map_err(anyhow::Error::from)
        .and_then(|()| {
            store::write_atomic(path, |f| Ok(std::io::Write::write_all(f, text.as_bytes())?))
        });
    written.map_err(|e| ae_core::CoreError::Io {
        path: path.to_path_buf(),
        message: format!("cannot write the curve so far: {e:#}"),
    })
}
