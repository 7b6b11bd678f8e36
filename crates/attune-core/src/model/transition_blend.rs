//! A collaborative model blended with item transitions: what goes with a user's items and
//! what people go on to after their latest ones. The base is EASE (`ease-transition`) or ALS
//! (`als-transition`).
//!
//! The two score on unrelated scales (EASE's are regression weights, ALS's dot products,
//! transitions are probabilities), so each model's scores for a user are standardised over the
//! whole catalog (`(s − mean) / sd`, 0 when every item scores the same) and mixed:
//! `(1 − mix) · z(base) + mix · z(transitions)`. `mix` is a parameter like any other: a grid
//! (`mix=0.1|0.2|0.3`) is chosen on validation by `attune evaluate`, `train` grids or
//! `attune tune`, so the blend's weight is learned on held-out data, never on test. Both
//! parts fold a user in from the same history (ALS solves the user's factors from it), so a
//! per-user recency decay (`[train] user_recency_half_life`) leads both.
//!
//! The standardisation needs each part's mean and spread over the catalog: the transitions'
//! come from the few items a history reaches (the rest score 0), ALS's in closed form from its
//! factors ([`super::blend_base`]), EASE's from its scores. A user's blended scores are thus
//! an affine map of the base's plus a term on the reached items ([`BlendTerms`]), which lets
//! the serving engine rank ALS's part with its usual scan and add the transitions after.

use super::als::AlsModel;
use super::blend_base::BlendBase;
use super::ease::EaseModel;
use super::knn::ItemKnnModel;
use super::sparse_sums::SparseSums;
use super::{normalize_history, FoldIn, ModelParts, Param, Parts, PartsError, Scorer, UserRepr};

/// A fitted blend of a base model and transitions (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionBlend<B: BlendBase> {
    base: B,
    transitions: ItemKnnModel,
    mix: f32,
    /// The base's per-model moments (computed from it: not stored in artifacts).
    base_moments: B::Moments,
}

/// EASE blended with transitions (`ease-transition`).
pub type EaseTransitionModel = TransitionBlend<EaseModel>;

/// ALS blended with transitions (`als-transition`).
pub type AlsTransitionModel = TransitionBlend<AlsModel>;

impl<B: BlendBase> TransitionBlend<B> {
    /// Blend two models fitted on the same items.
    ///
    /// # Panics
    /// If they disagree on the number of items.
    pub fn new(base: B, transitions: ItemKnnModel, mix: f32) -> Self {
        assert_eq!(base.n_items(), transitions.n_items(), "one catalog");
        Self {
            base_moments: base.item_moments(),
            base,
            transitions,
            mix,
        }
    }

    /// The base part (similar items and explanations use it).
    pub fn base(&self) -> &B {
        &self.base
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

/// `weight · z(v)` as `scale · v + shift`, where `z` standardises by `(mean, sd)` and is 0
/// everywhere when there is no spread.
fn standardised(weight: f32, (mean, sd): (f64, f64)) -> (f32, f32) {
    if sd > 0.0 {
        let scale = f64::from(weight) / sd;
        (scale as f32, (-mean * scale) as f32)
    } else {
        (0.0, 0.0)
    }
}

/// A blend user's score of every item, in parts: `base_scale · a + shift` for an item of base
/// score `a`, plus a transition term for the few items the user's history reaches. Both the
/// model's own scoring and the serving engine (which ranks the base's part through its scan and
/// adds `reached`) compute scores through [`BlendTerms::score`], so they agree to the bit.
#[derive(Debug, Clone, PartialEq)]
pub struct BlendTerms {
    /// Multiplies the base's score: `(1 − mix) / sd(base)` (0 without spread).
    pub base_scale: f32,
    /// Added to every item: both parts' `−mean / sd` terms.
    pub shift: f32,
    /// The items the transitions reach (each once, in no particular order), with
    /// `mix · t / sd(t)`.
    pub reached: Vec<(u32, f32)>,
}

impl BlendTerms {
    /// The blended score of an item of base score `a` and transition term `term` (0 when the
    /// transitions do not reach it).
    #[inline]
    pub fn score(&self, a: f32, term: f32) -> f32 {
        self.base_scale * a + self.shift + term
    }
}

thread_local! {
    static REACH: std::cell::RefCell<SparseSums> = std::cell::RefCell::new(SparseSums::default());
}

impl<B: BlendBase> TransitionBlend<B> {
    /// The transition scores of `user`'s history: the items reached, in the order first
    /// reached (sorting them cost more than the rest of a served list), with their scores
    /// (summed in history order, as [`ItemKnnModel`]'s dense scoring does).
    fn transition_scores(&self, user: &UserRepr) -> Vec<(u32, f32)> {
        let UserRepr::Sparse(h) = user else {
            return Vec::new();
        };
        let n = self.n_items();
        REACH.with(|r| {
            let mut r = r.borrow_mut();
            r.start(n);
            let m = self.transitions.neighbours();
            for &(i, w) in h {
                if i as usize >= m.n_rows() {
                    continue;
                }
                let (js, sims) = m.row(i as usize);
                for (&j, &sim) in js.iter().zip(sims) {
                    r.add(j, w * sim);
                }
            }
            r.sums()
        })
    }

    /// The parts of `user`'s blended scores (see [`BlendTerms`]). `base` is the base's
    /// representation ([`Self::base_repr`]); `base_scores` its scores of every item, read only by
    /// bases without closed-form moments (EASE): ALS accepts an empty slice.
    pub fn terms(&self, user: &UserRepr, base: &UserRepr, base_scores: &[f32]) -> BlendTerms {
        let base_moments = self
            .base
            .score_moments(&self.base_moments, base, base_scores);
        let (base_scale, shift_b) = standardised(1.0 - self.mix, base_moments);
        let t = self.transition_scores(user);
        let n = self.n_items().max(1) as f64;
        let (sum, sq) = t.iter().fold((0f64, 0f64), |(s, q), &(_, v)| {
            (s + f64::from(v), q + f64::from(v) * f64::from(v))
        });
        let mean = sum / n;
        let (scale_t, shift_t) =
            standardised(self.mix, (mean, (sq / n - mean * mean).max(0.0).sqrt()));
        BlendTerms {
            base_scale,
            shift: shift_b + shift_t,
            reached: t.into_iter().map(|(j, v)| (j, scale_t * v)).collect(),
        }
    }

    /// The representation the base scores a blend user by: EASE reads the history again, ALS
    /// the factors solved from it.
    pub fn base_repr<'a>(&self, user: &'a UserRepr) -> std::borrow::Cow<'a, UserRepr> {
        match user {
            UserRepr::Sparse(h) => std::borrow::Cow::Owned(self.base.fold_in(h)),
            other => std::borrow::Cow::Borrowed(other),
        }
    }
}

impl<B: BlendBase> Scorer for TransitionBlend<B> {
    fn n_items(&self) -> usize {
        self.base.n_items()
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
        let base = self.base_repr(user);
        self.base.score_all_into(&base, out);
        let terms = self.terms(user, &base, out);
        // Reached items' base scores, read before the pass overwrites them.
        let reached: Vec<(usize, f32, f32)> = terms
            .reached
            .iter()
            .map(|&(j, t)| (j as usize, out[j as usize], t))
            .collect();
        for o in out.iter_mut() {
            *o = terms.score(*o, 0.0);
        }
        for (j, a, t) in reached {
            out[j] = terms.score(a, t);
        }
    }
}

impl<B: BlendBase> FoldIn for TransitionBlend<B> {
    /// The history itself, as both parts read it.
    fn fold_in(&self, interactions: &[(u32, f32)]) -> UserRepr {
        UserRepr::Sparse(normalize_history(interactions, self.base.n_items()))
    }
}

impl ModelParts for EaseTransitionModel {
    const KIND: &'static str = "ease-transition";

    fn to_parts(&self) -> Parts<'_> {
        let n = self.n_items();
        Parts::new(Self::KIND)
            .param("mix", Param::Float(f64::from(self.mix)))
            .f32_matrix("weights", n, n, self.base.weights())
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
        let transitions = take_transitions(&mut parts, Self::KIND, n_items)?;
        Ok(Self::new(
            EaseModel::from_weights(n_items, weights),
            transitions,
            mix,
        ))
    }
}

impl ModelParts for AlsTransitionModel {
    const KIND: &'static str = "als-transition";

    /// ALS's own parts, with the mix and the transition matrix added.
    fn to_parts(&self) -> Parts<'_> {
        let mut p = self
            .base
            .to_parts()
            .param("mix", Param::Float(f64::from(self.mix)))
            .csr("transitions", self.transitions.neighbours());
        p.kind = Self::KIND.into();
        p
    }

    /// The transitions must cover ALS's items.
    fn from_parts(mut parts: Parts<'_>) -> Result<Self, PartsError> {
        parts.expect_kind(Self::KIND)?;
        let mix = parts.f32_param(Self::KIND, "mix")?;
        parts.params.remove("mix");
        let transitions = parts.take_csr(Self::KIND, "transitions", None)?;
        parts.kind = AlsModel::KIND.into();
        let base = AlsModel::from_parts(parts)?;
        let n_items = base.n_items();
        if transitions.n_rows() != n_items || transitions.n_cols() != n_items {
            return Err(PartsError::BadParam {
                kind: Self::KIND,
                name: "transitions.shape",
                value: format!("{}x{}", transitions.n_rows(), transitions.n_cols()),
                rule: "must be square over ALS's items",
            });
        }
        Ok(Self::new(
            base,
            ItemKnnModel::from_neighbours(transitions),
            mix,
        ))
    }
}

/// The transition matrix of a blend over `n_items` items.
fn take_transitions(
    parts: &mut Parts<'_>,
    kind: &'static str,
    n_items: usize,
) -> Result<ItemKnnModel, PartsError> {
    let transitions = parts.take_csr(kind, "transitions", Some(n_items))?;
    if transitions.n_cols() != n_items {
        return Err(PartsError::BadParam {
            kind,
            name: "transitions.n_cols",
            value: transitions.n_cols().to_string(),
            rule: "must equal the items of the weights",
        });
    }
    Ok(ItemKnnModel::from_neighbours(transitions))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::blend_base::moments;
    use crate::model::spec::ItemSequences;
    use crate::model::{AlsParams, EaseParams, TransitionParams};
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

    /// ALS on the same walks, mixed at `mix`, and each part alone, for one history.
    fn als_orders(mix: f32) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
        let mut cells = Vec::new();
        for u in 0..40u32 {
            for step in 0..4u32 {
                cells.push((u, i64::from(step), (u + step * (1 + u % 3)) % 8));
            }
        }
        cells.sort_unstable_by_key(|c| (c.0, c.2));
        cells.dedup_by_key(|c| (c.0, c.2));
        let x = Csr::from_triplets(40, 8, cells.iter().map(|c| (c.0, c.2, 1.0))).unwrap();
        let seq = ItemSequences::from_timed(40, cells);
        let als = AlsParams::new(4)
            .iterations(8)
            .reg(0.1)
            .alpha(2.0)
            .check()
            .unwrap()
            .fit(&x)
            .unwrap();
        let t = TransitionParams::default().check().unwrap().fit(&seq, 8);
        let history = [(0u32, 1.0f32), (3, 0.5)];
        let blend = AlsTransitionModel::new(als.clone(), t.clone(), mix);
        let order = |m: &dyn Scorer, user: &UserRepr| {
            let mut s = vec![0.0; 8];
            m.score_all_into(user, &mut s);
            let mut idx: Vec<u32> = (0..8).collect();
            idx.sort_by(|&a, &b| s[b as usize].total_cmp(&s[a as usize]).then(a.cmp(&b)));
            idx
        };
        (
            order(&blend, &blend.fold_in(&history)),
            order(&als, &als.fold_in(&history)),
            order(&t, &t.fold_in(&history)),
        )
    }

    #[test]
    fn an_als_blend_folds_the_user_into_factors_and_mixes_like_the_ease_one() {
        let (blend, als, transitions) = als_orders(0.0);
        assert_ne!(als, transitions, "the parts must disagree");
        assert_eq!(blend, als, "mix 0 is ALS folded in from the history");
        let (blend, _, transitions) = als_orders(1.0);
        assert_eq!(blend, transitions);
        let (half, als, transitions) = als_orders(0.5);
        assert!(half != als || half != transitions, "a mix moves something");
    }

    #[test]
    fn als_blend_parts_round_trip() {
        let x =
            Csr::from_triplets(3, 3, [(0, 0, 1.0), (0, 1, 1.0), (1, 1, 1.0), (2, 2, 1.0)]).unwrap();
        let seq = ItemSequences::from_timed(3, vec![(0, 1, 0), (0, 2, 1), (1, 1, 1), (2, 2, 2)]);
        let als = AlsParams::new(2).check().unwrap().fit(&x).unwrap();
        let t = TransitionParams::default().check().unwrap().fit(&seq, 3);
        let m = AlsTransitionModel::new(als, t, 0.3);
        let parts = m.to_parts();
        assert_eq!(parts.kind, "als-transition");
        let back = AlsTransitionModel::from_parts(parts).unwrap();
        assert_eq!(back, m);
        // Transitions over another catalog are refused.
        let two = ItemSequences::from_timed(1, vec![(0, 1, 0), (0, 2, 1)]);
        let other = TransitionParams::default().check().unwrap().fit(&two, 2);
        let mismatched = AlsTransitionModel {
            transitions: other,
            ..m.clone()
        };
        assert!(AlsTransitionModel::from_parts(mismatched.to_parts()).is_err());
    }

    #[test]
    fn standardising_centres_and_scales_and_leaves_flat_scores_at_zero() {
        let s: Vec<f32> = (0..21).map(|i| (i % 7) as f32 * 0.5 - 1.0).collect();
        let (scale, shift) = standardised(0.5, moments(&s));
        let z: Vec<f32> = s.iter().map(|&v| scale * v + shift).collect();
        let (zm, zsd) = moments(&z);
        assert!(zm.abs() < 1e-6 && (zsd - 0.5).abs() < 1e-6, "{zm} {zsd}");
        assert_eq!(standardised(0.5, moments(&[4.0; 3])), (0.0, 0.0));
    }

    #[test]
    fn the_fused_blend_is_the_mix_of_the_standardised_parts() {
        let x = Csr::from_triplets(
            4,
            5,
            [
                (0, 0, 1.0),
                (0, 1, 1.0),
                (1, 1, 1.0),
                (1, 2, 1.0),
                (2, 3, 1.0),
                (3, 4, 1.0),
                (3, 0, 1.0),
            ],
        )
        .unwrap();
        let seq = ItemSequences::from_timed(
            4,
            vec![
                (0, 1, 0),
                (0, 2, 1),
                (1, 1, 1),
                (1, 2, 2),
                (2, 1, 3),
                (3, 1, 4),
                (3, 2, 0),
            ],
        );
        let als = AlsParams::new(3).check().unwrap().fit(&x).unwrap();
        let t = TransitionParams::default().check().unwrap().fit(&seq, 5);
        let m = AlsTransitionModel::new(als, t, 0.4);
        let user = m.fold_in(&[(1, 1.0), (4, 0.5)]);
        let mut got = vec![0.0; 5];
        m.score_all_into(&user, &mut got);
        // The textbook form, in f64: (1 - mix) z(ALS folded in) + mix z(transitions).
        let z = |s: Vec<f32>| {
            let n = s.len() as f64;
            let mean = s.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let sd = (s
                .iter()
                .map(|&v| (f64::from(v) - mean).powi(2))
                .sum::<f64>()
                / n)
                .sqrt();
            s.iter()
                .map(|&v| (f64::from(v) - mean) / sd)
                .collect::<Vec<f64>>()
        };
        let mut base = vec![0.0; 5];
        m.base()
            .score_all_into(&m.base().fold_in(&[(1, 1.0), (4, 0.5)]), &mut base);
        let mut trans = vec![0.0; 5];
        m.transitions().score_all_into(&user, &mut trans);
        assert!(trans.iter().any(|&v| v != trans[0]), "{trans:?}");
        for (i, (b, t)) in z(base).into_iter().zip(z(trans)).enumerate() {
            let want = 0.6 * b + 0.4 * t;
            assert!(
                (f64::from(got[i]) - want).abs() < 1e-5,
                "item {i}: {got:?} vs {want}"
            );
        }
    }
}
