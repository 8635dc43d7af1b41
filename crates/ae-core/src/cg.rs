//! Nonlinear conjugate gradients on a mini-batch, as Hinton & Salakhutdinov (2006)
//! fine-tuned their unrolled networks: Polak–Ribière+ directions with a Moré–Thuente line
//! search (argmin), a few line searches per batch of ~1000 images.

use std::cell::{Cell, RefCell};
use std::time::Instant;

use argmin::core::{CostFunction, Executor, Gradient};
use argmin::solver::conjugategradient::NonlinearConjugateGradient;
use argmin::solver::conjugategradient::beta::PolakRibierePlus;
use argmin::solver::linesearch::MoreThuenteLineSearch;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use crate::error::Result;
use crate::flat::{grads_to_vec, params_from_vec, params_to_vec};
use crate::model::{Autoencoder, to_vec};
use crate::zoo::AnyAe;

/// The last point evaluated, its cost and its gradient.
#[derive(Default)]
struct Cache {
    at: Vec<f64>,
    cost: f64,
    grad: Vec<f64>,
    valid: bool,
}

/// Seconds spent in [`BatchObjective::eval`]'s forward and backward passes, and in moving
/// parameters and gradients between the solver's f64 vectors and the module.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CgTimes {
    /// Forward + backward passes (what a batch cannot avoid).
    pub passes: f64,
    /// Copies and conversions around them.
    pub copies: f64,
}

/// The training objective on one fixed batch, as a function of the flat parameters.
struct BatchObjective<B: AutodiffBackend> {
    model: AnyAe<B>,
    input: Tensor<B, 2>,
    target: Tensor<B, 2>,
    /// The line search asks for the cost and the gradient at the same point separately,
    /// and the solver asks again at the point it accepts; one forward and backward pass
    /// answers all. The point's buffer is reused: 8 bytes × every parameter (22 MB for the
    /// Hinton net), and a fresh allocation of that size page-faults on every evaluation.
    cache: RefCell<Cache>,
    evaluations: Cell<usize>,
    /// The reconstruction part of the cost at the first point evaluated (the start).
    start_recon: Cell<Option<f64>>,
    times: Cell<CgTimes>,
}

impl<B: AutodiffBackend> BatchObjective<B> {
    /// The cost at `p`, evaluating (and caching the gradient) unless `p` was the last point.
    fn cost_at(&self, p: &[f64]) -> Result<f64> {
        {
            let c = self.cache.borrow();
            if c.valid && c.at.as_slice() == p {
                return Ok(c.cost);
            }
        }
        let (cost, grad) = self.eval(p)?;
        self.store(p, cost, grad);
        Ok(cost)
    }

    /// The gradient at `p`, evaluating unless `p` was the last point.
    fn gradient_at(&self, p: &[f64]) -> Result<Vec<f64>> {
        {
            let c = self.cache.borrow();
            if c.valid && c.at.as_slice() == p {
                return Ok(c.grad.clone());
            }
        }
        let (cost, grad) = self.eval(p)?;
        self.store(p, cost, grad.clone());
        Ok(grad)
    }

    fn store(&self, p: &[f64], cost: f64, grad: Vec<f64>) {
        let mut c = self.cache.borrow_mut();
        c.at.clear();
        c.at.extend_from_slice(p);
        c.cost = cost;
        c.grad = grad;
        c.valid = true;
    }

    /// One forward and backward pass at `p`: the cost and its gradient.
    fn eval(&self, p: &[f64]) -> Result<(f64, Vec<f64>)> {
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
        if self.start_recon.get().is_none() {
            let recon = to_vec(out.recon)?.first().copied().unwrap_or(f32::NAN);
            self.start_recon.set(Some(f64::from(recon)));
        }
        let grads = GradientsParams::from_grads(out.total.backward(), &model);
        let passes = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let grad: Vec<f64> = grads_to_vec(&model, &grads)?;
        self.evaluations.set(self.evaluations.get() + 1);
        let mut times = self.times.get();
        times.passes += passes;
        times.copies += copy_in + t.elapsed().as_secs_f64();
        self.times.set(times);
        Ok((cost, grad))
    }
}

impl<B: AutodiffBackend> CostFunction for BatchObjective<B> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, p: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        let cost = self.cost_at(p)?;
        if !cost.is_finite() {
            // An infinite cost makes the line search shrink its step instead of failing.
            return Ok(f64::INFINITY);
        }
        Ok(cost)
    }
}

impl<B: AutodiffBackend> Gradient for BatchObjective<B> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, p: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        Ok(self.gradient_at(p)?)
    }
}

/// What one batch of conjugate gradients did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CgStep {
    /// Objective before the line searches.
    pub cost_before: f64,
    /// Best objective found.
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

/// Runs `line_searches` iterations of nonlinear CG on the batch (`input` -> `target`),
/// starting from `model`'s parameters; returns the model at the best point found. A failed
/// line search (no acceptable step) leaves the parameters as they were.
pub fn cg_batch<B: AutodiffBackend>(
    model: AnyAe<B>,
    input: Tensor<B, 2>,
    target: Tensor<B, 2>,
    line_searches: u64,
) -> Result<(AnyAe<B>, CgStep)> {
    let t = Instant::now();
    let start: Vec<f64> = params_to_vec(&model)?;
    let objective = BatchObjective {
        model: model.clone(),
        input,
        target,
        cache: RefCell::new(Cache::default()),
        evaluations: Cell::new(0),
        start_recon: Cell::new(None),
        times: Cell::new(CgTimes::default()),
    };
    let cost_before = objective.cost_at(&start)?;
    let recon_before = objective.start_recon.get().unwrap_or(f64::NAN);
    let times_of = |o: &BatchObjective<B>| o.times.get();
    let solver =
        NonlinearConjugateGradient::new(MoreThuenteLineSearch::new(), PolakRibierePlus::new())
            .restart_orthogonality(0.1);
    let result = Executor::new(objective, solver)
        .configure(|s| s.param(start.clone()).max_iters(line_searches))
        .run();
    let (best, cost_after, evaluations, times) = match result {
        Ok(mut r) => {
            let cost = r.state().get_best_cost();
            let (evals, times) = r
                .problem
                .problem
                .as_ref()
                .map_or((0, CgTimes::default()), |p| {
                    (p.evaluations.get(), times_of(p))
                });
            match r.state.take_best_param() {
                Some(p) if cost.is_finite() && cost <= cost_before => (p, cost, evals, times),
                _ => (start, cost_before, evals, times),
            }
        }
        // Our own objective's errors (a device read-back, a parameter copy) stop training
        // as anywhere else; a failed search (no acceptable step) keeps the start, and its
        // passes are not counted.
        Err(e) => match e.downcast::<crate::error::CoreError>() {
            Ok(ours) => return Err(ours),
            Err(_solver) => (start, cost_before, 0, CgTimes::default()),
        },
    };
    let model = params_from_vec(model, &best)?;
    Ok((
        model,
        CgStep {
            cost_before,
            cost_after,
            evaluations,
            recon_before,
            times,
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
        let flat: Vec<f32> = params_to_vec(&model).unwrap();
        assert_eq!(flat.len(), model.num_params());
        let same = params_from_vec(model.clone(), &flat).unwrap();
        let back: Vec<f32> = params_to_vec(&same).unwrap();
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
