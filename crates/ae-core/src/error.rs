//! The one error type of ae-core.

/// Everything that can go wrong building, fitting or evaluating a model.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A hyperparameter outside its valid range; names the field, the value and the fix.
    #[error("invalid {field} = {value}: {expected}")]
    InvalidConfig {
        /// The config field, as written in experiment files (e.g. `code_size`).
        field: &'static str,
        /// The value given.
        value: String,
        /// What is valid, and how to fix it.
        expected: String,
    },
    /// A linear-algebra routine did not converge.
    #[error("{routine} failed: {message}")]
    Linalg {
        /// Which decomposition.
        routine: &'static str,
        /// The solver's message.
        message: String,
    },
    /// Input arrays whose shapes disagree.
    #[error("shape mismatch in {what}: expected {expected}, found {found}")]
    Shape {
        /// Which input.
        what: &'static str,
        /// Expected shape.
        expected: String,
        /// Shape found.
        found: String,
    },
    /// Training produced a non-finite loss; the run is stopped rather than recording NaNs.
    #[error(
        "training diverged: loss = {value} at epoch {epoch}, batch {batch}; \
         lower the learning rate or the regularizer weight"
    )]
    NonFinite {
        /// Epoch (0-based).
        epoch: usize,
        /// Batch within the epoch (0-based).
        batch: usize,
        /// The loss value.
        value: f32,
    },
    /// A file could not be read or written.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// What failed and why.
        message: String,
    },
    /// Reading a tensor back from the device failed.
    #[error("reading tensor data back from the device failed: {0}")]
    Data(String),
}

/// Result alias for ae-core.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
