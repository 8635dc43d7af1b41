//! Experiment files: the TOML schema, parsed strictly (`deny_unknown_fields`) and
//! validated into a list of cells.
//!
//! Files: `model` (a `[[models]]` entry), `tasks` (`[eval]` and its task settings),
//! `cell` (one point of the sweep, its key, shards); this file holds the top-level schema,
//! `--set` overrides and the checks that span sections. Children never import from here.

mod cell;
mod model;
mod tasks;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use ae_core::{AeConfig, ReconLoss, TrainSpec};
use ae_data::{Dataset, DatasetId, DatasetKind, FileDataset, ValueKind};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::backend::BackendKind;

pub use cell::{Cell, Shard};
pub use model::ModelSpec;
pub use tasks::{
    AnomalySpec, ClusterSpec, CompressSpec, DenoiseSpec, EvalSpec, FeatureSpec, GenerateSpec,
    PIXELS_CODE, Task, TsneTaskSpec,
};

/// One experiment file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Short name; run folders are called `<date>-<name>`.
    pub name: String,
    /// One line on what the experiment measures.
    #[serde(default)]
    pub description: String,
    /// Datasets to run on.
    pub datasets: Vec<DatasetEntry>,
    /// Models to train and evaluate.
    pub models: Vec<ModelSpec>,
    /// Code sizes (latent dimensions) to sweep.
    pub code_sizes: Vec<usize>,
    /// Seeds; each cell is run once per seed.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Backends to run on (default: the embedded CPU backend).
    #[serde(default = "default_backends")]
    pub backends: Vec<BackendKind>,
    /// Training settings of the autoencoders (PCA ignores them).
    #[serde(default)]
    pub train: TrainSpec,
    /// Evaluation settings.
    #[serde(default)]
    pub eval: EvalSpec,
    /// The experiment file's folder: a user's data paths are relative to it.
    #[serde(skip)]
    pub base_dir: std::path::PathBuf,
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}

fn default_backends() -> Vec<BackendKind> {
    vec![BackendKind::DEFAULT]
}

/// One entry of `datasets`: a built-in set by name (`"mnist"`), or a user's file
/// (`[[datasets]] name = … path = … kind = …`, see [`FileDataset`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum DatasetEntry {
    /// MNIST or Fashion-MNIST.
    Builtin(DatasetName),
    /// A user's CSV, Parquet, NPY/NPZ or IDX file.
    File(Box<FileDataset>),
}

impl<'de> Deserialize<'de> for DatasetEntry {
    /// A string is a built-in name, a table a user's file; each gets its own error
    /// message (serde's untagged enums only say that nothing matched).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error;
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => serde_json::from_value(serde_json::Value::String(
                s.clone(),
            ))
            .map(DatasetEntry::Builtin)
            .map_err(|_| {
                D::Error::custom(format!(
                    "unknown dataset `{s}`: the built-in ones are mnist and fashion-mnist; \
                     a file of your own is a table: {{ name = \"…\", path = \"….csv\", kind = \"real\" }}"
                ))
            }),
            v @ serde_json::Value::Object(_) => serde_json::from_value(v)
                .map(|f| DatasetEntry::File(Box::new(f)))
                .map_err(|e| D::Error::custom(format!("dataset file entry: {e}"))),
            other => Err(D::Error::custom(format!(
                "a dataset is a name (\"mnist\") or a table with name, path and kind; found {other}"
            ))),
        }
    }
}

impl DatasetEntry {
    /// The identity cells carry.
    pub fn id(&self) -> DatasetId {
        match self {
            DatasetEntry::Builtin(n) => DatasetId::Builtin((*n).into()),
            DatasetEntry::File(f) => DatasetId::User(f.name.clone()),
        }
    }

    /// Values per item, as far as the experiment file alone tells (built-in sets: 784;
    /// a user's file: its declared `shape`, else only known once the file is read).
    pub fn declared_dim(&self) -> Option<usize> {
        match self {
            DatasetEntry::Builtin(_) => Some(28 * 28),
            DatasetEntry::File(f) => f.declared_dim(),
        }
    }
}

/// A dataset name as written in experiment files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    /// MNIST digits.
    Mnist,
    /// Fashion-MNIST.
    FashionMnist,
}

impl From<DatasetName> for DatasetKind {
    fn from(d: DatasetName) -> Self {
        match d {
            DatasetName::Mnist => DatasetKind::Mnist,
            DatasetName::FashionMnist => DatasetKind::FashionMnist,
        }
    }
}
impl Experiment {
    /// Reads, parses and validates an experiment file; errors name the file and field.
    pub fn load(path: &Path) -> Result<Experiment> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read experiment file {}", path.display()))?;
        let mut exp = Self::parse(&text)
            .with_context(|| format!("invalid experiment file {}", path.display()))?;
        exp.base_dir = base_of(path);
        Ok(exp)
    }

    /// [`load`](Self::load) with `--set KEY=VALUE` overrides applied to the file's TOML
    /// first (e.g. `train.epochs=2`, `seeds=[0]`); values are TOML, bare words strings.
    pub fn load_with(path: &Path, sets: &[String]) -> Result<Experiment> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read experiment file {}", path.display()))?;
        let mut exp = Self::parse_with(&text, sets).with_context(|| {
            if sets.is_empty() {
                format!("invalid experiment file {}", path.display())
            } else {
                format!(
                    "invalid experiment {} after --set {}",
                    path.display(),
                    sets.join(" --set ")
                )
            }
        })?;
        exp.base_dir = base_of(path);
        Ok(exp)
    }

    /// [`parse`](Self::parse) with `--set KEY=VALUE` overrides applied to the TOML first.
    pub fn parse_with(text: &str, sets: &[String]) -> Result<Experiment> {
        if sets.is_empty() {
            return Self::parse(text);
        }
        let mut table: toml::Table = toml::from_str(text)?;
        for s in sets {
            apply_set(&mut table, s).with_context(|| format!("--set {s}"))?;
        }
        let exp: Experiment = table.try_into()?;
        exp.validate()?;
        Ok(exp)
    }

    /// Parses and validates TOML text.
    pub fn parse(text: &str) -> Result<Experiment> {
        let exp: Experiment = toml::from_str(text)?;
        exp.validate()?;
        Ok(exp)
    }

    fn validate(&self) -> Result<()> {
        let nonempty = [
            ("datasets", self.datasets.is_empty()),
            ("models", self.models.is_empty()),
            ("code_sizes", self.code_sizes.is_empty()),
            ("seeds", self.seeds.is_empty()),
            ("backends", self.backends.is_empty()),
        ];
        if let Some((field, _)) = nonempty.iter().find(|(_, empty)| *empty) {
            bail!("`{field}` is empty: list at least one value");
        }
        if let Some(k) = self.code_sizes.iter().find(|&&k| k == 0) {
            bail!("`code_sizes` contains {k}: code sizes must be >= 1");
        }
        if self.eval.batch_size == 0 {
            bail!("`eval.batch_size` = 0: must be >= 1");
        }
        self.validate_tasks()?;
        self.train.check()?;
        for m in &self.models {
            m.train_spec(&self.train)
                .with_context(|| format!("model `{}`", m.name()))?;
        }
        // An axis entry listed twice would run the same cell twice and overwrite it; two
        // models under one label would be averaged as if they were seeds of one model.
        fn no_duplicates<T: PartialEq + std::fmt::Debug>(field: &str, values: &[T]) -> Result<()> {
            for (i, v) in values.iter().enumerate() {
                if values[..i].contains(v) {
                    bail!("`{field}` lists {v:?} twice: each entry must be distinct");
                }
            }
            Ok(())
        }
        let ids: Vec<String> = self
            .datasets
            .iter()
            .map(|d| d.id().name().to_string())
            .collect();
        no_duplicates("datasets", &ids)?;
        for d in &self.datasets {
            if let DatasetEntry::File(f) = d {
                f.check().with_context(|| format!("dataset `{}`", f.name))?;
                if f.name.parse::<DatasetKind>().is_ok() {
                    bail!(
                        "dataset `{}`: that name is a built-in dataset's; give your file another",
                        f.name
                    );
                }
            }
        }
        no_duplicates("code_sizes", &self.code_sizes)?;
        no_duplicates("seeds", &self.seeds)?;
        no_duplicates("backends", &self.backends)?;
        let labels: Vec<String> = self.models.iter().map(ModelSpec::name).collect();
        // A label becomes part of file names (cells, checkpoints, charts) and of CSV and
        // Markdown tables: one safe alphabet, checked here, keeps every write inside its
        // run folder and every table intact.
        if let Some(l) = labels.iter().find(|l| !is_safe_label(l)) {
            bail!(
                "`models`: label {l:?} is not allowed: use 1-64 of ASCII letters, digits, '-', \
                 '_', '.' and '+', starting with a letter or digit (it names files and table rows)"
            );
        }
        for (i, l) in labels.iter().enumerate() {
            if labels[..i].contains(l) {
                bail!(
                    "`models`: two models are named {l:?}; a label identifies one configuration \
                     (tables average only over seeds), so give each model its own `label`"
                );
            }
        }
        // Every cell's model is built and checked now, before the first cell trains,
        // rather than hours into the sweep, against every dataset whose size the file
        // tells; the sweep checks again against the loaded data (`check_models`).
        let dims: Vec<usize> = self
            .datasets
            .iter()
            .filter_map(DatasetEntry::declared_dim)
            .collect();
        for m in &self.models {
            if let ModelSpec::Ae {
                config, code_sizes, ..
            } = m
            {
                let own = code_sizes.as_deref();
                if own.is_some_and(|c| c.is_empty() || c.contains(&0)) {
                    bail!(
                        "model `{}`: `code_sizes` = {own:?}: list one or more sizes >= 1",
                        m.name()
                    );
                }
                if let Some(c) = own {
                    no_duplicates(&format!("model `{}`: `code_sizes`", m.name()), c)?;
                }
                for &input in &dims {
                    for &k in own.unwrap_or(&self.code_sizes) {
                        config.check(input, k).with_context(|| {
                            format!(
                                "model `{}` at code size {k} cannot be built for {input} inputs",
                                m.name()
                            )
                        })?;
                    }
                }
            }
        }
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            bail!(
                "`name` = {:?}: use letters, digits, '-' and '_' only (it names the run folder)",
                self.name
            );
        }
        Ok(())
    }

    fn validate_tasks(&self) -> Result<()> {
        let e = &self.eval;
        for n in &e.denoise.noises {
            n.validate().context("`eval.denoise.noises`")?;
        }
        let builtin_only = self
            .datasets
            .iter()
            .all(|d| matches!(d, DatasetEntry::Builtin(_)));
        if builtin_only && let Some(c) = e.anomaly.classes.iter().find(|&&c| c > 9) {
            bail!("`eval.anomaly.classes` contains {c}: classes are 0..=9");
        }
        let checks = [
            ("eval.features.knn_k", e.features.knn_k == 0, ">= 1"),
            (
                "eval.features.finetune_lr",
                !(e.features.finetune_lr > 0.0 && e.features.finetune_lr.is_finite()),
                "a finite rate > 0",
            ),
            (
                "eval.features.finetune_batch",
                e.features.finetune_batch == 0,
                ">= 1",
            ),
            (
                "eval.cluster.images",
                e.cluster.images < 10,
                ">= 10 (one per class at least)",
            ),
            ("eval.cluster.restarts", e.cluster.restarts == 0, ">= 1"),
            ("eval.tsne.points", e.tsne.points < 4, ">= 4"),
            (
                "eval.tsne.perplexity",
                !(e.tsne.perplexity > 0.0 && 3.0 * e.tsne.perplexity < e.tsne.points as f64),
                "> 0 and < points / 3",
            ),
            ("eval.generate.iwae_k", e.generate.iwae_k == 0, ">= 1"),
            (
                "eval.compress.bits",
                e.compress.bits.iter().any(|b| !(1..=16).contains(b)),
                "values in 1..=16",
            ),
        ];
        if let Some((field, _, expected)) = checks.iter().find(|c| c.1) {
            bail!("`{field}` is out of range: expected {expected}");
        }
        Ok(())
    }

    /// Checks every model and task against the datasets as loaded (their real size, value
    /// kind, image shape and labels), before any cell trains; errors name the model or
    /// task, the dataset and what to change.
    pub fn check_against(&self, data: &BTreeMap<DatasetId, Dataset>) -> Result<()> {
        for (id, ds) in data {
            let dim = ds.dim();
            for m in &self.models {
                let ModelSpec::Ae {
                    config, code_sizes, ..
                } = m
                else {
                    continue;
                };
                let name = m.name();
                for &k in code_sizes.as_deref().unwrap_or(&self.code_sizes) {
                    config.check(dim, k).with_context(|| {
                        format!("model `{name}` at code size {k} cannot be built for dataset `{id}` ({dim} values per item)")
                    })?;
                }
                if matches!(config, AeConfig::Conv { .. }) && ds.train.height != ds.train.width {
                    bail!(
                        "model `{name}` is convolutional and needs square images; dataset `{id}` \
                         has items of {}×{}",
                        ds.train.height,
                        ds.train.width
                    );
                }
                check_loss_fits(&name, config.arch().loss, id, ds.values)?;
            }
            let needs_labels = [Task::Cluster, Task::Features, Task::Anomaly];
            if !ds.labelled
                && let Some(t) = self.eval.tasks.iter().find(|t| needs_labels.contains(t))
            {
                bail!(
                    "task `{}` needs labels; dataset `{id}` has none (give `label_column` or \
                     `labels_path`)",
                    t.name()
                );
            }
            let image_tasks = [Task::Denoise, Task::Generate, Task::Compress];
            let square_unit = ds.values == ValueKind::Unit && ds.train.height == ds.train.width;
            if !square_unit
                && let Some(t) = self.eval.tasks.iter().find(|t| image_tasks.contains(t))
            {
                bail!(
                    "task `{}` works on square images with values in [0, 1]; dataset `{id}` \
                     holds {} values in items of {}×{}",
                    t.name(),
                    ds.values.name(),
                    ds.train.height,
                    ds.train.width
                );
            }
            let n = ds.class_names.len();
            if self.eval.tasks.contains(&Task::Anomaly)
                && let Some(c) = self
                    .eval
                    .anomaly
                    .classes
                    .iter()
                    .find(|&&c| usize::from(c) >= n)
            {
                bail!(
                    "`eval.anomaly.classes` contains {c}; dataset `{id}` has {n} classes (0..={}): \
                     list the normal classes it has",
                    n - 1
                );
            }
        }
        if self.models.iter().any(|m| matches!(m, ModelSpec::Pixels)) {
            for d in &self.datasets {
                let declared = d.declared_dim();
                if let Some(ds) = data.get(&d.id())
                    && declared != Some(ds.dim())
                {
                    bail!(
                        "the pixel baseline on dataset `{}` needs `shape` declared (its items have \
                         {} values)",
                        d.id(),
                        ds.dim()
                    );
                }
            }
        }
        Ok(())
    }

    /// Every cell of the sweep, in a deterministic order.
    pub fn cells(&self) -> Vec<Cell> {
        let mut cells = Vec::new();
        let mut pixels;
        for dataset in &self.datasets {
            for model in &self.models {
                let sizes = match model {
                    // The identity "code": as wide as the input (checked against the loaded
                    // data by `check_against`).
                    ModelSpec::Pixels => {
                        pixels = [dataset.declared_dim().unwrap_or(PIXELS_CODE)];
                        &pixels[..]
                    }
                    ModelSpec::Ae {
                        code_sizes: Some(own),
                        ..
                    } => &own[..],
                    ModelSpec::Pca | ModelSpec::Ae { .. } => &self.code_sizes[..],
                };
                for &code_size in sizes {
                    for &backend in &self.backends {
                        for &seed in &self.seeds {
                            cells.push(Cell {
                                dataset: dataset.id(),
                                model: model.clone(),
                                code_size,
                                backend,
                                seed,
                            });
                        }
                    }
                }
            }
        }
        cells
    }
}

/// A reconstruction loss must suit the values: a real-valued or count dataset has values
/// outside [0, 1] that a sigmoid output cannot reach.
fn check_loss_fits(model: &str, loss: ReconLoss, id: &DatasetId, values: ValueKind) -> Result<()> {
    let fits = match values {
        ValueKind::Unit => true,
        ValueKind::Real | ValueKind::Counts => loss == ReconLoss::Gaussian,
    };
    if !fits {
        bail!(
            "model `{model}` uses loss = \"{}\", whose output is in [0, 1]; dataset `{id}` holds \
             {} values: set `arch = {{ loss = \"gaussian\" }}` (squared error on a linear output)",
            serde_json::to_value(loss)?.as_str().unwrap_or("?"),
            values.name()
        );
    }
    Ok(())
}

/// Whether a model label is safe as a file name and a table cell.
pub fn is_safe_label(label: &str) -> bool {
    label.len() <= 64
        && label
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'))
}

/// The folder of an experiment file (`.` for a bare file name).
fn base_of(path: &Path) -> std::path::PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    }
}

/// Sets the dotted `key` of `KEY=VALUE` in `table`, creating intermediate tables.
fn apply_set(table: &mut toml::Table, assignment: &str) -> Result<()> {
    let Some((key, raw)) = assignment.split_once('=') else {
        bail!("expected KEY=VALUE, e.g. train.epochs=2");
    };
    let keys: Vec<&str> = key.trim().split('.').map(str::trim).collect();
    if keys.iter().any(|k| k.is_empty()) {
        bail!("`{key}` is not a dotted key such as train.epochs");
    }
    // A TOML value if it parses as one (2, 1e-3, [0, 1], "x"), else the bare text.
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.trim().to_string()));
    let (last, parents) = keys.split_last().expect("split gives at least one key");
    let mut t = table;
    for k in parents {
        t = t
            .entry(k.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| anyhow::anyhow!("`{k}` is not a table"))?;
    }
    t.insert(last.to_string(), value);
    Ok(())
}
