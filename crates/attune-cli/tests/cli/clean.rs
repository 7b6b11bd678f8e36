//! `attune clean --report`: a planted bot and near duplicates are found and counted; nothing is
//! deleted.

use std::fmt::Write as _;

use serde_json::Value;

use crate::common::{describe, Attune};
use crate::import::counts;

/// 2026-03-01T00:00:00Z
const BASE: i64 = 1_772_323_200;

fn ts(secs: i64) -> String {
    // Unix seconds written as RFC 3339 by hand, to keep the fixture independent of the importer.
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // 2026-03-01 is day 20513 since the epoch; the fixture stays within March 2026.
    let day_of_march = days - 20_513 + 1;
    assert!(
        (1..=31).contains(&day_of_march),
        "fixture must stay in March"
    );
    format!(
        "2026-03-{day_of_march:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn event(out: &mut String, id: &str, kind: &str, user: &str, item: &str, secs: i64) {
    writeln!(out, r#"{{"event_id":"{id}","type":"{kind}","user_id":"{user}","item_id":"{item}","timestamp":"{}"}}"#, ts(secs))
        .unwrap();
}

/// 20 shoppers (n0..n19) with 10..29 views each, 10 minutes apart; three of them double-click
/// (a second click on the same item 1 s later); one view of an item not in the catalog; and a
/// bot with 400 views at 8 per second. 797 events.
fn planted() -> (String, String) {
    let mut items = String::new();
    for i in 0..20 {
        writeln!(items, r#"{{"item_id":"i{i}","title":"Item {i}"}}"#).unwrap();
    }
    let mut events = String::new();
    for k in 0..20i64 {
        for j in 0..(10 + k) {
            let item = format!("i{}", (k + j) % 20);
            event(
                &mut events,
                &format!("v-{k}-{j}"),
                "view",
                &format!("n{k}"),
                &item,
                BASE + k * 1000 + j * 600,
            );
        }
    }
    for k in 0..3i64 {
        let t = BASE + 100_000 + k * 10;
        event(
            &mut events,
            &format!("c-{k}-a"),
            "click",
            &format!("n{k}"),
            "i0",
            t,
        );
        event(
            &mut events,
            &format!("c-{k}-b"),
            "click",
            &format!("n{k}"),
            "i0",
            t + 1,
        );
    }
    event(&mut events, "u-1", "view", "n19", "i-404", BASE + 200_000);
    for j in 0..400i64 {
        // 8 per second: 125 ms apart.
        let t = BASE + 300_000;
        let micros = j * 125_000;
        let stamp =
            ts(t + micros / 1_000_000).replace('Z', &format!(".{:06}Z", micros % 1_000_000));
        writeln!(
            events,
            r#"{{"event_id":"b-{j}","type":"view","user_id":"bot-1","item_id":"i{}","timestamp":"{stamp}"}}"#,
            j % 20
        )
        .unwrap();
    }
    (items, events)
}

fn load(env: &Attune) {
    let (items, events) = planted();
    let items_file = env.path().join("items.jsonl");
    let events_file = env.path().join("events.jsonl");
    std::fs::write(&items_file, items).unwrap();
    std::fs::write(&events_file, events).unwrap();
    env.ok(&["import", "items", items_file.to_str().unwrap()]);
    env.ok(&["import", "events", events_file.to_str().unwrap()]);
}

#[test]
fn report_finds_the_bot_and_the_near_duplicates() {
    let env = Attune::new();
    load(&env);
    assert_eq!(counts(&env, "default").0, 797);

    let out = env.run(&["clean", "--report", "--json"]);
    assert!(out.status.success(), "{}", describe(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["deleted"], false);
    assert_eq!(r["input_events"], 797);
    assert_eq!(r["kept"], 797 - 400 - 3 - 1);
    assert_eq!(r["removed"], 404);
    let by_reason = &r["removed_by_reason"];
    assert_eq!(by_reason["bot_user"], 400);
    assert_eq!(by_reason["near_duplicate"], 3);
    assert_eq!(by_reason["unknown_item"], 1);
    assert_eq!(by_reason["duplicate_event_id"], 0);
    assert_eq!(by_reason["outlier_item"], 0);
    assert_eq!(r["distinct_unknown_items"], 1);
    assert_eq!(r["catalog_items"], 20);
    assert_eq!(r["flagged_users_total"], 1, "{r:#}");
    let bot = &r["flagged_users"][0];
    assert_eq!(bot["actor"], "bot-1");
    assert_eq!(bot["events"], 400);
    assert_eq!(bot["peak_events_in_window"], 400);
    assert_eq!(bot["flag"], "count_and_rate");
    assert_eq!(
        (bot["is_bot"].as_bool(), bot["removed"].as_bool()),
        (Some(true), Some(true))
    );
    // Event counts per actor: 12, 13, 14 (n0..n2 with two clicks), 13..29, 30 (n19), 400.
    assert_eq!(r["rules"]["actor_events"]["n"], 21);
    assert_eq!(r["rules"]["actor_events"]["median"], 20.0);
    assert_eq!(r["flagged_items_total"], 0);

    // The human report says the same, and nothing was deleted.
    let text = env.ok(&["clean", "--report"]);
    assert!(text.contains("nothing was deleted"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["bot_user", "400", "50.2%"]),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("bot-1 ") && l.contains("count_and_rate")),
        "{text}"
    );
    assert_eq!(counts(&env, "default").0, 797);
}

#[test]
fn bad_clean_settings_are_named() {
    let env = Attune::new();
    let out = env
        .command(&["clean", "--report"])
        .env("ATTUNE_CLEAN__BOT_MAD_K", "-1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("clean.bot_mad_k: must be a finite number > 0, got -1"),
        "{err}"
    );
}

#[test]
fn without_a_catalog_every_item_counts_as_known() {
    let env = Attune::new();
    let (_, events) = planted();
    let file = env.path().join("events.jsonl");
    std::fs::write(&file, events).unwrap();
    env.ok(&["import", "events", file.to_str().unwrap()]);
    let r: Value = serde_json::from_str(&env.ok(&["clean", "--json"])).unwrap();
    assert_eq!(r["catalog_used"], false);
    assert_eq!(r["removed_by_reason"]["unknown_item"], 0);
    assert_eq!(r["removed"], 403);
    assert!(env.ok(&["clean"]).contains("unknown-item rule skipped"));
}
