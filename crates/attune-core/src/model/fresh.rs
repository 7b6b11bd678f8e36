//! New items without retraining: items the catalog gained after a model was trained ("fresh"
//! items), matched to a user's recent history by content and placed into the model's list.
//!
//! A trained model scores only the items it was trained on. A fresh item has content, though:
//! its row of [`crate::features::ItemFeatures`] (TF-IDF text, categories), computed with the
//! vocabulary fitted on the catalog ([`crate::features::ItemFeatures::transform`]), is comparable
//! with the rows of the items the user engaged with. This module is the pure part: scoring
//! candidates against a history and merging them into a ranked list. Which items are fresh,
//! filters and rendering are the caller's (`attune-serving`).
//!
//! # Score
//! The history is the user's items newest first (`h_0` the newest); rank `r` weighs
//! `w_r = 2^(-r / half_life)`. A candidate `f` scores `max_r w_r · cos(h_r, f)`, and the
//! maximizing history item is its reason ("new, like *h_r*"; ties go to the newer item).
//! The maximum rather than the weighted-mean profile of [`crate::model::content`]: an item like
//! *one* of the things the user just did is relevant even when their history is diverse, the
//! reason names that thing, and the threshold `min_similarity` reads as "at least this
//! similar to a recent item" whatever the history's length.
//!
//! # Placement
//! [`interleave`]: at most `slots` fresh items (best first) take positions 2, 4, 6, … of the
//! list (1-based). Why not a blend of scores: the model's scores and cosines are on unrelated
//! scales, and calibrating them needs interactions a new item does not have. Why these
//! positions: the model's first pick is never displaced (a new item has no evidence of quality
//! yet), a fresh item is visible on the first page, and at most `slots` of `n` positions are
//! spent on unproven items, so the exploration cost is bounded and known.
//!
//! ```
//! use attune_core::model::fresh::{interleave, FreshParams};
//!
//! let p = FreshParams::new().slots(1).min_similarity(0.2).check().unwrap();
//! // History: the newest item (rank 0) is about trail shoes, the older one about lamps.
//! let (shoes, lamp) = ((vec![0u32, 1], vec![0.6f32, 0.8]), (vec![5u32], vec![1.0f32]));
//! let history = [(&shoes.0[..], &shoes.1[..]), (&lamp.0[..], &lamp.1[..])];
//! let new_shoe = (vec![1u32], vec![1.0f32]);
//! let picks = p.pick(&history, [(&new_shoe.0[..], &new_shoe.1[..])]);
//! assert_eq!(picks.len(), 1);
//! assert_eq!(picks[0].because, 0); // the shoes explain it
//! assert!((picks[0].score - 0.8).abs() < 1e-6);
//! assert_eq!(interleave(vec!["a", "b", "c"], vec!["new"]), ["a", "new", "b", "c"]);
//! ```

use super::content::sparse_sparse_dot;
use super::{check_unit_interval, ParamError};

/// A sparse content row: sorted column indices and their values (L2-normalized rows make
/// the dot product a cosine).
pub type Row<'a> = (&'a [u32], &'a [f32]);

/// Fresh-item parameters (unchecked). Defaults: `slots = 2`, `min_similarity = 0.2`,
/// `half_life = 5` history items.
#[derive(Debug, Clone, PartialEq)]
pub struct FreshParams {
    slots: usize,
    min_similarity: f32,
    half_life: f32,
}

/// Checked [`FreshParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct FreshValidParams(FreshParams);

impl Default for FreshParams {
    fn default() -> Self {
        Self::new()
    }
}

impl FreshParams {
    /// The defaults (see the type's docs).
    pub fn new() -> Self {
        Self {
            slots: 2,
            min_similarity: 0.2,
            half_life: 5.0,
        }
    }

    /// Most fresh items in one list (0: off).
    pub fn slots(mut self, slots: usize) -> Self {
        self.slots = slots;
        self
    }

    /// Least recency-weighted cosine to a history item for a fresh item to be listed, in
    /// `[0, 1]`.
    pub fn min_similarity(mut self, min_similarity: f32) -> Self {
        self.min_similarity = min_similarity;
        self
    }

    /// History ranks after which a history item's weight halves (> 0).
    pub fn half_life(mut self, half_life: f32) -> Self {
        self.half_life = half_life;
        self
    }

    /// Validate every field.
    pub fn check(self) -> Result<FreshValidParams, ParamError> {
        const A: &str = "fresh";
        check_unit_interval(
            A,
            "min_similarity",
            self.min_similarity,
            "must be a cosine in [0, 1]",
        )?;
        if !(self.half_life.is_finite() && self.half_life > 0.0) {
            return Err(ParamError::new(
                A,
                "half_life",
                self.half_life,
                "must be a finite number of history items > 0",
            ));
        }
        Ok(FreshValidParams(self))
    }
}

/// One fresh item chosen for a list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FreshMatch {
    /// Position of the candidate in the candidates given.
    pub candidate: usize,
    /// Rank in the history of the item that explains it (0: the newest).
    pub because: usize,
    /// Its score: the recency-weighted cosine to that item.
    pub score: f32,
}

impl FreshValidParams {
    /// Most fresh items in one list.
    pub fn n_slots(&self) -> usize {
        self.0.slots
    }

    /// The listing threshold.
    pub fn threshold(&self) -> f32 {
        self.0.min_similarity
    }

    /// The weight of the history item at `rank` (0: the newest, weight 1).
    pub fn weight(&self, rank: usize) -> f32 {
        (-(rank as f32) / self.0.half_life).exp2()
    }

    /// The history item that best explains `candidate` and its score, if the score reaches
    /// the threshold and is positive (ties go to the newer item).
    pub fn best_match(&self, history: &[Row<'_>], candidate: Row<'_>) -> Option<(usize, f32)> {
        let mut best: Option<(usize, f32)> = None;
        for (rank, &h) in history.iter().enumerate() {
            let w = self.weight(rank);
            if best.is_some_and(|(_, b)| w <= b) {
                // Weights fall with rank and cosines are at most 1: nothing older can win.
                break;
            }
            let s = w * sparse_sparse_dot(h, candidate);
            if s > best.map_or(0.0, |b| b.1) {
                best = Some((rank, s));
            }
        }
        best.filter(|&(_, s)| s >= self.0.min_similarity)
    }

    /// The fresh items to list for `history` (newest first): every candidate whose
    /// [`FreshValidParams::best_match`] reaches the threshold, best first (ties by candidate
    /// position), at most `slots`.
    pub fn pick<'a>(
        &self,
        history: &[Row<'_>],
        candidates: impl IntoIterator<Item = Row<'a>>,
    ) -> Vec<FreshMatch> {
        if self.0.slots == 0 || history.is_empty() {
            return Vec::new();
        }
        let mut out: Vec<FreshMatch> = candidates
            .into_iter()
            .enumerate()
            .filter_map(|(candidate, row)| {
                let (because, score) = self.best_match(history, row)?;
                Some(FreshMatch {
                    candidate,
                    because,
                    score,
                })
            })
            .collect();
        out.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.candidate.cmp(&b.candidate))
        });
        out.truncate(self.0.slots);
        out
    }
}

/// The model's ranked `model` list with `fresh` items (best first) at positions 2, 4, 6, …
/// (1-based); fresh items left when the model's list runs out follow it. Nothing is dropped:
/// the caller truncates.
pub fn interleave<T>(model: Vec<T>, fresh: Vec<T>) -> Vec<T> {
    let mut out = Vec::with_capacity(model.len() + fresh.len());
    let mut model = model.into_iter();
    let mut fresh = fresh.into_iter().peekable();
    for m in model.by_ref() {
        out.push(m);
        match fresh.next() {
            Some(f) => out.push(f),
            None => break,
        }
    }
    out.extend(model);
    out.extend(fresh);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cols: &[u32], vals: &[f32]) -> (Vec<u32>, Vec<f32>) {
        let norm = vals.iter().map(|v| v * v).sum::<f32>().sqrt();
        (cols.to_vec(), vals.iter().map(|v| v / norm).collect())
    }

    fn view(r: &(Vec<u32>, Vec<f32>)) -> Row<'_> {
        (&r.0, &r.1)
    }

    #[test]
    fn parameters_are_checked_one_rule_each() {
        assert!(FreshParams::new().check().is_ok());
        assert!(FreshParams::new().slots(0).check().is_ok());
        for bad in [-0.1, 1.5, f32::NAN] {
            let e = FreshParams::new().min_similarity(bad).check().unwrap_err();
            assert_eq!(e.field, "min_similarity");
        }
        for bad in [0.0, -1.0, f32::INFINITY] {
            let e = FreshParams::new().half_life(bad).check().unwrap_err();
            assert_eq!(e.field, "half_life");
        }
    }

    #[test]
    fn the_best_recency_weighted_history_item_explains_and_the_threshold_cuts() {
        let p = FreshParams::new()
            .half_life(1.0)
            .min_similarity(0.3)
            .check()
            .unwrap();
        let (lamp, shoe, old_shoe) = (
            row(&[9], &[1.0]),
            row(&[1, 2], &[1.0, 1.0]),
            row(&[1], &[1.0]),
        );
        // Newest first: a lamp, a shoe (weight 1/2), an older shoe (weight 1/4).
        let history = [view(&lamp), view(&shoe), view(&old_shoe)];
        let candidate = row(&[1, 2], &[1.0, 1.0]);
        let (because, score) = p.best_match(&history, view(&candidate)).unwrap();
        assert_eq!(because, 1);
        assert!((score - 0.5).abs() < 1e-6, "{score}");
        // Only like the oldest item: 0.25 · cos ≈ 0.18 < 0.3.
        let only_old = row(&[1, 7], &[1.0, 1.0]);
        assert_eq!(p.best_match(&history, view(&only_old)), None);
        // Nothing in common, or no content at all: never listed, even at threshold 0.
        let p0 = FreshParams::new().min_similarity(0.0).check().unwrap();
        assert_eq!(p0.best_match(&history, view(&row(&[4], &[1.0]))), None);
        assert_eq!(p0.best_match(&history, (&[], &[])), None);
        assert_eq!(p0.best_match(&[], view(&candidate)), None);
    }

    #[test]
    fn pick_keeps_the_best_up_to_the_slots_in_a_stable_order() {
        let p = FreshParams::new().slots(2).check().unwrap();
        let h = row(&[1, 2], &[1.0, 1.0]);
        let cands = [
            row(&[1], &[1.0]),                 // cos 0.71
            row(&[5], &[1.0]),                 // 0
            row(&[1, 2], &[1.0, 1.0]),         // 1
            row(&[2], &[1.0]),                 // 0.71, tie with the first: later position
            row(&[1, 2, 3], &[1.0, 1.0, 1.0]), // 0.82
        ];
        let picks = p.pick(&[view(&h)], cands.iter().map(view));
        let got: Vec<usize> = picks.iter().map(|m| m.candidate).collect();
        assert_eq!(got, [2, 4]);
        assert!(picks.iter().all(|m| m.because == 0));
        let three = FreshParams::new().slots(3).check().unwrap();
        let got: Vec<usize> = three
            .pick(&[view(&h)], cands.iter().map(view))
            .iter()
            .map(|m| m.candidate)
            .collect();
        assert_eq!(got, [2, 4, 0]);
        let off = FreshParams::new().slots(0).check().unwrap();
        assert!(off.pick(&[view(&h)], cands.iter().map(view)).is_empty());
    }

    #[test]
    fn interleave_never_displaces_the_first_pick_and_drops_nothing() {
        assert_eq!(
            interleave(vec![1, 2, 3, 4], vec![10, 20]),
            [1, 10, 2, 20, 3, 4]
        );
        assert_eq!(interleave(vec![1], vec![10, 20]), [1, 10, 20]);
        assert_eq!(interleave(Vec::new(), vec![10]), [10]);
        assert_eq!(interleave(vec![1, 2], Vec::new()), [1, 2]);
        // Against the rule written out: fresh k at index 2k + 1 while the model lasts, then after it.
        for n_model in 0..6 {
            for n_fresh in 0..4 {
                let model: Vec<i32> = (0..n_model).collect();
                let fresh: Vec<i32> = (100..100 + n_fresh).collect();
                let out = interleave(model.clone(), fresh.clone());
                assert_eq!(out.len(), (n_model + n_fresh) as usize);
                for (k, f) in fresh.iter().enumerate() {
                    let at = out.iter().position(|x| x == f).unwrap();
                    let expected = if k < n_model as usize {
                        2 * k + 1
                    } else {
                        n_model as usize + k
                    };
                    assert_eq!(at, expected, "{out:?}");
                }
                let kept: Vec<i32> = out.iter().copied().filter(|x| *x < 100).collect();
                assert_eq!(kept, model);
            }
        }
    }
}
