//! The epoch loop: seeded batches, corruption, steps, validation, early stopping and
//! checkpoints.

use std::time::Instant;

use ae_data::{Batches, Split};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use super::checkpoint::{Checkpointing, TrainState};
use super::early::{EarlyStopping, Verdict};
use super::step::{Step, Stepper};
use super::{EpochHook, EpochStats, History, Progress, TrainSpec, scalar};
use crate::config::CheckedAe;
use crate::error::{CoreError, Result};
use crate::model::{Autoencoder, from_slice};
use crate::zoo::AnyAe;

pub(super) struct Run<'a, B: AutodiffBackend> {
    pub checked: &'a CheckedAe,
    pub spec: &'a TrainSpec,
    pub seed: u64,
    pub train: &'a Split,
    pub val: Option<&'a Split>,
    pub device: &'a B::Device,
    pub checkpoint: Option<&'a Checkpointing>,
}

impl<B: AutodiffBackend> Run<'_, B> {
    /// What identifies this run for its checkpoint: a checkpoint of any other run (other
    /// config, spec, seed or data) is refused.
    fn fingerprint(&self) -> String {
        format!(
            "{}|{}|seed {}|train {}x{}|val {}",
            serde_json::to_string(self.checked.config()).unwrap_or_default(),
            serde_json::to_string(self.spec).unwrap_or_default(),
            self.seed,
            self.train.len(),
            self.train.dim(),
            self.val.map_or(0, |v| v.len()),
        )
    }

    pub(super) fn go(
        &self,
        mut model: AnyAe<B>,
        stepper: &mut dyn Stepper<B>,
        progress: &mut dyn FnMut(Progress),
        on_epoch: &mut EpochHook<'_, B::InnerBackend>,
    ) -> Result<(AnyAe<B::InnerBackend>, History)> {
        let dim = self.train.dim();
        let batches = self.train.len().div_ceil(self.spec.batch_size);
        let corruption = self.checked.corruption();
        let mut history = History::default();
        // The best epoch's weights: returned whenever there is a validation split.
        let mut best: Option<AnyAe<B::InnerBackend>> = None;
        let mut early = EarlyStopping::new(self.spec.patience);
        let started = Instant::now();
        let mut seen = 0usize;
        // Where to start: the beginning, or a checkpoint of this very run.
        let (mut first_epoch, mut first_batch) = (0, 0);
        let (mut resumed_sums, mut resumed_elapsed) = ((0.0, 0.0), (0.0, 0.0));
        if let Some(ck) = self.checkpoint
            && let Some(state) = TrainState::load(&ck.path)?
        {
            if state.fingerprint != self.fingerprint() {
                return Err(CoreError::Io {
                    path: ck.path.clone(),
                    message: "this checkpoint belongs to another run (config, training \
                              settings, seed or data differ); delete it to start afresh"
                        .into(),
                });
            }
            model = crate::flat::params_from_vec(model, &state.params)?;
            stepper.import(&model, state.optimizer)?;
            crate::noise::set_position(state.rng);
            if let Some((v, flat)) = state.best {
                best = Some(crate::flat::params_from_vec(model.valid(), &flat)?);
                early.best = Some(v);
            }
            early.since_best = state.since_best;
            (first_epoch, first_batch) = (state.epoch, state.batch);
            (resumed_sums, resumed_elapsed) = (state.sums, state.elapsed);
            history = state.history;
            seen = state.seen;
        }
        let seen_at_start = seen;
        let mut last_checkpoint = Instant::now();
        // Freezes the run before batch `batch` of epoch `epoch`.
        let snapshot = |model: &AnyAe<B>,
                        stepper: &dyn Stepper<B>,
                        (epoch, batch): (usize, usize),
                        sums: (f64, f64),
                        seen: usize,
                        elapsed: (f64, f64),
                        history: &History,
                        best: &Option<AnyAe<B::InnerBackend>>,
                        early: &EarlyStopping|
         -> Result<()> {
            let Some(ck) = self.checkpoint else {
                return Ok(());
            };
            let best = match (best, early.best) {
                (Some(m), Some(v)) => Some((v, crate::flat::params_to_vec(m)?)),
                _ => None,
            };
            TrainState {
                version: super::checkpoint::VERSION,
                fingerprint: self.fingerprint(),
                epoch,
                batch,
                sums,
                seen,
                elapsed,
                history: history.clone(),
                best,
                since_best: early.since_best,
                params: crate::flat::params_to_vec(model)?,
                optimizer: stepper.export(model)?,
                rng: crate::noise::position(),
            }
            .save(&ck.path)
        };
        for epoch in first_epoch..self.spec.epochs {
            let t = Instant::now();
            let resumed_here = epoch == first_epoch && first_batch > 0;
            let skip = if epoch == first_epoch { first_batch } else { 0 };
            let (mut total_sum, mut recon_sum) = if resumed_here {
                resumed_sums
            } else {
                (0f64, 0f64)
            };
            let epoch_before = if resumed_here { resumed_elapsed.0 } else { 0.0 };
            for (bi, batch) in
                Batches::shuffled(self.train, self.spec.batch_size, self.seed, epoch as u64)
                    .enumerate()
                    .skip(skip)
            {
                let n = batch.len();
                // A distinct, reproducible noise draw for every (seed, epoch, batch).
                let s = self.seed ^ ((epoch as u64) << 32) ^ (bi as u64).wrapping_mul(0x9e37_79b9);
                let binary;
                let pixels = if self.spec.binarize {
                    binary = ae_data::binarize_dynamic(&batch.images, s.rotate_left(17));
                    &binary
                } else {
                    &batch.images
                };
                let x = from_slice::<B>(pixels, n, dim, self.device);
                let input = match corruption {
                    Some(c) => from_slice::<B>(&c.apply(pixels, s), n, dim, self.device),
                    None => x.clone(),
                };
                let step = Step {
                    index: epoch * batches + bi,
                    total: self.spec.epochs * batches,
                };
                let (next, total, recon) = stepper.step(step, model, input, x)?;
                model = next;
                if !total.is_finite() {
                    return Err(CoreError::NonFinite {
                        epoch,
                        batch: bi,
                        value: total,
                    });
                }
                total_sum += f64::from(total) * n as f64;
                recon_sum += f64::from(recon) * n as f64;
                seen += n;
                progress(Progress {
                    epoch: epoch + 1,
                    epochs: self.spec.epochs,
                    batch: bi + 1,
                    batches,
                    loss: total,
                });
                if let Some(ck) = self.checkpoint
                    && bi + 1 < batches
                    && last_checkpoint.elapsed() >= ck.every
                {
                    snapshot(
                        &model,
                        &*stepper,
                        (epoch, bi + 1),
                        (total_sum, recon_sum),
                        seen,
                        (
                            epoch_before + t.elapsed().as_secs_f64(),
                            started.elapsed().as_secs_f64(),
                        ),
                        &history,
                        &best,
                        &early,
                    )?;
                    last_checkpoint = Instant::now();
                }
            }
            let val_recon = match self.val {
                Some(v) => Some(recon_on(
                    &model.valid(),
                    v,
                    self.spec.batch_size,
                    self.device,
                )?),
                None => None,
            };
            let n = self.train.len() as f64;
            let mut stats = EpochStats {
                epoch: epoch + 1,
                train_total: total_sum / n,
                train_recon: recon_sum / n,
                val_recon,
                seconds: epoch_before + t.elapsed().as_secs_f64(),
                extra: Vec::new(),
            };
            stats.extra = on_epoch(&stats, &model.valid())?;
            history.epochs.push(stats);
            if let Some(v) = val_recon {
                match early.update(v) {
                    Verdict::Improved => best = Some(model.valid()),
                    Verdict::Continue => {}
                    Verdict::Stop => {
                        history.stopped_early = true;
                        break;
                    }
                }
            }
            if epoch + 1 < self.spec.epochs {
                snapshot(
                    &model,
                    &*stepper,
                    (epoch + 1, 0),
                    (0.0, 0.0),
                    seen,
                    (0.0, 0.0),
                    &history,
                    &best,
                    &early,
                )?;
                last_checkpoint = Instant::now();
            }
        }
        // A run resumed from its finished checkpoint trains nothing: it keeps the
        // throughput measured when it did.
        if seen > seen_at_start {
            history.samples_per_second =
                (seen - seen_at_start) as f64 / started.elapsed().as_secs_f64();
        }
        if first_epoch < self.spec.epochs {
            // The finished run (epoch = epochs) stays on disk until the caller has stored
            // what it evaluates from the model: a kill during that evaluation (DEC on 60 000
            // images takes minutes) then costs the evaluation, not hours of training.
            // Resuming from it returns the same model and history without a step.
            snapshot(
                &model,
                &*stepper,
                (self.spec.epochs, 0),
                (0.0, 0.0),
                seen,
                (0.0, 0.0),
                &history,
                &best,
                &early,
            )?;
        }
        history.best_epoch = early.best.and_then(|b| {
            history
                .epochs
                .iter()
                .find(|e| e.val_recon == Some(b))
                .map(|e| e.epoch)
        });
        let model = match best {
            Some(m) => m,
            None => model.valid(),
        };
        Ok((model, history))
    }
}

/// Mean reconstruction loss per image of `model` on `split` (no corruption, no grad).
pub fn recon_on<B: Backend>(
    model: &AnyAe<B>,
    split: &Split,
    batch_size: usize,
    device: &B::Device,
) -> Result<f64> {
    let mut sum = 0f64;
    for batch in Batches::sequential(split, batch_size) {
        let x = from_slice::<B>(&batch.images, batch.len(), split.dim(), device);
        sum += f64::from(scalar(model.loss(x).recon)?) * batch.len() as f64;
    }
    Ok(sum / split.len() as f64)
}
