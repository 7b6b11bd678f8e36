//! Routing over a real SQLite store: shares met, sticky through exposures (also across
//! routers, as replicas or restarts are, and after a visitor logs in), layers exclusive,
//! targeting, phases re-randomized, and the non-blocking path.

use std::sync::Arc;
use std::time::Duration;

use attune_core::catalog::{AttrValue, User};
use attune_experiment::{lifecycle, Definition, Routed, Router};
use attune_store::sqlite::SqliteStore;
use attune_store::Store;

const APP: &str = "shop";

fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path().join("a.db")).unwrap());
    store.create_app(APP).unwrap();
    (dir, store)
}

fn definition(json: &str) -> Definition {
    Definition::from_json(json).unwrap()
}

const AB: &str = r#"{"variants": [{"name": "control", "share": 0.5},
                                  {"name": "diverse", "share": 0.5, "diversity": 0.7}]}"#;

fn route(r: &Router, user: &str) -> Routed {
    r.route(APP, user, true, &mut || Ok(None)).unwrap()
}

fn variant(r: &Router, user: &str) -> Option<String> {
    match route(r, user) {
        Routed::In(a) => Some(a.variant),
        Routed::Out => None,
        Routed::NeedsStore => panic!("allowed to read the store"),
    }
}

#[test]
fn shares_are_met_and_first_serves_stick_across_routers() {
    let (_d, store) = store();
    lifecycle::create(&*store, APP, "homepage", "recs", &definition(AB)).unwrap();
    lifecycle::start(&*store, APP, "homepage").unwrap();
    let a = Router::new(store.clone(), Duration::from_secs(60));
    let mut diverse = 0;
    for u in 0..2_000 {
        let user = format!("user-{u}");
        let Routed::In(x) = route(&a, &user) else {
            panic!("traffic 1: everyone is in")
        };
        assert!(x.first, "nobody was exposed yet");
        if x.variant == "diverse" {
            diverse += 1;
            assert_eq!(x.treatment.diversity, Some(0.7));
        }
        a.record_exposure(APP, &Router::exposure(&user, &x, 1))
            .unwrap();
    }
    // 50% ± 3 standard errors.
    assert!(
        (diverse as f64 - 1_000.0).abs() < 3.0 * (2_000.0f64 * 0.25).sqrt(),
        "{diverse}"
    );
    // Another router (a replica, a restart) gives everyone the same variant, not first.
    let b = Router::new(store.clone(), Duration::from_secs(60));
    for u in [0, 7, 1_999] {
        let user = format!("user-{u}");
        let (Routed::In(x), Routed::In(y)) = (route(&a, &user), route(&b, &user)) else {
            panic!()
        };
        assert_eq!(x.variant, y.variant);
        assert!(!x.first && !y.first);
    }
}

#[test]
fn a_recorded_exposure_wins_over_the_draw_and_carries_over_on_login() {
    let (_d, store) = store();
    lifecycle::create(&*store, APP, "homepage", "recs", &definition(AB)).unwrap();
    lifecycle::start(&*store, APP, "homepage").unwrap();
    let r = Router::new(store.clone(), Duration::from_secs(60));
    // The device is served first, anonymously.
    let Routed::In(x) = route(&r, "dev-42") else {
        panic!()
    };
    r.record_exposure(APP, &Router::exposure("dev-42", &x, 1))
        .unwrap();
    // Find a user id whose own draw differs from the device's variant.
    let user = (0..100)
        .map(|i| format!("cust-{i}"))
        .find(|u| {
            variant(&Router::new(store.clone(), Duration::from_secs(60)), u)
                != Some(x.variant.clone())
        })
        .unwrap();
    store.identify(APP, "dev-42", &user).unwrap();
    let fresh = Router::new(store.clone(), Duration::from_secs(60));
    let Routed::In(y) = route(&fresh, &user) else {
        panic!()
    };
    assert_eq!(
        y.variant, x.variant,
        "the visitor keeps the variant after logging in"
    );
    assert!(!y.first);
}

#[test]
fn layers_are_exclusive_and_traffic_is_respected() {
    let (_d, store) = store();
    let half = r#"{"traffic": 0.5, "variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]}"#;
    lifecycle::create(&*store, APP, "one", "recs", &definition(half)).unwrap();
    lifecycle::create(&*store, APP, "two", "recs", &definition(half)).unwrap();
    lifecycle::create(&*store, APP, "three", "recs", &definition(half)).unwrap();
    lifecycle::start(&*store, APP, "one").unwrap();
    lifecycle::start(&*store, APP, "two").unwrap();
    // The layer is full: a third is refused and stays a draft.
    let err = lifecycle::start(&*store, APP, "three").unwrap_err();
    assert!(err.to_string().contains("no free range"), "{err}");
    let r = Router::new(store.clone(), Duration::from_secs(60));
    let (mut one, mut two) = (0, 0);
    for u in 0..2_000 {
        match route(&r, &format!("u{u}")) {
            Routed::In(x) if x.experiment == "one" => one += 1,
            Routed::In(_) => two += 1,
            _ => panic!("the two experiments cover the whole layer"),
        }
    }
    for n in [one, two] {
        assert!(
            (n as f64 - 1_000.0).abs() < 3.0 * (2_000.0f64 * 0.25).sqrt(),
            "{one} {two}"
        );
    }
    lifecycle::stop(&*store, APP, "one").unwrap();
    r.invalidate(APP);
    let out = (0..2_000)
        .filter(|u| route(&r, &format!("u{u}")) == Routed::Out)
        .count();
    assert!(
        (out as f64 - 1_000.0).abs() < 3.0 * (2_000.0f64 * 0.25).sqrt(),
        "{out}"
    );
}

#[test]
fn targeting_reads_the_profile_only_when_needed() {
    let (_d, store) = store();
    let de_only = r#"{"targeting": [{"attribute": "country", "in": ["DE"]}],
                      "variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]}"#;
    lifecycle::create(&*store, APP, "de", "recs", &definition(de_only)).unwrap();
    lifecycle::start(&*store, APP, "de").unwrap();
    let r = Router::new(store.clone(), Duration::from_secs(60));
    let mut reads = 0;
    let profile = |country: &str| {
        let mut u = User {
            user_id: "x".into(),
            ..User::default()
        };
        u.attributes
            .insert("country".into(), AttrValue::Text(country.into()));
        u
    };
    let de = profile("DE");
    let fr = profile("FR");
    let got = r
        .route(APP, "u1", true, &mut || {
            reads += 1;
            Ok(Some(de.clone()))
        })
        .unwrap();
    assert!(matches!(got, Routed::In(_)));
    let got = r
        .route(APP, "u2", true, &mut || {
            reads += 1;
            Ok(Some(fr.clone()))
        })
        .unwrap();
    assert_eq!(got, Routed::Out);
    // u2's "not targeted" is remembered: no second profile read.
    let got = r
        .route(APP, "u2", true, &mut || {
            reads += 1;
            Ok(Some(fr.clone()))
        })
        .unwrap();
    assert_eq!(got, Routed::Out);
    assert_eq!(reads, 2);
}

#[test]
fn a_new_phase_re_randomizes_and_the_non_blocking_path_says_when_it_needs_the_store() {
    let (_d, store) = store();
    lifecycle::create(&*store, APP, "homepage", "recs", &definition(AB)).unwrap();
    let r = Router::new(store.clone(), Duration::from_secs(60));
    // Nothing read yet: the non-blocking call cannot decide.
    assert_eq!(
        r.route(APP, "u1", false, &mut || Ok(None)).unwrap(),
        Routed::NeedsStore
    );
    assert_eq!(route(&r, "u1"), Routed::Out, "a draft routes nobody");
    lifecycle::start(&*store, APP, "homepage").unwrap();
    r.invalidate(APP);
    let phase1: Vec<Option<String>> = (0..200).map(|u| variant(&r, &format!("u{u}"))).collect();
    lifecycle::stop(&*store, APP, "homepage").unwrap();
    lifecycle::start(&*store, APP, "homepage").unwrap();
    r.invalidate(APP);
    let phase2: Vec<Option<String>> = (0..200).map(|u| variant(&r, &format!("u{u}"))).collect();
    let same = phase1.iter().zip(&phase2).filter(|(a, b)| a == b).count();
    // Independent draws agree about half the time.
    assert!(
        (60..140).contains(&same),
        "{same} of 200 kept their variant"
    );
    // Read once: the non-blocking path now answers (a first serve needs the exposure read).
    assert_eq!(
        r.route(APP, "u5", false, &mut || Ok(None)).unwrap(),
        Routed::NeedsStore
    );
    let Routed::In(x) = route(&r, "u5") else {
        panic!()
    };
    r.record_exposure(APP, &Router::exposure("u5", &x, 1))
        .unwrap();
    assert!(matches!(
        r.route(APP, "u5", false, &mut || Ok(None)).unwrap(),
        Routed::In(_)
    ));
}
