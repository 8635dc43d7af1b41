#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report
//! The CPU backends agree: the same initial weights and batch give the same loss, and the
//! same loss after one Adam step, on flex and ndarray (within 1e-4 relative).

use ae_core::config::AeConfig;
use ae_core::mlp::Activation;
use ae_core::model::{from_slice, to_vec};
use ae_core::{ArchSpec, Autoencoder, ReconLoss, flat};
use burn::backend::{Autodiff, Flex, NdArray};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;

/// 32 images of 4x4 pixels in [0, 1].
fn batch() -> Vec<f32> {
    (0..32 * 16)
        .map(|i| ((i * 37 % 101) as f32 / 100.0).clamp(0.0, 1.0))
        .collect()
}

/// Loss before and after one Adam step (lr 1e-2) from the flat parameters `init`.
fn first_two_losses<B: AutodiffBackend>(cfg: &AeConfig, code: usize, init: &[f32]) -> [f64; 2] {
    let d = Default::default();
    let checked = cfg.check(16, code).unwrap();
    let model = flat::params_from_vec(checked.init::<B>(&d), init).unwrap();
    let x = from_slice::<B>(&batch(), 32, 16, &d);
    // The VAE's reparameterisation noise comes from the host stream: equal on both.
    ae_core::noise::seed(11);
    let out = model.loss(x.clone());
    let l0 = f64::from(to_vec(out.total.clone()).unwrap()[0]);
    let grads = GradientsParams::from_grads(out.total.backward(), &model);
    let model = AdamConfig::new().init().step(1e-2, model, grads);
    let l1 = f64::from(to_vec(model.loss(x).total).unwrap()[0]);
    [l0, l1]
}

#[test]
fn flex_and_ndarray_agree_on_the_first_steps() {
    let mlp = ArchSpec {
        hidden: vec![24, 12],
        activation: Activation::Relu,
        code_activation: Activation::Linear,
        ..ArchSpec::default()
    };
    let zoo = [
        (AeConfig::Deep { arch: mlp.clone() }, 4),
        (
            AeConfig::Deep {
                arch: ArchSpec {
                    loss: ReconLoss::Mse,
                    activation: Activation::Sigmoid,
                    ..mlp.clone()
                },
            },
            4,
        ),
        (
            AeConfig::Vae {
                arch: mlp,
                beta: 1.0,
                channels: None,
            },
            3,
        ),
        (
            AeConfig::Conv {
                channels: vec![4, 8],
                loss: ReconLoss::Bce,
            },
            3,
        ),
    ];
    for (cfg, code) in zoo {
        let d = Default::default();
        let checked = cfg.check(16, code).unwrap();
        let model = ae_core::noise::init_seeded::<Flex, _>(&d, 5, || checked.init::<Flex>(&d));
        let init = flat::params_to_vec(&model).unwrap();
        let a = first_two_losses::<Autodiff<Flex>>(&cfg, code, &init);
        let b = first_two_losses::<Autodiff<NdArray>>(&cfg, code, &init);
        for (step, (x, y)) in a.iter().zip(&b).enumerate() {
            let rel = (x - y).abs() / x.abs().max(1e-12);
            assert!(
                rel < 1e-4,
                "{} step {step}: flex {x} vs ndarray {y} (rel {rel:.2e})",
                cfg.name()
            );
        }
        // The step changed the loss, so the comparison covered the optimizer too.
        assert!(
            (a[0] - a[1]).abs() > 1e-6 * a[0].abs(),
            "{}: {a:?}",
            cfg.name()
        );
    }
}
