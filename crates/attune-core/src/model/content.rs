//! Content-based recommendation: a user's profile is the weighted mean of the feature vectors of
//! the items they engaged with, and items are ranked by cosine similarity to that profile.
//!
//! It needs no interactions to train, only item content ([`crate::features::item_text`]), so it
//! ranks items nobody has touched yet as well as old ones: the cold-item half of cold start.
//! What it cannot know is quality or popularity: two items with the same words score the same.
//!
//! Scoring one user is a sparse-dense product: the profile is accumulated densely over the
//! feature columns (O(features of the history)), then each item row is dotted with it
//! (O(non-zeros of the item matrix) for the whole catalog).

use super::topk::top_k_into;
use super::{normalize_history, FoldIn, ParamError, Scorer, UserRepr};
use crate::features::{ItemDoc, ItemFeatures, ItemTextParams, ItemTextValidParams};
use crate::sparse::Csr;

/// Content model parameters (unchecked): the item feature extraction.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContentParams {
    features: ItemTextParams,
}

/// Checked [`ContentParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ContentValidParams {
    features: ItemTextValidParams,
}

impl ContentParams {
    /// Default feature extraction ([`ItemTextParams::new`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// How item content becomes vectors.
    pub fn features(mut self, features: ItemTextParams) -> Self {
        self.features = features;
        self
    }

    /// Validate every field.
    pub fn check(self) -> Result<ContentValidParams, ParamError> {
        Ok(ContentValidParams {
            features: self.features.check()?,
        })
    }
}

impl ContentValidParams {
    /// Vectorize the catalog: `docs[i]` is the content of item `i`.
    pub fn fit(&self, docs: &[ItemDoc]) -> ContentModel {
        ContentModel::from_features(self.features.fit(docs))
    }
}

/// A content-based model over fitted item features.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentModel {
    features: ItemFeatures,
}

/// Sparse row dot a dense vector.
#[inline]
fn sparse_dot(cols: &[u32], vals: &[f32], dense: &[f32]) -> f32 {
    cols.iter()
        .zip(vals)
        .map(|(&c, &v)| v * dense[c as usize])
        .sum()
}

/// Dot product of two sparse rows with sorted columns (a merge).
pub(crate) fn sparse_sparse_dot(a: (&[u32], &[f32]), b: (&[u32], &[f32])) -> f32 {
    let (mut i, mut j, mut s) = (0, 0, 0f32);
    while i < a.0.len() && j < b.0.len() {
        match a.0[i].cmp(&b.0[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                s += a.1[i] * b.1[j];
                i += 1;
                j += 1;
            }
        }
    }
    s
}

impl ContentModel {
    /// Adopt features fitted elsewhere (for example shared with a hybrid model).
    pub fn from_features(features: ItemFeatures) -> Self {
        Self { features }
    }

    /// The item features.
    pub fn features(&self) -> &ItemFeatures {
        &self.features
    }

    fn matrix(&self) -> &Csr {
        self.features.matrix()
    }

    /// The unit-length profile of a history (positive weights only), dense over the feature
    /// columns, or `None` when it is empty or has no features. Weighted mean, then
    /// L2-normalized: the mean fixes the direction, the norm only rescales every score alike.
    pub fn profile(&self, history: &[(u32, f32)]) -> Option<Vec<f32>> {
        let m = self.matrix();
        let mut p = vec![0f32; m.n_cols()];
        let mut total = 0f64;
        for (i, w) in normalize_history(history, m.n_rows()) {
            if w <= 0.0 {
                continue;
            }
            total += f64::from(w);
            let (cols, vals) = m.row(i as usize);
            for (&c, &v) in cols.iter().zip(vals) {
                p[c as usize] += w * v;
            }
        }
        if total <= 0.0 {
            return None;
        }
        let norm = p.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
        if norm == 0.0 {
            return None;
        }
        let s = (1.0 / norm) as f32;
        p.iter_mut().for_each(|v| *v *= s);
        Some(p)
    }

    /// The profile a representation stands for: a history's profile, or a dense vector of
    /// feature width taken as a profile (normalized here). `None` scores 0 everywhere.
    fn profile_of(&self, user: &UserRepr) -> Option<Vec<f32>> {
        match user {
            UserRepr::Sparse(h) => self.profile(h),
            UserRepr::Dense(v) if v.len() == self.matrix().n_cols() => {
                let norm = v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
                (norm > 0.0 && norm.is_finite())
                    .then(|| v.iter().map(|&x| (f64::from(x) / norm) as f32).collect())
            }
            UserRepr::Dense(_) | UserRepr::Anonymous => None,
        }
    }

    /// Cosine similarity of items `a` and `b` (rows are unit length; 0 when either is empty).
    pub fn similarity(&self, a: u32, b: u32) -> f32 {
        let m = self.matrix();
        sparse_sparse_dot(m.row(a as usize), m.row(b as usize))
    }

    /// The `n` items most similar to item `item` by cosine, best first, excluding itself and
    /// items with similarity 0 or less.
    pub fn similar_items(&self, item: u32, n: usize) -> Vec<(u32, f32)> {
        let m = self.matrix();
        let mut dense = vec![0f32; m.n_cols()];
        let (cols, vals) = m.row(item as usize);
        for (&c, &v) in cols.iter().zip(vals) {
            dense[c as usize] = v;
        }
        let scores: Vec<f32> = (0..m.n_rows())
            .map(|j| {
                let (c, v) = m.row(j);
                let s = sparse_dot(c, v, &dense);
                if s > 0.0 {
                    s
                } else {
                    f32::NAN
                }
            })
            .collect();
        let mut out = Vec::new();
        top_k_into(&scores, n, &[item], &mut out);
        out
    }

    /// The history item most similar to `item` and their cosine, for "similar to Y"
    /// explanations (`item` itself and non-positive similarities are skipped; ties go to the
    /// lower item index).
    pub fn most_similar_in(&self, history: &[(u32, f32)], item: u32) -> Option<(u32, f32)> {
        let m = self.matrix();
        let target = m.row(item as usize);
        normalize_history(history, m.n_rows())
            .into_iter()
            .filter(|&(j, w)| j != item && w > 0.0)
            .map(|(j, _)| (j, sparse_sparse_dot(target, m.row(j as usize))))
            .filter(|e| e.1 > 0.0)
            .fold(None, |best: Option<(u32, f32)>, e| match best {
                Some(b) if b.1 >= e.1 => Some(b),
                _ => Some(e),
            })
    }
}

impl Scorer for ContentModel {
    fn n_items(&self) -> usize {
        self.matrix().n_rows()
    }

    fn score_into(&self, user: &UserRepr, items: &[u32], out: &mut [f32]) {
        assert_eq!(items.len(), out.len(), "one output per candidate");
        let Some(p) = self.profile_of(user) else {
            out.fill(0.0);
            return;
        };
        let m = self.matrix();
        for (o, &i) in out.iter_mut().zip(items) {
            let (c, v) = m.row(i as usize);
            *o = sparse_dot(c, v, &p);
        }
    }

    fn score_all_into(&self, user: &UserRepr, out: &mut [f32]) {
        assert_eq!(out.len(), self.n_items(), "one output per item");
        let Some(p) = self.profile_of(user) else {
            out.fill(0.0);
            return;
        };
        let m = self.matrix();
        for (i, o) in out.iter_mut().enumerate() {
            let (c, v) = m.row(i);
            *o = sparse_dot(c, v, &p);
        }
    }
}

impl FoldIn for ContentModel {
    /// The history itself (positive weights, sorted, summed), so scoring can build the profile
    /// and explanations can name the history item behind a recommendation; `Anonymous` when
    /// nothing positive is left.
    fn fold_in(&self, interactions: &[(u32, f32)]) -> UserRepr {
        let h: Vec<(u32, f32)> = normalize_history(interactions, self.n_items())
            .into_iter()
            .filter(|e| e.1 > 0.0)
            .collect();
        if h.is_empty() {
            UserRepr::Anonymous
        } else {
            UserRepr::Sparse(h)
        }
    }
}

impl super::ModelParts for ContentModel {
    const KIND: &'static str = "content";

    fn to_parts(&self) -> super::Parts<'_> {
        self.features.add_parts(super::Parts::new(Self::KIND))
    }

    fn from_parts(mut parts: super::Parts<'_>) -> Result<Self, super::PartsError> {
        parts.expect_kind(Self::KIND)?;
        Ok(Self::from_features(ItemFeatures::from_parts(
            &mut parts,
            Self::KIND,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::StopWords;
    use proptest::prelude::*;

    fn doc(title: &str, categories: &[&str]) -> ItemDoc {
        ItemDoc {
            title: title.into(),
            categories: categories.iter().map(|c| c.to_string()).collect(),
            ..ItemDoc::default()
        }
    }

    fn model(docs: &[ItemDoc]) -> ContentModel {
        let features = ItemTextParams::new()
            .min_df(1)
            .max_df(1.0)
            .stop_words(StopWords::None);
        ContentParams::new()
            .features(features)
            .check()
            .unwrap()
            .fit(docs)
    }

    fn catalog() -> Vec<ItemDoc> {
        vec![
            doc("green tea leaves", &["tea"]),
            doc("black tea bags", &["tea"]),
            doc("espresso coffee beans", &["coffee"]),
            doc("coffee grinder", &["coffee"]),
            doc("", &["tea"]),
            doc("", &[]),
        ]
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
        dot / (na * nb)
    }

    fn dense_row(m: &ContentModel, i: usize) -> Vec<f32> {
        let mut d = vec![0f32; m.features().n_features()];
        let (c, v) = m.features().matrix().row(i);
        for (&c, &v) in c.iter().zip(v) {
            d[c as usize] = v;
        }
        d
    }

    #[test]
    fn profile_is_the_normalized_weighted_mean() {
        let m = model(&catalog());
        let p = m.profile(&[(0, 3.0), (2, 1.0), (0, -5.0)]).unwrap();
        // (0, 3.0) and (0, -5.0) sum to -2: item 0 drops out, only item 2 is left.
        let want = dense_row(&m, 2);
        assert!(p.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-6));
        let p = m.profile(&[(0, 3.0), (2, 1.0)]).unwrap();
        let (r0, r2) = (dense_row(&m, 0), dense_row(&m, 2));
        let mean: Vec<f32> = r0
            .iter()
            .zip(&r2)
            .map(|(a, b)| 0.75 * a + 0.25 * b)
            .collect();
        let norm = mean.iter().map(|x| x * x).sum::<f32>().sqrt();
        for (g, w) in p.iter().zip(&mean) {
            assert!((g - w / norm).abs() < 1e-6);
        }
        assert_eq!(m.profile(&[]), None);
        assert_eq!(m.profile(&[(5, 1.0)]), None); // an item without features
    }

    #[test]
    fn scores_are_cosines_and_cover_items_without_text() {
        let m = model(&catalog());
        let user = m.fold_in(&[(0, 1.0), (1, 1.0)]);
        assert_eq!(user, UserRepr::Sparse(vec![(0, 1.0), (1, 1.0)]));
        let mut scores = vec![0f32; 6];
        m.score_all_into(&user, &mut scores);
        let p = m.profile(&[(0, 1.0), (1, 1.0)]).unwrap();
        for (i, s) in scores.iter().enumerate() {
            let want = if i == 5 {
                0.0
            } else {
                cosine(&p, &dense_row(&m, i))
            };
            assert!((s - want).abs() < 1e-6, "item {i}: {s} vs {want}");
        }
        // The text-less tea item (4) shares the category and outranks every coffee item.
        assert!(scores[4] > 0.0 && scores[4] > scores[2] && scores[4] > scores[3]);
        let mut two = [0f32; 2];
        m.score_into(&user, &[3, 4], &mut two);
        assert_eq!(two, [scores[3], scores[4]]);
        m.score_all_into(&UserRepr::Anonymous, &mut scores);
        assert!(scores.iter().all(|&s| s == 0.0));
        assert_eq!(m.fold_in(&[(9, 1.0), (1, 0.0)]), UserRepr::Anonymous);
    }

    #[test]
    fn similar_items_rank_by_cosine_and_skip_the_item() {
        let m = model(&catalog());
        let sim = m.similar_items(2, 10);
        assert_eq!(sim[0].0, 3); // the other coffee item
        assert!(sim.iter().all(|e| e.0 != 2 && e.1 > 0.0));
        assert!(sim.iter().all(|e| e.0 == 3)); // nothing else shares a feature
        assert!((sim[0].1 - m.similarity(2, 3)).abs() < 1e-6);
        assert!((m.similarity(2, 2) - 1.0).abs() < 1e-6);
        assert_eq!(
            m.most_similar_in(&[(2, 1.0), (0, 1.0)], 3),
            Some((2, sim[0].1))
        );
        assert_eq!(m.most_similar_in(&[(3, 1.0)], 3), None);
    }

    #[test]
    fn a_dense_profile_of_feature_width_scores_like_a_history() {
        let m = model(&catalog());
        let p = m.profile(&[(2, 1.0)]).unwrap();
        let (mut a, mut b) = (vec![0f32; 6], vec![0f32; 6]);
        m.score_all_into(
            &UserRepr::Dense(p.iter().map(|x| 2.0 * x).collect()),
            &mut a,
        );
        m.score_all_into(&UserRepr::Sparse(vec![(2, 1.0)]), &mut b);
        assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-6));
    }

    #[test]
    fn parts_round_trip_scores_and_vectorizes_identically() {
        use crate::model::ModelParts;
        let m = model(&catalog());
        let back = ContentModel::from_parts(m.to_parts()).unwrap();
        assert_eq!(back, m);
        let new_item = doc("green coffee", &["tea"]);
        assert_eq!(
            back.features().transform(&new_item),
            m.features().transform(&new_item)
        );
        let mut parts = m.to_parts();
        parts
            .params
            .insert("n_terms".into(), crate::model::Param::Int(1));
        assert!(ContentModel::from_parts(parts).is_err());
    }

    /// Items whose text says nothing (one shared title) and whose dense vectors differ.
    fn vector_catalog() -> Vec<ItemDoc> {
        let v = |x: &[f32]| ItemDoc {
            title: "item".into(),
            vector: x.to_vec(),
            ..ItemDoc::default()
        };
        vec![
            v(&[1.0, 0.1, 0.0]),
            v(&[0.0, 1.0, 0.0]),
            v(&[0.0, 0.0, 1.0]),
            v(&[0.9, 0.2, 0.05]), // no interactions needed: close to item 0
            v(&[]),               // no vector
        ]
    }

    #[test]
    fn dense_vectors_rank_the_item_closest_to_the_history_first() {
        let features = ItemTextParams::new()
            .min_df(1)
            .max_df(1.0)
            .text_weight(0.0)
            .category_weight(0.0)
            .vector_weight(1.0);
        let m = ContentParams::new()
            .features(features)
            .check()
            .unwrap()
            .fit(&vector_catalog());
        assert_eq!(m.features().vector_dim(), 3);
        assert_eq!(m.features().n_features(), 3); // text weighted 0: not even tokenized
        let user = m.fold_in(&[(0, 1.0)]);
        let mut scores = vec![0f32; 5];
        m.score_all_into(&user, &mut scores);
        let mut ranked = Vec::new();
        top_k_into(&scores, 5, &[0], &mut ranked);
        assert_eq!(ranked[0].0, 3, "{scores:?}");
        assert_eq!(scores[4], 0.0);
        let want = cosine(&[1.0, 0.1, 0.0], &[0.9, 0.2, 0.05]);
        assert!((scores[3] - want).abs() < 1e-6, "{} vs {want}", scores[3]);
        assert_eq!(m.similar_items(0, 1)[0].0, 3);
        assert_eq!(m.most_similar_in(&[(1, 1.0), (0, 1.0)], 3).unwrap().0, 0);
    }

    #[test]
    fn text_and_vectors_together_weigh_both() {
        // Items 0 and 1 share words; items 0 and 2 share a vector direction.
        let mut docs = vec![
            doc("green tea", &[]),
            doc("green tea", &[]),
            doc("espresso", &[]),
        ];
        docs[0].vector = vec![1.0, 0.0];
        docs[1].vector = vec![0.0, 1.0];
        docs[2].vector = vec![1.0, 0.0];
        let fit = |w: f32| {
            let f = ItemTextParams::new()
                .min_df(1)
                .max_df(1.0)
                .stop_words(StopWords::None)
                .vector_weight(w);
            ContentParams::new().features(f).check().unwrap().fit(&docs)
        };
        let text_only = fit(0.0);
        assert_eq!(text_only.features().vector_dim(), 0);
        assert!(text_only.similarity(0, 1) > 0.99 && text_only.similarity(0, 2) == 0.0);
        let both = fit(1.0);
        // Each block carries half of the squared norm: cosine 0.5 through either.
        assert!((both.similarity(0, 1) - 0.5).abs() < 1e-6);
        assert!((both.similarity(0, 2) - 0.5).abs() < 1e-6);
        assert!((both.similarity(0, 0) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn parts_keep_the_vector_block_and_older_files_read_as_text_only() {
        use crate::model::ModelParts;
        let f = ItemTextParams::new()
            .min_df(1)
            .max_df(1.0)
            .stop_words(StopWords::None);
        let m = ContentParams::new()
            .features(f)
            .check()
            .unwrap()
            .fit(&vector_catalog());
        assert_eq!(m.features().vector_dim(), 3);
        let back = ContentModel::from_parts(m.to_parts()).unwrap();
        assert_eq!(back, m);
        let new_item = ItemDoc {
            vector: vec![0.0, 0.0, 2.0],
            ..doc("item", &[])
        };
        assert_eq!(
            back.features().transform(&new_item),
            m.features().transform(&new_item)
        );
        // A file from before dense vectors: no vector parameters, text-only matrix.
        let text = model(&catalog());
        let mut parts = text.to_parts();
        for k in ["text_weight", "vector_weight", "vector_dim"] {
            assert!(parts.params.remove(k).is_some(), "{k}");
        }
        let old = ContentModel::from_parts(parts).unwrap();
        assert_eq!(old.features().vector_dim(), 0);
        assert_eq!(old.features().matrix(), text.features().matrix());
        // A vector width that disagrees with the matrix is refused.
        let mut parts = m.to_parts();
        parts
            .params
            .insert("vector_dim".into(), crate::model::Param::Int(4));
        assert!(ContentModel::from_parts(parts).is_err());
    }

    proptest! {
        #[test]
        fn scores_equal_cosine_of_profile_and_row(
            history in prop::collection::vec((0u32..6, 0.1f32..5.0), 1..6),
        ) {
            let m = model(&catalog());
            let mut scores = vec![0f32; 6];
            m.score_all_into(&m.fold_in(&history), &mut scores);
            // Oracle: the dense weighted mean.
            let mut mean = vec![0f32; m.features().n_features()];
            for &(i, w) in &history {
                for (a, b) in mean.iter_mut().zip(dense_row(&m, i as usize)) {
                    *a += w * b;
                }
            }
            for (i, s) in scores.iter().enumerate() {
                let r = dense_row(&m, i);
                let zero = r.iter().all(|&x| x == 0.0) || mean.iter().all(|&x| x == 0.0);
                let want = if zero { 0.0 } else { cosine(&mean, &r) };
                prop_assert!((s - want).abs() < 1e-5, "item {}: {} vs {}", i, s, want);
            }
        }
    }
}
