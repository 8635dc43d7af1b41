//! Seeded randomness that does not go through the backend's RNG.
//!
//! burn's `Backend::seed` sets one process-wide generator, so two models trained at once
//! (parallel sweep cells) would interleave their draws and neither run would be
//! reproducible. Training noise (VAE reparameterisation, the contractive estimator's
//! perturbation, prior samples) is therefore drawn on the host from a per-thread
//! generator that the trainer seeds, and uploaded; initial weights, which burn draws from
//! the backend RNG, are built under a process-wide lock by [`init_seeded`].

use std::cell::RefCell;
use std::sync::Mutex;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution as _, StandardNormal};

thread_local! {
    // Unseeded threads start from seed 0 so that a bare `loss()` call is deterministic too.
    static RNG: RefCell<ChaCha8Rng> = RefCell::new(ChaCha8Rng::seed_from_u64(0));
}

/// Restarts this thread's noise stream from `seed`.
pub fn seed(seed: u64) {
    RNG.with(|r| *r.borrow_mut() = ChaCha8Rng::seed_from_u64(seed));
}

/// This thread's noise stream as (key, word position high, low), for checkpoints.
pub fn position() -> ([u8; 32], u64, u64) {
    RNG.with(|r| {
        let r = r.borrow();
        let pos = r.get_word_pos();
        (r.get_seed(), (pos >> 64) as u64, pos as u64)
    })
}

/// Puts this thread's noise stream back where [`position`] found it.
pub fn set_position(state: ([u8; 32], u64, u64)) {
    let (key, hi, lo) = state;
    let mut rng = ChaCha8Rng::from_seed(key);
    rng.set_word_pos((u128::from(hi) << 64) | u128::from(lo));
    RNG.with(|r| *r.borrow_mut() = rng);
}

/// Standard-normal noise scaled by `std`, drawn from this thread's stream.
pub fn normal<B: Backend, const D: usize>(
    shape: [usize; D],
    std: f64,
    device: &B::Device,
) -> Tensor<B, D> {
    let n = shape.iter().product();
    let values: Vec<f32> = RNG.with(|r| {
        let mut rng = r.borrow_mut();
        (0..n)
            .map(|_| {
                let z: f64 = StandardNormal.sample(&mut *rng);
                (z * std) as f32
            })
            .collect()
    });
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// Serialises every use of the backend's global RNG for initial weights.
static INIT: Mutex<()> = Mutex::new(());

/// Builds a module with `init` from the backend RNG seeded by `seed`, and materialises
/// every parameter before releasing the lock: burn draws weights lazily, at first use,
/// which would otherwise happen later, unlocked, interleaved with other threads' draws.
pub fn init_seeded<B: Backend, M: Module<B>>(
    device: &B::Device,
    seed: u64,
    init: impl FnOnce() -> M,
) -> M {
    // A panic while holding the lock leaves nothing half-written: the RNG is reseeded below.
    let _guard = INIT.lock().unwrap_or_else(|p| p.into_inner());
    B::seed(device, seed);
    let module = init();
    struct Touch;
    impl<B: Backend> ModuleVisitor<B> for Touch {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let _ = param.val();
        }
    }
    module.visit(&mut Touch);
    module
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn streams_are_per_thread_and_reproducible() {
        let d = Default::default();
        seed(7);
        let a = normal::<Flex, 2>([4, 3], 1.0, &d).into_data();
        seed(7);
        // Another thread drawing in between must not shift this thread's stream.
        std::thread::spawn(|| {
            seed(7);
            let _ = normal::<Flex, 2>([100, 3], 1.0, &Default::default());
        })
        .join()
        .unwrap();
        let b = normal::<Flex, 2>([4, 3], 1.0, &d).into_data();
        assert_eq!(a, b);
        let c = normal::<Flex, 2>([4, 3], 1.0, &d).into_data();
        assert_ne!(a, c, "the stream moves on");
    }

    #[test]
    fn normal_has_the_requested_moments() {
        seed(1);
        let v: Vec<f32> = normal::<Flex, 1>([200_000], 0.5, &Default::default())
            .into_data()
            .to_vec()
            .unwrap();
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
        let var = v
            .iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / n;
        // Standard errors: 0.5/sqrt(n) ≈ 1.1e-3 for the mean, ≈ 7.9e-4 for the variance.
        assert!(mean.abs() < 5e-3, "mean {mean}");
        assert!((var - 0.25).abs() < 4e-3, "variance {var}");
    }

    #[test]
    fn seeded_init_is_reproducible_under_concurrent_inits() {
        use burn::nn::LinearConfig;
        fn weights(seed: u64) -> TensorData {
            let d = Default::default();
            init_seeded::<Flex, _>(&d, seed, || LinearConfig::new(20, 10).init::<Flex>(&d))
                .weight
                .val()
                .into_data()
        }
        let reference = weights(3);
        let handles: Vec<_> = (0..4)
            .map(|i| std::thread::spawn(move || (i, weights(if i % 2 == 0 { 3 } else { 4 }))))
            .collect();
        for h in handles {
            let (i, w) = h.join().unwrap();
            assert_eq!(w == reference, i % 2 == 0, "thread {i}");
        }
    }
}
