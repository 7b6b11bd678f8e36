//! Item feature vectors from catalog content: TF-IDF over text plus one-hot categories and
//! attribute values, one sparse L2-normalized row per item.
//!
//! These vectors are what content-based recommendation compares ([`crate::model::content`]) and
//! what the hybrid factorization embeds ([`crate::model::hybrid`]); both work for items nobody
//! has interacted with yet, which is the point.
//!
//! # Input
//! One [`ItemDoc`] per item, indexed by the dense item index of the interaction matrix (item
//! `i` of the matrix is `docs[i]`). [`ItemDoc::from_item`] builds one from a catalog
//! [`Item`]. Items without any text are fine: they still get their category and attribute
//! columns, and an item with nothing at all gets an empty row (it scores 0 everywhere).
//!
//! # The vector of one item
//! Columns are four blocks, in this order: text terms, categories, attribute values (each
//! block sorted by name, so refits on the same catalog give the same columns), then the
//! dense vector.
//! - **Text**: every field is tokenized ([`Tokenizer`]); a term's frequency is
//!   `title_weight · (count in the title) + (count in the description) + tag_weight · (count in
//!   the tags)`. Terms kept in the vocabulary appear in at least `min_df` items and in at most a
//!   `max_df` share of them. The value is `tf · idf` with the smoothed
//!   `idf(t) = ln((1 + n) / (1 + df(t))) + 1` (scikit-learn's default, so a term in every
//!   document still counts a little and no weight is negative).
//! - **Categories**: 1 for each of the item's category labels (every level of the path, as
//!   given; all labels are kept, however rare, because category-level fallbacks need them).
//! - **Attributes**: 1 for each selected `key=value` pair seen in at least `min_df` items.
//! - **Vector**: the item's dense vector ([`ItemDoc::vector`], from the item attribute
//!   [`crate::catalog::EMBEDDING_ATTRIBUTE`]: a text embedding from `attune embed items`, or
//!   image or other features computed elsewhere), one column per dimension. The block's width
//!   is the dimension most items of the fitted catalog have (ties: the smaller); an item whose
//!   vector has another width gets no vector block.
//!
//! Each block is L2-normalized on its own and scaled by its weight (`text_weight`,
//! `category_weight`, `attribute_weight`, `vector_weight`), then the whole row is
//! L2-normalized, so the dot product of two rows is their cosine similarity and the weights
//! say how much of that similarity each kind of evidence may carry. With `text_weight = 0` the
//! text is not tokenized at all (no term columns).

mod parts;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rayon::prelude::*;

use super::text::{StopWords, Tokenizer};
use crate::catalog::{AttrValue, Item, EMBEDDING_ATTRIBUTE};
use crate::model::{check_non_negative_finite, ParamError};
use crate::sparse::Csr;

/// The content of one item, as the feature extractor reads it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ItemDoc {
    /// Title text.
    pub title: String,
    /// Description text.
    pub description: String,
    /// Free tags (each tokenized like text).
    pub tags: Vec<String>,
    /// Category labels (a path such as `["books", "sci-fi"]` gives both labels).
    pub categories: Vec<String>,
    /// Selected attributes as `(key, value)` text pairs.
    pub attributes: Vec<(String, String)>,
    /// A dense vector (empty when the item has none).
    pub vector: Vec<f32>,
}

impl ItemDoc {
    /// The content of a catalog item, keeping the attributes named in `attribute_keys`
    /// (numbers are written as integers when they are whole, booleans as `true`/`false`;
    /// vectors are no `key=value` pair and are skipped) and the vector under
    /// [`EMBEDDING_ATTRIBUTE`].
    pub fn from_item(item: &Item, attribute_keys: &[&str]) -> Self {
        let attributes = attribute_keys
            .iter()
            .filter_map(|&k| {
                let v = match item.attributes.get(k)? {
                    AttrValue::Text(s) => s.trim().to_string(),
                    AttrValue::Bool(b) => b.to_string(),
                    AttrValue::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => {
                        format!("{}", *n as i64)
                    }
                    AttrValue::Number(n) => n.to_string(),
                    AttrValue::Vector(_) => return None,
                };
                Some((k.to_string(), v))
            })
            .collect();
        Self {
            title: item.title.clone().unwrap_or_default(),
            description: item.description.clone().unwrap_or_default(),
            tags: item.tags.clone(),
            categories: item.categories.clone(),
            attributes,
            vector: match item.attributes.get(EMBEDDING_ATTRIBUTE) {
                Some(AttrValue::Vector(v)) => v.clone(),
                _ => Vec::new(),
            },
        }
    }
}

/// Parameters of the item feature extractor (unchecked). See the module docs for what each
/// weight does.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemTextParams {
    tokenizer: Tokenizer,
    min_df: usize,
    max_df: f64,
    title_weight: f32,
    tag_weight: f32,
    text_weight: f32,
    category_weight: f32,
    attribute_weight: f32,
    vector_weight: f32,
}

/// Checked [`ItemTextParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ItemTextValidParams(ItemTextParams);

impl Default for ItemTextParams {
    fn default() -> Self {
        Self::new()
    }
}

impl ItemTextParams {
    /// Defaults: tokens of 2+ characters without English stop words, `min_df = 2` (a term in
    /// one item cannot make two items similar), `max_df = 0.5` (a term in most items cannot
    /// tell them apart), `title_weight = 2`, `tag_weight = 2`, `text_weight = 1`,
    /// `category_weight = 1`, `attribute_weight = 0.5`, `vector_weight = 1` (a catalog's
    /// dense vectors, when it has them, count as much as its text).
    pub fn new() -> Self {
        Self {
            tokenizer: Tokenizer::default(),
            min_df: 2,
            max_df: 0.5,
            title_weight: 2.0,
            tag_weight: 2.0,
            text_weight: 1.0,
            category_weight: 1.0,
            attribute_weight: 0.5,
            vector_weight: 1.0,
        }
    }

    /// Shortest token kept, in characters.
    pub fn min_token_len(mut self, min_len: usize) -> Self {
        self.tokenizer.min_len = min_len;
        self
    }

    /// Stop words to drop.
    pub fn stop_words(mut self, stop_words: StopWords) -> Self {
        self.tokenizer.stop_words = stop_words;
        self
    }

    /// Fewest items a term or attribute value must appear in.
    pub fn min_df(mut self, min_df: usize) -> Self {
        self.min_df = min_df;
        self
    }

    /// Largest share of items a term may appear in, in `(0, 1]`.
    pub fn max_df(mut self, max_df: f64) -> Self {
        self.max_df = max_df;
        self
    }

    /// Term-frequency multiplier of title words (descriptions count 1).
    pub fn title_weight(mut self, w: f32) -> Self {
        self.title_weight = w;
        self
    }

    /// Term-frequency multiplier of tag words.
    pub fn tag_weight(mut self, w: f32) -> Self {
        self.tag_weight = w;
        self
    }

    /// Weight of the text block (0: no text features at all).
    pub fn text_weight(mut self, w: f32) -> Self {
        self.text_weight = w;
        self
    }

    /// Weight of the dense-vector block (0: vectors are ignored).
    pub fn vector_weight(mut self, w: f32) -> Self {
        self.vector_weight = w;
        self
    }

    /// Weight of the category block relative to the text block.
    pub fn category_weight(mut self, w: f32) -> Self {
        self.category_weight = w;
        self
    }

    /// Weight of the attribute block relative to the text block.
    pub fn attribute_weight(mut self, w: f32) -> Self {
        self.attribute_weight = w;
        self
    }

    /// Validate every field.
    pub fn check(self) -> Result<ItemTextValidParams, ParamError> {
        const A: &str = "item-text";
        if self.tokenizer.min_len == 0 {
            return Err(ParamError::new(A, "min_token_len", 0, "must be at least 1"));
        }
        if self.min_df == 0 {
            return Err(ParamError::new(A, "min_df", 0, "must be at least 1"));
        }
        if !(self.max_df.is_finite() && self.max_df > 0.0 && self.max_df <= 1.0) {
            return Err(ParamError::new(
                A,
                "max_df",
                self.max_df,
                "must be a share of items in (0, 1]",
            ));
        }
        check_non_negative_finite(A, "title_weight", self.title_weight)?;
        check_non_negative_finite(A, "tag_weight", self.tag_weight)?;
        check_non_negative_finite(A, "category_weight", self.category_weight)?;
        check_non_negative_finite(A, "attribute_weight", self.attribute_weight)?;
        check_non_negative_finite(A, "text_weight", self.text_weight)?;
        check_non_negative_finite(A, "vector_weight", self.vector_weight)?;
        Ok(ItemTextValidParams(self))
    }
}

/// What one feature column means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature<'a> {
    /// A text term.
    Term(&'a str),
    /// A category label.
    Category(&'a str),
    /// An attribute value, written `key=value`.
    Attribute(&'a str),
    /// A dimension of the dense vector.
    Vector(usize),
}

/// A document tokenized into weighted term frequencies (terms not yet filtered).
type RawTf = BTreeMap<String, f32>;

impl ItemTextValidParams {
    fn raw_tf(&self, doc: &ItemDoc) -> RawTf {
        let p = &self.0;
        let mut tf = RawTf::new();
        if p.text_weight == 0.0 {
            return tf;
        }
        let mut tokens = Vec::new();
        let fields = [
            (doc.title.as_str(), p.title_weight),
            (doc.description.as_str(), 1.0),
        ];
        let tags = doc.tags.iter().map(|t| (t.as_str(), p.tag_weight));
        for (text, w) in fields.into_iter().chain(tags) {
            if w == 0.0 {
                continue;
            }
            tokens.clear();
            p.tokenizer.tokenize_into(text, &mut tokens);
            for t in tokens.drain(..) {
                *tf.entry(t).or_insert(0.0) += w;
            }
        }
        tf
    }

    /// Learn the vocabulary, idf, category and attribute columns from `docs` (item `i` is
    /// `docs[i]`) and compute every item's row.
    pub fn fit(&self, docs: &[ItemDoc]) -> ItemFeatures {
        let p = &self.0;
        let n = docs.len();
        let raw: Vec<RawTf> = docs.par_iter().map(|d| self.raw_tf(d)).collect();
        let mut df: BTreeMap<&str, u32> = BTreeMap::new();
        for tf in &raw {
            for t in tf.keys() {
                *df.entry(t.as_str()).or_insert(0) += 1;
            }
        }
        let max_count = p.max_df * n as f64;
        let (mut terms, mut idf) = (Vec::new(), Vec::new());
        for (t, d) in df {
            if d as usize >= p.min_df && f64::from(d) <= max_count {
                terms.push(t.to_string());
                idf.push(((1.0 + n as f64) / (1.0 + f64::from(d))).ln() as f32 + 1.0);
            }
        }
        let categories: BTreeSet<&str> = docs
            .iter()
            .flat_map(|d| d.categories.iter().map(String::as_str))
            .collect();
        let mut attr_df: BTreeMap<String, usize> = BTreeMap::new();
        for d in docs {
            let pairs: BTreeSet<String> = d.attributes.iter().map(|(k, v)| pair(k, v)).collect();
            for a in pairs {
                *attr_df.entry(a).or_insert(0) += 1;
            }
        }
        let attributes: Vec<String> = attr_df
            .into_iter()
            .filter(|&(_, d)| d >= p.min_df)
            .map(|(a, _)| a)
            .collect();
        let mut f = ItemFeatures {
            params: self.clone(),
            term_index: index(&terms),
            category_index: index(categories.iter().copied()),
            attribute_index: index(&attributes),
            terms,
            idf,
            categories: categories.into_iter().map(str::to_string).collect(),
            attributes,
            vector_dim: vector_dim(docs, p.vector_weight),
            matrix: Csr::empty(0, 0),
        };
        let rows: Vec<Vec<(u32, f32)>> = docs
            .par_iter()
            .zip(raw)
            .map(|(d, tf)| f.row_of(d, &tf))
            .collect();
        let mut indptr = Vec::with_capacity(n + 1);
        indptr.push(0);
        let (mut indices, mut data) = (Vec::new(), Vec::new());
        for row in rows {
            for (c, v) in row {
                indices.push(c);
                data.push(v);
            }
            indptr.push(indices.len());
        }
        f.matrix = Csr::from_parts(n, f.n_features(), indptr, indices, data)
            .expect("feature rows are sorted, in range and finite");
        f
    }
}

/// The width of the vector block: the most common non-empty vector length (ties: the
/// smaller), 0 when no item has a vector or vectors are weighted 0.
fn vector_dim(docs: &[ItemDoc], weight: f32) -> usize {
    if weight == 0.0 {
        return 0;
    }
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    for d in docs.iter().filter(|d| !d.vector.is_empty()) {
        *counts.entry(d.vector.len()).or_insert(0) += 1;
    }
    counts
        .into_iter()
        .fold(
            (0, 0),
            |best, (len, n)| if n > best.1 { (len, n) } else { best },
        )
        .0
}

fn pair(key: &str, value: &str) -> String {
    format!("{key}={value}")
}

fn index<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> HashMap<String, u32> {
    names
        .into_iter()
        .enumerate()
        .map(|(i, s)| (s.as_ref().to_string(), i as u32))
        .collect()
}

/// Scale `block` to unit L2 norm times `weight`, in place; returns its squared norm after
/// scaling (0 for an empty or all-zero block).
fn scale_block(block: &mut [(u32, f32)], weight: f32) -> f64 {
    let norm = block
        .iter()
        .map(|e| f64::from(e.1) * f64::from(e.1))
        .sum::<f64>()
        .sqrt();
    if norm == 0.0 || weight == 0.0 {
        block.iter_mut().for_each(|e| e.1 = 0.0);
        return 0.0;
    }
    let s = f64::from(weight) / norm;
    block
        .iter_mut()
        .for_each(|e| e.1 = (f64::from(e.1) * s) as f32);
    f64::from(weight) * f64::from(weight)
}

/// Fitted item features: the vocabulary, idf, category and attribute columns, and the
/// items x features matrix (rows L2-normalized). See the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemFeatures {
    params: ItemTextValidParams,
    terms: Vec<String>,
    idf: Vec<f32>,
    categories: Vec<String>,
    attributes: Vec<String>,
    term_index: HashMap<String, u32>,
    category_index: HashMap<String, u32>,
    attribute_index: HashMap<String, u32>,
    vector_dim: usize,
    matrix: Csr,
}

impl ItemFeatures {
    fn row_of(&self, doc: &ItemDoc, tf: &RawTf) -> Vec<(u32, f32)> {
        let p = &self.params.0;
        let mut text: Vec<(u32, f32)> = tf
            .iter()
            .filter_map(|(t, &f)| {
                let c = *self.term_index.get(t)?;
                Some((c, f * self.idf[c as usize]))
            })
            .collect();
        text.sort_unstable_by_key(|e| e.0);
        let cat_base = self.terms.len() as u32;
        let mut cats: Vec<(u32, f32)> = doc
            .categories
            .iter()
            .filter_map(|c| Some((cat_base + *self.category_index.get(c)?, 1.0)))
            .collect();
        cats.sort_unstable_by_key(|e| e.0);
        cats.dedup_by_key(|e| e.0);
        let attr_base = cat_base + self.categories.len() as u32;
        let mut attrs: Vec<(u32, f32)> = doc
            .attributes
            .iter()
            .filter_map(|(k, v)| Some((attr_base + *self.attribute_index.get(&pair(k, v))?, 1.0)))
            .collect();
        attrs.sort_unstable_by_key(|e| e.0);
        attrs.dedup_by_key(|e| e.0);
        let vec_base = attr_base + self.attributes.len() as u32;
        let mut vector: Vec<(u32, f32)> = if doc.vector.len() == self.vector_dim {
            (vec_base..)
                .zip(doc.vector.iter().copied())
                .filter(|e| e.1.is_finite())
                .collect()
        } else {
            Vec::new()
        };
        let total = scale_block(&mut text, p.text_weight)
            + scale_block(&mut cats, p.category_weight)
            + scale_block(&mut attrs, p.attribute_weight)
            + scale_block(&mut vector, p.vector_weight);
        let mut row: Vec<(u32, f32)> = text
            .into_iter()
            .chain(cats)
            .chain(attrs)
            .chain(vector)
            .collect();
        if total > 0.0 {
            let s = 1.0 / total.sqrt();
            row.iter_mut()
                .for_each(|e| e.1 = (f64::from(e.1) * s) as f32);
        }
        row.retain(|e| e.1 != 0.0);
        row
    }

    /// The row of an item that was not in the fitted catalog (added since), with the fitted
    /// vocabulary: unknown terms, categories and attribute values are ignored.
    pub fn transform(&self, doc: &ItemDoc) -> Vec<(u32, f32)> {
        self.row_of(doc, &self.params.raw_tf(doc))
    }

    /// The items x features matrix (row `i` is item `i`, L2-normalized or empty).
    pub fn matrix(&self) -> &Csr {
        &self.matrix
    }

    /// Number of items.
    pub fn n_items(&self) -> usize {
        self.matrix.n_rows()
    }

    /// Number of feature columns (terms, then categories, then attribute values, then the
    /// vector's dimensions).
    pub fn n_features(&self) -> usize {
        self.terms.len() + self.categories.len() + self.attributes.len() + self.vector_dim
    }

    /// Width of the dense-vector block (0: no vectors).
    pub fn vector_dim(&self) -> usize {
        self.vector_dim
    }

    /// The vocabulary, in column order.
    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// Inverse document frequency of each term, in column order.
    pub fn idf(&self) -> &[f32] {
        &self.idf
    }

    /// Category labels, in category-index order (the category block's column order).
    pub fn categories(&self) -> &[String] {
        &self.categories
    }

    /// Category index of a label, if known.
    pub fn category_index(&self, label: &str) -> Option<u32> {
        self.category_index.get(label).copied()
    }

    /// What feature column `col` means.
    ///
    /// # Panics
    /// If `col >= n_features`.
    pub fn feature(&self, col: u32) -> Feature<'_> {
        let c = col as usize;
        let (t, k) = (self.terms.len(), self.categories.len());
        if c < t {
            Feature::Term(&self.terms[c])
        } else if c < t + k {
            Feature::Category(&self.categories[c - t])
        } else if c < t + k + self.attributes.len() {
            Feature::Attribute(&self.attributes[c - t - k])
        } else {
            assert!(c < self.n_features(), "feature column {c} out of range");
            Feature::Vector(c - t - k - self.attributes.len())
        }
    }

    /// Category membership, items x categories with value 1 (category indices as in
    /// [`ItemFeatures::categories`]): the input of [`crate::model::CategoryPopularity::fit`].
    pub fn category_matrix(&self) -> Csr {
        let (t, k) = (self.terms.len() as u32, self.categories.len() as u32);
        let mut indptr = Vec::with_capacity(self.n_items() + 1);
        indptr.push(0);
        let mut indices = Vec::new();
        for i in 0..self.n_items() {
            indices.extend(
                self.matrix
                    .row(i)
                    .0
                    .iter()
                    .filter(|&&c| c >= t && c < t + k)
                    .map(|&c| c - t),
            );
            indptr.push(indices.len());
        }
        let data = vec![1.0; indices.len()];
        Csr::from_parts(self.n_items(), k as usize, indptr, indices, data)
            .expect("category columns are sorted and in range")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(title: &str, description: &str) -> ItemDoc {
        ItemDoc {
            title: title.into(),
            description: description.into(),
            ..ItemDoc::default()
        }
    }

    fn plain() -> ItemTextParams {
        ItemTextParams::new()
            .min_df(1)
            .max_df(1.0)
            .title_weight(1.0)
            .stop_words(StopWords::None)
            .min_token_len(1)
    }

    #[test]
    fn tfidf_matches_hand_computation_on_three_documents() {
        // d0 = "apple banana apple", d1 = "banana cherry", d2 = "cherry cherry date".
        let docs = [
            doc("apple banana", "apple"),
            doc("", "banana cherry"),
            doc("cherry", "cherry date"),
        ];
        let f = plain().check().unwrap().fit(&docs);
        assert_eq!(f.terms(), &["apple", "banana", "cherry", "date"]);
        let idf = |df: f64| ((1.0 + 3.0) / (1.0 + df)).ln() + 1.0;
        let (i1, i2) = (idf(1.0), idf(2.0)); // apple, date: df 1; banana, cherry: df 2
        for (got, want) in f.idf().iter().zip([i1, i2, i2, i1]) {
            assert!((f64::from(*got) - want).abs() < 1e-6);
        }
        let expect = |raw: &[(u32, f64)]| {
            let n = raw.iter().map(|e| e.1 * e.1).sum::<f64>().sqrt();
            raw.iter().map(|&(c, v)| (c, v / n)).collect::<Vec<_>>()
        };
        let want = [
            expect(&[(0, 2.0 * i1), (1, i2)]),
            expect(&[(1, i2), (2, i2)]),
            expect(&[(2, 2.0 * i2), (3, i1)]),
        ];
        for (r, want) in want.iter().enumerate() {
            let (cols, vals) = f.matrix().row(r);
            assert_eq!(cols, want.iter().map(|e| e.0).collect::<Vec<_>>());
            for (got, w) in vals.iter().zip(want) {
                assert!(
                    (f64::from(*got) - w.1).abs() < 1e-6,
                    "row {r}: {got} vs {}",
                    w.1
                );
            }
        }
        // Rows 0 and 1 share only banana: cosine = (i2/|d0|)(i2/|d1|).
        let cos = i2 * i2 / ((4.0 * i1 * i1 + i2 * i2).sqrt() * (2.0 * i2 * i2).sqrt());
        let dense = |r: usize| {
            let mut d = [0f64; 4];
            let (cols, vals) = f.matrix().row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                d[c as usize] = f64::from(v);
            }
            d
        };
        let dot: f64 = dense(0).iter().zip(dense(1)).map(|(a, b)| a * b).sum();
        assert!((dot - cos).abs() < 1e-6);
    }

    #[test]
    fn the_vector_block_takes_the_most_common_width_and_new_items_use_it() {
        let with = |x: &[f32]| ItemDoc {
            vector: x.to_vec(),
            ..doc("tea", "")
        };
        let docs = [
            with(&[3.0, 4.0]),
            with(&[0.0, 2.0]),
            with(&[1.0, 1.0, 1.0]), // another width: no vector block
            with(&[]),
        ];
        let f = plain().text_weight(0.0).check().unwrap().fit(&docs);
        assert_eq!((f.vector_dim(), f.n_features()), (2, 2));
        assert!(f.terms().is_empty());
        assert_eq!(f.feature(1), Feature::Vector(1));
        let (cols, vals) = f.matrix().row(0);
        assert_eq!(cols, &[0, 1]);
        assert!((vals[0] - 0.6).abs() < 1e-6 && (vals[1] - 0.8).abs() < 1e-6);
        assert!(f.matrix().row(2).0.is_empty() && f.matrix().row(3).0.is_empty());
        assert_eq!(f.transform(&with(&[0.0, -5.0])), vec![(1, -1.0)]);
        assert!(f.transform(&with(&[1.0])).is_empty());
        // Weighted 0, vectors are ignored whatever the catalog has.
        let f = plain().vector_weight(0.0).check().unwrap().fit(&docs);
        assert_eq!(f.vector_dim(), 0);
        assert!(plain().vector_weight(-1.0).check().is_err());
        assert!(plain().text_weight(f32::NAN).check().is_err());
    }

    #[test]
    fn from_item_reads_the_embedding_attribute() {
        let mut it = Item::new("a");
        it.attributes.insert(
            EMBEDDING_ATTRIBUTE.into(),
            AttrValue::Vector(vec![0.5, 0.5]),
        );
        it.attributes
            .insert("brand".into(), AttrValue::Text("Orbit".into()));
        let d = ItemDoc::from_item(&it, &["brand", EMBEDDING_ATTRIBUTE]);
        assert_eq!(d.vector, vec![0.5, 0.5]);
        assert_eq!(d.attributes, vec![("brand".into(), "Orbit".into())]);
    }

    #[test]
    fn min_df_and_max_df_filter_the_vocabulary() {
        let docs = [
            doc("common rare", ""),
            doc("common shared", ""),
            doc("common shared", ""),
            doc("common other", ""),
        ];
        let f = plain().min_df(2).max_df(0.75).check().unwrap().fit(&docs);
        // common: 4/4 > 0.75; rare, other: df 1 < 2; shared: df 2 kept.
        assert_eq!(f.terms(), &["shared"]);
        assert!(f.matrix().row(0).0.is_empty());
    }

    #[test]
    fn field_weights_multiply_term_frequency() {
        let docs = [
            ItemDoc {
                title: "tea".into(),
                description: "pot".into(),
                tags: vec!["pot".into()],
                ..ItemDoc::default()
            },
            doc("tea", "pot"),
        ];
        let f = plain()
            .title_weight(3.0)
            .tag_weight(2.0)
            .check()
            .unwrap()
            .fit(&docs);
        // Same idf for both terms; tf(pot) = 1 + 2 = 3, tf(tea) = 3 → equal weights.
        let (_, v) = f.matrix().row(0);
        assert!((v[0] - v[1]).abs() < 1e-6);
        let (_, v) = f.matrix().row(1);
        assert!((v[1] / v[0] - 3.0).abs() < 1e-5); // tea 3, pot 1
    }

    #[test]
    fn categories_and_attributes_are_weighted_blocks() {
        let docs = [
            ItemDoc {
                categories: vec!["books".into(), "sci-fi".into()],
                attributes: vec![("brand".into(), "Orbit".into())],
                ..doc("dune", "")
            },
            ItemDoc {
                categories: vec!["books".into()],
                attributes: vec![("brand".into(), "Orbit".into())],
                ..doc("dune", "")
            },
            ItemDoc {
                categories: vec!["music".into()],
                attributes: vec![("brand".into(), "Solo".into())],
                ..ItemDoc::default()
            },
        ];
        let f = plain()
            .min_df(2)
            .category_weight(2.0)
            .attribute_weight(1.0)
            .check()
            .unwrap()
            .fit(&docs);
        assert_eq!(f.terms(), &["dune"]);
        assert_eq!(f.categories(), &["books", "music", "sci-fi"]);
        assert_eq!(f.n_features(), 1 + 3 + 1); // brand=Solo is in one item only
        assert_eq!(f.feature(4), Feature::Attribute("brand=Orbit"));
        assert_eq!(f.feature(2), Feature::Category("music"));
        // Item 0: text 1, categories 2/√2 each, attribute 1; total norm √(1 + 4 + 1) = √6.
        let (cols, vals) = f.matrix().row(0);
        assert_eq!(cols, &[0, 1, 3, 4]);
        let s6 = 6f32.sqrt();
        let want = [1.0 / s6, 2f32.sqrt() / s6, 2f32.sqrt() / s6, 1.0 / s6];
        for (g, w) in vals.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
        // An item without text still has its category column.
        assert_eq!(f.matrix().row(2), (&[2u32][..], &[1.0f32][..]));
        let cm = f.category_matrix();
        assert_eq!(cm.to_dense(), vec![1., 0., 1., 1., 0., 0., 0., 1., 0.]);
        assert_eq!(f.category_index("music"), Some(1));
    }

    #[test]
    fn transform_of_a_fitted_item_equals_its_row_and_ignores_unknowns() {
        let docs = [
            doc("red tea", "hot"),
            doc("green tea", "hot"),
            doc("red wine", ""),
        ];
        let f = plain().check().unwrap().fit(&docs);
        for (i, d) in docs.iter().enumerate() {
            let (cols, vals) = f.matrix().row(i);
            let row: Vec<(u32, f32)> = cols.iter().copied().zip(vals.iter().copied()).collect();
            assert_eq!(f.transform(d), row);
        }
        assert!(f.transform(&doc("purple", "")).is_empty());
    }

    #[test]
    fn from_item_reads_text_categories_and_selected_attributes() {
        let mut item = Item::new("sku-1");
        item.title = Some("Dune".into());
        item.categories = vec!["books".into()];
        item.attributes
            .insert("year".into(), AttrValue::Number(1965.0));
        item.attributes
            .insert("price".into(), AttrValue::Number(9.5));
        item.attributes
            .insert("brand".into(), AttrValue::Text(" Ace ".into()));
        let d = ItemDoc::from_item(&item, &["year", "brand", "missing", "price"]);
        assert_eq!(d.title, "Dune");
        assert_eq!(d.description, "");
        assert_eq!(
            d.attributes,
            vec![
                ("year".into(), "1965".into()),
                ("brand".into(), "Ace".into()),
                ("price".into(), "9.5".into())
            ]
        );
    }

    #[test]
    fn every_param_rule_names_its_field() {
        let f = |p: ItemTextParams| p.check().unwrap_err().field;
        assert_eq!(f(ItemTextParams::new().min_df(0)), "min_df");
        assert_eq!(f(ItemTextParams::new().max_df(0.0)), "max_df");
        assert_eq!(f(ItemTextParams::new().max_df(1.5)), "max_df");
        assert_eq!(f(ItemTextParams::new().min_token_len(0)), "min_token_len");
        assert_eq!(f(ItemTextParams::new().title_weight(-1.0)), "title_weight");
        assert_eq!(f(ItemTextParams::new().tag_weight(f32::NAN)), "tag_weight");
        assert_eq!(
            f(ItemTextParams::new().category_weight(-0.1)),
            "category_weight"
        );
        assert_eq!(
            f(ItemTextParams::new().attribute_weight(f32::INFINITY)),
            "attribute_weight"
        );
    }

    #[test]
    fn rows_are_unit_length_or_empty() {
        let docs: Vec<ItemDoc> = (0..30)
            .map(|i| ItemDoc {
                categories: vec![format!("c{}", i % 3)],
                ..doc(&format!("w{} w{}", i % 5, i % 7), &format!("x{}", i % 4))
            })
            .collect();
        let f = ItemTextParams::new().check().unwrap().fit(&docs);
        for r in 0..docs.len() {
            let n: f32 = f.matrix().row(r).1.iter().map(|v| v * v).sum();
            assert!((n - 1.0).abs() < 1e-5);
        }
    }
}
