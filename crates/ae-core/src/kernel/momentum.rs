//! The fused heavy-ball step of the RBMs.

use super::*;

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
                    pulp::Arch::new().dispatch(MomentumLoop {
                        w,
                        v,
                        g,
                        k: [lr, momentum, decay],
                    })
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

simd_kernel!(MomentumLoop<'a> {
    w: &'a mut [f32],
    v: &'a mut [f32],
    g: &'a [f32],
    k: [f32; 3],
} {
    let [lr, momentum, decay] = k;
    for ((w, v), &g) in w.iter_mut().zip(v.iter_mut()).zip(g) {
        *v = momentum * *v + lr * (g - decay * *w);
        *w += *v;
    }
});
