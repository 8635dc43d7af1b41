//! The backend jobs a cell runs: PCA and raw-pixel baselines evaluated, an autoencoder
//! trained (checkpointed) and evaluated, each with its pictures and evaluation tasks.

use ae_core::checkpoint::Checkpointing;
use ae_core::{Pca, ReconMetrics, evaluate};
use anyhow::Result;
use burn::prelude::Backend;
use indicatif::ProgressBar;

use crate::artifacts::{self, Artifacts, TestView};
use crate::backend::BackendJob;
use crate::tasks::{self, TaskCtx};

/// Evaluates a fitted PCA on the test images on backend `B`, keeps its pictures, and
/// runs the experiment's tasks (one-class PCAs are fitted on each class's images).
pub(super) struct EvalPca<'a> {
    pub(super) pca: &'a Pca,
    pub(super) test: &'a TestView<'a>,
    pub(super) batch: usize,
    pub(super) artifacts: bool,
    pub(super) tasks: &'a TaskCtx<'a>,
}

impl BackendJob for EvalPca<'_> {
    type Output = (ReconMetrics, Option<Artifacts>, tasks::Metrics);
    fn run<B: Backend>(self, device: B::Device) -> Result<Self::Output> {
        let codec = self.pca.to_device::<B>(&device);
        let m = evaluate::<B, _>(&codec, self.test.images, self.test.dim, self.batch, &device)?;
        let (dim, k) = (self.test.dim, self.pca.components());
        let one_class = |split: &ae_data::Split| -> Result<Vec<f64>> {
            let fitted = Pca::fit(&split.images, dim)?.truncated(k)?;
            let c = fitted.to_device::<B>(&device);
            tasks::per_image_sse(&c, self.test.images, dim, self.batch, &device)
        };
        let (metrics, pics, _) = tasks::run_tasks(&codec, self.tasks, Some(&one_class), &device)?;
        let art = codec_pictures(&codec, self.test, self.artifacts, pics, &device)?;
        Ok((m, art, metrics))
    }
}

/// A baseline codec's pictures with its tasks' ones, when this cell keeps pictures.
pub(super) fn codec_pictures<B: Backend, C: ae_core::Codec<B>>(
    codec: &C,
    test: &TestView<'_>,
    keep: bool,
    tasks: crate::artifacts::TaskPictures,
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
pub(super) struct EvalPixels<'a> {
    pub(super) test: &'a TestView<'a>,
    pub(super) artifacts: bool,
    pub(super) tasks: &'a TaskCtx<'a>,
}

impl BackendJob for EvalPixels<'_> {
    type Output = (Option<Artifacts>, tasks::Metrics);
    fn run<B: Backend>(self, device: B::Device) -> Result<Self::Output> {
        let codec = tasks::Identity { dim: self.test.dim };
        let (metrics, pics, _) = tasks::run_tasks::<B, _>(&codec, self.tasks, None, &device)?;
        let art = codec_pictures::<B, _>(&codec, self.test, self.artifacts, pics, &device)?;
        Ok((art, metrics))
    }
}

/// Trains an autoencoder on backend `B` (autodiff on top), evaluates it on the test
/// images and runs the experiment's tasks.
pub(super) struct TrainAe<'a> {
    pub(super) checked: ae_core::CheckedAe,
    pub(super) spec: &'a ae_core::CheckedTrain,
    pub(super) seed: u64,
    pub(super) train: &'a ae_data::Split,
    pub(super) test: &'a TestView<'a>,
    pub(super) eval_batch: usize,
    pub(super) artifacts: bool,
    pub(super) bar: &'a ProgressBar,
    pub(super) tasks: &'a TaskCtx<'a>,
    /// Where the training checkpoints (none for SGD, which keeps no exportable state).
    pub(super) checkpoint: Option<Checkpointing>,
}

/// What a trained cell reports.
pub(super) struct Trained {
    pub(super) metrics: ReconMetrics,
    pub(super) history: ae_core::History,
    pub(super) params: usize,
    pub(super) seconds: f64,
    pub(super) artifacts: Option<Artifacts>,
    pub(super) tasks: tasks::Metrics,
}

impl BackendJob for TrainAe<'_> {
    type Output = Trained;
    fn run<B: Backend>(self, device: B::Device) -> Result<Trained> {
        use burn::module::Module;
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
        // The training clock is the epochs' own, summed over sessions: a resumed cell
        // reports its whole training, not the last session's part of it.
        let seconds: f64 = history.epochs.iter().map(|e| e.seconds).sum();
        let metrics = evaluate::<B, _>(
            &model,
            self.test.images,
            self.test.dim,
            self.eval_batch,
            &device,
        )?;
        let one_class = |split: &ae_data::Split| -> Result<Vec<f64>> {
            let (m, _) = fit(split)?;
            tasks::per_image_sse(
                &m,
                self.test.images,
                self.test.dim,
                self.eval_batch,
                &device,
            )
        };
        let (mut tasks, pics, kmeans) =
            tasks::run_tasks(&model, self.tasks, Some(&one_class), &device)?;
        tasks.extend(tasks::run_ae_tasks::<burn::backend::Autodiff<B>>(
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
