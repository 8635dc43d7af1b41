//! Training checkpoints: everything a run needs to continue exactly where it stopped —
//! parameters, optimizer state, the noise stream's position, the epoch and batch, the
//! loss sums of the epoch so far and the history — written atomically (a temporary file,
//! then a rename) and read back by the trainer on `--resume`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::History;
use crate::error::{CoreError, Result};

/// Where and how often the trainer checkpoints.
#[derive(Debug, Clone)]
pub struct Checkpointing {
    /// The checkpoint file. Training leaves it behind, finished, for the caller to
    /// [`remove`] once the result is stored.
    pub path: PathBuf,
    /// Write one when this much time has passed since the last (and at every epoch end).
    pub every: Duration,
}

impl Checkpointing {
    /// Every epoch end, and mid-epoch every `every`.
    pub fn new(path: impl Into<PathBuf>, every: Duration) -> Checkpointing {
        Checkpointing {
            path: path.into(),
            every,
        }
    }
}

/// One parameter's Adam state, in the module's visiting order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamState {
    /// Steps taken.
    pub time: usize,
    /// First moment.
    pub moment_1: Vec<f32>,
    /// Second moment.
    pub moment_2: Vec<f32>,
}

/// A training run frozen between two batches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Format version.
    pub version: u32,
    /// The run's identity (config, train spec, seed, data size): a checkpoint of another
    /// run is refused rather than continued.
    pub fingerprint: String,
    /// Epoch in progress (0-based).
    pub epoch: usize,
    /// The next batch of that epoch to run (0-based).
    pub batch: usize,
    /// Loss sums of the epoch's finished batches (total, reconstruction) and images seen
    /// in the whole run.
    pub sums: (f64, f64),
    /// Images seen so far.
    pub seen: usize,
    /// Seconds the epoch in progress had run, and the whole run.
    pub elapsed: (f64, f64),
    /// Finished epochs.
    pub history: History,
    /// Early stopping: best validation loss and its parameters, epochs since.
    pub best: Option<(f64, Vec<f32>)>,
    /// Epochs since the best one.
    pub since_best: usize,
    /// Parameters, in the module's visiting order.
    pub params: Vec<f32>,
    /// Optimizer state per parameter (`None`: not stepped yet); empty for stateless ones.
    pub optimizer: Vec<Option<ParamState>>,
    /// The thread's noise stream: its key and word position (high, low 64 bits).
    pub rng: ([u8; 32], u64, u64),
}

/// Current format.
pub const VERSION: u32 = 1;

fn io(path: &Path, what: &str, e: impl std::fmt::Display) -> CoreError {
    CoreError::Io {
        path: path.to_path_buf(),
        message: format!("{what}: {e}"),
    }
}

/// Writes `value` to `path` atomically as MessagePack: a temporary file beside it, synced,
/// then renamed, so a kill leaves either the old checkpoint or the new one, never half.
pub fn save_msgpack<T: Serialize>(value: &T, path: &Path) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io(dir, "cannot create the folder", e))?;
    let tmp = path.with_extension("partial");
    let bytes = rmp_serde::to_vec(value).map_err(|e| io(path, "cannot encode", e))?;
    let mut f = std::fs::File::create(&tmp).map_err(|e| io(&tmp, "cannot create the file", e))?;
    f.write_all(&bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| io(&tmp, "cannot write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, "cannot move the checkpoint into place", e))
}

/// Reads what [`save_msgpack`] wrote; `None` when there is no file. `what` names the
/// expected content in the error ("a training checkpoint").
pub fn load_msgpack<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<Option<T>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path, "cannot read the checkpoint", e)),
    };
    rmp_serde::from_slice(&bytes)
        .map(Some)
        .map_err(|e| io(path, &format!("not {what} (corrupt or another version)"), e))
}

/// Removes a finished run's checkpoint; a missing file is fine.
pub fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path, "cannot remove the finished run's checkpoint", e)),
    }
}

impl TrainState {
    /// Writes the state to `path` atomically (MessagePack).
    pub fn save(&self, path: &Path) -> Result<()> {
        save_msgpack(self, path)
    }

    /// Reads a state written by [`TrainState::save`]; `None` when there is no file.
    pub fn load(path: &Path) -> Result<Option<TrainState>> {
        let Some(state) = load_msgpack::<TrainState>(path, "a training checkpoint")? else {
            return Ok(None);
        };
        if state.version != VERSION {
            return Err(io(
                path,
                "unsupported checkpoint",
                format!("version {} (this build reads {VERSION})", state.version),
            ));
        }
        Ok(Some(state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_bit_for_bit_and_refuses_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/ckpt.msgpack");
        assert!(TrainState::load(&path).unwrap().is_none());
        let s = TrainState {
            version: VERSION,
            fingerprint: "x".into(),
            epoch: 2,
            batch: 7,
            sums: (1.5, 0.25),
            seen: 99,
            elapsed: (1.0, 2.0),
            history: History::default(),
            best: Some((0.5, vec![1.0, f32::MIN_POSITIVE])),
            since_best: 1,
            params: vec![0.1, -3.0e-38, 7.0],
            optimizer: vec![
                None,
                Some(ParamState {
                    time: 3,
                    moment_1: vec![1e-9],
                    moment_2: vec![2e-20],
                }),
            ],
            rng: ([7; 32], 1, u64::MAX),
        };
        s.save(&path).unwrap();
        assert_eq!(TrainState::load(&path).unwrap(), Some(s));
        assert!(!path.with_extension("partial").exists());
        std::fs::write(&path, b"not msgpack").unwrap();
        let e = TrainState::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("ckpt.msgpack") && e.contains("not a training checkpoint"),
            "{e}"
        );
    }
}
