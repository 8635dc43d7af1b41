//! Activations (sigmoid, ReLU) with a vectorised exp.

use super::*;

/// eˣ in f32 (Cephes' `expf`: range reduction by ln 2, a degree-7 polynomial, 2ⁿ by
/// exponent bits): within 2 ulp, and plain arithmetic, so loops over it vectorise.
#[inline(always)]
pub(super) fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split so n·LN2_HI is exact for |n| < 2⁹.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.3, 88.3);
    let n = (x * LOG2E + 0.5).floor();
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_2e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let e = p * r * r + r + 1.0;
    // n ∈ [-126, 127] after the clamp: a normal exponent.
    e * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// The logistic function; on flex one vectorised pass forward and one backward
/// (y (1 − y) g from the saved output) instead of burn's libm `expf` per element and
/// three tensor ops in the backward pass.
pub fn sigmoid<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    apply_unary(
        Pointwise::new(FusedFn::Sigmoid),
        x,
        burn::tensor::activation::sigmoid,
    )
}

/// max(x, 0); on flex one pass each way (burn's backward is a mask tensor and a fill).
pub fn relu<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    apply_unary(
        Pointwise::new(FusedFn::Relu),
        x,
        burn::tensor::activation::relu,
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FusedFn {
    Sigmoid,
    Relu,
}

/// An activation whose derivative is a function of its output, which is all it keeps.
#[derive(Clone, Debug)]
pub(super) struct Pointwise {
    f: FusedFn,
    /// y = f(x), shared with the output tensor.
    output: Option<FlexTensor>,
}

impl Pointwise {
    fn new(f: FusedFn) -> Self {
        Pointwise { f, output: None }
    }
}

/// Elements per rayon task of the elementwise kernels.
pub(super) const ELEMS_PER_TASK: usize = 1 << 14;

impl FlexUnary for Pointwise {
    fn forward(&self, x: &[f32], dims: &[usize]) -> (FlexTensor, Self) {
        let mut y = vec![0.0f32; x.len()];
        let f = self.f;
        y.par_chunks_mut(ELEMS_PER_TASK)
            .zip(x.par_chunks(ELEMS_PER_TASK))
            .for_each(|(y, x)| pulp::Arch::new().dispatch(PointwiseForward { f, y, x }));
        let y = flex_tensor(y, dims.to_vec());
        let op = Pointwise {
            f,
            output: Some(y.clone()),
        };
        (y, op)
    }

    fn backward(&self, grad: &[f32]) -> Vec<f32> {
        let output = self.output.as_ref().expect("set by forward");
        let y: &[f32] = output.as_slice().expect("contiguous f32 output");
        let f = self.f;
        let mut out = vec![0.0f32; grad.len()];
        out.par_chunks_mut(ELEMS_PER_TASK)
            .zip(grad.par_chunks(ELEMS_PER_TASK))
            .zip(y.par_chunks(ELEMS_PER_TASK))
            .for_each(|((out, g), y)| {
                pulp::Arch::new().dispatch(PointwiseBackward { f, out, g, y })
            });
        out
    }
}

simd_kernel!(PointwiseForward<'a> { f: FusedFn, y: &'a mut [f32], x: &'a [f32] } {
    match f {
        FusedFn::Sigmoid => {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = 1.0 / (1.0 + exp_f32(-x));
            }
        }
        FusedFn::Relu => {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = x.max(0.0);
            }
        }
    }
});

simd_kernel!(PointwiseBackward<'a> { f: FusedFn, out: &'a mut [f32], g: &'a [f32], y: &'a [f32] } {
    match f {
        FusedFn::Sigmoid => {
            for ((o, &g), &y) in out.iter_mut().zip(g).zip(y) {
                *o = g * y * (1.0 - y);
            }
        }
        FusedFn::Relu => {
            for ((o, &g), &y) in out.iter_mut().zip(g).zip(y) {
                *o = if y > 0.0 { g } else { 0.0 };
            }
        }
    }
});
