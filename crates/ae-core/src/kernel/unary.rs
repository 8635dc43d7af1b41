//! The framework of one-input ops with a hand-written flex kernel and backward.

use super::*;

/// A one-input op with a hand-written flex kernel and backward: the conv AE's data movement
/// (whose composition from burn ops spends its time in flex's element-by-element strided
/// copies) and the activations.
pub(super) trait FlexUnary: Clone + Send + std::fmt::Debug + 'static {
    /// The output for a contiguous f32 input `x` of shape `dims`, and the op holding
    /// what its backward pass needs.
    fn forward(&self, x: &[f32], dims: &[usize]) -> (FlexTensor, Self);
    /// The input gradient from the output gradient (contiguous f32).
    fn backward(&self, grad: &[f32]) -> Vec<f32>;
}

/// A contiguous f32 host view of a flex tensor (copied only if it is a strided view).
pub(super) fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.is_contiguous() && t.layout().start_offset() == 0 {
        t
    } else {
        t.to_contiguous()
    }
}

pub(super) fn flex_unary<Op: FlexUnary>(op: &Op, x: FlexTensor) -> (FlexTensor, Op) {
    let x = contiguous(x);
    let dims = x.layout().shape().to_vec();
    let data = x.as_slice::<f32>().expect("f32 checked by the caller");
    op.forward(data, &dims)
}

/// The values of a flex f32 tensor (moved out without a copy when it is not shared).
pub(super) fn host_values<const D: usize>(t: Tensor<Flex, D>) -> Vec<f32> {
    t.into_data().into_vec().expect("f32 checked by the caller")
}

/// A flex tensor of `shape` from its values.
pub(super) fn from_host<const D: usize>(
    values: Vec<f32>,
    shape: &burn::tensor::Shape,
) -> Tensor<Flex, D> {
    Tensor::from_data(TensorData::new(values, shape.clone()), &Default::default())
}

pub(super) fn flex_tensor(values: Vec<f32>, dims: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, dims))
}

/// The autodiff step of a [`FlexUnary`]: its state is the op after its forward pass.
#[derive(Debug)]
pub(super) struct UnaryStep<Op>(std::marker::PhantomData<Op>);

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
pub(super) fn apply_unary<B: Backend, const I: usize, const O: usize, Op: FlexUnary>(
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
