//! Feature preparation: normalization, categorical encoding, imputation, RFM, user features
//! from behaviour and profile ([`users`]), and item content vectors (tokenizer, TF-IDF,
//! category and attribute one-hots: [`item_text`]).
//!
//! Every transformer follows the same shape: `fit` on a column of training values returns plain
//! parameters (a struct with public fields, so they can be stored beside a model and reapplied
//! at serving time), and `transform` applies them to any column. Columns are plain slices of
//! `Option<f64>` / `Option<&str>`, where `None` is a missing value; nothing here owns a table
//! type, so callers keep whatever layout they already have.
//!
//! Missing values are never silently invented: scalers pass `None` through, encoders apply their
//! explicit unknown policy, and only the imputers fill gaps.
//!
//! ```
//! use attune_core::features::{MedianImputer, NumericTransform, ZScoreScaler};
//!
//! let age = [Some(31.0), None, Some(45.0), Some(23.0)];
//! let filled = MedianImputer::fit(&age).unwrap().transform(&age);
//! assert_eq!(filled, vec![31.0, 31.0, 45.0, 23.0]);
//! let present: Vec<Option<f64>> = filled.iter().copied().map(Some).collect();
//! let z = ZScoreScaler::fit(&present).unwrap();
//! assert!(z.transform_one(31.0).abs() < 0.2);
//! ```

mod encode;
mod impute;
pub mod item_text;
mod rfm;
mod scale;
pub mod text;
pub mod users;

pub use encode::{OneHotEncoder, OrdinalEncoder, OrdinalUnknown, UnknownPolicy, UNKNOWN_COLUMN};
pub use impute::{MedianImputer, ModeImputer};
pub use item_text::{Feature, ItemDoc, ItemFeatures, ItemTextParams, ItemTextValidParams};
pub use rfm::{rfm, rfm_scores, Rfm, RfmScore};
pub use scale::{MinMaxScaler, NumericTransform, ZScoreScaler};
pub use text::{StopWords, Tokenizer};
pub use users::{prepare, user_features, PreparedFeatures, UserFeatureParams, UserFeatures};

/// A feature column could not be fitted or transformed.
///
/// User errors: each names the row (position in the column) or value at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeatureError {
    /// `fit` needs at least one present value.
    #[error("cannot fit on a column with no present values (all {rows} rows are missing)")]
    NoValues {
        /// Rows in the column.
        rows: usize,
    },
    /// NaN or infinity where a number was expected.
    #[error("row {row}: value {value} is not a finite number")]
    NonFinite {
        /// Position in the column.
        row: usize,
        /// The value.
        value: f64,
    },
    /// A category outside the vocabulary, under the `Error` policy.
    #[error("row {row}: category {value:?} is not in the vocabulary ({known} known categories); use an unknown policy other than Error to accept it")]
    UnknownCategory {
        /// Position in the column.
        row: usize,
        /// The category.
        value: String,
        /// Size of the vocabulary.
        known: usize,
    },
    /// A missing category under the `Error` policy.
    #[error(
        "row {row}: category is missing; impute it first or use an unknown policy other than Error"
    )]
    MissingCategory {
        /// Position in the column.
        row: usize,
    },
    /// A vocabulary or order listed the same category twice.
    #[error("category {value:?} is listed twice in the vocabulary")]
    DuplicateCategory {
        /// The repeated category.
        value: String,
    },
    /// A vocabulary or order with no categories.
    #[error("the vocabulary is empty")]
    EmptyVocabulary,
    /// A feature asked for by name that the table does not have.
    #[error("unknown feature {name:?}; the table has: {available}")]
    UnknownColumn {
        /// The name asked for.
        name: String,
        /// Every column the table has, comma-separated.
        available: String,
    },
}
