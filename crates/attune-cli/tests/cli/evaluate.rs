//! `attune evaluate` through the real binary: splits, folds, grids chosen on validation,
//! bring-your-own files with another tool's lists, protocols, and errors.

use serde_json::Value;

use crate::common::{describe, stderr, Attune};

const USERS: u32 = 80;

/// A rating log with two taste groups: user `u` rates ten items of its own parity 4 or 5 and
/// three of the other parity 1 or 2, at increasing times.
fn ratings_app() -> Attune {
    let env = Attune::new();
    let mut events = String::new();
    for u in 0..USERS {
        let g = u % 2;
        let liked = (0..10).map(|j| (((u + 3 * j) % 20) * 2 + g, 4 + (u + j) % 2));
        let disliked = (0..3).map(|j| (((u + 7 * j) % 20) * 2 + 1 - g, 1 + (u + j) % 2));
        for (n, (item, rating)) in liked.chain(disliked).enumerate() {
            events.push_str(&format!(
                "{{\"event_id\":\"r{u}-{n}\",\"type\":\"rating\",\"value\":{rating},\"user_id\":\"u{u}\",\"item_id\":\"i{item}\",\"timestamp\":\"2026-03-{:02}T10:{:02}:00Z\"}}\n",
                1 + n,
                u % 60
            ));
        }
    }
    let path = env.path().join("ratings.jsonl");
    std::fs::write(&path, events).unwrap();
    env.ok(&["import", "events", path.to_str().unwrap()]);
    env
}

fn json(env: &Attune, name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(env.path().join(name)).unwrap()).unwrap()
}

/// A column of a JSON report by label.
fn column<'a>(report: &'a Value, label: &str) -> &'a Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == label)
        .unwrap_or_else(|| panic!("no column {label}: {report}"))
}

#[test]
fn kfold_reports_mean_and_std_and_personalized_models_beat_popularity() {
    let env = ratings_app();
    let report = env.path().join("kfold.json");
    let out = env.ok(&[
        "evaluate",
        "--split",
        "kfold",
        "--folds",
        "3",
        "-a",
        "popularity",
        "-a",
        "item-knn:neighbours=10",
        "-a",
        "mf:factors=4,epochs=40,learning_rate=0.02",
        "--json",
        report.to_str().unwrap(),
    ]);
    assert!(out.contains("3-fold cross-validation"), "{out}");
    assert!(
        out.contains("mean ± sample standard deviation over 3 folds"),
        "{out}"
    );
    let ndcg = out.lines().find(|l| l.starts_with("ndcg@10")).unwrap();
    assert_eq!(ndcg.matches('±').count(), 3, "{out}");
    let j = json(&env, "kfold.json");
    assert_eq!(j["setup"]["folds"], 3);
    let pop = column(&j, "popularity");
    let knn = column(&j, "item-knn:neighbours=10");
    assert_eq!(pop["folds"].as_array().unwrap().len(), 3);
    // Taste groups: item-kNN must rank the own-parity items far above popularity.
    let (p, k) = (
        pop["mean"]["ndcg@10"].as_f64().unwrap(),
        knn["mean"]["ndcg@10"].as_f64().unwrap(),
    );
    assert!(k > 1.5 * p, "item-knn {k} vs popularity {p}");
    // Only MF predicts ratings; its error is well below the rating spread (1..5).
    let mf = column(&j, "mf:factors=4,epochs=40,learning_rate=0.02");
    let rmse = mf["mean"]["rmse"].as_f64().unwrap();
    assert!(rmse < 1.2, "rmse {rmse}");
    assert!(pop["mean"].get("rmse").is_none());
    // Every fold scores every pair once: the three test parts sum to all 13 · 80 pairs.
    let ratings: f64 = mf["folds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["ratings"].as_f64().unwrap())
        .sum();
    assert_eq!(ratings, f64::from(13 * USERS));
    for metric in [
        "map@10",
        "mrr@10",
        "coverage@10",
        "diversity@10",
        "novelty@10",
    ] {
        assert!(knn["mean"].get(metric).is_some(), "{metric}: {knn}");
    }
}

#[test]
fn a_grid_is_chosen_on_validation_and_reported_on_test() {
    let env = ratings_app();
    let report = env.path().join("grid.json");
    let out = env.ok(&[
        "evaluate",
        "--split",
        "ratio",
        "--ratios",
        "0.6,0.2,0.2",
        "-a",
        "ease:lambda=1|10|100",
        "--json",
        report.to_str().unwrap(),
    ]);
    assert!(
        out.contains("chosen on validation ndcg@10 among 3 candidates"),
        "{out}"
    );
    let j = json(&env, "grid.json");
    let c = column(&j, "ease:lambda=1|10|100");
    let validation = c["validation"][0].as_array().unwrap();
    assert_eq!(validation.len(), 3);
    let best = validation
        .iter()
        .max_by(|a, b| {
            a["value"]
                .as_f64()
                .partial_cmp(&b["value"].as_f64())
                .unwrap()
        })
        .unwrap();
    assert_eq!(c["specs"][0], best["spec"], "{c}");
    assert_eq!(
        c["folds"][0]["validation_ndcg@10"], best["value"],
        "the chosen candidate's validation score is reported"
    );

    // Without a validation part a grid cannot be chosen honestly: a clear error.
    let out = env.run(&["evaluate", "-a", "ease:lambda=1|10"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        stderr(&out).contains("no validation part"),
        "{}",
        describe(&out)
    );
}

#[test]
fn own_split_files_and_outside_lists_use_the_same_metrics() {
    let env = Attune::new();
    let dir = env.path();
    // Three users; test: u1 has a and b, u2 has c, u3 has d.
    std::fs::write(
        dir.join("train.tsv"),
        "user_id:token\titem_id:token\trating:float\nu1\tx\t4\nu2\tx\t5\nu2\ty\t3\nu3\ty\t4\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("test.csv"),
        "user_id,item_id\nu1,a\nu1,b\nu2,c\nu3,d\n",
    )
    .unwrap();
    // u1: both relevant at ranks 1 and 3; u2: its item at rank 2; u3: nothing relevant.
    std::fs::write(
        dir.join("lists.csv"),
        "user_id,rank,item_id,score\nu1,1,a,3\nu1,2,zzz,2\nu1,3,b,1\nu2,1,d,2\nu2,2,c,1\nu3,1,a,1\n",
    )
    .unwrap();
    let train = dir.join("train.tsv");
    let test = dir.join("test.csv");
    let lists = format!("mine={}", dir.join("lists.csv").display());
    let out = env.ok(&[
        "evaluate",
        "--train",
        train.to_str().unwrap(),
        "--test",
        test.to_str().unwrap(),
        "-k",
        "3",
        "-a",
        "popularity",
        "--lists",
        &lists,
        "--json",
        dir.join("own.json").to_str().unwrap(),
    ]);
    assert!(out.contains("bring-your-own split"), "{out}");
    let j = json(&env, "own.json");
    let m = &column(&j, "mine")["folds"][0];
    let close = |name: &str, want: f64| {
        let got = m[name].as_f64().unwrap();
        assert!((got - want).abs() < 1e-9, "{name}: {got} vs {want}\n{m}");
    };
    close("users", 3.0);
    close("precision@3", (2.0 / 3.0 + 1.0 / 3.0 + 0.0) / 3.0);
    close("recall@3", (1.0 + 1.0 + 0.0) / 3.0);
    close("hit_rate@3", 2.0 / 3.0);
    close("mrr@3", (1.0 + 0.5 + 0.0) / 3.0);
    let idcg2 = 1.0 + 1.0 / 3f64.log2();
    let u1 = (1.0 + 1.0 / 4f64.log2()) / idcg2;
    let u2 = 1.0 / 3f64.log2();
    close("ndcg@3", (u1 + u2) / 3.0);
    // A model column over the same test users.
    assert_eq!(column(&j, "popularity")["folds"][0]["users"], 3.0);
}

#[test]
fn save_split_then_reload_gives_the_same_numbers() {
    let env = ratings_app();
    let dir = env.path().join("split");
    let first = env.ok(&[
        "evaluate",
        "--split",
        "last-n",
        "-a",
        "item-knn",
        "--save-split",
        dir.to_str().unwrap(),
        "--json",
        env.path().join("a.json").to_str().unwrap(),
    ]);
    assert!(first.contains("last-n split"), "{first}");
    let test = std::fs::read_to_string(dir.join("test.csv")).unwrap();
    assert_eq!(
        test.lines().count(),
        1 + USERS as usize,
        "one held-out pair per user"
    );
    env.ok(&[
        "evaluate",
        "--train",
        dir.join("train.csv").to_str().unwrap(),
        "--test",
        dir.join("test.csv").to_str().unwrap(),
        "-a",
        "item-knn",
        "--json",
        env.path().join("b.json").to_str().unwrap(),
    ]);
    let (a, b) = (json(&env, "a.json"), json(&env, "b.json"));
    for metric in ["ndcg@10", "recall@10", "precision@10", "coverage@10"] {
        assert_eq!(
            a["results"][0]["folds"][0][metric], b["results"][0]["folds"][0][metric],
            "{metric}"
        );
    }
}

#[test]
fn other_splits_run_and_protocol_rules_are_enforced() {
    let env = ratings_app();
    for split in ["random", "temporal", "new-users", "new-items"] {
        let out = env.run(&["evaluate", "--split", split, "-a", "item-knn"]);
        assert!(out.status.success(), "{split}: {}", describe(&out));
    }
    let out = env.ok(&["evaluate", "--protocol", "surprise", "-a", "mf:factors=4"]);
    assert!(out.contains("Surprise protocol"), "{out}");
    assert!(out.contains("rmse") && !out.contains("ndcg@10"), "{out}");
    let out = env.run(&["evaluate", "--protocol", "surprise", "-a", "ease"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("does not predict ratings"),
        "{}",
        describe(&out)
    );
    // RecBole: ratings below 3 never reach any part.
    let j = env.path().join("rb.json");
    env.ok(&[
        "evaluate",
        "--protocol",
        "recbole",
        "-a",
        "popularity",
        "--json",
        j.to_str().unwrap(),
    ]);
    let rb = json(&env, "rb.json");
    assert_eq!(rb["setup"]["pairs_evaluated"], 10 * USERS);
    assert_eq!(rb["select_by"], "mrr@10");
}

#[test]
fn bad_input_is_a_clear_error() {
    let env = ratings_app();
    let cases: [(&[&str], &str); 5] = [
        (&["evaluate", "-a", "als:factor=8"], "factors"),
        (&["evaluate"], "--algorithm"),
        (
            &["evaluate", "-a", "ease", "--test-fraction", "1.5"],
            "test_fraction",
        ),
        (
            &["evaluate", "-a", "ease", "--split", "kfold", "--folds", "1"],
            "folds",
        ),
        (&["evaluate", "-a", "ease", "--app", "nope"], "unknown app"),
    ];
    for (args, want) in cases {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", describe(&out));
        assert!(stderr(&out).contains(want), "{args:?}: {}", describe(&out));
    }
}

#[test]
fn held_out_items_are_reached_by_content_not_by_category_popularity() {
    // The demo shop: item titles, descriptions and categories; users with category tastes.
    let env = Attune::new();
    env.ok(&[
        "demo",
        "--no-serve",
        "--data-dir",
        env.path().to_str().unwrap(),
    ]);
    let r = env.path().join("cold.json");
    let out = env.ok(&[
        "evaluate",
        "--split",
        "new-items",
        "-a",
        "content",
        "-a",
        "hybrid",
        "-a",
        "category-popularity",
        "--json",
        r.to_str().unwrap(),
    ]);
    assert!(out.contains("new-items split"), "{out}");
    let j = json(&env, "cold.json");
    let recall = |label: &str| column(&j, label)["mean"]["recall@10"].as_f64().unwrap();
    let (content, hybrid, category) = (
        recall("content"),
        recall("hybrid"),
        recall("category-popularity"),
    );
    // Measured: content 0.52, hybrid 0.56, category popularity 0.09 (it has no popularity for
    // an item nobody has touched, so it cannot tell the held-out items apart).
    assert!(
        content >= 2.0 * category,
        "content {content} vs category popularity {category}"
    );
    assert!(
        hybrid >= 2.0 * category,
        "hybrid {hybrid} vs category popularity {category}"
    );
}

/// Users whose taste moves: each first views eight items of one group, then eight of the next
/// group, in time order. Their latest items (test) come from the second group.
fn drifting_app() -> Attune {
    let env = Attune::new();
    let mut events = String::new();
    for u in 0..120u32 {
        let (first, second) = (u % 4, (u + 1) % 4);
        let items = (0..8)
            .map(|j| first * 30 + (u + 3 * j) % 30)
            .chain((0..8).map(|j| second * 30 + (u + 7 * j) % 30));
        for (n, item) in items.enumerate() {
            events.push_str(&format!(
                "{{\"event_id\":\"d{u}-{n}\",\"type\":\"view\",\"user_id\":\"u{u}\",\"item_id\":\"i{item}\",\"timestamp\":\"2026-03-{:02}T10:{:02}:00+02:00\"}}\n",
                1 + n,
                u % 60
            ));
        }
    }
    let path = env.path().join("drift.jsonl");
    std::fs::write(&path, events).unwrap();
    env.ok(&["import", "events", path.to_str().unwrap()]);
    env
}

#[test]
fn user_recency_is_chosen_on_validation_and_follows_moving_tastes() {
    let env = drifting_app();
    let run = |recency: &str, file: &str| {
        let path = env.path().join(file);
        env.ok(&[
            "evaluate",
            "--split",
            "user-temporal",
            "--refit",
            "--user-recency",
            recency,
            "-a",
            "ease:lambda=10",
            "--json",
            path.to_str().unwrap(),
        ]);
        json(&env, file)
    };
    let off = run("0", "off.json");
    let chosen = run("0,2", "chosen.json");
    let (off, chosen) = (
        column(&off, "ease:lambda=10"),
        column(&chosen, "ease:lambda=10"),
    );
    assert_eq!(off["specs"][0], "ease:lambda=10 user-recency=off", "{off}");
    assert_eq!(
        chosen["specs"][0], "ease:lambda=10 user-recency=2",
        "{chosen}"
    );
    let ndcg = |c: &Value| c["folds"][0]["ndcg@10"].as_f64().unwrap();
    assert!(
        ndcg(chosen) > ndcg(off) + 0.05,
        "recent items should predict the next ones: {} vs {}",
        ndcg(chosen),
        ndcg(off)
    );
    // Both half-lives were scored on validation.
    assert_eq!(chosen["validation"][0].as_array().unwrap().len(), 2);
}

#[test]
fn history_grids_and_refit_need_a_validation_part() {
    let env = drifting_app();
    for extra in [
        &["--user-recency", "0,3"][..],
        &["--history-rating-exponent", "0,1"][..],
        &["--refit"][..],
    ] {
        let mut args = vec!["evaluate", "--split", "random", "-a", "ease"];
        args.extend_from_slice(extra);
        let out = env.run(&args);
        assert!(!out.status.success(), "{}", describe(&out));
        assert!(
            stderr(&out).contains("validation part"),
            "{}",
            describe(&out)
        );
    }
    let out = env.run(&[
        "evaluate",
        "--split",
        "user-temporal",
        "--user-recency=-1",
        "-a",
        "ease",
    ]);
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        stderr(&out).contains("--user-recency -1"),
        "{}",
        describe(&out)
    );
    let out = env.run(&[
        "evaluate",
        "--split",
        "user-temporal",
        "--history-rating-exponent",
        "0,5",
        "-a",
        "ease",
    ]);
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        stderr(&out).contains("--history-rating-exponent 5") && stderr(&out).contains("(0, 4]"),
        "{}",
        describe(&out)
    );
}

#[test]
fn by_segment_compares_the_global_choice_with_each_segments_own() {
    let env = drifting_app();
    // Two tiers by user parity; a third tier whose only user has no interactions.
    let mut users = String::from("user_id,tier\n");
    for u in 0..120u32 {
        users.push_str(&format!(
            "u{u},{}\n",
            if u % 2 == 0 { "even" } else { "odd" }
        ));
    }
    users.push_str("ghost,vip\n");
    let path = env.path().join("users.csv");
    std::fs::write(&path, users).unwrap();
    env.ok(&["import", "users", path.to_str().unwrap()]);
    let report = env.path().join("by.json");
    let out = env.ok(&[
        "evaluate",
        "--split",
        "user-temporal",
        "--refit",
        "--user-recency",
        "0,2",
        "--by",
        "tier",
        "-a",
        "ease:lambda=1|100",
        "--json",
        report.to_str().unwrap(),
    ]);
    assert!(out.contains("by tier (ndcg@10 on test"), "{out}");
    let rows = json(&env, "by.json")["by_segment"]
        .as_array()
        .unwrap()
        .clone();
    let tiers: Vec<&str> = rows
        .iter()
        .map(|r| r["segment"].as_str().unwrap())
        .collect();
    assert_eq!(tiers, ["even", "odd", "vip"], "{rows:?}");
    // The ghost's tier has no interactions: reported empty, not scored.
    let vip = &rows[2];
    assert_eq!(vip["users"], 0, "{vip}");
    assert!(
        vip["global"].is_null() && vip["per_segment"].is_null(),
        "{vip}"
    );
    assert!(out.contains("no validation users"), "{out}");
    let global = column(&json(&env, "by.json"), "ease:lambda=1|100")["specs"][0].clone();
    for r in &rows[..2] {
        assert_eq!(r["users"], 60, "{r}");
        assert_eq!(r["global_spec"], global, "{r}");
        let (g, own) = (
            r["global"].as_f64().unwrap(),
            r["per_segment"].as_f64().unwrap(),
        );
        assert!(
            (0.0..=1.0).contains(&g) && (0.0..=1.0).contains(&own),
            "{r}"
        );
        // A segment's own choice is at least as good as the global one on its validation users.
        assert!(
            r["segment_validation"].as_f64().unwrap() >= r["global_validation"].as_f64().unwrap(),
            "{r}"
        );
    }
    // Without a validation part there is nothing to choose on.
    let out = env.run(&[
        "evaluate", "--split", "random", "--by", "tier", "-a", "ease",
    ]);
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        stderr(&out).contains("--by chooses per segment"),
        "{}",
        describe(&out)
    );
    // An attribute nobody has.
    let out = env.run(&[
        "evaluate",
        "--split",
        "user-temporal",
        "--by",
        "nope",
        "-a",
        "ease",
    ]);
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        stderr(&out).contains("attribute \"nope\""),
        "{}",
        describe(&out)
    );
}
