//! Fitted models: [`FittedModel`] (the concrete model of any algorithm), [`TrainedModel`]
//! (what every fitted model offers beyond scoring) and [`Fitted`] (a model with the spec it was
//! trained with), so serving can hold any algorithm behind one type.

use std::any::Any;

use super::{Algorithm, Feedback, ParamValue, Spec};
use crate::model::{
    AlsModel, AlsTransitionModel, BiasedMfModel, BprModel, CategoryPopularity, ContentModel,
    EaseModel, EaseTransitionModel, FoldIn, HybridModel, ItemKnnModel, Popularity, Recommender,
    Scorer, SeqKnnModel, UserKnnModel, UserRepr,
};

/// A fitted model of any algorithm. Concrete types stay reachable (serialization, model-specific
/// calls such as similar items).
#[derive(Debug, Clone)]
pub enum FittedModel {
    /// Most popular.
    Popularity(Popularity),
    /// Trending scores.
    Trending(Popularity),
    /// Popular within categories.
    CategoryPopularity(CategoryPopularity),
    /// Item-kNN.
    ItemKnn(ItemKnnModel),
    /// User-kNN.
    UserKnn(UserKnnModel),
    /// ALS.
    Als(AlsModel),
    /// EASE.
    Ease(EaseModel),
    /// EASE blended with transitions.
    EaseTransition(EaseTransitionModel),
    /// Sequence-aware user-kNN.
    SeqKnn(SeqKnnModel),
    /// ALS blended with transitions.
    AlsTransition(AlsTransitionModel),
    /// BPR.
    Bpr(BprModel),
    /// Biased MF.
    Mf(BiasedMfModel),
    /// Content-based.
    Content(ContentModel),
    /// Hybrid factorization.
    Hybrid(HybridModel),
}

impl FittedModel {
    /// The model as a [`Recommender`].
    pub fn as_recommender(&self) -> &(dyn Recommender + Send + Sync) {
        match self {
            FittedModel::Popularity(m) | FittedModel::Trending(m) => m,
            FittedModel::CategoryPopularity(m) => m,
            FittedModel::ItemKnn(m) => m,
            FittedModel::UserKnn(m) => m,
            FittedModel::Als(m) => m,
            FittedModel::Ease(m) => m,
            FittedModel::EaseTransition(m) => m,
            FittedModel::AlsTransition(m) => m,
            FittedModel::SeqKnn(m) => m,
            FittedModel::Bpr(m) => m,
            FittedModel::Mf(m) => m,
            FittedModel::Content(m) => m,
            FittedModel::Hybrid(m) => m,
        }
    }
}

/// What every fitted model offers beyond scoring: its spec, the feedback it reads, rating
/// prediction for explicit models, and a downcast to the concrete type.
pub trait TrainedModel: Recommender + Send + Sync {
    /// The spec it was trained with (canonical, with every parameter).
    fn spec(&self) -> &Spec;

    /// The algorithm.
    fn algorithm(&self) -> Algorithm {
        self.spec().algorithm()
    }

    /// Every parameter with its value.
    fn params(&self) -> Vec<(&'static str, ParamValue)> {
        self.spec().params()
    }

    /// Which matrix a user's history for [`FoldIn`] comes from.
    fn feedback(&self) -> Feedback {
        self.algorithm().feedback()
    }

    /// Predicted rating of training user `user` for `item`, for explicit-feedback models
    /// (`None` otherwise). Users or items unseen in training get the baseline.
    fn predict_rating(&self, user: u32, item: u32) -> Option<f32>;

    /// For downcasting to the concrete type.
    fn as_any(&self) -> &dyn Any;
}

/// A model fitted by [`Spec::fit`].
#[derive(Debug, Clone)]
pub struct Fitted {
    spec: Spec,
    model: FittedModel,
}

impl Fitted {
    /// Pair a spec with a model built elsewhere (for example loaded from an artifact). The
    /// caller guarantees the model was trained with this spec.
    pub fn from_parts(spec: Spec, model: FittedModel) -> Self {
        Self { spec, model }
    }

    /// The concrete model.
    pub fn model(&self) -> &FittedModel {
        &self.model
    }

    /// Take the spec and the concrete model.
    pub fn into_parts(self) -> (Spec, FittedModel) {
        (self.spec, self.model)
    }
}

impl Scorer for Fitted {
    fn n_items(&self) -> usize {
        self.model.as_recommender().n_items()
    }

    fn score_into(&self, user: &UserRepr, items: &[u32], out: &mut [f32]) {
        self.model.as_recommender().score_into(user, items, out);
    }

    fn score_all_into(&self, user: &UserRepr, out: &mut [f32]) {
        self.model.as_recommender().score_all_into(user, out);
    }

    fn dense_item_factors(&self) -> Option<(&[f32], usize)> {
        self.model.as_recommender().dense_item_factors()
    }
}

impl FoldIn for Fitted {
    fn fold_in(&self, interactions: &[(u32, f32)]) -> UserRepr {
        self.model.as_recommender().fold_in(interactions)
    }
}

impl TrainedModel for Fitted {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn predict_rating(&self, user: u32, item: u32) -> Option<f32> {
        match &self.model {
            FittedModel::Mf(m) => Some(m.predict(user, item)),
            _ => None,
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::tests::{data, parse};

    #[test]
    fn fitted_model_exposes_the_concrete_type() {
        let m = parse("ease:lambda=1").unwrap().fit(&data()).unwrap();
        assert!(matches!(m.model(), FittedModel::Ease(_)));
        let (spec, _model) = m.into_parts();
        assert_eq!(spec.algorithm(), Algorithm::Ease);
    }
}
