//! Every kernel against burn's own ops or an independent computation.
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
    module.weight = burn::module::Param::from_tensor(Tensor::<Autodiff<NdArray>, 2>::from_data(
        p0.clone().transpose().to_data(),
        &dev,
    ));
    let mut optim = simple.init::<Autodiff<NdArray>, Linear<Autodiff<NdArray>>>();
    for (i, g) in grads.iter().enumerate() {
        let lr = 0.01 * (i + 1) as f64;
        let gf = Tensor::<Flex, 2>::from_data(g.to_data(), &FlexDevice);
        (q, r) = SimpleOptimizer::<Flex>::step(&fused, lr, q, gf.clone(), r);
        (u, w) = SimpleOptimizer::<Flex>::step(&plain, lr, u, gf, w);
        // The loss sum(W ⊙ Gᵀ) has gradient Gᵀ with respect to W.
        let gt = Tensor::<Autodiff<NdArray>, 2>::from_data(g.clone().transpose().to_data(), &dev);
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

/// Σ r ⊙ y for a fixed, backend-independent weighting r of the outputs: its gradient is
/// a generic upstream gradient for testing a backward pass.
fn weighted_sum<B: Backend, const O: usize>(y: Tensor<B, O>) -> Tensor<B, 1> {
    let n = y.shape().num_elements();
    let r: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 13) as f32 / 6.0 - 1.0)
        .collect();
    let r = Tensor::<B, 1>::from_data(TensorData::new(r, [n]), &y.device()).reshape(y.shape());
    (y * r).sum()
}

/// Output and input gradient of `f` under the upstream weighting of [`weighted_sum`].
fn value_and_grad<B: AutodiffBackend, const I: usize, const O: usize>(
    x: TensorData,
    f: impl Fn(Tensor<B, I>) -> Tensor<B, O>,
) -> (Vec<f32>, Vec<f32>) {
    let dev = Default::default();
    let x = Tensor::<B, I>::from_data(x, &dev).require_grad();
    let y = f(x.clone());
    let g = weighted_sum(y.clone()).backward();
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

/// ln(1 + t) on [0, 1] against f64's `ln_1p`, through both branches of the reduction.
#[test]
fn ln_1p_is_accurate() {
    for i in 0..=100_000 {
        let t = i as f32 * 1e-5;
        let (got, want) = (f64::from(ln_1p_unit(t)), f64::from(t).ln_1p());
        assert!(
            (got - want).abs() <= 2.5e-7 * want.max(1e-30) + 1e-12,
            "ln(1 + {t}) = {got}, want {want}"
        );
    }
}

/// Outputs and both input gradients of `f` under a fixed upstream weighting.
fn value_and_grads<B: AutodiffBackend>(
    a: TensorData,
    b: TensorData,
    f: impl Fn(Tensor<B, 2>, Tensor<B, 2>) -> Tensor<B, 2>,
) -> [Vec<f32>; 3] {
    let dev = Default::default();
    let a = Tensor::<B, 2>::from_data(a, &dev).require_grad();
    let b = Tensor::<B, 2>::from_data(b, &dev).require_grad();
    let y = f(a.clone(), b.clone());
    let g = weighted_sum(y.clone()).backward();
    let grad = |t: Tensor<B, 2>| t.grad(&g).unwrap().into_data().to_vec().unwrap();
    [data(y), grad(a), grad(b)]
}

/// The fused loss kernels (forward and both gradients) equal the same functions in burn
/// ops differentiated by burn on ndarray, at a width that splits rows across tasks and
/// with logits far into both tails.
#[test]
fn loss_kernels_match_burn_ops_and_their_gradients() {
    type Ref = Autodiff<NdArray>;
    let dev = Default::default();
    let eps = Tensor::<NdArray, 2>::random([45, 30], Distribution::Normal(0.0, 1.0), &dev);
    let cases: [(&str, [usize; 2], Distribution, Distribution); 3] = [
        (
            "bce",
            [130, 784],
            Distribution::Uniform(-30.0, 30.0),
            Distribution::Uniform(0.0, 1.0),
        ),
        (
            "kl",
            [45, 30],
            Distribution::Normal(0.0, 2.0),
            Distribution::Uniform(-6.0, 3.0),
        ),
        (
            "reparam",
            [45, 30],
            Distribution::Normal(0.0, 2.0),
            Distribution::Uniform(-6.0, 3.0),
        ),
    ];
    for (name, dims, da, db) in cases {
        let a = Tensor::<NdArray, 2>::random(dims, da, &dev).into_data();
        let b = Tensor::<NdArray, 2>::random(dims, db, &dev).into_data();
        let eps_flex = || Tensor::<AdFlex, 2>::from_data(eps.to_data(), &FlexDevice);
        let eps_ref = || Tensor::<Ref, 2>::from_data(eps.to_data(), &dev);
        let (got, want) = match name {
            "bce" => (
                value_and_grads::<AdFlex>(a.clone(), b.clone(), bce_with_logits_rows),
                value_and_grads::<Ref>(a, b, bce_with_logits_rows),
            ),
            "kl" => (
                value_and_grads::<AdFlex>(a.clone(), b.clone(), gaussian_kl_rows),
                value_and_grads::<Ref>(a, b, gaussian_kl_rows),
            ),
            _ => (
                value_and_grads::<AdFlex>(a.clone(), b.clone(), |m, v| {
                    reparameterize(m, v, eps_flex())
                }),
                value_and_grads::<Ref>(a, b, |m, v| reparameterize(m, v, eps_ref())),
            ),
        };
        for (g, w) in got.into_iter().zip(want) {
            close(g, w);
        }
    }
}

/// On flex without autodiff the loss kernels give the same values as on ndarray.
#[test]
fn loss_kernels_match_without_autodiff() {
    let dev = Default::default();
    let l = Tensor::<NdArray, 2>::random([9, 50], Distribution::Uniform(-8.0, 8.0), &dev);
    let x = Tensor::<NdArray, 2>::random([9, 50], Distribution::Default, &dev);
    let flex = |t: &Tensor<NdArray, 2>| Tensor::<Flex, 2>::from_data(t.to_data(), &FlexDevice);
    close(
        data(bce_with_logits_rows(flex(&l), flex(&x))),
        data(bce_with_logits_rows(l.clone(), x.clone())),
    );
    close(
        data(gaussian_kl_rows(flex(&l), flex(&x))),
        data(gaussian_kl_rows(l, x)),
    );
}
