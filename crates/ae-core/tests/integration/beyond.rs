//! The two families beyond the classic zoo against independent computations: the
//! WAE's MMD estimate against a hand-written double loop in f64 and against Monte Carlo
//! behaviour; the AAE's adversarial steps move the codes' distribution toward the prior.
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use ae_core::config::Prior;
use ae_core::model::{from_slice, to_vec};
use ae_core::zoo::wae::{IMQ_SCALES, mmd_imq};
use ae_core::{AeConfig, AnyAe, ArchSpec, Codec, TrainSpec, fit};
use ae_data::Split;
use burn::backend::{Autodiff, Flex};

type B = Flex;
type A = Autodiff<Flex>;

/// MMD² from its definition, in f64, pair by pair: the independent computation.
fn mmd_by_hand(x: &[Vec<f64>], y: &[Vec<f64>]) -> f64 {
    let d = x[0].len() as f64;
    let k = |a: &[f64], b: &[f64]| -> f64 {
        let d2: f64 = a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum();
        IMQ_SCALES
            .iter()
            .map(|s| {
                let c = s * 2.0 * d;
                c / (c + d2)
            })
            .sum()
    };
    let (n, m) = (x.len() as f64, y.len() as f64);
    let mut xx = 0.0;
    for (i, a) in x.iter().enumerate() {
        for (j, b) in x.iter().enumerate() {
            if i != j {
                xx += k(a, b);
            }
        }
    }
    let mut yy = 0.0;
    for (i, a) in y.iter().enumerate() {
        for (j, b) in y.iter().enumerate() {
            if i != j {
                yy += k(a, b);
            }
        }
    }
    let xy: f64 = x.iter().flat_map(|a| y.iter().map(|b| k(a, b))).sum();
    xx / (n * (n - 1.0)) + yy / (m * (m - 1.0)) - 2.0 * xy / (n * m)
}

fn tensor(rows: &[Vec<f64>]) -> burn::tensor::Tensor<B, 2> {
    let flat: Vec<f32> = rows.iter().flatten().map(|&v| v as f32).collect();
    from_slice::<B>(&flat, rows.len(), rows[0].len(), &Default::default())
}

#[test]
fn mmd_matches_the_pairwise_definition() {
    let x = vec![vec![0.0, 0.0], vec![1.0, 0.0], vec![0.5, -1.0]];
    let y = vec![
        vec![0.0, 1.0],
        vec![2.0, 2.0],
        vec![-1.0, 0.5],
        vec![3.0, 0.0],
    ];
    let got = f64::from(to_vec(mmd_imq(tensor(&x), tensor(&y))).unwrap()[0]);
    let want = mmd_by_hand(&x, &y);
    assert!(
        (got - want).abs() < 1e-5 * want.abs().max(1.0),
        "{got} vs {want}"
    );
    // Identical samples: the unbiased estimate is not 0, but it is what the formula says.
    let same = f64::from(to_vec(mmd_imq(tensor(&x), tensor(&x))).unwrap()[0]);
    assert!((same - mmd_by_hand(&x, &x)).abs() < 1e-5, "{same}");
}

#[test]
fn mmd_is_near_zero_for_one_distribution_and_grows_with_a_shift() {
    ae_core::noise::seed(7);
    let d = Default::default();
    let a = ae_core::noise::normal::<B, 2>([400, 4], 1.0, &d);
    let b = ae_core::noise::normal::<B, 2>([400, 4], 1.0, &d);
    let same = f64::from(to_vec(mmd_imq(a.clone(), b.clone())).unwrap()[0]);
    let shifted = |s: f64| f64::from(to_vec(mmd_imq(a.clone(), b.clone() + s)).unwrap()[0]);
    // Unbiased: same-distribution estimates scatter around 0 (sd ~ 1e-3 at n = 400).
    assert!(same.abs() < 5e-3, "same distribution: {same}");
    let (s1, s2) = (shifted(0.5), shifted(1.5));
    assert!(s1 > 10.0 * same.abs() && s2 > s1, "{same} < {s1} < {s2}");
}

/// 256 images of 4x4 pixels in four families of bars and blobs.
fn fixture() -> Split {
    let mut images = Vec::new();
    for i in 0..256usize {
        for p in 0..16usize {
            let (r, c) = (p / 4, p % 4);
            let v = match i % 4 {
                0 => (r == i / 4 % 4) as u8 as f32,
                1 => (c == i / 4 % 4) as u8 as f32,
                2 => ((r + c + i / 4) % 2) as f32 * 0.8,
                _ => ((r * c + i) % 5) as f32 / 5.0,
            };
            images.push(v);
        }
    }
    crate::common::split_4x4(images)
}

fn arch() -> ArchSpec {
    ArchSpec {
        hidden: vec![12],
        ..ArchSpec::default()
    }
}

/// MMD² between the codes of every fixture image and as many N(0, I) draws.
fn distance_to_prior(model: &AnyAe<B>, data: &Split) -> f64 {
    let d = Default::default();
    let x = from_slice::<B>(&data.images, data.len(), 16, &d);
    let z = model.encode(x);
    ae_core::noise::seed(99);
    let p = ae_core::noise::normal::<B, 2>(z.dims(), 1.0, &d);
    f64::from(to_vec(mmd_imq(z, p)).unwrap()[0])
}

fn trained(cfg: AeConfig, epochs: usize) -> AnyAe<B> {
    let data = fixture();
    let checked = cfg.check(16, 2).unwrap();
    let spec = TrainSpec {
        lr: 3e-3,
        batch_size: 32,
        epochs,
        ..TrainSpec::default()
    };
    let d = Default::default();
    fit::<A>(&checked, &spec.check().unwrap(), 1, &data, &d, &mut |_| {})
        .unwrap()
        .0
}

#[test]
fn adversarial_and_mmd_training_pull_the_codes_toward_the_prior() {
    let data = fixture();
    let plain = trained(AeConfig::Deep { arch: arch() }, 150);
    let aae = trained(
        AeConfig::Aae {
            arch: arch(),
            prior: Prior::Gaussian,
            discriminator: vec![32, 32],
        },
        150,
    );
    let wae = trained(
        AeConfig::Wae {
            arch: arch(),
            lambda: 100.0,
        },
        150,
    );
    // A plain AE with the same body and linear code: nothing ties its codes to N(0, I).
    let plain_linear = trained(
        AeConfig::Deep {
            arch: ArchSpec {
                code_activation: ae_core::mlp::Activation::Linear,
                ..arch()
            },
        },
        150,
    );
    let (p, pl, a, w) = (
        distance_to_prior(&plain, &data),
        distance_to_prior(&plain_linear, &data),
        distance_to_prior(&aae, &data),
        distance_to_prior(&wae, &data),
    );
    eprintln!("plain {p} linear {pl} aae {a} wae {w}");
    assert!(a < 0.5 * pl.min(p), "AAE {a} vs plain {p} / linear {pl}");
    assert!(w < 0.5 * pl.min(p), "WAE {w} vs plain {p} / linear {pl}");
}

#[test]
fn the_mixture_prior_puts_equal_shares_on_a_circle() {
    let cfg = AeConfig::Aae {
        arch: arch(),
        prior: Prior::Mixture { components: 10 },
        discriminator: vec![8],
    };
    let checked = cfg.check(16, 3).unwrap();
    let d = Default::default();
    let AnyAe::Aae(m) = checked.init::<B>(&d) else {
        panic!("kind = aae builds an AAE")
    };
    ae_core::noise::seed(3);
    let z = to_vec(m.prior_sample(2000, &d)).unwrap();
    // Component c's draws sit around (4 cos 2πc/10, 4 sin 2πc/10) with sd 0.5; the third
    // dimension is N(0, 1).
    for c in 0..10usize {
        let rows: Vec<&[f32]> = z.chunks(3).skip(c).step_by(10).collect();
        let n = rows.len() as f64;
        let mean = |j: usize| rows.iter().map(|r| f64::from(r[j])).sum::<f64>() / n;
        let angle = std::f64::consts::TAU * c as f64 / 10.0;
        assert!((mean(0) - 4.0 * angle.cos()).abs() < 0.15, "component {c}");
        assert!((mean(1) - 4.0 * angle.sin()).abs() < 0.15, "component {c}");
        assert!(mean(2).abs() < 0.3, "component {c}");
    }
    // Checked at the boundary: a one-component "mixture" and a 1-unit code are refused.
    let bad = AeConfig::Aae {
        arch: arch(),
        prior: Prior::Mixture { components: 10 },
        discriminator: vec![8],
    };
    let e = bad.check(16, 1).unwrap_err().to_string();
    assert!(e.contains("prior.components"), "{e}");
}
