//! Experiments end to end on PostgreSQL with real servers: two model versions in one
//! experiment, assignment identical on two server processes and after a restart, simulated
//! users clicking with a known lift that the report detects, an injected 45/55 split flagged
//! as a sample ratio mismatch, and bad definitions refused by name with nothing stored.

use std::io::Write as _;

use serde_json::Value;

use crate::common::{describe, stderr, Attune};
use crate::server::{PgSchema, Server};

/// A small synthetic shop (seeded) written as JSON lines and imported into `store_url`.
fn load_shop(env: &Attune, pg: &[(&str, &str)]) {
    let data = attune_testkit::generate(&attune_testkit::SyntheticConfig {
        n_users: 400,
        n_items: 120,
        n_events: 12_000,
        seed: 5,
        ..attune_testkit::SyntheticConfig::default()
    });
    let write = |name: &str, lines: Vec<Value>| {
        let path = env.path().join(name);
        let mut f = std::fs::File::create(&path).unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
        path
    };
    let items = write(
        "items.jsonl",
        data.items
            .iter()
            .map(attune_server::api::item_to_json)
            .collect(),
    );
    let events = write(
        "events.jsonl",
        data.events
            .iter()
            .map(attune_server::api::event_to_json)
            .collect(),
    );
    for (what, path) in [("items", &items), ("events", &events)] {
        let out = env
            .command(&["import", what, path.to_str().unwrap()])
            .envs(pg.iter().copied())
            .output()
            .unwrap();
        // Planted noise (unknown items, bot bursts) may be reported; the rest is imported.
        assert!(
            out.status.success() || out.status.code() == Some(1),
            "{}",
            describe(&out)
        );
    }
}

fn ok(env: &Attune, pg: &[(&str, &str)], args: &[&str]) -> String {
    let out = env.command(args).envs(pg.iter().copied()).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", describe(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn variant_of(server: &Server, user: &str) -> String {
    let a = server
        .client()
        .get(&format!("/v1/users/{user}/recommendations?n=5"))
        .unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["experiment"]["variant"]
        .as_str()
        .unwrap_or_else(|| panic!("{user} is not in the experiment: {}", a.body))
        .to_string()
}

#[test]
fn two_model_versions_split_detected_lift_srm_and_sticky_assignment_on_postgres() {
    let env = Attune::new();
    let schema = PgSchema::new("experiments");
    let pg = [("ATTUNE_STORE__URL", schema.url.as_str())];
    load_shop(&env, &pg);
    ok(&env, &pg, &["train", "--algorithm", "ease:lambda=50"]);
    ok(&env, &pg, &["train", "--algorithm", "popularity"]);

    // Bad definitions are refused by name, and nothing is stored.
    let bad = env.path().join("bad.json");
    for (definition, field) in [
        (
            r#"{"variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.6}]}"#,
            "variants",
        ),
        (
            r#"{"variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5, "model_version": 9}]}"#,
            "variants[1].model_version",
        ),
    ] {
        std::fs::write(&bad, definition).unwrap();
        let out = env
            .command(&[
                "experiment",
                "create",
                "bad",
                "--file",
                bad.to_str().unwrap(),
            ])
            .envs(pg)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        assert!(stderr(&out).contains(field), "{}", describe(&out));
    }

    let def = env.path().join("ab.json");
    std::fs::write(
        &def,
        r#"{"description": "EASE (active, v1) against popularity (v2)",
            "variants": [{"name": "ease", "share": 0.5},
                         {"name": "popular", "share": 0.5, "model_version": 2}]}"#,
    )
    .unwrap();
    let out = ok(
        &env,
        &pg,
        &[
            "experiment",
            "create",
            "ab",
            "--file",
            def.to_str().unwrap(),
            "--start",
        ],
    );
    assert!(out.contains("phase 1"), "{out}");
    // The layer is now full: another experiment in it cannot start.
    let out = env
        .command(&[
            "experiment",
            "create",
            "ab2",
            "--file",
            def.to_str().unwrap(),
            "--start",
        ])
        .envs(pg)
        .output()
        .unwrap();
    assert!(
        !out.status.success() && stderr(&out).contains("no free range"),
        "{}",
        describe(&out)
    );

    // Two replicas over one PostgreSQL assign alike, and so does a restarted one.
    let a = Server::start(&env, Some(&schema.url));
    let b = Server::start(&env, Some(&schema.url));
    let users: Vec<String> = (0..40).map(|u| format!("user-{u}")).collect();
    let from_a: Vec<String> = users.iter().map(|u| variant_of(&a, u)).collect();
    let from_b: Vec<String> = users.iter().map(|u| variant_of(&b, u)).collect();
    assert_eq!(from_a, from_b);
    assert!(from_a.iter().any(|v| v == "ease") && from_a.iter().any(|v| v == "popular"));
    let list = a
        .client()
        .get("/v1/users/user-0/recommendations?n=5")
        .unwrap()
        .json();
    let served_version = if from_a[0] == "popular" { 2 } else { 1 };
    assert_eq!(list["model_version"], served_version, "{list}");
    drop(a);
    let a = Server::start(&env, Some(&schema.url));
    let again: Vec<String> = users.iter().map(|u| variant_of(&a, u)).collect();
    assert_eq!(again, from_a);

    // Simulated users: `popular` lists are clicked twice as often. The report finds it.
    let url = format!("http://{}", a.addr);
    let sim = ok(
        &env,
        &pg,
        &[
            "experiment",
            "simulate",
            "ab",
            "--url",
            &url,
            "--users",
            "400",
            "--lists-per-user",
            "2",
            "--base-ctr",
            "0.15",
            "--lift",
            "popular=1.0",
            "--seed",
            "3",
        ],
    );
    assert!(sim.contains("report:"), "{sim}");
    let report: Value =
        serde_json::from_str(&ok(&env, &pg, &["experiment", "report", "ab", "--json"])).unwrap();
    let ctr = &report["metrics"]["ctr"][0];
    assert_eq!(ctr["variant"], "popular", "{report}");
    assert_eq!(ctr["significant"], true, "{report}");
    assert!(ctr["lift"]["estimate"].as_f64().unwrap() > 0.3, "{report}");
    assert!(
        report["decision"]
            .as_str()
            .unwrap()
            .contains("ship popular"),
        "{report}"
    );
    assert_eq!(report["srm"]["mismatch"], false, "{report}");
    // The API gives the same report.
    let api = a.client().get("/v1/experiments/ab/results").unwrap().json();
    assert_eq!(api["metrics"]["ctr"], report["metrics"]["ctr"]);

    // A 45/55 split where 50/50 was planned is flagged.
    let store = attune_store::open(&schema.url).unwrap();
    std::fs::write(
        &def,
        r#"{"variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]}"#,
    )
    .unwrap();
    ok(
        &env,
        &pg,
        &[
            "experiment",
            "create",
            "srm",
            "--layer",
            "other",
            "--file",
            def.to_str().unwrap(),
            "--start",
        ],
    );
    // 1,800 against 2,200: χ² = 40, p ≈ 3e-10.
    let exposures: Vec<attune_store::Exposure> = (0..4_000)
        .map(|u| attune_store::Exposure {
            experiment: "srm".into(),
            phase: 1,
            user_key: format!("srm-user-{u}"),
            variant: if u < 1_800 { "a" } else { "b" }.into(),
            at_micros: chrono::Utc::now().timestamp_micros(),
        })
        .collect();
    store.record_exposures("default", &exposures).unwrap();
    let srm: Value =
        serde_json::from_str(&ok(&env, &pg, &["experiment", "report", "srm", "--json"])).unwrap();
    assert_eq!(srm["srm"]["mismatch"], true, "{srm}");
    assert!(srm["srm"]["p_value"].as_f64().unwrap() < 0.001, "{srm}");
}

/// `attune experiment analyze` computes the report's statistics from aggregates made
/// elsewhere; the p-values equal statsmodels'/scipy's (computed once with
/// `proportions_ztest([150, 120], [1000, 1000])`,
/// `ttest_ind_from_stats(12.5, sqrt(30), 800, 11.9, sqrt(28), 820, equal_var=False)` and
/// `chisquare([1800, 2200], [2000, 2000])`; `scripts/stats_reference.py` covers the same
/// functions in the core's reference tests).
#[test]
fn analyze_reads_aggregates_and_matches_the_reference() {
    let env = Attune::new();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b.abs();
    let run = |csv: &str, extra: &[&str]| -> Value {
        let f = env.path().join("agg.csv");
        std::fs::write(&f, csv).unwrap();
        let mut args = vec!["experiment", "analyze", f.to_str().unwrap(), "--json"];
        args.extend_from_slice(extra);
        serde_json::from_str(&env.ok(&args)).unwrap()
    };
    let p = run(
        "variant,users,conversions\ncontrol,1000,120\nnew,1000,150\n",
        &[],
    );
    let c = &p["comparisons"][0];
    assert!(
        close(c["p_value"].as_f64().unwrap(), 0.04964038686536878),
        "{p}"
    );
    assert!(
        close(c["difference"]["estimate"].as_f64().unwrap(), 0.03),
        "{p}"
    );
    assert_eq!(c["significant"], true);
    assert!(
        c["decision"].as_str().unwrap().starts_with("new raises"),
        "{p}"
    );

    let m = run(
        "variant,n,mean,variance\nA,820,11.9,28\nB,800,12.5,30\n",
        &["--shares", "A=0.5,B=0.5"],
    );
    let c = &m["comparisons"][0];
    assert!(
        close(c["p_value"].as_f64().unwrap(), 0.02512409274819413),
        "{m}"
    );
    assert_eq!(m["srm"]["mismatch"], false, "{m}");

    let s = run(
        "variant,users,conversions\na,1800,90\nb,2200,110\n",
        &["--shares", "a=0.5,b=0.5"],
    );
    assert!(
        close(
            s["srm"]["p_value"].as_f64().unwrap(),
            2.5396285894708634e-10
        ),
        "{s}"
    );
    assert_eq!(s["srm"]["mismatch"], true);
    assert!(
        s["comparisons"][0]["decision"]
            .as_str()
            .unwrap()
            .contains("sample ratio mismatch"),
        "{s}"
    );

    // Bad files say what is wrong.
    let f = env.path().join("bad.csv");
    std::fs::write(&f, "variant,clicks\na,1\nb,2\n").unwrap();
    let out = env.run(&["experiment", "analyze", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        stderr(&out).contains("unrecognized columns"),
        "{}",
        describe(&out)
    );
}

#[test]
fn bandit_recomputes_and_prints_the_state_and_refuses_what_is_not_a_bandit() {
    let env = Attune::new();
    load_shop(&env, &[]);
    let def = |name: &str, text: &str| {
        let f = env.path().join(name);
        std::fs::write(&f, text).unwrap();
        f.to_str().unwrap().to_string()
    };
    let contextual = def(
        "ctx.json",
        r#"{"variants": [{"name": "plain", "share": 0.5},
                         {"name": "diverse", "share": 0.5, "diversity": 0.6}],
            "allocation": {"kind": "bandit", "policy": "linucb", "context": ["country"]}}"#,
    );
    env.ok(&[
        "experiment",
        "create",
        "slot",
        "--file",
        &contextual,
        "--start",
    ]);
    let text = env.ok(&["experiment", "bandit", "slot"]);
    assert!(
        text.contains("bandit (phase 1): estimated regret 0.0 lists"),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("diverse")), "{text}");
    let state: Value =
        serde_json::from_str(&env.ok(&["experiment", "bandit", "slot", "--json"])).unwrap();
    assert_eq!(state["trials"], serde_json::json!([0, 0]), "{state}");
    assert_eq!(state["contextual"]["encoder"]["attributes"][0], "country");

    let missing = def(
        "bad.json",
        r#"{"variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}],
            "allocation": {"kind": "bandit", "policy": "lin_thompson"}}"#,
    );
    let out = env
        .command(&["experiment", "create", "bad", "--file", &missing])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("allocation.context"),
        "{}",
        describe(&out)
    );

    let fixed = def(
        "fixed.json",
        r#"{"variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]}"#,
    );
    env.ok(&[
        "experiment",
        "create",
        "fixed",
        "--file",
        &fixed,
        "--layer",
        "other",
        "--start",
    ]);
    let out = env
        .command(&["experiment", "bandit", "fixed"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not a bandit"), "{}", describe(&out));
}
