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

pub(super) type AdFlex = Autodiff<Flex>;

pub(super) const FAER_MIN_MACS: usize = 1 << 20;

/// `t` as a `U` when `T` and `U` are the same type.
pub(super) fn cast<T: 'static, U: 'static>(t: T) -> Result<U, T> {
    if TypeId::of::<T>() == TypeId::of::<U>() {
        let boxed: Box<dyn Any> = Box::new(t);
        Ok(*boxed.downcast::<U>().expect("TypeId checked"))
    } else {
        Err(t)
    }
}

/// `t` as `U`, which the caller has established is the same type as `T`.
pub(super) fn same<T: 'static, U: 'static>(t: T) -> U {
    cast(t).unwrap_or_else(|_| unreachable!("the caller checked the types"))
}

/// Whether `B` is one of the backends the kernels here serve.
pub(super) fn is_flex<B: Backend>() -> bool {
    let b = TypeId::of::<B>();
    b == TypeId::of::<Flex>() || b == TypeId::of::<AdFlex>()
}

/// Declares a loop kernel `$name { fields } body` that `pulp::Arch::new().dispatch(..)`
/// runs compiled for the best instruction set found at run time (AVX-512 / AVX2), so plain
/// loops over slices vectorise without building for one CPU.
///
/// Why not a closure: `dispatch(#[inline(always)] || ..)` calls the closure through its
/// `FnOnce::call_once` shim, which is not inlined into pulp's `#[target_feature]` function,
/// so the body was compiled for baseline x86-64 (SSE, 4 lanes, `floorf` calls): `perf` on a
/// VAE step found Adam (25 % of it) and the BCE loop (10 %) running as SSE code. A
/// `WithSimd` impl's generic, `#[inline(always)]` `with_simd` is inlined there.
macro_rules! simd_kernel {
    ($name:ident<$lt:lifetime> { $($field:ident : $ty:ty),* $(,)? } $body:block) => {
        struct $name<$lt> {
            $($field: $ty),*
        }
        impl<$lt> pulp::WithSimd for $name<$lt> {
            type Output = ();
            #[inline(always)]
            fn with_simd<S: pulp::Simd>(self, _simd: S) {
                let $name { $($field),* } = self;
                $body
            }
        }
    };
}

mod matmul;
pub use matmul::*;
mod adam;
pub use adam::*;
mod unary;
use unary::*;
mod image;
pub use image::*;
mod pointwise;
pub use pointwise::*;
mod momentum;
pub use momentum::*;
mod binary;
mod loss;
pub use loss::*;

#[cfg(test)]
mod tests;
