//! [`ItemFeatures`] as model parts: the parameters, the vocabulary (string tables), the idf and
//! the item matrix, so a loaded model scores identically and vectorizes new items with the
//! same vocabulary.
//!
//! A string table is a `u8` array of the names, each followed by a NUL byte (catalog
//! validation refuses NUL in text, and tokens never contain one), with the count as a
//! parameter, so a truncated table is detected.

use std::borrow::Cow;

use super::{index, ItemFeatures, ItemTextParams};
use crate::features::text::StopWords;
use crate::model::parts::{float, int, Array, ArrayData, Param, Parts, PartsError};

fn table(names: &[String]) -> Array<'static> {
    let mut bytes = Vec::with_capacity(names.iter().map(|s| s.len() + 1).sum());
    for s in names {
        bytes.extend_from_slice(s.as_bytes());
        bytes.push(0);
    }
    Array::vector(ArrayData::U8(Cow::Owned(bytes)))
}

fn take_table(
    parts: &mut Parts<'_>,
    kind: &'static str,
    name: &'static str,
) -> Result<Vec<String>, PartsError> {
    let count_name = match name {
        "terms" => "n_terms",
        "categories" => "n_categories",
        _ => "n_attributes",
    };
    let count = parts.usize_param(kind, count_name, 0)?;
    let a = parts
        .arrays
        .remove(name)
        .ok_or_else(|| PartsError::MissingArray {
            kind,
            name: name.to_string(),
        })?;
    let shape = a.shape().to_vec();
    let bytes = match a.into_data() {
        ArrayData::U8(b) => b,
        other => {
            return Err(PartsError::WrongDType {
                kind,
                name: name.to_string(),
                expected: crate::model::parts::DType::U8,
                got: other.dtype(),
            })
        }
    };
    let bad = |expected: String| PartsError::WrongShape {
        kind,
        name: name.to_string(),
        expected,
        got: shape.clone(),
    };
    if !bytes.is_empty() && bytes.last() != Some(&0) {
        return Err(bad("NUL-terminated names".into()));
    }
    let names: Vec<String> = bytes
        .split(|&b| b == 0)
        .take(bytes.iter().filter(|&&b| b == 0).count())
        .map(|s| String::from_utf8(s.to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|_| bad("UTF-8 names".into()))?;
    if names.len() != count {
        return Err(bad(format!("{count} names ({count_name})")));
    }
    Ok(names)
}

impl ItemFeatures {
    /// Add the features to `parts` (arrays borrowed where the model owns them).
    pub(crate) fn add_parts<'a>(&'a self, parts: Parts<'a>) -> Parts<'a> {
        let p = &self.params.0;
        let mut parts = parts
            .param("min_token_len", int(p.tokenizer.min_len))
            .param(
                "stop_words",
                Param::Text(
                    match p.tokenizer.stop_words {
                        StopWords::English => "english",
                        StopWords::None => "none",
                    }
                    .into(),
                ),
            )
            .param("min_df", int(p.min_df))
            .param("max_df", Param::Float(p.max_df))
            .param("title_weight", float(p.title_weight))
            .param("tag_weight", float(p.tag_weight))
            .param("category_weight", float(p.category_weight))
            .param("attribute_weight", float(p.attribute_weight))
            .param("text_weight", float(p.text_weight))
            .param("vector_weight", float(p.vector_weight))
            .param("vector_dim", int(self.vector_dim))
            .param("n_terms", int(self.terms.len()))
            .param("n_categories", int(self.categories.len()))
            .param("n_attributes", int(self.attributes.len()))
            .f32_vector("idf", &self.idf)
            .csr("item_features", &self.matrix);
        parts.arrays.insert("terms".into(), table(&self.terms));
        parts
            .arrays
            .insert("categories".into(), table(&self.categories));
        parts
            .arrays
            .insert("attributes".into(), table(&self.attributes));
        parts
    }

    /// Rebuild features stored by [`ItemFeatures::add_parts`], checking every parameter rule
    /// and that the matrix width matches the vocabulary.
    pub(crate) fn from_parts(
        parts: &mut Parts<'_>,
        kind: &'static str,
    ) -> Result<Self, PartsError> {
        let stop_words = match parts.text_param(kind, "stop_words")? {
            "english" => StopWords::English,
            "none" => StopWords::None,
            other => {
                return Err(PartsError::BadParam {
                    kind,
                    name: "stop_words",
                    value: other.to_string(),
                    rule: "must be english or none",
                })
            }
        };
        let max_df = match parts.params.get("max_df") {
            Some(Param::Float(v)) => *v,
            Some(other) => {
                return Err(PartsError::BadParam {
                    kind,
                    name: "max_df",
                    value: other.to_string(),
                    rule: "must be a number",
                })
            }
            None => {
                return Err(PartsError::MissingParam {
                    kind,
                    name: "max_df",
                })
            }
        };
        // Files written before dense vectors existed have text only: text weight 1, no
        // vector block.
        fn optional_f32(
            parts: &Parts<'_>,
            kind: &'static str,
            name: &'static str,
            absent: f32,
        ) -> Result<f32, PartsError> {
            match parts.params.get(name) {
                None => Ok(absent),
                Some(_) => parts.f32_param(kind, name),
            }
        }
        let text_weight = optional_f32(parts, kind, "text_weight", 1.0)?;
        let vector_weight = optional_f32(parts, kind, "vector_weight", 0.0)?;
        let vector_dim = match parts.params.get("vector_dim") {
            None => 0,
            Some(_) => parts.usize_param(kind, "vector_dim", 0)?,
        };
        let params = ItemTextParams::new()
            .text_weight(text_weight)
            .vector_weight(vector_weight)
            .min_token_len(parts.usize_param(kind, "min_token_len", 0)?)
            .stop_words(stop_words)
            .min_df(parts.usize_param(kind, "min_df", 0)?)
            .max_df(max_df)
            .title_weight(parts.f32_param(kind, "title_weight")?)
            .tag_weight(parts.f32_param(kind, "tag_weight")?)
            .category_weight(parts.f32_param(kind, "category_weight")?)
            .attribute_weight(parts.f32_param(kind, "attribute_weight")?)
            .check()
            .map_err(|e| PartsError::BadParam {
                kind,
                name: e.field,
                value: e.value,
                rule: e.rule,
            })?;
        let terms = take_table(parts, kind, "terms")?;
        let categories = take_table(parts, kind, "categories")?;
        let attributes = take_table(parts, kind, "attributes")?;
        let idf = parts.take_f32_vector(kind, "idf", Some(terms.len()))?;
        let matrix = parts.take_csr(kind, "item_features", None)?;
        let width = terms.len() + categories.len() + attributes.len() + vector_dim;
        if matrix.n_cols() != width {
            return Err(PartsError::WrongShape {
                kind,
                name: "item_features".into(),
                expected: format!("{width} columns (terms + categories + attributes + vector_dim)"),
                got: vec![matrix.n_rows(), matrix.n_cols()],
            });
        }
        Ok(Self {
            params,
            term_index: index(&terms),
            category_index: index(&categories),
            attribute_index: index(&attributes),
            terms,
            idf,
            categories,
            attributes,
            vector_dim,
            matrix,
        })
    }
}
