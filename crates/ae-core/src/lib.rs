//! Autoencoder models, losses, metrics, training, and the PCA baseline, on burn.
//!
//! Every model answers the [`Codec`] interface (`encode` / `decode`), so the harness
//! evaluates PCA and autoencoders with the same code.

pub mod cg;
pub mod config;
pub mod dec;
pub mod error;
pub mod finetune;
pub mod flat;
pub mod kernel;
pub mod loss;
pub mod metrics;
pub mod mlp;
pub mod model;
pub mod model_io;
pub mod noise;
pub mod pca;
pub mod schedule;
pub mod train;
pub mod zoo;

pub use config::{AeConfig, ArchSpec, CheckedAe, ReconLoss, Sparsity};
pub use error::{CoreError, Result};
pub use metrics::{METRIC_NAMES, ReconMetrics};
pub use model::{AeOutput, Autoencoder, Codec, evaluate};
pub use pca::{Pca, PcaCodec};
pub use schedule::Schedule;
/// Training checkpoints (`train/checkpoint.rs`), at the crate root for callers.
pub use train::checkpoint;
pub use train::{CheckedTrain, EpochStats, History, OptimizerSpec, TrainSpec, fit, fit_from};
pub use zoo::AnyAe;
