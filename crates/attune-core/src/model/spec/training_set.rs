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
    /// Each user's items in time order, for order-aware models ([`Algorithm::Transition`]).
    pub sequences: Option<ItemSequences>,
    /// Users' profile features, for [`Algorithm::Hybrid`] (absent: it learns from identities
    /// alone, as before).
    pub user_features: Option<UserFeatureRows>,
}

/// Every user's encoded profile (rows in user order) and the encoding, which the model keeps
/// to encode users who arrive later.
#[derive(Debug, Clone, PartialEq)]
pub struct UserFeatureRows {
    /// How profiles were encoded.
    pub encoding: crate::model::hybrid::UserFeatureEncoding,
    /// Users x encoded columns.
    pub matrix: Csr,
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
            sequences: None,
            user_features: None,
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
    /// Dense vectors (the item attribute [`crate::catalog::EMBEDDING_ATTRIBUTE`]; empty when
    /// an item has none, and the whole vector may be empty).
    pub vectors: Vec<Vec<f32>>,
}

/// Every user's items in the order they first touched them (ties by item index), stored
/// like a CSR without values: `items[indptr[u]..indptr[u + 1]]` is user `u`'s sequence.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ItemSequences {
    indptr: Vec<usize>,
    items: Vec<u32>,
}

impl ItemSequences {
    /// From `(user, time, item)` cells, one per (user, item); `n_users` rows.
    ///
    /// # Panics
    /// If a user index is `>= n_users`.
    pub fn from_timed(n_users: usize, mut cells: Vec<(u32, i64, u32)>) -> Self {
        cells.sort_unstable();
        let mut indptr = vec![0usize; n_users + 1];
        for &(u, _, _) in &cells {
            indptr[u as usize + 1] += 1;
        }
        for u in 0..n_users {
            indptr[u + 1] += indptr[u];
        }
        Self {
            indptr,
            items: cells.into_iter().map(|c| c.2).collect(),
        }
    }

    /// Users (rows).
    pub fn n_users(&self) -> usize {
        self.indptr.len().saturating_sub(1)
    }

    /// User `u`'s items, oldest first.
    pub fn user(&self, u: usize) -> &[u32] {
        &self.items[self.indptr[u]..self.indptr[u + 1]]
    }

    /// Every user's sequence, by user index.
    pub fn iter(&self) -> impl Iterator<Item = &[u32]> {
        (0..self.n_users()).map(|u| self.user(u))
    }
}
