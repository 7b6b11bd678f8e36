//! A catalog item as embedding input, and the cache key that says whether its stored vector
//! is still the vector of its text.
//!
//! The vector is stored on the item itself, as the attribute
//! [`EMBEDDING_ATTRIBUTE`] (a [`AttrValue::Vector`]), and next to it
//! [`SOURCE_ATTRIBUTE`]: the model name and an xxHash64 of the embedded text. An item whose
//! source matches the hash of its current text keeps its vector; any edit of the title,
//! description or tags (or another model) makes it stale.

use attune_core::catalog::{AttrValue, Item, EMBEDDING_ATTRIBUTE};
use xxhash_rust::xxh64::xxh64;

/// The attribute holding what the stored vector was computed from (`model:hash`).
pub const SOURCE_ATTRIBUTE: &str = "embedding_source";

/// The model name written into [`SOURCE_ATTRIBUTE`].
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";

/// The text embedded for an item: the title, the description and the tags, as sentences
/// (`"Trail runner. Light shoe for ... Tags: running, shoes."`); empty parts are left out.
pub fn text(item: &Item) -> String {
    let mut parts: Vec<String> = Vec::new();
    for t in [&item.title, &item.description].into_iter().flatten() {
        let t = t.trim();
        if !t.is_empty() {
            parts.push(t.trim_end_matches('.').to_string());
        }
    }
    if !item.tags.is_empty() {
        parts.push(format!("Tags: {}", item.tags.join(", ")));
    }
    let mut s = parts.join(". ");
    if !s.is_empty() {
        s.push('.');
    }
    s
}

/// The cache key of a text under [`MODEL_NAME`]: `all-MiniLM-L6-v2:<16 hex digits>`.
pub fn source(text: &str) -> String {
    format!("{MODEL_NAME}:{:016x}", xxh64(text.as_bytes(), 0))
}

/// Whether `item` already carries the vector of `source` (see [`source`]).
pub fn is_current(item: &Item, source: &str) -> bool {
    matches!(item.attributes.get(EMBEDDING_ATTRIBUTE), Some(AttrValue::Vector(v)) if !v.is_empty())
        && matches!(item.attributes.get(SOURCE_ATTRIBUTE), Some(AttrValue::Text(s)) if s == source)
}

/// Store `vector` and its `source` on `item`.
pub fn set(item: &mut Item, vector: Vec<f32>, source: String) {
    item.attributes
        .insert(EMBEDDING_ATTRIBUTE.to_string(), AttrValue::Vector(vector));
    item.attributes
        .insert(SOURCE_ATTRIBUTE.to_string(), AttrValue::Text(source));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_joins_title_description_and_tags_as_sentences() {
        let mut it = Item::new("a");
        assert_eq!(text(&it), "");
        it.title = Some("Trail runner".into());
        it.description = Some(" Light shoe for rough paths. ".into());
        it.tags = vec!["running".into(), "shoes".into()];
        assert_eq!(
            text(&it),
            "Trail runner. Light shoe for rough paths. Tags: running, shoes."
        );
    }

    #[test]
    fn a_vector_is_current_until_the_text_changes() {
        let mut it = Item::new("a");
        it.title = Some("Kettle".into());
        let s = source(&text(&it));
        assert!(s.starts_with("all-MiniLM-L6-v2:") && s.len() == MODEL_NAME.len() + 17);
        assert!(!is_current(&it, &s));
        set(&mut it, vec![1.0, 0.0], s.clone());
        assert!(is_current(&it, &s));
        it.title = Some("Electric kettle".into());
        assert!(!is_current(&it, &source(&text(&it))));
    }
}
