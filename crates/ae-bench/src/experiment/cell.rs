//! One point of the sweep (dataset × model × code size × backend × seed), its stable
//! key, and `--shard K/N`.

use ae_data::DatasetId;
use serde::Serialize;

use crate::backend::BackendKind;

use super::model::ModelSpec;

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
    pub dataset: DatasetId,
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
