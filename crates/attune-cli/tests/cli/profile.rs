//! `attune profile --json` on a small data set whose numbers are worked out by hand.

use serde_json::{json, Value};

use crate::common::{describe, Attune};
use crate::server::Server;

const ITEMS: &str = r#"{"item_id":"i1","title":"Kettle","categories":["kitchen"]}
{"item_id":"i2","description":"A sturdy teapot"}
{"item_id":"i3","categories":["tea"]}
{"item_id":"i4","title":"   "}
"#;

/// 8 events: 7 interactions (the impression is not one), 4 actors (one anonymous), 4 items
/// touched of which i9 is not in the catalog, i4 never touched.
const EVENTS: &str = r#"{"event_id":"1","type":"view","user_id":"u1","item_id":"i1","timestamp":"2026-01-05T10:00:00Z"}
{"event_id":"2","type":"view","user_id":"u1","item_id":"i2","timestamp":"2026-01-05T11:00:00Z"}
{"event_id":"3","type":"click","user_id":"u1","item_id":"i1","timestamp":"2026-01-05T12:00:00Z"}
{"event_id":"4","type":"view","user_id":"u2","item_id":"i1","timestamp":"2026-01-06T10:00:00Z"}
{"event_id":"5","type":"purchase","user_id":"u2","item_id":"i3","timestamp":"2026-01-07T10:00:00Z"}
{"event_id":"6","type":"view","anonymous_id":"a1","item_id":"i2","timestamp":"2026-01-08T10:00:00Z"}
{"event_id":"7","type":"impression","user_id":"u1","item_id":"i3","timestamp":"2026-01-09T10:00:00Z"}
{"event_id":"8","type":"view","user_id":"u3","item_id":"i9","timestamp":"2026-01-15T11:00:00+01:00"}
"#;

/// The items and events above, imported.
fn hand_computed() -> Attune {
    let env = Attune::new();
    let items = env.path().join("items.jsonl");
    let events = env.path().join("events.jsonl");
    std::fs::write(&items, ITEMS).unwrap();
    std::fs::write(&events, EVENTS).unwrap();
    env.ok(&["import", "items", items.to_str().unwrap()]);
    env.ok(&["import", "events", events.to_str().unwrap()]);
    env
}

#[test]
fn profile_numbers_match_a_hand_computation() {
    let env = hand_computed();

    // The profile is of what training sees; with cleaning off that is every event (the
    // numbers below count i9, which cleaning would drop as unknown).
    let uncleaned = |args: &[&str]| {
        let out = env
            .command(args)
            .env("ATTUNE_TRAIN__CLEAN", "false")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        out
    };
    let out = uncleaned(&["profile", "--json"]);
    let mut p: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Depends on today's date.
    let age = p
        .as_object_mut()
        .unwrap()
        .remove("days_since_last_event")
        .unwrap();
    assert!(age.as_f64().unwrap() > 300.0, "{age}");
    // Seven interactions are tiny data: popularity, then item-kNN; half the items have text and
    // all are cold: hybrid, then content (rules in attune_core::profile::advice, tested there).
    let advice = p
        .as_object_mut()
        .unwrap()
        .remove("recommended_algorithms")
        .unwrap();
    let names: Vec<&str> = advice
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["algorithm"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["popularity", "item-knn", "hybrid", "content"],
        "{advice}"
    );
    assert!(advice[0]["reasons"][0]
        .as_str()
        .unwrap()
        .contains("little data (7 interactions"));
    assert_eq!(
        p,
        json!({
            "app": "default",
            "events": 8,
            "interactions": 7,
            "anonymous_events": 1,
            "users": 4,
            "active_users": 4,
            "catalog_items": 4,
            "interacted_items": 4,
            "unknown_items": 1,
            "catalog_coverage": 0.75,
            "distinct_pairs": 6,
            "density": 0.375,
            "sparsity": 0.625,
            // u1 3, u2 2, a1 1, u3 1; quantiles are type 7 (p99 = x[2] + 0.97·(x[3] - x[2])). Gini: (-3·1 - 1·1 + 1·2 + 3·3) / (4·7) = 0.25.
            "per_user": {"n": 4, "min": 1.0, "p25": 1.0, "median": 1.5, "p75": 2.25, "p90": 2.7,
                         "p99": 2.0 + (3.0f64 * 0.99 - 2.0), "max": 3.0, "mean": 1.75, "gini": 0.25},
            // i1 3, i2 2, i3 1, i9 1, i4 0. Gini: (-2·1 + 0·1 + 2·2 + 4·3) / (5·7) = 0.4.
            "per_item": {"n": 5, "min": 0.0, "p25": 1.0, "median": 1.0, "p75": 2.0, "p90": 2.6,
                         "p99": 2.96, "max": 3.0, "mean": 1.4, "gini": 0.4},
            "items_with_text": 0.5,
            "items_with_categories": 0.5,
            "first_event": "2026-01-05T10:00:00Z",
            "last_event": "2026-01-15T11:00:00+01:00",
            "span_days": 10.0,
            // Events after 2026-01-08T10:00Z (7 days before the last): #7 and #8.
            "share_last_7_days": 0.25,
            "share_last_30_days": 1.0,
            "cold_threshold": 5,
            "cold_users": 4,
            "cold_users_share": 1.0,
            "cold_items": 5,
            "cold_items_share": 1.0,
            "events_by_type": {"click": 1, "impression": 1, "purchase": 1, "view": 5},
            // UTC days: #8 (11:00+01:00) is 10:00Z on the 15th.
            "events_per_day": [
                {"day": "2026-01-05", "events": 3}, {"day": "2026-01-06", "events": 1},
                {"day": "2026-01-07", "events": 1}, {"day": "2026-01-08", "events": 1},
                {"day": "2026-01-09", "events": 1}, {"day": "2026-01-15", "events": 1},
            ],
            // Power-of-two bins of the per_user and per_item counts above.
            "users_by_activity": [
                {"min": 0, "max": 0, "count": 0}, {"min": 1, "max": 1, "count": 2},
                {"min": 2, "max": 3, "count": 2},
            ],
            "items_by_activity": [
                {"min": 0, "max": 0, "count": 1}, {"min": 1, "max": 1, "count": 2},
                {"min": 2, "max": 3, "count": 2},
            ],
        })
    );

    let text = String::from_utf8(uncleaned(&["profile"]).stdout).unwrap();
    assert!(text.contains("Recommended algorithms"), "{text}");
    assert!(text.contains("1. popularity"), "{text}");
    assert!(
        text.contains("density                           37.5000%"),
        "{text}"
    );
    let user_row = text
        .lines()
        .find(|l| l.starts_with("user "))
        .expect("per-user row");
    let cells: Vec<&str> = user_row.split_whitespace().collect();
    assert_eq!(
        (cells[1], cells[2], cells[4], cells[9], cells[10]),
        ("4", "1", "1.5", "1.75", "0.250"),
        "{text}"
    );
}

#[test]
fn an_empty_app_profiles_to_zeros() {
    let env = Attune::new();
    let p: Value = serde_json::from_str(&env.ok(&["profile", "--json"])).unwrap();
    assert_eq!(p["events"], 0);
    assert_eq!(p["density"], 0.0);
    assert_eq!(p["first_event"], Value::Null);
}

/// `profile` and `clean --report` describe the data training sees: events of users who opted
/// out are left out of both, and the profile counts what cleaning keeps.
#[test]
fn profile_and_clean_report_see_what_training_sees() {
    let env = hand_computed();
    let users = env.path().join("users.jsonl");
    std::fs::write(
        &users,
        "{\"user_id\":\"u2\",\"consent\":{\"personalization\":false}}\n",
    )
    .unwrap();
    env.ok(&["import", "users", users.to_str().unwrap()]);

    let report: Value = serde_json::from_str(&env.ok(&["clean", "--report", "--json"])).unwrap();
    // u2's two events are withheld; of the other six, the view of i9 (not in the catalog) goes.
    assert_eq!(report["withheld_events"], 2, "{report}");
    assert_eq!(report["input_events"], 6, "{report}");
    assert_eq!(report["kept"], 5, "{report}");
    let p: Value = serde_json::from_str(&env.ok(&["profile", "--json"])).unwrap();
    assert_eq!(p["events"], report["kept"], "{p}");
    assert_eq!(p["unknown_items"], 0, "{p}");
    assert_eq!(
        p["events_by_type"],
        json!({"click": 1, "impression": 1, "view": 3}),
        "{p}"
    );
}

/// `attune profile --json` and `GET /v1/profile` of `attune serve` are one report (one code
/// path: `attune_pipeline::profile::ProfileReport`), cleaned by the same `[train].clean`.
#[test]
fn the_cli_and_the_api_give_one_profile() {
    let env = hand_computed();
    let server = Server::start(&env, None);
    let mut api = server.client().get("/v1/profile").unwrap().json();
    let mut cli: Value = serde_json::from_str(&env.ok(&["profile", "--json"])).unwrap();
    for p in [&mut api, &mut cli] {
        let age = p
            .as_object_mut()
            .unwrap()
            .remove("days_since_last_event")
            .unwrap();
        assert!(age.as_f64().unwrap() > 300.0, "{age}");
    }
    assert_eq!(api, cli);
    // Cleaning is on by default: the unknown item's event is not what training sees.
    assert_eq!(api["unknown_items"], 0, "{api}");
}
