//! Autoencoder models, losses, metrics, training, and the PCA baseline, on burn.
//!
//! Every model answers the [`Codec`] interface (`encode` / `decode`), so the harness
//! evaluates PCA and autoencoders with the same code.

pub mod error;
pub mod loss;
pub mod metrics;
pub mod mlp;
pub mod model;
pub mod pca;

pub use error::{CoreError, Result};
pub use metrics::{METRIC_NAMES, ReconMetrics};
pub use model::{Codec, evaluate};
pub use pca::{Pca, PcaCodec};
