//! Item-to-item transitions: what people interact with *after* an item.
//!
//! Co-occurrence models (item-kNN, EASE) ignore order: a sequel and its prequel are equally
//! "similar". Here item `a` points at item `b` when `b` follows `a` within `window` steps of
//! some user's history (time order, ties by item index), with weight `decay^(distance − 1)`,
//! summed over users, each row normalised to sum 1 (the probability of going on to `b`) and
//! cut to the `neighbours` strongest. A user is scored from their history like item-kNN:
//! `score(b) = Σ_a w_a · T[a, b]`, so with a per-user recency decay of the history
//! (`[train] user_recency_half_life`) the last items lead, and explanations name the item a
//! pick follows. The fitted model *is* an [`ItemKnnModel`] over the transition matrix, so
//! serving, artifacts, similar items and explanations need nothing new.
//!
//! The family is session-kNN / first-order Markov chains (Rendle's FPMC without the
//! factorisation); on MovieLens-100K it is weaker than EASE alone and useful in a blend
//! (docs/evaluation.md).

use super::knn::ItemKnnModel;
use super::spec::ItemSequences;
use super::ParamError;
use crate::sparse::{Csr, CsrBuilder};

/// Transition model parameters (unchecked).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TransitionParams {
    window: usize,
    decay: f32,
    neighbours: usize,
}

/// Checked [`TransitionParams`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TransitionValidParams(TransitionParams);

impl Default for TransitionParams {
    fn default() -> Self {
        Self {
            window: 5,
            decay: 0.5,
            neighbours: 200,
        }
    }
}

impl TransitionParams {
    /// How many following items count as a transition.
    pub fn window(mut self, window: usize) -> Self {
        self.window = window;
        self
    }

    /// Weight of a transition `d` steps ahead: `decay^(d − 1)`.
    pub fn decay(mut self, decay: f32) -> Self {
        self.decay = decay;
        self
    }

    /// Strongest successors kept per item.
    pub fn neighbours(mut self, neighbours: usize) -> Self {
        self.neighbours = neighbours;
        self
    }

    /// Validate every field.
    pub fn check(self) -> Result<TransitionValidParams, ParamError> {
        if self.window == 0 {
            return Err(ParamError::new("transition", "window", 0, "must be >= 1"));
        }
        if !(self.decay > 0.0 && self.decay <= 1.0) {
            return Err(ParamError::new(
                "transition",
                "decay",
                self.decay,
                "must be in (0, 1]",
            ));
        }
        if self.neighbours == 0 {
            return Err(ParamError::new(
                "transition",
                "neighbours",
                0,
                "must be >= 1",
            ));
        }
        Ok(TransitionValidParams(self))
    }
}

impl TransitionValidParams {
    /// Count the transitions of every user's sequence over `n_items` items.
    pub fn fit(&self, sequences: &ItemSequences, n_items: usize) -> ItemKnnModel {
        let p = self.0;
        let mut pairs: Vec<(u32, u32, f32)> = Vec::new();
        for s in sequences.iter() {
            for (a, &from) in s.iter().enumerate() {
                let mut w = 1.0f32;
                for &to in s.iter().skip(a + 1).take(p.window) {
                    if to != from {
                        pairs.push((from, to, w));
                    }
                    w *= p.decay;
                }
            }
        }
        pairs.sort_unstable_by_key(|x| (x.0, x.1));
        let mut b = CsrBuilder::with_capacity(pairs.len().min(n_items * p.neighbours));
        let mut row: Vec<(u32, f64)> = Vec::new();
        let mut k = 0;
        while k < pairs.len() {
            let from = pairs[k].0;
            row.clear();
            while k < pairs.len() && pairs[k].0 == from {
                let to = pairs[k].1;
                let mut sum = 0f64;
                while k < pairs.len() && (pairs[k].0, pairs[k].1) == (from, to) {
                    sum += f64::from(pairs[k].2);
                    k += 1;
                }
                row.push((to, sum));
            }
            let total: f64 = row.iter().map(|x| x.1).sum();
            if row.len() > p.neighbours {
                // Strongest first, ties by item: deterministic.
                row.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
                row.truncate(p.neighbours);
                row.sort_unstable_by_key(|x| x.0);
            }
            for &(to, w) in &row {
                b.push(from, to, (w / total) as f32)
                    .expect("indices below n_items, sorted");
            }
        }
        let t: Csr = b
            .build(n_items, n_items)
            .expect("sequences hold item indices below n_items");
        ItemKnnModel::from_neighbours(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FoldIn, Scorer};

    #[test]
    fn successors_are_counted_decayed_and_normalised() {
        // Two users walk 0 → 1 → 2; one walks 0 → 2.
        let seq = ItemSequences::from_timed(
            3,
            vec![
                (0, 10, 0),
                (0, 20, 1),
                (0, 30, 2),
                (1, 5, 0),
                (1, 6, 1),
                (1, 7, 2),
                (2, 1, 0),
                (2, 2, 2),
            ],
        );
        let m = TransitionParams::default()
            .window(2)
            .decay(0.5)
            .check()
            .unwrap()
            .fit(&seq, 3);
        // From 0: to 1 twice (1 each), to 2 twice at distance 2 (0.5 each) and once at 1.
        let (to, w) = m.similar(0);
        assert_eq!(to, &[1, 2]);
        assert!((w[0] - 2.0 / 4.0).abs() < 1e-6 && (w[1] - 2.0 / 4.0).abs() < 1e-6);
        // Item 2 is always last: no successors.
        assert!(m.similar(2).0.is_empty());
        // A user who just saw 1 is sent to 2.
        let mut s = vec![0.0; 3];
        m.score_all_into(&m.fold_in(&[(1, 1.0)]), &mut s);
        assert!(s[2] > 0.0 && s[0] == 0.0);
    }

    #[test]
    fn bad_parameters_are_named() {
        assert_eq!(
            TransitionParams::default()
                .window(0)
                .check()
                .unwrap_err()
                .field,
            "window"
        );
        assert_eq!(
            TransitionParams::default()
                .decay(1.5)
                .check()
                .unwrap_err()
                .field,
            "decay"
        );
    }
}
