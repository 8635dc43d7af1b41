//! A `[[models]]` entry: the PCA or pixel baseline, or an autoencoder of the zoo with
//! an optional label and per-model `[train]` overrides.

use ae_core::{AeConfig, CheckedTrain, TrainSpec};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// A model of the sweep: the PCA baseline or any autoencoder of the zoo, selected by
/// `kind`; an optional `label` names it in tables (default: the variant's name).
#[derive(Debug, Clone, PartialEq)]
// A handful per experiment, parsed once: the autoencoder variant's size costs nothing.
#[allow(clippy::large_enum_variant)]
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
        /// Code sizes of this model instead of the experiment's `code_sizes`, e.g. an
        /// overcomplete AE whose code is wider than the input.
        code_sizes: Option<Vec<usize>>,
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

    /// The experiment's training settings with this model's overrides applied, checked.
    pub fn train_spec(&self, base: &TrainSpec) -> Result<CheckedTrain> {
        let ModelSpec::Ae {
            train: Some(over), ..
        } = self
        else {
            return Ok(base.check()?);
        };
        let mut table = toml::Table::try_from(base)?;
        for (k, v) in over {
            table.insert(k.clone(), v.clone());
        }
        let spec: TrainSpec = table
            .try_into()
            .with_context(|| format!("model `{}`: its `train` overrides", self.name()))?;
        spec.check()
            .with_context(|| format!("model `{}`: its `train` overrides", self.name()))
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
        let code_sizes = match table.remove("code_sizes") {
            Some(v) => Some(Vec::<usize>::deserialize(v).map_err(|e| {
                D::Error::custom(format!(
                    "`code_sizes` must be a list of whole numbers >= 1: {e}"
                ))
            })?),
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
                code_sizes,
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
                code_sizes,
            } => {
                let mut v = serde_json::to_value(config).map_err(serde::ser::Error::custom)?;
                if let (Some(l), Some(obj)) = (label, v.as_object_mut()) {
                    obj.insert("label".into(), serde_json::Value::String(l.clone()));
                }
                if let (Some(t), Some(obj)) = (train, v.as_object_mut()) {
                    let t = serde_json::to_value(t).map_err(serde::ser::Error::custom)?;
                    obj.insert("train".into(), t);
                }
                // Absent unless set, so every other model's cell key stays what it was.
                if let (Some(c), Some(obj)) = (code_sizes, v.as_object_mut()) {
                    obj.insert("code_sizes".into(), serde_json::json!(c));
                }
                v.serialize(s)
            }
        }
    }
}
