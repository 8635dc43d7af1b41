//! One parameter update per batch: first-order optimizers through burn (with the
//! schedule's rate), conjugate gradients per batch, and each optimizer's state in the
//! form a checkpoint stores.

use burn::module::{ModuleVisitor, Param};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::record::AdaptorRecord;
use burn::optim::{AdamState, AdaptiveMomentumState, GradientsParams, Optimizer, Sgd};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use super::checkpoint::ParamState;
use super::{TrainSpec, scalar};
use crate::cg::cg_batch;
use crate::error::{CoreError, Result};
use crate::model::{Autoencoder, to_vec};
use crate::zoo::AnyAe;

/// One parameter update on a batch (`step` counts from 0 over the whole run, and sets the
/// scheduled rate); returns the updated model and the batch's total and reconstruction
/// losses before the update.
pub(super) trait Stepper<B: AutodiffBackend> {
    fn step(
        &mut self,
        step: Step,
        model: AnyAe<B>,
        input: Tensor<B, 2>,
        target: Tensor<B, 2>,
    ) -> Result<(AnyAe<B>, f32, f32)>;
    /// The optimizer's state per parameter of `model`, in visiting order, for a checkpoint.
    fn export(&self, model: &AnyAe<B>) -> Result<Vec<Option<ParamState>>>;
    /// Restores what [`Stepper::export`] returned, onto `model`'s parameters.
    fn import(&mut self, model: &AnyAe<B>, state: Vec<Option<ParamState>>) -> Result<()>;
}

/// An optimizer whose per-parameter state can be written to and read from a checkpoint.
pub(super) trait OptimState<B: AutodiffBackend>: Sized {
    fn export(&self, model: &AnyAe<B>) -> Result<Vec<Option<ParamState>>>;
    fn import(self, model: &AnyAe<B>, state: Vec<Option<ParamState>>) -> Result<Self>;
}

type AdamOf<B> = OptimizerAdaptor<crate::kernel::FusedAdam, AnyAe<B>, B>;
type AdamRecords<B> = <AdamOf<B> as Optimizer<AnyAe<B>, B>>::Record;

impl<B: AutodiffBackend> OptimState<B> for AdamOf<B> {
    fn export(&self, model: &AnyAe<B>) -> Result<Vec<Option<ParamState>>> {
        struct Export<B: AutodiffBackend> {
            records: AdamRecords<B>,
            out: Vec<Option<ParamState>>,
            error: Option<CoreError>,
        }
        impl<B: AutodiffBackend> ModuleVisitor<B> for Export<B> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
                let state = self.records.get(&param.id).map(|r| {
                    let s: AdamState<B::InnerBackend, D> = r.clone().into_state::<D>();
                    let m = s.momentum;
                    Ok::<_, CoreError>(ParamState {
                        time: m.time,
                        moment_1: to_vec(m.moment_1.reshape([-1]))?,
                        moment_2: to_vec(m.moment_2.reshape([-1]))?,
                    })
                });
                match state.transpose() {
                    Ok(s) => self.out.push(s),
                    Err(e) => self.error = Some(e),
                }
            }
        }
        let mut v = Export {
            records: self.to_record(),
            out: Vec::new(),
            error: None,
        };
        model.visit(&mut v);
        v.error.map_or(Ok(v.out), Err)
    }

    fn import(self, model: &AnyAe<B>, state: Vec<Option<ParamState>>) -> Result<Self> {
        struct Import<B: AutodiffBackend> {
            state: std::vec::IntoIter<Option<ParamState>>,
            records: AdamRecords<B>,
            error: Option<CoreError>,
        }
        impl<B: AutodiffBackend> ModuleVisitor<B> for Import<B> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
                let Some(Some(s)) = self.state.next() else {
                    return;
                };
                let shape = param.val().shape();
                let n = shape.num_elements();
                if s.moment_1.len() != n || s.moment_2.len() != n {
                    self.error = Some(CoreError::Shape {
                        what: "optimizer state in the checkpoint",
                        expected: format!("{n} values"),
                        found: format!("{} and {}", s.moment_1.len(), s.moment_2.len()),
                    });
                    return;
                }
                let device = param.val().device();
                let t = |v: Vec<f32>| {
                    Tensor::<B::InnerBackend, D>::from_data(
                        TensorData::new(v, shape.clone()),
                        &device,
                    )
                };
                let m = AdaptiveMomentumState::new(s.time, t(s.moment_1), t(s.moment_2));
                self.records
                    .insert(param.id, AdaptorRecord::from_state::<D>(AdamState::new(m)));
            }
        }
        let mut v = Import {
            state: state.into_iter(),
            records: AdamRecords::<B>::default(),
            error: None,
        };
        model.visit(&mut v);
        match v.error {
            Some(e) => Err(e),
            None => Ok(self.load_record(v.records)),
        }
    }
}

impl<B: AutodiffBackend> OptimState<B> for OptimizerAdaptor<Sgd<B::InnerBackend>, AnyAe<B>, B> {
    fn export(&self, _: &AnyAe<B>) -> Result<Vec<Option<ParamState>>> {
        // `fit_from` refuses SGD with checkpointing before training starts.
        Err(CoreError::InvalidConfig {
            field: "train.optimizer",
            value: "sgd".into(),
            expected: "checkpointing supports Adam and conjugate gradients".into(),
        })
    }
    fn import(self, model: &AnyAe<B>, _: Vec<Option<ParamState>>) -> Result<Self> {
        OptimState::export(&self, model).map(|_| self)
    }
}

/// Which step of how many.
#[derive(Debug, Clone, Copy)]
pub(super) struct Step {
    pub index: usize,
    pub total: usize,
}

pub(super) struct BurnStep<'a, O> {
    /// One optimizer per phase of the model's step (see
    /// [`crate::model::Autoencoder::phases`]), each with its own state: an adversarial
    /// AE's generator step must not share Adam moments with its reconstruction step.
    /// Empty only while a checkpoint is restored.
    pub optims: Vec<O>,
    pub spec: &'a TrainSpec,
}

impl<'a, O: Clone> BurnStep<'a, O> {
    /// `phases` fresh copies of `optim`.
    pub fn new(optim: O, phases: usize, spec: &'a TrainSpec) -> Self {
        BurnStep {
            optims: vec![optim; phases.max(1)],
            spec,
        }
    }
}

impl<B: AutodiffBackend, O: Optimizer<AnyAe<B>, B> + OptimState<B>> Stepper<B> for BurnStep<'_, O> {
    /// The phases' states one after the other (one phase: exactly the optimizer's).
    fn export(&self, model: &AnyAe<B>) -> Result<Vec<Option<ParamState>>> {
        let mut out = Vec::new();
        for o in &self.optims {
            out.extend(o.export(model)?);
        }
        Ok(out)
    }

    fn import(&mut self, model: &AnyAe<B>, state: Vec<Option<ParamState>>) -> Result<()> {
        let optims = std::mem::take(&mut self.optims);
        let per = state.len() / optims.len().max(1);
        if per * optims.len() != state.len() {
            return Err(CoreError::Shape {
                what: "optimizer state in the checkpoint",
                expected: format!("{} equal parts, one per phase", optims.len()),
                found: format!("{} parameter states", state.len()),
            });
        }
        let mut parts = state.into_iter();
        for o in optims {
            let part: Vec<_> = parts.by_ref().take(per).collect();
            self.optims.push(o.import(model, part)?);
        }
        Ok(())
    }

    fn step(
        &mut self,
        step: Step,
        mut model: AnyAe<B>,
        input: Tensor<B, 2>,
        target: Tensor<B, 2>,
    ) -> Result<(AnyAe<B>, f32, f32)> {
        let lr = self.spec.schedule.lr(self.spec.lr, step.index, step.total);
        // One update per phase of the model's step (one for every family but those that
        // alternate, e.g. reconstruction / discriminator / generator); the batch's
        // losses reported are phase 0's.
        let (mut total, mut recon) = (0.0, 0.0);
        for phase in 0..model.phases() {
            let (objective, phase_recon) = if phase == 0 {
                let out = model.loss_against(input.clone(), target.clone());
                (out.total, Some(out.recon))
            } else {
                (model.phase_loss(phase, input.clone(), target.clone()), None)
            };
            let loss = scalar(objective.clone())?;
            if let Some(r) = phase_recon {
                (total, recon) = (loss, scalar(r)?);
            }
            if !loss.is_finite() {
                // Stepping on a non-finite loss would only spread NaNs into the weights.
                return Ok((model, loss, recon));
            }
            let grads = GradientsParams::from_grads(objective.backward(), &model);
            model = self.optims[phase].step(lr, model, grads);
        }
        Ok((model, total, recon))
    }
}

pub(super) struct CgStepper {
    pub line_searches: u64,
}

impl<B: AutodiffBackend> Stepper<B> for CgStepper {
    // Each batch's conjugate-gradient search starts afresh (as the paper's `minimize`
    // calls do): between batches there is no optimizer state.
    fn export(&self, _: &AnyAe<B>) -> Result<Vec<Option<ParamState>>> {
        Ok(Vec::new())
    }

    fn import(&mut self, _: &AnyAe<B>, _: Vec<Option<ParamState>>) -> Result<()> {
        Ok(())
    }

    fn step(
        &mut self,
        _step: Step,
        model: AnyAe<B>,
        input: Tensor<B, 2>,
        target: Tensor<B, 2>,
    ) -> Result<(AnyAe<B>, f32, f32)> {
        // The batch's loss before the step comes from the search's first evaluation (no
        // separate forward pass: it was 1 in ~7 passes of a batch).
        let (model, step) = cg_batch(model, input, target, self.line_searches)?;
        Ok((model, step.cost_before as f32, step.recon_before as f32))
    }
}
