//! EASE blended with item transitions: what goes with a user's items and what people go on to
//! after their latest ones.
//!
//! The two score on unrelated scales (EASE's are regression weights, transitions are
//! probabilities), so each model's scores for a user are standardised over the whole catalog
//! (`(s − mean) / sd`, 0 when every item scores the same) and mixed:
//! `(1 − mix) · z(EASE) + mix · z(transitions)`. `mix` is a parameter like any other: a grid
//! (`mix=0.1|0.2|0.3`) is chosen on validation by `attune evaluate`, `train` grids or
//! `attune tune`, so the blend's weight is learned on held-out data, never on test. Both
//! parts fold a user in from the same history, so a per-user recency decay
//! (`[train] user_recency_half_life`) leads both. Scoring a candidate list scores the whole
//! catalog first (the standardisation needs it); EASE's scan is that cost anyway.

use super::ease::EaseModel;
use super::knn::ItemKnnModel;
use super::{normalize_history, FoldIn, ModelParts, Param, Parts, PartsError, Scorer, UserRepr};

/// A fitted blend (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct EaseTransitionModel {
    ease: EaseModel,
    transitions: ItemKnnModel,
    mix: f32,
}

impl EaseTransitionModel {
    /// Blend two models fitted on the same items.
    ///
    /// # Panics
    /// If they disagree on the number of items.
    pub fn new(ease: EaseModel, transitions: ItemKnnModel, mix: f32) -> Self {
        assert_eq!(ease.n_items(), transitions.n_items(), "one catalog");
        Self {
            ease,
            transitions,
            mix,
        }
    }

    /// The EASE part (similar items and explanations use it).
    pub fn ease(&self) -> &EaseModel {
        &self.ease
    }

    /// The transition part.
    pub fn transitions(&self) -> &ItemKnnModel {
        &self.transitions
    }

    /// The weight of the transition part.
    pub fn mix(&self) -> f32 {
        self.mix
    }
}

/// Standardise `s` in place; all zeros when it has no spread.
fn standardise(s: &mut [f32]) {
    let n = s.len().max(1) as f64;
    let mean = s.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = s
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    let sd = var.sqrt();
    for v in s.iter_mut() {
        *v = if sd > 0.0 {
            ((f64::from(*v) - mean) / sd) as f32
        } else {
            0.0
        };
    }
}

impl Scorer for EaseTransitionModel {
    fn n_items(&self) -> usize {
        self.ease.n_items()
    }

    fn score_into(&self, user: &UserRepr, items: &[u32], out: &mut [f32]) {
        assert_eq!(items.len(), out.len(), "one output per candidate");
        let mut all = vec![0.0; self.n_items()];
        self.score_all_into(user, &mut all);
        for (o, &i) in out.iter_mut().zip(items) {
            *o = all[i as usize];
        }
    }

    fn score_all_into(&self, user: &UserRepr, out: &mut [f32]) {
        assert_eq!(out.len(), self.n_items(), "one output per item");
        self.ease.score_all_into(user, out);
        let mut t = vec![0.0; out.len()];
        self.transitions.score_all_into(user, &mut t);
        standardise(out);
        standardise(&mut t);
        let mix = self.mix;
        for (o, t) in out.iter_mut().zip(t) {
            *o = (1.0 - mix) * *o + mix * t;
        }
    }
}

impl FoldIn for EaseTransitionModel {
    /// The history itself, as both parts read it.
    fn fold_in(&self, interactions: &[(u32, f32)]) -> UserRepr {
        UserRepr::Sparse(normalize_history(interactions, self.n_items()))
    }
}

impl ModelParts for EaseTransitionModel {
    const KIND: &'static str = "ease-transition";

    fn to_parts(&self) -> Parts<'_> {
        let n = self.n_items();
        Parts::new(Self::KIND)
            .param("mix", Param::Float(f64::from(self.mix)))
            .f32_matrix("weights", n, n, self.ease.weights())
            .csr("transitions", self.transitions.neighbours())
    }

    /// Both matrices must be square over the same items.
    fn from_parts(mut parts: Parts<'_>) -> Result<Self, PartsError> {
        parts.expect_kind(Self::KIND)?;
        let mix = parts.f32_param(Self::KIND, "mix")?;
        let n = match parts.arrays.get("weights").map(|a| a.shape()) {
            Some([n, _]) => *n,
            _ => 0,
        };
        let (weights, n_items, _) =
            parts.take_f32_matrix(Self::KIND, "weights", Some(n), Some(n))?;
        let transitions = parts.take_csr(Self::KIND, "transitions", Some(n_items))?;
        if transitions.n_cols() != n_items {
            return Err(PartsError::BadParam {
                kind: Self::KIND,
                name: "transitions.n_cols",
                value: transitions.n_cols().to_string(),
                rule: "must equal the items of the weights",
            });
        }
        Ok(Self {
            ease: EaseModel::from_weights(n_items, weights),
            transitions: ItemKnnModel::from_neighbours(transitions),
            mix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::ItemSequences;
    use crate::model::{EaseParams, TransitionParams};
    use crate::sparse::Csr;

    /// The order of a blended list at `mix`, and of each part alone.
    fn orders(mix: f32) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
        // 12 users over 6 items; each walks a cycle starting at a different item.
        let mut cells = Vec::new();
        for u in 0..12u32 {
            for step in 0..4u32 {
                cells.push((u, i64::from(step), (u + step * (1 + u % 2)) % 6));
            }
        }
        cells.sort_unstable_by_key(|c| (c.0, c.2));
        cells.dedup_by_key(|c| (c.0, c.2));
        let x = Csr::from_triplets(12, 6, cells.iter().map(|c| (c.0, c.2, 1.0))).unwrap();
        let seq = ItemSequences::from_timed(12, cells);
        let ease = EaseParams::default()
            .reg(1.0)
            .check()
            .unwrap()
            .fit(&x)
            .unwrap();
        let t = TransitionParams::default().check().unwrap().fit(&seq, 6);
        let blend = EaseTransitionModel::new(ease.clone(), t.clone(), mix);
        let user = blend.fold_in(&[(0, 1.0), (2, 0.5)]);
        let order = |m: &dyn Scorer| {
            let mut s = vec![0.0; 6];
            m.score_all_into(&user, &mut s);
            let mut idx: Vec<u32> = (0..6).collect();
            idx.sort_by(|&a, &b| s[b as usize].total_cmp(&s[a as usize]).then(a.cmp(&b)));
            idx
        };
        (order(&blend), order(&ease), order(&t))
    }

    #[test]
    fn mix_zero_ranks_as_ease_and_one_as_transitions() {
        let (blend, ease, transitions) = orders(0.0);
        assert_ne!(
            ease, transitions,
            "the parts must disagree for this to test anything"
        );
        assert_eq!(blend, ease);
        let (blend, _, transitions) = orders(1.0);
        assert_eq!(blend, transitions);
    }

    #[test]
    fn parts_round_trip() {
        let (x, seq) = (
            Csr::from_triplets(2, 3, [(0, 0, 1.0), (0, 1, 1.0), (1, 1, 1.0), (1, 2, 1.0)]).unwrap(),
            ItemSequences::from_timed(2, vec![(0, 1, 0), (0, 2, 1), (1, 1, 1), (1, 2, 2)]),
        );
        let ease = EaseParams::default()
            .reg(1.0)
            .check()
            .unwrap()
            .fit(&x)
            .unwrap();
        let t = TransitionParams::default().check().unwrap().fit(&seq, 3);
        let m = EaseTransitionModel::new(ease, t, 0.25);
        let back = EaseTransitionModel::from_parts(m.to_parts()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn standardising_centres_and_scales_and_leaves_flat_scores_at_zero() {
        let mut s = [1.0, 2.0, 3.0];
        standardise(&mut s);
        let sd = (2.0f64 / 3.0).sqrt();
        assert!((f64::from(s[0]) + 1.0 / sd).abs() < 1e-6 && s[1].abs() < 1e-7);
        let mut flat = [4.0; 3];
        standardise(&mut flat);
        assert_eq!(flat, [0.0; 3]);
    }
}
