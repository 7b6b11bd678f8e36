//! The one error type of [`crate::segment`].
//!
//! Every rule is checked before any work starts, so a refused input never costs a fit, and the
//! message names the argument at fault the way the caller spelled it.

use std::fmt::Display;

/// A segmentation function refused its input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SegmentError {
    /// The matrix has no rows or no columns: there is nothing to segment.
    #[error("empty input: {rows} rows x {cols} columns")]
    Empty {
        /// Rows given.
        rows: usize,
        /// Columns given.
        cols: usize,
    },
    /// `data.len()` is not `rows * cols`.
    #[error("matrix shape: {rows} x {cols} needs {expected} values, got {got}")]
    Shape {
        /// Rows given.
        rows: usize,
        /// Columns given.
        cols: usize,
        /// `rows * cols`.
        expected: usize,
        /// `data.len()`.
        got: usize,
    },
    /// A value is NaN or infinite; distances and means would silently become NaN.
    #[error("non-finite value {value} at row {row}, column {col}")]
    NonFinite {
        /// Row of the first offending value.
        row: usize,
        /// Column of the first offending value.
        col: usize,
        /// The value itself.
        value: f64,
    },
    /// More clusters were asked for than there are rows (users) to put in them.
    #[error("k larger than the number of users: k = {k}, users = {users}")]
    TooManyClusters {
        /// Clusters asked for.
        k: usize,
        /// Rows of the data.
        users: usize,
    },
    /// An argument breaks a rule (`field` names it, e.g. `k` or `eps`).
    #[error("{field}: {rule}")]
    Invalid {
        /// The argument at fault.
        field: &'static str,
        /// The rule that was broken, with the value that broke it.
        rule: String,
    },
}

/// Shorthand for results of this module.
pub type Result<T> = std::result::Result<T, SegmentError>;

pub(crate) fn invalid(field: &'static str, rule: impl Display) -> SegmentError {
    SegmentError::Invalid {
        field,
        rule: rule.to_string(),
    }
}
