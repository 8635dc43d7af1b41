//! MNIST-format datasets for the autoencoder benchmark: IDX parsing (gzipped or raw),
//! checksum verification, dataset location, seeded splits and batches, input corruptions,
//! and an explicit verified download.
//!
//! Every failure is a [`DataError`] naming the file and what was expected versus found.

pub mod batch;
pub mod corrupt;
pub mod dataset;
pub mod error;
pub mod fetch;
pub mod idx;

pub use batch::{Batch, Batches};
pub use corrupt::{Corruption, binarize_dynamic, binarize_static};
pub use dataset::{DATA_DIR_ENV, Dataset, DatasetKind, Split, Verify};
pub use error::{DataError, Result};
