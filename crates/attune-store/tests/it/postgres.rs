//! The suite against PostgreSQL, plus what only PostgreSQL has: migrations shared by replicas,
//! connection handling, and use from async code.
//!
//! Server: `ATTUNE_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`. Every
//! test works in its own uniquely named apps (or its own schema), so tests run in parallel. An
//! unreachable server fails the tests (they never skip).
//!
//! The suite's tables live in a schema of this test process (`attune_test_<pid>_<nanos>`), never
//! in `public`: the test server is shared by several checkouts at once, and a build that migrated
//! a shared schema to a newer version would make every other checkout's store refuse it ("schema
//! version N is newer"). Nothing is left behind: each test deletes its apps' rows and drops its
//! private schema in a drop guard (pass or fail), and the process schema is dropped when the
//! process exits (an `atexit` hook, since the test harness has no teardown). Only a test process
//! that is killed leaves its schema; `\dn attune_test_*` in psql lists such leftovers.

use std::sync::OnceLock;

use attune_store::postgres::{PgStore, SCHEMA_VERSION};
use attune_store::{Store, StoreError};

/// The server, with no schema chosen.
fn server_url() -> String {
    std::env::var("ATTUNE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// `base` with every connection's `search_path` set to `schema`.
fn in_schema(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

/// The name of this process's suite schema, once created.
static SUITE_SCHEMA: OnceLock<String> = OnceLock::new();

/// The suite's schema for this test process (created on first use, dropped at exit).
pub fn url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("attune_test_{}_{nanos}", std::process::id());
        let mut client = postgres::Client::connect(&server_url(), postgres::NoTls)
            .unwrap_or_else(|e| unreachable_server(&server_url(), &e));
        client
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .unwrap_or_else(|e| panic!("cannot create schema {name}: {e}"));
        SUITE_SCHEMA.set(name.clone()).expect("created once");
        // SAFETY: `atexit` only records the address of a function that takes nothing and
        // captures nothing; it runs once, when the process exits.
        let registered = unsafe { libc::atexit(drop_suite_schema) };
        assert_eq!(registered, 0, "atexit refused the cleanup hook");
        in_schema(&server_url(), &name)
    })
    .clone()
}

/// The `atexit` hook: drop the suite schema. The work runs on a new thread, because the main
/// thread's thread-locals (which the PostgreSQL client's runtime uses) are already destroyed
/// while `exit` runs its hooks; nothing may unwind out of an `extern "C"` function, so every
/// failure is ignored (the schema is then left behind, as after a killed run).
extern "C" fn drop_suite_schema() {
    let Some(name) = SUITE_SCHEMA.get() else {
        return;
    };
    let drop_it = std::thread::Builder::new().spawn(move || {
        if let Ok(mut client) = postgres::Client::connect(&server_url(), postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"));
        }
    });
    if let Ok(handle) = drop_it {
        let _ = handle.join();
    }
}

fn unreachable_server(url: &str, e: &dyn std::fmt::Display) -> ! {
    panic!(
        "cannot use the PostgreSQL test server at {url}: {e}\nstart PostgreSQL or point ATTUNE_TEST_POSTGRES_URL at \
         one (the database must exist); these tests never skip"
    )
}

fn connect(url: &str) -> PgStore {
    PgStore::connect(url).unwrap_or_else(|e| unreachable_server(url, &e))
}

pub struct Fixture {
    url: String,
}

impl Fixture {
    pub fn new() -> Self {
        Self { url: url() }
    }

    pub fn open(&self) -> Box<dyn Store> {
        Box::new(connect(&self.url))
    }
}

/// Remove the rows of the apps the test created (only its own apps; shared tables stay), whether
/// the test passed or failed: the server is shared by every checkout, so a failing test must not
/// leave its rows behind (its assertion message says what went wrong). While unwinding from a
/// failed test a cleanup error is ignored (a second panic would abort the whole test binary);
/// after a passing test it fails the test.
impl Drop for Fixture {
    fn drop(&mut self) {
        let apps = crate::suite::take_created_apps();
        if apps.is_empty() {
            return;
        }
        let result = delete_apps(&apps);
        if !std::thread::panicking() {
            result.expect("delete the test's apps");
        }
    }
}

/// Delete every row of the named apps.
fn delete_apps(apps: &[String]) -> Result<(), postgres::Error> {
    let mut client = postgres::Client::connect(&url(), postgres::NoTls)?;
    let mut tx = client.transaction()?;
    // Registry tables first: they reference model_versions and apps.
    for table in [
        "studies",
        "dismissals",
        "metric_points",
        "alert_states",
        "training_profiles",
        "experiment_exposures",
        "experiment_phases",
        "experiments",
        "model_activations",
        "model_registry",
        "model_versions",
        "events",
        "items",
        "users",
        "identities",
    ] {
        let sql = format!(
            "DELETE FROM {table} WHERE app_id IN (SELECT id FROM apps WHERE name = ANY($1))"
        );
        tx.execute(&sql, &[&apps])?;
    }
    tx.execute("DELETE FROM apps WHERE name = ANY($1)", &[&apps])?;
    tx.commit()
}

crate::store_suite!(Fixture::new());

/// A private schema (dropped afterwards) and a URL whose connections use it.
struct PrivateSchema {
    name: String,
    url: String,
}

impl PrivateSchema {
    fn new(tag: &str) -> Self {
        let name = crate::suite::unique_app(tag);
        admin()
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .unwrap();
        Self {
            url: in_schema(&server_url(), &name),
            name,
        }
    }
}

/// Dropped whether the test passed or failed (a guard, so a failed assertion cannot skip it).
/// Errors are ignored: a panic here, during a failed test's unwinding, would abort the binary.
impl Drop for PrivateSchema {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&url(), postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

fn admin() -> postgres::Client {
    postgres::Client::connect(&url(), postgres::NoTls)
        .expect("connect to the PostgreSQL test server")
}

#[test]
fn fresh_schema_is_migrated_and_versioned() {
    let schema = PrivateSchema::new("fresh");
    let store = connect(&schema.url);
    store.create_app("default").unwrap();
    assert_eq!(
        store.list_apps().unwrap(),
        vec!["default".to_string()],
        "an empty, private database"
    );
    let mut client = postgres::Client::connect(&schema.url, postgres::NoTls).unwrap();
    let v: i32 = client
        .query_one("SELECT MAX(version) FROM attune_schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(i64::from(v), SCHEMA_VERSION);
    // Reconnecting (another replica) does not migrate again.
    drop(connect(&schema.url));
    let n: i64 = client
        .query_one("SELECT COUNT(*) FROM attune_schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, SCHEMA_VERSION);
}

#[test]
fn replicas_starting_together_migrate_once() {
    let schema = PrivateSchema::new("together");
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| connect(&schema.url).ping().unwrap());
        }
    });
    let mut client = postgres::Client::connect(&schema.url, postgres::NoTls).unwrap();
    let n: i64 = client
        .query_one("SELECT COUNT(*) FROM attune_schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, SCHEMA_VERSION);
}

/// A database migrated before the model registry existed (schema 1) gains it when a new
/// replica connects, and keeps its data.
#[test]
fn schema_1_database_gains_the_registry() {
    let schema = PrivateSchema::new("v1");
    let store = connect(&schema.url);
    store.create_app("shop").unwrap();
    drop(store);
    let mut client = postgres::Client::connect(&schema.url, postgres::NoTls).unwrap();
    client
        .batch_execute(
            "DROP TABLE studies; DROP TABLE dismissals; DROP TABLE training_profiles; DROP TABLE alert_states; DROP TABLE metric_points; DROP TABLE experiment_exposures; DROP TABLE experiment_phases; DROP TABLE experiments; \
         DROP TABLE model_activations; DROP TABLE model_registry; DROP TABLE model_versions; \
             DELETE FROM attune_schema_version WHERE version > 1;",
        )
        .unwrap();
    let store = connect(&schema.url);
    assert_eq!(store.list_apps().unwrap(), vec!["shop".to_string()]);
    assert_eq!(store.reserve_model_version("shop").unwrap(), 1);
    let v: i32 = client
        .query_one("SELECT MAX(version) FROM attune_schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(i64::from(v), SCHEMA_VERSION);
}

#[test]
fn newer_schema_version_is_refused() {
    let schema = PrivateSchema::new("newer");
    drop(connect(&schema.url));
    let mut client = postgres::Client::connect(&schema.url, postgres::NoTls).unwrap();
    client
        .execute(
            "INSERT INTO attune_schema_version (version, applied_micros) VALUES (999, 0)",
            &[],
        )
        .unwrap();
    let err = PgStore::connect(&schema.url).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("999") && msg.contains("newer") && msg.contains("upgrade"),
        "{msg}"
    );
    assert!(
        !msg.contains("search_path"),
        "the error names the server, not the whole URL: {msg}"
    );
}

#[test]
fn unreachable_server_is_a_clear_error() {
    let err =
        PgStore::connect("postgres://postgres@127.0.0.1:1/test?connect_timeout=2").unwrap_err();
    assert!(matches!(err, StoreError::Postgres(_)), "{err:?}");
    assert!(err.to_string().starts_with("postgres:"), "{err}");
    let err = PgStore::connect("not a url at all").unwrap_err();
    assert!(matches!(err, StoreError::Postgres(_)), "{err:?}");
}

#[test]
fn open_dispatches_on_the_url() {
    let store = attune_store::open(&url()).unwrap();
    assert_eq!(store.backend(), "postgres");
    store.ping().unwrap();
}

/// The way the server uses it: connect and drop on async worker threads, every call through
/// `spawn_blocking`.
#[test]
fn usable_from_async_code() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = rt.block_on(async {
        let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(connect(&url()));
        let app = crate::suite::unique_app("async");
        let (s, a) = (store.clone(), app.clone());
        tokio::task::spawn_blocking(move || {
            s.create_app(&a)?;
            s.counts(&a)
        })
        .await
        .unwrap()
        .unwrap();
        // The last reference is dropped on an async worker thread.
        drop(store);
        app
    });
    delete_apps(&[app]).expect("delete the test's app");
}

/// Two replicas (separate stores, separate pools) on one database: versions reserved by both
/// are distinct, racing activations serialize on the app's registry row, and each replica's
/// poll sees the other's activation at once.
#[test]
fn replicas_share_one_registry() {
    let (a, b) = (connect(&url()), connect(&url()));
    let app = crate::suite::unique_app("replicas");
    a.create_app(&app).unwrap();
    let info = |v: u32| attune_store::ModelInfo {
        algorithm: "als".into(),
        params: "{}".into(),
        data_snapshot: "{}".into(),
        metrics: Default::default(),
        artifact: attune_store::ArtifactRef {
            location: format!("models/x/v{v:04}.attune"),
            checksum: u64::from(v),
            size_bytes: 1,
        },
        created_micros: 0,
    };
    let versions: Vec<u32> = std::thread::scope(|s| {
        let hs: Vec<_> = [&a, &b]
            .into_iter()
            .map(|store| {
                let app = &app;
                s.spawn(move || {
                    (0..10)
                        .map(|_| {
                            let v = store.reserve_model_version(app).unwrap();
                            store.register_model(app, v, &info(v)).unwrap();
                            v
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = versions.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=20).collect::<Vec<_>>());

    a.activate_model(&app, 3, None).unwrap();
    let seen = b.active_model(&app).unwrap().unwrap();
    assert_eq!((seen.version, seen.seq), (3, 1));
    std::thread::scope(|s| {
        for (store, base) in [(&a, 1u32), (&b, 11)] {
            let app = &app;
            s.spawn(move || {
                for v in base..base + 10 {
                    store.activate_model(app, v, None).unwrap();
                }
            });
        }
    });
    let history = a.model_activations(&app).unwrap();
    for (i, w) in history.windows(2).enumerate() {
        assert_eq!(w[1].seq, w[0].seq + 1, "{i}: {history:?}");
        assert_eq!(w[1].previous, Some(w[0].version), "{i}: {history:?}");
    }
    let (pa, pb) = (
        a.active_model(&app).unwrap().unwrap(),
        b.active_model(&app).unwrap().unwrap(),
    );
    assert_eq!(pa, pb);
    assert_eq!(pa.seq, history.len() as u64);
    assert_eq!(
        b.rollback_model(&app, None).unwrap().activation.previous,
        Some(pa.version)
    );
    assert_ne!(a.active_model(&app).unwrap().unwrap().seq, pa.seq);
    drop((a, b));
    let _ = crate::suite::take_created_apps();
    delete_apps(&[app]).expect("delete the test's app");
}
