//! Runs N Adam training steps (batch 128, MNIST-shaped random input) of one zoo model on the
//! flex backend, for a profiler to watch: `perf record -g target/release/examples/profile_step
//! conv 200`. The criterion benches time these steps; this binary only repeats them.

use ae_core::model::Autoencoder;
use ae_core::{AeConfig, AnyAe};
use burn::backend::{Autodiff, Flex};
use burn::optim::{GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::Distribution;
use std::time::Instant;

type B = Autodiff<Flex>;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_else(|| "conv".into());
    let steps: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100);
    let json = match kind.as_str() {
        "conv" => r#"{ "kind": "conv", "channels": [16, 32] }"#,
        "vae" => r#"{ "kind": "vae", "arch": { "hidden": [500], "activation": "relu" } }"#,
        "deep" => {
            r#"{ "kind": "deep", "arch": { "hidden": [1000, 500, 250], "activation": "sigmoid", "code_activation": "linear" } }"#
        }
        other => {
            eprintln!("unknown model {other:?}: expected conv, vae or deep");
            std::process::exit(2);
        }
    };
    let device = Default::default();
    let config: AeConfig = serde_json::from_str(json).expect("valid config");
    let checked = config.check(784, 30).expect("valid shape");
    let mut model: AnyAe<B> =
        ae_core::noise::init_seeded::<B, _>(&device, 0, || checked.init::<B>(&device));
    let mut optim = ae_core::kernel::FusedAdam::init::<B, AnyAe<B>>();
    let batch = 128;
    let x = Tensor::<B, 2>::random([batch, 784], Distribution::Uniform(0.0, 1.0), &device);
    let start = Instant::now();
    for _ in 0..steps {
        let out = model.loss(x.clone());
        let grads = GradientsParams::from_grads(out.total.backward(), &model);
        model = optim.step(1e-3, model, grads);
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{kind}: {steps} steps in {secs:.2} s = {:.0} samples/s",
        (steps * batch) as f64 / secs
    );
}
