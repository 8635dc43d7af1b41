//! `ae-bench bench`: training throughput of the workloads that `scripts/torch_reference.py`
//! mirrors in PyTorch (same shapes, float32, batch, optimizer and thread count), timed over a
//! fixed number of steps after a warm-up, one CSV row per workload and backend.
//! `scripts/bench-vs-torch.sh` alternates the two and writes the dated comparison table.

use std::io::Write;
use std::time::Instant;

use ae_core::kernel::FusedAdam;
use ae_core::model::Autoencoder;
use ae_core::{AeConfig, AnyAe, Pca};
use ae_data::DatasetKind;
use ae_rbm::{HiddenUnits, Rbm, RbmConfig, TrainParams, VisibleUnits};
use anyhow::{Context, Result};
use burn::backend::Autodiff;
use burn::optim::{GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::Distribution;

use crate::backend::{BackendJob, BackendKind, dispatch};

/// A timed workload; names match `scripts/torch_reference.py`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// Hinton & Salakhutdinov's 784-1000-500-250-30 sigmoid AE, BCE, Adam, batch 128.
    Deep,
    /// Conv AE 16-32 channels (3×3 conv + ReLU + 2×2 max-pool per stage, 2×2 stride-2
    /// transposed convs back), code 30, BCE, Adam, batch 128.
    Conv,
    /// VAE 784-500-(30, 30) ReLU, Bernoulli decoder, Adam, batch 128.
    Vae,
    /// One CD-1 update of a 784×1000 Bernoulli RBM with momentum and weight decay, batch 100.
    Rbm,
    /// PCA fit (all 784 components) on the 60 000 MNIST training images.
    Pca,
    /// One conjugate-gradient batch of the Hinton net (the deep workload's 784-1000-500-
    /// 250-30 AE): 1 000 images, 3 line searches, as the paper fine-tunes. Not in the
    /// PyTorch comparison (`ALL`); prints where the batch's time goes (forward + backward
    /// passes vs the copies between the solver's f64 vectors and the module).
    Cg,
}

impl Workload {
    /// Every workload, in table order.
    pub const ALL: [Workload; 5] = [
        Workload::Deep,
        Workload::Conv,
        Workload::Vae,
        Workload::Rbm,
        Workload::Pca,
    ];

    /// Row name, shared with the PyTorch script.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Deep => "deep_ae_784_1000_500_250_30",
            Workload::Conv => "conv_ae_16_32_k30",
            Workload::Vae => "vae_784_500_k30",
            Workload::Rbm => "rbm_cd1_784x1000",
            Workload::Pca => "pca_fit_60000x784",
            Workload::Cg => "cg_batch_784_1000_500_250_30_ls3",
        }
    }

    /// Examples per step (per fit for PCA).
    pub fn batch(self) -> usize {
        match self {
            Workload::Deep | Workload::Conv | Workload::Vae => 128,
            Workload::Rbm => 100,
            Workload::Pca => 60_000,
            Workload::Cg => 1000,
        }
    }

    /// Floating-point operations per example of one step, counting the matrix products
    /// (2 per multiply-add) and nothing else: a training step is forward + two backward
    /// products per layer (3× the forward's), a CD-1 step is three products of the batch
    /// with W plus the one for the weight gradient over both phases, a PCA fit is the
    /// lower triangle of the 784×784 scatter matrix (what BLAS syrk computes).
    pub fn flop_per_example(self) -> f64 {
        let macs: f64 = match self {
            // Per forward + backward pass; a CG batch makes several (printed by the run).
            Workload::Deep | Workload::Cg => {
                let encoder = 784.0 * 1000.0 + 1000.0 * 500.0 + 500.0 * 250.0 + 250.0 * 30.0;
                3.0 * 2.0 * encoder // the decoder mirrors it
            }
            Workload::Conv => {
                let forward = 28.0 * 28.0 * 16.0 * 9.0 // conv 1 -> 16
                    + 14.0 * 14.0 * 32.0 * 144.0 // conv 16 -> 32
                    + 2.0 * 1568.0 * 30.0 // to and from the code
                    + 49.0 * 32.0 * 64.0 // deconv 32 -> 16
                    + 196.0 * 16.0 * 4.0; // deconv 16 -> 1
                3.0 * forward
            }
            Workload::Vae => 3.0 * (784.0 * 500.0 + 500.0 * 60.0 + 30.0 * 500.0 + 500.0 * 784.0),
            Workload::Rbm => 5.0 * 784.0 * 1000.0,
            Workload::Pca => 784.0 * 785.0 / 2.0, // one triangle of the symmetric XᵀX
        };
        2.0 * macs
    }

    pub(crate) fn config(self) -> Option<&'static str> {
        match self {
            Workload::Deep | Workload::Cg => Some(
                r#"{ "kind": "deep", "arch": { "hidden": [1000, 500, 250], "activation": "sigmoid", "code_activation": "linear" } }"#,
            ),
            Workload::Conv => Some(r#"{ "kind": "conv", "channels": [16, 32] }"#),
            Workload::Vae => {
                Some(r#"{ "kind": "vae", "arch": { "hidden": [500], "activation": "relu" } }"#)
            }
            Workload::Rbm | Workload::Pca => None,
        }
    }
}

/// What to time.
#[derive(Debug, Clone)]
pub struct BenchSpec {
    /// Backends, each a row per workload (PCA runs once: it is faer on the host).
    pub backends: Vec<BackendKind>,
    /// Workloads.
    pub workloads: Vec<Workload>,
    /// Timed steps per row (PCA: [`pca_fits`] of them).
    pub steps: usize,
    /// Untimed steps first.
    pub warmup: usize,
    /// Threads of the rayon pool the work runs in (PyTorch gets the same count).
    pub threads: usize,
}

/// One measured row.
#[derive(Debug, Clone)]
pub struct BenchRow {
    /// Backend name, or `faer` for PCA.
    pub backend: String,
    /// The workload.
    pub workload: Workload,
    /// Threads used.
    pub threads: usize,
    /// Timed steps.
    pub steps: usize,
    /// Wall seconds for them.
    pub seconds: f64,
}

impl BenchRow {
    /// Examples per second.
    pub fn rate(&self) -> f64 {
        (self.steps * self.workload.batch()) as f64 / self.seconds
    }
}

/// CSV header of [`write_csv`]; `scripts/torch_reference.py` writes the same columns.
pub const CSV_HEADER: &str =
    "implementation,backend,workload,threads,batch,steps,seconds,examples_per_s,flop_per_example";

/// Writes `rows` as CSV (with header) to `out`.
pub fn write_csv(rows: &[BenchRow], mut out: impl Write) -> Result<()> {
    writeln!(out, "{CSV_HEADER}")?;
    for r in rows {
        writeln!(
            out,
            "burn,{},{},{},{},{},{:.4},{:.1},{:.0}",
            r.backend,
            r.workload.name(),
            r.threads,
            r.workload.batch(),
            r.steps,
            r.seconds,
            r.rate(),
            r.workload.flop_per_example()
        )?;
    }
    Ok(())
}

/// Runs every (backend, workload) of `spec` in a pool of `spec.threads` threads,
/// calling `each` as rows finish.
pub fn run(spec: &BenchSpec, mut each: impl FnMut(&BenchRow) + Send) -> Result<Vec<BenchRow>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(spec.threads)
        .build()
        .context("building the benchmark's thread pool")?;
    pool.install(|| {
        let mut rows = Vec::new();
        for &workload in &spec.workloads {
            let backends: Vec<Option<BackendKind>> = if workload == Workload::Pca {
                vec![None]
            } else {
                spec.backends.iter().copied().map(Some).collect()
            };
            for backend in backends {
                let seconds = match backend {
                    Some(kind) => dispatch(kind, Timed { workload, spec })?,
                    None => time_pca(spec)?,
                };
                let row = BenchRow {
                    backend: backend.map_or("faer", BackendKind::name).to_string(),
                    workload,
                    threads: spec.threads,
                    steps: match workload {
                        Workload::Pca => pca_fits(spec.steps),
                        _ => spec.steps,
                    },
                    seconds,
                };
                each(&row);
                rows.push(row);
            }
        }
        Ok(rows)
    })
}

/// Timed PCA fits for `steps` training steps: a tenth as many (a fit is ~0.5 s); the
/// PyTorch script's scikit-learn row uses the same rule.
pub fn pca_fits(steps: usize) -> usize {
    steps.div_ceil(10)
}

fn time_pca(spec: &BenchSpec) -> Result<f64> {
    let ds = DatasetKind::Mnist.load(None)?;
    let fit = || Pca::fit(&ds.train.images, ds.train.dim());
    for _ in 0..spec.warmup.min(1) {
        fit()?;
    }
    let start = Instant::now();
    for _ in 0..pca_fits(spec.steps) {
        fit()?;
    }
    Ok(start.elapsed().as_secs_f64())
}

struct Timed<'a> {
    workload: Workload,
    spec: &'a BenchSpec,
}

impl BackendJob for Timed<'_> {
    type Output = f64;

    fn run<B: Backend>(self, device: B::Device) -> Result<f64> {
        let (steps, warmup) = (self.spec.steps, self.spec.warmup);
        let batch = self.workload.batch();
        B::seed(&device, 0);
        let Some(json) = self.workload.config() else {
            return time_rbm::<B>(&device, batch, steps, warmup);
        };
        type Ad<B> = Autodiff<B>;
        let config: AeConfig = serde_json::from_str(json)?;
        let checked = config.check(784, 30)?;
        let mut model: Option<AnyAe<Ad<B>>> =
            Some(ae_core::noise::init_seeded::<Ad<B>, _>(&device, 0, || {
                checked.init::<Ad<B>>(&device)
            }));
        if self.workload == Workload::Cg {
            return time_cg(
                model.take().context("model")?,
                batch,
                steps,
                warmup,
                &device,
            );
        }
        let mut optim = FusedAdam::init::<Ad<B>, AnyAe<Ad<B>>>();
        let x = Tensor::<Ad<B>, 2>::random([batch, 784], Distribution::Uniform(0.0, 1.0), &device);
        let mut step = || -> Result<f32> {
            // Moved, not cloned, as in ae_core::train.
            let m = model.take().context("model")?;
            let out = m.loss(x.clone());
            let loss = out.total.clone();
            let grads = GradientsParams::from_grads(out.total.backward(), &m);
            model = Some(optim.step(1e-3, m, grads));
            // Reading the loss waits for asynchronous backends (cuda, tch) to finish.
            Ok(loss.into_scalar().elem())
        };
        for _ in 0..warmup {
            step()?;
        }
        let start = Instant::now();
        for _ in 0..steps {
            step()?;
        }
        Ok(start.elapsed().as_secs_f64())
    }
}

/// Times `steps` CG batches and prints how their time splits.
fn time_cg<B: Backend>(
    mut model: AnyAe<Autodiff<B>>,
    batch: usize,
    steps: usize,
    warmup: usize,
    device: &B::Device,
) -> Result<f64> {
    // Real digits: on uniform noise the line searches need ~10x the evaluations they need
    // on MNIST, which would misstate where a fine-tuning batch's time goes.
    let ds = DatasetKind::Mnist.load(None)?;
    let x = Tensor::<Autodiff<B>, 2>::from_data(
        TensorData::new(ds.train.images[..batch * 784].to_vec(), [batch, 784]),
        device,
    );
    for _ in 0..warmup {
        model = ae_core::cg::cg_batch(model, x.clone(), x.clone(), 3)?.0;
    }
    let (mut evals, mut passes, mut copies) = (0, 0.0, 0.0);
    let start = Instant::now();
    for _ in 0..steps {
        let (m, step) = ae_core::cg::cg_batch(model, x.clone(), x.clone(), 3)?;
        model = m;
        evals += step.evaluations;
        passes += step.times.passes;
        copies += step.times.copies;
    }
    let seconds = start.elapsed().as_secs_f64();
    eprintln!(
        "cg: {steps} batches of {batch}, {:.2} evaluations (forward + backward) per batch; \
         {:.3} s per batch = {:.3} s of passes + {:.3} s of parameter/gradient copies + {:.3} s \
         else (solver vector arithmetic, final copy): {:.3}× the passes",
        evals as f64 / steps as f64,
        seconds / steps as f64,
        passes / steps as f64,
        copies / steps as f64,
        (seconds - passes - copies) / steps as f64,
        seconds / passes
    );
    Ok(seconds)
}

fn time_rbm<B: Backend>(
    device: &B::Device,
    batch: usize,
    steps: usize,
    warmup: usize,
) -> Result<f64> {
    let config = RbmConfig {
        visible: 784,
        hidden: 1000,
        visible_units: VisibleUnits::Bernoulli,
        hidden_units: HiddenUnits::Bernoulli,
    };
    let mut rbm = Rbm::<B>::new(config, device)?;
    let params = TrainParams {
        k: 1,
        lr: 0.1,
        momentum: 0.9,
        weight_decay: 2e-4,
    }
    .check()?;
    let v = Tensor::<B, 2>::random([batch, 784], Distribution::Uniform(0.0, 1.0), device);
    for _ in 0..warmup {
        rbm.cd_step(v.clone(), &params)?;
    }
    let start = Instant::now();
    for _ in 0..steps {
        // cd_step reads its reconstruction error back, which waits for the device.
        rbm.cd_step(v.clone(), &params)?;
    }
    Ok(start.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The FLOP counts against hand-expanded sums for two workloads, and one tiny run of
    /// every burn workload on flex producing a positive finite rate and a parseable row.
    #[test]
    fn flops_and_a_tiny_run() {
        // 2 FLOP × 3 products × (784 000 + 500 000 + 125 000 + 7 500) MACs.
        assert_eq!(Workload::Deep.flop_per_example(), 16_998_000.0);
        // 2 × 5 × 784 000.
        assert_eq!(Workload::Rbm.flop_per_example(), 7_840_000.0);
        let spec = BenchSpec {
            backends: vec![BackendKind::Flex],
            workloads: vec![Workload::Deep, Workload::Conv, Workload::Vae, Workload::Rbm],
            steps: 1,
            warmup: 1,
            threads: 1,
        };
        let mut seen = 0;
        let rows = run(&spec, |_| seen += 1).unwrap();
        assert_eq!((rows.len(), seen), (4, 4));
        assert!(rows.iter().all(|r| r.rate().is_finite() && r.rate() > 0.0));
        let mut csv = Vec::new();
        write_csv(&rows, &mut csv).unwrap();
        let text = String::from_utf8(csv).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert!(lines[1].starts_with("burn,flex,deep_ae_784_1000_500_250_30,1,128,1,"));
        assert_eq!(lines[1].split(',').count(), CSV_HEADER.split(',').count());
    }
}
