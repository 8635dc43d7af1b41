//! The flex backend's fast path: matrix products through faer, hand-written kernels for the
//! conv AE's data movement and for activations, and fused optimizer updates. Each public
//! function takes any backend: on `Flex` and `Autodiff<Flex>` it runs the kernel (with its
//! own backward step), elsewhere the same function written with burn ops.
//!
//! Profiling the 784-1000-500-250-30 AE on the embedded CPU backend put 59 % of a training
//! step in flex's matmul, which calls the `gemm` crate: 75–95 GFLOP/s on this workload's
//! shapes (2 threads, AVX-512 Zen 4) against 130–140 for PyTorch's MKL and 180–190 for
//! faer's own kernels on the same shapes. [`matmul`] is the product every dense layer here
//! uses: on `Flex` and `Autodiff<Flex>` it runs faer on the tensors' storage in place (no
//! copies for row- or column-major views, which covers the transposes of the backward
//! pass) and registers its own backward step; every other backend gets burn's matmul
//! unchanged. Rust has no specialisation, so the dispatch is a `TypeId` check.
//!
//! The same profile put 18 % of the step in burn's Adam, which makes a dozen passes over
//! every parameter (one tensor op each, each allocating). [`FusedAdam`] is that optimizer
//! with the flex update fused into one pass; its state is burn's `AdamState`, so records
//! and every other backend are unchanged.

use std::any::{Any, TypeId};

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::module::AutodiffModule;
use burn::nn::Linear;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{Adam, LearningRate};
use burn::optim::{AdamConfig, AdamState, AdaptiveMomentumState, SimpleOptimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::ops::FloatTensorOps;
use burn::tensor::{DType, TensorData, TensorPrimitive};
use faer::linalg::matmul::matmul as faer_matmul;
use faer::mat::{MatMut, MatRef};
use faer::{Accum, Par};
use rayon::prelude::*;

type AdFlex = Autodiff<Flex>;

const FAER_MIN_MACS: usize = 1 << 20;

/// `t` as a `U` when `T` and `U` are the same type.
fn cast<T: 'static, U: 'static>(t: T) -> Result<U, T> {
    if TypeId::of::<T>() == TypeId::of::<U>() {
        let boxed: Box<dyn Any> = Box::new(t);
        Ok(*boxed.downcast::<U>().expect("TypeId checked"))
    } else {
        Err(t)
    }
}

/// `t` as `U`, which the caller has established is the same type as `T`.
fn same<T: 'static, U: 'static>(t: T) -> U {
    cast(t).unwrap_or_else(|_| unreachable!("the caller checked the types"))
}

/// Whether `B` is one of the backends the kernels here serve.
fn is_flex<B: Backend>() -> bool {
    let b = TypeId::of::<B>();
    b == TypeId::of::<Flex>() || b == TypeId::of::<AdFlex>()
}

/// `lhs [m, k] @ rhs [k, n] -> [m, n]`; faer on the flex backends, burn's matmul elsewhere.
pub fn matmul<B: Backend>(lhs: Tensor<B, 2>, rhs: Tensor<B, 2>) -> Tensor<B, 2> {
    if is_flex::<B>() {
        // [`affine`] from a zero bias: one kernel and one (untracked-bias) autodiff step.
        let zero = Tensor::zeros([rhs.dims()[1]], &rhs.device());
        affine(lhs, rhs, zero)
    } else {
        lhs.matmul(rhs)
    }
}

/// `x [m, k] @ weight [k, n] + bias [n]` in one kernel on the flex backends (the bias
/// is the output's starting value), `matmul(x, weight) + bias` elsewhere.
pub fn affine<B: Backend>(
    x: Tensor<B, 2>,
    weight: Tensor<B, 2>,
    bias: Tensor<B, 1>,
) -> Tensor<B, 2> {
    type Args<B> = (Tensor<B, 2>, Tensor<B, 2>, Tensor<B, 1>);
    let args = match cast::<_, Args<Flex>>((x, weight, bias)) {
        Ok((x, w, b)) => {
            let prim = |t: Tensor<Flex, 2>| t.into_primitive().tensor();
            let out = flex_affine(prim(x), prim(w), Some(b.into_primitive().tensor()));
            return same(Tensor::<Flex, 2>::from_primitive(TensorPrimitive::Float(
                out,
            )));
        }
        Err(args) => args,
    };
    let (x, w, b) = match cast::<_, Args<AdFlex>>(args) {
        Ok((x, w, b)) => {
            let prim = |t: Tensor<AdFlex, 2>| t.into_primitive().tensor();
            let out = autodiff_affine(prim(x), prim(w), b.into_primitive().tensor());
            return same(Tensor::<AdFlex, 2>::from_primitive(TensorPrimitive::Float(
                out,
            )));
        }
        Err(args) => args,
    };
    x.matmul(w) + b.unsqueeze_dim(0)
}

/// A dense layer through [`affine`]: `x [batch, in] -> [batch, out]`.
pub fn linear<B: Backend>(layer: &Linear<B>, x: Tensor<B, 2>) -> Tensor<B, 2> {
    // burn stores the weight [in, out].
    match &layer.bias {
        Some(b) => affine(x, layer.weight.val(), b.val()),
        None => matmul(x, layer.weight.val()),
    }
}

/// A faer view of a 2-D f32 tensor whose storage is row- or column-major (possibly with a
/// row/column stride, as views and transposes are); `None` for any other layout.
fn view(t: &FlexTensor) -> Option<MatRef<'_, f32>> {
    if t.dtype() != DType::F32 {
        return None;
    }
    let layout = t.layout();
    let (dims, strides) = (layout.shape(), layout.strides());
    let (rows, cols) = (dims[0], dims[1]);
    let data: &[f32] = t.storage();
    let start = layout.start_offset();
    if rows == 0 || cols == 0 {
        return None;
    }
    if strides[1] == 1 && strides[0] >= cols as isize {
        let rs = strides[0] as usize;
        let slice = data.get(start..start + (rows - 1) * rs + cols)?;
        Some(MatRef::from_row_major_slice_with_stride(
            slice, rows, cols, rs,
        ))
    } else if strides[0] == 1 && strides[1] >= rows as isize {
        let cs = strides[1] as usize;
        let slice = data.get(start..start + (cols - 1) * cs + rows)?;
        Some(MatRef::from_column_major_slice_with_stride(
            slice, rows, cols, cs,
        ))
    } else {
        None
    }
}

/// The product of two flex matrices.
fn flex_matmul(lhs: FlexTensor, rhs: FlexTensor) -> FlexTensor {
    flex_affine(lhs, rhs, None)
}

/// `lhs rhs + bias` (bias broadcast over rows), the bias written into the output before
/// faer accumulates the product onto it; flex's own kernel for what faer cannot view.
fn flex_affine(lhs: FlexTensor, rhs: FlexTensor, bias: Option<FlexTensor>) -> FlexTensor {
    let lhs = if view(&lhs).is_none() {
        lhs.to_contiguous()
    } else {
        lhs
    };
    let rhs = if view(&rhs).is_none() {
        rhs.to_contiguous()
    } else {
        rhs
    };
    let bias = bias.map(contiguous);
    let bias_row = bias.as_ref().and_then(|b| b.as_slice::<f32>());
    let (Some(a), Some(b), true) = (view(&lhs), view(&rhs), bias.is_none() || bias_row.is_some())
    else {
        let y = Flex::float_matmul(lhs, rhs);
        return match bias {
            Some(b) => {
                let n = b.layout().shape()[0];
                Flex::float_add(y, b.reshape(burn::tensor::Shape::new([1, n])))
            }
            None => y,
        };
    };
    let (m, n) = (a.nrows(), b.ncols());
    assert_eq!(a.ncols(), b.nrows(), "matmul: inner dimensions differ");
    let (mut out, accum) = match bias_row {
        Some(row) => (row.repeat(m), Accum::Add),
        None => (vec![0.0f32; m * n], Accum::Replace),
    };
    // Threads cost more than they save on small products (the VAE's code layers).
    let par = if m * n * a.ncols() < FAER_MIN_MACS {
        Par::Seq
    } else {
        // 0 = the current rayon pool's size, so a sweep cell's pool bounds it.
        Par::rayon(0)
    };
    faer_matmul(
        MatMut::from_row_major_slice_mut(&mut out, m, n),
        accum,
        a,
        b,
        1.0,
        par,
    );
    FlexTensor::from_data(TensorData::new(out, [m, n]))
}

/// Column sums of a `[m, n]` gradient: `1ᵀ g`, the bias gradient of [`flex_affine`].
fn column_sums(grad: FlexTensor) -> FlexTensor {
    let m = grad.layout().shape()[0];
    let ones = FlexTensor::from_data(TensorData::new(vec![1.0f32; m], [1, m]));
    let sums = flex_matmul(ones, grad);
    let n = sums.layout().shape()[1];
    sums.reshape(burn::tensor::Shape::new([n]))
}

/// The autodiff step of [`flex_affine`] with a bias: d x = g Wᵀ, d W = xᵀ g, d b = 1ᵀ g.
#[derive(Debug)]
struct FaerAffine;

impl Backward<Flex, 3> for FaerAffine {
    /// x (for d W) and W (for d x), kept only when that gradient is wanted.
    type State = (Option<NodeId>, Option<NodeId>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let (x, w) = ops.state;
        let x: Option<FlexTensor> = x.map(|id| checkpointer.retrieve_node_output(id));
        let w: Option<FlexTensor> = w.map(|id| checkpointer.retrieve_node_output(id));
        let [node_x, node_w, node_b] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        if let Some(node) = node_b {
            grads.register::<Flex>(node.id, column_sums(grad.clone()));
        }
        if let (Some(node), Some(x)) = (node_w, x) {
            grads.register::<Flex>(node.id, flex_matmul(x.transpose(0, 1), grad.clone()));
        }
        if let (Some(node), Some(w)) = (node_x, w) {
            grads.register::<Flex>(node.id, flex_matmul(grad, w.transpose(0, 1)));
        }
    }
}

fn autodiff_affine(x: AdTensor, w: AdTensor, b: AdTensor) -> AdTensor {
    let (x_tracked, w_tracked) = (x.is_tracked(), w.is_tracked());
    match FaerAffine
        .prepare::<NoCheckpointing>([x.node.clone(), w.node.clone(), b.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let x_state = w_tracked.then(|| prep.checkpoint(&x));
            let w_state = x_tracked.then(|| prep.checkpoint(&w));
            prep.finish(
                (x_state, w_state),
                flex_affine(x.primitive, w.primitive, Some(b.primitive)),
            )
        }
        OpsKind::UnTracked(prep) => {
            prep.finish(flex_affine(x.primitive, w.primitive, Some(b.primitive)))
        }
    }
}

type AdTensor = <AdFlex as burn::tensor::backend::BackendTypes>::FloatTensorPrimitive;

/// Adam with burn's defaults and update rule (including where ε enters), fused on flex.
#[derive(Clone)]
pub struct FusedAdam {
    burn: Adam,
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    /// Decoupled weight decay (AdamW): each step first multiplies a parameter by
    /// `1 − lr · weight_decay`, as PyTorch's `AdamW` does.
    weight_decay: f32,
}

impl Default for FusedAdam {
    fn default() -> Self {
        // burn's `AdamConfig` defaults, kept in step with it by the tests.
        let (beta_1, beta_2, epsilon) = (0.9, 0.999, 1e-5);
        let burn = AdamConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(epsilon)
            .build();
        FusedAdam {
            burn,
            beta_1,
            beta_2,
            epsilon,
            weight_decay: 0.0,
        }
    }
}

impl FusedAdam {
    /// The optimizer for a module, as `AdamConfig::new().init()` builds burn's.
    pub fn init<B: AutodiffBackend, M: AutodiffModule<B>>() -> OptimizerAdaptor<Self, M, B> {
        OptimizerAdaptor::from(FusedAdam::default())
    }

    /// AdamW: [`FusedAdam::init`] with decoupled weight decay (0: plain Adam, bit for bit).
    pub fn init_with<B: AutodiffBackend, M: AutodiffModule<B>>(
        weight_decay: f32,
    ) -> OptimizerAdaptor<Self, M, B> {
        OptimizerAdaptor::from(FusedAdam {
            weight_decay,
            ..FusedAdam::default()
        })
    }

    fn flex_step<const D: usize>(
        &self,
        lr: LearningRate,
        param: Tensor<Flex, D>,
        grad: Tensor<Flex, D>,
        state: Option<AdamState<Flex, D>>,
    ) -> (Tensor<Flex, D>, Option<AdamState<Flex, D>>) {
        let shape = param.shape();
        let device = param.device();
        let (time, m, v) = match state {
            Some(s) => (s.momentum.time, s.momentum.moment_1, s.momentum.moment_2),
            None => (
                0,
                Tensor::zeros(shape.clone(), &device),
                Tensor::zeros(shape.clone(), &device),
            ),
        };
        let host = host_values::<D>;
        let (mut p, g, mut m, mut v) = (host(param), host(grad), host(m), host(v));
        let time = time + 1;
        let (b1, b2) = (self.beta_1, self.beta_2);
        let t = i32::try_from(time).unwrap_or(i32::MAX);
        let bc2 = (1.0 - b2.powi(t)).sqrt();
        let factor = bc2 / (1.0 - b1.powi(t));
        let eps = self.epsilon * bc2;
        let decay = 1.0 - lr as f32 * self.weight_decay;
        let lr = lr as f32;
        let wd = self.weight_decay != 0.0;
        p.par_chunks_mut(ELEMS_PER_TASK)
            .zip(g.par_chunks(ELEMS_PER_TASK))
            .zip(m.par_chunks_mut(ELEMS_PER_TASK))
            .zip(v.par_chunks_mut(ELEMS_PER_TASK))
            .for_each(|(((p, g), m), v)| {
                // Compiled for the best instruction set found at run time (AVX2 / AVX-512),
                // so the loop vectorises without building for one CPU.
                pulp::Arch::new().dispatch(
                    #[inline(always)]
                    || {
                        let n = p.len();
                        let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
                        if wd {
                            p.iter_mut().for_each(|p| *p *= decay);
                        }
                        for i in 0..n {
                            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                            p[i] -= lr * (m[i] * factor) / (v[i].sqrt() + eps);
                        }
                    },
                )
            });
        let state = AdaptiveMomentumState::new(time, from_host(m, &shape), from_host(v, &shape));
        (from_host(p, &shape), Some(AdamState::new(state)))
    }
}

impl<B: Backend> SimpleOptimizer<B> for FusedAdam {
    type State<const D: usize> = AdamState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        type FlexArgs<const D: usize> =
            (Tensor<Flex, D>, Tensor<Flex, D>, Option<AdamState<Flex, D>>);
        // AdamW's decoupled decay, for the paths that call burn's Adam.
        let decayed = |t: Tensor<B, D>| match self.weight_decay {
            0.0 => t,
            wd => t.mul_scalar(1.0 - lr * f64::from(wd)),
        };
        match cast::<_, FlexArgs<D>>((tensor, grad, state)) {
            Ok((t, g, s)) if t.dtype() == DType::F32 && g.dtype() == DType::F32 => {
                same(self.flex_step(lr, t, g, s))
            }
            // Half-precision parameters on flex: burn's update.
            Ok((t, g, s)) => {
                let t: Tensor<B, D> = same(t);
                let t: Tensor<Flex, D> = same(decayed(t));
                same(SimpleOptimizer::<Flex>::step(&self.burn, lr, t, g, s))
            }
            Err((t, g, s)) => self.burn.step(lr, decayed(t), g, s),
        }
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        <Adam as SimpleOptimizer<B>>::to_device(state, device)
    }
}

/// A one-input op with a hand-written flex kernel and backward: the conv AE's data movement
/// (whose composition from burn ops spends its time in flex's element-by-element strided
/// copies) and the activations.
trait FlexUnary: Clone + Send + std::fmt::Debug + 'static {
    /// The output for a contiguous f32 input `x` of shape `dims`, and the op holding
    /// what its backward pass needs.
    fn forward(&self, x: &[f32], dims: &[usize]) -> (FlexTensor, Self);
    /// The input gradient from the output gradient (contiguous f32).
    fn backward(&self, grad: &[f32]) -> Vec<f32>;
}

/// A contiguous f32 host view of a flex tensor (copied only if it is a strided view).
fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.is_contiguous() && t.layout().start_offset() == 0 {
        t
    } else {
        t.to_contiguous()
    }
}

fn flex_unary<Op: FlexUnary>(op: &Op, x: FlexTensor) -> (FlexTensor, Op) {
    let x = contiguous(x);
    let dims = x.layout().shape().to_vec();
    let data = x.as_slice::<f32>().expect("f32 checked by the caller");
    op.forward(data, &dims)
}

/// The values of a flex f32 tensor (moved out without a copy when it is not shared).
fn host_values<const D: usize>(t: Tensor<Flex, D>) -> Vec<f32> {
    t.into_data().into_vec().expect("f32 checked by the caller")
}

/// A flex tensor of `shape` from its values.
fn from_host<const D: usize>(values: Vec<f32>, shape: &burn::tensor::Shape) -> Tensor<Flex, D> {
    Tensor::from_data(TensorData::new(values, shape.clone()), &Default::default())
}

fn flex_tensor(values: Vec<f32>, dims: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, dims))
}

/// The autodiff step of a [`FlexUnary`]: its state is the op after its forward pass.
#[derive(Debug)]
struct UnaryStep<Op>(std::marker::PhantomData<Op>);

impl<Op: FlexUnary> Backward<Flex, 1> for UnaryStep<Op> {
    type State = (Op, Vec<usize>);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let (op, in_dims) = ops.state;
        unary::<Flex, _>(ops.parents, ops.node, grads, |grad| {
            let grad = contiguous(grad);
            let g = op.backward(grad.as_slice::<f32>().expect("f32 gradient"));
            FlexTensor::from_data(TensorData::new(g, in_dims))
        });
    }
}

/// Applies `op` on the flex backends (with its backward on `Autodiff<Flex>`) and
/// `fallback`, the same function written with burn ops, everywhere else.
fn apply_unary<B: Backend, const I: usize, const O: usize, Op: FlexUnary>(
    op: Op,
    x: Tensor<B, I>,
    fallback: impl FnOnce(Tensor<B, I>) -> Tensor<B, O>,
) -> Tensor<B, O> {
    if x.dtype() != DType::F32 {
        return fallback(x);
    }
    let x = match cast::<_, Tensor<Flex, I>>(x) {
        Ok(x) => {
            let (out, _) = flex_unary(&op, x.into_primitive().tensor());
            return same(Tensor::<Flex, O>::from_primitive(TensorPrimitive::Float(
                out,
            )));
        }
        Err(x) => x,
    };
    let x = match cast::<_, Tensor<AdFlex, I>>(x) {
        Ok(x) => {
            let x = x.into_primitive().tensor();
            let in_dims = x.primitive.layout().shape().to_vec();
            let prep = UnaryStep::<Op>(std::marker::PhantomData)
                .prepare::<NoCheckpointing>([x.node.clone()])
                .compute_bound()
                .stateful();
            let out = match prep {
                OpsKind::Tracked(prep) => {
                    let (out, state) = flex_unary(&op, x.primitive);
                    prep.finish((state, in_dims), out)
                }
                OpsKind::UnTracked(prep) => prep.finish(flex_unary(&op, x.primitive).0),
            };
            return same(Tensor::<AdFlex, O>::from_primitive(TensorPrimitive::Float(
                out,
            )));
        }
        Err(x) => x,
    };
    fallback(x)
}

/// Images per rayon task of the image kernels.
const IMAGES_PER_TASK: usize = 8;

/// The nine shifted copies of a zero-padded `[batch, h, w, c]` map side by side:
/// `[batch·h·w, 9·c]`, columns ordered (dy, dx, channel), the input of a 3×3 "same"
/// convolution as one matrix product.
pub fn im2col3x3<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 2> {
    apply_unary(Im2col::default(), x, |x| {
        let [batch, h, w, c] = x.dims();
        let padded = Tensor::zeros([batch, h + 2, w + 2, c], &x.device())
            .slice_assign([0..batch, 1..h + 1, 1..w + 1, 0..c], x);
        let taps = (0..9)
            .map(|t| {
                let (dy, dx) = (t / 3, t % 3);
                padded
                    .clone()
                    .slice([0..batch, dy..dy + h, dx..dx + w, 0..c])
            })
            .collect();
        Tensor::cat(taps, 3).reshape([batch * h * w, 9 * c])
    })
}

#[derive(Clone, Debug, Default)]
struct Im2col {
    dims: [usize; 4],
}

impl Im2col {
    /// Calls `run(y, t, x_range, yy, dx)` for every output row `y` and tap `t` whose
    /// source row `yy` is inside the map: output pixels `(y, x)` for `x` in `x_range` read
    /// input pixel `(yy, x + dx − 1)`; everything else is zero padding.
    fn for_each_run(
        &self,
        mut run: impl FnMut(usize, usize, std::ops::Range<usize>, usize, usize),
    ) {
        let [_, h, w, _] = self.dims;
        for y in 0..h {
            for t in 0..9 {
                let (dy, dx) = (t / 3, t % 3);
                let Some(yy) = (y + dy).checked_sub(1).filter(|&yy| yy < h) else {
                    continue;
                };
                // x + dx − 1 ∈ [0, w)
                let x_range = (1usize.saturating_sub(dx))..(w + 1 - dx).min(w);
                run(y, t, x_range, yy, dx);
            }
        }
    }
}

impl FlexUnary for Im2col {
    fn forward(&self, x: &[f32], dims: &[usize]) -> (FlexTensor, Self) {
        let op = Im2col {
            dims: [dims[0], dims[1], dims[2], dims[3]],
        };
        let [batch, h, w, c] = op.dims;
        let mut out = vec![0.0f32; batch * h * w * 9 * c];
        out.par_chunks_mut(IMAGES_PER_TASK * h * w * 9 * c)
            .zip(x.par_chunks(IMAGES_PER_TASK * h * w * c))
            .for_each(|(out, x)| {
                for (img_out, img) in out.chunks_mut(h * w * 9 * c).zip(x.chunks(h * w * c)) {
                    op.for_each_run(|y, t, xs, yy, dx| {
                        for xp in xs {
                            let dst = ((y * w + xp) * 9 + t) * c;
                            let src = (yy * w + xp + dx - 1) * c;
                            // A loop, not copy_from_slice: c is 1 in the first layer, where a
                            // memcpy call per pixel would dominate.
                            let from = &img[src..src + c];
                            for (o, &v) in img_out[dst..dst + c].iter_mut().zip(from) {
                                *o = v;
                            }
                        }
                    });
                }
            });
        (flex_tensor(out, vec![batch * h * w, 9 * c]), op)
    }

    fn backward(&self, grad: &[f32]) -> Vec<f32> {
        let [batch, h, w, c] = self.dims;
        let mut out = vec![0.0f32; batch * h * w * c];
        out.par_chunks_mut(IMAGES_PER_TASK * h * w * c)
            .zip(grad.par_chunks(IMAGES_PER_TASK * h * w * 9 * c))
            .for_each(|(out, grad)| {
                for (img, img_grad) in out.chunks_mut(h * w * c).zip(grad.chunks(h * w * 9 * c)) {
                    self.for_each_run(|y, t, xs, yy, dx| {
                        for xp in xs {
                            let src = ((y * w + xp) * 9 + t) * c;
                            let dst = (yy * w + xp + dx - 1) * c;
                            let from = &img_grad[src..src + c];
                            for (o, &g) in img[dst..dst + c].iter_mut().zip(from) {
                                *o += g;
                            }
                        }
                    });
                }
            });
        out
    }
}

/// 2×2 max-pool with stride 2 on `[batch, h, w, c]` (even h, w) -> `[batch, h/2, w/2, c]`;
/// the gradient goes to one maximum of each window.
pub fn max_pool2<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    apply_unary(MaxPool2::default(), x, |x| {
        let [batch, h, w, c] = x.dims();
        let (rows, cols) = (batch * h / 2, w / 2);
        // [batch·h/2, row in pair, w/2, (column in pair, c)]
        let x = x.reshape([rows, 2, cols, 2 * c]);
        let top = x.clone().slice([0..rows, 0..1, 0..cols, 0..2 * c]);
        let bottom = x.slice([0..rows, 1..2, 0..cols, 0..2 * c]);
        // On ties the gradient goes to one maximum (burn's max_pair keeps `self`).
        let pair = top.max_pair(bottom);
        let left = pair.clone().slice([0..rows, 0..1, 0..cols, 0..c]);
        let right = pair.slice([0..rows, 0..1, 0..cols, c..2 * c]);
        left.max_pair(right).reshape([batch, h / 2, w / 2, c])
    })
}

#[derive(Clone, Debug, Default)]
struct MaxPool2 {
    dims: [usize; 4],
    /// Which corner of its window (0–3, row-major) each output's maximum came from.
    argmax: std::sync::Arc<Vec<u8>>,
}

impl MaxPool2 {
    /// Input offsets (within an image) of the four corners of window (i, j), channel 0.
    fn corners(&self, i: usize, j: usize) -> [usize; 4] {
        let [_, _, w, c] = self.dims;
        [(0, 0), (0, 1), (1, 0), (1, 1)].map(|(dy, dx)| ((2 * i + dy) * w + 2 * j + dx) * c)
    }
}

impl FlexUnary for MaxPool2 {
    fn forward(&self, x: &[f32], dims: &[usize]) -> (FlexTensor, Self) {
        let [batch, h, w, c] = [dims[0], dims[1], dims[2], dims[3]];
        let mut op = MaxPool2 {
            dims: [batch, h, w, c],
            argmax: Default::default(),
        };
        let (ho, wo) = (h / 2, w / 2);
        let per_img = ho * wo * c;
        let mut out = vec![0.0f32; batch * per_img];
        let mut arg = vec![0u8; batch * per_img];
        out.par_chunks_mut(per_img)
            .zip(arg.par_chunks_mut(per_img))
            .zip(x.par_chunks(h * w * c))
            .for_each(|((out, arg), img)| {
                for i in 0..ho {
                    for j in 0..wo {
                        let o = (i * wo + j) * c;
                        let [a, b, cc, d] = op.corners(i, j).map(|k| &img[k..k + c]);
                        let (out, arg) = (&mut out[o..o + c], &mut arg[o..o + c]);
                        // Strict `>`: on ties the gradient goes to the first corner.
                        for ch in 0..c {
                            let (mut best, mut which) = (a[ch], 0u8);
                            if b[ch] > best {
                                (best, which) = (b[ch], 1);
                            }
                            if cc[ch] > best {
                                (best, which) = (cc[ch], 2);
                            }
                            if d[ch] > best {
                                (best, which) = (d[ch], 3);
                            }
                            out[ch] = best;
                            arg[ch] = which;
                        }
                    }
                }
            });
        op.argmax = std::sync::Arc::new(arg);
        (flex_tensor(out, vec![batch, ho, wo, c]), op)
    }

    fn backward(&self, grad: &[f32]) -> Vec<f32> {
        let [_, h, w, c] = self.dims;
        let (ho, wo) = (h / 2, w / 2);
        let per_img = ho * wo * c;
        let mut out = vec![0.0f32; self.dims.iter().product()];
        out.par_chunks_mut(h * w * c)
            .zip(grad.par_chunks(per_img))
            .zip(self.argmax.par_chunks(per_img))
            .for_each(|((img, grad), arg)| {
                for i in 0..ho {
                    for j in 0..wo {
                        let o = (i * wo + j) * c;
                        let corners = self.corners(i, j);
                        for ch in 0..c {
                            img[corners[arg[o + ch] as usize] + ch] = grad[o + ch];
                        }
                    }
                }
            });
        out
    }
}

/// `[batch, h, w, 4·c]` with channels ordered (dy, dx, channel) -> `[batch, 2h, 2w, c]`:
/// each pixel becomes a 2×2 block, the output of a stride-2 2×2 transposed convolution.
pub fn depth_to_space2<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    apply_unary(DepthToSpace2::default(), x, |x| {
        let [batch, h, w, c4] = x.dims();
        let c = c4 / 4;
        x.reshape([batch, h, w, 2, 2 * c])
            .swap_dims(2, 3)
            .reshape([batch, 2 * h, 2 * w, c])
    })
}

#[derive(Clone, Debug, Default)]
struct DepthToSpace2 {
    dims: [usize; 4],
}

impl DepthToSpace2 {
    /// Calls `copy(src, dst, len)` for every contiguous run: input pixel (n, i, j), half
    /// dy -> output row 2i + dy, columns 2j and 2j + 1.
    fn runs(&self, mut copy: impl FnMut(usize, usize, usize)) {
        let [batch, h, w, c4] = self.dims;
        let c2 = c4 / 2;
        for n in 0..batch {
            for i in 0..h {
                for j in 0..w {
                    for dy in 0..2 {
                        let src = ((n * h + i) * w + j) * c4 + dy * c2;
                        let dst = ((n * 2 * h + 2 * i + dy) * 2 * w + 2 * j) * (c4 / 4);
                        copy(src, dst, c2);
                    }
                }
            }
        }
    }
}

impl FlexUnary for DepthToSpace2 {
    fn forward(&self, x: &[f32], dims: &[usize]) -> (FlexTensor, Self) {
        let op = DepthToSpace2 {
            dims: [dims[0], dims[1], dims[2], dims[3]],
        };
        let mut out = vec![0.0f32; x.len()];
        op.runs(|src, dst, len| out[dst..dst + len].copy_from_slice(&x[src..src + len]));
        let [batch, h, w, c4] = op.dims;
        (flex_tensor(out, vec![batch, 2 * h, 2 * w, c4 / 4]), op)
    }

    fn backward(&self, grad: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0f32; grad.len()];
        self.runs(|src, dst, len| out[src..src + len].copy_from_slice(&grad[dst..dst + len]));
        out
    }
}

/// eˣ in f32 (Cephes' `expf`: range reduction by ln 2, a degree-7 polynomial, 2ⁿ by
/// exponent bits): within 2 ulp, and plain arithmetic, so loops over it vectorise.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
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
        Pointwise::new(Activation::Sigmoid),
        x,
        burn::tensor::activation::sigmoid,
    )
}

/// max(x, 0); on flex one pass each way (burn's backward is a mask tensor and a fill).
pub fn relu<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    apply_unary(
        Pointwise::new(Activation::Relu),
        x,
        burn::tensor::activation::relu,
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Activation {
    Sigmoid,
    Relu,
}

/// An activation whose derivative is a function of its output, which is all it keeps.
#[derive(Clone, Debug)]
struct Pointwise {
    f: Activation,
    /// y = f(x), shared with the output tensor.
    output: Option<FlexTensor>,
}

impl Pointwise {
    fn new(f: Activation) -> Self {
        Pointwise { f, output: None }
    }
}

/// Elements per rayon task of the elementwise kernels.
const ELEMS_PER_TASK: usize = 1 << 14;

impl FlexUnary for Pointwise {
    fn forward(&self, x: &[f32], dims: &[usize]) -> (FlexTensor, Self) {
        let mut y = vec![0.0f32; x.len()];
        let f = self.f;
        y.par_chunks_mut(ELEMS_PER_TASK)
            .zip(x.par_chunks(ELEMS_PER_TASK))
            .for_each(|(y, x)| {
                // Compiled for the best instruction set found at run time (AVX2 / AVX-512).
                pulp::Arch::new().dispatch(
                    #[inline(always)]
                    || match f {
                        Activation::Sigmoid => {
                            for (y, &x) in y.iter_mut().zip(x) {
                                *y = 1.0 / (1.0 + exp_f32(-x));
                            }
                        }
                        Activation::Relu => {
                            for (y, &x) in y.iter_mut().zip(x) {
                                *y = x.max(0.0);
                            }
                        }
                    },
                )
            });
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
                pulp::Arch::new().dispatch(
                    #[inline(always)]
                    || match f {
                        Activation::Sigmoid => {
                            for ((o, &g), &y) in out.iter_mut().zip(g).zip(y) {
                                *o = g * y * (1.0 - y);
                            }
                        }
                        Activation::Relu => {
                            for ((o, &g), &y) in out.iter_mut().zip(g).zip(y) {
                                *o = if y > 0.0 { g } else { 0.0 };
                            }
                        }
                    },
                )
            });
        out
    }
}

/// A heavy-ball step with L2 weight decay, `v ← μ v + η (g − λ w)`, `w ← w + v`, returning
/// `(w, v)`: one pass in place on flex (the RBM's update of its 784×1000 weights was six
/// tensor ops), the same formula in burn ops elsewhere.
pub fn momentum_step<B: Backend, const D: usize>(
    w: Tensor<B, D>,
    v: Tensor<B, D>,
    g: Tensor<B, D>,
    [lr, momentum, decay]: [f32; 3],
) -> (Tensor<B, D>, Tensor<B, D>) {
    let args = match cast::<_, [Tensor<Flex, D>; 3]>([w, v, g]) {
        Ok([w, v, g]) if w.dtype() == DType::F32 => {
            let shape = w.shape();
            let host = host_values::<D>;
            let (mut w, mut v, g) = (host(w), host(v), host(g));
            w.par_chunks_mut(ELEMS_PER_TASK)
                .zip(v.par_chunks_mut(ELEMS_PER_TASK))
                .zip(g.par_chunks(ELEMS_PER_TASK))
                .for_each(|((w, v), g)| {
                    pulp::Arch::new().dispatch(
                        #[inline(always)]
                        || {
                            for ((w, v), &g) in w.iter_mut().zip(v.iter_mut()).zip(g) {
                                *v = momentum * *v + lr * (g - decay * *w);
                                *w += *v;
                            }
                        },
                    )
                });
            return same((from_host::<D>(w, &shape), from_host::<D>(v, &shape)));
        }
        Ok(args) => same::<_, [Tensor<B, D>; 3]>(args),
        Err(args) => args,
    };
    let [w, v, g] = args;
    let v = v * momentum + (g - w.clone() * decay) * lr;
    (w + v.clone(), v)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use burn::backend::NdArray;
    use burn::backend::flex::FlexDevice;
    use burn::tensor::Distribution;
    use burn::tensor::backend::AutodiffBackend;

    fn close(a: Vec<f32>, b: Vec<f32>) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    fn data<B: Backend>(t: Tensor<B, 2>) -> Vec<f32> {
        t.into_data().to_vec().unwrap()
    }

    /// Matches burn's product on ndarray for contiguous, transposed and sliced operands.
    #[test]
    fn forward_matches_reference_on_every_layout() {
        let dev = Default::default();
        let a = Tensor::<NdArray, 2>::random([37, 53], Distribution::Default, &dev);
        let b = Tensor::<NdArray, 2>::random([53, 29], Distribution::Default, &dev);
        let fa = Tensor::<Flex, 2>::from_data(a.to_data(), &FlexDevice);
        let fb = Tensor::<Flex, 2>::from_data(b.to_data(), &FlexDevice);
        close(
            data(matmul(fa.clone(), fb.clone())),
            data(a.clone().matmul(b.clone())),
        );
        // bᵀ is column-major; aᵀ aᵀ... a slice has a row stride wider than its width.
        close(
            data(matmul(fb.clone().transpose(), fa.clone().transpose())),
            data(b.clone().transpose().matmul(a.clone().transpose())),
        );
        close(
            data(matmul(
                fa.clone().slice([3..20, 5..40]),
                fb.clone().slice([5..40, 2..9]),
            )),
            data(a.slice([3..20, 5..40]).matmul(b.slice([5..40, 2..9]))),
        );
        // A permuted 3-D view flattened is neither: the fallback copies it first.
        let c = Tensor::<Flex, 3>::random([4, 6, 5], Distribution::Default, &FlexDevice);
        let strided: Tensor<Flex, 2> = c
            .clone()
            .swap_dims(0, 2)
            .slice([0..5, 1..2, 0..4])
            .squeeze_dim(1);
        let dense = Tensor::<Flex, 2>::from_data(strided.to_data(), &FlexDevice);
        let w = Tensor::<Flex, 2>::random([4, 3], Distribution::Default, &FlexDevice);
        close(data(matmul(strided, w.clone())), data(dense.matmul(w)));
    }

    /// Gradients through the faer step equal burn's own autodiff on ndarray.
    #[test]
    fn gradients_match_reference() {
        fn grads<B: AutodiffBackend>(a: TensorData, b: TensorData) -> (Vec<f32>, Vec<f32>) {
            let dev = Default::default();
            let a = Tensor::<B, 2>::from_data(a, &dev).require_grad();
            let b = Tensor::<B, 2>::from_data(b, &dev).require_grad();
            // A nonlinear scalar so each output gets a different upstream gradient.
            let y = matmul(a.clone(), b.clone().transpose()).tanh().sum();
            let g = y.backward();
            (
                a.grad(&g).unwrap().into_data().to_vec().unwrap(),
                b.grad(&g).unwrap().into_data().to_vec().unwrap(),
            )
        }
        let dev = Default::default();
        let a = Tensor::<NdArray, 2>::random([9, 7], Distribution::Default, &dev).into_data();
        let b = Tensor::<NdArray, 2>::random([5, 7], Distribution::Default, &dev).into_data();
        let (fa, fb) = grads::<AdFlex>(a.clone(), b.clone());
        let (na, nb) = grads::<Autodiff<NdArray>>(a, b);
        close(fa, na);
        close(fb, nb);
    }

    /// Three fused steps on flex land where burn's Adam lands on ndarray, state included.
    #[test]
    fn fused_adam_matches_burn_adam() {
        let dev = Default::default();
        let p0 = Tensor::<NdArray, 2>::random([300, 7], Distribution::Default, &dev);
        let grads: Vec<_> = (0..3)
            .map(|_| Tensor::<NdArray, 2>::random([300, 7], Distribution::Default, &dev))
            .collect();
        let burn_adam = AdamConfig::new().build();
        let fused = FusedAdam::default();
        let (mut p, mut s) = (p0.clone(), None);
        let (mut q, mut r) = (
            Tensor::<Flex, 2>::from_data(p0.to_data(), &FlexDevice),
            None,
        );
        for (i, g) in grads.iter().enumerate() {
            let lr = 0.01 * (i + 1) as f64;
            (p, s) = burn_adam.step(lr, p, g.clone(), s);
            let gf = Tensor::<Flex, 2>::from_data(g.to_data(), &FlexDevice);
            (q, r) = SimpleOptimizer::<Flex>::step(&fused, lr, q, gf, r);
        }
        close(data(q), data(p.clone()));
        let (s, r) = (s.unwrap().momentum, r.unwrap().momentum);
        assert_eq!(r.time, 3);
        close(data(r.moment_1), data(s.moment_1));
        close(data(r.moment_2), data(s.moment_2));
        // And the parameters moved: a no-op optimizer would fail the comparison above only
        // if burn's did not move them either.
        assert!(
            data(p.clone())
                .iter()
                .zip(data(p0))
                .any(|(a, b)| (a - b).abs() > 1e-3)
        );
    }

    /// With decoupled weight decay the fused step lands where burn's own AdamW lands.
    #[test]
    fn fused_adamw_matches_burn_adamw() {
        let dev = Default::default();
        let p0 = Tensor::<NdArray, 2>::random([200, 9], Distribution::Default, &dev);
        let grads: Vec<_> = (0..4)
            .map(|_| Tensor::<NdArray, 2>::random([200, 9], Distribution::Default, &dev))
            .collect();
        let wd = 0.3;
        let simple = burn::optim::AdamWConfig::new()
            .with_beta_1(0.9)
            .with_beta_2(0.999)
            .with_epsilon(1e-5)
            .with_weight_decay(wd);
        let fused = FusedAdam {
            weight_decay: wd,
            ..FusedAdam::default()
        };
        let plain = FusedAdam::default();
        let (mut q, mut r) = (
            Tensor::<Flex, 2>::from_data(p0.to_data(), &FlexDevice),
            None,
        );
        let (mut u, mut w) = (q.clone(), None);
        // burn's AdamW through a one-parameter module, step by step.
        let mut module = burn::nn::LinearConfig::new(9, 200)
            .with_bias(false)
            .init::<Autodiff<NdArray>>(&dev);
        module.weight = burn::module::Param::from_tensor(
            Tensor::<Autodiff<NdArray>, 2>::from_data(p0.clone().transpose().to_data(), &dev),
        );
        let mut optim = simple.init::<Autodiff<NdArray>, Linear<Autodiff<NdArray>>>();
        for (i, g) in grads.iter().enumerate() {
            let lr = 0.01 * (i + 1) as f64;
            let gf = Tensor::<Flex, 2>::from_data(g.to_data(), &FlexDevice);
            (q, r) = SimpleOptimizer::<Flex>::step(&fused, lr, q, gf.clone(), r);
            (u, w) = SimpleOptimizer::<Flex>::step(&plain, lr, u, gf, w);
            // The loss sum(W ⊙ Gᵀ) has gradient Gᵀ with respect to W.
            let gt =
                Tensor::<Autodiff<NdArray>, 2>::from_data(g.clone().transpose().to_data(), &dev);
            let loss = (module.weight.val() * gt).sum();
            let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &module);
            module = burn::optim::Optimizer::step(&mut optim, lr, module, grads);
        }
        let burn_p: Vec<f32> = module
            .weight
            .val()
            .transpose()
            .into_data()
            .to_vec()
            .unwrap();
        close(data(q.clone()), burn_p);
        // Decay changes the result: plain Adam lands elsewhere.
        assert!(
            data(q)
                .iter()
                .zip(data(u))
                .any(|(a, b)| (a - b).abs() > 1e-4)
        );
    }

    /// Output and input gradient of `f` under a random upstream weighting `r`.
    fn value_and_grad<B: AutodiffBackend, const I: usize, const O: usize>(
        x: TensorData,
        f: impl Fn(Tensor<B, I>) -> Tensor<B, O>,
    ) -> (Vec<f32>, Vec<f32>) {
        let dev = Default::default();
        let x = Tensor::<B, I>::from_data(x, &dev).require_grad();
        let y = f(x.clone());
        // A fixed, backend-independent weighting of the outputs.
        let n = y.shape().num_elements();
        let r: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 13) as f32 / 6.0 - 1.0)
            .collect();
        let r = Tensor::<B, 1>::from_data(TensorData::new(r, [n]), &dev).reshape(y.shape());
        let g = (y.clone() * r).sum().backward();
        let y = y.into_data().to_vec().unwrap();
        (y, x.grad(&g).unwrap().into_data().to_vec().unwrap())
    }

    /// Each hand-written flex kernel (forward and backward) equals the same function
    /// written with burn ops and differentiated by burn, on ndarray.
    #[test]
    fn kernels_match_burn_ops_and_their_gradients() {
        fn check<const I: usize, const O: usize>(
            dims: [usize; I],
            f_flex: impl Fn(Tensor<AdFlex, I>) -> Tensor<AdFlex, O>,
            f_ref: impl Fn(Tensor<Autodiff<NdArray>, I>) -> Tensor<Autodiff<NdArray>, O>,
        ) {
            let x = Tensor::<NdArray, I>::random(
                dims,
                Distribution::Uniform(-3.0, 3.0),
                &Default::default(),
            );
            let (yf, gf) = value_and_grad::<AdFlex, I, O>(x.to_data(), f_flex);
            let (yr, gr) = value_and_grad::<Autodiff<NdArray>, I, O>(x.into_data(), f_ref);
            close(yf, yr);
            close(gf, gr);
        }
        check([2, 5, 4, 3], im2col3x3, |x| {
            let [b, h, w, c] = x.dims();
            let padded = Tensor::zeros([b, h + 2, w + 2, c], &x.device())
                .slice_assign([0..b, 1..h + 1, 1..w + 1, 0..c], x);
            let taps = (0..9)
                .map(|t| {
                    padded
                        .clone()
                        .slice([0..b, t / 3..t / 3 + h, t % 3..t % 3 + w, 0..c])
                })
                .collect();
            Tensor::cat(taps, 3).reshape([b * h * w, 9 * c])
        });
        check([3, 4, 6, 2], max_pool2, |x| {
            let nchw = x.permute([0, 3, 1, 2]);
            burn::tensor::module::max_pool2d(nchw, [2, 2], [2, 2], [0, 0], [1, 1], false)
                .permute([0, 2, 3, 1])
        });
        check([2, 3, 2, 12], depth_to_space2, |x| {
            let [b, h, w, c4] = x.dims();
            let c = c4 / 4;
            x.reshape([b, h, w, 2, 2, c])
                .permute([0, 1, 3, 2, 4, 5])
                .reshape([b, 2 * h, 2 * w, c])
        });
        check([7, 33], sigmoid, burn::tensor::activation::sigmoid);
        check([5, 40], relu, burn::tensor::activation::relu);
    }

    /// The fused affine op's three gradients equal burn's for `x W + b`.
    #[test]
    fn affine_gradients_match_reference() {
        fn grads<B: AutodiffBackend>(d: [TensorData; 3]) -> [Vec<f32>; 4] {
            let dev = Default::default();
            let [x, w, b] = d;
            let x = Tensor::<B, 2>::from_data(x, &dev).require_grad();
            let w = Tensor::<B, 2>::from_data(w, &dev).require_grad();
            let b = Tensor::<B, 1>::from_data(b, &dev).require_grad();
            let y = affine(x.clone(), w.clone(), b.clone());
            let g = y.clone().tanh().sum().backward();
            let v = |t: TensorData| t.to_vec::<f32>().unwrap();
            [
                v(y.into_data()),
                v(x.grad(&g).unwrap().into_data()),
                v(w.grad(&g).unwrap().into_data()),
                v(b.grad(&g).unwrap().into_data()),
            ]
        }
        let dev = Default::default();
        let d = || {
            [
                Tensor::<NdArray, 2>::random([6, 9], Distribution::Default, &dev).into_data(),
                Tensor::<NdArray, 2>::random([9, 4], Distribution::Default, &dev).into_data(),
                Tensor::<NdArray, 1>::random([4], Distribution::Default, &dev).into_data(),
            ]
        };
        let inputs = d();
        let flex = grads::<AdFlex>(inputs.clone());
        let reference = grads::<Autodiff<NdArray>>(inputs);
        for (f, r) in flex.into_iter().zip(reference) {
            close(f, r);
        }
    }

    /// e^x of the vectorised kernel against f64 over the whole useful range.
    #[test]
    fn exp_is_accurate() {
        for i in -8700..=8800 {
            let x = i as f32 * 0.01;
            let (got, want) = (exp_f32(x) as f64, (x as f64).exp());
            assert!(
                ((got - want) / want).abs() < 3e-7,
                "exp({x}) = {got}, want {want}"
            );
        }
    }

    /// The in-place momentum step equals its formula in burn ops on ndarray.
    #[test]
    fn momentum_step_matches_reference() {
        let dev = Default::default();
        let t = || Tensor::<NdArray, 2>::random([70, 40], Distribution::Default, &dev);
        let (w, v, g) = (t(), t(), t());
        let hp = [0.1, 0.9, 2e-4];
        let (rw, rv) = momentum_step(w.clone(), v.clone(), g.clone(), hp);
        let flex = |t: &Tensor<NdArray, 2>| Tensor::<Flex, 2>::from_data(t.to_data(), &FlexDevice);
        let (fw, fv) = momentum_step(flex(&w), flex(&v), flex(&g), hp);
        close(data(fw), data(rw.clone()));
        close(data(fv), data(rv.clone()));
        // The reference is the formula itself, computed element by element.
        let (w, v, g) = (data(w), data(v), data(g));
        let v1: Vec<f32> = (0..w.len())
            .map(|i| 0.9 * v[i] + 0.1 * (g[i] - 2e-4 * w[i]))
            .collect();
        let w1: Vec<f32> = (0..w.len()).map(|i| w[i] + v1[i]).collect();
        close(data(rv), v1);
        close(data(rw), w1);
    }

    /// The dispatch leaves other backends on burn's matmul and gets shapes right there too.
    #[test]
    fn other_backends_use_burn() {
        let dev = Default::default();
        let a = Tensor::<NdArray, 2>::ones([2, 3], &dev);
        let b = Tensor::<NdArray, 2>::ones([3, 4], &dev);
        assert_eq!(data(matmul(a, b)), vec![3.0; 8]);
    }
}
