//! PCA fit on the 60 000 x 784 MNIST training set (Hinton & Salakhutdinov's baseline), and
//! loading MNIST from its gzipped IDX files with checksum verification.

use ae_core::Pca;
use ae_data::DatasetKind;
use criterion::{Criterion, criterion_group, criterion_main};

/// What the ae-bench binary uses (see the workspace Cargo.toml).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn pca(c: &mut Criterion) {
    let mut g = c.benchmark_group("mnist");
    g.sample_size(10);
    g.bench_function("load_verify_gz", |b| {
        b.iter(|| DatasetKind::Mnist.load(None).map(|d| d.train.len()))
    });
    let ds = match DatasetKind::Mnist.load(None) {
        Ok(ds) => ds,
        Err(e) => panic!("MNIST is committed under data/mnist: {e}"),
    };
    g.bench_function("pca_fit_60000x784", |b| {
        b.iter(|| Pca::fit(&ds.train.images, ds.train.dim()).map(|p| p.components()))
    });
    g.finish();
}

criterion_group!(benches, pca);
criterion_main!(benches);
