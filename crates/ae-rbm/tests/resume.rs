//! RBM pretraining killed mid-epoch (twice: in the first layer and in the second) and
//! resumed from its checkpoint ends bit for bit where the uninterrupted run ends (flex).
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use ae_core::checkpoint::Checkpointing;
use ae_rbm::{StackProgress, StackSpec, pretrain_resumable};
use burn::backend::Flex;

/// The backend's sampling RNG is process-wide: one run at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// 4x4 images with one horizontal or vertical bar, a few noisy pixels each.
fn bars(n: usize) -> Vec<f32> {
    (0..n)
        .flat_map(|i| {
            (0..16).map(move |p| {
                let (r, c) = (p / 4, p % 4);
                let on = if i % 2 == 0 {
                    r == i / 2 % 4
                } else {
                    c == i / 2 % 4
                };
                if (i * 7 + p * 3) % 13 == 0 {
                    0.5
                } else {
                    on as u8 as f32
                }
            })
        })
        .collect()
}

fn spec() -> StackSpec {
    StackSpec {
        layers: vec![12, 8, 3],
        epochs: 7, // past the momentum switch at epoch 5
        batch_size: 8,
        lr_linear: 0.01,
        monitor: 32,
        ..StackSpec::default()
    }
}

/// Everything the run produced, as bits: every layer's W and biases, and the monitors
/// (without their wall times).
fn run(ckpt: Option<&Checkpointing>, kill_at: Option<(usize, usize, usize)>) -> Option<Vec<u64>> {
    let d = Default::default();
    let (train, held) = (bars(64), bars(16));
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut progress = |p: StackProgress| {
            if Some((p.layer, p.epoch, p.batch)) == kill_at {
                panic!(
                    "killed at layer {} epoch {} batch {}",
                    p.layer, p.epoch, p.batch
                );
            }
        };
        let (rbms, log) = pretrain_resumable::<Flex>(
            &spec().check().unwrap(),
            &train,
            &held,
            16,
            9,
            &d,
            &mut progress,
            ckpt,
        )
        .unwrap();
        let mut bits: Vec<u64> = Vec::new();
        for r in &rbms {
            for t in [&r.w, &r.vb, &r.hb] {
                let v = t.clone().into_data().to_vec::<f32>().unwrap();
                bits.extend(v.iter().map(|x| u64::from(x.to_bits())));
            }
        }
        for e in &log {
            bits.extend([e.layer as u64, e.epoch as u64, e.recon_sse.to_bits()]);
            bits.push(e.free_energy_gap.to_bits());
            bits.push(e.pseudo_log_likelihood.map_or(0, f64::to_bits));
        }
        bits
    }))
    .ok()
}

#[test]
fn killed_twice_and_resumed_equals_uninterrupted() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let ck = Checkpointing::new(
        dir.path().join("pretrain.msgpack"),
        Duration::from_secs(3600),
    );
    let whole = run(None, None).unwrap();
    assert!(run(Some(&ck), Some((0, 3, 2))).is_none(), "first kill");
    assert!(ck.path.is_file(), "a checkpoint after two finished epochs");
    assert!(run(Some(&ck), Some((1, 6, 1))).is_none(), "second kill");
    let resumed = run(Some(&ck), None).unwrap();
    assert_eq!(whole.len(), resumed.len());
    let first_diff = whole.iter().zip(&resumed).position(|(a, b)| a != b);
    assert_eq!(
        first_diff, None,
        "resumed run differs from the uninterrupted one"
    );
    assert!(
        !ck.path.exists(),
        "the checkpoint is removed when pretraining finishes"
    );
}

#[test]
fn another_runs_checkpoint_is_refused() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let ck = Checkpointing::new(dir.path().join("p.msgpack"), Duration::from_secs(3600));
    assert!(run(Some(&ck), Some((0, 2, 1))).is_none());
    let d = Default::default();
    let other = StackSpec {
        epochs: 8,
        ..spec()
    };
    let err = pretrain_resumable::<Flex>(
        &other.check().unwrap(),
        &bars(64),
        &bars(16),
        16,
        9,
        &d,
        &mut |_| {},
        Some(&ck),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("p.msgpack") && err.contains("same spec"),
        "{err}"
    );
}
