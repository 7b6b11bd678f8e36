//! Items (the catalog) and users (profiles, onboarding preferences, consent).

use std::collections::BTreeMap;

use crate::error::{FieldError, ValidationError};
use crate::event::{check_id, check_text};

/// A free-form attribute value on an item or user.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// true / false.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    Text(String),
}

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

/// Longest title/description accepted, in bytes.
pub const MAX_TEXT_LEN: usize = 64 * 1024;
/// Most categories or tags on one item.
pub const MAX_LABELS: usize = 256;

fn check_labels(field: &str, labels: &[String], errors: &mut Vec<FieldError>) {
    if labels.len() > MAX_LABELS {
        errors.push(FieldError::new(
            field,
            format!(
                "must have at most {MAX_LABELS} entries, got {}",
                labels.len()
            ),
        ));
    }
    for (i, l) in labels.iter().enumerate() {
        if let Err(e) = check_id(&format!("{field}[{i}]"), l, 256) {
            errors.push(e);
        }
    }
}

fn check_attrs(field: &str, attrs: &BTreeMap<String, AttrValue>, errors: &mut Vec<FieldError>) {
    for (k, v) in attrs {
        if let Err(e) = check_id(&format!("{field}.{k}"), k, 128) {
            errors.push(e);
        }
        match v {
            AttrValue::Number(n) if !n.is_finite() => {
                errors.push(FieldError::new(
                    format!("{field}.{k}"),
                    "must be a finite number",
                ));
            }
            AttrValue::Text(t) => {
                if let Err(e) = check_text(&format!("{field}.{k}"), t, MAX_TEXT_LEN) {
                    errors.push(e);
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

    /// Check ids, lengths and numbers.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let mut errors = Vec::new();
        if let Err(e) = check_id("item_id", &self.item_id, 256) {
            errors.push(e);
        }
        for (field, text) in [("title", &self.title), ("description", &self.description)] {
            if let Some(Err(e)) = text.as_deref().map(|t| check_text(field, t, MAX_TEXT_LEN)) {
                errors.push(e);
            }
        }
        check_labels("categories", &self.categories, &mut errors);
        check_labels("tags", &self.tags, &mut errors);
        check_attrs("attributes", &self.attributes, &mut errors);
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

    /// Check ids and attributes.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let mut errors = Vec::new();
        if let Err(e) = check_id("user_id", &self.user_id, 256) {
            errors.push(e);
        }
        check_labels(
            "preferred_categories",
            &self.preferred_categories,
            &mut errors,
        );
        check_attrs("attributes", &self.attributes, &mut errors);
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
        assert!(item.validate().is_ok());
        item.categories = vec!["books".into(), "".into()];
        item.attributes
            .insert("price".into(), AttrValue::Number(f64::NAN));
        item.attributes
            .insert("brand".into(), AttrValue::Text("Or\0bit".into()));
        item.title = Some("Dune\0".into());
        let err = item.validate().unwrap_err();
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
    fn user_defaults_to_personalization_on() {
        let u = User::new("alice");
        assert!(u.consent.personalization);
        assert!(u.validate().is_ok());
        assert!(User::new(" bob").validate().is_err());
    }
}
