//! Matrix products on the flex backend through faer.
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
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, binary};
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

/// `lhs [m, k] @ rhs [k, n] -> [m, n]`; faer on the flex backends, burn's matmul elsewhere.
pub fn matmul<B: Backend>(lhs: Tensor<B, 2>, rhs: Tensor<B, 2>) -> Tensor<B, 2> {
    let pair = match cast::<_, (Tensor<Flex, 2>, Tensor<Flex, 2>)>((lhs, rhs)) {
        Ok((l, r)) => {
            let out = flex_matmul(l.into_primitive().tensor(), r.into_primitive().tensor());
            let out = Tensor::<Flex, 2>::from_primitive(TensorPrimitive::Float(out));
            return same(out);
        }
        Err(pair) => pair,
    };
    let (lhs, rhs) = match cast::<_, (Tensor<AdFlex, 2>, Tensor<AdFlex, 2>)>(pair) {
        Ok((l, r)) => {
            let out = autodiff_matmul(l.into_primitive().tensor(), r.into_primitive().tensor());
            let out = Tensor::<AdFlex, 2>::from_primitive(TensorPrimitive::Float(out));
            return same(out);
        }
        Err(pair) => pair,
    };
    lhs.matmul(rhs)
}

/// A dense layer through [`matmul`]: `x [batch, in] -> [batch, out]`.
pub fn linear<B: Backend>(layer: &Linear<B>, x: Tensor<B, 2>) -> Tensor<B, 2> {
    let y = matmul(x, layer.weight.val()); // weights are stored [in, out]
    match &layer.bias {
        Some(b) => y + b.val().unsqueeze_dim(0),
        None => y,
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

/// The product of two flex matrices; flex's own kernel for layouts faer cannot view.
fn flex_matmul(lhs: FlexTensor, rhs: FlexTensor) -> FlexTensor {
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
    let (Some(a), Some(b)) = (view(&lhs), view(&rhs)) else {
        return Flex::float_matmul(lhs, rhs);
    };
    let (m, n) = (a.nrows(), b.ncols());
    assert_eq!(a.ncols(), b.nrows(), "matmul: inner dimensions differ");
    if m * n * a.ncols() < FAER_MIN_MACS {
        return Flex::float_matmul(lhs, rhs);
    }
    let mut out = vec![0.0f32; m * n];
    faer_matmul(
        MatMut::from_row_major_slice_mut(&mut out, m, n),
        Accum::Replace,
        a,
        b,
        1.0,
        // 0 = the current rayon pool's size, so a sweep cell's pool bounds it.
        Par::rayon(0),
    );
    FlexTensor::from_data(TensorData::new(out, [m, n]))
}

/// The autodiff step of [`flex_matmul`]: d lhs = grad rhsᵀ, d rhs = lhsᵀ grad.
#[derive(Debug)]
struct FaerMatmul;

impl Backward<Flex, 2> for FaerMatmul {
    /// The inputs each gradient needs: lhs (for d rhs), rhs (for d lhs).
    type State = (Option<NodeId>, Option<NodeId>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let (lhs, rhs) = ops.state;
        let lhs: Option<FlexTensor> = lhs.map(|id| checkpointer.retrieve_node_output(id));
        let rhs: Option<FlexTensor> = rhs.map(|id| checkpointer.retrieve_node_output(id));
        binary::<Flex, _, _>(
            ops.parents,
            ops.node,
            grads,
            |grad| flex_matmul(grad, rhs.expect("rhs kept for d lhs").transpose(0, 1)),
            |grad| flex_matmul(lhs.expect("lhs kept for d rhs").transpose(0, 1), grad),
        );
    }
}

type AdTensor = <AdFlex as burn::tensor::backend::BackendTypes>::FloatTensorPrimitive;

fn autodiff_matmul(lhs: AdTensor, rhs: AdTensor) -> AdTensor {
    let (lhs_tracked, rhs_tracked) = (lhs.is_tracked(), rhs.is_tracked());
    match FaerMatmul
        .prepare::<NoCheckpointing>([lhs.node.clone(), rhs.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let lhs_state = rhs_tracked.then(|| prep.checkpoint(&lhs));
            let rhs_state = lhs_tracked.then(|| prep.checkpoint(&rhs));
            prep.finish(
                (lhs_state, rhs_state),
                flex_matmul(lhs.primitive, rhs.primitive),
            )
        }
        OpsKind::UnTracked(prep) => prep.finish(flex_matmul(lhs.primitive, rhs.primitive)),
    }
}

/// Adam with burn's defaults and update rule (including where ε enters), fused on flex.
#[derive(Clone)]
pub struct FusedAdam {
    burn: Adam,
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
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
        }
    }
}

impl FusedAdam {
    /// The optimizer for a module, as `AdamConfig::new().init()` builds burn's.
    pub fn init<B: AutodiffBackend, M: AutodiffModule<B>>() -> OptimizerAdaptor<Self, M, B> {
        OptimizerAdaptor::from(FusedAdam::default())
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
        let host = |t: Tensor<Flex, D>| -> Vec<f32> {
            t.into_data()
                .into_vec()
                .expect("flex float tensors are f32")
        };
        let (mut p, g, mut m, mut v) = (host(param), host(grad), host(m), host(v));
        let time = time + 1;
        let (b1, b2) = (self.beta_1, self.beta_2);
        let t = i32::try_from(time).unwrap_or(i32::MAX);
        let bc2 = (1.0 - b2.powi(t)).sqrt();
        let factor = bc2 / (1.0 - b1.powi(t));
        let eps = self.epsilon * bc2;
        let lr = lr as f32;
        // Chunks big enough to amortise rayon, small enough to split a 784x1000 layer.
        const CHUNK: usize = 1 << 15;
        p.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .for_each(|(((p, g), m), v)| {
                // Compiled for the best instruction set found at run time (AVX2 / AVX-512),
                // so the loop vectorises without building for one CPU.
                pulp::Arch::new().dispatch(
                    #[inline(always)]
                    || {
                        let n = p.len();
                        let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
                        for i in 0..n {
                            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                            p[i] -= lr * (m[i] * factor) / (v[i].sqrt() + eps);
                        }
                    },
                )
            });
        let tensor = |x: Vec<f32>| Tensor::from_data(TensorData::new(x, shape.clone()), &device);
        let state = AdaptiveMomentumState::new(time, tensor(m), tensor(v));
        (tensor(p), Some(AdamState::new(state)))
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
        match cast::<_, FlexArgs<D>>((tensor, grad, state)) {
            Ok((t, g, s)) => same(self.flex_step(lr, t, g, s)),
            Err((t, g, s)) => self.burn.step(lr, t, g, s),
        }
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        <Adam as SimpleOptimizer<B>>::to_device(state, device)
    }
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

    /// The dispatch leaves other backends on burn's matmul and gets shapes right there too.
    #[test]
    fn other_backends_use_burn() {
        let dev = Default::default();
        let a = Tensor::<NdArray, 2>::ones([2, 3], &dev);
        let b = Tensor::<NdArray, 2>::ones([3, 4], &dev);
        assert_eq!(data(matmul(a, b)), vec![3.0; 8]);
    }
}
