//! The trainer shared by every variant: seeded batches, optional input corruption, Adam(W)
//! or SGD with momentum under a learning-rate schedule, or conjugate gradients; per-epoch
//! train/validation losses, early stopping, checkpoints that resume bit for bit, and a
//! hard stop on a non-finite loss. The spec and entry points live here, the epoch loop in
//! `run.rs`, the update step and optimizer state in `step.rs`.

pub mod checkpoint;
mod early;
mod run;
mod step;

pub use early::{EarlyStopping, Verdict};

use ae_data::Split;
use burn::grad_clipping::{GradientClipping, GradientClippingConfig};
use burn::optim::SgdConfig;
use burn::optim::momentum::MomentumConfig;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use run::Run;
pub use run::recon_on;
use step::{BurnStep, CgStepper};

use crate::config::CheckedAe;
use crate::error::{CoreError, Result};
use crate::model::{Autoencoder, to_vec};
use crate::schedule::Schedule;
use crate::zoo::AnyAe;
use checkpoint::Checkpointing;

/// The first value of a one-element loss tensor (NaN if empty).
fn scalar<B: Backend>(t: Tensor<B, 1>) -> Result<f32> {
    Ok(to_vec(t)?.first().copied().unwrap_or(f32::NAN))
}

/// Which optimizer to use.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum OptimizerSpec {
    /// Adam with burn's defaults (β₁ = 0.9, β₂ = 0.999, ε = 1e-5).
    Adam,
    /// SGD with (heavy-ball) momentum.
    Sgd {
        /// Momentum factor, e.g. 0.9.
        momentum: f64,
    },
    /// Nonlinear conjugate gradients (Polak–Ribière+, Moré–Thuente line search), as
    /// Hinton & Salakhutdinov (2006) fine-tuned: `line_searches` per batch, on batches of
    /// `batch_size` (the paper: 3 line searches on 1000 images). `lr` is unused.
    Cg {
        /// Line searches per batch.
        line_searches: u64,
    },
}

/// Training hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSpec {
    /// Optimizer.
    pub optimizer: OptimizerSpec,
    /// Learning rate.
    pub lr: f64,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Maximum number of epochs.
    pub epochs: usize,
    /// Images held out of the training split for validation (0: none).
    pub validation: usize,
    /// Stop when the validation loss has not improved for this many epochs (needs
    /// `validation > 0`). With a validation split the best epoch's weights are returned,
    /// whether or not training stopped early.
    pub patience: Option<usize>,
    /// Train on the first `train_limit` training images only (0: all).
    pub train_limit: usize,
    /// Dynamic binarization: every batch's pixels are redrawn as Bernoulli(intensity), the
    /// protocol of the VAE/IWAE likelihood papers (Burda et al. 2016).
    pub binarize: bool,
    /// How the learning rate moves over the run (`lr` is its peak); first-order optimizers.
    pub schedule: Schedule,
    /// Decoupled weight decay (AdamW, Loshchilov & Hutter 2019): every Adam step first
    /// shrinks each parameter by `lr · weight_decay`. 0: plain Adam.
    pub weight_decay: f64,
    /// Clip each parameter's gradient to this L2 norm before the update (burn's
    /// per-parameter `GradientClipping::Norm`); none by default.
    pub clip_grad_norm: Option<f64>,
}

impl Default for TrainSpec {
    fn default() -> Self {
        TrainSpec {
            optimizer: OptimizerSpec::Adam,
            lr: 1e-3,
            batch_size: 128,
            epochs: 5,
            validation: 0,
            patience: None,
            train_limit: 0,
            binarize: false,
            schedule: Schedule::Constant,
            weight_decay: 0.0,
            clip_grad_norm: None,
        }
    }
}

/// A [`TrainSpec`] whose every field was checked once, at the boundary (linfa's
/// `ParamGuard`): what [`fit`] and [`fit_from`] take, so nothing re-checks during
/// training. Built only by [`TrainSpec::check`]; reads as a `TrainSpec`.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedTrain(TrainSpec);

impl std::ops::Deref for CheckedTrain {
    type Target = TrainSpec;
    fn deref(&self) -> &TrainSpec {
        &self.0
    }
}

impl CheckedTrain {
    /// The settings as written.
    pub fn spec(&self) -> &TrainSpec {
        &self.0
    }
}

impl TrainSpec {
    /// Checks every field's range; errors name the field.
    pub fn check(&self) -> Result<CheckedTrain> {
        self.validate()?;
        Ok(CheckedTrain(self.clone()))
    }

    fn validate(&self) -> Result<()> {
        let bad = |field, value: String, expected: &str| {
            Err(CoreError::InvalidConfig {
                field,
                value,
                expected: expected.into(),
            })
        };
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad("train.lr", self.lr.to_string(), "a finite value > 0");
        }
        if self.batch_size == 0 {
            return bad("train.batch_size", "0".into(), ">= 1");
        }
        if self.epochs == 0 {
            return bad("train.epochs", "0".into(), ">= 1");
        }
        if self.patience.is_some() && self.validation == 0 {
            return bad(
                "train.patience",
                format!("{:?}", self.patience),
                "early stopping needs a validation split: set train.validation > 0",
            );
        }
        if let OptimizerSpec::Sgd { momentum } = self.optimizer
            && !(0.0..1.0).contains(&momentum)
        {
            return bad(
                "train.optimizer.momentum",
                momentum.to_string(),
                "0 <= momentum < 1",
            );
        }
        self.schedule.validate()?;
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return bad(
                "train.weight_decay",
                self.weight_decay.to_string(),
                "a finite value >= 0",
            );
        }
        if self.weight_decay > 0.0 && !matches!(self.optimizer, OptimizerSpec::Adam) {
            return bad(
                "train.weight_decay",
                self.weight_decay.to_string(),
                "decoupled weight decay is implemented for Adam (AdamW) only; set it to 0",
            );
        }
        if let Some(c) = self.clip_grad_norm
            && !(c > 0.0 && c.is_finite())
        {
            return bad("train.clip_grad_norm", c.to_string(), "a finite norm > 0");
        }
        if matches!(self.optimizer, OptimizerSpec::Cg { .. })
            && (self.schedule != Schedule::Constant || self.clip_grad_norm.is_some())
        {
            return bad(
                "train.schedule",
                self.schedule.describe(),
                "conjugate gradients choose their own step (line search): no schedule or clipping",
            );
        }
        if let OptimizerSpec::Cg { line_searches: 0 } = self.optimizer {
            return bad(
                "train.optimizer.line_searches",
                "0".into(),
                ">= 1 line search per batch",
            );
        }
        Ok(())
    }
}

/// Losses of one epoch (per image, batch means averaged over the epoch's images).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training objective (recon + regularizer).
    pub train_total: f64,
    /// Mean training reconstruction loss.
    pub train_recon: f64,
    /// Mean validation reconstruction loss, if there is a validation split.
    pub val_recon: Option<f64>,
    /// Wall time of the epoch in seconds.
    pub seconds: f64,
    /// What the caller's epoch hook measured (e.g. the test error), by name.
    #[serde(default)]
    pub extra: Vec<(String, f64)>,
}

/// Everything recorded while training.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One entry per epoch run.
    pub epochs: Vec<EpochStats>,
    /// Whether early stopping ended training.
    pub stopped_early: bool,
    /// With a validation split: the epoch (from 1) whose weights training returned.
    #[serde(default)]
    pub best_epoch: Option<usize>,
    /// Training images seen per second, over the whole run.
    pub samples_per_second: f64,
}

/// Where training is, for progress displays.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Current epoch, from 1.
    pub epoch: usize,
    /// Total epochs.
    pub epochs: usize,
    /// Batches done in this epoch.
    pub batch: usize,
    /// Batches per epoch.
    pub batches: usize,
    /// Loss of the last batch.
    pub loss: f32,
}

/// Trains a fresh model of `checked` on `train`, seeded by `seed`, on autodiff backend `B`.
pub fn fit<B: AutodiffBackend>(
    checked: &CheckedAe,
    spec: &CheckedTrain,
    seed: u64,
    train: &Split,
    device: &B::Device,
    progress: &mut dyn FnMut(Progress),
) -> Result<(AnyAe<B::InnerBackend>, History)> {
    let model = crate::noise::init_seeded::<B, _>(device, seed, || checked.init::<B>(device));
    fit_from(
        model,
        checked,
        spec,
        seed,
        train,
        device,
        progress,
        &mut |_, _| Ok(Vec::new()),
        None,
    )
}

/// Called after every epoch with its statistics and the model as it stands; what it
/// returns (e.g. the test error) is kept in that epoch's [`EpochStats::extra`], and so
/// survives a checkpoint and resume.
pub type EpochHook<'a, B> = dyn FnMut(&EpochStats, &AnyAe<B>) -> Result<Vec<(String, f64)>> + 'a;

/// Trains `model` (fresh, or pretrained — e.g. an unrolled RBM stack) of config `checked`.
/// Batches are shuffled and training noise drawn from `seed`; build `model` with
/// [`crate::noise::init_seeded`] for reproducible initial weights.
#[allow(clippy::too_many_arguments)] // each is a distinct input of one training run
pub fn fit_from<B: AutodiffBackend>(
    model: AnyAe<B>,
    checked: &CheckedAe,
    spec: &CheckedTrain,
    seed: u64,
    train: &Split,
    device: &B::Device,
    progress: &mut dyn FnMut(Progress),
    on_epoch: &mut EpochHook<'_, B::InnerBackend>,
    checkpoint: Option<&Checkpointing>,
) -> Result<(AnyAe<B::InnerBackend>, History)> {
    let spec = spec.spec();
    if checkpoint.is_some()
        && let OptimizerSpec::Sgd { .. } = spec.optimizer
    {
        return Err(CoreError::InvalidConfig {
            field: "train.optimizer",
            value: "sgd".into(),
            expected:
                "checkpointing supports Adam and conjugate gradients; train SGD without --resume"
                    .into(),
        });
    }
    // Training noise (VAE, contractive estimator) comes from this thread's host stream,
    // never the backend's process-wide RNG, so concurrent cells stay reproducible.
    crate::noise::seed(seed);
    let limited;
    let train = if spec.train_limit > 0 && spec.train_limit < train.len() {
        limited = train.head(spec.train_limit);
        &limited
    } else {
        train
    };
    let (train, val) = if spec.validation > 0 {
        let (t, v) = train.split_validation(spec.validation, seed).map_err(|e| {
            CoreError::InvalidConfig {
                field: "train.validation",
                value: spec.validation.to_string(),
                expected: e.to_string(),
            }
        })?;
        (t, Some(v))
    } else {
        (train.clone(), None)
    };
    let run = Run {
        checked,
        spec,
        seed,
        train: &train,
        val: val.as_ref(),
        device,
        checkpoint,
    };
    let phases = model.phases();
    if let OptimizerSpec::Cg { .. } = spec.optimizer
        && phases > 1
    {
        return Err(CoreError::InvalidConfig {
            field: "train.optimizer",
            value: "cg".into(),
            expected: format!(
                "a first-order optimizer (adam or sgd): `{}` takes {} alternating steps per \
                 batch, which one conjugate-gradient search over every parameter cannot",
                checked.config().name(),
                phases
            ),
        });
    }
    match spec.optimizer {
        OptimizerSpec::Adam => {
            let optim = crate::kernel::FusedAdam::init_with(spec.weight_decay as f32);
            let optim = match spec.clip_grad_norm {
                Some(c) => optim.with_grad_clipping(GradientClipping::Norm(c as f32)),
                None => optim,
            };
            run.go(
                model,
                &mut BurnStep::new(optim, phases, spec),
                progress,
                on_epoch,
            )
        }
        OptimizerSpec::Sgd { momentum } => {
            let optim = SgdConfig::new()
                .with_momentum(Some(
                    MomentumConfig::new()
                        .with_momentum(momentum)
                        .with_dampening(0.0),
                ))
                .with_gradient_clipping(
                    spec.clip_grad_norm
                        .map(|c| GradientClippingConfig::Norm(c as f32)),
                )
                .init();
            run.go(
                model,
                &mut BurnStep::new(optim, phases, spec),
                progress,
                on_epoch,
            )
        }
        OptimizerSpec::Cg { line_searches } => {
            run.go(model, &mut CgStepper { line_searches }, progress, on_epoch)
        }
    }
}
