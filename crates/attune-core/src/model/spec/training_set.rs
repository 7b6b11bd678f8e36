//! [`TrainingSet`]: every input any algorithm may train from, in one value, so [`Spec::fit`]
//! has one signature for all algorithms and each algorithm picks the parts it needs.

#[cfg(doc)]
use super::{Algorithm, Spec, SpecFitError};
use crate::sparse::Csr;

/// Everything any algorithm may train from. Only `interactions` is always required; each
/// algorithm names what else it needs ([`SpecFitError::MissingData`]).
///
/// Build with [`TrainingSet::new`] and set the optional parts, so adding a part later does not
/// break callers.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingSet {
    /// Implicit-feedback weights, users x items (values >= 0).
    pub interactions: Csr,
    /// Explicit ratings, users x items, same shape (for [`Algorithm::Mf`]).
    pub ratings: Option<Csr>,
    /// Category membership, items x categories (for [`Algorithm::CategoryPopularity`]).
    pub item_categories: Option<Csr>,
    /// `(item, time_micros, weight)` of each interaction, for [`Algorithm::Trending`].
    pub item_events: Vec<(u32, i64, f32)>,
    /// The reference time of the data (trending decays towards it), UTC microseconds.
    pub now_micros: i64,
    /// Item text and tags, for content-based models.
    pub item_content: Option<ItemContent>,
}

impl TrainingSet {
    /// A set with only the implicit matrix; `now_micros` 0.
    pub fn new(interactions: Csr) -> Self {
        Self {
            interactions,
            ratings: None,
            item_categories: None,
            item_events: Vec::new(),
            now_micros: 0,
            item_content: None,
        }
    }

    /// Users (rows of the matrices).
    pub fn n_users(&self) -> usize {
        self.interactions.n_rows()
    }

    /// Items (columns of the matrices).
    pub fn n_items(&self) -> usize {
        self.interactions.n_cols()
    }
}

/// Per-item text, indexed by item (every vector has one entry per item; empty when unknown).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ItemContent {
    /// Titles.
    pub titles: Vec<String>,
    /// Descriptions.
    pub descriptions: Vec<String>,
    /// Free tags.
    pub tags: Vec<Vec<String>>,
}
