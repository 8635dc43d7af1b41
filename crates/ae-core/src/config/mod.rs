//! Autoencoder configurations: one closed enum selected by `kind` in experiment TOML
//! (`schema`), validated at the boundary into a [`CheckedAe`] that can only describe a
//! legal model (`checked`). Neither imports a model of the zoo.

mod checked;
mod schema;

pub use checked::CheckedAe;
pub(crate) use checked::invalid;
pub use schema::{AeConfig, ArchSpec, KINDS, Prior, ReconLoss, Sparsity};
