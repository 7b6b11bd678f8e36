//! The exact oracle: every item scored with [`crate::model::scan::gemv`], the best `k` kept by
//! [`crate::model::topk`]'s bounded heap. What serving uses below the ANN threshold, and what
//! recall is measured against.

use super::AnnError;
use crate::model::{scan, topk};

/// Exact top-k over borrowed row-major item factors.
#[derive(Debug, Clone, Copy)]
pub struct Exact<'a> {
    items: &'a [f32],
    dim: usize,
}

impl<'a> Exact<'a> {
    /// Exact search over `items` (`n_items x dim`).
    pub fn new(items: &'a [f32], dim: usize) -> Result<Self, AnnError> {
        if dim == 0 || !items.len().is_multiple_of(dim) {
            return Err(AnnError::Shape {
                len: items.len(),
                dim,
            });
        }
        Ok(Self { items, dim })
    }

    /// Number of items.
    pub fn n_items(&self) -> usize {
        self.items.len() / self.dim
    }

    /// The best `k` items for `query`, best first (ties: lower item first), skipping the sorted
    /// `exclude`; `scores` is the caller's buffer (resized to `n_items`).
    ///
    /// # Panics
    /// If `query.len() != dim`.
    pub fn top_k_into(
        &self,
        query: &[f32],
        k: usize,
        exclude: &[u32],
        scores: &mut Vec<f32>,
        out: &mut Vec<(u32, f32)>,
    ) {
        assert_eq!(query.len(), self.dim, "query length must equal dim");
        scores.resize(self.n_items(), 0.0);
        scan::gemv(self.items, query, scores);
        topk::top_k_into(scores, k, exclude, out);
    }

    /// Allocating form of [`Exact::top_k_into`].
    pub fn top_k(&self, query: &[f32], k: usize, exclude: &[u32]) -> Vec<(u32, f32)> {
        let (mut scores, mut out) = (Vec::new(), Vec::new());
        self.top_k_into(query, k, exclude, &mut scores, &mut out);
        out
    }
}
