//! Adam with its update fused into one pass per parameter on flex.

use super::*;

/// Adam with burn's defaults and update rule (including where ε enters), fused on flex.
#[derive(Clone)]
pub struct FusedAdam {
    pub(super) burn: Adam,
    pub(super) beta_1: f32,
    pub(super) beta_2: f32,
    pub(super) epsilon: f32,
    /// Decoupled weight decay (AdamW): each step first multiplies a parameter by
    /// `1 − lr · weight_decay`, as PyTorch's `AdamW` does.
    pub(super) weight_decay: f32,
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
                let n = p.len();
                let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
                pulp::Arch::new().dispatch(AdamLoop {
                    p,
                    g,
                    m,
                    v,
                    k: [b1, b2, factor, eps, lr, decay],
                    wd,
                })
            });
        let state = AdaptiveMomentumState::new(time, from_host(m, &shape), from_host(v, &shape));
        (from_host(p, &shape), Some(AdamState::new(state)))
    }
}

simd_kernel!(AdamLoop<'a> {
    p: &'a mut [f32],
    g: &'a [f32],
    m: &'a mut [f32],
    v: &'a mut [f32],
    k: [f32; 6],
    wd: bool,
} {
    let [b1, b2, factor, eps, lr, decay] = k;
    if wd {
        p.iter_mut().for_each(|p| *p *= decay);
    }
    for i in 0..p.len() {
        m[i] = b1 * m[i] + (1.0 - b1) * g[i];
        v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
        p[i] -= lr * (m[i] * factor) / (v[i].sqrt() + eps);
    }
});

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
