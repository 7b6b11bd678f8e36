//! Non-personalized baselines: most popular, trending (time-decayed), popular within the user's
//! categories. They are the cold-start fallback and the bar every personalized model must clear.

use super::{normalize_history, FitError, FoldIn, ParamError, Scorer, UserRepr};
use crate::sparse::Csr;

/// A fixed score per item, the same for every user: most popular or trending.
#[derive(Debug, Clone, PartialEq)]
pub struct Popularity {
    scores: Vec<f32>,
}

impl Popularity {
    /// Most popular: the number of distinct users who interacted with each item (one
    /// enthusiastic user cannot make an item popular by repeating it).
    pub fn most_popular(data: &Csr) -> Self {
        Self {
            scores: data.col_nnz().into_iter().map(|c| c as f32).collect(),
        }
    }

    /// Adopt precomputed scores (for example trending counters maintained live).
    pub fn from_scores(scores: Vec<f32>) -> Self {
        Self { scores }
    }

    /// The score of every item.
    pub fn scores(&self) -> &[f32] {
        &self.scores
    }
}

impl Scorer for Popularity {
    fn n_items(&self) -> usize {
        self.scores.len()
    }

    fn score_into(&self, _user: &UserRepr, items: &[u32], out: &mut [f32]) {
        assert_eq!(items.len(), out.len(), "one output per candidate");
        for (o, &i) in out.iter_mut().zip(items) {
            *o = self.scores[i as usize];
        }
    }

    fn score_all_into(&self, _user: &UserRepr, out: &mut [f32]) {
        out.copy_from_slice(&self.scores);
    }
}

impl FoldIn for Popularity {
    fn fold_in(&self, _interactions: &[(u32, f32)]) -> UserRepr {
        UserRepr::Anonymous
    }
}

/// Parameters of the trending score: `Σ weight · 2^(−age / half_life)` over an item's events.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendingParams {
    half_life_micros: i64,
}

/// Checked [`TrendingParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrendingValidParams {
    half_life_micros: i64,
}

impl TrendingParams {
    /// Events lose half their weight every `half_life_micros` microseconds (a day is
    /// `86_400_000_000`).
    pub fn new(half_life_micros: i64) -> Self {
        Self { half_life_micros }
    }

    /// Validate: the half-life must be positive.
    pub fn check(self) -> Result<TrendingValidParams, ParamError> {
        if self.half_life_micros <= 0 {
            return Err(ParamError::new(
                "trending",
                "half_life",
                self.half_life_micros,
                "must be > 0 microseconds",
            ));
        }
        Ok(TrendingValidParams {
            half_life_micros: self.half_life_micros,
        })
    }
}

impl TrendingValidParams {
    /// Trending scores of `n_items` items from `(item, timestamp_micros, weight)` events, as seen
    /// at `now_micros`. Events from the future (clock skew) count as age 0, never more than
    /// their weight; events on items `>= n_items` are ignored. Accumulated in `f64`, since
    /// decay factors span many orders of magnitude.
    pub fn fit(&self, n_items: usize, events: &[(u32, i64, f32)], now_micros: i64) -> Popularity {
        let mut acc = vec![0f64; n_items];
        let hl = self.half_life_micros as f64;
        for &(item, t, w) in events {
            if let Some(a) = acc.get_mut(item as usize) {
                let age = now_micros.saturating_sub(t).max(0) as f64;
                *a += f64::from(w) * (-age / hl).exp2();
            }
        }
        Popularity {
            scores: acc.into_iter().map(|v| v as f32).collect(),
        }
    }
}

/// Popular within the user's categories: `score(i) = popularity(i) · Σ_{c ∋ i} affinity(c)`.
///
/// A user's affinity is the weight share of their history in each category (from
/// [`FoldIn::fold_in`]) or a uniform share over onboarding choices
/// ([`CategoryPopularity::for_categories`]). Items outside every preferred category score 0,
/// so a cold-start chain can fall back to trending for the rest. An anonymous user gets plain
/// popularity.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryPopularity {
    popularity: Vec<f32>,
    item_categories: Csr,
}

impl CategoryPopularity {
    /// Popularity from `data` (users x items) and category membership from `item_categories`
    /// (items x categories; values ignored). Their item counts must agree.
    pub fn fit(data: &Csr, item_categories: &Csr) -> Result<Self, FitError> {
        if item_categories.n_rows() != data.n_cols() {
            return Err(FitError::ShapeMismatch {
                what: "item_categories rows",
                expected: data.n_cols(),
                got: item_categories.n_rows(),
            });
        }
        Ok(Self {
            popularity: data.col_nnz().into_iter().map(|c| c as f32).collect(),
            item_categories: item_categories.clone(),
        })
    }

    /// Number of categories.
    pub fn n_categories(&self) -> usize {
        self.item_categories.n_cols()
    }

    /// The categories of item `item` (ascending), e.g. to say which preferred category made it
    /// popular for a user.
    pub fn item_categories(&self, item: u32) -> &[u32] {
        self.item_categories.row(item as usize).0
    }

    /// A user who chose these categories at onboarding: equal affinity for each (unknown
    /// categories ignored).
    pub fn for_categories(&self, categories: &[u32]) -> UserRepr {
        let mut aff = vec![0f32; self.n_categories()];
        let known: Vec<u32> = categories
            .iter()
            .copied()
            .filter(|&c| (c as usize) < aff.len())
            .collect();
        for &c in &known {
            aff[c as usize] = 1.0;
        }
        let n = aff.iter().filter(|&&a| a > 0.0).count();
        if n == 0 {
            return UserRepr::Anonymous;
        }
        aff.iter_mut().for_each(|a| *a /= n as f32);
        UserRepr::Dense(aff)
    }

    fn item_score(&self, aff: &[f32], i: usize) -> f32 {
        let cats = self.item_categories.row(i).0;
        let m: f32 = cats.iter().map(|&c| aff[c as usize]).sum();
        m * self.popularity[i]
    }
}

impl Scorer for CategoryPopularity {
    fn n_items(&self) -> usize {
        self.popularity.len()
    }

    fn score_into(&self, user: &UserRepr, items: &[u32], out: &mut [f32]) {
        assert_eq!(items.len(), out.len(), "one output per candidate");
        for (o, &i) in out.iter_mut().zip(items) {
            *o = match user {
                UserRepr::Dense(aff) if aff.len() == self.n_categories() => {
                    self.item_score(aff, i as usize)
                }
                UserRepr::Anonymous => self.popularity[i as usize],
                UserRepr::Dense(_) | UserRepr::Sparse(_) => 0.0,
            };
        }
    }

    fn score_all_into(&self, user: &UserRepr, out: &mut [f32]) {
        assert_eq!(out.len(), self.n_items(), "one output per item");
        for (i, o) in out.iter_mut().enumerate() {
            *o = match user {
                UserRepr::Dense(aff) if aff.len() == self.n_categories() => self.item_score(aff, i),
                UserRepr::Anonymous => self.popularity[i],
                UserRepr::Dense(_) | UserRepr::Sparse(_) => 0.0,
            };
        }
    }
}

impl FoldIn for CategoryPopularity {
    /// Weight share per category; an item in several categories gives its weight to each.
    fn fold_in(&self, interactions: &[(u32, f32)]) -> UserRepr {
        let mut aff = vec![0f32; self.n_categories()];
        for (i, w) in normalize_history(interactions, self.n_items()) {
            for &c in self.item_categories.row(i as usize).0 {
                aff[c as usize] += w.max(0.0);
            }
        }
        let total: f32 = aff.iter().sum();
        if total <= 0.0 {
            return UserRepr::Anonymous;
        }
        aff.iter_mut().for_each(|a| *a /= total);
        UserRepr::Dense(aff)
    }
}

impl super::ModelParts for Popularity {
    const KIND: &'static str = "popularity";

    fn to_parts(&self) -> super::Parts<'_> {
        super::Parts::new(Self::KIND).f32_vector("scores", &self.scores)
    }

    fn from_parts(mut parts: super::Parts<'_>) -> Result<Self, super::PartsError> {
        parts.expect_kind(Self::KIND)?;
        let scores = parts.take_f32_vector(Self::KIND, "scores", None)?;
        Ok(Self { scores })
    }
}

impl super::ModelParts for CategoryPopularity {
    const KIND: &'static str = "category-popularity";

    fn to_parts(&self) -> super::Parts<'_> {
        super::Parts::new(Self::KIND)
            .f32_vector("popularity", &self.popularity)
            .csr("item_categories", &self.item_categories)
    }

    fn from_parts(mut parts: super::Parts<'_>) -> Result<Self, super::PartsError> {
        parts.expect_kind(Self::KIND)?;
        let popularity = parts.take_f32_vector(Self::KIND, "popularity", None)?;
        let item_categories =
            parts.take_csr(Self::KIND, "item_categories", Some(popularity.len()))?;
        Ok(Self {
            popularity,
            item_categories,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::topk::top_k;

    const DAY: i64 = 86_400_000_000;

    #[test]
    fn most_popular_counts_distinct_users() {
        let data = Csr::from_triplets(
            3,
            3,
            [
                (0, 1, 5.0),
                (1, 1, 1.0),
                (2, 2, 1.0),
                (0, 2, 1.0),
                (1, 0, 9.0),
            ],
        )
        .unwrap();
        let p = Popularity::most_popular(&data);
        assert_eq!(p.scores(), &[1.0, 2.0, 2.0]);
        let mut out = vec![0.0; 3];
        p.score_all_into(&p.fold_in(&[(0, 1.0)]), &mut out);
        assert_eq!(top_k(&out, 3, &[]), vec![(1, 2.0), (2, 2.0), (0, 1.0)]);
        let mut two = [0.0; 2];
        p.score_into(&UserRepr::Anonymous, &[2, 0], &mut two);
        assert_eq!(two, [2.0, 1.0]);
    }

    #[test]
    fn trending_halves_weight_every_half_life() {
        let params = TrendingParams::new(DAY).check().unwrap();
        let now = 100 * DAY;
        let events = [
            (0, now, 1.0),
            (1, now - DAY, 4.0),
            (1, now - 2 * DAY, 4.0),
            (2, now + DAY, 1.0),
            (7, now, 1.0),
        ];
        let t = params.fit(3, &events, now);
        assert_eq!(t.scores(), &[1.0, 3.0, 1.0]);
    }

    #[test]
    fn trending_half_life_must_be_positive() {
        let err = TrendingParams::new(0).check().unwrap_err();
        assert_eq!(err.field, "half_life");
        assert!(TrendingParams::new(-5).check().is_err());
    }

    #[test]
    fn category_popularity_ranks_within_preferred_categories() {
        // Items 0,1 in category 0; items 2,3 in category 1; item 3 also in category 0.
        let cats = Csr::from_triplets(
            4,
            2,
            [
                (0, 0, 1.0),
                (1, 0, 1.0),
                (2, 1, 1.0),
                (3, 1, 1.0),
                (3, 0, 1.0),
            ],
        )
        .unwrap();
        // Popularity: item 0: 1, item 1: 3, item 2: 4, item 3: 2.
        let mut t = vec![(0, 0, 1.0)];
        for u in 0..3 {
            t.push((u, 1, 1.0));
        }
        for u in 0..4 {
            t.push((u, 2, 1.0));
        }
        t.push((0, 3, 1.0));
        t.push((1, 3, 1.0));
        let data = Csr::from_triplets(4, 4, t).unwrap();
        let m = CategoryPopularity::fit(&data, &cats).unwrap();
        let mut out = vec![0.0; 4];
        m.score_all_into(&m.for_categories(&[0, 9]), &mut out);
        assert_eq!(out, vec![1.0, 3.0, 0.0, 2.0]);
        // A history 3/4 in category 0 (item 1, weight 3) and 1/4 in category 1 (item 2).
        let user = m.fold_in(&[(1, 3.0), (2, 1.0)]);
        assert_eq!(user, UserRepr::Dense(vec![0.75, 0.25]));
        m.score_all_into(&user, &mut out);
        assert_eq!(out, vec![0.75, 2.25, 1.0, 2.0]);
        m.score_all_into(&UserRepr::Anonymous, &mut out);
        assert_eq!(out, vec![1.0, 3.0, 4.0, 2.0]);
        assert_eq!(m.for_categories(&[]), UserRepr::Anonymous);
        let wrong = Csr::empty(3, 2);
        assert!(matches!(
            CategoryPopularity::fit(&data, &wrong),
            Err(FitError::ShapeMismatch { .. })
        ));
    }
}
