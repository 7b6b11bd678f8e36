//! The suite against SQLite (a fresh file in a temporary directory per test), plus what only
//! SQLite has: the file itself.

use attune_store::sqlite::{SqliteStore, SCHEMA_VERSION};
use attune_store::{Store, StoreError};

pub struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    /// A nested path, so `open` must create the parent directories.
    pub fn path(&self) -> std::path::PathBuf {
        self.dir
            .path()
            .join("data")
            .join("nested")
            .join("attune.db")
    }

    pub fn open(&self) -> Box<dyn Store> {
        Box::new(SqliteStore::open(self.path()).expect("open sqlite store"))
    }
}

crate::store_suite!(Fixture::new());

#[test]
fn file_is_wal_with_current_schema_version() {
    let fx = Fixture::new();
    let store = fx.open();
    assert_eq!(store.backend(), "sqlite");
    drop(store);
    let conn = rusqlite::Connection::open(fx.path()).unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}

#[test]
fn newer_schema_version_is_refused() {
    let fx = Fixture::new();
    let store = fx.open();
    store.create_app("default").unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(fx.path()).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    let err = SqliteStore::open(fx.path()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("999") && msg.contains("newer") && msg.contains("upgrade"),
        "{msg}"
    );
    // Nothing was changed by the refused open.
    let conn = rusqlite::Connection::open(fx.path()).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 999);
}

#[test]
fn reopening_is_idempotent_and_keeps_apps() {
    let fx = Fixture::new();
    fx.open().create_app("shop").unwrap();
    for _ in 0..3 {
        assert_eq!(fx.open().list_apps().unwrap(), vec!["shop".to_string()]);
    }
}

#[test]
fn app_created_by_another_handle_is_seen() {
    // The CLI creating an app next to a running server.
    let fx = Fixture::new();
    let server = fx.open();
    let cli = fx.open();
    cli.create_app("late").unwrap();
    assert_eq!(server.counts("late").unwrap().events, 0);
}

#[test]
fn unusable_path_is_a_clear_error() {
    let fx = Fixture::new();
    let file = fx.dir.path().join("plain-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let err = SqliteStore::open(file.join("attune.db")).unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("plain-file"), "{err}");

    std::fs::write(fx.dir.path().join("garbage.db"), vec![0x42u8; 8192]).unwrap();
    let err = SqliteStore::open(fx.dir.path().join("garbage.db")).unwrap_err();
    assert!(
        err.to_string().contains("garbage.db") || err.to_string().contains("not a database"),
        "{err}"
    );
}

/// A database written before the model registry existed (schema 1) gains it on open and keeps
/// its data.
#[test]
fn schema_1_database_gains_the_registry() {
    let fx = Fixture::new();
    let store = fx.open();
    store.create_app("shop").unwrap();
    store
        .upsert_items("shop", &[attune_core::catalog::Item::new("sku")])
        .unwrap();
    drop(store);
    // Turn it back into what the previous release wrote.
    let conn = rusqlite::Connection::open(fx.path()).unwrap();
    conn.execute_batch(
        "DROP TABLE studies; DROP TABLE dismissals; DROP TABLE training_profiles; DROP TABLE alert_states; DROP TABLE metric_points; DROP TABLE experiment_exposures; DROP TABLE experiment_phases; DROP TABLE experiments; \
         DROP TABLE model_activations; DROP TABLE model_registry; DROP TABLE model_versions; \
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);

    let store = fx.open();
    assert_eq!(store.counts("shop").unwrap().items, 1);
    assert_eq!(store.reserve_model_version("shop").unwrap(), 1);
    assert!(store.list_models("shop").unwrap().is_empty());
    drop(store);
    let conn = rusqlite::Connection::open(fx.path()).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}
