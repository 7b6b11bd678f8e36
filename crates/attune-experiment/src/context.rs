//! The context of a contextual bandit: a user's profile attributes, one-hot encoded.
//!
//! `x = [1, onehot(a₁), …, onehot(a_m)]`: per attribute one slot per known value plus one
//! slot for anything else (no profile, no such attribute, or a value not seen when the
//! vocabulary was built). The leading 1 is common to every user, so an arm's pooled rate lives
//! in its weight and the ridge shrinks each value's *offset* from it toward 0: a value with
//! few lists starts from the pooled estimate instead of from nothing.
//!
//! The vocabulary is rebuilt at every update from the lists of the phase (the most frequent
//! values first, at most [`MAX_VALUES`] per attribute), so it follows the traffic; the
//! router encodes with the vocabulary saved alongside the state it was learned with.

use std::collections::{BTreeMap, HashMap};

use attune_core::catalog::User;
use serde::{Deserialize, Serialize};

use crate::assign::attribute;

/// Distinct values kept per attribute (the rest share the "other" slot).
pub const MAX_VALUES: usize = 16;
/// How an unknown or missing value shows in reports.
pub const OTHER: &str = "(other)";

/// Attribute values of one user, in the encoder's attribute order (`None`: missing).
pub type Raw = Vec<Option<String>>;

/// The attributes a context is made of and the values each one-hot knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextEncoder {
    /// Profile attributes, in definition order.
    pub attributes: Vec<String>,
    /// Per attribute: its known values (each has a slot; sorted).
    pub values: Vec<Vec<String>>,
}

/// The raw attribute values of `profile`.
pub fn raw(attributes: &[String], profile: Option<&User>) -> Raw {
    attributes.iter().map(|a| attribute(profile, a)).collect()
}

impl ContextEncoder {
    /// The vocabulary of `rows` (one per served list): per attribute its [`MAX_VALUES`] most
    /// frequent values (ties by value, for reproducibility).
    pub fn fit<'a>(attributes: &[String], rows: impl IntoIterator<Item = &'a Raw>) -> Self {
        let mut counts: Vec<HashMap<&str, u64>> = vec![HashMap::new(); attributes.len()];
        for row in rows {
            for (c, v) in counts.iter_mut().zip(row) {
                if let Some(v) = v {
                    *c.entry(v.as_str()).or_default() += 1;
                }
            }
        }
        let values = counts
            .into_iter()
            .map(|c| {
                let mut by: Vec<(&str, u64)> = c.into_iter().collect();
                by.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                let mut kept: Vec<String> = by
                    .into_iter()
                    .take(MAX_VALUES)
                    .map(|(v, _)| v.to_string())
                    .collect();
                kept.sort();
                kept
            })
            .collect();
        Self {
            attributes: attributes.to_vec(),
            values,
        }
    }

    /// The context dimension: the common 1 plus, per attribute, its values and "other".
    pub fn dim(&self) -> usize {
        1 + self.values.iter().map(|v| v.len() + 1).sum::<usize>()
    }

    /// Per attribute, the slot `raw` falls in (the last slot is "other").
    fn slots(&self, raw: &Raw) -> Vec<usize> {
        self.values
            .iter()
            .zip(raw)
            .map(|(known, v)| {
                v.as_ref()
                    .and_then(|v| known.binary_search(v).ok())
                    .unwrap_or(known.len())
            })
            .collect()
    }

    /// The context vector of `raw`.
    pub fn encode(&self, raw: &Raw) -> Vec<f64> {
        let mut x = vec![0.0; self.dim()];
        x[0] = 1.0;
        let mut offset = 1;
        for (known, slot) in self.values.iter().zip(self.slots(raw)) {
            x[offset + slot] = 1.0;
            offset += known.len() + 1;
        }
        x
    }

    /// The values `raw` is encoded as, by attribute (unknown ones as [`OTHER`]): two users
    /// with the same key get the same context.
    pub fn key(&self, raw: &Raw) -> BTreeMap<String, String> {
        self.attributes
            .iter()
            .zip(&self.values)
            .zip(self.slots(raw))
            .map(|((a, known), slot)| {
                let v = known.get(slot).map_or(OTHER, String::as_str);
                (a.clone(), v.to_string())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attune_core::catalog::AttrValue;

    fn user(country: &str) -> User {
        let mut u = User {
            user_id: "u".into(),
            ..User::default()
        };
        u.attributes
            .insert("country".into(), AttrValue::Text(country.into()));
        u
    }

    #[test]
    fn one_hot_with_a_common_one_and_an_other_slot() {
        let attrs = vec!["country".to_string(), "user_type".to_string()];
        let rows: Vec<Raw> = ["de", "de", "fr"]
            .iter()
            .map(|c| raw(&attrs, Some(&user(c))))
            .chain([raw(&attrs, None)])
            .collect();
        let e = ContextEncoder::fit(&attrs, &rows);
        assert_eq!(e.values, [vec!["de", "fr"], vec!["anonymous", "known"]]);
        assert_eq!(e.dim(), 1 + 3 + 3);
        assert_eq!(e.encode(&rows[0]), [1., 1., 0., 0., 0., 1., 0.]);
        assert_eq!(e.encode(&rows[3]), [1., 0., 0., 1., 1., 0., 0.]);
        let it = raw(&attrs, Some(&user("it")));
        assert_eq!(e.encode(&it), [1., 0., 0., 1., 0., 1., 0.]);
        assert_eq!(e.key(&it)["country"], OTHER);
        assert_eq!(e.key(&rows[2])["country"], "fr");
    }

    #[test]
    fn the_vocabulary_keeps_the_most_frequent_values() {
        let attrs = vec!["tier".to_string()];
        let rows: Vec<Raw> = (0..40u32)
            .flat_map(|v| std::iter::repeat_n(vec![Some(format!("t{v:02}"))], v as usize + 1))
            .collect();
        let e = ContextEncoder::fit(&attrs, &rows);
        assert_eq!(e.values[0].len(), MAX_VALUES);
        assert_eq!(e.values[0][0], "t24");
        assert_eq!(e.values[0][MAX_VALUES - 1], "t39");
    }
}
