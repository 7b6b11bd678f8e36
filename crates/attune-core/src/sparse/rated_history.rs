//! How much of a rated item a user is folded in from: their rating, not just the fact.
//!
//! Implicit models read a rating as "interacted". A user who gave one film five stars and
//! another two is folded in from both alike, so the film they disliked pulls as many
//! neighbours into their list as the one they loved. [`RatedHistory`] multiplies each rated
//! cell of the history by `(r / pivot)^exponent`: at exponent 1 and pivot 3, a five-star
//! rating weighs 5/3 of a click, a two-star one 2/3.
//!
//! It weighs the *history* only, like [`super::UserRecency`]: models train on the weights the
//! events give (EASE has its own `rating_exponent` for the fit), and serving folds users in
//! from the weighted history; a live rating enters it with the same factor
//! ([`crate::event::EventWeighting::live_history_weight`]). For a linear scorer such as EASE the pivot
//! does not change the ranking (it scales a user's whole history); it sets how a rating
//! compares with a click or a view in mixed data.
//!
//! On MovieLens-100K under RecBole's protocol, weighting the history by the rating on top of
//! EASE's rated fit is measured in docs/evaluation.md.

use super::{Csr, SparseError};
use crate::model::ParamError;

/// Rating factor of the history users are folded in from (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatedHistory {
    exponent: f32,
    pivot: f32,
}

impl RatedHistory {
    /// The largest exponent accepted: beyond it one rating drowns a whole history.
    pub const MAX_EXPONENT: f32 = 4.0;

    /// A factor `(r / pivot)^exponent`; `exponent` in `(0, 4]`, `pivot` finite and > 0.
    pub fn new(exponent: f32, pivot: f32) -> Result<Self, ParamError> {
        if !(exponent.is_finite() && exponent > 0.0 && exponent <= Self::MAX_EXPONENT) {
            return Err(ParamError::new(
                "interactions",
                "history_rating.exponent",
                exponent,
                "must be a number in (0, 4]: 1 weighs a rated item by its rating over the pivot",
            ));
        }
        if !(pivot.is_finite() && pivot > 0.0) {
            return Err(ParamError::new(
                "interactions",
                "history_rating.pivot",
                pivot,
                "must be a finite rating > 0 (the rating that weighs what a click weighs)",
            ));
        }
        Ok(Self { exponent, pivot })
    }

    /// The exponent.
    pub fn exponent(&self) -> f32 {
        self.exponent
    }

    /// The rating whose factor is 1.
    pub fn pivot(&self) -> f32 {
        self.pivot
    }

    /// The factor of a rating; a rating at or below 0 weighs nothing (the item stays seen).
    pub fn factor(&self, rating: f32) -> f64 {
        if rating > 0.0 {
            (f64::from(rating) / f64::from(self.pivot)).powf(f64::from(self.exponent))
        } else {
            0.0
        }
    }

    /// `history` with each cell that `ratings` rates times [`Self::factor`] (cells without a
    /// rating, and ratings outside `history`, are left as they are).
    pub fn apply(&self, history: &Csr, ratings: &Csr) -> Result<Csr, SparseError> {
        if (ratings.n_rows(), ratings.n_cols()) != (history.n_rows(), history.n_cols()) {
            return Err(SparseError::InvalidParts {
                reason: format!(
                    "the ratings are {} x {}, the history they weigh {} x {}",
                    ratings.n_rows(),
                    ratings.n_cols(),
                    history.n_rows(),
                    history.n_cols()
                ),
            });
        }
        Ok(scale_rated(history, ratings, |r| self.factor(r)))
    }
}

/// `m` with each cell that `ratings` (same shape) rates times `factor(rating)`; other cells as
/// they are. The one rescaling of rated cells: the history's factor here, EASE's in its fit.
pub fn scale_rated(m: &Csr, ratings: &Csr, factor: impl Fn(f32) -> f64) -> Csr {
    m.map_values(|u, i, x| match ratings.get(u, i) {
        Some(r) => (f64::from(x) * factor(r)) as f32,
        None => x,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rated_cells_weigh_their_rating_over_the_pivot() {
        let history = Csr::from_triplets(
            2,
            3,
            vec![(0, 0, 1.0), (0, 1, 2.0), (0, 2, 1.0), (1, 2, 1.0)],
        )
        .unwrap();
        // User 0 rated item 0 five stars and item 1 two; item 2 was only viewed. User 1's
        // rating of item 0 is outside the history and adds nothing.
        let ratings =
            Csr::from_triplets(2, 3, vec![(0, 0, 5.0), (0, 1, 2.0), (1, 0, 4.0)]).unwrap();
        let h = RatedHistory::new(1.0, 4.0).unwrap();
        let w = h.apply(&history, &ratings).unwrap();
        assert_eq!(w.row(0).1, &[1.25, 1.0, 1.0]);
        assert_eq!(w.row(1), (&[2u32][..], &[1.0f32][..]));
        let sq = RatedHistory::new(2.0, 4.0)
            .unwrap()
            .apply(&history, &ratings);
        assert_eq!(sq.unwrap().row(0).1, &[1.5625, 0.5, 1.0]);
    }

    #[test]
    fn a_non_positive_rating_weighs_nothing_but_stays_seen() {
        let history = Csr::from_triplets(1, 2, vec![(0, 0, 1.0), (0, 1, 1.0)]).unwrap();
        let ratings = Csr::from_triplets(1, 2, vec![(0, 0, 0.0), (0, 1, -1.0)]).unwrap();
        let w = RatedHistory::new(0.5, 3.0).unwrap();
        let out = w.apply(&history, &ratings).unwrap();
        assert_eq!(out.row(0), (&[0u32, 1][..], &[0.0f32, 0.0][..]));
    }

    #[test]
    fn parameters_and_shapes_are_checked() {
        for bad in [0.0, -1.0, 4.5, f32::NAN] {
            let e = RatedHistory::new(bad, 3.0).unwrap_err();
            assert_eq!(e.field, "history_rating.exponent", "{bad}");
        }
        for bad in [0.0, -2.0, f32::INFINITY] {
            let e = RatedHistory::new(1.0, bad).unwrap_err();
            assert_eq!(e.field, "history_rating.pivot", "{bad}");
        }
        let history = Csr::from_triplets(1, 2, vec![(0, 0, 1.0)]).unwrap();
        let ratings = Csr::from_triplets(2, 2, vec![(1, 0, 4.0)]).unwrap();
        let h = RatedHistory::new(1.0, 3.0).unwrap();
        assert!(h.apply(&history, &ratings).is_err());
    }
}
