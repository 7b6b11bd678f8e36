//! Input limits on every free-form part of a record: ids, free text, the names and the number
//! of an event's properties and of an item's or user's attributes, and the number of labels.
//!
//! Values were always checked (lengths, NUL, finite numbers); names were not, so one event
//! could carry 50,000 property names, an empty name, or names with NUL, escape sequences or
//! newlines, which every later reader (exports, the data profile, training) had to carry. The
//! limits here are part of the one validation every input path calls
//! ([`crate::event::validate`], [`crate::catalog::Item::validate`],
//! [`crate::catalog::User::validate`]), so HTTP, file import and a future Kafka consumer
//! enforce them identically. The operator sets them in `[limits]` (docs/operations.md).

use std::collections::BTreeMap;

use crate::error::FieldError;

/// How long ids and texts may be, and how many free-form names and labels a record may carry.
///
/// Nesting needs no limit of its own: property and attribute values are scalars (a bool, a
/// number or a string; an object or array is refused by name) except an item's or user's
/// attribute may be one flat array of numbers (a dense vector, at most
/// `max_item_text_len / 8` numbers), and the JSON decoder refuses
/// documents nested deeper than 128 levels before any of this is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    /// Longest id, bytes: `event_id`, `user_id`, `item_id`, `anonymous_id`, context ids,
    /// categories and tags, wherever they arrive (bodies, paths, queries).
    pub max_id_len: usize,
    /// Longest free text of an event, bytes: `context.page`, `context.device`, text
    /// properties.
    pub max_event_text_len: usize,
    /// Longest free text of an item or user, bytes: title, description, a text attribute.
    pub max_item_text_len: usize,
    /// Most categories or tags on one item, preferred categories on one user.
    pub max_labels: usize,
    /// Longest property (events) or attribute (items, users) name, bytes.
    pub max_name_len: usize,
    /// Most properties on one event, typed (`price`, `rating`, ...) and free-form together.
    pub max_event_properties: usize,
    /// Largest total size of one event's free-form properties, bytes: names plus text values
    /// (a number or a bool counts 8).
    pub max_event_properties_bytes: usize,
    /// Most attributes on one item.
    pub max_item_attributes: usize,
    /// Most attributes on one user.
    pub max_user_attributes: usize,
}

impl Default for InputLimits {
    fn default() -> Self {
        Self {
            max_id_len: 256,
            max_event_text_len: 8 * 1024,
            max_item_text_len: 64 * 1024,
            max_labels: 256,
            max_name_len: 128,
            max_event_properties: 64,
            max_event_properties_bytes: 64 * 1024,
            max_item_attributes: 256,
            max_user_attributes: 256,
        }
    }
}

impl InputLimits {
    /// Every limit must be positive; the error names the `limits.<key>` at fault.
    pub fn check(&self) -> Result<(), FieldError> {
        for (key, v) in [
            ("max_id_len", self.max_id_len),
            ("max_event_text_len", self.max_event_text_len),
            ("max_item_text_len", self.max_item_text_len),
            ("max_labels", self.max_labels),
            ("max_name_len", self.max_name_len),
            ("max_event_properties", self.max_event_properties),
            (
                "max_event_properties_bytes",
                self.max_event_properties_bytes,
            ),
            ("max_item_attributes", self.max_item_attributes),
            ("max_user_attributes", self.max_user_attributes),
        ] {
            if v == 0 {
                return Err(FieldError::new(format!("limits.{key}"), "must be > 0"));
            }
        }
        Ok(())
    }
}

/// A name as an error message shows it: escaped (control characters visible), and cut after
/// 40 characters so a 10 KB name does not make a 10 KB answer.
pub fn shown_name(name: &str) -> String {
    if name.chars().count() > 40 {
        let cut: String = name.chars().take(40).collect();
        format!("{cut:?}...")
    } else {
        format!("{name:?}")
    }
}

/// Why `name` is not an acceptable property or attribute name, if it is not: it must be
/// non-empty, at most `max_len` bytes, free of control characters (NUL, escape, newline, tab)
/// and of leading or trailing white space.
pub fn name_problem(name: &str, max_len: usize) -> Option<String> {
    if name.is_empty() {
        Some("the empty name is not allowed".to_string())
    } else if name.len() > max_len {
        Some(format!(
            "name {} is {} bytes; at most {max_len} allowed (limits.max_name_len)",
            shown_name(name),
            name.len()
        ))
    } else if name.chars().any(char::is_control) {
        Some(format!(
            "name {} contains control characters, which are not allowed",
            shown_name(name)
        ))
    } else if name.trim() != name {
        Some(format!(
            "name {} starts or ends with white space",
            shown_name(name)
        ))
    } else {
        None
    }
}

/// Check the names of a record's free-form map `field` (`properties`, `attributes`): at most
/// `max_count` members (`count_key` names the limit), and every name acceptable. The first bad
/// name is reported (one error per rule, not one per member: a record with 50,000 bad names
/// gets a short answer).
pub fn check_names<'a>(
    field: &str,
    names: impl IntoIterator<Item = &'a str>,
    n_members: usize,
    max_count: usize,
    count_key: &str,
    max_len: usize,
    errors: &mut Vec<FieldError>,
) {
    if n_members > max_count {
        errors.push(FieldError::new(
            field,
            format!("must have at most {max_count} members ({count_key}), got {n_members}"),
        ));
    }
    if let Some(reason) = names.into_iter().find_map(|n| name_problem(n, max_len)) {
        errors.push(FieldError::new(field, reason));
    }
}

/// [`check_names`] over a map's keys.
pub fn check_map_names<V>(
    field: &str,
    map: &BTreeMap<String, V>,
    max_count: usize,
    count_key: &str,
    max_len: usize,
    errors: &mut Vec<FieldError>,
) {
    check_names(
        field,
        map.keys().map(String::as_str),
        map.len(),
        max_count,
        count_key,
        max_len,
        errors,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_printable_bounded_and_non_empty() {
        assert_eq!(name_problem("coupon", 128), None);
        assert_eq!(name_problem("größe", 128), None);
        assert_eq!(name_problem("a,b", 128), None); // commas are fine: CSV quotes them
        for bad in [
            "",
            "a\0b",
            "\u{1b}[31mred",
            "two\nlines",
            "tab\there",
            " lead",
        ] {
            assert!(name_problem(bad, 128).is_some(), "{bad:?}");
        }
        let long = "n".repeat(129);
        let why = name_problem(&long, 128).unwrap();
        assert!(why.contains("129 bytes") && why.len() < 200, "{why}");
    }

    #[test]
    fn one_error_per_rule_however_many_members() {
        let mut map = BTreeMap::new();
        for k in 0..1000 {
            map.insert(format!("p\0{k}"), ());
        }
        let mut errors = Vec::new();
        check_map_names(
            "properties",
            &map,
            64,
            "limits.max_event_properties",
            128,
            &mut errors,
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().all(|e| e.field == "properties"));
        assert!(errors[0].reason.contains("at most 64"), "{}", errors[0]);
    }

    #[test]
    fn zero_limits_are_refused_by_key() {
        let l = InputLimits {
            max_item_attributes: 0,
            ..InputLimits::default()
        };
        assert_eq!(l.check().unwrap_err().field, "limits.max_item_attributes");
        assert!(InputLimits::default().check().is_ok());
    }
}
