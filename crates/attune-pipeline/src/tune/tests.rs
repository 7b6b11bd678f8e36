//! `tune` over a real store (SQLite in a temp directory) and a seeded synthetic shop.

use attune_core::catalog::AttrValue;
use attune_store::sqlite::SqliteStore;
use attune_store::{Store as _, StudyStore as _};

use super::*;

/// A small shop: 120 users, 150 items, 6,000 events over 60 days (tiers free/plus/premium).
fn shop() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("a.db")).unwrap();
    store.create_app("shop").unwrap();
    let data = attune_testkit::generate(&attune_testkit::SyntheticConfig {
        n_users: 120,
        n_items: 150,
        n_events: 6_000,
        seed: 5,
        ..Default::default()
    });
    store.upsert_items("shop", &data.items).unwrap();
    store.upsert_users("shop", &data.users).unwrap();
    store.insert_events("shop", &data.events).unwrap();
    (dir, store)
}

fn ease(name: &str, trials: usize) -> TuneOptions {
    TuneOptions {
        name: name.into(),
        algorithm: Some("ease".into()),
        trials: Some(trials),
        seed: 7,
        ..TuneOptions::default()
    }
}

fn run(store: &SqliteStore, options: &TuneOptions) -> Result<Vec<StudyRun>, TuneError> {
    tune(store, &PipelineConfig::default(), "shop", options, &|_| {})
}

#[test]
fn a_study_is_stored_after_its_trials_and_resumes_where_it_stopped() {
    let (_dir, store) = shop();
    let first = run(&store, &ease("lambda", 4)).unwrap().remove(0);
    assert!(!first.resumed);
    assert_eq!((first.new_trials, first.stopped), (4, "trials"));
    assert!(first.validation_users > 50, "{}", first.validation_users);
    let best = first.view.best().unwrap();
    assert!(best.spec.starts_with("ease:lambda="), "{}", best.spec);
    assert!(best.value.unwrap() > 0.0 && best.value.unwrap() <= 1.0);

    let stored = show(&store, "shop", "lambda").unwrap().remove(0);
    assert_eq!(stored.record.state, "done");
    assert_eq!(stored.study, first.view.study);
    assert_eq!(stored.record.best_value, best.value);

    // Resuming (no --algorithm needed) adds trials after the stored ones; the stored ones stay.
    let resume = TuneOptions {
        algorithm: None,
        ..ease("lambda", 2)
    };
    let second = run(&store, &resume).unwrap().remove(0);
    assert!(second.resumed);
    assert_eq!(second.view.study.trials().len(), 6);
    assert_eq!(
        &second.view.study.trials()[..4],
        first.view.study.trials(),
        "stored trials are kept as they were"
    );
    // An uninterrupted run of 6 proposes exactly the same (samplers key on seed and trial).
    let (_dir2, other) = shop();
    let whole = run(&other, &ease("lambda", 6)).unwrap().remove(0);
    assert_eq!(whole.view.study, second.view.study);
    assert_eq!(list(&store, "shop").unwrap().len(), 1);
}

#[test]
fn a_different_space_algorithm_or_validation_resumes_nothing_and_writes_nothing() {
    let (_dir, store) = shop();
    run(&store, &ease("lambda", 2)).unwrap();
    let before = store.load_study("shop", "lambda").unwrap().unwrap();

    let other_space = TuneOptions {
        space: Some("lambda=log:10..100".into()),
        ..ease("lambda", 2)
    };
    let e = run(&store, &other_space).unwrap_err();
    assert!(e.is_user_error(), "{e}");
    assert!(
        e.to_string().contains("cannot resume study \"lambda\"")
            && e.to_string().contains("lambda"),
        "{e}"
    );
    let als = TuneOptions {
        algorithm: Some("als".into()),
        ..ease("lambda", 2)
    };
    let e = run(&store, &als).unwrap_err().to_string();
    assert!(e.contains("it tunes ease, not als"), "{e}");
    let folds = TuneOptions {
        folds: Some(3),
        ..ease("lambda", 2)
    };
    let e = run(&store, &folds).unwrap_err().to_string();
    assert!(e.contains("validated with a temporal split"), "{e}");

    assert_eq!(store.load_study("shop", "lambda").unwrap().unwrap(), before);
}

#[test]
fn bad_options_are_refused_before_anything_is_written() {
    let (_dir, store) = shop();
    let cases: Vec<(TuneOptions, &str)> = vec![
        (
            TuneOptions {
                algorithm: Some("svd".into()),
                ..ease("s", 2)
            },
            "unknown algorithm \"svd\"",
        ),
        (
            TuneOptions {
                space: Some("alpha=log:1..2".into()),
                ..ease("s", 2)
            },
            "ease has no parameter \"alpha\"",
        ),
        (
            TuneOptions {
                space: Some("lambda=log:1-100".into()),
                ..ease("s", 2)
            },
            "LOW..HIGH",
        ),
        (
            TuneOptions {
                space: Some("lambda=log:100..1".into()),
                ..ease("s", 2)
            },
            "must be below high",
        ),
        (
            TuneOptions {
                folds: Some(1),
                ..ease("s", 2)
            },
            "at least 2 folds",
        ),
        (
            TuneOptions {
                algorithm: None,
                ..ease("s", 2)
            },
            "does not exist yet",
        ),
        (
            TuneOptions {
                segment_attr: Some("no_such_attr".into()),
                ..ease("s", 2)
            },
            "no user profile has attribute \"no_such_attr\"",
        ),
        (
            TuneOptions {
                algorithm: Some("popularity".into()),
                ..ease("s", 2)
            },
            "no parameters to tune",
        ),
    ];
    for (options, message) in cases {
        let e = run(&store, &options).unwrap_err();
        assert!(e.is_user_error(), "{e}");
        assert!(e.to_string().contains(message), "{message}: {e}");
    }
    assert!(store.list_studies("shop").unwrap().is_empty());
}

#[test]
fn cross_validation_reports_each_fold_and_prunes_on_the_median() {
    let (_dir, store) = shop();
    let options = TuneOptions {
        folds: Some(3),
        sampler: SamplerKind::Random,
        // Wide enough that some lambdas are clearly worse than the median.
        space: Some("lambda=log:0.01..100000".into()),
        ..ease("cv", 12)
    };
    let r = run(&store, &options).unwrap().remove(0);
    assert_eq!(r.new_trials, 12);
    let rows = r.view.rows();
    // Every trial reported its first fold; complete ones both intermediate folds.
    assert!(rows.iter().all(|t| !t.intermediate.is_empty()), "{rows:?}");
    for t in rows.iter().filter(|t| t.state == TrialState::Complete) {
        assert_eq!(t.intermediate.len(), 2);
    }
    // The pruner waits for 5 complete trials, then stops those behind the median.
    assert!(rows[..5].iter().all(|t| t.state == TrialState::Complete));
    assert_eq!(
        r.pruned,
        rows.iter()
            .filter(|t| t.state == TrialState::Pruned)
            .count()
    );
    assert!(r.pruned > 0, "{rows:?}");

    // Resumed without --folds (and another sampler seed): the stored folds, same shuffle.
    let resume = TuneOptions {
        folds: None,
        space: None,
        seed: 8,
        trials: Some(1),
        ..options.clone()
    };
    let again = run(&store, &resume).unwrap().remove(0);
    assert!(again.resumed);
    assert_eq!(
        again.view.objective.validation,
        Validation::KFold { folds: 3, seed: 7 }
    );
    assert_eq!(again.view.objective.seed, 8);
    assert_eq!(again.view.study.trials().len(), 13);
    // Other folds are another objective.
    let other = TuneOptions {
        folds: Some(4),
        ..resume
    };
    let e = run(&store, &other).unwrap_err().to_string();
    assert!(
        e.contains("validated with 3-fold cross-validation (seed 7), not 4-fold"),
        "{e}"
    );
}

#[test]
fn per_segment_studies_measure_each_segments_users() {
    let (_dir, store) = shop();
    let options = TuneOptions {
        segment_attr: Some("tier".into()),
        ..ease("seg", 2)
    };
    let runs = run(&store, &options).unwrap();
    let names: Vec<&str> = runs.iter().map(|r| r.view.record.name.as_str()).collect();
    assert_eq!(
        names,
        ["seg/tier=free", "seg/tier=plus", "seg/tier=premium"]
    );
    let all = run(&store, &ease("global", 1))
        .unwrap()
        .remove(0)
        .validation_users;
    let sum: usize = runs.iter().map(|r| r.validation_users).sum();
    assert!(
        sum <= all && runs.iter().all(|r| r.validation_users > 0),
        "{sum} {all}"
    );
    assert_eq!(show(&store, "shop", "seg").unwrap().len(), 3);
    assert_eq!(delete(&store, "shop", "seg").unwrap(), 3);

    // A segment whose users have no validation data: named, and nothing written.
    let mut vip = attune_core::catalog::User::new("vip-without-events");
    vip.attributes
        .insert("tier".into(), AttrValue::Text("vip".into()));
    store.upsert_users("shop", &[vip]).unwrap();
    let e = run(&store, &options).unwrap_err().to_string();
    assert!(
        e.contains("segment tier=vip has no validation users"),
        "{e}"
    );
    assert_eq!(store.list_studies("shop").unwrap().len(), 1); // "global"
}

#[test]
fn parallel_workers_tell_every_trial_once() {
    let (_dir, store) = shop();
    let options = TuneOptions {
        jobs: 3,
        ..ease("par", 7)
    };
    let r = run(&store, &options).unwrap().remove(0);
    assert_eq!(r.new_trials, 7);
    let ids: Vec<u64> = r.view.study.trials().iter().map(|t| t.id).collect();
    assert_eq!(ids, (0..7).collect::<Vec<_>>());
    assert!(r
        .view
        .study
        .trials()
        .iter()
        .all(|t| t.state == TrialState::Complete));
    assert_eq!(
        store.load_study("shop", "par").unwrap().unwrap().n_trials,
        7
    );
}

#[test]
fn a_grid_stops_when_covered_and_a_timeout_bounds_a_run() {
    let (_dir, store) = shop();
    let options = TuneOptions {
        sampler: SamplerKind::Grid,
        grid_points: 3,
        trials: None,
        ..ease("grid", 1)
    };
    let r = run(&store, &options).unwrap().remove(0);
    assert_eq!((r.new_trials, r.stopped), (3, "exhausted"));
    let timed = TuneOptions {
        trials: None,
        timeout: Some(Duration::ZERO),
        ..ease("timed", 1)
    };
    let r = run(&store, &timed).unwrap().remove(0);
    assert_eq!((r.new_trials, r.stopped), (0, "timeout"));
}
