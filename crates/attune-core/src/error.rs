//! Validation errors shared by every input path (HTTP, CLI import, Kafka).
//!
//! A [`FieldError`] always names the field at fault (a dotted path such as
//! `properties.scroll_depth`) and the rule that was broken, so every adapter can report it
//! without re-deriving context.

use std::fmt;

/// One rule broken by one field of one input record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the offending field, e.g. `timestamp` or `properties.rating`.
    pub field: String,
    /// Human-readable statement of the rule that was broken, including allowed values.
    pub reason: String,
}

impl FieldError {
    /// Build a field error from anything string-like.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// A record failed validation; every broken rule is listed (not only the first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid record: {}", .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ValidationError {
    /// The broken rules, in field order.
    pub errors: Vec<FieldError>,
}

impl ValidationError {
    /// A validation error with a single broken rule.
    pub fn one(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            errors: vec![FieldError::new(field, reason)],
        }
    }

    /// The first offending field (the one an API problem document names).
    pub fn first_field(&self) -> &str {
        self.errors.first().map(|e| e.field.as_str()).unwrap_or("")
    }
}
