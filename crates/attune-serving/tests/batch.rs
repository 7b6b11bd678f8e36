//! `Serving::recommend_many` (the path of `attune recommend --all-users` and `attune
//! precompute`) scores ALS users in blocks with the batch kernel: its lists must be the ones
//! `Serving::recommend` gives user by user, for users with and without live events since
//! training, dismissals, unavailable items, paging, seen-item exclusion and re-ranking.

use std::sync::Arc;

use attune_core::catalog::Item;
use attune_core::event::{Event, EventType};
use attune_core::model::spec::{Spec, TrainingSet};
use attune_core::sparse::{Csr, Interner};
use attune_serving::{RecList, RecRequest, Serving, ServingConfig};
use attune_store::sqlite::SqliteStore;
use attune_store::Store;

mod common;
use common::{event, APP, T0};

const USERS: u32 = 400;
const ITEMS: u32 = 300;
/// Six taste groups of items (by `i % 6`), each user mostly in one of them.
const TASTES: u32 = 6;
/// Users with events after training (scored one by one, from a fold-in).
const LIVE: u32 = 20;
/// The user who dismissed an item after training (scored one by one: fewer allowed items).
const DISMISSER: u32 = 30;

/// A deterministic pseudo-random stream (an LCG): reproducible data without a dependency.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u32) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % u64::from(n)) as u32
    }
}

fn user_id(u: u32) -> String {
    format!("u{u:03}")
}

fn item_id(i: u32) -> String {
    format!("i{i:03}")
}

/// Each user's training items: 8 to 20, four in five of their taste, the rest anywhere.
fn histories() -> Vec<Vec<u32>> {
    let mut rng = Lcg(7);
    (0..USERS)
        .map(|u| {
            let len = 8 + rng.below(13);
            let mut row: Vec<u32> = (0..len)
                .map(|_| {
                    if rng.below(5) < 4 {
                        rng.below(ITEMS / TASTES) * TASTES + u % TASTES
                    } else {
                        rng.below(ITEMS)
                    }
                })
                .collect();
            row.sort_unstable();
            row.dedup();
            row
        })
        .collect()
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    data_dir: std::path::PathBuf,
}

impl Fixture {
    fn engine(&self) -> Serving {
        Serving::new(
            self.store.clone(),
            &self.data_dir,
            ServingConfig::default(),
            attune_core::event::EventWeighting::default(),
        )
    }
}

/// A store with the catalog (every 37th item unavailable), the training views, an ALS model
/// trained on them and activated, then live purchases of the first [`LIVE`] users and a
/// dismissal by [`DISMISSER`].
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_path_buf();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(data_dir.join("attune.db")).unwrap());
    store.create_app(APP).unwrap();
    let items: Vec<Item> = (0..ITEMS)
        .map(|i| Item {
            item_id: item_id(i),
            title: Some(format!("Item {i}")),
            categories: vec![format!("taste{}", i % TASTES)],
            available: i % 37 != 5,
            ..Item::default()
        })
        .collect();
    store.upsert_items(APP, &items).unwrap();
    let rows = histories();
    let mut events = Vec::new();
    let mut triplets = Vec::new();
    for (u, row) in rows.iter().enumerate() {
        for (j, &i) in row.iter().enumerate() {
            let at = T0 + (u * 100 + j) as i64 * 1_000_000;
            events.push(event(
                0,
                &user_id(u as u32),
                &item_id(i),
                EventType::View,
                at,
            ));
            triplets.push((u as u32, i, 1.0));
        }
    }
    store.insert_events(APP, &events).unwrap();
    let users = Interner::sorted((0..USERS).map(user_id));
    let item_ids = Interner::sorted((0..ITEMS).map(item_id));
    let history = Csr::from_triplets(USERS as usize, ITEMS as usize, triplets).unwrap();
    let spec: Spec = "als:factors=16,alpha=5,reg=0.5,iterations=8,seed=3"
        .parse()
        .unwrap();
    let fitted = spec.fit(&TrainingSet::new(history.clone())).unwrap();
    let trained = attune_testsupport::Trained {
        app: APP,
        fitted: &fitted,
        users: &users,
        items: &item_ids,
        history: &history,
        last_event_micros: Some(T0 + 50_000_000_000),
    };
    let version = attune_testsupport::register(
        &*store,
        &data_dir,
        &trained,
        None,
        &attune_testsupport::exact(),
    );
    let fix = Fixture {
        _dir: dir,
        store,
        data_dir,
    };
    fix.engine().activate(APP, version).unwrap();
    let after = T0 + 60_000_000_000;
    let mut live: Vec<Event> = (0..LIVE)
        .flat_map(|u| {
            (0..3).map(move |j| {
                let i = (u * 7 + j * 11 + 1) % ITEMS;
                event(
                    1,
                    &user_id(u),
                    &item_id(i),
                    EventType::Purchase,
                    after + j as i64,
                )
            })
        })
        .collect();
    let dismissed = rows[DISMISSER as usize][0] + 1;
    live.push(event(
        2,
        &user_id(DISMISSER),
        &item_id(dismissed),
        EventType::NotInterested,
        after,
    ));
    fix.store.insert_events(APP, &live).unwrap();
    fix
}

/// What a list shows a person and what a replica caches: ids, scores bit for bit, reasons.
fn shown(l: &RecList) -> Vec<(String, u32, String)> {
    l.items
        .iter()
        .map(|r| (r.item_id.clone(), r.score.to_bits(), r.explanation.clone()))
        .collect()
}

#[test]
fn batch_lists_equal_the_per_user_lists() {
    let fix = fixture();
    let mut users: Vec<String> = (0..USERS).map(user_id).collect();
    // Unknown to the model: the cold-start chain, per user.
    users.push("newcomer".into());
    let requests = [
        RecRequest::default(),
        RecRequest {
            n: 5,
            offset: 3,
            ..RecRequest::default()
        },
        RecRequest {
            n: 12,
            exclude_seen: false,
            ..RecRequest::default()
        },
        RecRequest {
            n: 8,
            available_only: false,
            diversity: Some(0.6),
            ..RecRequest::default()
        },
        RecRequest {
            n: 7,
            strength: Some(0.5),
            ..RecRequest::default()
        },
    ];
    let batch_engine = fix.engine();
    let one_engine = fix.engine();
    let a = batch_engine.app(APP).unwrap();
    // Every trained user but the live ones and the dismisser takes the batch pool.
    let batchable = u64::from(USERS - LIVE - 1);
    for (n, req) in requests.iter().enumerate() {
        let before = batch_engine
            .stats
            .batch_scored
            .load(std::sync::atomic::Ordering::Relaxed);
        let lists = batch_engine.recommend_many(&a, &users, req).unwrap();
        let after = batch_engine
            .stats
            .batch_scored
            .load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(after - before, batchable, "request {n}: batch pools used");
        assert_eq!(lists.len(), users.len());
        for (u, batch) in users.iter().zip(&lists) {
            let one = one_engine.recommend(APP, u, req, true).unwrap();
            assert_eq!(batch.source, one.source, "request {n}, {u}");
            assert_eq!(shown(batch), shown(&one), "request {n}, {u}");
            assert!(!batch.items.is_empty(), "request {n}, {u}");
        }
    }
    assert_eq!(
        one_engine
            .stats
            .batch_scored
            .load(std::sync::atomic::Ordering::Relaxed),
        0,
        "single requests score alone"
    );
}
