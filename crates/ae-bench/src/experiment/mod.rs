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

use std::path::Path;

use ae_core::TrainSpec;
use ae_data::DatasetKind;
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
    pub datasets: Vec<DatasetName>,
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
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}

fn default_backends() -> Vec<BackendKind> {
    vec![BackendKind::DEFAULT]
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
        Self::parse(&text).with_context(|| format!("invalid experiment file {}", path.display()))
    }

    /// [`load`](Self::load) with `--set KEY=VALUE` overrides applied to the file's TOML
    /// first (e.g. `train.epochs=2`, `seeds=[0]`); values are TOML, bare words strings.
    pub fn load_with(path: &Path, sets: &[String]) -> Result<Experiment> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read experiment file {}", path.display()))?;
        Self::parse_with(&text, sets).with_context(|| {
            if sets.is_empty() {
                format!("invalid experiment file {}", path.display())
            } else {
                format!(
                    "invalid experiment {} after --set {}",
                    path.display(),
                    sets.join(" --set ")
                )
            }
        })
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
        no_duplicates("datasets", &self.datasets)?;
        no_duplicates("code_sizes", &self.code_sizes)?;
        no_duplicates("seeds", &self.seeds)?;
        no_duplicates("backends", &self.backends)?;
        let labels: Vec<String> = self.models.iter().map(ModelSpec::name).collect();
        for (i, l) in labels.iter().enumerate() {
            if labels[..i].contains(l) {
                bail!(
                    "`models`: two models are named {l:?}; a label identifies one configuration \
                     (tables average only over seeds), so give each model its own `label`"
                );
            }
        }
        // Every cell's model is built and checked now, before the first cell trains,
        // rather than hours into the sweep. Every supported dataset is 28 × 28 pixels.
        const INPUT: usize = 28 * 28;
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
                for &k in own.unwrap_or(&self.code_sizes) {
                    config.check(INPUT, k).with_context(|| {
                        format!("model `{}` at code size {k} cannot be built", m.name())
                    })?;
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
        if let Some(c) = e.anomaly.classes.iter().find(|&&c| c > 9) {
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

    /// Every cell of the sweep, in a deterministic order.
    pub fn cells(&self) -> Vec<Cell> {
        let mut cells = Vec::new();
        for &dataset in &self.datasets {
            for model in &self.models {
                let sizes = match model {
                    ModelSpec::Pixels => &[PIXELS_CODE][..],
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
                                dataset: dataset.into(),
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
