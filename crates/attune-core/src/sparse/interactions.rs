//! Interaction matrices from behavioural signals: implicit confidence weights and explicit
//! ratings.
//!
//! Deliberately decoupled from the event model: the caller maps each event to a [`Touch`]
//! (dense user and item indices from an [`super::Interner`], a small integer *kind* for the
//! event type, and the optional dwell and scroll signals), so this module stays a pure function
//! of numbers and the event schema can evolve on its own.
//!
//! # Implicit weight of one touch
//! `w = kind_weight · dwell_factor · scroll_factor · recency_factor`, where
//! - `kind_weight` comes from [`ImplicitWeights::kinds`] (a purchase counts more than a view;
//!   0 ignores a kind, for example impressions);
//! - `dwell_factor = floor + (1 − floor) · min(dwell_ms / saturate_ms, 1)`: a three-second
//!   bounce earns little, reading to the end earns full credit; touches without a dwell time get
//!   1 (no evidence either way);
//! - `scroll_factor = floor + (1 − floor) · depth` for a scroll depth in `[0, 1]` (1 without one);
//! - `recency_factor = 2^(−age / half_life)` as seen at `now` (1 without a half-life; future
//!   touches count as age 0).
//!
//! A cell's weight is the sum over its touches, then capped at [`ImplicitWeights::cap`] if set,
//! so one obsessive user cannot dominate an item. Cells whose sum is 0 are dropped.
//! [`ValidImplicitWeights::matrix_with_latest`] also dates each cell by its latest touch, which
//! a per-user positional decay of the history users are folded in from needs
//! ([`super::UserRecency`]).

use super::{Csr, CsrBuilder, SparseError};
use crate::model::ParamError;

/// One behavioural signal, already mapped to dense indices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Touch {
    /// User index.
    pub user: u32,
    /// Item index.
    pub item: u32,
    /// Event kind: an index into [`ImplicitWeights::kinds`].
    pub kind: usize,
    /// UTC microseconds.
    pub time_micros: i64,
    /// Time spent, if measured.
    pub dwell_ms: Option<f32>,
    /// Scroll depth in `[0, 1]`, if measured.
    pub scroll_depth: Option<f32>,
}

/// Dwell-time credit (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DwellCurve {
    /// Dwell time that earns full credit.
    pub saturate_ms: f32,
    /// Credit of a zero dwell, in `[0, 1]`.
    pub floor: f32,
}

/// Exponential recency decay (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recency {
    /// Weight halves every `half_life_micros`.
    pub half_life_micros: i64,
    /// The reference time ("now" of the training snapshot).
    pub now_micros: i64,
}

/// How touches become implicit-feedback weights (unchecked; see [`ImplicitWeights::check`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ImplicitWeights {
    /// Weight per kind; a touch whose kind is out of range is ignored.
    pub kinds: Vec<f32>,
    /// Dwell-time credit, if any.
    pub dwell: Option<DwellCurve>,
    /// Floor of the scroll-depth credit, if scroll depth counts.
    pub scroll_floor: Option<f32>,
    /// Recency decay, if any.
    pub recency: Option<Recency>,
    /// Largest weight of one cell, if capped.
    pub cap: Option<f32>,
}

/// Checked [`ImplicitWeights`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidImplicitWeights(ImplicitWeights);

fn check_unit(field: &'static str, v: f32) -> Result<(), ParamError> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(ParamError::new(
            "interactions",
            field,
            v,
            "must be between 0 and 1",
        ))
    }
}

impl ImplicitWeights {
    /// Validate every field.
    pub fn check(self) -> Result<ValidImplicitWeights, ParamError> {
        if let Some(&w) = self.kinds.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
            return Err(ParamError::new(
                "interactions",
                "kinds",
                w,
                "every kind weight must be a finite number >= 0",
            ));
        }
        if let Some(d) = self.dwell {
            if !(d.saturate_ms.is_finite() && d.saturate_ms > 0.0) {
                return Err(ParamError::new(
                    "interactions",
                    "dwell.saturate_ms",
                    d.saturate_ms,
                    "must be a finite number > 0",
                ));
            }
            check_unit("dwell.floor", d.floor)?;
        }
        if let Some(f) = self.scroll_floor {
            check_unit("scroll_floor", f)?;
        }
        if let Some(r) = self.recency {
            if r.half_life_micros <= 0 {
                return Err(ParamError::new(
                    "interactions",
                    "recency.half_life",
                    r.half_life_micros,
                    "must be > 0 microseconds",
                ));
            }
        }
        if let Some(c) = self.cap {
            if !(c.is_finite() && c > 0.0) {
                return Err(ParamError::new(
                    "interactions",
                    "cap",
                    c,
                    "must be a finite number > 0",
                ));
            }
        }
        Ok(ValidImplicitWeights(self))
    }
}

impl ValidImplicitWeights {
    /// The weight of one touch (0 for an unknown kind).
    pub fn weight(&self, t: &Touch) -> f64 {
        let p = &self.0;
        let Some(&kind) = p.kinds.get(t.kind) else {
            return 0.0;
        };
        let mut w = f64::from(kind);
        if let (Some(d), Some(ms)) = (p.dwell, t.dwell_ms) {
            let share = (f64::from(ms.max(0.0)) / f64::from(d.saturate_ms)).min(1.0);
            w *= f64::from(d.floor) + (1.0 - f64::from(d.floor)) * share;
        }
        if let (Some(floor), Some(depth)) = (p.scroll_floor, t.scroll_depth) {
            let depth = f64::from(depth.clamp(0.0, 1.0));
            w *= f64::from(floor) + (1.0 - f64::from(floor)) * depth;
        }
        if let Some(r) = p.recency {
            let age = r.now_micros.saturating_sub(t.time_micros).max(0) as f64;
            w *= (-age / r.half_life_micros as f64).exp2();
        }
        w
    }

    /// The `n_users x n_items` implicit-feedback matrix of `touches` (sums per cell in `f64`,
    /// in input order, then capped).
    pub fn matrix(
        &self,
        touches: &[Touch],
        n_users: usize,
        n_items: usize,
    ) -> Result<Csr, SparseError> {
        Ok(self.matrix_with_latest(touches, n_users, n_items)?.0)
    }

    /// [`Self::matrix`] and the time of each stored cell's latest touch that has a weight
    /// (aligned with the matrix's `data`).
    pub fn matrix_with_latest(
        &self,
        touches: &[Touch],
        n_users: usize,
        n_items: usize,
    ) -> Result<(Csr, Vec<i64>), SparseError> {
        // Sum each cell in f64 (the builder would sum in f32): sort the (cell, weight) pairs
        // stably, so cells are contiguous and summed in input order.
        let mut cells: Vec<(u32, u32, f64, i64)> = touches
            .iter()
            .map(|t| (t.user, t.item, self.weight(t), t.time_micros))
            .collect();
        cells.sort_by_key(|c| (c.0, c.1)); // stable: input order within a cell
        let mut b = CsrBuilder::with_capacity(cells.len());
        let mut latest = Vec::new();
        let mut k = 0;
        while k < cells.len() {
            let (u, i) = (cells[k].0, cells[k].1);
            let mut sum = 0f64;
            let mut last = i64::MIN;
            while k < cells.len() && (cells[k].0, cells[k].1) == (u, i) {
                sum += cells[k].2;
                // Only touches that count date the cell (an impression is no interaction).
                if cells[k].2 > 0.0 {
                    last = last.max(cells[k].3);
                }
                k += 1;
            }
            if let Some(cap) = self.0.cap {
                sum = sum.min(f64::from(cap));
            }
            if sum > 0.0 {
                b.push(u, i, sum as f32)?;
                latest.push(last);
            }
        }
        Ok((b.build(n_users, n_items)?, latest))
    }
}

/// How repeated ratings of one item by one user are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatingPolicy {
    /// The latest rating wins (ties: the one given last in the input). People change their
    /// minds; the latest opinion is the current one.
    Latest,
    /// The mean of all ratings.
    Mean,
}

/// The explicit ratings matrix of `(user, item, time_micros, rating)` records. Ratings are
/// never summed: repeated ratings are resolved by `policy`.
pub fn ratings_matrix(
    ratings: &[(u32, u32, i64, f32)],
    n_users: usize,
    n_items: usize,
    policy: RatingPolicy,
) -> Result<Csr, SparseError> {
    let mut order: Vec<usize> = (0..ratings.len()).collect();
    order.sort_by_key(|&p| (ratings[p].0, ratings[p].1, ratings[p].2, p));
    let mut b = CsrBuilder::with_capacity(ratings.len());
    let mut k = 0;
    while k < order.len() {
        let (u, i, _, _) = ratings[order[k]];
        let start = k;
        while k < order.len() && (ratings[order[k]].0, ratings[order[k]].1) == (u, i) {
            k += 1;
        }
        let group = &order[start..k];
        let value = match policy {
            RatingPolicy::Latest => ratings[group[group.len() - 1]].3,
            RatingPolicy::Mean => {
                (group.iter().map(|&p| f64::from(ratings[p].3)).sum::<f64>() / group.len() as f64)
                    as f32
            }
        };
        b.push(u, i, value)?;
    }
    b.build(n_users, n_items)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIEW: usize = 0;
    const PURCHASE: usize = 1;
    const IMPRESSION: usize = 2;
    const DAY: i64 = 86_400_000_000;

    fn touch(user: u32, item: u32, kind: usize, time_micros: i64) -> Touch {
        Touch {
            user,
            item,
            kind,
            time_micros,
            dwell_ms: None,
            scroll_depth: None,
        }
    }

    fn weights() -> ImplicitWeights {
        ImplicitWeights {
            kinds: vec![1.0, 5.0, 0.0],
            dwell: None,
            scroll_floor: None,
            recency: None,
            cap: None,
        }
    }

    #[test]
    fn kinds_sum_per_cell_and_zero_cells_are_dropped() {
        let w = weights().check().unwrap();
        let t = [
            touch(0, 1, VIEW, 0),
            touch(0, 1, PURCHASE, 0),
            touch(1, 0, IMPRESSION, 0),
            touch(1, 2, 9, 0),
        ];
        let m = w.matrix(&t, 2, 3).unwrap();
        assert_eq!(m.to_dense(), vec![0.0, 6.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(m.nnz(), 1);
    }

    #[test]
    fn dwell_scroll_recency_and_cap_hand_computed() {
        let mut p = weights();
        p.dwell = Some(DwellCurve {
            saturate_ms: 30_000.0,
            floor: 0.2,
        });
        p.scroll_floor = Some(0.5);
        p.recency = Some(Recency {
            half_life_micros: DAY,
            now_micros: 10 * DAY,
        });
        p.cap = Some(4.0);
        let w = p.check().unwrap();
        // 3 s of 30 s: 0.2 + 0.8 · 0.1 = 0.28; scroll 0.5: 0.5 + 0.5 · 0.5 = 0.75; one day old: 0.5.
        let t = Touch {
            user: 0,
            item: 0,
            kind: VIEW,
            time_micros: 9 * DAY,
            dwell_ms: Some(3_000.0),
            scroll_depth: Some(0.5),
        };
        assert!((w.weight(&t) - 0.28 * 0.75 * 0.5).abs() < 1e-7); // f32 parameters
                                                                  // Long dwell saturates; the future counts as now.
        let t2 = Touch {
            dwell_ms: Some(90_000.0),
            scroll_depth: None,
            time_micros: 11 * DAY,
            ..t
        };
        assert_eq!(w.weight(&t2), 1.0);
        // Two fresh purchases sum to 10, capped at 4.
        let m = w
            .matrix(
                &[
                    touch(0, 0, PURCHASE, 10 * DAY),
                    touch(0, 0, PURCHASE, 10 * DAY),
                ],
                1,
                1,
            )
            .unwrap();
        assert_eq!(m.data(), &[4.0]);
    }

    #[test]
    fn kind_weights_must_be_finite_and_non_negative() {
        let mut p = weights();
        p.kinds[1] = -1.0;
        assert_eq!(p.check().unwrap_err().field, "kinds");
    }

    #[test]
    fn dwell_saturation_must_be_positive() {
        let mut p = weights();
        p.dwell = Some(DwellCurve {
            saturate_ms: 0.0,
            floor: 0.1,
        });
        assert_eq!(p.check().unwrap_err().field, "dwell.saturate_ms");
    }

    #[test]
    fn dwell_floor_must_be_between_0_and_1() {
        let mut p = weights();
        p.dwell = Some(DwellCurve {
            saturate_ms: 1.0,
            floor: 1.5,
        });
        assert_eq!(p.check().unwrap_err().field, "dwell.floor");
    }

    #[test]
    fn scroll_floor_must_be_between_0_and_1() {
        let mut p = weights();
        p.scroll_floor = Some(-0.1);
        assert_eq!(p.check().unwrap_err().field, "scroll_floor");
    }

    #[test]
    fn half_life_must_be_positive() {
        let mut p = weights();
        p.recency = Some(Recency {
            half_life_micros: 0,
            now_micros: 0,
        });
        assert_eq!(p.check().unwrap_err().field, "recency.half_life");
    }

    #[test]
    fn cap_must_be_positive() {
        let mut p = weights();
        p.cap = Some(0.0);
        assert_eq!(p.check().unwrap_err().field, "cap");
    }

    #[test]
    fn ratings_resolve_repeats_by_policy() {
        let r = [
            (0, 0, 5, 2.0),
            (0, 0, 9, 4.0),
            (0, 0, 1, 5.0),
            (1, 1, 3, 3.0),
            (1, 1, 3, 1.0),
        ];
        let latest = ratings_matrix(&r, 2, 2, RatingPolicy::Latest).unwrap();
        // User 1's tie at time 3 goes to the later record.
        assert_eq!(latest.to_dense(), vec![4.0, 0.0, 0.0, 1.0]);
        let mean = ratings_matrix(&r, 2, 2, RatingPolicy::Mean).unwrap();
        assert_eq!(mean.to_dense(), vec![11.0 / 3.0, 0.0, 0.0, 2.0]);
        assert!(ratings_matrix(&r, 1, 2, RatingPolicy::Mean).is_err());
    }
}
