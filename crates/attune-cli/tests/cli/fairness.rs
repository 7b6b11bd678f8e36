//! `attune fairness audit` through the real binary: a shop with a popular head and a long tail,
//! users with a gender attribute, items with a brand; the audit's figures are consistent with
//! their definitions and re-ranking moves exposure toward the target shares.

use serde_json::Value;

use crate::common::{describe, stderr, Attune};

const USERS: u32 = 60;
const ITEMS: u32 = 30;

/// Every user viewed items 0..3 with probability falling by index (a popular head), plus
/// six items of their own taste group (`u % 3`) spread over the tail, at increasing times.
fn shop() -> Attune {
    let env = Attune::new();
    let mut users = String::from("user_id,gender\n");
    let mut items = String::from("item_id,title,brand\n");
    for i in 0..ITEMS {
        let brand = if i % 2 == 0 { "acme" } else { "zenith" };
        items.push_str(&format!("i{i:02},Item {i},{brand}\n"));
    }
    let mut events = String::new();
    let mut n = 0;
    for u in 0..USERS {
        users.push_str(&format!("u{u:02},{}\n", if u % 2 == 0 { "F" } else { "M" }));
        let head = (0..4).filter(|&i| (u + i) % (i + 1) == 0 || i == 0);
        let taste = (0..6).map(|j| 4 + (u % 3) + 3 * ((u / 3 + j) % 8));
        for item in head.chain(taste) {
            n += 1;
            events.push_str(&format!(
                "{{\"event_id\":\"v{n}\",\"type\":\"view\",\"user_id\":\"u{u:02}\",\"item_id\":\"i{item:02}\",\"timestamp\":\"2026-03-01T10:{:02}:{:02}Z\"}}\n",
                n / 60 % 60,
                n % 60
            ));
        }
    }
    for (name, text) in [
        ("users.csv", users),
        ("items.csv", items),
        ("events.jsonl", events),
    ] {
        std::fs::write(env.path().join(name), text).unwrap();
    }
    let p = |name: &str| env.path().join(name).to_str().unwrap().to_string();
    env.ok(&["import", "items", &p("items.csv")]);
    env.ok(&["import", "users", &p("users.csv")]);
    env.ok(&["import", "events", &p("events.jsonl")]);
    env
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn spread(values: &[f64]) -> f64 {
    values.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
        - values.iter().cloned().fold(f64::INFINITY, f64::min)
}

#[test]
fn audit_reports_exposure_and_user_quality_and_reranking_moves_exposure_toward_the_targets() {
    let env = shop();
    let out = env.ok(&[
        "fairness",
        "audit",
        "-a",
        "item-knn:neighbours=10",
        "--item-groups",
        "popularity:3",
        "--user-groups",
        "attr:gender",
        "--rerank-lambda",
        "0.5,2",
        "--candidates",
        "20",
        "-k",
        "5",
        "--json",
    ]);
    let j: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let runs = j["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(f(&runs[0]["lambda"]), 0.0);
    for r in runs {
        let groups = r["exposure"]["groups"].as_array().unwrap();
        let labels: Vec<&str> = groups
            .iter()
            .map(|g| g["label"].as_str().unwrap())
            .collect();
        assert_eq!(labels, ["head", "mid", "tail"]);
        // The definitions: shares sum to 1, the gap is max − min of them, ratio = share ÷
        // catalogue share, the catalogue shares sum to 1.
        let shares: Vec<f64> = groups.iter().map(|g| f(&g["share"])).collect();
        assert!(
            (shares.iter().sum::<f64>() - 1.0).abs() < 1e-9,
            "{shares:?}"
        );
        assert!((f(&r["exposure"]["gap"]) - spread(&shares)).abs() < 1e-12);
        for g in groups {
            let want = f(&g["share"]) / f(&g["catalogue_share"]);
            assert!((f(&g["ratio"]) - want).abs() < 1e-9, "{g}");
            assert_eq!(f(&g["target"]), 1.0 / 3.0);
        }
        let items: u64 = groups.iter().map(|g| g["items"].as_u64().unwrap()).sum();
        assert_eq!(items, u64::from(ITEMS));
        let gini = f(&r["exposure"]["gini"]);
        assert!((0.0..1.0).contains(&gini), "{gini}");
        // User groups: F and M, the gaps are max − min of their hit rates and recalls.
        let q = &r["user_quality"];
        let ug = q["groups"].as_array().unwrap();
        assert_eq!(ug.len(), 2);
        assert_eq!(
            (ug[0]["label"].as_str(), ug[1]["label"].as_str()),
            (Some("F"), Some("M"))
        );
        let users: u64 = ug.iter().map(|g| g["users"].as_u64().unwrap()).sum();
        assert_eq!(users, r["users"].as_u64().unwrap());
        let hit: Vec<f64> = ug.iter().map(|g| f(&g["hit_rate"])).collect();
        let recall: Vec<f64> = ug.iter().map(|g| f(&g["recall"])).collect();
        assert!((f(&q["dp_gap"]) - spread(&hit)).abs() < 1e-12);
        assert!((f(&q["eo_gap"]) - spread(&recall)).abs() < 1e-12);
    }
    // Re-ranking: the gap falls with λ and the shares approach the targets; NDCG pays for it.
    let gap = |r: &Value| f(&r["exposure"]["gap"]);
    let off_target = |r: &Value| {
        r["exposure"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| (f(&g["share"]) - f(&g["target"])).abs())
            .fold(0.0, f64::max)
    };
    assert!(gap(&runs[1]) < gap(&runs[0]), "{out}");
    assert!(gap(&runs[2]) < gap(&runs[1]), "{out}");
    assert!(off_target(&runs[2]) < off_target(&runs[0]), "{out}");
    assert!(f(&runs[2]["ndcg@5"]) <= f(&runs[0]["ndcg@5"]), "{out}");
    assert!((f(&runs[2]["gap_change"]) - (gap(&runs[2]) / gap(&runs[0]) - 1.0)).abs() < 1e-12);

    // The table names the groups and every λ.
    let table = env.ok(&[
        "fairness",
        "audit",
        "-a",
        "item-knn:neighbours=10",
        "--item-groups",
        "attr:brand",
        "--rerank-lambda",
        "0.5",
    ]);
    assert!(
        table.contains("item groups attr:brand: acme 15 items"),
        "{table}"
    );
    assert!(
        table.lines().any(|l| l.trim_start().starts_with("0.5 ")),
        "{table}"
    );
}

#[test]
fn bad_group_specs_and_parameters_are_clear_errors() {
    let env = shop();
    for (args, want) in [
        (
            vec!["--item-groups", "pop:3"],
            "expected attr:<name>, popularity:<K> or new:<DAYS>",
        ),
        (
            vec!["--item-groups", "popularity:0"],
            "K must be a positive integer",
        ),
        (
            vec!["--user-groups", "attr:age"],
            "no user profile has this attribute",
        ),
        (
            vec!["--item-groups", "attr:colour"],
            "no catalog item has this attribute",
        ),
        (vec!["--targets", "top=1"], "no such group"),
        (vec!["--rerank-lambda=-1"], "invalid --rerank-lambda -1"),
        (vec!["--candidates", "3"], "at least -k 10 candidates"),
        (vec!["-a", "ease:lambda=1|2"], "grid of 2 candidates"),
    ] {
        let mut all = vec!["fairness", "audit"];
        all.extend(args.iter());
        let out = env.run(&all);
        assert!(!out.status.success(), "{args:?}: {}", describe(&out));
        assert!(stderr(&out).contains(want), "{args:?}: {}", describe(&out));
    }
}

/// The share of position-discounted exposure that odd items (brand zenith) get in every
/// user's top 5 from `attune recommend`, with `env_vars` set.
fn zenith_share(env: &Attune, env_vars: &[(&str, &str)]) -> f64 {
    let (mut zenith, mut total) = (0.0, 0.0);
    for u in 0..12 {
        let user = format!("u{u:02}");
        let mut cmd = env.command(&["recommend", &user, "-n", "5", "--json"]);
        for (k, v) in env_vars {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        let j: Value = serde_json::from_slice(&out.stdout).unwrap();
        for (p, item) in j["items"].as_array().unwrap().iter().enumerate() {
            let d = 1.0 / ((p + 2) as f64).log2();
            total += d;
            let id = item["item_id"].as_str().unwrap();
            if id[1..].parse::<u32>().unwrap() % 2 == 1 {
                zenith += d;
            }
        }
    }
    zenith / total
}

#[test]
fn serving_fairness_reranks_attune_recommend_and_online_figures_answer() {
    let env = shop();
    env.ok(&["train", "--algorithm", "item-knn:neighbours=10"]);
    let fair = [
        ("ATTUNE_SERVING__FAIRNESS__ENABLED", "true"),
        ("ATTUNE_SERVING__FAIRNESS__ITEM_GROUPS", "attr:brand"),
        ("ATTUNE_SERVING__FAIRNESS__TARGETS", "acme=0.1,zenith=0.9"),
        ("ATTUNE_SERVING__FAIRNESS__LAMBDA", "2"),
        ("ATTUNE_SERVING__FAIRNESS__CANDIDATES", "30"),
    ];
    let off = zenith_share(&env, &[]);
    let on = zenith_share(&env, &fair);
    assert!(on > off + 0.05, "zenith share on {on} vs off {off}");

    // A bad [serving.fairness] value stops the command, naming the key.
    let mut cmd = env.command(&["recommend", "u01"]);
    cmd.env("ATTUNE_SERVING__FAIRNESS__LAMBDA", "-1");
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("serving.fairness.lambda"),
        "{}",
        describe(&out)
    );

    // The online figures answer (the document GET /v1/fairness returns).
    let j: Value = serde_json::from_str(&env.ok(&[
        "fairness",
        "online",
        "--window-secs",
        "3600",
        "--item-groups",
        "attr:brand",
        "--user-groups",
        "attr:gender",
        "--json",
    ]))
    .unwrap();
    assert_eq!(j["item_groups"], "attr:brand");
    assert_eq!(j["exposure"]["groups"].as_array().unwrap().len(), 2);
    let table = env.ok(&["fairness", "online", "--item-groups", "attr:brand"]);
    assert!(table.contains("item groups attr:brand"), "{table}");
    let out = env.run(&["fairness", "online", "--user-groups", "activity:2"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("user_groups"), "{}", describe(&out));
}
