//! The properties the fuzz targets assert, shared between them.
//!
//! Each target feeds raw bytes to one of attune's input parsers exactly as production does and
//! checks more than "no panic" where that is cheap: an event (or item, user) that is accepted
//! encodes to the API's JSON and decodes back to the same value (export = import, the invariant
//! stated in `attune_server::api`); a configuration that loads prints as TOML that loads back
//! to the same configuration; a spec's canonical form parses back to the same spec.

use std::sync::OnceLock;

use attune_cli::config::Settings;
use attune_cli::import::{Record, Row, Validator};
use attune_core::catalog::{Item, User};
use attune_core::event::{Event, EventRules};
use attune_core::limits::InputLimits;
use attune_core::time::Timestamp;
use attune_server::api::{self, BodyFormat};
use attune_server::problem::ErrorCode;
use attune_server::ServerConfig;

/// The receive time the targets decode with: fixed, so a crash input replays the same way.
pub fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-28T12:00:00Z").expect("a valid timestamp")
}

/// The server's settings with `strict_fields`; batches capped low so one input stays fast.
pub fn server_config(strict: bool, rules: EventRules) -> ServerConfig {
    ServerConfig {
        strict_fields: strict,
        max_batch_events: 512,
        event_rules: rules,
        ..ServerConfig::default()
    }
}

/// Decode a `POST /v1/events` body as the route does, in strict and lenient mode, and check the
/// batch's bookkeeping and that every accepted event survives encode-then-decode unchanged.
pub fn events_body(data: &[u8], format: BodyFormat) {
    let strict = server_config(true, EventRules::default());
    let lenient = server_config(false, EventRules::default());
    let a = api::decode_event_batch(&strict, data, format, now());
    let b = api::decode_event_batch(&lenient, data, format, now());
    match (a, b) {
        (Ok(a), Ok(b)) => {
            for batch in [&a, &b] {
                assert_eq!(batch.events.len() + batch.n_rejected, batch.n_records);
                assert_eq!(batch.events.len(), batch.event_idx.len());
                assert!(batch.event_idx.windows(2).all(|w| w[0] < w[1]));
                assert!(batch.errors.iter().all(|e| e.index < batch.n_records));
                // Every rejected record has at least one reason.
                assert!(batch.n_rejected == 0 || !batch.errors.is_empty());
            }
            assert_eq!(a.n_records, b.n_records);
            // Strict mode only adds reasons to reject.
            assert!(a.event_idx.iter().all(|i| b.event_idx.contains(i)));
            for e in &a.events {
                assert_event_round_trips(e, &EventRules::default(), now());
            }
        }
        (Err(a), Err(b)) => {
            // Unreadable bytes or too many records: the same problem in both modes, 400 or 413.
            assert!(
                matches!(a.code, ErrorCode::InvalidJson | ErrorCode::BatchTooLarge),
                "{a:?}"
            );
            assert_eq!(a.detail, b.detail);
            let body = a.to_json("/v1/events");
            assert!(body["detail"].is_string());
        }
        (a, b) => panic!(
            "strict and lenient decoding disagree on whether the body is readable: {:?} / {:?}",
            a.err(),
            b.err()
        ),
    }
}

/// `e` encoded as the API's JSON (what `attune export` writes) and posted back decodes, under
/// `rules` at `now`, to exactly `e`.
pub fn assert_event_round_trips(e: &Event, rules: &EventRules, now: Timestamp) {
    let text = serde_json::to_string(&api::event_to_json(e)).expect("an event encodes");
    let config = server_config(true, rules.clone());
    let back = api::decode_event_batch(&config, text.as_bytes(), BodyFormat::Json, now)
        .unwrap_or_else(|p| panic!("the encoded event is not readable: {p:?}\n{text}"));
    assert_eq!(
        back.n_rejected, 0,
        "the encoded event is rejected: {:?}\n{text}",
        back.errors
    );
    assert_eq!(back.events.len(), 1, "{text}");
    assert_eq!(&back.events[0], e, "{text}");
}

/// `item` encoded as the API's JSON decodes back to exactly `item`.
pub fn assert_item_round_trips(item: &Item, limits: &InputLimits) {
    let v = api::item_to_json(item);
    let text = serde_json::to_string(&v).expect("an item encodes");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let back = api::item_from_json(None, &v, true, limits)
        .unwrap_or_else(|e| panic!("the encoded item is rejected: {e:?}\n{text}"));
    assert_eq!(&back, item, "{text}");
}

/// `user` encoded as the API's JSON decodes back to exactly `user`.
pub fn assert_user_round_trips(user: &User, limits: &InputLimits) {
    let v = api::user_to_json(user);
    let text = serde_json::to_string(&v).expect("a user encodes");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let back = api::user_from_json(None, &v, true, limits)
        .unwrap_or_else(|e| panic!("the encoded user is rejected: {e:?}\n{text}"));
    assert_eq!(&back, user, "{text}");
}

/// The compiled-in configuration (what `attune import` runs with when nothing is configured).
pub fn default_settings() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS.get_or_init(|| Settings::from_toml("").expect("the defaults load"))
}

/// The importer's validator over the default settings (one per process: it fixes "now").
pub fn validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| Validator::new(default_settings()))
}

/// Most rows read from one input: keeps a single execution short.
pub const MAX_ROWS: usize = 256;

/// Validate an imported record as `attune import` does; what it accepts, the API must read
/// back unchanged from the API's encoding of it (import = export = import).
pub fn check_imported(record: Record) {
    let settings = default_settings();
    let limits = settings.limits.to_core();
    let had_decode_errors = !record.errors.is_empty();
    match validator().finish(record) {
        Ok(Row::Event(e)) => {
            assert!(!had_decode_errors);
            // The validator's "now" is a moment earlier than this one: the future-skew rule
            // is only more lenient now.
            let now = Timestamp::from_utc_micros(chrono_now_micros());
            assert_event_round_trips(&e, &settings.event_rules(), now);
        }
        Ok(Row::Item(i)) => assert_item_round_trips(&i, &limits),
        Ok(Row::User(u)) => assert_user_round_trips(&u, &limits),
        Err(errors) => assert!(!errors.is_empty(), "a row rejected without a reason"),
    }
}

fn chrono_now_micros() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(d.as_micros()).expect("fits")
}
