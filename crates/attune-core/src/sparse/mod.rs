//! Sparse interaction matrices, dense id interning, and the weighting that turns behaviour into
//! matrix values ([`interactions`]).
//!
//! Every model in [`crate::model`] trains on a [`Csr`]: rows are users (or items, after
//! [`Csr::transpose`]), columns are `u32` indices handed out by an [`Interner`], values are `f32`
//! weights. The layout is the classic compressed sparse row one (`indptr`, `indices`, `data`),
//! so a row is two contiguous slices and the hot loops of ALS or kNN never chase pointers.
//!
//! **Invariants** (checked by the builder, relied on everywhere else): column indices within a
//! row are strictly increasing (no duplicates), every index is below `n_cols`, every value is
//! finite. Sorted rows make a row usable as a held-out set for binary search
//! ([`crate::eval`]) and make transposition a stable O(nnz) counting sort.
//!
//! ```
//! use attune_core::sparse::{CsrBuilder, Interner};
//!
//! let mut users = Interner::default();
//! let mut items = Interner::default();
//! let log = [("ann", "tea", 1.0), ("bob", "tea", 2.0), ("ann", "cake", 1.0), ("ann", "tea", 1.0)];
//! let mut b = CsrBuilder::new();
//! for (u, i, w) in log {
//!     b.push(users.intern(u), items.intern(i), w).unwrap();
//! }
//! let m = b.build(users.len(), items.len()).unwrap();
//! assert_eq!(m.nnz(), 3); // ann-tea was summed
//! assert_eq!(m.row(0), (&[0u32, 1][..], &[2.0f32, 1.0][..]));
//! assert_eq!(m.transpose().row(0).0, &[0u32, 1]); // tea: ann, bob
//! ```

mod csr;
mod history_weights;
mod ids;
pub mod interactions;
mod rated_history;
mod user_recency;
mod weight;

pub use csr::{Csr, CsrBuilder};
pub use history_weights::HistoryWeights;
pub use ids::Interner;
pub use interactions::{
    ratings_matrix, DwellCurve, ImplicitWeights, RatingPolicy, Recency, Touch, ValidImplicitWeights,
};
pub use rated_history::{scale_rated, RatedHistory};
pub use user_recency::UserRecency;
pub use weight::{bm25_weight, tfidf_weight, TermScheme, TermWeighting};

/// A matrix could not be built from the given entries.
///
/// User errors: each names the entry at fault and the bound it broke.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SparseError {
    /// An entry lies outside the declared shape.
    #[error("entry ({row}, {col}) is outside a {n_rows} x {n_cols} matrix")]
    OutOfBounds {
        /// Row of the entry.
        row: u32,
        /// Column of the entry.
        col: u32,
        /// Declared rows.
        n_rows: usize,
        /// Declared columns.
        n_cols: usize,
    },
    /// A value is NaN or infinite (a model would silently produce NaN factors).
    #[error("entry ({row}, {col}) has value {value}, which is not a finite number")]
    NonFinite {
        /// Row of the entry.
        row: u32,
        /// Column of the entry.
        col: u32,
        /// The value.
        value: f32,
    },
    /// Raw CSR parts are inconsistent (lengths, monotone row pointers, sorted columns).
    #[error("invalid CSR parts: {reason}")]
    InvalidParts {
        /// Which rule the parts break.
        reason: String,
    },
}
