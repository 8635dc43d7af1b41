//! The framework of two-input ops with a hand-written flex kernel and backward.

use super::*;

/// A two-input op over same-shape f32 tensors with a hand-written flex kernel and
/// backward: the losses whose burn composition makes a dozen element-wise passes (and
/// allocations) each way.
pub(super) trait FlexBinary: Clone + Send + std::fmt::Debug + 'static {
    /// The output for contiguous inputs `a`, `b` of shape `dims`, and the op holding what
    /// its backward pass needs beyond the inputs (which the framework keeps).
    fn forward(&self, a: &[f32], b: &[f32], dims: &[usize]) -> (FlexTensor, Self);
    /// The gradient of input `which` (0 = `a`, 1 = `b`) from the output gradient.
    fn backward(&self, grad: &[f32], a: &[f32], b: &[f32], which: usize) -> Vec<f32>;
}

/// The op's output, and its state with the contiguous inputs (shared, not copied).
fn flex_binary<Op: FlexBinary>(
    op: &Op,
    a: FlexTensor,
    b: FlexTensor,
) -> (FlexTensor, (Op, FlexTensor, FlexTensor)) {
    let (a, b) = (contiguous(a), contiguous(b));
    let dims = a.layout().shape().to_vec();
    let (out, op) = op.forward(f32s(&a), f32s(&b), &dims);
    (out, (op, a, b))
}

fn f32s(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("f32 checked by the caller")
}

/// The autodiff step of a [`FlexBinary`]: its state is the op after its forward pass.
#[derive(Debug)]
struct BinaryStep<Op>(std::marker::PhantomData<Op>);

impl<Op: FlexBinary> Backward<Flex, 2> for BinaryStep<Op> {
    type State = (Op, FlexTensor, FlexTensor);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let (op, a, b) = ops.state;
        let in_dims = a.layout().shape().to_vec();
        let grad = contiguous(grads.consume::<Flex>(&ops.node));
        for (which, parent) in ops.parents.iter().enumerate() {
            if let Some(node) = parent {
                let g = op.backward(f32s(&grad), f32s(&a), f32s(&b), which);
                grads.register::<Flex>(node.id, flex_tensor(g, in_dims.clone()));
            }
        }
    }
}

/// Applies `op` to `a` and `b` on the flex backends (with its backward on
/// `Autodiff<Flex>`) and `fallback`, the same function in burn ops, everywhere else and
/// whenever the shapes differ or the dtype is not f32.
pub(super) fn apply_binary<B: Backend, const I: usize, const O: usize, Op: FlexBinary>(
    op: Op,
    a: Tensor<B, I>,
    b: Tensor<B, I>,
    fallback: impl FnOnce(Tensor<B, I>, Tensor<B, I>) -> Tensor<B, O>,
) -> Tensor<B, O> {
    if a.dtype() != DType::F32 || b.dtype() != DType::F32 || a.dims() != b.dims() {
        return fallback(a, b);
    }
    type Pair<B, const I: usize> = (Tensor<B, I>, Tensor<B, I>);
    let (a, b) = match cast::<_, Pair<Flex, I>>((a, b)) {
        Ok((a, b)) => {
            let prim = |t: Tensor<Flex, I>| t.into_primitive().tensor();
            let (out, _) = flex_binary(&op, prim(a), prim(b));
            return same(Tensor::<Flex, O>::from_primitive(TensorPrimitive::Float(
                out,
            )));
        }
        Err(pair) => pair,
    };
    let (a, b) = match cast::<_, Pair<AdFlex, I>>((a, b)) {
        Ok((a, b)) => {
            let (a, b) = (a.into_primitive().tensor(), b.into_primitive().tensor());
            let prep = BinaryStep::<Op>(std::marker::PhantomData)
                .prepare::<NoCheckpointing>([a.node.clone(), b.node.clone()])
                .compute_bound()
                .stateful();
            let out = match prep {
                OpsKind::Tracked(prep) => {
                    let (out, state) = flex_binary(&op, a.primitive, b.primitive);
                    prep.finish(state, out)
                }
                OpsKind::UnTracked(prep) => {
                    prep.finish(flex_binary(&op, a.primitive, b.primitive).0)
                }
            };
            return same(Tensor::<AdFlex, O>::from_primitive(TensorPrimitive::Float(
                out,
            )));
        }
        Err(pair) => pair,
    };
    fallback(a, b)
}

/// Runs `f(row_out, row_a, row_b)` over the rows of two `[rows, width]` inputs in
/// parallel (rows grouped so a task holds about [`ELEMS_PER_TASK`] elements), each row
/// writing `out_width` outputs.
pub(super) fn par_rows(
    out: &mut [f32],
    out_width: usize,
    a: &[f32],
    b: &[f32],
    width: usize,
    f: impl Fn(&mut [f32], &[f32], &[f32]) + Sync,
) {
    if width == 0 || out_width == 0 {
        return;
    }
    let rows_per_task = (ELEMS_PER_TASK / width).max(1);
    out.par_chunks_mut(rows_per_task * out_width)
        .zip(a.par_chunks(rows_per_task * width))
        .zip(b.par_chunks(rows_per_task * width))
        .for_each(|((out, a), b)| {
            for ((o, a), b) in out
                .chunks_mut(out_width)
                .zip(a.chunks(width))
                .zip(b.chunks(width))
            {
                f(o, a, b);
            }
        });
}
