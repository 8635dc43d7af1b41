//! Experiment files: the TOML schema, parsed strictly (`deny_unknown_fields`) and
//! validated into a list of cells.

use std::path::Path;

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

/// A model family, selected by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ModelSpec {
    /// PCA fitted on the full training split (the linear baseline).
    Pca,
}

impl ModelSpec {
    /// The model's name in result rows.
    pub fn name(&self) -> &'static str {
        match self {
            ModelSpec::Pca => "pca",
        }
    }
}

/// How the test split is evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSpec {
    /// Images per evaluation batch.
    pub batch_size: usize,
    /// Evaluate on the first `test_limit` test images only (0 = all of them).
    pub test_limit: usize,
}

impl Default for EvalSpec {
    fn default() -> Self {
        EvalSpec {
            batch_size: 1000,
            test_limit: 0,
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

    /// Every cell of the sweep, in a deterministic order.
    pub fn cells(&self) -> Vec<Cell> {
        let mut cells = Vec::new();
        for &dataset in &self.datasets {
            for model in &self.models {
                for &code_size in &self.code_sizes {
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
        format!(
            "{}__{}__k{}__{}__s{}",
            self.dataset.name(),
            self.model.name(),
            self.code_size,
            self.backend.name(),
            self.seed
        )
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
        assert_eq!(cells[0].key(), "mnist__pca__k2__flex__s0");
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
}
