//! `attune tune` on the demo shop: a TPE study of EASE's λ stored, listed, resumed and shown;
//! the same seed giving the same study; bad input refused with a non-zero exit and nothing
//! written.

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
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&env.ok(&all)).unwrap()
}

fn values(study: &Value) -> Vec<f64> {
    study["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["value"].as_f64().unwrap())
        .collect()
}

#[test]
fn a_tpe_study_of_ease_is_stored_listed_resumed_and_shown() {
    let env = demo();
    let args = [
        "tune",
        "lambda",
        "--algorithm",
        "ease",
        "--sampler",
        "tpe",
        "--trials",
        "6",
        "--seed",
        "3",
    ];
    let first = json(&env, &args);
    let study = &first[0];
    assert_eq!(study["name"], "lambda");
    assert_eq!(study["algorithm"], "ease");
    assert_eq!(study["state"], "done");
    assert_eq!(study["n_trials"], 6);
    assert_eq!(study["run"]["new_trials"], 6);
    assert_eq!(study["run"]["resumed"], false);
    assert_eq!(study["objective"]["validation"]["kind"], "temporal");
    let best = study["best"]["value"].as_f64().unwrap();
    assert!(best > 0.0 && best <= 1.0, "{best}");
    assert!(
        study["best"]["spec"]
            .as_str()
            .unwrap()
            .starts_with("ease:lambda="),
        "{}",
        study["best"]
    );
    let vals = values(study);
    assert_eq!(vals.len(), 6);
    assert_eq!(vals.iter().cloned().fold(f64::MIN, f64::max), best);

    // Listed.
    let listed = env.ok(&["tune", "list"]);
    assert!(
        listed.contains("lambda") && listed.contains("ease"),
        "{listed}"
    );
    let listed = json(&env, &["tune", "--list"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["n_trials"], 6);

    // Running the name again resumes it: two more trials after the stored six.
    let resumed = json(&env, &["tune", "lambda", "--trials", "2", "--seed", "3"]);
    assert_eq!(resumed[0]["run"]["resumed"], true);
    assert_eq!(resumed[0]["n_trials"], 8);
    assert_eq!(&values(&resumed[0])[..6], &vals[..]);

    // Shown: the best and every trial.
    let shown = env.ok(&["tune", "show", "lambda"]);
    assert!(shown.contains("study lambda (ease, done)"), "{shown}");
    assert!(shown.contains("best:      ease:lambda="), "{shown}");
    assert_eq!(shown.matches("complete").count(), 8, "{shown}");
    let shown = json(&env, &["tune", "show", "lambda"]);
    assert_eq!(shown[0]["trials"].as_array().unwrap().len(), 8);
}

#[test]
fn the_same_seed_gives_the_same_study_with_one_job() {
    let env = demo();
    let run = |name: &str| {
        json(
            &env,
            &[
                "tune",
                name,
                "--algorithm",
                "ease",
                "--trials",
                "4",
                "--seed",
                "11",
                "--jobs",
                "1",
                "--space",
                "lambda=log:10..5000",
            ],
        )
    };
    let a = run("a");
    let b = run("b");
    assert_eq!(a[0]["trials"], b[0]["trials"]);
    assert_eq!(a[0]["best"], b[0]["best"]);
}

#[test]
fn bad_input_is_refused_and_writes_nothing() {
    let env = demo();
    let refused = |args: &[&str], message: &str| {
        let out = env.run(args);
        assert!(
            !out.status.success(),
            "{args:?} should fail: {}",
            describe(&out)
        );
        let err = stderr(&out);
        assert!(
            err.contains(message),
            "{args:?}: expected {message:?} in {err}"
        );
    };
    refused(
        &["tune", "x", "--algorithm", "svd"],
        "unknown algorithm \"svd\"",
    );
    refused(
        &[
            "tune",
            "x",
            "--algorithm",
            "als",
            "--space",
            "rank=int:8..64",
        ],
        "als has no parameter \"rank\"",
    );
    refused(
        &["tune", "x", "--algorithm", "als", "--space", "reg=log:1e-4"],
        "LOW..HIGH",
    );
    refused(
        &[
            "tune",
            "x",
            "--algorithm",
            "als",
            "--space",
            "reg=log:1..0.1",
        ],
        "low (1) must be below high (0.1)",
    );
    refused(
        &["tune", "x", "--algorithm", "ease", "--folds", "1"],
        "at least 2 folds",
    );
    refused(
        &["tune", "x", "--algorithm", "ease", "--timeout=-1"],
        "--timeout must be a number of seconds >= 0",
    );
    refused(
        &[
            "tune",
            "x",
            "--algorithm",
            "ease",
            "--segment-attr",
            "segment",
        ],
        "no user profile has attribute \"segment\"",
    );
    refused(&["tune", "show", "x"], "no study \"x\"");
    assert!(env.ok(&["tune", "list"]).contains("no studies"));

    // A stored study resumed with another space: refused, the stored study unchanged.
    env.ok(&["tune", "s", "--algorithm", "ease", "--trials", "2"]);
    let before = json(&env, &["tune", "show", "s"]);
    refused(
        &[
            "tune",
            "s",
            "--algorithm",
            "ease",
            "--space",
            "lambda=log:1..10",
            "--trials",
            "2",
        ],
        "cannot resume study \"s\"",
    );
    refused(
        &["tune", "s", "--algorithm", "als", "--trials", "2"],
        "it tunes ease, not als",
    );
    assert_eq!(json(&env, &["tune", "show", "s"]), before);
}

#[test]
fn per_segment_studies_are_named_by_segment_and_an_empty_segment_is_refused() {
    let env = demo();
    // Rule segments: "new" holds the profiles without any event, so no validation users.
    env.ok(&[
        "segment",
        "--method",
        "rules",
        "--as-of",
        "2026-12-01T00:00:00Z",
        "--save-as",
        "segment",
    ]);
    let out = env.run(&[
        "tune",
        "seg",
        "--algorithm",
        "ease",
        "--trials",
        "2",
        "--segment-attr",
        "segment",
    ]);
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        stderr(&out).contains("segment segment=new has no validation users"),
        "{}",
        describe(&out)
    );
    assert!(env.ok(&["tune", "list"]).contains("no studies"));

    // The demo's profile attribute `tier`: one study per tier, each measured on its users.
    let runs = json(
        &env,
        &[
            "tune",
            "seg",
            "--algorithm",
            "ease",
            "--trials",
            "2",
            "--segment-attr",
            "tier",
        ],
    );
    let names: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["seg/tier=free", "seg/tier=plus", "seg/tier=premium"]
    );
    for r in runs.as_array().unwrap() {
        assert!(r["run"]["validation_users"].as_u64().unwrap() > 0);
        assert_eq!(r["objective"]["segment"][0], "tier");
        assert_eq!(r["n_trials"], 2);
    }
    let shown = json(&env, &["tune", "show", "seg"]);
    assert_eq!(shown.as_array().unwrap().len(), 3);
}

#[test]
fn auto_with_tuning_says_what_it_chose() {
    let env = demo();
    let model = env.path().join("auto.attune");
    let out = env.ok(&[
        "train",
        "--algorithm",
        "auto",
        "--tune-trials",
        "3",
        "--output",
        model.to_str().unwrap(),
    ]);
    assert!(
        out.contains("Tuned (TPE on the validation split, NDCG@10):"),
        "{out}"
    );
    for family in ["ease", "als"] {
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with(family) && l.contains("3 trials")),
            "{family}: {out}"
        );
    }
    assert!(out.contains("best: ") && model.is_file(), "{out}");

    let refused = env.run(&["train", "--algorithm", "ease", "--tune-trials", "3"]);
    assert!(!refused.status.success(), "{}", describe(&refused));
    assert!(
        stderr(&refused).contains("tuning applies to --algorithm auto only"),
        "{}",
        describe(&refused)
    );
}
