//! A module's parameters (and their gradients) as one flat vector, for optimizers that
//! work on vectors, such as the conjugate gradients of [`crate::cg`].

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use crate::error::{CoreError, Result};

/// Appends `t`'s values to `values`.
fn extend_from<B: Backend, const D: usize>(values: &mut Vec<f32>, t: Tensor<B, D>) -> Result<()> {
    let data = t.into_data().convert::<f32>();
    let slice = data
        .as_slice::<f32>()
        .map_err(|e| CoreError::Data(e.to_string()))?;
    values.extend_from_slice(slice);
    Ok(())
}

struct Collect {
    values: Vec<f32>,
    error: Option<CoreError>,
}

impl<B: Backend> ModuleVisitor<B> for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        match extend_from(&mut self.values, param.val()) {
            Ok(()) => {}
            Err(e) => self.error = Some(e),
        }
    }
}

/// Every float parameter of `module`, in burn's visiting order, concatenated.
pub fn params_to_vec<B: Backend, M: Module<B>>(module: &M) -> Result<Vec<f32>> {
    let mut c = Collect {
        values: Vec::with_capacity(module.num_params()),
        error: None,
    };
    module.visit(&mut c);
    c.error.map_or(Ok(c.values), Err)
}

struct Load<'a> {
    flat: &'a [f32],
    at: usize,
}

impl<B: Backend> ModuleMapper<B> for Load<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        param.map(|t| {
            let shape = t.shape();
            let n = shape.num_elements();
            let end = (self.at + n).min(self.flat.len());
            let values = self.flat[self.at.min(end)..end].to_vec();
            self.at += n;
            if values.len() != n {
                // The caller checked the length; keep the old value rather than panic.
                return t;
            }
            let fresh = Tensor::from_data(TensorData::new(values, shape), &t.device());
            if t.is_require_grad() {
                fresh.require_grad()
            } else {
                fresh
            }
        })
    }
}

/// `module` with its parameters replaced by `flat` (same order as [`params_to_vec`]).
pub fn params_from_vec<B: Backend, M: Module<B>>(module: M, flat: &[f32]) -> Result<M> {
    if flat.len() != module.num_params() {
        return Err(CoreError::Shape {
            what: "flat parameter vector",
            expected: format!("{} values", module.num_params()),
            found: format!("{} values", flat.len()),
        });
    }
    Ok(module.map(&mut Load { flat, at: 0 }))
}

struct CollectGrads<'a> {
    grads: &'a GradientsParams,
    values: Vec<f32>,
    error: Option<CoreError>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for CollectGrads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        match self.grads.get::<B::InnerBackend, D>(param.id) {
            Some(g) => match extend_from(&mut self.values, g) {
                Ok(()) => {}
                Err(e) => self.error = Some(e),
            },
            // A parameter the loss does not depend on has a zero gradient.
            None => self
                .values
                .extend(std::iter::repeat_n(0.0, param.val().shape().num_elements())),
        }
    }
}

/// The gradient of every parameter of `module`, flattened like [`params_to_vec`], written
/// into `buffer` (cleared first; its memory is reused: a fresh vector of a large network's
/// size page-faults on every write).
pub fn grads_to_vec<B: AutodiffBackend, M: Module<B>>(
    module: &M,
    grads: &GradientsParams,
    mut buffer: Vec<f32>,
) -> Result<Vec<f32>> {
    buffer.clear();
    buffer.reserve(module.num_params());
    let mut c = CollectGrads {
        grads,
        values: buffer,
        error: None,
    };
    module.visit(&mut c);
    c.error.map_or(Ok(c.values), Err)
}
