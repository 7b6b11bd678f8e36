//! The shop fixture shared by the integration tests: a real SQLite store and real artifact
//! files for a small shop with two taste groups (even users view even items, odd users odd
//! items).

// Each test binary uses a part of it.
#![allow(dead_code)]

use std::sync::Arc;

use attune_core::catalog::Item;
use attune_core::event::{Context, Event, EventType, Properties};
use attune_core::model::spec::{ItemSequences, Spec, TrainingSet};
use attune_core::sparse::{Csr, Interner};
use attune_core::time::Timestamp;
use attune_serving::{Serving, ServingConfig};
use attune_store::sqlite::SqliteStore;
use attune_store::Store;

pub const APP: &str = "shop";
pub const ALS: &str = "als:factors=4,alpha=5,reg=1,iterations=15,seed=1";
pub const USERS: u32 = 40;
pub const ITEMS: u32 = 24;
/// 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600_000_000;

pub fn event(n: usize, user: &str, item: &str, t: EventType, micros: i64) -> Event {
    Event {
        event_id: format!("e-{n}-{user}-{item}"),
        event_type: t,
        user_id: Some(user.into()),
        anonymous_id: None,
        item_id: Some(item.into()),
        timestamp: Timestamp::from_utc_micros(micros),
        value: None,
        properties: Properties::default(),
        context: Context::default(),
    }
}

/// Items user `u` viewed: six of its parity.
pub fn viewed(u: u32) -> Vec<u32> {
    (0..6)
        .map(|j| ((u / 2 + j) % (ITEMS / 2)) * 2 + u % 2)
        .collect()
}

pub struct Shop {
    _dir: tempfile::TempDir,
    pub data_dir: std::path::PathBuf,
    pub store: Arc<dyn Store>,
    pub serving: Serving,
}

pub fn shop() -> Shop {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_path_buf();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(data_dir.join("attune.db")).unwrap());
    store.create_app(APP).unwrap();
    let items: Vec<Item> = (0..ITEMS)
        .map(|i| Item {
            item_id: format!("i{i:02}"),
            title: Some(format!("Item {i}")),
            categories: vec![if i % 2 == 0 { "even" } else { "odd" }.into()],
            available: i != 22,
            ..Item::default()
        })
        .collect();
    store.upsert_items(APP, &items).unwrap();
    let mut events = Vec::new();
    for u in 0..USERS {
        for (j, i) in viewed(u).into_iter().enumerate() {
            events.push(event(
                0,
                &format!("u{u:02}"),
                &format!("i{i:02}"),
                EventType::View,
                T0 + (u * 10 + j as u32) as i64 * 1_000_000,
            ));
        }
    }
    store.insert_events(APP, &events).unwrap();
    let serving = Serving::new(
        store.clone(),
        &data_dir,
        ServingConfig::default(),
        attune_core::event::EventWeighting::default(),
    );
    Shop {
        _dir: dir,
        data_dir,
        store,
        serving,
    }
}

/// Train `spec` on the stored views, write, register (and activate if `activate`).
pub fn train(shop: &Shop, spec: &str, activate: bool) -> u32 {
    let users = Interner::sorted((0..USERS).map(|u| format!("u{u:02}")));
    let items = Interner::sorted((0..ITEMS).map(|i| format!("i{i:02}")));
    let history = views();
    let fitted = fit(spec, &history);
    let trained = attune_testsupport::Trained {
        app: APP,
        fitted: &fitted,
        users: &users,
        items: &items,
        history: &history,
        last_event_micros: Some(T0 + 1_000_000_000),
    };
    let version = attune_testsupport::register(
        &*shop.store,
        &shop.data_dir,
        &trained,
        None,
        &attune_testsupport::exact(),
    );
    if activate {
        shop.serving.activate(APP, version).unwrap();
    }
    version
}

/// The training matrix of the shop's views: users x items, in id order.
pub fn views() -> Csr {
    let mut t = Vec::new();
    for u in 0..USERS {
        for i in viewed(u) {
            t.push((u, i, 1.0));
        }
    }
    Csr::from_triplets(USERS as usize, ITEMS as usize, t).unwrap()
}

/// `spec` fitted on `history`, with each user's views in the order they were stored as the
/// timeline order-aware models read.
pub fn fit(spec: &str, history: &Csr) -> attune_core::model::spec::Fitted {
    let spec: Spec = spec.parse().unwrap();
    let mut set = TrainingSet::new(history.clone());
    let timed = (0..USERS).flat_map(|u| {
        viewed(u)
            .into_iter()
            .enumerate()
            .map(move |(j, i)| (u, i64::from(u * 10) + j as i64, i))
    });
    set.sequences = Some(ItemSequences::from_timed(USERS as usize, timed.collect()));
    spec.fit(&set).unwrap()
}

pub fn ids(list: &attune_serving::RecList) -> Vec<String> {
    list.items.iter().map(|r| r.item_id.clone()).collect()
}

pub fn parity(id: &str) -> u32 {
    id[1..].parse::<u32>().unwrap() % 2
}

/// Another engine over the shop's store and models (a second replica, a restarted server).
pub fn engine(shop: &Shop) -> Serving {
    Serving::new(
        shop.store.clone(),
        &shop.data_dir,
        ServingConfig::default(),
        attune_core::event::EventWeighting::default(),
    )
}
