//! A run killed mid-epoch and resumed from its checkpoint ends bit for bit where the
//! uninterrupted run ends (flex backend), for Adam with a schedule and weight decay, for
//! a VAE (whose noise stream must resume at the right position) and for conjugate
//! gradients.
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use ae_core::checkpoint::Checkpointing;
use ae_core::flat::params_to_vec;
use ae_core::train::Progress;
use ae_core::{AeConfig, ArchSpec, CheckedAe, OptimizerSpec, Schedule, TrainSpec, fit_from};
use ae_data::{Corruption, Split};
use burn::backend::{Autodiff, Flex};

type A = Autodiff<Flex>;

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// 96 images of 4x4 pixels with some structure.
fn fixture() -> Split {
    let images = (0..96usize)
        .flat_map(|i| (0..16usize).map(move |p| ((p * 7 + i * 3) % 11) as f32 / 10.0))
        .collect();
    crate::common::split_4x4(images)
}

fn arch(hidden: &[usize]) -> ArchSpec {
    ArchSpec {
        hidden: hidden.to_vec(),
        ..ArchSpec::default()
    }
}

/// Trains from the seeded initial weights; `kill_at` = (epoch, batch) panics inside the
/// progress callback of that batch, as a killed process would stop, after its step.
fn train(
    checked: &CheckedAe,
    spec: &TrainSpec,
    ckpt: Option<&Checkpointing>,
    kill_at: Option<(usize, usize)>,
) -> std::thread::Result<(Vec<f32>, Vec<f64>)> {
    let data = fixture();
    let d = Default::default();
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        let model = ae_core::noise::init_seeded::<A, _>(&d, 5, || checked.init::<A>(&d));
        let mut progress = |p: Progress| {
            if Some((p.epoch, p.batch)) == kill_at {
                panic!("killed at epoch {} batch {}", p.epoch, p.batch);
            }
        };
        let (m, h) = fit_from::<A>(
            model,
            checked,
            &spec.check().unwrap(),
            5,
            &data,
            &d,
            &mut progress,
            &mut |s, _| Ok(vec![("hook".into(), s.train_total * 2.0)]),
            ckpt,
        )
        .unwrap();
        let curve = h
            .epochs
            .iter()
            .flat_map(|e| [e.train_total, e.train_recon, e.extra[0].1])
            .collect();
        (params_to_vec(&m).unwrap(), curve)
    }))
}

fn kill_and_resume(checked: &CheckedAe, spec: &TrainSpec) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.ckpt");
    // Every batch writes a checkpoint, so the kill lands mid-epoch.
    let ckpt = Checkpointing::new(&path, Duration::ZERO);
    let (want, want_curve) = train(checked, spec, None, None).unwrap();
    // Killed in the middle of epoch 2 (batch 3 of 6): a checkpoint is left behind.
    assert!(train(checked, spec, Some(&ckpt), Some((2, 3))).is_err());
    assert!(path.exists(), "the killed run left its checkpoint");
    // Killed again after resuming, in epoch 3, then resumed to the end.
    assert!(train(checked, spec, Some(&ckpt), Some((3, 5))).is_err());
    let (got, got_curve) = train(checked, spec, Some(&ckpt), None).unwrap();
    assert_eq!(
        got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        "resumed parameters differ from the uninterrupted run's"
    );
    assert_eq!(
        got_curve, want_curve,
        "the loss curve and hook values survive"
    );
    // The finished run's checkpoint stays until the caller has stored its results;
    // resuming from it takes no step (a kill at the first batch would fire) and returns
    // the same weights and curve.
    assert!(path.exists(), "the finished run keeps its checkpoint");
    let (again, again_curve) = train(checked, spec, Some(&ckpt), Some((1, 1))).unwrap();
    assert_eq!(again, got, "resuming a finished run changed the weights");
    assert_eq!(
        again_curve, got_curve,
        "resuming a finished run changed the curve"
    );
    ae_core::checkpoint::remove(&path).unwrap();
    // A checkpoint of another run is refused, not continued.
    assert!(train(checked, spec, Some(&ckpt), Some((2, 2))).is_err());
    let other = TrainSpec {
        lr: spec.lr * 2.0,
        ..spec.clone()
    };
    assert!(
        train(checked, &other, Some(&ckpt), None).is_err(),
        "resuming another run's checkpoint must fail"
    );
}

#[test]
fn adam_one_cycle_adamw_resumes_bit_for_bit() {
    let checked = AeConfig::Denoising {
        arch: arch(&[12]),
        corruption: Corruption::Masking { p: 0.25 },
    }
    .check(16, 4)
    .unwrap();
    let spec = TrainSpec {
        epochs: 4,
        batch_size: 16,
        lr: 3e-3,
        schedule: Schedule::one_cycle(),
        weight_decay: 0.01,
        clip_grad_norm: Some(5.0),
        validation: 0,
        ..TrainSpec::default()
    };
    kill_and_resume(&checked, &spec);
}

#[test]
fn vae_noise_stream_resumes_bit_for_bit() {
    let checked = AeConfig::Vae {
        arch: arch(&[10]),
        beta: 1.0,
        channels: None,
    }
    .check(16, 2)
    .unwrap();
    let spec = TrainSpec {
        epochs: 4,
        batch_size: 16,
        schedule: Schedule::WarmupCosine {
            warmup: 0.2,
            final_fraction: 0.0,
        },
        ..TrainSpec::default()
    };
    kill_and_resume(&checked, &spec);
}

#[test]
fn conjugate_gradients_resume_bit_for_bit() {
    let checked = AeConfig::Deep { arch: arch(&[8]) }.check(16, 3).unwrap();
    let spec = TrainSpec {
        optimizer: OptimizerSpec::Cg { line_searches: 2 },
        epochs: 4,
        batch_size: 16,
        ..TrainSpec::default()
    };
    kill_and_resume(&checked, &spec);
}
