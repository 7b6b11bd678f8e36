//! Items (the catalog) and users (profiles, onboarding preferences, consent).

use std::collections::BTreeMap;

use crate::error::{FieldError, ValidationError};
use crate::event::{check_id, check_text};
use crate::limits::{check_map_names, name_problem, InputLimits};

/// A free-form attribute value on an item or user.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// true / false.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    Text(String),
    /// A dense vector of finite numbers: a text embedding or features computed elsewhere
    /// (image CNN features, ...). Under [`EMBEDDING_ATTRIBUTE`] on items the content-based
    /// models read it ([`crate::features::item_text`]); elsewhere it is carried, not
    /// interpreted. At most `limits.max_item_text_len / 8` numbers (each counts 8 bytes, as
    /// a number property of an event does).
    Vector(Vec<f32>),
}

/// The item attribute whose [`AttrValue::Vector`] is the item's dense content vector (written
/// by `attune embed items`, or imported): one dimension across the catalog.
pub const EMBEDDING_ATTRIBUTE: &str = "embedding";

/// One catalog entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Item {
    /// External id.
    pub item_id: String,
    /// Title (text feature).
    pub title: Option<String>,
    /// Description (text feature).
    pub description: Option<String>,
    /// Categories, most specific last (e.g. `["books", "sci-fi"]`).
    pub categories: Vec<String>,
    /// Free tags.
    pub tags: Vec<String>,
    /// Other attributes (price, brand, year...).
    pub attributes: BTreeMap<String, AttrValue>,
    /// Publication time, UTC microseconds.
    pub published_at: Option<i64>,
    /// Whether the item may be recommended (in stock, not withdrawn).
    pub available: bool,
}

/// What a user allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consent {
    /// Personalized recommendations and profile building from this user's events.
    pub personalization: bool,
}

impl Default for Consent {
    fn default() -> Self {
        Self {
            personalization: true,
        }
    }
}

/// A known user's profile.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct User {
    /// External id.
    pub user_id: String,
    /// Attributes such as age, gender, location, device, subscription tier.
    pub attributes: BTreeMap<String, AttrValue>,
    /// Onboarding preferences: preferred categories, in order of preference.
    pub preferred_categories: Vec<String>,
    /// Consent flags.
    pub consent: Consent,
}

/// Categories, tags or preferred categories: at most `limits.max_labels`, each an id.
fn check_labels(
    field: &str,
    labels: &[String],
    limits: &InputLimits,
    errors: &mut Vec<FieldError>,
) {
    if labels.len() > limits.max_labels {
        errors.push(FieldError::new(
            field,
            format!(
                "must have at most {} entries (limits.max_labels), got {}",
                limits.max_labels,
                labels.len()
            ),
        ));
    }
    for (i, l) in labels.iter().enumerate() {
        if let Err(e) = check_id(&format!("{field}[{i}]"), l, limits.max_id_len) {
            errors.push(e);
        }
    }
}

/// Attribute names and count (`max_key` names the count limit), then each value.
fn check_attrs(
    attrs: &BTreeMap<String, AttrValue>,
    limits: &InputLimits,
    max_count: (usize, &str),
    errors: &mut Vec<FieldError>,
) {
    let field = "attributes";
    check_map_names(
        field,
        attrs,
        max_count.0,
        max_count.1,
        limits.max_name_len,
        errors,
    );
    for (k, v) in attrs {
        if name_problem(k, limits.max_name_len).is_some() {
            continue; // reported once, under `attributes`
        }
        match v {
            AttrValue::Number(n) if !n.is_finite() => {
                errors.push(FieldError::new(
                    format!("{field}.{k}"),
                    "must be a finite number",
                ));
            }
            AttrValue::Text(t) => {
                if let Err(e) = check_text(&format!("{field}.{k}"), t, limits.max_item_text_len) {
                    errors.push(e);
                }
            }
            AttrValue::Vector(v) => {
                let max = limits.max_item_text_len / 8;
                if v.is_empty() || v.len() > max {
                    errors.push(FieldError::new(
                        format!("{field}.{k}"),
                        format!(
                            "must have 1 to {max} numbers (limits.max_item_text_len / 8), got {}",
                            v.len()
                        ),
                    ));
                } else if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                    errors.push(FieldError::new(
                        format!("{field}.{k}[{i}]"),
                        "must be a finite number",
                    ));
                }
            }
            AttrValue::Number(_) | AttrValue::Bool(_) => {}
        }
    }
}

impl Item {
    /// A new available item with only an id.
    pub fn new(item_id: impl Into<String>) -> Self {
        Self {
            item_id: item_id.into(),
            available: true,
            ..Default::default()
        }
    }

    /// Check ids, lengths, numbers and the attribute `limits`.
    pub fn validate(&self, limits: &InputLimits) -> Result<(), ValidationError> {
        let mut errors = Vec::new();
        if let Err(e) = check_id("item_id", &self.item_id, limits.max_id_len) {
            errors.push(e);
        }
        for (field, text) in [("title", &self.title), ("description", &self.description)] {
            if let Some(Err(e)) = text
                .as_deref()
                .map(|t| check_text(field, t, limits.max_item_text_len))
            {
                errors.push(e);
            }
        }
        check_labels("categories", &self.categories, limits, &mut errors);
        check_labels("tags", &self.tags, limits, &mut errors);
        check_attrs(
            &self.attributes,
            limits,
            (limits.max_item_attributes, "limits.max_item_attributes"),
            &mut errors,
        );
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationError { errors })
        }
    }
}

impl User {
    /// A new user with only an id and default consent.
    pub fn new(user_id: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            ..Default::default()
        }
    }

    /// Check ids and attributes (against the attribute `limits`).
    pub fn validate(&self, limits: &InputLimits) -> Result<(), ValidationError> {
        let mut errors = Vec::new();
        if let Err(e) = check_id("user_id", &self.user_id, limits.max_id_len) {
            errors.push(e);
        }
        check_labels(
            "preferred_categories",
            &self.preferred_categories,
            limits,
            &mut errors,
        );
        check_attrs(
            &self.attributes,
            limits,
            (limits.max_user_attributes, "limits.max_user_attributes"),
            &mut errors,
        );
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationError { errors })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_validation_names_fields() {
        let mut item = Item::new("sku-1");
        assert!(item.validate(&InputLimits::default()).is_ok());
        item.categories = vec!["books".into(), "".into()];
        item.attributes
            .insert("price".into(), AttrValue::Number(f64::NAN));
        item.attributes
            .insert("brand".into(), AttrValue::Text("Or\0bit".into()));
        item.title = Some("Dune\0".into());
        let err = item.validate(&InputLimits::default()).unwrap_err();
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "title",
                "categories[1]",
                "attributes.brand",
                "attributes.price"
            ]
        );
    }

    #[test]
    fn vector_attributes_are_finite_non_empty_and_bounded() {
        let limits = InputLimits {
            max_item_text_len: 64,
            ..InputLimits::default()
        };
        let mut item = Item::new("sku-1");
        item.attributes
            .insert(EMBEDDING_ATTRIBUTE.into(), AttrValue::Vector(vec![0.5; 8]));
        assert!(item.validate(&limits).is_ok());
        for (v, field, rule) in [
            (vec![0.5; 9], "attributes.embedding", "1 to 8 numbers"),
            (vec![], "attributes.embedding", "1 to 8 numbers"),
            (vec![0.0, f32::NAN], "attributes.embedding[1]", "finite"),
        ] {
            item.attributes
                .insert(EMBEDDING_ATTRIBUTE.into(), AttrValue::Vector(v));
            let err = item.validate(&limits).unwrap_err();
            assert_eq!(err.first_field(), field, "{err}");
            assert!(err.errors[0].reason.contains(rule), "{err}");
        }
    }

    #[test]
    fn attribute_names_and_counts_are_limited() {
        let limits = InputLimits {
            max_item_attributes: 2,
            max_user_attributes: 1,
            ..InputLimits::default()
        };
        let mut item = Item::new("sku-1");
        item.attributes.insert("".into(), AttrValue::Bool(true));
        let err = item.validate(&limits).unwrap_err();
        assert_eq!(err.first_field(), "attributes");
        item.attributes.clear();
        for k in ["a", "b", "c"] {
            item.attributes.insert(k.into(), AttrValue::Number(1.0));
        }
        let err = item.validate(&limits).unwrap_err();
        assert!(
            err.errors[0].reason.contains("limits.max_item_attributes"),
            "{err}"
        );
        let mut u = User::new("alice");
        u.attributes.insert("age".into(), AttrValue::Number(30.0));
        assert!(u.validate(&limits).is_ok());
        u.attributes
            .insert("zip\n".into(), AttrValue::Text("x".into()));
        let err = u.validate(&limits).unwrap_err();
        assert_eq!(err.errors.len(), 2, "{err}");
    }

    #[test]
    fn ids_texts_and_labels_follow_the_configured_limits() {
        let mut item = Item::new("s".repeat(300));
        item.title = Some("t".repeat(70 * 1024));
        item.tags = (0..300).map(|i| format!("tag{i}")).collect();
        let err = item.validate(&InputLimits::default()).unwrap_err();
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["item_id", "title", "tags"]);
        assert!(err.errors[2].reason.contains("limits.max_labels"), "{err}");
        let raised = InputLimits {
            max_id_len: 512,
            max_item_text_len: 128 * 1024,
            max_labels: 512,
            ..InputLimits::default()
        };
        assert!(item.validate(&raised).is_ok());
        let lowered = InputLimits {
            max_id_len: 4,
            ..InputLimits::default()
        };
        let mut u = User::new("alice");
        u.preferred_categories = vec!["jazz".into()];
        let err = u.validate(&lowered).unwrap_err();
        assert_eq!(err.first_field(), "user_id");
    }

    #[test]
    fn user_defaults_to_personalization_on() {
        let u = User::new("alice");
        assert!(u.consent.personalization);
        assert!(u.validate(&InputLimits::default()).is_ok());
        assert!(User::new(" bob").validate(&InputLimits::default()).is_err());
    }
}
