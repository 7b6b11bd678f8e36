//! Training: [`Spec::fit`] turns checked parameters and a [`TrainingSet`] into a [`Fitted`]
//! model, naming the data an algorithm needs but did not get ([`SpecFitError`]).

use super::{CheckedParams, Fitted, FittedModel, ItemSequences, Spec, TrainingSet};
use crate::features::ItemDoc;
use crate::model::{
    check_ratings_shape, AlsTransitionModel, CategoryPopularity, EaseTransitionModel, FitError,
    Popularity,
};

/// Training failed. User error: the data does not suit the algorithm.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecFitError {
    /// The algorithm needs a part of the [`TrainingSet`] that is absent or empty.
    #[error("{algorithm} needs {what}, and the training data has none")]
    MissingData {
        /// The algorithm.
        algorithm: &'static str,
        /// The missing part.
        what: &'static str,
    },
    /// The model rejected the data.
    #[error(transparent)]
    Fit(#[from] FitError),
}

impl Spec {
    /// Train on `data`.
    pub fn fit(&self, data: &TrainingSet) -> Result<Fitted, SpecFitError> {
        let x = &data.interactions;
        let model = match &self.checked {
            CheckedParams::Popularity => FittedModel::Popularity(Popularity::most_popular(x)),
            CheckedParams::Trending(p) => {
                if data.item_events.is_empty() && x.nnz() > 0 {
                    return Err(self.missing("interaction times (item_events)"));
                }
                FittedModel::Trending(p.fit(x.n_cols(), &data.item_events, data.now_micros))
            }
            CheckedParams::CategoryPopularity => {
                let Some(cats) = &data.item_categories else {
                    return Err(self.missing("item categories"));
                };
                FittedModel::CategoryPopularity(CategoryPopularity::fit(x, cats)?)
            }
            CheckedParams::ItemKnn(p) => FittedModel::ItemKnn(p.fit(x)),
            CheckedParams::Transition(p) => {
                FittedModel::ItemKnn(p.fit(self.sequences(data)?, data.n_items()))
            }
            CheckedParams::EaseTransition {
                ease,
                transition,
                mix,
            } => {
                let t = transition.fit(self.sequences(data)?, data.n_items());
                FittedModel::EaseTransition(EaseTransitionModel::new(ease.fit(x)?, t, *mix))
            }
            CheckedParams::AlsTransition {
                als,
                transition,
                mix,
            } => {
                let t = transition.fit(self.sequences(data)?, data.n_items());
                FittedModel::AlsTransition(AlsTransitionModel::new(als.fit(x)?, t, *mix))
            }
            CheckedParams::UserKnn(p) => FittedModel::UserKnn(p.fit(x)),
            CheckedParams::SeqKnn(p) => {
                FittedModel::SeqKnn(p.fit(self.sequences(data)?, data.n_items()))
            }
            CheckedParams::Als(p) => FittedModel::Als(p.fit(x)?),
            CheckedParams::Ease(p) => FittedModel::Ease(p.fit_rated(x, data.ratings.as_ref())?),
            CheckedParams::Bpr(p) => FittedModel::Bpr(p.fit(x)?),
            CheckedParams::Mf(p) => {
                let Some(r) = &data.ratings else {
                    return Err(self.missing("explicit ratings"));
                };
                check_ratings_shape(x, r)?;
                if r.nnz() == 0 {
                    return Err(self.missing("explicit ratings"));
                }
                FittedModel::Mf(p.fit(r))
            }
            CheckedParams::Content(p) => FittedModel::Content(p.fit(&self.item_docs(data)?)),
            CheckedParams::Hybrid { features, model } => {
                let f = features.fit(&self.item_docs(data)?);
                let users = data.user_features.as_ref();
                let m = model.fit(x, f.matrix(), users.map(|u| &u.matrix))?;
                FittedModel::Hybrid(match users {
                    Some(u) => m.with_user_encoding(u.encoding.clone())?,
                    None => m,
                })
            }
        };
        Ok(Fitted::from_parts(self.clone(), model))
    }

    /// The content of every item for the content-based models: titles, descriptions, tags and
    /// dense vectors from [`TrainingSet::item_content`] (missing entries are empty) and the category indices
    /// of [`TrainingSet::item_categories`] as labels. Either part may be absent, not both.
    fn item_docs(&self, data: &TrainingSet) -> Result<Vec<ItemDoc>, SpecFitError> {
        let (content, cats) = (data.item_content.as_ref(), data.item_categories.as_ref());
        if content.is_none() && cats.is_none() {
            return Err(self.missing("item content or item categories"));
        }
        if let Some(m) = cats.filter(|m| m.n_rows() != data.n_items()) {
            return Err(FitError::ShapeMismatch {
                what: "item_categories rows",
                expected: data.n_items(),
                got: m.n_rows(),
            }
            .into());
        }
        let text = |v: Option<&Vec<String>>, i: usize| {
            v.and_then(|v| v.get(i)).cloned().unwrap_or_default()
        };
        Ok((0..data.n_items())
            .map(|i| ItemDoc {
                title: text(content.map(|c| &c.titles), i),
                description: text(content.map(|c| &c.descriptions), i),
                tags: content
                    .and_then(|c| c.tags.get(i))
                    .cloned()
                    .unwrap_or_default(),
                categories: cats.map_or_else(Vec::new, |m| {
                    m.row(i).0.iter().map(|c| format!("category-{c}")).collect()
                }),
                attributes: Vec::new(),
                vector: content
                    .and_then(|c| c.vectors.get(i))
                    .cloned()
                    .unwrap_or_default(),
            })
            .collect())
    }

    /// Every user's item sequence, for the order-aware models.
    fn sequences<'a>(&self, data: &'a TrainingSet) -> Result<&'a ItemSequences, SpecFitError> {
        match &data.sequences {
            Some(s) if s.n_users() == data.n_users() => Ok(s),
            _ => Err(self.missing("event times (item sequences)")),
        }
    }

    fn missing(&self, what: &'static str) -> SpecFitError {
        SpecFitError::MissingData {
            algorithm: self.algorithm.name(),
            what,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::tests::{data, parse};
    use crate::model::spec::ItemContent;

    #[test]
    fn content_features_choose_text_vectors_or_both() {
        let mut t = data();
        let n = t.n_items();
        t.item_content = Some(ItemContent {
            titles: ["tea cup", "tea pot", "coffee cup", "coffee beans", "juice"]
                .iter()
                .map(|t| t.to_string())
                .collect(),
            descriptions: vec![String::new(); n],
            tags: vec![Vec::new(); n],
            vectors: (0..n).map(|i| vec![i as f32 + 1.0, 1.0]).collect(),
        });
        for (s, dim, terms) in [
            ("content", 0, true),
            ("content:features=vector", 2, false),
            ("content:features=both", 2, true),
        ] {
            let FittedModel::Content(m) = parse(s).unwrap().fit(&t).unwrap().into_parts().1 else {
                unreachable!("{s} is a content spec")
            };
            assert_eq!(m.features().vector_dim(), dim, "{s}");
            assert_eq!(!m.features().terms().is_empty(), terms, "{s}");
        }
        // The hybrid embeds the same feature columns.
        let fitted = parse("hybrid:features=vector,epochs=1").unwrap().fit(&t);
        assert!(matches!(fitted.unwrap().model(), FittedModel::Hybrid(_)));
    }

    #[test]
    fn missing_parts_are_named() {
        let bare = TrainingSet::new(data().interactions);
        for (s, what) in [
            ("content", "categories"),
            ("hybrid", "content"),
            ("mf", "ratings"),
            ("category-popularity", "categories"),
            ("trending", "times"),
            ("transition", "sequences"),
            ("ease-transition", "sequences"),
        ] {
            let e = parse(s).unwrap().fit(&bare).unwrap_err();
            assert!(e.to_string().contains(what), "{s}: {e}");
        }
    }
}
