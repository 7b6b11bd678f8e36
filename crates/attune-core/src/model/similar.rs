//! "More like this": the items most similar to one item, for models that have an item-item
//! notion of similarity.
//!
//! - item-kNN: the item's stored neighbours, most similar first;
//! - EASE: the item's row of `B` (how much interacting with it raises each other item);
//! - ALS, BPR, biased MF, hybrid: cosine of item factors;
//! - content: cosine of the items' content vectors (positive similarities only).
//!
//! The popularity family and user-kNN have no item-item similarity: they are an error that
//! names the algorithms that do ([`SimilarError::Unsupported`]).

use super::linalg::dot;
use super::spec::FittedModel;
use super::topk::top_k;

/// Algorithms [`similar_items`] supports, for error messages.
pub const SUPPORTED: &str = "item-knn, ease, als, bpr, mf, content, hybrid";

/// Similar items cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimilarError {
    /// The model has no item-item similarity.
    #[error(
        "{algorithm} models have no item-item similarity; similar items need one of: {SUPPORTED}"
    )]
    Unsupported {
        /// The model's algorithm.
        algorithm: &'static str,
    },
    /// The item index is outside the model.
    #[error("item index {item} is outside the model's {n_items} items")]
    UnknownItem {
        /// The index asked for.
        item: u32,
        /// Items in the model.
        n_items: usize,
    },
}

/// Up to `n` items most similar to `item` (never `item` itself), most similar first; ties by
/// item index. Only positive similarities for item-kNN (it stores no others).
pub fn similar_items(
    model: &FittedModel,
    item: u32,
    n: usize,
) -> Result<Vec<(u32, f32)>, SimilarError> {
    let n_items = model.as_recommender().n_items();
    if item as usize >= n_items {
        return Err(SimilarError::UnknownItem { item, n_items });
    }
    let unsupported = |algorithm| Err(SimilarError::Unsupported { algorithm });
    Ok(match model {
        FittedModel::ItemKnn(m) => {
            let (js, sims) = m.similar(item);
            let mut v: Vec<(u32, f32)> = js
                .iter()
                .copied()
                .zip(sims.iter().copied())
                .filter(|&(j, _)| j != item)
                .collect();
            v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            v.truncate(n);
            v
        }
        FittedModel::EaseTransition(b) => {
            let m = b.base();
            let row = &m.weights()[item as usize * n_items..(item as usize + 1) * n_items];
            top_k(row, n, &[item])
        }
        FittedModel::Ease(m) => {
            let row = &m.weights()[item as usize * n_items..(item as usize + 1) * n_items];
            top_k(row, n, &[item])
        }
        FittedModel::Als(m) => m
            .similar_items(&[item], n)
            .into_iter()
            .next()
            .unwrap_or_default(),
        FittedModel::AlsTransition(b) => b
            .base()
            .similar_items(&[item], n)
            .into_iter()
            .next()
            .unwrap_or_default(),
        FittedModel::Bpr(m) => cosine(|i| m.item_factors(i), n_items, item, n),
        FittedModel::Mf(m) => cosine(|i| m.item_factors(i), n_items, item, n),
        FittedModel::Content(m) => m.similar_items(item, n),
        FittedModel::Hybrid(m) => cosine(|i| m.item_factors(i), n_items, item, n),
        FittedModel::Popularity(_) => return unsupported("popularity"),
        FittedModel::Trending(_) => return unsupported("trending"),
        FittedModel::CategoryPopularity(_) => return unsupported("category-popularity"),
        FittedModel::UserKnn(_) => return unsupported("user-knn"),
        FittedModel::SeqKnn(_) => return unsupported("seq-knn"),
    })
}

/// Cosine between the factors of `item` and every item; zero vectors have similarity 0.
fn cosine<'a>(
    factors: impl Fn(u32) -> &'a [f32],
    n_items: usize,
    item: u32,
    n: usize,
) -> Vec<(u32, f32)> {
    let q = factors(item);
    let qn = dot(q, q).sqrt();
    let sims: Vec<f32> = (0..n_items as u32)
        .map(|j| {
            let y = factors(j);
            let d = qn * dot(y, y).sqrt();
            if d > 0.0 {
                dot(q, y) / d
            } else {
                0.0
            }
        })
        .collect();
    top_k(&sims, n, &[item])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::{Spec, TrainingSet};
    use crate::model::testdata::taste_matrix;

    /// Items `i` and `j` share a taste group when `i % 3 == j % 3` (see `taste_matrix`).
    fn data() -> TrainingSet {
        let x = taste_matrix(90, 30, 3, 8, 4);
        let mut t = TrainingSet::new(x.clone());
        t.ratings = Some(x);
        t
    }

    #[test]
    fn item_item_and_factor_models_find_the_same_taste_group() {
        let data = data();
        for spec in [
            "item-knn",
            "ease:lambda=100",
            "als:factors=6,iterations=8,seed=1",
            "bpr:factors=6,epochs=60,seed=1,learning_rate=0.05",
        ] {
            let fitted = spec.parse::<Spec>().unwrap().fit(&data).unwrap();
            let sims = similar_items(fitted.model(), 0, 5).unwrap();
            assert_eq!(sims.len(), 5, "{spec}");
            assert!(sims.iter().all(|&(j, _)| j != 0), "{spec}: {sims:?}");
            assert!(
                sims.windows(2).all(|w| w[0].1 >= w[1].1),
                "{spec}: not sorted {sims:?}"
            );
            let same = sims.iter().filter(|&&(j, _)| j % 3 == 0).count();
            assert!(same >= 4, "{spec}: {sims:?}");
        }
    }

    #[test]
    fn mf_similarity_is_cosine_of_item_factors() {
        let fitted = "mf:factors=4,epochs=5"
            .parse::<Spec>()
            .unwrap()
            .fit(&data())
            .unwrap();
        let FittedModel::Mf(m) = fitted.model() else {
            unreachable!()
        };
        let sims = similar_items(fitted.model(), 2, 3).unwrap();
        let (a, b) = (m.item_factors(2), m.item_factors(sims[0].0));
        let want = dot(a, b) / (dot(a, a).sqrt() * dot(b, b).sqrt());
        assert!((sims[0].1 - want).abs() < 1e-6);
    }

    #[test]
    fn models_without_item_similarity_are_named() {
        let fitted = Spec::default_for(crate::model::spec::Algorithm::Popularity)
            .fit(&data())
            .unwrap();
        let err = similar_items(fitted.model(), 0, 5).unwrap_err();
        assert_eq!(
            err,
            SimilarError::Unsupported {
                algorithm: "popularity"
            }
        );
        assert!(err.to_string().contains("item-knn, ease, als"), "{err}");
        let knn = "item-knn".parse::<Spec>().unwrap().fit(&data()).unwrap();
        assert!(matches!(
            similar_items(knn.model(), 30, 5),
            Err(SimilarError::UnknownItem { .. })
        ));
    }
}
