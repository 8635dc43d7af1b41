//! One CD-1 update of a 784 × 1000 Bernoulli RBM on a batch of 100 (the first layer of
//! Hinton & Salakhutdinov's stack, their batch size), on each CPU backend.

use ae_rbm::{HiddenUnits, Rbm, RbmConfig, TrainParams, VisibleUnits};
use burn::backend::{Flex, NdArray};
use burn::prelude::*;
use burn::tensor::Distribution;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// What the ae-bench binary uses (see the workspace Cargo.toml).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench_backend<B: Backend>(c: &mut Criterion, name: &str) {
    let device = B::Device::default();
    B::seed(&device, 0);
    let config = RbmConfig {
        visible: 784,
        hidden: 1000,
        visible_units: VisibleUnits::Bernoulli,
        hidden_units: HiddenUnits::Bernoulli,
    };
    let mut rbm = Rbm::<B>::new(config, &device).expect("valid shape");
    let params = TrainParams {
        k: 1,
        lr: 0.1,
        momentum: 0.9,
        weight_decay: 2e-4,
    }
    .check()
    .expect("valid");
    let batch = 100;
    let v = Tensor::<B, 2>::random([batch, 784], Distribution::Uniform(0.0, 1.0), &device);
    let mut group = c.benchmark_group("rbm_cd1_784x1000_b100");
    group.throughput(Throughput::Elements(batch as u64));
    group.sample_size(20);
    group.bench_function(name, |b| {
        b.iter(|| rbm.cd_step(v.clone(), &params).expect("finite"))
    });
    group.finish();
}

fn backends(c: &mut Criterion) {
    bench_backend::<Flex>(c, "flex");
    bench_backend::<NdArray>(c, "ndarray");
}

criterion_group!(benches, backends);
criterion_main!(benches);
