//! The downstream tasks of `ae-bench eval`: what a trained model's codes are for.
//!
//! Every task runs on any [`Codec`] — an autoencoder of the zoo, PCA, or the raw pixels
//! ([`Identity`]) — inside the sweep cell that trained it, on the cell's backend, and
//! returns named metrics (long-format rows) plus a few pictures for the charts. The
//! numerical work is in `ae-eval` (linfa, pathfinding, png, flate2) and `ae_core::dec`.

use ae_core::model::{from_slice, to_vec};
use ae_core::{AnyAe, CheckedAe, Codec};
use ae_data::Split;
use ae_eval::Features;
use ae_eval::cluster::KMeansFit;
use anyhow::{Context, Result, bail};
use burn::module::Param;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use indicatif::ProgressBar;

use crate::artifacts::{Codes2d, DenoiseShow, Images, OodScores, TaskPictures, TestView};
use crate::experiment::{EvalSpec, ModelSpec, Task};

/// Named task metrics of one cell.
pub type Metrics = Vec<(String, f64)>;

/// The raw pixels as a codec: the identity. The baseline row of every task.
pub struct Identity {
    /// Pixels per image.
    pub dim: usize,
}

impl<B: Backend> Codec<B> for Identity {
    fn code_size(&self) -> usize {
        self.dim
    }
    fn encode(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        x
    }
    fn decode(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        z
    }
}

/// Test images shown per corruption in the denoising chart.
const DENOISE_SHOWN: usize = 6;
/// Reconstruction errors kept per distribution for the out-of-distribution histogram.
const OOD_KEPT: usize = 2000;
/// Neighbours of the embedding's leave-one-out accuracy.
const TSNE_KNN: usize = 5;
/// The binarized test set of the likelihood task is drawn once, the same for every model.
const NLL_BINARIZE_SEED: u64 = 2016;

/// What the tasks of a cell see.
pub struct TaskCtx<'a> {
    /// The experiment's `[eval]`.
    pub spec: &'a EvalSpec,
    /// The model, to tell baselines apart.
    pub model: &'a ModelSpec,
    /// The dataset's training split.
    pub train: &'a Split,
    /// Its test images.
    pub test: &'a TestView<'a>,
    /// The other dataset of the experiment (name, test images), for out-of-distribution.
    pub ood: Option<(&'a str, TestView<'a>)>,
    /// The dataset's name.
    pub dataset: &'a str,
    /// The cell's seed.
    pub seed: u64,
    /// Keep pictures (lowest seed).
    pub pictures: bool,
    /// The cell's progress bar, for messages.
    pub bar: &'a ProgressBar,
}

/// Trains a fresh model of the cell's kind on one class's images and returns the
/// per-image SSE of the test images (for one-class anomaly detection).
pub type OneClass<'a> = dyn Fn(&Split) -> Result<Vec<f64>> + 'a;

/// The label of a corruption in metric names: `gaussian-0.3`, `masking-0.1`, ...
pub fn noise_label(c: &ae_data::Corruption) -> String {
    match c {
        ae_data::Corruption::Gaussian { sigma } => format!("gaussian-{sigma}"),
        ae_data::Corruption::Masking { p } => format!("masking-{p}"),
        ae_data::Corruption::Dropout { p } => format!("dropout-{p}"),
        ae_data::Corruption::SaltAndPepper { p } => format!("salt-and-pepper-{p}"),
    }
}

/// `f` applied to `[batch, cols]` slices of the row-major `values`, results concatenated.
fn batched<B: Backend>(
    values: &[f32],
    cols: usize,
    batch: usize,
    device: &B::Device,
    f: impl Fn(Tensor<B, 2>) -> Tensor<B, 2>,
) -> Result<Vec<f32>> {
    let mut out = Vec::new();
    for chunk in values.chunks(batch.max(1) * cols) {
        let x = from_slice::<B>(chunk, chunk.len() / cols, cols, device);
        out.extend(to_vec(f(x))?);
    }
    Ok(out)
}

/// Codes of `images` (`[n, dim]`), in batches: `[n, code]`.
pub fn codes<B: Backend, C: Codec<B>>(
    codec: &C,
    images: &[f32],
    dim: usize,
    batch: usize,
    device: &B::Device,
) -> Result<Vec<f32>> {
    batched(images, dim, batch, device, |x| codec.encode(x))
}

/// Reconstructions of `inputs`, in batches.
fn reconstruct<B: Backend, C: Codec<B>>(
    codec: &C,
    inputs: &[f32],
    dim: usize,
    batch: usize,
    device: &B::Device,
) -> Result<Vec<f32>> {
    batched(inputs, dim, batch, device, |x| codec.reconstruct(x))
}

/// Sum of squared errors of each image.
fn sse_rows(a: &[f32], b: &[f32], dim: usize) -> Vec<f64> {
    a.chunks(dim)
        .zip(b.chunks(dim))
        .map(|(x, y)| x.iter().zip(y).map(|(p, q)| f64::from(p - q).powi(2)).sum())
        .collect()
}

/// Per-image test SSE of `codec` on `images` (the anomaly score).
pub fn per_image_sse<B: Backend, C: Codec<B>>(
    codec: &C,
    images: &[f32],
    dim: usize,
    batch: usize,
    device: &B::Device,
) -> Result<Vec<f64>> {
    let recon = reconstruct(codec, images, dim, batch, device)?;
    Ok(sse_rows(images, &recon, dim))
}

/// PSNR in dB of `other` against `clean` (ae-core's definition: from the mean squared
/// error over all pixels).
fn psnr(clean: &[f32], other: &[f32], dim: usize) -> f64 {
    let mut m = ae_core::ReconMetrics::new(dim);
    m.add(clean, other);
    m.psnr_db()
}

/// Neighbours of the k-NN distance anomaly baseline.
const KNN_ANOMALY_K: usize = 5;

/// The items of class `c` (the normal class of a one-class model).
fn of_class(split: &Split, c: u8) -> Split {
    let idx: Vec<usize> = (0..split.len()).filter(|&i| split.labels[i] == c).collect();
    split.select(&idx)
}

/// Clusters to find: the classes the training labels hold (10 for the digit sets).
fn classes(split: &Split) -> usize {
    split
        .labels
        .iter()
        .copied()
        .max()
        .map_or(1, |m| usize::from(m) + 1)
}

fn head(split: &Split, n: usize) -> (&[f32], &[u8]) {
    let n = if n == 0 {
        split.len()
    } else {
        n.min(split.len())
    };
    (&split.images[..n * split.dim()], &split.labels[..n])
}

/// The first `n` training images (0 = all) as a split of their own, for the tasks that
/// train on them.
fn head_split(split: &Split, n: usize) -> Split {
    if n == 0 { split.clone() } else { split.head(n) }
}

/// The trained weights copied onto the autodiff backend, for the tasks that go on
/// training the encoder (DEC, fine-tuning).
fn on_autodiff<AD: AutodiffBackend>(
    model: &AnyAe<AD::InnerBackend>,
    checked: &CheckedAe,
    device: &AD::Device,
) -> Result<AnyAe<AD>> {
    let flat: Vec<f32> = ae_core::flat::params_to_vec(model)?;
    Ok(ae_core::flat::params_from_vec(
        checked.init::<AD>(device),
        &flat,
    )?)
}

/// Runs the experiment's tasks on `codec`; `one_class` trains a fresh model of the same
/// kind (absent for the pixel baseline, which has no reconstruction error). Also returns
/// the cluster task's k-means fit, which DEC ([`run_ae_tasks`]) starts from.
pub fn run_tasks<B: Backend, C: Codec<B>>(
    codec: &C,
    ctx: &TaskCtx<'_>,
    one_class: Option<&OneClass<'_>>,
    device: &B::Device,
) -> Result<(Metrics, TaskPictures, Option<KMeansFit>)> {
    let mut m: Metrics = Vec::new();
    let mut pics = TaskPictures::default();
    let mut kmeans = None;
    let (dim, batch) = (ctx.test.dim, ctx.spec.batch_size);
    let pixels = matches!(ctx.model, ModelSpec::Pixels);
    for &task in &ctx.spec.tasks {
        ctx.bar.set_message(format!("eval {}", task.name()));
        match task {
            Task::Denoise if !pixels => {
                for (i, noise) in ctx.spec.denoise.noises.iter().enumerate() {
                    let label = noise_label(noise);
                    let noisy = noise.apply(ctx.test.images, ctx.seed ^ ((i as u64) << 40));
                    let out = reconstruct(codec, &noisy, dim, batch, device)?;
                    m.push((
                        format!("psnr_noisy@{label}"),
                        psnr(ctx.test.images, &noisy, dim),
                    ));
                    m.push((
                        format!("psnr_denoised@{label}"),
                        psnr(ctx.test.images, &out, dim),
                    ));
                    // The middle level of each kind is pictured.
                    let kind = std::mem::discriminant(noise);
                    let same: Vec<_> = ctx
                        .spec
                        .denoise
                        .noises
                        .iter()
                        .filter(|n| std::mem::discriminant(*n) == kind)
                        .collect();
                    if ctx.pictures && std::ptr::eq(same[same.len() / 2], noise) {
                        let n = DENOISE_SHOWN * dim;
                        pics.denoise.push(DenoiseShow {
                            noise: label,
                            noisy: Images::encode(&noisy[..n.min(noisy.len())]),
                            denoised: Images::encode(&out[..n.min(out.len())]),
                        });
                    }
                }
            }
            Task::Anomaly if !pixels => {
                let Some(one_class) = one_class else {
                    bail!(
                        "anomaly task: no one-class trainer for {}",
                        ctx.model.name()
                    )
                };
                let mut aurocs = Vec::new();
                for &c in &ctx.spec.anomaly.classes {
                    ctx.bar
                        .set_message(format!("eval anomaly: normal class {c}"));
                    let scores = one_class(&of_class(ctx.train, c))
                        .with_context(|| format!("one-class model of class {c}"))?;
                    let anomalous: Vec<bool> = ctx.test.labels.iter().map(|&l| l != c).collect();
                    let a = ae_eval::score::auroc(&scores, &anomalous)?;
                    m.push((format!("auroc@{c}"), a));
                    aurocs.push(a);
                }
                if !aurocs.is_empty() {
                    m.push((
                        "auroc_mean".into(),
                        aurocs.iter().sum::<f64>() / aurocs.len() as f64,
                    ));
                }
                if let (true, Some((name, other))) = (ctx.spec.anomaly.ood, &ctx.ood) {
                    let inl = per_image_sse(codec, ctx.test.images, dim, batch, device)?;
                    let out = per_image_sse(codec, other.images, dim, batch, device)?;
                    let labels: Vec<bool> = inl
                        .iter()
                        .map(|_| false)
                        .chain(out.iter().map(|_| true))
                        .collect();
                    let scores: Vec<f64> = inl.iter().chain(&out).copied().collect();
                    m.push(("ood_auroc".into(), ae_eval::score::auroc(&scores, &labels)?));
                    if ctx.pictures {
                        let keep = |v: &[f64]| {
                            v.iter()
                                .take(OOD_KEPT)
                                .map(|&x| ((x * 100.0).round() / 100.0) as f32)
                                .collect()
                        };
                        pics.ood = Some(OodScores {
                            inlier: ctx.dataset.into(),
                            outlier: (*name).into(),
                            inlier_sse: keep(&inl),
                            outlier_sse: keep(&out),
                        });
                    }
                }
            }
            Task::Features => {
                let f = &ctx.spec.features;
                let (tx, ty) = head(ctx.train, f.train_images);
                let train_codes = codes(codec, tx, dim, batch, device)?;
                let test_codes = codes(codec, ctx.test.images, dim, batch, device)?;
                let k = codec.code_size();
                let a = Features::new("training codes", &train_codes, k)?;
                let b = Features::new("test codes", &test_codes, k)?;
                let probe = ae_eval::classify::ProbeSpec {
                    l2: f.probe_l2,
                    max_iterations: f.probe_iterations,
                };
                ctx.bar.set_message("eval features: linear probe");
                m.push((
                    "probe_acc".into(),
                    ae_eval::classify::linear_probe(&a, ty, &b, ctx.test.labels, probe)?,
                ));
                ctx.bar.set_message("eval features: k-NN");
                m.push((
                    "knn_acc".into(),
                    ae_eval::classify::knn_accuracy(&a, ty, &b, ctx.test.labels, f.knn_k)?,
                ));
            }
            Task::Cluster => {
                let c = &ctx.spec.cluster;
                let (x, y) = head(ctx.train, c.images);
                let z = codes(codec, x, dim, batch, device)?;
                let fit = ae_eval::cluster::kmeans(
                    &Features::new("codes", &z, codec.code_size())?,
                    classes(ctx.train),
                    c.restarts,
                    ctx.seed,
                )?;
                m.push((
                    "kmeans_acc".into(),
                    ae_eval::score::cluster_accuracy(&fit.labels, y)?,
                ));
                m.push(("kmeans_nmi".into(), ae_eval::score::nmi(&fit.labels, y)?));
                kmeans = Some(fit);
            }
            Task::Tsne => {
                let t = &ctx.spec.tsne;
                let n = t.points.min(ctx.test.labels.len());
                let z = codes(codec, &ctx.test.images[..n * dim], dim, batch, device)?;
                let spec = ae_eval::embed::TsneSpec {
                    perplexity: t.perplexity,
                    iterations: t.iterations,
                    theta: t.theta,
                };
                let e = ae_eval::embed::tsne(
                    &Features::new("codes", &z, codec.code_size())?,
                    spec,
                    ctx.seed,
                )?;
                let labels = &ctx.test.labels[..n];
                let acc = ae_eval::classify::knn_loo_accuracy(
                    &Features::new("embedding", &e, 2)?,
                    labels,
                    TSNE_KNN,
                )?;
                m.push(("tsne_knn_acc".into(), acc));
                if ctx.pictures {
                    pics.tsne = Some(Codes2d {
                        values: e.iter().map(|v| (v * 100.0).round() / 100.0).collect(),
                        labels: labels.to_vec(),
                    });
                }
            }
            Task::Compress => {
                let test_bytes = ae_eval::compress::to_bytes(ctx.test.images);
                if pixels {
                    let n = ctx.test.labels.len() as f64;
                    let mut png = 0usize;
                    let mut gz = 0usize;
                    for img in test_bytes.chunks(dim) {
                        png += ae_eval::compress::png_size(img, ctx.test.side)?;
                        gz += ae_eval::compress::gzip_size(img)?;
                    }
                    m.push(("bits@png".into(), png as f64 * 8.0 / n));
                    m.push(("bits@gzip".into(), gz as f64 * 8.0 / n));
                    m.push(("bits@raw".into(), dim as f64 * 8.0));
                } else {
                    let k = codec.code_size();
                    let (tx, _) = head(ctx.train, ctx.spec.features.train_images);
                    let train_codes = codes(codec, tx, dim, batch, device)?;
                    let test_codes = codes(codec, ctx.test.images, dim, batch, device)?;
                    let a = Features::new("training codes", &train_codes, k)?;
                    let n = ctx.test.labels.len() as f64;
                    let decoded = decode_all(codec, &test_codes, k, batch, device)?;
                    m.push(("bits@32".into(), 32.0 * k as f64));
                    m.push((
                        "sse@32".into(),
                        sse_rows(ctx.test.images, &decoded, dim).iter().sum::<f64>() / n,
                    ));
                    for &bits in &ctx.spec.compress.bits {
                        let q = ae_eval::compress::Quantizer::fit(&a, bits)?;
                        let decoded =
                            decode_all(codec, &q.round_trip(&test_codes), k, batch, device)?;
                        m.push((format!("bits@{bits}"), q.bits_per_code() as f64));
                        m.push((
                            format!("sse@{bits}"),
                            sse_rows(ctx.test.images, &decoded, dim).iter().sum::<f64>() / n,
                        ));
                    }
                }
            }
            // Generation needs a VAE ([`run_ae_tasks`]); the baselines skip what needs a
            // reconstruction.
            // The baselines that need no model: distance to the k-th nearest normal
            // training item, and an isolation forest, one-class per normal class.
            Task::Anomaly => {
                let test = Features::new("test items", ctx.test.images, dim)?;
                let (mut knn, mut forest) = (Vec::new(), Vec::new());
                for &c in &ctx.spec.anomaly.classes {
                    ctx.bar
                        .set_message(format!("eval anomaly baselines: class {c}"));
                    let normal = of_class(ctx.train, c);
                    let train = Features::new("normal training items", &normal.images, dim)?;
                    let anomalous: Vec<bool> = ctx.test.labels.iter().map(|&l| l != c).collect();
                    let k = KNN_ANOMALY_K.min(train.len());
                    let s = ae_eval::anomaly::knn_distance(&train, &test, k)?;
                    let a = ae_eval::score::auroc(&s, &anomalous)?;
                    m.push((format!("knn_auroc@{c}"), a));
                    knn.push(a);
                    let s = ae_eval::anomaly::isolation_forest(&train, &test, 100, 256, ctx.seed)?;
                    let a = ae_eval::score::auroc(&s, &anomalous)?;
                    m.push((format!("iforest_auroc@{c}"), a));
                    forest.push(a);
                }
                for (name, v) in [("knn_auroc_mean", knn), ("iforest_auroc_mean", forest)] {
                    if !v.is_empty() {
                        m.push((name.into(), v.iter().sum::<f64>() / v.len() as f64));
                    }
                }
            }
            Task::Generate | Task::Denoise => {}
        }
    }
    Ok((m, pics, kmeans))
}

fn decode_all<B: Backend, C: Codec<B>>(
    codec: &C,
    codes: &[f32],
    k: usize,
    batch: usize,
    device: &B::Device,
) -> Result<Vec<f32>> {
    batched(codes, k, batch, device, |z| codec.decode(z))
}

/// The tasks only an autoencoder has: DEC fine-tuning of its encoder (on autodiff
/// backend `AD`) from `kmeans`, the cluster task's fit on the same codes (refitted if
/// absent); supervised fine-tuning of the encoder with a softmax head (the features
/// task's reference beside the frozen probe); for a VAE, the importance-weighted likelihood.
pub fn run_ae_tasks<AD: AutodiffBackend>(
    model: &AnyAe<AD::InnerBackend>,
    checked: &CheckedAe,
    ctx: &TaskCtx<'_>,
    kmeans: Option<KMeansFit>,
    device: &AD::Device,
) -> Result<Metrics> {
    let mut m: Metrics = Vec::new();
    let dim = ctx.test.dim;
    if ctx.spec.tasks.contains(&Task::Cluster) && ctx.spec.cluster.dec {
        ctx.bar.set_message("eval cluster: DEC");
        let c = &ctx.spec.cluster;
        let (x, y) = head(ctx.train, c.images);
        let k = model.code_size();
        let init = match kmeans {
            Some(fit) => fit,
            None => {
                let z = codes(model, x, dim, ctx.spec.batch_size, device)?;
                let z = Features::new("codes", &z, k)?;
                ae_eval::cluster::kmeans(&z, classes(ctx.train), c.restarts, ctx.seed)?
            }
        };
        let mu = from_slice::<AD>(&init.centroids, classes(ctx.train), k, device);
        let dec = ae_core::dec::Dec {
            ae: on_autodiff::<AD>(model, checked, device)?,
            centroids: Param::from_tensor(mu),
        };
        let split = head_split(ctx.train, c.images);
        let spec = ae_core::dec::DecSpec {
            epochs: c.dec_epochs,
            ..Default::default()
        };
        let (fitted, history) = ae_core::dec::fit(dec, &split, spec, ctx.seed, device)?;
        let q = ae_core::dec::assignments(&fitted, x, dim, ctx.spec.batch_size, device)?;
        let labels = ae_core::dec::hard_labels(&q, classes(ctx.train));
        m.push((
            "dec_acc".into(),
            ae_eval::score::cluster_accuracy(&labels, y)?,
        ));
        m.push(("dec_nmi".into(), ae_eval::score::nmi(&labels, y)?));
        m.push(("dec_epochs".into(), history.losses.len() as f64));
    }
    let f = &ctx.spec.features;
    if ctx.spec.tasks.contains(&Task::Features) && f.finetune_epochs > 0 {
        ctx.bar.set_message("eval features: fine-tuning");
        let ae = on_autodiff::<AD>(model, checked, device)?;
        let classifier =
            ae_core::finetune::Classifier::new(ae, classes(ctx.train), ctx.seed, device);
        let split = head_split(ctx.train, f.train_images);
        let spec = ae_core::finetune::FinetuneSpec {
            epochs: f.finetune_epochs,
            batch_size: f.finetune_batch,
            lr: f.finetune_lr,
        };
        let (tuned, _) = ae_core::finetune::fit(classifier, &split, spec, ctx.seed, device)?;
        let pred =
            ae_core::finetune::predict(&tuned, ctx.test.images, dim, ctx.spec.batch_size, device)?;
        m.push((
            "finetune_acc".into(),
            ae_eval::classify::accuracy(pred.into_iter(), ctx.test.labels),
        ));
    }
    // The likelihood is that of a Bernoulli decoder: only BCE-trained VAEs have one.
    let bernoulli = checked.config().arch().loss == ae_core::ReconLoss::Bce;
    if let (true, true, AnyAe::Vae(vae)) =
        (ctx.spec.tasks.contains(&Task::Generate), bernoulli, model)
    {
        let g = &ctx.spec.generate;
        let n = if g.images == 0 {
            ctx.test.labels.len()
        } else {
            g.images.min(ctx.test.labels.len())
        };
        let x = ae_data::binarize_dynamic(&ctx.test.images[..n * dim], NLL_BINARIZE_SEED);
        ae_core::noise::seed(ctx.seed);
        let mut sum = 0f64;
        // Small batches: each importance sample decodes the whole batch.
        const NLL_BATCH: usize = 100;
        for (i, chunk) in x.chunks(NLL_BATCH * dim).enumerate() {
            ctx.bar
                .set_message(format!("eval generate: IWAE NLL {}/{n}", i * NLL_BATCH));
            let t = from_slice::<AD::InnerBackend>(chunk, chunk.len() / dim, dim, device);
            sum += to_vec(vae.iwae_nll(t, g.iwae_k))?
                .iter()
                .map(|&v| f64::from(v))
                .sum::<f64>();
        }
        m.push(("iwae_nll".into(), sum / n as f64));
        m.push(("iwae_k".into(), g.iwae_k as f64));
    }
    Ok(m)
}
