//! Experiment files: the TOML schema, parsed strictly (`deny_unknown_fields`) and
//! validated into a list of cells.

use std::path::Path;

use ae_core::{AeConfig, TrainSpec};
use ae_data::DatasetKind;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::backend::BackendKind;

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

/// A model of the sweep: the PCA baseline or any autoencoder of the zoo, selected by
/// `kind`; an optional `label` names it in tables (default: the variant's name).
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSpec {
    /// PCA fitted on the full training split (the linear baseline).
    Pca,
    /// The raw pixels as the "code" (the identity): the baseline of the evaluation tasks
    /// (k-means / probe / k-NN / t-SNE on pixels, PNG and gzip sizes). It runs once per
    /// dataset and seed at code size [`PIXELS_CODE`], whatever `code_sizes` says.
    Pixels,
    /// An autoencoder.
    Ae {
        /// Its configuration.
        config: AeConfig,
        /// Name in tables and charts.
        label: Option<String>,
        /// Fields of the experiment's `[train]` this model overrides, e.g.
        /// `train = { lr = 1e-2 }` for a shallow sigmoid AE that learns slowly at 1e-3.
        train: Option<toml::Table>,
    },
}

impl ModelSpec {
    /// The model's name in result rows.
    pub fn name(&self) -> String {
        match self {
            ModelSpec::Pca => "pca".into(),
            ModelSpec::Pixels => "pixels".into(),
            ModelSpec::Ae { config, label, .. } => {
                label.clone().unwrap_or_else(|| config.name().into())
            }
        }
    }

    /// The experiment's training settings with this model's overrides applied, validated.
    pub fn train_spec(&self, base: &TrainSpec) -> Result<TrainSpec> {
        let ModelSpec::Ae {
            train: Some(over), ..
        } = self
        else {
            return Ok(base.clone());
        };
        let mut table = toml::Table::try_from(base)?;
        for (k, v) in over {
            table.insert(k.clone(), v.clone());
        }
        let spec: TrainSpec = table
            .try_into()
            .with_context(|| format!("model `{}`: its `train` overrides", self.name()))?;
        spec.validate()
            .with_context(|| format!("model `{}`: its `train` overrides", self.name()))?;
        Ok(spec)
    }
}

impl<'de> Deserialize<'de> for ModelSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(d)?;
        let label = match table.remove("label") {
            Some(toml::Value::String(s)) => Some(s),
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "`label` must be a string, found {other}"
                )));
            }
            None => None,
        };
        let train = match table.remove("train") {
            Some(toml::Value::Table(t)) => Some(t),
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "`train` must be a table of [train] fields to override, found {other}"
                )));
            }
            None => None,
        };
        let baseline = match table.get("kind").and_then(|k| k.as_str()) {
            Some("pca") => Some(ModelSpec::Pca),
            Some("pixels") => Some(ModelSpec::Pixels),
            _ => None,
        };
        if let Some(model) = baseline {
            if let Some(extra) = table.keys().find(|k| *k != "kind") {
                return Err(D::Error::custom(format!(
                    "unknown field `{extra}`: kind = \"{}\" takes no parameters",
                    model.name()
                )));
            }
            return Ok(model);
        }
        AeConfig::deserialize(toml::Value::Table(table))
            .map(|config| ModelSpec::Ae {
                config,
                label,
                train,
            })
            .map_err(|e| {
                let msg = e.to_string();
                // Name PCA among the valid kinds too: it is not part of the zoo's enum.
                D::Error::custom(if msg.contains("unknown variant") {
                    format!("{msg}, or `pca`, `pixels`")
                } else {
                    msg
                })
            })
    }
}

impl Serialize for ModelSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            ModelSpec::Pca | ModelSpec::Pixels => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("kind", &self.name())?;
                m.end()
            }
            ModelSpec::Ae {
                config,
                label,
                train,
            } => {
                let mut v = serde_json::to_value(config).map_err(serde::ser::Error::custom)?;
                if let (Some(l), Some(obj)) = (label, v.as_object_mut()) {
                    obj.insert("label".into(), serde_json::Value::String(l.clone()));
                }
                if let (Some(t), Some(obj)) = (train, v.as_object_mut()) {
                    let t = serde_json::to_value(t).map_err(serde::ser::Error::custom)?;
                    obj.insert("train".into(), t);
                }
                v.serialize(s)
            }
        }
    }
}

/// How the test split is evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalSpec {
    /// Images per evaluation batch.
    pub batch_size: usize,
    /// Evaluate on the first `test_limit` test images only (0 = all of them).
    pub test_limit: usize,
    /// Downstream tasks run on every trained model (`ae-bench eval <task>` sets one).
    pub tasks: Vec<Task>,
    /// Settings of the tasks.
    pub denoise: DenoiseSpec,
    /// Settings of the anomaly task.
    pub anomaly: AnomalySpec,
    /// Settings of the feature task.
    pub features: FeatureSpec,
    /// Settings of the clustering task.
    pub cluster: ClusterSpec,
    /// Settings of the t-SNE task.
    pub tsne: TsneTaskSpec,
    /// Settings of the generation task.
    pub generate: GenerateSpec,
    /// Settings of the compression task.
    pub compress: CompressSpec,
}

impl Default for EvalSpec {
    fn default() -> Self {
        EvalSpec {
            batch_size: 1000,
            test_limit: 0,
            tasks: Vec::new(),
            denoise: DenoiseSpec::default(),
            anomaly: AnomalySpec::default(),
            features: FeatureSpec::default(),
            cluster: ClusterSpec::default(),
            tsne: TsneTaskSpec::default(),
            generate: GenerateSpec::default(),
            compress: CompressSpec::default(),
        }
    }
}

/// The code size recorded for the [`ModelSpec::Pixels`] baseline: 28 × 28 images.
pub const PIXELS_CODE: usize = 784;

/// What codes are used for; each is an `ae-bench eval <task>` and an `[eval] tasks` entry.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// PSNR of noisy and denoised test images, per corruption and level.
    Denoise,
    /// One-class anomaly detection AUROC per digit, and the other dataset as out-of-distribution.
    Anomaly,
    /// Linear-probe and k-NN accuracy of the codes.
    Features,
    /// k-means (and DEC) clustering accuracy and NMI of the codes.
    Cluster,
    /// t-SNE of the codes, with the 5-NN accuracy of the embedding.
    Tsne,
    /// VAE importance-weighted test NLL on binarized images (samples are drawn anyway).
    Generate,
    /// Bits per image of quantised codes vs SSE, and PNG / gzip of the pixels.
    Compress,
}

impl Task {
    /// Its name as written in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Task::Denoise => "denoise",
            Task::Anomaly => "anomaly",
            Task::Features => "features",
            Task::Cluster => "cluster",
            Task::Tsne => "tsne",
            Task::Generate => "generate",
            Task::Compress => "compress",
        }
    }
}

/// Denoising: the corruptions applied to the test images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DenoiseSpec {
    /// Corruptions, e.g. `{ kind = "gaussian", sigma = 0.3 }`.
    pub noises: Vec<ae_data::Corruption>,
}

impl Default for DenoiseSpec {
    fn default() -> Self {
        use ae_data::Corruption::*;
        let mut noises = Vec::new();
        for level in [0.1, 0.3, 0.5] {
            noises.push(Gaussian { sigma: level });
        }
        for level in [0.1, 0.3, 0.5] {
            noises.push(Masking { p: level });
        }
        for level in [0.05, 0.1, 0.2] {
            noises.push(SaltAndPepper { p: level });
        }
        DenoiseSpec { noises }
    }
}

/// One-class anomaly detection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnomalySpec {
    /// Normal classes: one model is trained on each.
    pub classes: Vec<u8>,
    /// Also score the experiment's other dataset as out-of-distribution.
    pub ood: bool,
}

impl Default for AnomalySpec {
    fn default() -> Self {
        AnomalySpec {
            classes: (0..10).collect(),
            ood: true,
        }
    }
}

/// Linear probe and k-NN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeatureSpec {
    /// Training images the probe and k-NN learn from (the first ones; 0 = all).
    pub train_images: usize,
    /// Neighbours of k-NN.
    pub knn_k: usize,
    /// L2 penalty of the probe.
    pub probe_l2: f64,
    /// L-BFGS iterations of the probe.
    pub probe_iterations: u64,
}

impl Default for FeatureSpec {
    fn default() -> Self {
        FeatureSpec {
            train_images: 10_000,
            knn_k: 5,
            probe_l2: 1.0,
            probe_iterations: 100,
        }
    }
}

/// k-means and DEC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSpec {
    /// Training images clustered (the first ones), scored against their labels.
    pub images: usize,
    /// k-means++ restarts.
    pub restarts: usize,
    /// Also fine-tune each autoencoder's encoder with DEC from the k-means centres.
    pub dec: bool,
    /// DEC passes over the images at most.
    pub dec_epochs: usize,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        ClusterSpec {
            images: 10_000,
            restarts: 10,
            dec: true,
            dec_epochs: 20,
        }
    }
}

/// t-SNE of the test codes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TsneTaskSpec {
    /// Test images embedded.
    pub points: usize,
    /// Perplexity.
    pub perplexity: f64,
    /// Iterations.
    pub iterations: usize,
    /// Barnes–Hut angle θ; 0 (the default) is exact t-SNE, O(n²) a step: about 40 s for
    /// 2 000 points. bhtsne 0.4's Barnes–Hut tree recursed without end (stack overflow)
    /// on MNIST pixels at θ = 0.5.
    pub theta: f64,
}

impl Default for TsneTaskSpec {
    fn default() -> Self {
        TsneTaskSpec {
            points: 2000,
            perplexity: 30.0,
            iterations: 1000,
            theta: 0.0,
        }
    }
}

/// VAE likelihood.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenerateSpec {
    /// Importance samples per image (Burda et al.: 5000).
    pub iwae_k: usize,
    /// Test images scored (the first ones; 0 = all).
    pub images: usize,
}

impl Default for GenerateSpec {
    fn default() -> Self {
        GenerateSpec {
            iwae_k: 5000,
            images: 1000,
        }
    }
}

/// Compression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompressSpec {
    /// Bits per code unit to quantise to.
    pub bits: Vec<u32>,
}

impl Default for CompressSpec {
    fn default() -> Self {
        CompressSpec { bits: vec![8, 4] }
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
        self.train.validate()?;
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
            if let ModelSpec::Ae { config, .. } = m {
                for &k in &self.code_sizes {
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
                    _ => &self.code_sizes[..],
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

/// `--shard K/N`: the cells whose index in the experiment's order is K-1 modulo N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shard {
    /// 1-based shard number.
    pub k: usize,
    /// Number of shards.
    pub n: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let parse = || -> Option<Shard> {
            let (k, n) = s.split_once('/')?;
            Some(Shard {
                k: k.trim().parse().ok()?,
                n: n.trim().parse().ok()?,
            })
        };
        match parse() {
            Some(sh) if sh.n >= 1 && (1..=sh.n).contains(&sh.k) => Ok(sh),
            _ => Err(format!("`{s}`: expected K/N with 1 <= K <= N, e.g. 2/4")),
        }
    }
}

impl Shard {
    /// This shard's share of `cells`; the N shards partition them, interleaved so each
    /// gets a similar mix of models.
    pub fn select<T>(&self, cells: Vec<T>) -> Vec<T> {
        cells
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.n == self.k - 1)
            .map(|(_, c)| c)
            .collect()
    }
}

/// One point of the sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Dataset.
    pub dataset: DatasetKind,
    /// Model family and its hyperparameters.
    pub model: ModelSpec,
    /// Latent dimension.
    pub code_size: usize,
    /// Backend it runs on.
    pub backend: BackendKind,
    /// Seed.
    pub seed: u64,
}

impl Cell {
    /// A stable key naming the cell (used for its file name and for resuming).
    pub fn key(&self) -> String {
        crate::store::cell_key(
            self.dataset.name(),
            &format!("{}-{}", self.model.name(), self.model_hash()),
            self.code_size,
            self.backend.name(),
            self.seed,
        )
    }
}

impl Cell {
    /// First 8 hex digits of the SHA-256 of the model's config: two models with the same
    /// label but different hyperparameters never share a key.
    pub fn model_hash(&self) -> String {
        use sha2::Digest;
        let json = serde_json::to_string(&self.model).unwrap_or_default();
        sha2::Sha256::digest(json.as_bytes())
            .iter()
            .take(4)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
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
}
