//! Categorical encoding: one-hot with an explicit vocabulary, ordinal with an explicit order.
//!
//! The vocabulary is a fitted parameter stored with the model, never re-derived at serving time:
//! a category that first appears after training must not silently shift every column.

use std::collections::{BTreeMap, HashMap};

use super::FeatureError;

/// Name of the extra column [`UnknownPolicy::Bucket`] adds.
pub const UNKNOWN_COLUMN: &str = "__unknown__";

/// What a one-hot encoder does with a category outside its vocabulary, or a missing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownPolicy {
    /// Fail, naming the row: for columns whose values are controlled (an enum in the app).
    Error,
    /// Encode as all zeros: "none of the known categories".
    Ignore,
    /// Encode into one extra trailing column ([`UNKNOWN_COLUMN`]), so a model can learn a
    /// weight for "something new".
    Bucket,
}

fn index_of(vocabulary: &[String]) -> Result<HashMap<String, usize>, FeatureError> {
    if vocabulary.is_empty() {
        return Err(FeatureError::EmptyVocabulary);
    }
    let mut index = HashMap::with_capacity(vocabulary.len());
    for (i, v) in vocabulary.iter().enumerate() {
        if index.insert(v.clone(), i).is_some() {
            return Err(FeatureError::DuplicateCategory { value: v.clone() });
        }
    }
    Ok(index)
}

/// One-hot encoding over a fixed vocabulary.
#[derive(Debug, Clone, PartialEq)]
pub struct OneHotEncoder {
    vocabulary: Vec<String>,
    index: HashMap<String, usize>,
    unknown: UnknownPolicy,
}

impl OneHotEncoder {
    /// An encoder over `vocabulary`, in the given column order.
    pub fn new(vocabulary: Vec<String>, unknown: UnknownPolicy) -> Result<Self, FeatureError> {
        let index = index_of(&vocabulary)?;
        Ok(Self {
            vocabulary,
            index,
            unknown,
        })
    }

    /// Learn the vocabulary from a column: categories seen at least `min_count` times, in
    /// lexicographic order (stable across refits, unlike frequency order). Rare categories then
    /// fall under the unknown policy, which keeps the width bounded on long-tailed columns.
    pub fn fit(
        values: &[Option<&str>],
        min_count: u64,
        unknown: UnknownPolicy,
    ) -> Result<Self, FeatureError> {
        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        for v in values.iter().flatten() {
            *counts.entry(v).or_insert(0) += 1;
        }
        let vocabulary = counts
            .into_iter()
            .filter(|&(_, c)| c >= min_count)
            .map(|(v, _)| v.to_string())
            .collect();
        Self::new(vocabulary, unknown)
    }

    /// The known categories, in column order.
    pub fn vocabulary(&self) -> &[String] {
        &self.vocabulary
    }

    /// The unknown policy.
    pub fn unknown_policy(&self) -> UnknownPolicy {
        self.unknown
    }

    /// Number of output columns (the vocabulary, plus one under [`UnknownPolicy::Bucket`]).
    pub fn width(&self) -> usize {
        self.vocabulary.len() + usize::from(self.unknown == UnknownPolicy::Bucket)
    }

    /// Output column names: each category, then [`UNKNOWN_COLUMN`] under `Bucket`.
    pub fn column_names(&self) -> Vec<String> {
        let mut names = self.vocabulary.clone();
        if self.unknown == UnknownPolicy::Bucket {
            names.push(UNKNOWN_COLUMN.to_string());
        }
        names
    }

    /// The hot column for the value at position `row` (`None`: all zeros).
    pub fn hot_column(
        &self,
        row: usize,
        value: Option<&str>,
    ) -> Result<Option<usize>, FeatureError> {
        if let Some(&i) = value.and_then(|v| self.index.get(v)) {
            return Ok(Some(i));
        }
        match (self.unknown, value) {
            (UnknownPolicy::Error, None) => Err(FeatureError::MissingCategory { row }),
            (UnknownPolicy::Error, Some(v)) => Err(FeatureError::UnknownCategory {
                row,
                value: v.to_string(),
                known: self.vocabulary.len(),
            }),
            (UnknownPolicy::Ignore, _) => Ok(None),
            (UnknownPolicy::Bucket, _) => Ok(Some(self.vocabulary.len())),
        }
    }

    /// The hot column of every value: a sparse encoding, one entry per row.
    pub fn hot_columns(&self, values: &[Option<&str>]) -> Result<Vec<Option<usize>>, FeatureError> {
        values
            .iter()
            .enumerate()
            .map(|(row, v)| self.hot_column(row, *v))
            .collect()
    }

    /// Dense row-major encoding: `values.len() × width()` zeros and ones.
    pub fn transform(&self, values: &[Option<&str>]) -> Result<Vec<f64>, FeatureError> {
        let width = self.width();
        let mut out = vec![0.0; values.len() * width];
        for (row, v) in values.iter().enumerate() {
            if let Some(col) = self.hot_column(row, *v)? {
                out[row * width + col] = 1.0;
            }
        }
        Ok(out)
    }
}

/// What an ordinal encoder does with a category outside its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrdinalUnknown {
    /// Fail, naming the row.
    Error,
    /// Treat it as missing (`None`), for an imputer to fill.
    Missing,
}

/// Ordinal encoding: the position of the category in a given order (`free` < `plus` <
/// `premium` → 0, 1, 2).
///
/// For categories with a real order only; for unordered ones the invented distances mislead a
/// model, use [`OneHotEncoder`].
#[derive(Debug, Clone, PartialEq)]
pub struct OrdinalEncoder {
    order: Vec<String>,
    index: HashMap<String, usize>,
    unknown: OrdinalUnknown,
}

impl OrdinalEncoder {
    /// An encoder for categories in `order`, lowest first.
    pub fn new(order: Vec<String>, unknown: OrdinalUnknown) -> Result<Self, FeatureError> {
        let index = index_of(&order)?;
        Ok(Self {
            order,
            index,
            unknown,
        })
    }

    /// The order, lowest first.
    pub fn order(&self) -> &[String] {
        &self.order
    }

    /// Encode a column; missing values stay missing.
    pub fn transform(&self, values: &[Option<&str>]) -> Result<Vec<Option<f64>>, FeatureError> {
        let mut out = Vec::with_capacity(values.len());
        for (row, v) in values.iter().enumerate() {
            out.push(match v {
                None => None,
                Some(v) => match (self.index.get(*v), self.unknown) {
                    (Some(&i), _) => Some(i as f64),
                    (None, OrdinalUnknown::Missing) => None,
                    (None, OrdinalUnknown::Error) => {
                        return Err(FeatureError::UnknownCategory {
                            row,
                            value: (*v).to_string(),
                            known: self.order.len(),
                        })
                    }
                },
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devices() -> Vec<Option<&'static str>> {
        vec![
            Some("mobile"),
            Some("desktop"),
            None,
            Some("mobile"),
            Some("smart-tv"),
            Some("tablet"),
        ]
    }

    fn vocab(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_hot_with_explicit_vocabulary_and_each_unknown_policy() {
        let v = vocab(&["mobile", "desktop", "tablet"]);
        let ignore = OneHotEncoder::new(v.clone(), UnknownPolicy::Ignore).unwrap();
        assert_eq!(ignore.width(), 3);
        assert_eq!(
            ignore.hot_columns(&devices()).unwrap(),
            vec![Some(0), Some(1), None, Some(0), None, Some(2)]
        );
        let dense = ignore.transform(&devices()[..3]).unwrap();
        assert_eq!(dense, vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);

        let bucket = OneHotEncoder::new(v.clone(), UnknownPolicy::Bucket).unwrap();
        assert_eq!(
            bucket.column_names(),
            vocab(&["mobile", "desktop", "tablet", UNKNOWN_COLUMN])
        );
        assert_eq!(
            bucket.hot_columns(&devices()).unwrap(),
            vec![Some(0), Some(1), Some(3), Some(0), Some(3), Some(2)]
        );

        let strict = OneHotEncoder::new(v, UnknownPolicy::Error).unwrap();
        assert_eq!(
            strict.hot_columns(&devices()),
            Err(FeatureError::MissingCategory { row: 2 })
        );
        let err = strict
            .hot_columns(&[Some("mobile"), Some("smart-tv")])
            .unwrap_err();
        assert_eq!(
            err,
            FeatureError::UnknownCategory {
                row: 1,
                value: "smart-tv".into(),
                known: 3
            }
        );
    }

    #[test]
    fn fitted_vocabulary_is_sorted_and_drops_rare_categories() {
        let enc = OneHotEncoder::fit(&devices(), 1, UnknownPolicy::Ignore).unwrap();
        assert_eq!(
            enc.vocabulary(),
            &vocab(&["desktop", "mobile", "smart-tv", "tablet"])[..]
        );
        let frequent = OneHotEncoder::fit(&devices(), 2, UnknownPolicy::Bucket).unwrap();
        assert_eq!(frequent.vocabulary(), &vocab(&["mobile"])[..]);
        assert_eq!(frequent.hot_column(0, Some("tablet")).unwrap(), Some(1));
        assert_eq!(
            OneHotEncoder::fit(&[None], 1, UnknownPolicy::Ignore),
            Err(FeatureError::EmptyVocabulary)
        );
    }

    #[test]
    fn vocabulary_must_be_unique() {
        let err = OneHotEncoder::new(vocab(&["a", "b", "a"]), UnknownPolicy::Ignore).unwrap_err();
        assert_eq!(err, FeatureError::DuplicateCategory { value: "a".into() });
        assert!(OrdinalEncoder::new(vocab(&["x", "x"]), OrdinalUnknown::Missing).is_err());
    }

    #[test]
    fn ordinal_follows_the_given_order() {
        let tiers =
            OrdinalEncoder::new(vocab(&["free", "plus", "premium"]), OrdinalUnknown::Missing)
                .unwrap();
        let col = [
            Some("premium"),
            Some("free"),
            None,
            Some("enterprise"),
            Some("plus"),
        ];
        assert_eq!(
            tiers.transform(&col).unwrap(),
            vec![Some(2.0), Some(0.0), None, None, Some(1.0)]
        );
        let strict = OrdinalEncoder::new(tiers.order().to_vec(), OrdinalUnknown::Error).unwrap();
        assert!(matches!(
            strict.transform(&col),
            Err(FeatureError::UnknownCategory { row: 3, .. })
        ));
    }
}
