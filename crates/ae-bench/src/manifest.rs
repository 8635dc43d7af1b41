//! `run.json`, every run folder's record of itself, read and written in one place.
//!
//! The writers (`sweep`, `merge`, `reproduce`) record different provenance, but every
//! reader needs the same two things: the command and the experiment. [`RunManifest`]
//! reads those, typed, and keeps the rest as written.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::experiment::Experiment;
use crate::store;

/// The file name inside a run folder.
pub const FILE: &str = "run.json";

/// What readers take from a run's `run.json`.
#[derive(Debug, Clone)]
pub struct RunManifest {
    /// The file it was read from.
    pub path: PathBuf,
    /// The command line that made the run.
    pub command: String,
    /// The experiment as run (after `--set`, `--model`, `--backend`), as stored; null in
    /// `reproduce` runs, which record a `budget` instead.
    pub experiment: serde_json::Value,
    /// The whole document, for what one writer records (a reproduction's budget).
    pub raw: serde_json::Value,
}

/// Axes of an experiment: the fields that tell cells apart, as opposed to settings that
/// every cell of a run shares.
pub const AXES: [&str; 5] = ["datasets", "models", "code_sizes", "seeds", "backends"];

impl RunManifest {
    /// Reads `<dir>/run.json`; the errors say which folder is not a run.
    pub fn read(dir: &Path) -> Result<RunManifest> {
        let path = dir.join(FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("{} is not a run folder (no readable {FILE})", dir.display())
        })?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", path.display()))?;
        Ok(RunManifest {
            command: json["command"].as_str().unwrap_or_default().to_string(),
            experiment: json["experiment"].clone(),
            raw: json,
            path,
        })
    }

    /// Writes `<dir>/run.json` atomically from any writer's record.
    pub fn write<T: Serialize>(dir: &Path, record: &T) -> Result<()> {
        store::write_atomic(&dir.join(FILE), |f| {
            serde_json::to_writer_pretty(f, record)?;
            Ok(())
        })
    }

    /// The experiment's name ("" when the file has none).
    pub fn name(&self) -> &str {
        self.experiment["name"].as_str().unwrap_or_default()
    }

    /// The experiment, typed.
    pub fn typed_experiment(&self) -> Result<Experiment> {
        serde_json::from_value(without_nulls(self.experiment.clone())).with_context(|| {
            format!(
                "{}: its `experiment` is not an experiment",
                self.path.display()
            )
        })
    }

    /// The experiment without its axes: what must agree for two runs' cells to be
    /// comparable. Read through today's schema where it parses, so a field that a later
    /// build added (with the default that keeps the old behaviour) compares at its default
    /// instead of as missing on the older run's side.
    pub fn settings(&self) -> serde_json::Value {
        let mut e = self
            .typed_experiment()
            .ok()
            .and_then(|t| serde_json::to_value(t).ok())
            .map_or_else(|| self.experiment.clone(), without_nulls);
        if let Some(o) = e.as_object_mut() {
            for axis in AXES {
                o.remove(axis);
            }
        }
        e
    }

    /// The training budget in words (for table captions).
    pub fn budget_note(&self) -> String {
        let train = &self.experiment["train"];
        let seeds = self.experiment["seeds"].as_array().map_or(0, Vec::len);
        match (train["epochs"].as_u64(), train["train_limit"].as_u64()) {
            (Some(e), Some(limit)) => format!(
                "{e} epochs on {} training images, {seeds} seed(s)",
                if limit == 0 {
                    "all".to_string()
                } else {
                    limit.to_string()
                }
            ),
            _ => format!("budget as in the run's {FILE}"),
        }
    }
}

/// run.json writes absent options as `null`; the experiment schema (TOML tables inside)
/// reads an absent field, not a null.
fn without_nulls(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        serde_json::Value::Array(a) => a.into_iter().map(without_nulls).collect(),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run.json written before a defaulted field existed has the same settings as one
    /// written after; a changed value still differs.
    #[test]
    fn settings_read_absent_fields_at_their_defaults() {
        let exp = Experiment::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../experiments/smoke.toml"
        )))
        .unwrap();
        let now = serde_json::to_value(&exp).unwrap();
        let mut old = now.clone();
        let features = old["eval"]["features"].as_object_mut().unwrap();
        assert!(features.remove("finetune_lr").is_some());
        let manifest = |e: serde_json::Value| RunManifest {
            path: PathBuf::from("run.json"),
            command: String::new(),
            experiment: e.clone(),
            raw: serde_json::json!({ "experiment": e }),
        };
        assert_ne!(now, old);
        assert_eq!(manifest(now.clone()).settings(), manifest(old).settings());
        let mut other = now.clone();
        other["train"]["epochs"] = serde_json::json!(99);
        assert_ne!(manifest(now).settings(), manifest(other).settings());
    }
}
