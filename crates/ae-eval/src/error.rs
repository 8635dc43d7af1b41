use thiserror::Error;

/// Why an evaluation could not run.
#[derive(Debug, Error)]
pub enum EvalError {
    /// Inputs of the wrong size.
    #[error("{what}: expected {expected}, found {found}")]
    Shape {
        /// Which input.
        what: &'static str,
        /// What it should hold.
        expected: String,
        /// What it held.
        found: String,
    },
    /// A setting out of range.
    #[error("{field} = {value}: expected {expected}")]
    Invalid {
        /// The setting.
        field: &'static str,
        /// Its value.
        value: String,
        /// The valid range.
        expected: String,
    },
    /// A failure inside linfa (fit did not converge, degenerate data, ...).
    #[error("{what}: {message}")]
    Backend {
        /// Which step.
        what: &'static str,
        /// linfa's message.
        message: String,
    },
}

/// Result of this crate.
pub type Result<T> = std::result::Result<T, EvalError>;
