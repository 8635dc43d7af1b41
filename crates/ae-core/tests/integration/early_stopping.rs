//! With a validation split, training returns the weights of its best validation epoch,
//! whether or not early stopping ended it.
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use ae_core::train::recon_on;
use ae_core::{AeConfig, ArchSpec, TrainSpec, fit};
use ae_data::Split;
use burn::backend::{Autodiff, Flex};

fn fixture() -> Split {
    let images = (0..120usize)
        .flat_map(|i| (0..16usize).map(move |p| ((p * 5 + i * 7) % 13) as f32 / 12.0))
        .collect();
    crate::common::split_4x4(images)
}

#[test]
fn the_best_validation_epoch_is_returned_with_or_without_stopping() {
    let data = fixture();
    let d = Default::default();
    let checked = AeConfig::Deep {
        arch: ArchSpec {
            hidden: vec![12],
            ..ArchSpec::default()
        },
    }
    .check(16, 3)
    .unwrap();
    // A rate high enough that the validation loss wanders, so the best epoch is often not
    // the last; the property below holds either way.
    for (lr, patience) in [
        (0.08, None),
        (0.08, Some(100)),
        (0.08, Some(2)),
        (1e-3, None),
    ] {
        let spec = TrainSpec {
            epochs: 12,
            batch_size: 8,
            lr,
            validation: 24,
            patience,
            ..TrainSpec::default()
        };
        let (model, history) =
            fit::<Autodiff<Flex>>(&checked, &spec.check().unwrap(), 1, &data, &d, &mut |_| {})
                .unwrap();
        let (_, val) = data.split_validation(24, 1).unwrap();
        let returned = recon_on(&model, &val, 8, &d).unwrap();
        let best = history
            .epochs
            .iter()
            .filter_map(|e| e.val_recon)
            .fold(f64::INFINITY, f64::min);
        assert!(
            (returned - best).abs() <= 1e-6 * best.abs(),
            "lr {lr}, patience {patience:?}: returned {returned}, best {best}"
        );
        let best_epoch = history.best_epoch.unwrap();
        assert_eq!(history.epochs[best_epoch - 1].val_recon, Some(best));
    }
}
