//! Parsing, validation, overrides, keys and shards of experiment files.

use super::*;

const GOOD: &str = r#"
    name = "t"
    datasets = ["mnist", "fashion-mnist"]
    models = [{ kind = "pca" }]
    code_sizes = [2, 30]
    seeds = [0, 1]
"#;

#[test]
fn parses_and_expands_the_cartesian_product() {
    let e = Experiment::parse(GOOD).unwrap();
    assert_eq!(e.backends, vec![BackendKind::DEFAULT]);
    let cells = e.cells();
    assert_eq!(cells.len(), 2 * 2 * 2);
    assert!(
        cells[0].key().starts_with("mnist__pca-"),
        "{}",
        cells[0].key()
    );
    assert!(
        cells[0].key().ends_with("__k2__flex__s0"),
        "{}",
        cells[0].key()
    );
    let keys: std::collections::HashSet<_> = cells.iter().map(Cell::key).collect();
    assert_eq!(keys.len(), cells.len(), "keys are unique");
}

#[test]
fn unknown_field_is_named_with_the_valid_ones() {
    let e = Experiment::parse(&GOOD.replace("seeds", "seedz")).unwrap_err();
    let msg = format!("{e:#}");
    assert!(msg.contains("seedz") && msg.contains("code_sizes"), "{msg}");
}

#[test]
fn bad_values_are_named() {
    let msg = format!(
        "{:#}",
        Experiment::parse(&GOOD.replace("\"mnist\",", "\"cifar\",")).unwrap_err()
    );
    assert!(
        msg.contains("cifar") && msg.contains("fashion-mnist"),
        "{msg}"
    );
    let msg = format!(
        "{:#}",
        Experiment::parse(&GOOD.replace("\"pca\"", "\"gan\"")).unwrap_err()
    );
    assert!(msg.contains("gan") && msg.contains("pca"), "{msg}");
    let msg = format!(
        "{:#}",
        Experiment::parse(&GOOD.replace("[2, 30]", "[0]")).unwrap_err()
    );
    assert!(msg.contains("code_sizes"), "{msg}");
    let msg = format!(
        "{:#}",
        Experiment::parse(&GOOD.replace("[0, 1]", "[]")).unwrap_err()
    );
    assert!(msg.contains("`seeds` is empty"), "{msg}");
}

#[test]
fn per_model_train_overrides_merge_validate_and_change_the_key() {
    let e = Experiment::parse(
        "name = \"t\"\ndatasets = [\"mnist\"]\ncode_sizes = [2]\n\
         models = [{ kind = \"shallow\" }, { kind = \"shallow\", label = \"fast\", train = { lr = 0.01 } }]\n\
         [train]\nepochs = 2",
    )
    .unwrap();
    let base = e.models[0].train_spec(&e.train).unwrap();
    let over = e.models[1].train_spec(&e.train).unwrap();
    assert_eq!((base.lr, base.epochs), (1e-3, 2));
    assert_eq!((over.lr, over.epochs), (0.01, 2));
    let cells = e.cells();
    assert_ne!(cells[0].key(), cells[1].key());
    let err = Experiment::parse(
        "name = \"t\"\ndatasets = [\"mnist\"]\ncode_sizes = [2]\n\
         models = [{ kind = \"shallow\", train = { lr = -1.0 } }]",
    )
    .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("model `shallow`") && msg.contains("train.lr"),
        "{msg}"
    );
    let err = Experiment::parse(
        "name = \"t\"\ndatasets = [\"mnist\"]\ncode_sizes = [2]\n\
         models = [{ kind = \"shallow\", train = { lrr = 1.0 } }]",
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("lrr"), "{err:#}");
}

#[test]
fn duplicates_and_unbuildable_cells_are_refused_at_load() {
    let with = |models: &str, extra: &str| {
        let text = GOOD.replace("models = [{ kind = \"pca\" }]", models) + extra;
        format!("{:#}", Experiment::parse(&text).unwrap_err())
    };
    let deep = |label: &str, h: usize| {
        format!(
            "{{ kind = \"deep\", label = \"{label}\", arch = {{ hidden = [{h}], activation = \"relu\" }} }}"
        )
    };
    let e = with(
        &format!("models = [{}, {}]", deep("a", 100), deep("a", 200)),
        "",
    );
    assert!(e.contains("two models are named \"a\""), "{e}");
    let e = with("models = [{ kind = \"pca\" }, { kind = \"pca\" }]", "");
    assert!(e.contains("two models are named \"pca\""), "{e}");
    for (field, text) in [
        ("seeds", "seeds = [0, 0]"),
        ("code_sizes", "code_sizes = [2, 2]"),
        ("datasets", "datasets = [\"mnist\", \"mnist\"]"),
    ] {
        let t = GOOD
            .lines()
            .filter(|l| !l.trim_start().starts_with(field))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
            + text
            + "\n";
        let e = format!("{:#}", Experiment::parse(&t).unwrap_err());
        assert!(e.contains(&format!("`{field}` lists")), "{e}");
    }
    // Each surfaced only when its cell ran: now at load, naming model, field, value.
    let cases = [
        (
            "{ kind = \"denoising\", label = \"m\", arch = { hidden = [100] }, corruption = { kind = \"masking\", p = 1.5 } }",
            "p",
        ),
        (
            "{ kind = \"sparse\", label = \"m\", arch = { hidden = [100] }, sparsity = { penalty = \"kl\", rho = 0.0, beta = 1.0 } }",
            "rho",
        ),
        ("{ kind = \"vae\", label = \"m\", beta = -1.0 }", "beta"),
        (
            "{ kind = \"sparse\", label = \"m\", arch = { hidden = [100] }, sparsity = { penalty = \"k-sparse\", k = 31 } }",
            "k",
        ),
        (
            "{ kind = \"conv\", label = \"m\", channels = [0] }",
            "channels",
        ),
    ];
    for (model, field) in cases {
        let e = with(&format!("models = [{model}]"), "");
        assert!(e.contains("model `m`") && e.contains(field), "{model}: {e}");
    }
    let t = GOOD
        .replace("code_sizes = [2, 30]", "code_sizes = [2, 800]")
        .replace(
            "models = [{ kind = \"pca\" }]",
            &format!("models = [{}]", deep("big", 100)),
        );
    let e = format!("{:#}", Experiment::parse(&t).unwrap_err());
    assert!(
        e.contains("model `big` at code size 800") && e.contains("code_size"),
        "{e}"
    );
}

#[test]
fn autoencoders_parse_with_labels_and_distinct_keys() {
    let e = Experiment::parse(&(GOOD.replace(
        "models = [{ kind = \"pca\" }]",
        "models = [{ kind = \"pca\" }, { kind = \"deep\", label = \"relu\", arch = { hidden = [100], activation = \"relu\" } },\n\
         { kind = \"deep\", label = \"relu-200\", arch = { hidden = [200], activation = \"relu\" } }]",
    ) + "\n[train]\nepochs = 2\n"))
    .unwrap();
    assert_eq!(e.models[1].name(), "relu");
    assert_eq!(e.train.epochs, 2);
    let cells = e.cells();
    let keys: std::collections::HashSet<_> = cells.iter().map(Cell::key).collect();
    assert_eq!(keys.len(), cells.len());
    // Serialising for run.json keeps the label and the kind.
    let json = serde_json::to_string(&e.models[1]).unwrap();
    assert!(
        json.contains("\"label\":\"relu\"") && json.contains("\"kind\":\"deep\""),
        "{json}"
    );
}

#[test]
fn set_overrides_reach_nested_fields_and_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.toml");
    std::fs::write(
        &path,
        "name = \"e\"\ndatasets = [\"mnist\"]\nmodels = [{ kind = \"pca\" }]\ncode_sizes = [2]\n",
    )
    .unwrap();
    let sets = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let exp = Experiment::load_with(
        &path,
        &sets(&[
            "train.epochs=2",
            "seeds=[4, 5]",
            "eval.test_limit = 100",
            "name=e2",
        ]),
    )
    .unwrap();
    assert_eq!(exp.train.epochs, 2);
    assert_eq!(exp.seeds, vec![4, 5]);
    assert_eq!(exp.eval.test_limit, 100);
    assert_eq!(exp.name, "e2");
    let err = |s: &[&str]| format!("{:#}", Experiment::load_with(&path, &sets(s)).unwrap_err());
    assert!(err(&["train.epochs"]).contains("KEY=VALUE"));
    assert!(
        err(&["train.epoch=2"]).contains("epoch"),
        "{}",
        err(&["train.epoch=2"])
    );
    assert!(err(&["train.epochs=0"]).contains("epochs"));
    assert!(err(&["name.x=1"]).contains("`name` is not a table"));
}

#[test]
fn shards_partition_the_cells() {
    let cells: Vec<usize> = (0..10).collect();
    let mut all: Vec<usize> = (1..=3)
        .flat_map(|k| Shard { k, n: 3 }.select(cells.clone()))
        .collect();
    assert_eq!(Shard { k: 2, n: 3 }.select(cells.clone()), vec![1, 4, 7]);
    all.sort();
    assert_eq!(all, cells);
    assert_eq!("2/4".parse::<Shard>(), Ok(Shard { k: 2, n: 4 }));
    for bad in ["0/4", "5/4", "x", "1/0", "1-2"] {
        assert!(bad.parse::<Shard>().is_err(), "{bad}");
    }
}

#[test]
fn committed_experiments_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            Experiment::load(&p).unwrap();
            n += 1;
        }
    }
    assert!(n >= 1);
}

/// The zoo-wide CI experiment holds every kind of the zoo (and PCA): a family added
/// later without a model there fails here, so CI never stops guarding it.
#[test]
fn the_ci_zoo_experiment_covers_every_family() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/zoo-ci.toml");
    let exp = Experiment::load(&p).unwrap();
    let mut kinds: Vec<&str> = exp
        .models
        .iter()
        .filter_map(|m| match m {
            ModelSpec::Ae { config, .. } => Some(config.kind()),
            ModelSpec::Pca | ModelSpec::Pixels => None,
        })
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let mut all = ae_core::config::KINDS.to_vec();
    all.sort_unstable();
    assert_eq!(
        kinds, all,
        "experiments/zoo-ci.toml must hold one model of every kind"
    );
    assert!(exp.models.contains(&ModelSpec::Pca));
}

#[test]
fn eval_tasks_parse_validate_and_pixels_run_once() {
    let exp = Experiment::parse(&format!(
        "{GOOD}\n[eval]\ntasks = [\"cluster\", \"tsne\"]\ncluster = {{ restarts = 3 }}\n"
    ))
    .unwrap();
    assert_eq!(exp.eval.tasks, vec![Task::Cluster, Task::Tsne]);
    assert_eq!(exp.eval.cluster.restarts, 3);
    assert_eq!(exp.eval.cluster.images, ClusterSpec::default().images);
    for (bad, field) in [
        ("tasks = [\"dance\"]", "unknown variant `dance`"),
        ("anomaly = { classes = [3, 12] }", "contains 12"),
        (
            "tsne = { points = 50, perplexity = 30.0 }",
            "eval.tsne.perplexity",
        ),
        ("compress = { bits = [0] }", "eval.compress.bits"),
        (
            "denoise = { noises = [{ kind = \"masking\", p = 2.0 }] }",
            "masking.p",
        ),
        ("cluster = { k = 3 }", "unknown field `k`"),
    ] {
        let err = Experiment::parse(&format!("{GOOD}\n[eval]\n{bad}\n")).unwrap_err();
        assert!(format!("{err:#}").contains(field), "{bad}: {err:#}");
    }
    let text = GOOD.replace(
        "[{ kind = \"pca\" }]",
        "[{ kind = \"pixels\" }, { kind = \"pca\" }]",
    );
    let exp = Experiment::parse(&text).unwrap();
    // pixels: 2 datasets x 2 seeds at 784 only; pca: 2 x 2 code sizes x 2 seeds.
    let cells = exp.cells();
    assert_eq!(cells.len(), 4 + 8);
    assert!(
        cells
            .iter()
            .filter(|c| c.model == ModelSpec::Pixels)
            .all(|c| c.code_size == PIXELS_CODE)
    );
    let err =
        Experiment::parse(&GOOD.replace("{ kind = \"pca\" }", "{ kind = \"pixels\", k = 1 }"))
            .unwrap_err();
    assert!(
        format!("{err:#}").contains("takes no parameters"),
        "{err:#}"
    );
}

#[test]
fn a_model_may_bring_its_own_code_sizes() {
    let text = |own: &str| {
        format!(
            r#"
name = "t"
datasets = ["mnist"]
code_sizes = [2, 10]
models = [{{ kind = "pca" }}, {{ kind = "sparse", label = "over", sparsity = {{ penalty = "k-sparse", k = 2 }}{own} }}]
"#
        )
    };
    let plain = Experiment::parse(&text("")).unwrap();
    let over = Experiment::parse(&text(", code_sizes = [1000]")).unwrap();
    let sizes = |e: &Experiment, m: &str| -> Vec<usize> {
        e.cells()
            .iter()
            .filter(|c| c.model.name() == m)
            .map(|c| c.code_size)
            .collect()
    };
    assert_eq!(sizes(&plain, "over"), [2, 10]);
    assert_eq!(sizes(&over, "over"), [1000]);
    assert_eq!(
        sizes(&over, "pca"),
        [2, 10],
        "the others keep the experiment's"
    );
    // The override is part of the model's identity; the others' keys do not move.
    let key = |e: &Experiment, m: &str| {
        e.cells()
            .iter()
            .find(|c| c.model.name() == m)
            .map(Cell::key)
            .unwrap()
    };
    assert_eq!(key(&plain, "pca"), key(&over, "pca"));
    assert!(
        Experiment::parse(&text(", code_sizes = [0]"))
            .unwrap_err()
            .to_string()
            .contains("code_sizes")
    );
    assert!(Experiment::parse(&text(", code_sizes = [5, 5]")).is_err());
    // Each cell is checked at the model's own sizes: k = 2 active units need a code >= 2.
    let e = format!(
        "{:#}",
        Experiment::parse(&text(", code_sizes = [1]")).unwrap_err()
    );
    assert!(e.contains("model `over` at code size 1"), "{e}");
    assert!(
        format!(
            "{:#}",
            Experiment::parse(&text(", code_sizes = \"big\"")).unwrap_err()
        )
        .contains("code_sizes")
    );
}

/// The task CI experiment runs every evaluation task, and each task's headline metric is
/// tracked by `check`: a task added later without either fails here.
#[test]
fn the_ci_task_experiment_covers_every_task_and_each_is_tracked() {
    use clap::ValueEnum;
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/tasks-ci.toml");
    let exp = Experiment::load(&p).unwrap();
    for task in Task::value_variants() {
        assert!(
            exp.eval.tasks.contains(task),
            "experiments/tasks-ci.toml must run the {} task",
            task.name()
        );
        let metric = crate::check::headline(*task);
        let example = if metric.ends_with('@') {
            format!("{metric}gaussian-0.3")
        } else {
            metric.to_string()
        };
        assert!(
            crate::check::tracked(&example).is_some(),
            "{metric} is not tracked"
        );
    }
    // A prefix entry matches its labelled metrics only.
    assert_eq!(
        crate::check::tracked("psnr_denoised@masking-0.25"),
        Some(false)
    );
    assert_eq!(crate::check::tracked("psnr_denoised@"), None);
    assert_eq!(crate::check::tracked("psnr_denoisedx@a"), None);
    assert_eq!(crate::check::tracked("psnr_noisy@masking-0.25"), None);
    assert_eq!(crate::check::tracked("iwae_nll"), Some(true));
}

/// Labels name files and table rows: path separators, dots first, NUL, table and CSV
/// formula characters and overlong labels are refused at load, naming the label.
#[test]
fn unsafe_labels_are_refused_at_load() {
    for bad in [
        "/../../x",
        "a/b",
        "..",
        ".hidden",
        "-x",
        "=cmd()",
        "a|b",
        "a\nb",
        "a b",
        "",
        "x\u{0}",
        &"y".repeat(65),
    ] {
        let text = format!(
            "name = \"t\"\ndatasets = [\"mnist\"]\ncode_sizes = [2]\n\
             models = [{{ kind = \"deep\", label = {} }}]\n",
            toml::Value::String(bad.to_string())
        );
        let err = format!("{:#}", Experiment::parse(&text).unwrap_err());
        assert!(err.contains("not allowed"), "{bad:?}: {err}");
    }
    for good in ["deep", "rbm+cg", "l1-n256_bce.v2", &"y".repeat(64)] {
        assert!(super::is_safe_label(good), "{good}");
    }
}
