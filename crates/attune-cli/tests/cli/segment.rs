//! `attune segment` on the demo shop: every user in exactly one segment, the sizes adding up,
//! the same answer for the same seed, and bad requests refused before anything is written.

use serde_json::Value;

use crate::common::{describe, stderr, Attune};

fn demo() -> Attune {
    let env = Attune::new();
    env.ok(&[
        "demo",
        "--no-serve",
        "--data-dir",
        env.path().to_str().unwrap(),
    ]);
    env
}

fn json(env: &Attune, args: &[&str]) -> Value {
    let mut all = vec!["segment", "--json", "--as-of", "2026-12-01T00:00:00Z"];
    all.extend_from_slice(args);
    serde_json::from_str(&env.ok(&all)).unwrap()
}

fn sizes(report: &Value) -> Vec<u64> {
    report["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["size"].as_u64().unwrap())
        .collect()
}

#[test]
fn kmeans_rules_and_dbscan_segment_every_user() {
    let env = demo();
    let assignments = env.path().join("segments.csv");
    let r = json(&env, &["--assignments", assignments.to_str().unwrap()]);
    let users = r["users"].as_u64().unwrap();
    assert_eq!(users, 2000);
    assert_eq!(r["method"]["name"], "kmeans");
    let k = r["method"]["k"].as_u64().unwrap();
    assert!((2..=8).contains(&k), "{}", r["method"]);
    assert_eq!(r["method"]["choice"].as_array().unwrap().len(), 7); // k = 2..=8
    let s = sizes(&r);
    assert_eq!(s.len() as u64, k);
    assert_eq!(s.iter().sum::<u64>(), users);
    assert!(s.windows(2).all(|w| w[0] >= w[1]), "largest first: {s:?}");
    for seg in r["segments"].as_array().unwrap() {
        assert!(!seg["summary"].as_str().unwrap().is_empty());
        assert!(seg["numeric"].as_array().unwrap().len() > 10);
    }
    let ratio = r["pca"]["explained_variance_ratio"].as_array().unwrap();
    assert_eq!(ratio.len(), 2);
    // One row per user, each in a segment the report lists.
    let csv = std::fs::read_to_string(&assignments).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("user_id,segment"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len() as u64, users);
    let names: Vec<&str> = r["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["segment"].as_str().unwrap())
        .collect();
    assert!(rows
        .iter()
        .all(|l| names.contains(&l.split_once(',').unwrap().1)));
    // Same seed, same segments, to the bit.
    assert!(
        json(&env, &[])["segments"] == r["segments"],
        "not reproducible"
    );

    let r = json(&env, &["--method", "rules"]);
    for seg in r["segments"].as_array().unwrap() {
        let name = seg["segment"].as_str().unwrap();
        assert!(
            ["new", "dormant", "heavy", "active"].contains(&name),
            "{name}"
        );
    }
    assert_eq!(sizes(&r).iter().sum::<u64>(), 2000);

    let r = json(&env, &["--method", "dbscan", "--min-samples", "10"]);
    assert_eq!(r["method"]["name"], "dbscan");
    assert!(r["method"]["eps_from_knee"].as_bool().unwrap());
    assert_eq!(sizes(&r).iter().sum::<u64>(), 2000);

    // The human report names the segments and their summaries.
    let text = env.ok(&["segment", "--k", "3", "--as-of", "2026-12-01T00:00:00Z"]);
    assert!(text.contains("k = 3 (given)"), "{text}");
    assert!(
        text.contains("cluster 0:") && text.contains("PC1:"),
        "{text}"
    );
}

#[test]
fn segments_are_saved_where_monitoring_and_fairness_read_them() {
    let env = demo();
    let out = env.run(&[
        "segment",
        "--method",
        "rules",
        "--save-as",
        "segment",
        "--as-of",
        "2026-12-01T00:00:00Z",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        stderr(&out).contains("stored the segment of 2000 users in their profiles as attributes.segment (2000 changed)"),
        "{}",
        stderr(&out)
    );
    // The same run again (as the scheduler repeats it): nothing moved, nothing written.
    let again = env.run(&[
        "segment",
        "--method",
        "rules",
        "--save-as",
        "segment",
        "--as-of",
        "2026-12-01T00:00:00Z",
    ]);
    assert!(stderr(&again).contains("(0 changed)"), "{}", stderr(&again));
    let users = env.ok(&["export", "users"]);
    let labelled = users
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|u| {
            ["new", "dormant", "heavy", "active"]
                .contains(&u["attributes"]["segment"].as_str().unwrap_or(""))
        })
        .count();
    assert_eq!(labelled, 2000);
    // The offline fairness audit reports quality by the stored segment.
    let audit: Value = serde_json::from_str(&env.ok(&[
        "fairness",
        "audit",
        "--user-groups",
        "attr:segment",
        "--json",
    ]))
    .unwrap();
    let text = audit.to_string();
    assert!(
        text.contains("dormant") || text.contains("active"),
        "{text}"
    );
}

#[test]
fn bad_requests_are_refused_before_anything_is_written() {
    let env = demo();
    let assignments = env.path().join("segments.csv");
    let target = assignments.to_str().unwrap();
    for (args, expected) in [
        (
            vec!["--k", "5000"],
            "k larger than the number of users: k = 5000, users = 2000",
        ),
        (
            vec!["--columns", "frequency,shoe_size"],
            "unknown feature \"shoe_size\"",
        ),
        (vec!["--method", "dbscan", "--eps=-1"], "eps"),
        (vec!["--k-max", "1"], "k_max"),
        (vec!["--save-as", "bad name\n"], "attributes"),
    ] {
        let mut all = vec!["segment", "--assignments", target];
        all.extend_from_slice(&args);
        let out = env.run(&all);
        assert!(!out.status.success(), "{args:?}: {}", describe(&out));
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(!assignments.exists(), "{args:?} wrote the file");
    }
    let out = env
        .command(&["segment", "--method", "rules"])
        .env("ATTUNE_SEGMENTS__RULES__DORMANT_DAYS", "7")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("segments.rules.dormant_days"),
        "{}",
        stderr(&out)
    );
}
