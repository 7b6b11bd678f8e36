//! How the history users are folded in from is weighed beyond the training weights: the
//! per-user recency ([`UserRecency`]) and the rating factor ([`RatedHistory`]). Models train on
//! the event weights; training stores the history weighed this way with the model, serving
//! folds users in from it, and `attune evaluate` compares points of it on one data set.

use super::{RatedHistory, UserRecency};

/// The history's weights beyond the training matrix (both off by default).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HistoryWeights {
    /// Per-user positional decay.
    pub recency: Option<UserRecency>,
    /// Rating factor of rated cells.
    pub rating: Option<RatedHistory>,
}

impl HistoryWeights {
    /// Whether the history differs from the training matrix, so no user may be represented by
    /// what training stored for them.
    pub fn differs(&self) -> bool {
        self.recency.is_some() || self.rating.is_some()
    }
}
