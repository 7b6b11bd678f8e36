//! Deterministic ids for file rows that carry no `event_id`.
//!
//! Event ids are the idempotency key of the store, so an id generated at random would make every
//! re-import of the same file double the data. Instead an id-less row gets
//! `row-<32 hex digits>`: the 128-bit FNV-1a hash of the row's *normalized* content — every
//! field as decoded (before validation), timestamps reduced to UTC microseconds plus offset, and
//! numbers in one canonical rendering. Consequences, documented in `attune import --help`:
//!
//! - re-importing the same file (CSV or JSON lines, any column order) is idempotent;
//! - the same event written as CSV and as JSON lines gets the same id;
//! - two rows identical in every field are one event (the second counts as a duplicate);
//! - a row without a timestamp is stored at the time of its first import, and later imports
//!   of it are duplicates.
//!
//! FNV-1a is written out here rather than taken from `std::hash`, whose algorithms may change
//! between Rust releases: these ids are persisted, so the hash must never change.

use attune_core::event::{PropValue, RawEvent};
use attune_core::time::Timestamp;

/// Prefix of derived ids, so they are recognizable in exports.
const DERIVED_ID_PREFIX: &str = "row-";

/// 128-bit FNV-1a.
struct Fnv128(u128);

impl Fnv128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

    fn new() -> Self {
        Self(Self::OFFSET)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u128::from(b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    /// One `name = value` pair, framed so that no two different rows can produce the same byte
    /// stream (unit and record separators never occur in the names, and values are
    /// length-prefixed).
    fn field(&mut self, name: &str, value: &str) {
        self.bytes(name.as_bytes());
        self.bytes(&[0x1f]);
        self.bytes(&(value.len() as u64).to_le_bytes());
        self.bytes(value.as_bytes());
        self.bytes(&[0x1e]);
    }

    fn opt(&mut self, name: &str, value: &Option<String>) {
        if let Some(v) = value {
            self.field(name, v);
        }
    }

    fn num(&mut self, name: &str, value: Option<f64>) {
        if let Some(v) = value {
            self.field(name, &canonical_number(v));
        }
    }
}

/// `2` and `2.0` are the same number in a file; render both the same way.
fn canonical_number(v: f64) -> String {
    if v == 0.0 {
        // Also folds -0 into 0.
        "0".to_string()
    } else {
        format!("{v:?}")
    }
}

/// The id of an id-less event row (see the module docs).
pub fn derived_event_id(raw: &RawEvent) -> String {
    let mut h = Fnv128::new();
    h.opt("type", &raw.event_type);
    h.opt("user_id", &raw.user_id);
    h.opt("anonymous_id", &raw.anonymous_id);
    h.opt("item_id", &raw.item_id);
    if let Some(text) = &raw.timestamp {
        // The same instant written differently (`Z` vs `+00:00`, Unix seconds) is the same row;
        // unparseable text never gets this far (validation rejects it), but hash it verbatim.
        match Timestamp::parse_rfc3339(text) {
            Ok(ts) => h.field(
                "timestamp",
                &format!("{}{:+}", ts.utc_micros, ts.offset_secs),
            ),
            Err(_) => h.field("timestamp", text),
        }
    }
    h.num("value", raw.value);
    let p = &raw.properties;
    h.num("properties.dwell_ms", p.dwell_ms);
    h.num("properties.scroll_depth", p.scroll_depth);
    h.num("properties.hover_ms", p.hover_ms);
    h.num("properties.price", p.price);
    h.num("properties.quantity", p.quantity);
    h.num("properties.rating", p.rating);
    // BTreeMap: sorted by key, so column order does not matter.
    for (k, v) in &p.extra {
        let value = match v {
            PropValue::Bool(b) => format!("b:{b}"),
            PropValue::Number(n) => format!("n:{}", canonical_number(*n)),
            PropValue::Text(s) => format!("t:{s}"),
        };
        h.field(&format!("properties.{k}"), &value);
    }
    let c = &raw.context;
    h.opt("context.session_id", &c.session_id);
    h.opt("context.device", &c.device);
    h.opt("context.page", &c.page);
    h.opt("context.recommendation_id", &c.recommendation_id);
    h.opt("context.experiment", &c.experiment);
    h.opt("context.variant", &c.variant);
    format!("{DERIVED_ID_PREFIX}{:032x}", h.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> RawEvent {
        RawEvent {
            event_type: Some("view".into()),
            user_id: Some("u1".into()),
            item_id: Some("sku-1".into()),
            timestamp: Some("2026-11-28T09:15:00Z".into()),
            ..Default::default()
        }
    }

    #[test]
    fn fnv128_matches_the_reference_vectors() {
        // From the FNV reference (draft-eastlake-fnv): "" and "a".
        let mut h = Fnv128::new();
        assert_eq!(h.0, 0x6c62272e07bb014262b821756295c58d);
        h.bytes(b"a");
        assert_eq!(h.0, 0xd228cb696f1a8caf78912b704e4a8964);
    }

    #[test]
    fn ids_are_stable_across_releases() {
        // A persisted id: if this changes, re-imports of old files would duplicate data.
        assert_eq!(
            derived_event_id(&view()),
            "row-c05b93d22a2df850ba723673ad86876c"
        );
    }

    #[test]
    fn same_instant_and_same_number_give_the_same_id() {
        let mut other = view();
        other.timestamp = Some("2026-11-28T09:15:00.000+00:00".into());
        assert_eq!(derived_event_id(&view()), derived_event_id(&other));
        let (mut a, mut b) = (view(), view());
        a.value = Some(2.0);
        b.value = Some(2.0000);
        assert_eq!(derived_event_id(&a), derived_event_id(&b));
    }

    #[test]
    fn any_difference_changes_the_id() {
        let base = derived_event_id(&view());
        let mut offset = view();
        offset.timestamp = Some("2026-11-28T10:15:00+01:00".into());
        let mut item = view();
        item.item_id = Some("sku-2".into());
        let mut prop = view();
        prop.properties
            .extra
            .insert("color".into(), PropValue::Text("red".into()));
        let mut text_vs_number = view();
        text_vs_number
            .properties
            .extra
            .insert("color".into(), PropValue::Number(1.0));
        let mut ids: Vec<String> = [offset, item, prop, text_vs_number]
            .iter()
            .map(derived_event_id)
            .collect();
        ids.push(base);
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 5);
    }
}
