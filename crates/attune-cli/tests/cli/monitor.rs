//! `attune monitor` against a real server: lists served over HTTP give the same quality report
//! from the CLI and from `GET /v1/monitor/quality`, and the server's monitoring tick records
//! series that `attune monitor series` prints.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::Attune;
use crate::server::Server;

#[test]
fn the_cli_and_the_api_report_one_quality_and_ticks_record_series() {
    let env = Attune::new();
    env.ok(&[
        "demo",
        "--no-serve",
        "--data-dir",
        env.path().to_str().unwrap(),
    ]);
    let server = Server::start_with_env(&env, None, &[("ATTUNE_MONITOR__INTERVAL_SECS", "1")]);
    let c = server.client();
    for u in 0..12 {
        let a = c
            .get(&format!("/v1/users/user-{u}/recommendations?n=5"))
            .unwrap();
        assert_eq!(a.status, 200, "{}", a.body);
        if u % 3 == 0 {
            let list = a.json();
            let click = serde_json::json!({"type": "click", "user_id": format!("user-{u}"),
                "item_id": list["items"][1]["item_id"],
                "context": {"recommendation_id": list["recommendation_id"]}});
            let r = c.post("/v1/events", click.to_string().as_bytes()).unwrap();
            assert_eq!(r.status, 200, "{}", r.body);
        }
    }
    // Impressions are written off the request path: wait until all 12 lists are stored.
    let started = Instant::now();
    let api = loop {
        let a = c.get("/v1/monitor/quality").unwrap();
        assert_eq!(a.status, 200, "{}", a.body);
        let v = a.json();
        if v["series"][0]["figures"][0] == serde_json::json!(["lists", 12.0]) {
            break v;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{v}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let cli: Value = serde_json::from_str(&env.ok(&["monitor", "quality", "--json"])).unwrap();
    assert_eq!(cli["series"], api["series"]);
    let overall = &cli["series"][0]["figures"];
    let ctr = overall
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f[0] == "ctr")
        .unwrap()[1]
        .as_f64()
        .unwrap();
    assert_eq!(ctr, 4.0 / 60.0);
    let text = env.ok(&["monitor", "quality"]);
    assert!(
        text.starts_with("all lists: lists 12.0000, impressions 60.0000"),
        "{text}"
    );

    // The server's tick (every second here) records the series.
    let started = Instant::now();
    loop {
        let out = env.ok(&[
            "monitor",
            "series",
            "ctr",
            "--labels",
            "source:personalized",
        ]);
        if out.starts_with("ctr{source=personalized}") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{out}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let bad = env
        .command(&["monitor", "series", "ctr", "--labels", "source"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--labels"));
}

#[test]
fn the_cli_and_the_api_report_one_drift() {
    let env = Attune::new();
    env.ok(&[
        "demo",
        "--no-serve",
        "--data-dir",
        env.path().to_str().unwrap(),
    ]);
    let server = Server::start(&env, None);
    let c = server.client();
    // Some activity in the window ending now (the demo's data is months old).
    for u in 0..20 {
        let a = c
            .get(&format!("/v1/users/user-{u}/recommendations?n=3"))
            .unwrap();
        assert_eq!(a.status, 200, "{}", a.body);
        let list = a.json();
        for i in 0..3 {
            let view = serde_json::json!({"type": "view", "user_id": format!("user-{u}"),
                "item_id": list["items"][i]["item_id"]});
            let r = c.post("/v1/events", view.to_string().as_bytes()).unwrap();
            assert_eq!(r.status, 200, "{}", r.body);
        }
    }
    let a = c.get("/v1/monitor/drift").unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    let api = a.json();
    let cli: Value = serde_json::from_str(&env.ok(&["monitor", "drift", "--json"])).unwrap();
    for key in [
        "model_version",
        "reference_since_micros",
        "reference_until_micros",
        "events",
        "new_items_share",
        "reference_new_items_share",
        "features",
        "drift_detected",
    ] {
        assert_eq!(cli[key], api[key], "{key}: {cli} against {api}");
    }
    assert_eq!(api["events"], 60, "{api}");
    let text = env.ok(&["monitor", "drift"]);
    assert!(text.contains("event_type"), "{text}");
    assert!(text.contains("insufficient data"), "{text}");
    let bad = env
        .command(&["monitor", "drift", "--window-secs", "0"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--window-secs"));
}
