//! Large catalogs: an ALS model served through the approximate index against the same model
//! served exactly, on a seeded synthetic shop (the generator of the serving benchmark, scaled
//! down to 4,000 items so a debug build runs it in seconds).

use std::sync::Arc;

use attune_core::catalog::Item;
use attune_core::model::ann::{HnswGraph, HnswParams, TopKParams};
use attune_core::model::spec::{FittedModel, Spec, TrainingSet};
use attune_core::sparse::{Csr, Interner};
use attune_serving::{RecRequest, Serving, ServingConfig, ServingError, Source};
use attune_store::sqlite::SqliteStore;
use attune_store::Store;

const APP: &str = "big";
const USERS: u32 = 1_500;
const ITEMS: u32 = 4_000;
const SPEC: &str = "als:factors=16,alpha=10,reg=0.1,iterations=8,seed=3";

struct Fixture {
    _dir: tempfile::TempDir,
    data_dir: std::path::PathBuf,
    store: Arc<dyn Store>,
    history: Csr,
    fitted: attune_core::model::spec::Fitted,
}

fn user(u: u32) -> String {
    format!("u{u:04}")
}

fn item(i: u32) -> String {
    format!("i{i:04}")
}

/// The store (five categories; every 10th item unavailable) and one fitted ALS model.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_path_buf();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(data_dir.join("attune.db")).unwrap());
    store.create_app(APP).unwrap();
    let items: Vec<Item> = (0..ITEMS)
        .map(|i| Item {
            item_id: item(i),
            categories: vec![format!("c{}", i % 5)],
            available: i % 10 != 7,
            ..Item::default()
        })
        .collect();
    store.upsert_items(APP, &items).unwrap();
    let triples = attune_testkit::interactions(USERS, ITEMS, 60_000, 11);
    let history = Csr::from_triplets(USERS as usize, ITEMS as usize, triples).unwrap();
    let spec: Spec = SPEC.parse().unwrap();
    let fitted = spec.fit(&TrainingSet::new(history.clone())).unwrap();
    Fixture {
        _dir: dir,
        data_dir,
        store,
        history,
        fitted,
    }
}

/// Write and register the model, with `graph` attached to its parts if given.
fn register(f: &Fixture, graph: Option<&HnswGraph>) -> u32 {
    let users = Interner::sorted((0..USERS).map(user));
    let items = Interner::sorted((0..ITEMS).map(item));
    let trained = attune_testsupport::Trained {
        app: APP,
        fitted: &f.fitted,
        users: &users,
        items: &items,
        history: &f.history,
        last_event_micros: None,
    };
    attune_testsupport::register(
        &*f.store,
        &f.data_dir,
        &trained,
        graph,
        &attune_testsupport::exact(),
    )
}

fn engine(f: &Fixture, ann_min_items: usize) -> Serving {
    let config = ServingConfig {
        topk: TopKParams::default()
            .ann_min_items(ann_min_items)
            .hnsw(HnswParams::default().ef_search(60))
            .check()
            .unwrap(),
        ..ServingConfig::default()
    };
    Serving::new(
        f.store.clone(),
        &f.data_dir,
        config,
        attune_core::event::EventWeighting::default(),
    )
}

fn graph(f: &Fixture) -> HnswGraph {
    let FittedModel::Als(als) = f.fitted.model() else {
        unreachable!("the spec is ALS")
    };
    HnswGraph::build(
        als.all_item_factors(),
        als.factors(),
        &HnswParams::default().seed(5).check().unwrap(),
    )
    .unwrap()
}

#[test]
fn the_approximate_index_serves_what_exact_scoring_serves() {
    let f = fixture();
    let g = graph(&f);
    let v = register(&f, Some(&g));
    let approx = engine(&f, 1_000);
    let exact = engine(&f, usize::MAX);
    approx.activate(APP, v).unwrap();
    exact.refresh(APP).unwrap();

    let snap = approx.loaded(APP).unwrap().snapshot().unwrap();
    let index = snap.index.as_ref().expect("4,000 items >= ann_min_items");
    assert!(!index.built_at_load(), "the stored graph is used");
    assert_eq!(index.ef_search(), 60, "the serving configuration's beam");
    assert!(
        index.recall().mean >= 0.95,
        "recall@10 measured at load: {:?}",
        index.recall()
    );
    assert!(exact
        .loaded(APP)
        .unwrap()
        .snapshot()
        .unwrap()
        .index
        .is_none());

    let req = RecRequest::default();
    let (mut hits, mut total) = (0usize, 0usize);
    for u in (0..USERS).step_by(15) {
        let a = approx.recommend(APP, &user(u), &req, true).unwrap();
        let e = exact.recommend(APP, &user(u), &req, true).unwrap();
        assert_eq!(a.source, Source::Personalized);
        assert_eq!(a.items.len(), 10);
        let (seen, _) = f.history.row(u as usize);
        for r in a.items.iter() {
            let i: u32 = r.item_id[1..].parse().unwrap();
            assert!(seen.binary_search(&i).is_err(), "{} was seen", r.item_id);
            assert_ne!(i % 10, 7, "{} is unavailable", r.item_id);
        }
        assert!(
            a.items.windows(2).all(|w| w[0].score >= w[1].score),
            "best first"
        );
        let want: Vec<&str> = e.items.iter().map(|r| r.item_id.as_str()).collect();
        hits += a
            .items
            .iter()
            .filter(|r| want.contains(&r.item_id.as_str()))
            .count();
        total += e.items.len();
        // The same item has the same score on both paths (only the candidates differ).
        for r in a.items.iter() {
            if let Some(x) = e.items.iter().find(|x| x.item_id == r.item_id) {
                assert!((x.score - r.score).abs() < 1e-4, "{r:?} vs {x:?}");
            }
        }
    }
    let recall = hits as f64 / total as f64;
    assert!(recall >= 0.95, "served recall@10 vs exact: {recall}");

    // A category filter takes the exact path: the same list as the exact engine.
    let filtered = RecRequest {
        categories: vec!["c2".into()],
        ..RecRequest::default()
    };
    let a = approx.recommend(APP, &user(7), &filtered, true).unwrap();
    let e = exact.recommend(APP, &user(7), &filtered, true).unwrap();
    assert_eq!(a.items.len(), 10);
    assert!(a.items.iter().all(|r| r.item_id.ends_with('2')));
    assert_eq!(a.items, e.items);
}

#[test]
fn an_artifact_without_the_index_gets_it_built_at_load() {
    let f = fixture();
    let v = register(&f, None);
    let approx = engine(&f, 1_000);
    approx.activate(APP, v).unwrap();
    let snap = approx.loaded(APP).unwrap().snapshot().unwrap();
    let index = snap.index.as_ref().unwrap();
    assert!(index.built_at_load());
    assert!(index.recall().mean >= 0.95, "{:?}", index.recall());
    // Below the threshold the same artifact is served exactly and nothing is built.
    let small = engine(&f, 10_000);
    small.refresh(APP).unwrap();
    assert!(small
        .loaded(APP)
        .unwrap()
        .snapshot()
        .unwrap()
        .index
        .is_none());
}

#[test]
fn a_graph_of_other_factors_is_refused_and_the_active_version_keeps_serving() {
    let f = fixture();
    let good = register(&f, Some(&graph(&f)));
    let serving = engine(&f, 1_000);
    serving.activate(APP, good).unwrap();
    let before = serving
        .recommend(APP, &user(3), &RecRequest::default(), true)
        .unwrap();

    // A graph built on another model's factors (another seed) is attached to this model.
    let other: Spec = "als:factors=16,alpha=10,reg=0.1,iterations=8,seed=4"
        .parse()
        .unwrap();
    let other = other.fit(&TrainingSet::new(f.history.clone())).unwrap();
    let FittedModel::Als(als) = other.model() else {
        unreachable!()
    };
    let wrong = HnswGraph::build(
        als.all_item_factors(),
        16,
        &HnswParams::default().check().unwrap(),
    )
    .unwrap();
    let bad = register(&f, Some(&wrong));
    let err = serving.activate(APP, bad).unwrap_err();
    assert!(
        matches!(err, ServingError::Load(_)) && err.to_string().contains("approximate index"),
        "{err}"
    );
    assert_eq!(f.store.active_model(APP).unwrap().unwrap().version, good);
    let after = serving
        .recommend(APP, &user(3), &RecRequest::default(), true)
        .unwrap();
    assert_eq!(after.model_version, Some(good));
    assert_eq!(
        after.items.iter().map(|r| &r.item_id).collect::<Vec<_>>(),
        before.items.iter().map(|r| &r.item_id).collect::<Vec<_>>()
    );
}
