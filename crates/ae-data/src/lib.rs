//! Datasets for the autoencoder benchmark: the built-in MNIST-format sets, a user's CSV,
//! Parquet, NPY/NPZ or IDX files ([`user`]), IDX parsing (gzipped or raw),
//! checksum verification, dataset location, seeded splits and batches, input corruptions,
//! and an explicit verified download.
//!
//! Every failure is a [`DataError`] naming the file and what was expected versus found.

pub mod batch;
pub mod corrupt;
pub mod curves;
pub mod dataset;
pub mod error;
pub mod fetch;
pub mod idx;
pub mod user;

pub use batch::{Batch, Batches};
pub use corrupt::{Corruption, binarize_dynamic, binarize_static};
pub use dataset::{
    DATA_DIR_ENV, Dataset, DatasetId, DatasetKind, FASHION_CLASSES, Split, ValueKind, Verify,
};
pub use error::{DataError, Result};
pub use user::{FileDataset, FileFormat};
