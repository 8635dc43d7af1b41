//! One Adam training step (batch 128, MNIST-shaped random input) of the zoo models issue
//! 7 tracks besides the deep MLP of `train_step.rs`: the convolutional AE and the VAE,
//! built from the same configs as the experiment files, on each CPU backend.

use ae_core::kernel::FusedAdam;
use ae_core::model::Autoencoder;
use ae_core::{AeConfig, AnyAe};
use burn::backend::{Autodiff, Flex, NdArray};
use burn::optim::{GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::backend::AutodiffBackend;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// What the ae-bench binary uses (see the workspace Cargo.toml).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// (name, config as written in experiments/*.toml, code size).
const MODELS: [(&str, &str, usize); 2] = [
    (
        "conv_ae_16_32_k30",
        r#"{ "kind": "conv", "channels": [16, 32] }"#,
        30,
    ),
    (
        "vae_784_500_k30",
        r#"{ "kind": "vae", "arch": { "hidden": [500], "activation": "relu" } }"#,
        30,
    ),
];

fn bench_backend<B: AutodiffBackend>(c: &mut Criterion, backend: &str) {
    let device = B::Device::default();
    let batch = 128;
    for (name, json, code) in MODELS {
        let config: AeConfig = serde_json::from_str(json).expect("valid config");
        let checked = config.check(784, code).expect("valid shape");
        let model: AnyAe<B> =
            ae_core::noise::init_seeded::<B, _>(&device, 0, || checked.init::<B>(&device));
        let mut slot = Some(model);
        let mut optim = FusedAdam::init::<B, AnyAe<B>>();
        let x = Tensor::<B, 2>::random([batch, 784], Distribution::Uniform(0.0, 1.0), &device);
        let mut group = c.benchmark_group(format!("{name}_train_step_b128"));
        group.throughput(Throughput::Elements(batch as u64));
        group.sample_size(10);
        group.bench_function(backend, |b| {
            b.iter(|| {
                // Moved, not cloned, as in ae_core::train: a shared parameter would be copied.
                let model = slot.take().expect("model");
                let out = model.loss(x.clone());
                let grads = GradientsParams::from_grads(out.total.backward(), &model);
                slot = Some(optim.step(1e-3, model, grads));
            })
        });
        group.finish();
    }
}

fn backends(c: &mut Criterion) {
    bench_backend::<Autodiff<Flex>>(c, "flex");
    bench_backend::<Autodiff<NdArray>>(c, "ndarray");
}

criterion_group!(benches, backends);
criterion_main!(benches);
