//! `attune bench tune` through the real binary: the ALS objective on a tiny RecBole-style
//! interaction file (no MovieLens needed), and the error for a missing `--als` directory.

use serde_json::Value;

use crate::common::{describe, stderr, Attune};

/// `DIR/ml-100k.inter` with 30 users rating 12 of 40 items each, in two taste groups.
fn tiny_movielens(env: &Attune) -> std::path::PathBuf {
    let dir = env.path().join("ml-tiny");
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::from("user_id:token\titem_id:token\trating:float\ttimestamp:float\n");
    for u in 0..30u32 {
        for j in 0..12u32 {
            let item = (u % 2) * 20 + (u * 3 + j) % 20;
            text.push_str(&format!("{u}\t{item}\t{}\t{}\n", 3 + (u + j) % 3, 100 + j));
        }
    }
    std::fs::write(dir.join("ml-100k.inter"), text).unwrap();
    dir
}

#[test]
fn tune_bench_runs_the_als_objective() {
    let env = Attune::new();
    let dir = tiny_movielens(&env);
    let json = env.path().join("tune.json");
    let out = env.ok(&[
        "bench",
        "tune",
        "--seeds",
        "2",
        "--budgets",
        "3",
        "--als",
        dir.to_str().unwrap(),
        "--als-seeds",
        "2",
        "--als-budgets",
        "2,3",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.contains("ALS on MovieLens-100K"), "{out}");
    let rows: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let als: Vec<&Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["objective"] == "als-ml100k")
        .collect();
    // Two budgets x (random, multivariate TPE).
    assert_eq!(als.len(), 4, "{rows}");
    for r in als {
        let mean = r["mean"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&mean), "{r}");
        assert!(r["mean_gap"].is_null(), "{r}");
    }
}

#[test]
fn tune_bench_names_the_fetch_script_when_the_als_directory_is_missing() {
    let env = Attune::new();
    let missing = env.path().join("no-such-dir");
    let out = env.run(&[
        "bench",
        "tune",
        "--seeds",
        "1",
        "--budgets",
        "1",
        "--als",
        missing.to_str().unwrap(),
    ]);
    assert!(!out.status.success(), "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains("no such directory") && err.contains("scripts/fetch-movielens.sh"),
        "{err}"
    );
    // A directory without ml-100k.inter says so.
    let out = env.run(&["bench", "tune", "--als", env.path().to_str().unwrap()]);
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        stderr(&out).contains("no ml-100k.inter"),
        "{}",
        describe(&out)
    );
}
