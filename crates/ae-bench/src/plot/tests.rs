//! The charts drawn from small hand-made rows.

use super::*;
use crate::store::Row;

#[test]
fn draws_png_and_svg_with_every_series() {
    let rows: Vec<Row> = [(2u32, 50.0), (30, 13.87), (100, 4.0)]
        .iter()
        .map(|&(k, v)| Row {
            dataset: "mnist".into(),
            model: "pca".into(),
            code_size: k,
            seed: 0,
            backend: "flex".into(),
            metric: "test_sse_per_image".into(),
            value: v,
            status: crate::store::Status::Ok,
            detail: String::new(),
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("chart");
    error_vs_code_size(&rows, "test_sse_per_image", &[HINTON_PCA30], &stem).unwrap();
    let svg = std::fs::read_to_string(stem.with_extension("svg")).unwrap();
    assert!(svg.contains("mnist: test_sse_per_image vs code size"));
    assert!(
        svg.contains("Hinton &amp; Salakhutdinov 2006")
            || svg.contains("Hinton & Salakhutdinov 2006")
    );
    let png = std::fs::read(stem.with_extension("png")).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    // No curve rows: no curve chart.
    assert!(!training_curves(&rows, &dir.path().join("curves")).unwrap());
    let curves: Vec<Row> = (1..=3)
        .flat_map(|e| {
            ["curve_train_recon", "curve_val_recon"].map(|m| Row {
                metric: format!("{m}@{e}"),
                value: 100.0 / f64::from(e),
                model: "deep".into(),
                ..rows[0].clone()
            })
        })
        .collect();
    assert!(training_curves(&curves, &dir.path().join("curves")).unwrap());
    let svg = std::fs::read_to_string(dir.path().join("curves.svg")).unwrap();
    assert!(
        svg.contains("mnist, k=2")
            && svg.contains("deep\n</text>")
            && svg.contains("dashed: validation"),
        "{}",
        &svg[..200]
    );
    let grid = dir.path().join("grid.png");
    image_grid(
        &[
            ("data".into(), vec![0.5; 3 * 16]),
            ("model".into(), vec![1.0; 3 * 16]),
        ],
        4,
        &grid,
    )
    .unwrap();
    assert!(std::fs::read(&grid).unwrap().starts_with(b"\x89PNG"));
}
