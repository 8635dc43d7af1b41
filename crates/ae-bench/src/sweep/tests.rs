//! The sweep end to end on real MNIST, shards, resume, and its small parts.

use super::cell::rows_for;
use super::*;
use crate::store::Status;
use ae_data::DatasetKind;

#[test]
fn run_dirs_are_never_reused() {
    let root = tempfile::tempdir().unwrap();
    let a = new_run_dir(root.path(), "x").unwrap();
    let b = new_run_dir(root.path(), "x").unwrap();
    assert_ne!(a, b);
    assert!(b.file_name().unwrap().to_string_lossy().ends_with("-x-2"));
}

#[test]
fn non_finite_metrics_mark_the_cell_failed() {
    let cell = Cell {
        dataset: DatasetKind::Mnist.into(),
        model: ModelSpec::Pca,
        code_size: 3,
        backend: BackendKind::Flex,
        seed: 0,
    };
    let rows = rows_for(&cell, Ok(vec![("test_sse_per_image".into(), f64::NAN)]));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, Status::Failed);
    assert!(rows[0].detail.contains("test_sse_per_image"));
    let rows = rows_for(&cell, Err("out of memory".into()));
    assert_eq!(
        (rows[0].status.as_str(), rows[0].detail.as_str()),
        ("failed", "out of memory")
    );
}

#[test]
fn thread_budget_never_oversubscribes() {
    for cores in 1..=16 {
        for jobs in [None, Some(1), Some(2), Some(3), Some(64)] {
            for pending in [0, 1, 5, 100] {
                let b = ThreadBudget::choose(cores, jobs, pending);
                assert!(b.jobs >= 1 && b.threads_per_cell >= 1);
                assert!(b.jobs * b.threads_per_cell <= cores, "{b:?}");
                assert!(b.jobs <= pending.max(1), "{b:?}");
            }
        }
    }
    assert_eq!(ThreadBudget::choose(2, None, 84).jobs, 2);
    assert_eq!(ThreadBudget::choose(8, Some(2), 84).threads_per_cell, 4);
    assert_eq!(ThreadBudget::choose(8, None, 1).threads_per_cell, 8);
}

/// A PCA-only experiment on real MNIST at `code_sizes`, its test split cut to `test`
/// images, and the options that sweep it into `<dir>/results`.
impl SweepOptions {
    fn with_experiment(self, experiment: PathBuf) -> SweepOptions {
        SweepOptions { experiment, ..self }
    }
}

fn pca_sweep(dir: &Path, code_sizes: &str, test: usize) -> SweepOptions {
    let exp = dir.join("e.toml");
    std::fs::write(
        &exp,
        format!(
            "name = \"t\"\ndatasets = [\"mnist\"]\nmodels = [{{ kind = \"pca\" }}]\n\
             code_sizes = {code_sizes}\n[eval]\nbatch_size = 500\ntest_limit = {test}\n"
        ),
    )
    .unwrap();
    SweepOptions::for_test(exp, dir.join("results"))
}

impl SweepOptions {
    /// The options of a plain sweep of `experiment` into `out_root`, as tests start one.
    pub(super) fn for_test(experiment: PathBuf, out_root: PathBuf) -> SweepOptions {
        SweepOptions {
            experiment,
            sets: Vec::new(),
            out_root,
            data_dir: None,
            backend: None,
            models: Vec::new(),
            resume: None,
            shard: None,
            run_dir: None,
            jobs: None,
            command: "test".into(),
        }
    }
}

/// Two shards cover the experiment, and merged they equal the unsharded run.
#[test]
fn shards_merge_into_the_full_run() {
    let dir = tempfile::tempdir().unwrap();
    let base = pca_sweep(dir.path(), "[5, 10, 20]", 500);
    let opts = |shard: Option<Shard>| SweepOptions {
        shard,
        ..base.clone()
    };
    let full = run(&opts(None)).unwrap();
    let a = run(&opts(Some(Shard { k: 1, n: 2 }))).unwrap();
    let b = run(&opts(Some(Shard { k: 2, n: 2 }))).unwrap();
    assert!(a.run_dir.to_string_lossy().ends_with("-t-shard1of2"));
    assert_eq!((a.ok, b.ok), (2, 1));
    let merged =
        crate::runs::merge(&[a.run_dir, b.run_dir], &dir.path().join("m"), "merge").unwrap();
    let sse = |rows: Vec<Row>| -> Vec<(u32, f64)> {
        let mut v: Vec<(u32, f64)> = rows
            .into_iter()
            .filter(|r| r.metric == "test_sse_per_image")
            .map(|r| (r.code_size, r.value))
            .collect();
        v.sort_by_key(|p| p.0);
        v
    };
    let merged_rows = crate::runs::rows_of(&merged.dir).unwrap();
    assert_eq!(sse(merged_rows), sse(full.rows));
}

/// End to end on real MNIST, test split cut to 2 000 images to stay fast.
#[test]
fn sweep_on_real_mnist_writes_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let base = pca_sweep(dir.path(), "[5, 30, 1000]", 2000);
    let exp = base.experiment.clone();
    let out = run(&SweepOptions {
        jobs: Some(2),
        ..base.clone()
    })
    .unwrap();
    // k = 1000 > 784 pixels: recorded as failed, and the sweep went on.
    assert_eq!((out.ok, out.failed), (2, 1));
    for f in [
        "results.csv",
        "results.parquet",
        "summary.md",
        "run.json",
        "error_vs_code_size.png",
        "error_vs_code_size.svg",
    ] {
        assert!(out.run_dir.join(f).is_file(), "{f} missing");
    }
    let sse = |k: u32| {
        out.rows
            .iter()
            .find(|r| r.code_size == k && r.metric == "test_sse_per_image")
            .unwrap()
            .value
    };
    assert!(sse(5) > sse(30) && sse(30) > 5.0 && sse(30) < 25.0);
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.run_dir.join("run.json")).unwrap())
            .unwrap();
    assert_eq!(info["versions"]["burn"], "0.21.0");
    assert_eq!(info["cells_failed"], 1);
    assert!(info["finished"].is_string());

    // --resume after a kill: the k=5 cell is gone, k=30 is kept as stored, the failed
    // k=1000 cell is retried.
    let cell_file = |k: u32| {
        std::fs::read_dir(out.run_dir.join("cells"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().contains(&format!("__k{k}__")))
    };
    std::fs::remove_file(cell_file(5).unwrap()).unwrap();
    let kept = std::fs::read(cell_file(30).unwrap()).unwrap();
    let opts = SweepOptions {
        out_root: dir.path().join("unused"),
        resume: Some(out.run_dir.clone()),
        command: "test --resume".into(),
        ..base
    };
    let again = run(&opts).unwrap();
    assert_eq!(again.run_dir, out.run_dir);
    assert_eq!((again.ok, again.failed), (2, 1));
    assert!(cell_file(5).is_some(), "the missing cell was rerun");
    assert_eq!(std::fs::read(cell_file(30).unwrap()).unwrap(), kept);
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.run_dir.join("run.json")).unwrap())
            .unwrap();
    assert_eq!(info["cells_resumed"], 1);
    assert!(!dir.path().join("unused").exists());
    // Resuming with other training settings is refused: the keys would not tell.
    let err = run(&SweepOptions {
        sets: vec!["eval.test_limit=1000".into()],
        ..opts.clone()
    })
    .unwrap_err();
    assert!(format!("{err:#}").contains("`[eval]` differs"), "{err:#}");
    // Resuming cells computed by another build of ae-bench is refused (here: the stored
    // run.json says another revision built it).
    let manifest = out.run_dir.join("run.json");
    let stored = std::fs::read_to_string(&manifest).unwrap();
    let mut doctored: serde_json::Value = serde_json::from_str(&stored).unwrap();
    doctored["git"]["binary_revision"] = "0123456789abcdef0123456789abcdef01234567".into();
    std::fs::write(&manifest, doctored.to_string()).unwrap();
    let err = run(&opts).unwrap_err();
    assert!(
        format!("{err:#}").contains("computed by ae-bench built from 0123456789abcdef"),
        "{err:#}"
    );
    std::fs::write(&manifest, stored).unwrap();
    // Resuming another experiment's folder is refused.
    let other = dir.path().join("o.toml");
    std::fs::write(
        &other,
        std::fs::read_to_string(&exp)
            .unwrap()
            .replace("name = \"t\"", "name = \"u\""),
    )
    .unwrap();
    let err = run(&SweepOptions {
        experiment: other,
        ..opts
    })
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("experiment `t`, not `u`"),
        "{err:#}"
    );
}

#[test]
fn every_eval_task_runs_on_real_data_and_writes_its_outputs() {
    // Tiny budgets: the point is that every task's path runs end to end on real images
    // for a baseline, an AE (DEC) and a VAE (likelihood), and that the numbers are sane.
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("evals.toml");
    std::fs::write(
        &exp,
        r#"
name = "evals"
datasets = ["mnist"]
code_sizes = [8]
models = [
  { kind = "pixels" },
  { kind = "pca" },
  { kind = "vae", arch = { hidden = [64], activation = "relu" } },
]
[train]
epochs = 1
train_limit = 600
binarize = true
[eval]
test_limit = 300
tasks = ["denoise", "anomaly", "features", "cluster", "tsne", "generate", "compress"]
denoise = { noises = [{ kind = "gaussian", sigma = 0.5 }, { kind = "masking", p = 0.5 }] }
anomaly = { classes = [1], ood = false }
features = { train_images = 600, probe_iterations = 30 }
cluster = { images = 300, restarts = 2, dec_epochs = 2 }
tsne = { points = 120, perplexity = 10.0, iterations = 250 }
generate = { iwae_k = 8, images = 50 }
"#,
    )
    .unwrap();
    let out = run(&SweepOptions {
        jobs: Some(1),
        ..pca_sweep(dir.path(), "[8]", 300)
    }
    .with_experiment(exp))
    .unwrap();
    assert_eq!((out.ok, out.failed), (3, 0));
    let get = |model: &str, metric: &str| {
        out.rows
            .iter()
            .find(|r| r.model == model && r.metric == metric)
            .unwrap_or_else(|| panic!("{model} {metric} missing"))
            .value
    };
    // The pixel baseline: one cell at 784, no reconstruction-based tasks.
    assert!(
        out.rows
            .iter()
            .filter(|r| r.model == "pixels")
            .all(|r| r.code_size == 784)
    );
    assert!(
        !out.rows
            .iter()
            .any(|r| r.model == "pixels" && r.metric.starts_with("psnr"))
    );
    for (model, metric) in [
        ("pixels", "probe_acc"),
        ("pixels", "knn_acc"),
        ("pca", "knn_acc"),
        ("pixels", "kmeans_acc"),
        ("pca", "kmeans_nmi"),
        ("vae", "dec_acc"),
        ("pixels", "tsne_knn_acc"),
        ("pca", "auroc@1"),
        ("vae", "auroc_mean"),
    ] {
        let v = get(model, metric);
        assert!((0.0..=1.0).contains(&v), "{model} {metric} = {v}");
    }
    // Pixels carry class information well above chance (10 %), even at these sizes.
    assert!(get("pixels", "knn_acc") > 0.6 && get("pixels", "probe_acc") > 0.5);
    // Digit 1 is the easiest one-class problem for PCA.
    assert!(get("pca", "auroc@1") > 0.9);
    // PCA denoises heavy Gaussian noise: its output beats the noisy input.
    assert!(get("pca", "psnr_denoised@gaussian-0.5") > get("pca", "psnr_noisy@gaussian-0.5"));
    // Quantising to 4 bits can only lose (on average) against float codes; PNG beats raw.
    assert!(get("pca", "sse@4") >= get("pca", "sse@32") - 1e-3);
    assert_eq!(get("pca", "bits@8"), 64.0);
    assert!(get("pixels", "bits@png") < get("pixels", "bits@raw"));
    // A Bernoulli NLL in nats per binarized 784-pixel image: positive, below 784 ln 2.
    let nll = get("vae", "iwae_nll");
    assert!(nll > 50.0 && nll < 784.0 * 2f64.ln(), "{nll}");
    for f in [
        "denoise_psnr.png",
        "anomaly_auroc.png",
        "features_accuracy.png",
        "cluster_accuracy.png",
        "compress_rate_distortion.png",
        "tsne_mnist.png",
        "denoise_mnist.png",
    ] {
        assert!(out.run_dir.join(f).is_file(), "{f} missing");
    }
    let summary = std::fs::read_to_string(out.run_dir.join("summary.md")).unwrap();
    for section in [
        "Task `denoise`",
        "Task `cluster`",
        "Deep SVDD",
        "Task `generate`",
    ] {
        assert!(
            summary.contains(section),
            "{section} missing from summary.md"
        );
    }
}

/// Stored and running builds: the same revision continues; different ones do not; an
/// unknown side (no repository at build time) cannot be told apart.
#[test]
fn only_the_same_build_continues_a_run() {
    let (a, b) = ("a".repeat(40), "b".repeat(40));
    assert!(super::same_build(&a, &a).is_ok());
    let err = super::same_build(&a, &b).unwrap_err();
    assert!(err.contains(&a) && err.contains(&b), "{err}");
    assert!(super::same_build("unknown", &b).is_ok());
    assert!(super::same_build(&a, "unknown").is_ok());
}
