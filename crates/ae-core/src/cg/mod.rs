//! Conjugate gradients on a mini-batch, as Hinton & Salakhutdinov (2006) fine-tuned their
//! unrolled networks: Rasmussen's `minimize` ([`minimize`]) with 3 line searches on each
//! batch of 1 000 images, every batch starting afresh (steepest descent first).

pub mod minimize;

use std::time::Instant;

use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use crate::error::Result;
use crate::flat::{grads_to_vec, params_from_vec, params_to_vec};
use crate::model::{Autoencoder, to_vec};
use crate::zoo::AnyAe;
use minimize::{Objective, minimize};

/// Seconds spent in [`BatchObjective::eval`]'s forward and backward passes, and in moving
/// parameters and gradients between the solver's flat vectors and the module.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CgTimes {
    /// Forward + backward passes (what a batch cannot avoid).
    pub passes: f64,
    /// Copies around them.
    pub copies: f64,
}

/// The training objective on one fixed batch, as a function of the flat parameters.
struct BatchObjective<B: AutodiffBackend> {
    model: AnyAe<B>,
    input: Tensor<B, 2>,
    target: Tensor<B, 2>,
    /// The reconstruction part of the cost at the first point evaluated (the start).
    start_recon: Option<f64>,
    /// The module built for the last evaluation: returned as is when the search ends
    /// there (most batches), saving a copy of every parameter.
    last: Option<AnyAe<B>>,
    times: CgTimes,
}

impl<B: AutodiffBackend> Objective for BatchObjective<B> {
    /// One forward and backward pass at `p`: the cost and its gradient.
    fn eval(&mut self, p: &[f32], spare: Vec<f32>) -> Result<(f64, Vec<f32>)> {
        let t = Instant::now();
        let model = params_from_vec(self.model.clone(), p)?;
        let copy_in = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let out = model.loss_against(self.input.clone(), self.target.clone());
        let cost = f64::from(
            to_vec(out.total.clone())?
                .first()
                .copied()
                .unwrap_or(f32::NAN),
        );
        if self.start_recon.is_none() {
            let recon = to_vec(out.recon)?.first().copied().unwrap_or(f32::NAN);
            self.start_recon = Some(f64::from(recon));
        }
        let grads = GradientsParams::from_grads(out.total.backward(), &model);
        let passes = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let grad = grads_to_vec(&model, &grads, spare)?;
        self.times.passes += passes;
        self.times.copies += copy_in + t.elapsed().as_secs_f64();
        self.last = Some(model);
        Ok((cost, grad))
    }
}

/// What one batch of conjugate gradients did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CgStep {
    /// Objective before the line searches.
    pub cost_before: f64,
    /// Objective at the returned parameters (never above `cost_before`).
    pub cost_after: f64,
    /// Forward + backward passes spent.
    pub evaluations: usize,
    /// Reconstruction part of the objective before the line searches.
    pub recon_before: f64,
    /// Where the evaluations' time went.
    pub times: CgTimes,
    /// Wall time of the whole batch (evaluations, the solver's vector arithmetic, the
    /// final copy into the module).
    pub seconds: f64,
}

/// Runs `line_searches` line searches of conjugate gradients on the batch (`input` ->
/// `target`), starting from `model`'s parameters; returns the model at the point reached
/// (the best one seen when a line search fails).
pub fn cg_batch<B: AutodiffBackend>(
    model: AnyAe<B>,
    input: Tensor<B, 2>,
    target: Tensor<B, 2>,
    line_searches: u64,
) -> Result<(AnyAe<B>, CgStep)> {
    let t = Instant::now();
    let mut x = params_to_vec(&model)?;
    let mut objective = BatchObjective {
        model: model.clone(),
        input,
        target,
        start_recon: None,
        last: None,
        times: CgTimes::default(),
    };
    let searches = usize::try_from(line_searches).unwrap_or(usize::MAX);
    let r = minimize(&mut x, &mut objective, searches)?;
    let model = match objective.last.take() {
        Some(last) if r.at_last_evaluation => last,
        _ => params_from_vec(model, &x)?,
    };
    Ok((
        model,
        CgStep {
            cost_before: r.values.first().copied().unwrap_or(f64::NAN),
            cost_after: r.value,
            evaluations: r.evaluations,
            recon_before: objective.start_recon.unwrap_or(f64::NAN),
            times: objective.times,
            seconds: t.elapsed().as_secs_f64(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AeConfig;
    use crate::model::from_slice;
    use burn::backend::{Autodiff, Flex};

    type A = Autodiff<Flex>;

    #[test]
    fn cg_lowers_the_batch_objective_and_flat_params_round_trip() {
        let d = Default::default();
        A::seed(&d, 1);
        let checked = AeConfig::Deep {
            arch: crate::ArchSpec {
                hidden: vec![8],
                ..Default::default()
            },
        }
        .check(12, 3)
        .unwrap();
        let model = checked.init::<A>(&d);
        let flat = params_to_vec(&model).unwrap();
        assert_eq!(flat.len(), model.num_params());
        let same = params_from_vec(model.clone(), &flat).unwrap();
        let back = params_to_vec(&same).unwrap();
        assert_eq!(back, flat);
        assert!(params_from_vec(model.clone(), &flat[1..]).is_err());
        let x: Vec<f32> = (0..16 * 12)
            .map(|i| ((i * 7 % 11) as f32 / 10.0).min(1.0))
            .collect();
        let x = from_slice::<A>(&x, 16, 12, &d);
        let (m, step) = cg_batch(model, x.clone(), x.clone(), 3).unwrap();
        assert!(step.evaluations >= 3, "{step:?}");
        assert!(step.cost_after < 0.99 * step.cost_before, "{step:?}");
        // The returned model really has the reported cost.
        let cost = to_vec(m.loss(x).total).unwrap()[0] as f64;
        assert!(
            (cost - step.cost_after).abs() < 1e-3 * cost,
            "{cost} vs {step:?}"
        );
    }
}
