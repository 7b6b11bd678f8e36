//! The shop fixture shared by the integration tests: a real SQLite store and real artifact
//! files for a small shop with two taste groups (even users view even items, odd users odd
//! items).

// Each test binary uses a part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use attune_artifact::{write_file, Artifact, Contents, DataSnapshot, Metadata, Overwrite};
use attune_core::catalog::Item;
use attune_core::event::{Context, Event, EventType, Properties};
use attune_core::model::spec::{Spec, TrainingSet};
use attune_core::sparse::{Csr, Interner};
use attune_core::time::Timestamp;
use attune_serving::model::{app_dir, location_of, version_path};
use attune_serving::{EventWeigher, Serving, ServingConfig};
use attune_store::sqlite::SqliteStore;
use attune_store::{ArtifactRef, ModelInfo, Store};

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
        EventWeigher::defaults(),
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
    let mut t = Vec::new();
    for u in 0..USERS {
        for i in viewed(u) {
            t.push((u, i, 1.0));
        }
    }
    let history = Csr::from_triplets(USERS as usize, ITEMS as usize, t).unwrap();
    let spec: Spec = spec.parse().unwrap();
    let fitted = spec.fit(&TrainingSet::new(history.clone())).unwrap();
    let meta = Metadata {
        algorithm: spec.algorithm().name().into(),
        parameters: spec
            .params()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        created_at: "2026-01-02T00:00:00Z".into(),
        data: DataSnapshot {
            app: APP.into(),
            users: USERS as u64,
            items: ITEMS as u64,
            interactions: history.nnz() as u64,
            first_event: Some(Timestamp::from_utc_micros(T0).to_rfc3339()),
            last_event: Some(Timestamp::from_utc_micros(T0 + 1_000_000_000).to_rfc3339()),
            cleaning: None,
        },
        metrics: BTreeMap::new(),
    };
    let version = shop.store.reserve_model_version(APP).unwrap();
    let dir = app_dir(&shop.data_dir, APP);
    std::fs::create_dir_all(&dir).unwrap();
    let path = version_path(&dir, version);
    let parts = fitted.model().to_parts();
    let contents = Contents {
        meta: &meta,
        model: &parts,
        users: &users,
        items: &items,
        history: Some(&history),
    };
    write_file(&path, &contents, Overwrite::Refuse).unwrap();
    let a = Artifact::open(&path).unwrap();
    let info = ModelInfo {
        algorithm: meta.algorithm.clone(),
        params: "{}".into(),
        data_snapshot: "{}".into(),
        metrics: BTreeMap::new(),
        artifact: ArtifactRef {
            location: location_of(&shop.data_dir, &path),
            checksum: a.checksum(),
            size_bytes: a.len() as u64,
        },
        created_micros: T0,
    };
    shop.store.register_model(APP, version, &info).unwrap();
    if activate {
        shop.serving.activate(APP, version).unwrap();
    }
    version
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
        EventWeigher::defaults(),
    )
}
