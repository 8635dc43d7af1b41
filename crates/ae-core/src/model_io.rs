//! Saving and loading trained models with their configuration (burn's file recorder).

use std::path::Path;

use burn::prelude::*;
use burn::record::{BinFileRecorder, FullPrecisionSettings};
use serde::{Deserialize, Serialize};

use crate::config::{AeConfig, CheckedAe};
use crate::error::{CoreError, Result};
use crate::zoo::AnyAe;

/// What `config.json` beside the weights holds: enough to rebuild the exact module.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedConfig {
    /// The variant and its hyperparameters.
    pub config: AeConfig,
    /// Input dimension.
    pub input: usize,
    /// Code size.
    pub code: usize,
}

/// A file error names the file: not "reading tensor data back from the device failed".
fn io(path: &Path, e: impl std::fmt::Display) -> CoreError {
    CoreError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Writes `dir/config.json` and `dir/model.bin` (full-precision weights).
pub fn save<B: Backend>(model: AnyAe<B>, checked: &CheckedAe, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let sizes = checked.encoder_sizes();
    let saved = SavedConfig {
        config: checked.config().clone(),
        input: sizes[0],
        code: sizes[sizes.len() - 1],
    };
    let cfg = dir.join("config.json");
    let text = serde_json::to_string_pretty(&saved).map_err(|e| io(&cfg, e))?;
    std::fs::write(&cfg, text).map_err(|e| io(&cfg, e))?;
    let recorder = BinFileRecorder::<FullPrecisionSettings>::new();
    model
        .save_file(dir.join("model"), &recorder)
        .map_err(|e| io(dir, e))
}

/// Rebuilds a model saved by [`save`] on `device`.
pub fn load<B: Backend>(dir: &Path, device: &B::Device) -> Result<(AnyAe<B>, CheckedAe)> {
    let cfg = dir.join("config.json");
    let text = std::fs::read_to_string(&cfg).map_err(|e| io(&cfg, e))?;
    let saved: SavedConfig = serde_json::from_str(&text).map_err(|e| io(&cfg, e))?;
    let checked = saved.config.check(saved.input, saved.code)?;
    let recorder = BinFileRecorder::<FullPrecisionSettings>::new();
    let model = checked
        .init::<B>(device)
        .load_file(dir.join("model"), &recorder, device)
        .map_err(|e| io(dir, e))?;
    Ok((model, checked))
}
