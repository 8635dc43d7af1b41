//! The one error type of ae-data. Every variant names the file (or field) and what was
//! expected versus what was found, so a user can fix the input without reading the source.

use std::path::PathBuf;

/// Everything that can go wrong while locating, reading, verifying or fetching a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file starts like gzip but does not decompress.
    #[error("{path} is not a valid gzip stream: {source}")]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: std::io::Error,
    },
    /// The IDX header is shorter than its fixed part.
    #[error("{path} is truncated: the IDX header needs {expected} bytes, found {found}")]
    TruncatedHeader {
        /// The file.
        path: PathBuf,
        /// Bytes the header needs.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// The magic number is not the one for this kind of IDX file.
    #[error("{path}: wrong IDX magic number: expected {expected} ({what}), found {found}")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The magic number expected (2051 for images, 2049 for labels).
        expected: u32,
        /// The magic number read.
        found: u32,
        /// What kind of file was expected.
        what: &'static str,
    },
    /// The header's dimensions disagree with the number of data bytes.
    #[error("{path}: the header says {dims:?} = {expected} data bytes, but the file holds {found}")]
    SizeMismatch {
        /// The file.
        path: PathBuf,
        /// The dimensions read from the header.
        dims: Vec<u32>,
        /// Data bytes implied by the header.
        expected: u64,
        /// Data bytes present after the header.
        found: u64,
    },
    /// An image file and its label file disagree on the number of items.
    #[error("{images} holds {n_images} images but {labels} holds {n_labels} labels")]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// Images in it.
        n_images: usize,
        /// The label file.
        labels: PathBuf,
        /// Labels in it.
        n_labels: usize,
    },
    /// The SHA-256 of the decompressed bytes is not the published one.
    #[error(
        "{path}: SHA-256 of the decompressed data is {found}, expected {expected}; \
         the file is corrupt or not the published dataset (re-fetch it with `ae-bench data fetch`)"
    )]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The published checksum.
        expected: String,
        /// The checksum computed.
        found: String,
    },
    /// No searched location holds the dataset.
    #[error(
        "dataset `{dataset}` not found; searched (in order): {}. \
         Pass --data-dir, set AE_DATA_DIR, or run `ae-bench data fetch {dataset}`",
        .searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NotFound {
        /// The dataset's name.
        dataset: String,
        /// Every directory searched.
        searched: Vec<PathBuf>,
    },
    /// A dataset directory was given explicitly but does not exist.
    #[error("data directory {path} does not exist or is not a directory")]
    MissingDir {
        /// The directory.
        path: PathBuf,
    },
    /// A dataset name that is not one of the known ones.
    #[error("unknown dataset `{found}`; expected one of: {expected}")]
    UnknownDataset {
        /// What was asked for.
        found: String,
        /// The valid names.
        expected: &'static str,
    },
    /// A parameter outside its valid range.
    #[error("invalid {name} = {value}: expected {expected}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// The value given.
        value: String,
        /// The valid range, in words.
        expected: &'static str,
    },
    /// A value, label or field of a user's file that cannot be used.
    #[error("{path}: row {row}, field `{field}`: {msg}")]
    BadValue {
        /// The file.
        path: PathBuf,
        /// The 1-based data row (the header not counted); 0 when the whole file is meant.
        row: usize,
        /// The column, array or setting.
        field: String,
        /// What is wrong and what was expected.
        msg: String,
    },
    /// Every mirror failed to deliver a file.
    #[error("could not download {file}: {}", .attempts.join("; "))]
    Download {
        /// The file's name.
        file: String,
        /// One line per mirror tried: URL and what went wrong.
        attempts: Vec<String>,
    },
}

/// Result alias for ae-data.
pub type Result<T, E = DataError> = std::result::Result<T, E>;
