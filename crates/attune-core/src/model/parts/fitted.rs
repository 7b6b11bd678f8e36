//! Parts of a [`FittedModel`] of any algorithm: the dispatch the artifact writer and reader use.

use super::{ModelParts, Parts, PartsError};
use crate::model::spec::{Algorithm, FittedModel};
use crate::model::{
    AlsModel, AlsTransitionModel, BiasedMfModel, BprModel, CategoryPopularity, ContentModel,
    EaseModel, EaseTransitionModel, HybridModel, ItemKnnModel, Popularity, SeqKnnModel,
    UserKnnModel,
};

impl FittedModel {
    /// The model as parts (arrays borrowed). Trending is stored as the `popularity` scores it
    /// computed; the spec's algorithm tells them apart on load.
    pub fn to_parts(&self) -> Parts<'_> {
        match self {
            FittedModel::Popularity(m) | FittedModel::Trending(m) => m.to_parts(),
            FittedModel::CategoryPopularity(m) => m.to_parts(),
            FittedModel::ItemKnn(m) => m.to_parts(),
            FittedModel::UserKnn(m) => m.to_parts(),
            FittedModel::Als(m) => m.to_parts(),
            FittedModel::Ease(m) => m.to_parts(),
            FittedModel::EaseTransition(m) => m.to_parts(),
            FittedModel::AlsTransition(m) => m.to_parts(),
            FittedModel::SeqKnn(m) => m.to_parts(),
            FittedModel::Bpr(m) => m.to_parts(),
            FittedModel::Mf(m) => m.to_parts(),
            FittedModel::Content(m) => m.to_parts(),
            FittedModel::Hybrid(m) => m.to_parts(),
        }
    }

    /// Rebuild the model `algorithm` trained from `parts` (the kind must match the algorithm).
    pub fn from_parts(algorithm: Algorithm, parts: Parts<'_>) -> Result<Self, PartsError> {
        Ok(match algorithm {
            Algorithm::Popularity => FittedModel::Popularity(Popularity::from_parts(parts)?),
            Algorithm::Trending => FittedModel::Trending(Popularity::from_parts(parts)?),
            Algorithm::CategoryPopularity => {
                FittedModel::CategoryPopularity(CategoryPopularity::from_parts(parts)?)
            }
            Algorithm::ItemKnn | Algorithm::Transition => {
                FittedModel::ItemKnn(ItemKnnModel::from_parts(parts)?)
            }
            Algorithm::UserKnn => FittedModel::UserKnn(UserKnnModel::from_parts(parts)?),
            Algorithm::Als => FittedModel::Als(AlsModel::from_parts(parts)?),
            Algorithm::Ease => FittedModel::Ease(EaseModel::from_parts(parts)?),
            Algorithm::EaseTransition => {
                FittedModel::EaseTransition(EaseTransitionModel::from_parts(parts)?)
            }
            Algorithm::SeqKnn => FittedModel::SeqKnn(SeqKnnModel::from_parts(parts)?),
            Algorithm::AlsTransition => {
                FittedModel::AlsTransition(AlsTransitionModel::from_parts(parts)?)
            }
            Algorithm::Bpr => FittedModel::Bpr(BprModel::from_parts(parts)?),
            Algorithm::Mf => FittedModel::Mf(BiasedMfModel::from_parts(parts)?),
            Algorithm::Content => FittedModel::Content(ContentModel::from_parts(parts)?),
            Algorithm::Hybrid => FittedModel::Hybrid(HybridModel::from_parts(parts)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::model::spec::{Algorithm, FittedModel, Spec, TrainingSet};
    use crate::model::testdata::taste_matrix;
    use crate::model::PartsError;

    #[test]
    fn every_algorithm_round_trips_through_parts() {
        let x = taste_matrix(40, 30, 3, 6, 9);
        let mut data = TrainingSet::new(x.clone());
        data.ratings = Some(x.clone());
        data.item_categories = Some(
            crate::sparse::Csr::from_triplets(30, 4, (0..30u32).map(|i| (i, i % 4, 1.0))).unwrap(),
        );
        data.item_events = (0..30u32).map(|i| (i, i64::from(i) * 1000, 1.0)).collect();
        data.now_micros = 40_000;
        data.sequences = Some(crate::model::spec::ItemSequences::from_timed(
            x.n_rows(),
            (0..x.n_rows() as u32)
                .flat_map(|u| {
                    x.row(u as usize)
                        .0
                        .iter()
                        .map(move |&i| (u, i64::from(i), i))
                })
                .collect(),
        ));
        for algorithm in Algorithm::ALL {
            let spec: Spec = match algorithm {
                Algorithm::Als | Algorithm::Bpr | Algorithm::Mf => {
                    format!("{}:factors=4", algorithm.name()).parse().unwrap()
                }
                _ => Spec::default_for(algorithm),
            };
            let fitted = spec.fit(&data).unwrap();
            let parts = fitted.model().to_parts();
            let back = FittedModel::from_parts(algorithm, parts.clone()).unwrap();
            assert_eq!(back.to_parts(), parts, "{algorithm}");
        }
        // Parts of one kind are refused for another algorithm.
        let pop = Spec::default_for(Algorithm::Popularity).fit(&data).unwrap();
        let err = FittedModel::from_parts(Algorithm::Ease, pop.model().to_parts()).unwrap_err();
        assert!(matches!(err, PartsError::WrongKind { .. }), "{err}");
    }
}
