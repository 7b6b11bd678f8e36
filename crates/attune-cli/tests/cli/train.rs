//! `attune train`, `recommend` and `similar` on a small synthetic shop: two taste groups (even
//! users view even items, odd users odd items), 60 users x 30 items, 8 views each.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{describe, stderr, stdout, Attune};
use crate::import::ok_with;

const USERS: u32 = 60;
const ITEMS: u32 = 30;

/// The items user `u` viewed.
fn viewed(u: u32) -> Vec<u32> {
    let g = u % 2;
    let mut v: Vec<u32> = (0..8).map(|j| ((u + j * 2) % 15) * 2 + g).collect();
    v.sort_unstable();
    v.dedup();
    assert_eq!(v.len(), 8);
    v
}

/// A store with the synthetic shop imported into the default app.
pub fn shop() -> Attune {
    let env = Attune::new();
    import_shop_into(&env, &[]);
    env
}

/// Import the synthetic shop into the default app of `env`'s store (`vars` may point it at
/// another store).
pub fn import_shop_into(env: &Attune, vars: &[(&str, &str)]) {
    let mut items = String::new();
    for i in 0..ITEMS {
        items.push_str(&format!(
            "{{\"item_id\":\"i{i}\",\"title\":\"Item number {i}\"}}\n"
        ));
    }
    let mut events = String::new();
    for u in 0..USERS {
        for (j, i) in viewed(u).into_iter().enumerate() {
            events.push_str(&format!(
                "{{\"event_id\":\"e{u}-{j}\",\"type\":\"view\",\"user_id\":\"u{u}\",\"item_id\":\"i{i}\",\"timestamp\":\"2026-01-01T{:02}:{:02}:00Z\"}}\n",
                u % 24,
                j
            ));
        }
    }
    let (ip, ep) = (
        env.path().join("items.jsonl"),
        env.path().join("events.jsonl"),
    );
    std::fs::write(&ip, items).unwrap();
    std::fs::write(&ep, events).unwrap();
    ok_with(env, vars, &["import", "items", ip.to_str().unwrap()]);
    ok_with(env, vars, &["import", "events", ep.to_str().unwrap()]);
}

pub fn model_path(env: &Attune, version: &str) -> PathBuf {
    env.path()
        .join("models")
        .join("default")
        .join(format!("{version}.attune"))
}

/// The JSON header of an artifact file.
fn header(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap();
    let len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    serde_json::from_slice(&bytes[16..16 + len]).unwrap()
}

/// Item ids of `attune recommend` text output (rank. item score [title]).
pub fn listed(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .collect()
}

#[test]
fn train_als_then_recommend_unseen_items_with_titles() {
    let env = shop();
    let out = env.ok(&["train", "--algorithm", "als:factors=8,iterations=8,seed=3"]);
    assert!(out.contains("registered model v0001"), "{out}");
    assert!(
        out.contains("activated v0001"),
        "the first model is activated: {out}"
    );
    let path = model_path(&env, "v0001");
    assert!(path.exists());
    let h = header(&path);
    assert_eq!(h["algorithm"], "als");
    assert_eq!(h["parameters"]["factors"], "8");
    assert_eq!(h["data"]["users"], USERS);
    assert_eq!(h["data"]["cleaning"]["input_events"], 8 * USERS as u64);

    let text = env.ok(&["recommend", "u1", "-n", "5"]);
    let items = listed(&text);
    assert_eq!(items.len(), 5, "{text}");
    let seen: Vec<String> = viewed(1).iter().map(|i| format!("i{i}")).collect();
    for item in &items {
        assert!(!seen.contains(item), "{item} was seen by u1:\n{text}");
    }
    // Odd users like odd items (only 7 odd ones are left unseen, so check the top 3).
    for item in &items[..3] {
        assert!(item[1..].parse::<u32>().unwrap() % 2 == 1, "{text}");
    }
    assert!(text.contains("Item number"), "titles: {text}");

    // Without exclusion the user's own items come back.
    let all = listed(&env.ok(&["recommend", "u1", "-n", "8", "--exclude-seen=false"]));
    assert!(all.iter().any(|i| seen.contains(i)), "{all:?}");

    // A second training is the next version, but not served until activated.
    let out = env.ok(&["train", "--algorithm", "item-knn"]);
    assert!(out.contains("registered model v0002"), "{out}");
    assert!(out.contains("not activated: v0001 stays active"), "{out}");
    let j: Value = serde_json::from_str(&env.ok(&["recommend", "u1", "--json"])).unwrap();
    assert_eq!(j["model_version"], 1);
    let j: Value =
        serde_json::from_str(&env.ok(&["recommend", "u1", "--json", "--version", "v0002"]))
            .unwrap();
    assert_eq!(j["model_version"], 2);
    assert_eq!(j["source"], "personalized");
    assert_eq!(j["items"].as_array().unwrap().len(), 10);
}

#[test]
fn new_users_are_folded_in_and_strangers_get_popular_items() {
    let env = shop();
    env.ok(&["train", "--algorithm", "ease:lambda=10"]);
    // Events after training: an even-taste newcomer.
    let late = env.path().join("late.jsonl");
    std::fs::write(
        &late,
        "{\"event_id\":\"n1\",\"type\":\"view\",\"user_id\":\"newbie\",\"item_id\":\"i0\",\"timestamp\":\"2026-02-01T00:00:00Z\"}\n\
         {\"event_id\":\"n2\",\"type\":\"view\",\"user_id\":\"newbie\",\"item_id\":\"i2\",\"timestamp\":\"2026-02-01T00:01:00Z\"}\n",
    )
    .unwrap();
    env.ok(&["import", "events", late.to_str().unwrap()]);
    let j: Value =
        serde_json::from_str(&env.ok(&["recommend", "newbie", "-n", "5", "--json"])).unwrap();
    // Not in the model: folded in from the events since training, as over HTTP.
    assert_eq!(j["source"], "personalized", "{j}");
    assert_eq!(j["items"][0]["explanation"]["kind"], "because", "{j}");
    for it in j["items"].as_array().unwrap() {
        let id = it["item_id"].as_str().unwrap();
        assert!(id != "i0" && id != "i2", "{j}");
        assert_eq!(id[1..].parse::<u32>().unwrap() % 2, 0, "{j}");
    }

    let out = env.run(&["recommend", "nobody", "-n", "3"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(listed(&stdout(&out)).len(), 3);
    assert!(stderr(&out).contains("cold-start"), "{}", describe(&out));
}

#[test]
fn a_corrupt_model_file_is_refused_clearly() {
    let env = shop();
    env.ok(&["train", "--algorithm", "als:factors=4,iterations=2"]);
    let path = model_path(&env, "v0001");
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let out = env.run(&["recommend", "u1"]);
    assert!(!out.status.success(), "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains("corrupt") && err.contains("v0001.attune"),
        "{}",
        describe(&out)
    );
    // Truncated, and not a model file at all.
    std::fs::write(&path, &bytes[..100]).unwrap();
    let out = env.run(&["recommend", "u1"]);
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(stderr(&out).contains("truncated"), "{}", describe(&out));
    std::fs::write(&path, b"hello").unwrap();
    let out = env.run(&["similar", "i1"]);
    assert!(!out.status.success(), "{}", describe(&out));
}

#[test]
fn all_users_writes_one_row_per_user_and_rank() {
    let env = shop();
    env.ok(&["train", "--algorithm", "als:factors=8,iterations=4"]);
    let csv = env.path().join("recs.csv");
    let out = env.run(&[
        "recommend",
        "--all-users",
        "-n",
        "4",
        "--format",
        "csv",
        "-o",
        csv.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(stderr(&out).contains("users/s"), "{}", describe(&out));
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "user_id,rank,item_id,score,explanation");
    assert_eq!(lines.len() - 1, (USERS * 4) as usize);
    // Every user's rows are ranks 1..=4 of items they have not seen.
    for l in &lines[1..] {
        let f: Vec<&str> = l.split(',').collect();
        let u: u32 = f[0][1..].parse().unwrap();
        let i: u32 = f[2][1..].parse().unwrap();
        assert!(!viewed(u).contains(&i), "{l}");
    }

    let out = env.ok(&["recommend", "--all-users", "-n", "2", "--format", "jsonl"]);
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), (USERS * 2) as usize);
    assert_eq!(rows[0]["rank"], 1);
    assert!(rows[0]["score"].is_number());
}

#[test]
fn similar_works_for_item_knn_and_says_why_not_for_popularity() {
    let env = shop();
    env.ok(&["train", "--algorithm", "item-knn"]);
    let items = listed(&env.ok(&["similar", "i4", "-n", "3"]));
    assert_eq!(items.len(), 3, "{items:?}");
    assert!(
        items
            .iter()
            .all(|i| i != "i4" && i[1..].parse::<u32>().unwrap() % 2 == 0),
        "{items:?}"
    );

    env.ok(&["train", "--algorithm", "popularity", "--activate"]);
    let out = env.run(&["similar", "i4"]);
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        stderr(&out).contains("popularity models have no item-item similarity")
            && stderr(&out).contains("item-knn"),
        "{}",
        describe(&out)
    );
    let out = env.run(&["similar", "nope", "--version", "v0001"]);
    assert!(
        !out.status.success() && stderr(&out).contains("\"nope\""),
        "{}",
        describe(&out)
    );
}

#[test]
fn auto_prints_the_candidates_and_keeps_the_best() {
    let env = shop();
    let out = env.ok(&["train", "--algorithm", "auto"]);
    assert!(out.contains("Candidates"), "{out}");
    assert!(
        out.contains("popularity") && out.contains("item-knn"),
        "{out}"
    );
    let best = out
        .lines()
        .find(|l| l.starts_with('*'))
        .unwrap_or_else(|| panic!("no best marked:\n{out}"));
    let best_name = best.split_whitespace().nth(1).unwrap();
    assert!(out.contains("registered model v0001"), "{out}");
    let h = header(&model_path(&env, "v0001"));
    assert_eq!(h["algorithm"], best_name, "{out}");
    let ndcg = h["metrics"]["validation.ndcg@10"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&ndcg), "{h}");
    // The table's best NDCG is the one stored.
    let shown: f64 = best.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!((shown - ndcg).abs() < 1e-4, "{best} vs {ndcg}");
}

#[test]
fn bad_input_is_an_error_with_a_message() {
    let env = Attune::new();
    let out = env.run(&["train", "--algorithm", "als"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no interactions"),
        "{}",
        describe(&out)
    );

    let env = shop();
    let out = env.run(&["train", "--algorithm", "magic"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unknown algorithm `magic`"),
        "{}",
        describe(&out)
    );
    let out = env.run(&["train", "--algorithm", "als:factor=3"]);
    assert!(
        !out.status.success() && stderr(&out).contains("factor"),
        "{}",
        describe(&out)
    );
    let out = env.run(&["recommend", "u1"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no trained model"),
        "{}",
        describe(&out)
    );
}
