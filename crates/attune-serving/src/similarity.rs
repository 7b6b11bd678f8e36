//! Item-to-item similarity of a loaded model, for explanations ("because you viewed X": the
//! history item most like the recommended one) and diversity re-ranking.
//!
//! Each model family has its own natural notion: the cosine of item factors for factor models
//! (ALS, BPR, biased MF, hybrid), the learned item-item weight for EASE, the stored neighbour
//! similarity for item-kNN, and otherwise the cosine of the items' training-user sets (for
//! `seq-knn`, of its sampled sets).

use attune_core::eval::beyond::ItemCosine;
use attune_core::model::spec::FittedModel;
use attune_core::model::Scorer as _;
use attune_core::sparse::Csr;

/// How two items of one model are compared.
pub enum ItemSimilarity {
    /// Row-normalized item factors (`k` per item).
    Factors {
        /// `n_items · k` unit vectors (zero rows stay zero).
        unit: Vec<f32>,
        /// Factors per item.
        k: usize,
    },
    /// EASE's item-item weights, read from the model.
    Ease,
    /// Item-kNN's neighbour lists, read from the model.
    Knn,
    /// Co-occurrence cosine over training users.
    Cooccurrence(ItemCosine),
}

fn unit_rows(rows: impl Iterator<Item = Vec<f32>>, k: usize) -> Vec<f32> {
    let mut out = Vec::new();
    for mut r in rows {
        let norm = r.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            r.iter_mut().for_each(|x| *x /= norm);
        }
        debug_assert_eq!(r.len(), k);
        out.extend(r);
    }
    out
}

impl ItemSimilarity {
    /// The similarity suited to `model`; `history` (users x items) is the training data.
    pub fn for_model(model: &FittedModel, history: &Csr) -> Self {
        let n = model.as_recommender().n_items() as u32;
        let factors = |k: usize, f: &dyn Fn(u32) -> Vec<f32>| Self::Factors {
            unit: unit_rows((0..n).map(f), k),
            k,
        };
        match model {
            FittedModel::Als(m) => factors(m.factors(), &|i| m.item_factors(i).to_vec()),
            FittedModel::AlsTransition(b) => {
                let m = b.base();
                factors(m.factors(), &|i| m.item_factors(i).to_vec())
            }
            FittedModel::Bpr(m) => {
                let k = m.item_factors(0).len();
                factors(k, &|i| m.item_factors(i).to_vec())
            }
            FittedModel::Mf(m) => {
                let k = m.item_factors(0).len();
                factors(k, &|i| m.item_factors(i).to_vec())
            }
            FittedModel::Hybrid(m) => {
                let k = m.item_factors(0).len();
                factors(k, &|i| m.item_factors(i).to_vec())
            }
            FittedModel::Ease(_) | FittedModel::EaseTransition(_) => Self::Ease,
            FittedModel::ItemKnn(_) => Self::Knn,
            // The model's own sampled item → users index: the same co-occurrence cosine over
            // at most `sample` users per item, so an explanation costs a few thousand steps
            // instead of merging a popular item's whole user list per history item.
            FittedModel::SeqKnn(m) => {
                Self::Cooccurrence(ItemCosine::from_item_major(m.item_index()))
            }
            _ => Self::Cooccurrence(ItemCosine::new(history)),
        }
    }

    /// The unit item factors (`n_items · k`) and `k`, for factor models.
    pub fn unit_factors(&self) -> Option<(&[f32], usize)> {
        match self {
            Self::Factors { unit, k } => Some((unit, *k)),
            _ => None,
        }
    }

    /// `sim(from[c], to[r])` for every pair, row-major (`to.len()` rows of `from.len()`): what
    /// explaining a list needs (its picks against the same recent history). Co-occurrence
    /// computes it in one pass over the involved user lists ([`ItemCosine::table`]); the other
    /// families are a lookup or a short dot product per pair already.
    pub fn table(&self, model: &FittedModel, from: &[u32], to: &[u32]) -> Vec<f32> {
        match self {
            Self::Cooccurrence(c) => c.table(from, to),
            _ => to
                .iter()
                .flat_map(|&b| from.iter().map(move |&a| self.sim(model, a, b)))
                .collect(),
        }
    }

    /// Similarity of `a` and `b` (higher is more alike; 0 when unknown).
    pub fn sim(&self, model: &FittedModel, a: u32, b: u32) -> f32 {
        match (self, model) {
            (Self::Factors { unit, k }, _) => {
                let (a, b) = (a as usize * k, b as usize * k);
                match (unit.get(a..a + k), unit.get(b..b + k)) {
                    (Some(x), Some(y)) => x.iter().zip(y).map(|(p, q)| p * q).sum(),
                    _ => 0.0,
                }
            }
            (Self::Ease, FittedModel::Ease(_) | FittedModel::EaseTransition(_)) => {
                let m = match model {
                    FittedModel::EaseTransition(b) => b.base(),
                    FittedModel::Ease(m) => m,
                    _ => unreachable!("matched above"),
                };
                let n = m.n_items();
                let w = m.weights();
                // B[a][b] is a's contribution to b's score; use the larger direction.
                let ab = w.get(a as usize * n + b as usize).copied().unwrap_or(0.0);
                let ba = w.get(b as usize * n + a as usize).copied().unwrap_or(0.0);
                ab.max(ba)
            }
            (Self::Knn, FittedModel::ItemKnn(m)) => {
                let lookup = |x: u32, y: u32| {
                    if x as usize >= m.n_items() {
                        return 0.0;
                    }
                    let (js, sims) = m.similar(x);
                    js.binary_search(&y).map_or(0.0, |p| sims[p])
                };
                lookup(a, b).max(lookup(b, a))
            }
            (Self::Cooccurrence(c), _) => c.sim(a, b),
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attune_core::model::spec::{ItemSequences, Spec, TrainingSet};

    /// Items 0-2 always together, 3-5 always together.
    fn data() -> Csr {
        let mut t = Vec::new();
        for u in 0..20u32 {
            let base = if u % 2 == 0 { 0 } else { 3 };
            for j in 0..3 {
                t.push((u, base + j, 1.0));
            }
        }
        Csr::from_triplets(20, 6, t).unwrap()
    }

    #[test]
    fn every_family_ranks_co_consumed_items_as_more_alike() {
        let d = data();
        for spec in [
            "als:factors=4,alpha=10,reg=0.1,iterations=10",
            "ease:lambda=1",
            "item-knn:neighbours=5",
            "popularity",
            "seq-knn:sample=5",
            "als-transition:factors=4,alpha=10,reg=0.1,iterations=10",
        ] {
            let spec: Spec = spec.parse().unwrap();
            let mut t = TrainingSet::new(d.clone());
            let timed = (0..d.n_rows()).flat_map(|u| {
                let items = d.row(u).0.to_vec();
                items.into_iter().map(move |i| (u as u32, i64::from(i), i))
            });
            t.sequences = Some(ItemSequences::from_timed(d.n_rows(), timed.collect()));
            let fitted = spec.fit(&t).unwrap();
            let model = fitted.model();
            let s = ItemSimilarity::for_model(model, &d);
            let (same, other) = (s.sim(model, 0, 1), s.sim(model, 0, 4));
            assert!(
                same > other,
                "{spec}: same group {same}, other group {other}"
            );
            assert_eq!(s.sim(model, 0, 99), 0.0, "{spec}: unknown item");
            let (from, to) = ([0, 4, 99, 2], [1, 5, 99]);
            let pairwise: Vec<f32> = to
                .iter()
                .flat_map(|&b| from.iter().map(move |&a| (a, b)))
                .map(|(a, b)| s.sim(model, a, b))
                .collect();
            assert_eq!(s.table(model, &from, &to), pairwise, "{spec}: table");
        }
    }
}
