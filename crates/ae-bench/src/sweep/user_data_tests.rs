//! A user's own files through the whole sweep: a real-valued CSV table and a non-square
//! NPY image set, tiny; and bad files refused before any cell runs.

use super::*;
use crate::store::Status;

fn options(dir: &Path, toml: &str) -> SweepOptions {
    let exp = dir.join("exp.toml");
    std::fs::write(&exp, toml).unwrap();
    SweepOptions {
        jobs: Some(1),
        ..SweepOptions::for_test(exp, dir.join("results"))
    }
}

/// 240 rows of 6 real features on a 2-d plane (plus noise), scaled far outside [0, 1],
/// and a label: a 2-d code should explain nearly all of it.
fn write_table(dir: &Path) {
    let mut text = String::from("f1,f2,f3,f4,f5,f6,group\n");
    for i in 0..240 {
        let (a, b) = ((i as f64 * 0.37).sin() * 3.0, (i as f64 * 0.11).cos() * 5.0);
        let noise = ((i * 7919) % 13) as f64 * 1e-3;
        let f = [a, b, a + b, 100.0 + a - b, 2.0 * a, -b + noise];
        let row: Vec<String> = f.iter().map(|v| format!("{v:.6}")).collect();
        text += &format!("{},{}\n", row.join(","), i % 3);
    }
    std::fs::write(dir.join("table.csv"), text).unwrap();
}

fn sse(out: &SweepOutcome, dataset: &str, model: &str) -> f64 {
    out.rows
        .iter()
        .find(|r| r.dataset == dataset && r.model == model && r.metric == "test_sse_per_image")
        .unwrap_or_else(|| panic!("no {dataset}/{model} row in {:?}", out.rows))
        .value
}

#[test]
fn a_real_valued_csv_runs_through_the_sweep() {
    let dir = tempfile::tempdir().unwrap();
    write_table(dir.path());
    let opts = options(
        dir.path(),
        r#"name = "tab"
code_sizes = [2]
models = [
  { kind = "pca" },
  { kind = "pixels" },
  { kind = "deep", label = "ae", arch = { hidden = [16], activation = "tanh", code_activation = "linear", loss = "gaussian" } },
]
[[datasets]]
name = "tab"
path = "table.csv"
kind = "real"
shape = [6]
label_column = "group"
[train]
epochs = 30
batch_size = 32
lr = 1e-2
[eval]
tasks = ["features"]
"#,
    );
    let out = run(&opts).unwrap();
    assert_eq!(out.failed, 0, "{:?}", out.rows);
    // 6 standardised features: 6 per row in all; a rank-2 table leaves almost nothing
    // after a 2-d PCA, and the AE's error is on the same scale.
    let (pca, ae) = (sse(&out, "tab", "pca"), sse(&out, "tab", "ae"));
    assert!(pca < 0.1, "pca {pca}");
    assert!(ae.is_finite() && ae < 3.0, "ae {ae}");
    assert!(
        out.rows
            .iter()
            .any(|r| r.dataset == "tab" && r.model == "pixels")
    );
    assert!(out.rows.iter().all(|r| r.status == Status::Ok));
    // No cross-entropy or PSNR on real values: they assume [0, 1].
    for m in ["test_bce_per_image", "test_psnr_db"] {
        assert!(!out.rows.iter().any(|r| r.metric == m), "{m} reported");
    }
    assert!(out.rows.iter().any(|r| r.metric == "test_mse_per_pixel"));
}

#[test]
fn a_non_square_npy_image_set_runs_through_the_sweep() {
    use ndarray_npy::WriteNpyExt;
    let dir = tempfile::tempdir().unwrap();
    let x = ndarray::Array3::<f32>::from_shape_fn((120, 3, 5), |(i, r, c)| {
        ((i % 4 + r + c) % 5) as f32 / 4.0
    });
    x.write_npy(std::fs::File::create(dir.path().join("x.npy")).unwrap())
        .unwrap();
    let opts = options(
        dir.path(),
        r#"name = "arr"
datasets = [{ name = "strips", path = "x.npy", kind = "unit" }]
code_sizes = [3]
models = [{ kind = "pca" }, { kind = "shallow", label = "sh" }]
[train]
epochs = 2
batch_size = 16
"#,
    );
    let out = run(&opts).unwrap();
    assert_eq!((out.ok, out.failed), (2, 0), "{:?}", out.rows);
    assert!(sse(&out, "strips", "sh").is_finite());
}

/// A bad file, or a model that cannot fit the data, fails the sweep before any run folder
/// is made, naming the file, row and field (or the model and what to set).
#[test]
fn bad_files_and_unfit_models_are_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    write_table(dir.path());
    let base = r#"name = "bad"
code_sizes = [2]
models = [{ kind = "deep", label = "ae", arch = { hidden = [8] } }]
[[datasets]]
name = "tab"
path = "table.csv"
kind = "real"
"#;
    let err = format!("{:#}", run(&options(dir.path(), base)).unwrap_err());
    assert!(
        err.contains("loss = \"gaussian\"") && err.contains("`ae`"),
        "{err}"
    );
    let mut text = std::fs::read_to_string(dir.path().join("table.csv")).unwrap();
    text = text.replacen("\n", "\n1,2,NaN,4,5,6,0\n", 1);
    std::fs::write(dir.path().join("table.csv"), text).unwrap();
    let fixed = base.replace("[8] }", "[8], loss = \"gaussian\" }");
    let err = format!("{:#}", run(&options(dir.path(), &fixed)).unwrap_err());
    assert!(
        err.contains("table.csv") && err.contains("row 1") && err.contains("`f3`"),
        "{err}"
    );
    let err = format!(
        "{:#}",
        run(&options(
            dir.path(),
            &fixed.replace("table.csv", "none.csv")
        ))
        .unwrap_err()
    );
    assert!(err.contains("none.csv"), "{err}");
    assert!(!dir.path().join("results").exists(), "nothing written");
}
