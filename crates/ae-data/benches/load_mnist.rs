//! Loading the committed MNIST (four gzipped IDX files): decompression, SHA-256
//! verification and conversion to f32, as every sweep does once per dataset.

use std::path::Path;

use ae_data::DatasetKind;
use criterion::{Criterion, criterion_group, criterion_main};

/// What the ae-bench binary uses (see the workspace Cargo.toml).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn load(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data");
    let mut group = c.benchmark_group("load_mnist_gz");
    group.sample_size(10);
    group.bench_function("verify_and_decode", |b| {
        b.iter(|| {
            DatasetKind::Mnist
                .load(Some(&root))
                .expect("committed MNIST")
        })
    });
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
