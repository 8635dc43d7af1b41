//! One Adam training step of Hinton & Salakhutdinov's 784-1000-500-250-30 autoencoder
//! (batch 128, BCE from logits) on each CPU backend: the measurement behind the choice of
//! the embedded default backend (README, "Backends").

use ae_core::kernel::FusedAdam;
use ae_core::loss::bce_with_logits_per_image;
use ae_core::mlp::{Activation, Mlp, MlpConfig};
use burn::backend::{Autodiff, Flex, NdArray};
use burn::optim::{GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::backend::AutodiffBackend;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// What the ae-bench binary uses (see the workspace Cargo.toml).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Module, Debug)]
struct DeepAe<B: Backend> {
    encoder: Mlp<B>,
    decoder: Mlp<B>,
}

fn deep_ae<B: Backend>(device: &B::Device) -> DeepAe<B> {
    use Activation::{Linear, Sigmoid};
    DeepAe {
        encoder: MlpConfig::new(
            vec![784, 1000, 500, 250, 30],
            vec![Sigmoid, Sigmoid, Sigmoid, Linear],
        )
        .init(device),
        // The last layer emits logits; the loss applies the sigmoid in its stable form.
        decoder: MlpConfig::new(
            vec![30, 250, 500, 1000, 784],
            vec![Sigmoid, Sigmoid, Sigmoid, Linear],
        )
        .init(device),
    }
}

fn bench_backend<B: AutodiffBackend>(c: &mut Criterion, name: &str) {
    let device = B::Device::default();
    B::seed(&device, 0);
    let mut slot = Some(deep_ae::<B>(&device));
    let mut optim = FusedAdam::init::<B, DeepAe<B>>();
    let batch = 128;
    let x = Tensor::<B, 2>::random([batch, 784], Distribution::Uniform(0.0, 1.0), &device);
    let mut group = c.benchmark_group("deep_ae_train_step_784_1000_500_250_30_b128");
    group.throughput(Throughput::Elements(batch as u64));
    group.sample_size(20);
    group.bench_function(name, |b| {
        b.iter(|| {
            // Moved, not cloned, as in ae_core::train: a shared parameter would be copied.
            let model = slot.take().expect("model");
            let logits = model.decoder.forward(model.encoder.forward(x.clone()));
            let loss = bce_with_logits_per_image(logits, x.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            slot = Some(optim.step(1e-3, model, grads));
        })
    });
    group.finish();
}

fn backends(c: &mut Criterion) {
    bench_backend::<Autodiff<Flex>>(c, "flex");
    bench_backend::<Autodiff<NdArray>>(c, "ndarray");
}

criterion_group!(benches, backends);
criterion_main!(benches);
