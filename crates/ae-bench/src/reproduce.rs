//! `ae-bench reproduce hinton2006`: the MNIST table of Hinton & Salakhutdinov (2006),
//! "Reducing the dimensionality of data with neural networks" — PCA, logistic PCA and the
//! RBM-pretrained 784-1000-500-250-30 autoencoder — with the paper's numbers beside ours,
//! plus the same net without pretraining and with stacked-autoencoder pretraining.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ae_core::model::{from_slice, to_vec};
use ae_core::train::Progress;
use ae_core::{
    AeConfig, AnyAe, ArchSpec, CheckedAe, Codec, OptimizerSpec, Pca, ReconLoss, TrainSpec,
    evaluate, fit, fit_from, mlp::Activation,
};
use ae_data::{Corruption, Dataset, DatasetKind, Split};
use ae_rbm::StackSpec;
use anyhow::{Context, Result};
use burn::backend::Autodiff;
use burn::prelude::Backend;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::backend::{BackendJob, BackendKind, dispatch};
use crate::provenance::{Git, Machine, Versions};
use crate::store::{self, CellRecord, Row};
use crate::{plot, sweep};

/// Which protocol to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetKind {
    /// A few minutes on 2 CPU cores: 5 000 training images, 2 epochs of everything.
    /// Its numbers are the CI regression baseline, not the paper's.
    Smoke,
    /// The paper's protocol: all 60 000 images, 50 RBM epochs per layer, 200 epochs of
    /// conjugate-gradient fine-tuning on 1000-image batches with 3 line searches each.
    Full,
}

/// Every knob of a reproduction, fixed by the budget and optionally overridden.
#[derive(Debug, Clone, Serialize)]
pub struct Budget {
    /// Budget name (folder suffix).
    pub name: String,
    /// Training images used (0: all 60 000).
    pub train_limit: usize,
    /// Code layer and stack, e.g. [1000, 500, 250, 30].
    pub layers: Vec<usize>,
    /// RBM pretraining.
    pub rbm: StackSpec,
    /// Conjugate-gradient fine-tuning (the paper's).
    pub fine_tune: TrainSpec,
    /// Adam fine-tuning of the same pretrained net (the zoo's trainer).
    pub adam: TrainSpec,
    /// Each shallow AE of the stacked-AE pretraining.
    pub stacked: TrainSpec,
    /// Masking noise of the stacked (denoising) AEs; the first layer is overcomplete.
    pub stacked_corruption: Corruption,
    /// Logistic PCA (linear encoder, logistic decoder, cross-entropy).
    pub logistic_pca: TrainSpec,
}

impl Budget {
    /// The budget's settings.
    pub fn new(kind: BudgetKind) -> Budget {
        let layers = vec![1000, 500, 250, 30];
        match kind {
            BudgetKind::Smoke => Budget {
                name: "smoke".into(),
                train_limit: 5000,
                rbm: StackSpec {
                    layers: layers.clone(),
                    epochs: 2,
                    ..StackSpec::default()
                },
                fine_tune: cg(2),
                adam: adam(2, 1e-3),
                stacked: adam(1, 1e-3),
                stacked_corruption: Corruption::Masking { p: 0.2 },
                logistic_pca: adam(4, 3e-3),
                layers,
            },
            BudgetKind::Full => Budget {
                name: "full".into(),
                train_limit: 0,
                rbm: StackSpec {
                    layers: layers.clone(),
                    ..StackSpec::default()
                },
                fine_tune: cg(200),
                adam: adam(200, 1e-3),
                stacked: adam(20, 1e-3),
                stacked_corruption: Corruption::Masking { p: 0.2 },
                logistic_pca: adam(50, 1e-3),
                layers,
            },
        }
    }
}

impl Budget {
    /// The code size: the stack's top layer, which PCA and logistic PCA match.
    pub fn code(&self) -> usize {
        self.layers.last().copied().unwrap_or(30)
    }
}

fn cg(epochs: usize) -> TrainSpec {
    TrainSpec {
        optimizer: OptimizerSpec::Cg { line_searches: 3 },
        batch_size: 1000,
        epochs,
        ..TrainSpec::default()
    }
}

fn adam(epochs: usize, lr: f64) -> TrainSpec {
    TrainSpec {
        optimizer: OptimizerSpec::Adam,
        lr,
        batch_size: 100,
        epochs,
        ..TrainSpec::default()
    }
}

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
    /// The command line, recorded next to the results.
    pub command: String,
}

/// Named metric values of one method.
type Metrics = Vec<(String, f64)>;

/// One method's outcome.
struct Method {
    name: &'static str,
    paper: Option<f64>,
    rows: Metrics,
    test_sse: f64,
    seconds: f64,
    reconstructions: Vec<f32>,
    note: String,
}

/// Images shown in the reconstruction grid.
const GRID: usize = 10;

struct Job<'a> {
    opts: &'a ReproduceOptions,
    data: &'a Dataset,
    train: Split,
    run_dir: &'a Path,
}

fn bar(msg: &str) -> ProgressBar {
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

impl Job<'_> {
    fn test(&self) -> &[f32] {
        &self.data.test.images
    }

    fn dim(&self) -> usize {
        self.data.test.dim()
    }

    fn eval<B: Backend, M: Codec<B>>(
        &self,
        m: &M,
        device: &B::Device,
    ) -> Result<(Metrics, f64, Vec<f32>)> {
        let metrics = evaluate::<B, _>(m, self.test(), self.dim(), 1000, device)?;
        let x = from_slice::<B>(&self.test()[..GRID * self.dim()], GRID, self.dim(), device);
        let recon = to_vec(m.reconstruct(x))?;
        let rows = metrics
            .values()
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        Ok((rows, metrics.sse_per_image(), recon))
    }

    fn save(&self, m: &Method) -> Result<()> {
        let rows = m
            .rows
            .iter()
            .map(|(metric, value)| Row {
                dataset: "mnist".into(),
                model: m.name.into(),
                code_size: self.opts.budget.code() as u32,
                seed: self.opts.seed,
                backend: self.opts.backend.name().into(),
                metric: metric.clone(),
                value: *value,
                status: if value.is_finite() { "ok" } else { "failed" }.into(),
                detail: String::new(),
            })
            .collect();
        store::save_cell(
            self.run_dir,
            &CellRecord {
                key: format!(
                    "mnist__{}__k{}__{}__s{}",
                    m.name,
                    self.opts.budget.code(),
                    self.opts.backend.name(),
                    self.opts.seed
                ),
                rows,
                seconds: m.seconds,
                artifacts: None,
            },
        )?;
        Ok(())
    }

    /// Fine-tunes `model` (pretrained for `pretrain_seconds`, or not) with `spec`,
    /// recording the test SSE after every epoch, and evaluates the result.
    #[allow(clippy::too_many_arguments)] // one method row: what it is and how it was made
    fn fine_tune<B: Backend>(
        &self,
        name: &'static str,
        paper: Option<f64>,
        model: AnyAe<Autodiff<B>>,
        checked: &CheckedAe,
        spec: &TrainSpec,
        pretrain_seconds: Option<f64>,
        note: String,
        device: &B::Device,
    ) -> Result<Method> {
        let t = Instant::now();
        let b = bar(&format!("{name}: fine-tuning"));
        let mut curve = Vec::new();
        let (model, _) = fit_from::<Autodiff<B>>(
            model,
            checked,
            spec,
            self.opts.seed,
            &self.train,
            device,
            &mut follow(&b),
            &mut |stats, m| {
                let sse =
                    evaluate::<B, _>(m, self.test(), self.dim(), 1000, device)?.sse_per_image();
                b.println(format!("{name}: epoch {} test SSE {sse:.3}", stats.epoch));
                curve.push((format!("curve_test_sse@{}", stats.epoch), sse));
                Ok(())
            },
        )?;
        b.finish_and_clear();
        let secs = t.elapsed().as_secs_f64();
        let (mut rows, test_sse, reconstructions) = self.eval::<B, _>(&model, device)?;
        rows.extend(curve);
        rows.push(("fine_tune_seconds".into(), secs));
        if let Some(p) = pretrain_seconds {
            rows.push(("pretrain_seconds".into(), p));
        }
        Ok(Method {
            name,
            paper,
            rows,
            test_sse,
            seconds: secs + pretrain_seconds.unwrap_or(0.0),
            reconstructions,
            note,
        })
    }
}

impl BackendJob for Job<'_> {
    type Output = Vec<Method>;

    fn run<B: Backend>(self, device: B::Device) -> Result<Vec<Method>> {
        let budget = &self.opts.budget;
        let seed = self.opts.seed;
        let dim = self.dim();
        let mut methods = Vec::new();
        let mut done = |job: &Job<'_>, m: Method| -> Result<()> {
            println!(
                "{:>24}: test SSE per image {:.3} ({:.0} s)",
                m.name, m.test_sse, m.seconds
            );
            job.save(&m)?;
            methods.push(m);
            Ok(())
        };

        // PCA on all 60 000 training images, as in the paper.
        let t = Instant::now();
        let pca = Pca::fit(&self.data.train.images, dim)?.truncated(budget.code())?;
        let (rows, sse, recon) = self.eval::<B, _>(&pca.to_device::<B>(&device), &device)?;
        done(
            &self,
            Method {
                name: "pca",
                paper: Some(13.87),
                rows,
                test_sse: sse,
                seconds: t.elapsed().as_secs_f64(),
                reconstructions: recon,
                note: "fitted on all 60 000 training images".into(),
            },
        )?;

        // Logistic PCA: a linear code and a logistic output trained by cross-entropy.
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
        let (m, _) = fit::<Autodiff<B>>(
            &lpca,
            &budget.logistic_pca,
            seed,
            &self.train,
            &device,
            &mut follow(&b),
        )?;
        b.finish_and_clear();
        let (rows, sse, recon) = self.eval::<B, _>(&m, &device)?;
        done(
            &self,
            Method {
                name: "logistic-pca",
                paper: Some(8.01),
                rows,
                test_sse: sse,
                seconds: t.elapsed().as_secs_f64(),
                reconstructions: recon,
                note: format!(
                    "linear encoder, logistic decoder, cross-entropy, Adam, {} epochs",
                    budget.logistic_pca.epochs
                ),
            },
        )?;

        // RBM pretraining, then unrolling.
        let t = Instant::now();
        let b = bar("RBM pretraining");
        let (rbms, log) = ae_rbm::pretrain::<Autodiff<B>>(
            &budget.rbm,
            &self.train.images,
            &self.test()[..1000.min(self.data.test.len()) * dim],
            dim,
            seed,
            &device,
            &mut |p| {
                b.set_length((p.batches * budget.rbm.epochs * p.layers) as u64);
                b.set_position(
                    ((p.layer * budget.rbm.epochs + p.epoch - 1) * p.batches + p.batch) as u64,
                );
                b.set_message(format!(
                    "RBM layer {}/{} epoch {}",
                    p.layer + 1,
                    p.layers,
                    p.epoch
                ));
            },
        )?;
        b.finish_and_clear();
        let pretrain_seconds = t.elapsed().as_secs_f64();
        store::write_atomic(&self.run_dir.join("rbm_pretraining.json"), |f| {
            Ok(serde_json::to_writer_pretty(f, &log)?)
        })?;
        let (unrolled, checked) = ae_rbm::unroll(&rbms)?;
        let (mut pre_rows, pre_sse, pre_recon) = self.eval::<Autodiff<B>, _>(&unrolled, &device)?;
        pre_rows.push(("pretrain_seconds".into(), pretrain_seconds));
        done(
            &self,
            Method {
                name: "rbm-unrolled",
                paper: None,
                rows: pre_rows,
                test_sse: pre_sse,
                seconds: pretrain_seconds,
                reconstructions: pre_recon,
                note: "the unrolled RBM stack before any fine-tuning".into(),
            },
        )?;

        // The paper's method: RBM pretraining + conjugate gradients.
        for (name, spec, paper) in [
            ("rbm+cg", &budget.fine_tune, Some(3.00)),
            ("rbm+adam", &budget.adam, None),
        ] {
            let note = format!(
                "RBM pretraining ({} epochs/layer), then {} fine-tuning epochs ({})",
                budget.rbm.epochs,
                spec.epochs,
                optimizer_name(spec)
            );
            let m = self.fine_tune::<B>(
                name,
                paper,
                unrolled.clone(),
                &checked,
                spec,
                Some(pretrain_seconds),
                note,
                &device,
            )?;
            done(&self, m)?;
        }

        // The same net from a random start, same fine-tuning budget.
        let random = ae_core::noise::init_seeded::<Autodiff<B>, _>(&device, seed, || {
            checked.init::<Autodiff<B>>(&device)
        });
        let note = format!("no pretraining, {} CG epochs", budget.fine_tune.epochs);
        let m = self.fine_tune::<B>(
            "random+cg",
            None,
            random,
            &checked,
            &budget.fine_tune,
            None,
            note,
            &device,
        )?;
        done(&self, m)?;

        // Stacked (denoising) autoencoder pretraining, same fine-tuning.
        let t = Instant::now();
        let b = bar("stacked-AE pretraining");
        let (stacked, checked_s, _) = ae_rbm::pretrain_autoencoders::<Autodiff<B>>(
            &budget.layers,
            &self.train,
            &budget.stacked,
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
            None,
            stacked,
            &checked_s,
            &budget.fine_tune,
            Some(stacked_seconds),
            note,
            &device,
        )?;
        done(&self, m)?;
        Ok(methods)
    }
}

/// The stacked AE comes back on the inner backend; fine-tuning needs it under autodiff.
fn stacked_to_autodiff<B: Backend>(
    model: AnyAe<B>,
    checked: &CheckedAe,
    device: &B::Device,
) -> Result<AnyAe<Autodiff<B>>> {
    let flat = ae_core::flat::params_to_vec(&model)?;
    let fresh = checked.init::<Autodiff<B>>(device);
    Ok(ae_core::flat::params_from_vec(fresh, &flat)?)
}

fn optimizer_name(spec: &TrainSpec) -> String {
    match spec.optimizer {
        OptimizerSpec::Cg { line_searches } => format!(
            "conjugate gradients, {line_searches} line searches per {}-image batch",
            spec.batch_size
        ),
        OptimizerSpec::Adam => format!("Adam lr {}, batch {}", spec.lr, spec.batch_size),
        OptimizerSpec::Sgd { momentum } => format!("SGD lr {} momentum {momentum}", spec.lr),
    }
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
}

/// What a reproduction produced.
pub struct Outcome {
    /// The run folder.
    pub run_dir: PathBuf,
    /// The paper-style table.
    pub table: String,
}

/// Runs the reproduction and writes its folder, table and charts.
pub fn run(opts: &ReproduceOptions) -> Result<Outcome> {
    crate::backend::probe(opts.backend)?;
    let data = DatasetKind::Mnist
        .load(opts.data_dir.as_deref())
        .context("hinton2006 needs MNIST")?;
    let budget = &opts.budget;
    let train = if budget.train_limit > 0 && budget.train_limit < data.train.len() {
        data.train.head(budget.train_limit)
    } else {
        data.train.clone()
    };
    let run_dir = sweep::new_run_dir(&opts.out_root, &format!("hinton2006-{}", budget.name))?;
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
    };
    let write_info = |info: &RunInfo| {
        store::write_atomic(&run_dir.join("run.json"), |f| {
            Ok(serde_json::to_writer_pretty(f, info)?)
        })
    };
    write_info(&info)?;
    let methods = dispatch(
        opts.backend,
        Job {
            opts,
            data: &data,
            train,
            run_dir: &run_dir,
        },
    )?;

    let rows: Vec<Row> = store::load_cells(&run_dir)?
        .into_iter()
        .flat_map(|c| c.rows)
        .collect();
    store::write_tables(&run_dir, &rows)?;
    plot::curves(
        &rows,
        &run_dir.join("fine_tuning_curves"),
        &plot::FINE_TUNING,
    )?;
    let mut grid = vec![(
        "test digits".to_string(),
        data.test.images[..GRID * data.test.dim()].to_vec(),
    )];
    grid.extend(
        methods
            .iter()
            .map(|m| (m.name.to_string(), m.reconstructions.clone())),
    );
    plot::image_grid(&grid, data.test.width, &run_dir.join("reconstructions.png"))?;
    let table = table_markdown(opts, &methods, &run_dir);
    store::write_atomic(&run_dir.join("summary.md"), |f| {
        use std::io::Write;
        Ok(f.write_all(table.as_bytes())?)
    })?;
    let paper_dir = opts.paper_root.join("paper");
    std::fs::create_dir_all(&paper_dir)?;
    // Smoke runs (CI, quick checks) must not overwrite the longest run's table.
    let paper_file = match opts.budget.name.as_str() {
        "smoke" => "hinton2006-smoke.md".to_string(),
        _ => "hinton2006.md".to_string(),
    };
    store::write_atomic(&paper_dir.join(paper_file), |f| {
        use std::io::Write;
        Ok(f.write_all(table.as_bytes())?)
    })?;
    info.finished = Some(chrono::Local::now().to_rfc3339());
    write_info(&info)?;
    Ok(Outcome { run_dir, table })
}

fn table_markdown(opts: &ReproduceOptions, methods: &[Method], run_dir: &Path) -> String {
    let b = &opts.budget;
    let mut s = format!(
        "# Hinton & Salakhutdinov (2006), MNIST, {}-dimensional codes — budget `{}`\n\n\
         Produced by: `{}`\n\n\
         Average squared error per MNIST test image (summed over 784 pixels, 10 000 test \
         images), seed {}, backend `{}`; {} training images. Run folder: `{}`.\n\n\
         | method | paper | ours | wall time | how |\n|---|---:|---:|---:|---|\n",
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
    for m in methods {
        s.push_str(&format!(
            "| {} | {} | {:.2} | {:.0} s | {} |\n",
            m.name,
            m.paper.map_or("—".into(), |p| format!("{p:.2}")),
            m.test_sse,
            m.seconds,
            m.note
        ));
    }
    s.push_str(
        "\nCharts: `fine_tuning_curves.png` (test error after each fine-tuning epoch), \
         `reconstructions.png` (first ten test digits and each method's reconstructions, as \
         the paper's figure 2). RBM monitors per layer and epoch (reconstruction error, \
         free-energy gap, pseudo-log-likelihood): `rbm_pretraining.json`.\n",
    );
    s
}
