//! A module's parameters (and their gradients) as one flat vector, for optimizers that
//! work on vectors, such as the conjugate gradients of [`crate::cg`].

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use crate::error::{CoreError, Result};

/// Appends `t`'s values to `values`, converting in the same pass.
fn extend_from<B: Backend, const D: usize, T: FlatElem>(
    values: &mut Vec<T>,
    t: Tensor<B, D>,
) -> Result<()> {
    let data = t.into_data().convert::<f32>();
    let slice = data
        .as_slice::<f32>()
        .map_err(|e| CoreError::Data(e.to_string()))?;
    values.extend(slice.iter().map(|&v| T::from_param(v)));
    Ok(())
}

/// An element type of a flat vector: f32 (the parameters' own) or f64 (what a solver
/// such as argmin's conjugate gradients works in), converted in the one pass that copies.
pub trait FlatElem: Copy + Send + Sync + 'static {
    /// The value as a parameter.
    fn to_param(self) -> f32;
    /// A parameter (or gradient) value as this type.
    fn from_param(v: f32) -> Self;
}

impl FlatElem for f32 {
    fn to_param(self) -> f32 {
        self
    }
    fn from_param(v: f32) -> Self {
        v
    }
}

impl FlatElem for f64 {
    fn to_param(self) -> f32 {
        self as f32
    }
    fn from_param(v: f32) -> Self {
        f64::from(v)
    }
}

struct Collect<T> {
    values: Vec<T>,
    error: Option<CoreError>,
}

impl<B: Backend, T: FlatElem> ModuleVisitor<B> for Collect<T> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        match extend_from(&mut self.values, param.val()) {
            Ok(()) => {}
            Err(e) => self.error = Some(e),
        }
    }
}

/// Every float parameter of `module`, in burn's visiting order, concatenated.
pub fn params_to_vec<B: Backend, M: Module<B>, T: FlatElem>(module: &M) -> Result<Vec<T>> {
    let mut c = Collect {
        values: Vec::with_capacity(module.num_params()),
        error: None,
    };
    module.visit(&mut c);
    c.error.map_or(Ok(c.values), Err)
}

struct Load<'a, T> {
    flat: &'a [T],
    at: usize,
}

impl<B: Backend, T: FlatElem> ModuleMapper<B> for Load<'_, T> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        param.map(|t| {
            let shape = t.shape();
            let n = shape.num_elements();
            let end = (self.at + n).min(self.flat.len());
            let values: Vec<f32> = self.flat[self.at.min(end)..end]
                .iter()
                .map(|&v| v.to_param())
                .collect();
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
pub fn params_from_vec<B: Backend, M: Module<B>, T: FlatElem>(module: M, flat: &[T]) -> Result<M> {
    if flat.len() != module.num_params() {
        return Err(CoreError::Shape {
            what: "flat parameter vector",
            expected: format!("{} values", module.num_params()),
            found: format!("{} values", flat.len()),
        });
    }
    Ok(module.map(&mut Load { flat, at: 0 }))
}

struct CollectGrads<'a, T> {
    grads: &'a GradientsParams,
    values: Vec<T>,
    error: Option<CoreError>,
}

impl<B: AutodiffBackend, T: FlatElem> ModuleVisitor<B> for CollectGrads<'_, T> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        match self.grads.get::<B::InnerBackend, D>(param.id) {
            Some(g) => match extend_from(&mut self.values, g) {
                Ok(()) => {}
                Err(e) => self.error = Some(e),
            },
            // A parameter the loss does not depend on has a zero gradient.
            None => self.values.extend(std::iter::repeat_n(
                T::from_param(0.0),
                param.val().shape().num_elements(),
            )),
        }
    }
}

/// The gradient of every parameter of `module`, flattened like [`params_to_vec`].
pub fn grads_to_vec<B: AutodiffBackend, M: Module<B>, T: FlatElem>(
    module: &M,
    grads: &GradientsParams,
) -> Result<Vec<T>> {
    let mut c = CollectGrads {
        grads,
        values: Vec::with_capacity(module.num_params()),
        error: None,
    };
    module.visit(&mut c);
    c.error.map_or(Ok(c.values), Err)
}
