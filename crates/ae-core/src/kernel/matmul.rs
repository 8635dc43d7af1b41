//! Matrix products through faer on the flex backends (with their own backward step).

use super::*;

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
pub(super) fn view(t: &FlexTensor) -> Option<MatRef<'_, f32>> {
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
pub(super) fn flex_matmul(lhs: FlexTensor, rhs: FlexTensor) -> FlexTensor {
    flex_affine(lhs, rhs, None)
}

/// `lhs rhs + bias` (bias broadcast over rows), the bias written into the output before
/// faer accumulates the product onto it; flex's own kernel for what faer cannot view.
pub(super) fn flex_affine(
    lhs: FlexTensor,
    rhs: FlexTensor,
    bias: Option<FlexTensor>,
) -> FlexTensor {
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
pub(super) fn column_sums(grad: FlexTensor) -> FlexTensor {
    let m = grad.layout().shape()[0];
    let ones = FlexTensor::from_data(TensorData::new(vec![1.0f32; m], [1, m]));
    let sums = flex_matmul(ones, grad);
    let n = sums.layout().shape()[1];
    sums.reshape(burn::tensor::Shape::new([n]))
}

/// The autodiff step of [`flex_affine`] with a bias: d x = g Wᵀ, d W = xᵀ g, d b = 1ᵀ g.
#[derive(Debug)]
pub(super) struct FaerAffine;

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

pub(super) fn autodiff_affine(x: AdTensor, w: AdTensor, b: AdTensor) -> AdTensor {
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

pub(super) type AdTensor = <AdFlex as burn::tensor::backend::BackendTypes>::FloatTensorPrimitive;
