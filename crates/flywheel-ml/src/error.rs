//! [`MlError`]: what can go wrong, said so a participant can fix it.

/// An error from the algorithm library. Each variant names the problem in
/// terms of the participant's data ("row 12, column `Amount` is NaN").
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MlError {
    /// There is no data (zero rows, or zero columns where some are needed).
    #[error("empty data: {0}")]
    Empty(String),
    /// A value is NaN or infinite.
    #[error("non-finite value (NaN or infinity) at row {row}, column {column}")]
    NonFinite {
        /// Row index, from 0.
        row: usize,
        /// Column index (from 0) or name.
        column: String,
    },
    /// Two things that must have the same length or width do not.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A hyper-parameter is out of its range.
    #[error("invalid parameter: {0}")]
    InvalidParams(String),
    /// The data cannot be used for this purpose (one class only, k larger
    /// than the number of rows, a zero-variance column where it matters, …).
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// A file could not be read or parsed (CSV with a bad row, …).
    #[error("cannot read data: {0}")]
    Read(String),
    /// A file could not be written (a plot, a saved model).
    #[error("cannot write: {0}")]
    Write(String),
    /// The underlying algorithm failed.
    #[error("fitting failed: {0}")]
    Fit(String),
    /// An endpoint call from a cell failed: the server refused it (the
    /// message says why, as the API would), or did not answer in time.
    #[error("endpoint: {0}")]
    Endpoint(String),
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, MlError>;
