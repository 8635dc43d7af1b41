//! The one error type of ae-rbm.

/// What can go wrong configuring or training an RBM.
#[derive(Debug, thiserror::Error)]
pub enum RbmError {
    /// A hyperparameter outside its valid range.
    #[error("invalid {field} = {value}: expected {expected}")]
    InvalidConfig {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
        /// The valid range.
        expected: &'static str,
    },
    /// Building or training the ae-core autoencoder (unrolling, fine-tuning) failed.
    #[error(transparent)]
    Core(#[from] ae_core::CoreError),
    /// Reading a tensor back from the device failed.
    #[error("reading tensor data back from the device failed: {0}")]
    Data(String),
}

impl RbmError {
    /// An [`RbmError::InvalidConfig`].
    pub fn invalid(field: &'static str, value: String, expected: &'static str) -> RbmError {
        RbmError::InvalidConfig {
            field,
            value,
            expected,
        }
    }
}

/// Result alias for ae-rbm.
pub type Result<T, E = RbmError> = std::result::Result<T, E>;
