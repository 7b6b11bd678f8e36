//! SQLite backend: the embedded default.
//!
//! One file in WAL mode with `synchronous=FULL`, so a write that returned `Ok` has been fsynced.
//! Writes go through a single writer connection behind a mutex (SQLite allows one writer at a
//! time anyway, and `BEGIN IMMEDIATE` makes other processes wait on `busy_timeout` instead of
//! failing mid-transaction); reads take a connection from a small pool, so scans run
//! concurrently with each other and with writes. Statements are prepared once per connection
//! (`prepare_cached`). The schema is versioned by `PRAGMA user_version` (see [`schema`]).

mod experiments;
mod monitoring;
mod registry;
mod retention;
mod rows;
mod schema;
mod studies;

use std::collections::HashMap;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use attune_core::catalog::{Item, User};
use attune_core::event::{Dismissal, Event};
use rusqlite::{
    params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
};

use crate::codec::{
    event_columns, labels_to_json, map_to_json, now_micros, relink_conflict, ts_bounds, EventParams,
};
use crate::{
    Activation, ActivationOutcome, ActiveModel, AppCounts, Erasure, EventFilter, ExperimentPhase,
    ExperimentRecord, ExperimentStore, Exposure, InsertStatus, ModelInfo, ModelRecord, Result,
    Store, StoreError,
};

pub use schema::LATEST as SCHEMA_VERSION;

/// Idle reader connections kept open; more are opened on demand (and closed when returned).
/// Serving reads a user's profile and recent events per uncached request from the blocking
/// pool, tens at once under load; with 4 kept, most of them opened a connection (and parsed
/// the schema) per request, which was most of the uncached latency. A reader costs its page
/// cache (2 MB at most by SQLite's default) only while it holds pages.
const MAX_IDLE_READERS: usize = 32;
/// How long a connection waits for a lock held by another connection or process.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// WAL pages between automatic checkpoints.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 16_384;

/// The `seq` of every event attributed to user `$user` in app `?1`: by user_id, or by an
/// anonymous_id linked to the user.
macro_rules! user_event_seqs {
    ($user:literal) => {
        concat!(
            "SELECT seq FROM events WHERE app_id = ?1 AND user_id = ",
            $user,
            " UNION ALL SELECT seq FROM events WHERE app_id = ?1 AND anonymous_id IN \
             (SELECT anonymous_id FROM identities WHERE app_id = ?1 AND user_id = ",
            $user,
            ")"
        )
    };
}

const INSERT_EVENT: &str = concat!(
    "INSERT INTO events (app_id, ",
    event_columns!(),
    ", received_micros) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
     ?19, ?20, ?21, ?22, ?23) ON CONFLICT (app_id, event_id) DO NOTHING"
);
const SCAN_EVENTS: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE app_id = ?1 AND ts_micros BETWEEN ?2 AND ?3 AND event_type <> ?4 \
     ORDER BY ts_micros, event_id"
);
/// A user's events: their own (index on user_id) plus their devices' (index on anonymous_id),
/// by rowid. Written as `seq IN (... UNION ALL ...)` because SQLite plans the equivalent `OR`
/// as a scan of the whole app.
const SCAN_USER_EVENTS: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE seq IN (",
    user_event_seqs!("?4"),
    ") AND ts_micros BETWEEN ?2 AND ?3 AND event_type <> ?5 ORDER BY ts_micros, event_id"
);
const ITEM_COLUMNS: &str =
    "item_id, title, description, categories, tags, attributes, published_at, available";
const USER_COLUMNS: &str = "user_id, attributes, preferred_categories, personalization_consent";

/// The embedded store. Cheap to share (`Arc<SqliteStore>`); every method is blocking.
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// A connection of its own for checkpoints during retention (opened on first use), so they
    /// run beside the writer instead of holding it (`retention.rs`).
    /// With the rows deleted since its last checkpoint.
    checkpointer: Mutex<(Option<Connection>, usize)>,
    /// Known apps (name -> id). Apps are never deleted, so a cached id stays valid.
    apps: RwLock<HashMap<String, i64>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves the connection usable: an open transaction was rolled
    // back when it was dropped during unwinding.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn io_error(path: &Path, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(detail.to_string()),
    }
}

fn open_connection(path: &Path, reader: bool) -> Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if !reader {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags).map_err(|e| io_error(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(32);
    if reader {
        conn.pragma_update(None, "query_only", true)?;
    } else {
        // 32 MiB page cache for the writer (index maintenance on large batches).
        conn.pragma_update(None, "cache_size", -32_768)?;
        // Checkpoint every 16384 WAL pages (64 MiB) instead of 1000: a page dirtied by many
        // batches is copied into the database once per checkpoint rather than every few
        // commits (measured: ~1.5x the insert rate on 1,000-event batches). A background
        // checkpoint thread was tried as well: it cost throughput and did not cut the worst
        // batch latency, so the writer checkpoints itself.
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
        // Keep the WAL file allocated across checkpoints (no re-extension), but trim it after a
        // long reader made it grow.
        conn.pragma_update(None, "journal_size_limit", 128 * 1024 * 1024)?;
    }
    Ok(conn)
}

/// A pooled reader connection, returned to the pool on drop.
struct Reader<'a> {
    store: &'a SqliteStore,
    conn: Option<Connection>,
}

impl Deref for Reader<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut pool = lock(&self.store.readers);
            if pool.len() < MAX_IDLE_READERS {
                pool.push(conn);
            }
        }
    }
}

/// Switch to WAL, retrying "database is locked" for as long as `busy_timeout` would wait.
/// Two `attune consume` processes started together on a fresh data directory failed here
/// once with "database is locked" (the RabbitMQ test); a journal-mode change needs the file to
/// itself, and the retry makes the second opener wait for the first instead of exiting. (Not
/// reproduced in-process, so no unit test; the consumers' test is the check.)
fn enable_wal(conn: &Connection) -> Result<String> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0)) {
            Ok(mode) => return Ok(mode),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

impl SqliteStore {
    /// Open (creating if needed) the database file at `path`, with its parent directories,
    /// and migrate its schema to [`SCHEMA_VERSION`]. A file written by a newer attune is refused
    /// with [`StoreError::Corrupt`] naming both versions.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                path: parent.display().to_string(),
                source,
            })?;
        }
        let mut writer = open_connection(&path, false)?;
        let mode = enable_wal(&writer)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(io_error(
                &path,
                format!("could not enable WAL mode (journal_mode is {mode})"),
            ));
        }
        schema::migrate(&mut writer, &path.display().to_string())?;
        let apps = {
            let mut stmt = writer.prepare("SELECT name, id FROM apps")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            rows.collect::<rusqlite::Result<HashMap<_, _>>>()?
        };
        tracing::debug!(path = %path.display(), apps = apps.len(), "sqlite store opened");
        Ok(Self {
            path,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            checkpointer: Mutex::new((None, 0)),
            apps: RwLock::new(apps),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn reader(&self) -> Result<Reader<'_>> {
        let pooled = lock(&self.readers).pop();
        let conn = match pooled {
            Some(c) => c,
            None => open_connection(&self.path, true)?,
        };
        Ok(Reader {
            store: self,
            conn: Some(conn),
        })
    }

    /// Run `f` in one `BEGIN IMMEDIATE` transaction on the writer; commit if it returns `Ok`.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// The id of an existing app (cached), or `UnknownApp`.
    fn app_id(&self, app: &str) -> Result<i64> {
        if let Some(id) = self
            .apps
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(app)
        {
            return Ok(*id);
        }
        // Another process (the CLI next to a running server) may have created it.
        let id: Option<i64> = self
            .reader()?
            .prepare_cached("SELECT id FROM apps WHERE name = ?1")?
            .query_row([app], |r| r.get(0))
            .optional()?;
        match id {
            Some(id) => {
                self.apps
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(app.to_string(), id);
                Ok(id)
            }
            None => Err(StoreError::UnknownApp(app.to_string())),
        }
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn ping(&self) -> Result<()> {
        self.reader()?.query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    fn create_app(&self, app: &str) -> Result<()> {
        if self.app_id(app).is_ok() {
            return Ok(());
        }
        let id = self.write(|tx| {
            tx.prepare_cached("INSERT INTO apps (name, created_micros) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING")?
                .execute(params![app, now_micros()])?;
            Ok(tx.prepare_cached("SELECT id FROM apps WHERE name = ?1")?.query_row([app], |r| r.get(0))?)
        })?;
        self.apps
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(app.to_string(), id);
        Ok(())
    }

    fn list_apps(&self) -> Result<Vec<String>> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached("SELECT name FROM apps ORDER BY name")?;
        let names = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(names)
    }

    fn insert_events(&self, app: &str, events: &[Event]) -> Result<Vec<InsertStatus>> {
        let app_id = self.app_id(app)?;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        // Encode before taking the writer lock.
        let encoded = events
            .iter()
            .map(EventParams::new)
            .collect::<Result<Vec<_>>>()?;
        let received = now_micros();
        self.write(|tx| {
            // Stitching: devices of anonymous-only events that are already linked to a user.
            let mut links: HashMap<&str, Option<String>> = HashMap::new();
            {
                let mut lookup = tx.prepare_cached(
                    "SELECT user_id FROM identities WHERE app_id = ?1 AND anonymous_id = ?2",
                )?;
                for e in events {
                    if let (None, Some(anon)) = (&e.user_id, &e.anonymous_id) {
                        if !links.contains_key(anon.as_str()) {
                            let user = lookup
                                .query_row(params![app_id, anon], |r| r.get(0))
                                .optional()?;
                            links.insert(anon, user);
                        }
                    }
                }
            }
            let mut insert = tx.prepare_cached(INSERT_EVENT)?;
            let mut statuses = Vec::with_capacity(events.len());
            for p in &encoded {
                let (e, c) = (p.event, &p.event.context);
                let user_id = e.user_id.as_deref().or_else(|| {
                    e.anonymous_id
                        .as_deref()
                        .and_then(|a| links.get(a))
                        .and_then(|u| u.as_deref())
                });
                let changed = insert.execute(params![
                    app_id,
                    e.event_id,
                    e.event_type.as_str(),
                    user_id,
                    e.anonymous_id,
                    e.item_id,
                    e.timestamp.utc_micros,
                    e.timestamp.offset_secs,
                    e.value,
                    p.dwell_ms,
                    e.properties.scroll_depth,
                    p.hover_ms,
                    e.properties.price,
                    p.quantity,
                    e.properties.rating,
                    p.extra,
                    c.session_id,
                    c.device,
                    c.page,
                    c.recommendation_id,
                    c.experiment,
                    c.variant,
                    received,
                ])?;
                if changed == 1 {
                    if let (Some(d), Some(key)) = (e.dismissal(), user_id.or(e.anonymous_id.as_deref())) {
                        tx.prepare_cached(
                            "INSERT INTO dismissals (app_id, user_key, kind, value, at_micros) VALUES (?1, ?2, ?3, ?4, ?5) \
                             ON CONFLICT (app_id, user_key, kind, value) DO UPDATE SET at_micros = MAX(at_micros, excluded.at_micros)",
                        )?
                        .execute(params![app_id, key, d.kind(), d.value(), e.timestamp.utc_micros])?;
                    }
                }
                statuses.push(if changed == 1 {
                    InsertStatus::Accepted
                } else {
                    InsertStatus::Duplicate
                });
            }
            Ok(statuses)
        })
    }

    fn scan_events(
        &self,
        app: &str,
        filter: &EventFilter,
        visit: &mut dyn FnMut(Event) -> bool,
    ) -> Result<()> {
        let app_id = self.app_id(app)?;
        let Some((since, until)) = ts_bounds(filter) else {
            return Ok(());
        };
        let conn = self.reader()?;
        let skipped = crate::codec::skipped_type(filter);
        let mut stmt;
        let mut rows = match &filter.user_id {
            Some(user) => {
                stmt = conn.prepare_cached(SCAN_USER_EVENTS)?;
                stmt.query(params![app_id, since, until, user, skipped])?
            }
            None => {
                stmt = conn.prepare_cached(SCAN_EVENTS)?;
                stmt.query(params![app_id, since, until, skipped])?
            }
        };
        while let Some(row) = rows.next()? {
            if !visit(rows::event(row)?) {
                break;
            }
        }
        Ok(())
    }

    fn delete_events(
        &self,
        app: &str,
        event_type: &str,
        from_micros: i64,
        before_micros: i64,
        limit: usize,
    ) -> Result<crate::DeletedEvents> {
        retention::delete_events(self, app, event_type, from_micros, before_micros, limit)
    }

    fn size_bytes(&self) -> Result<u64> {
        retention::size_bytes(self)
    }

    fn nth_newest_event_ts(&self, app: &str, until_micros: i64, n: usize) -> Result<Option<i64>> {
        retention::nth_newest_event_ts(self, app, until_micros, n)
    }

    fn upsert_items(&self, app: &str, items: &[Item]) -> Result<()> {
        let app_id = self.app_id(app)?;
        let encoded = items
            .iter()
            .map(|i| {
                Ok((
                    labels_to_json(&i.categories),
                    labels_to_json(&i.tags),
                    map_to_json("items", &i.attributes)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let now = now_micros();
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO items (app_id, item_id, title, description, categories, tags, attributes, published_at, \
                 available, updated_micros) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (app_id, item_id) DO UPDATE SET title = excluded.title, \
                 description = excluded.description, categories = excluded.categories, tags = excluded.tags, \
                 attributes = excluded.attributes, published_at = excluded.published_at, \
                 available = excluded.available, updated_micros = excluded.updated_micros",
            )?;
            for (item, (categories, tags, attributes)) in items.iter().zip(&encoded) {
                stmt.execute(params![
                    app_id,
                    item.item_id,
                    item.title,
                    item.description,
                    categories,
                    tags,
                    attributes,
                    item.published_at,
                    item.available,
                    now
                ])?;
            }
            Ok(())
        })
    }

    fn get_item(&self, app: &str, item_id: &str) -> Result<Option<Item>> {
        let app_id = self.app_id(app)?;
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE app_id = ?1 AND item_id = ?2"
        ))?;
        let mut rows = stmt.query(params![app_id, item_id])?;
        rows.next()?.map(rows::item).transpose()
    }

    fn delete_item(&self, app: &str, item_id: &str) -> Result<bool> {
        let app_id = self.app_id(app)?;
        self.write(|tx| {
            let n = tx
                .prepare_cached("DELETE FROM items WHERE app_id = ?1 AND item_id = ?2")?
                .execute(params![app_id, item_id])?;
            Ok(n > 0)
        })
    }

    fn scan_items(&self, app: &str, visit: &mut dyn FnMut(Item) -> bool) -> Result<()> {
        let app_id = self.app_id(app)?;
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE app_id = ?1 ORDER BY item_id"
        ))?;
        let mut rows = stmt.query([app_id])?;
        while let Some(row) = rows.next()? {
            if !visit(rows::item(row)?) {
                break;
            }
        }
        Ok(())
    }

    fn upsert_users(&self, app: &str, users: &[User]) -> Result<()> {
        let app_id = self.app_id(app)?;
        let encoded = users
            .iter()
            .map(|u| {
                Ok((
                    map_to_json("users", &u.attributes)?,
                    labels_to_json(&u.preferred_categories),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let now = now_micros();
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO users (app_id, user_id, attributes, preferred_categories, personalization_consent, \
                 updated_micros) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (app_id, user_id) DO UPDATE SET \
                 attributes = excluded.attributes, preferred_categories = excluded.preferred_categories, \
                 personalization_consent = excluded.personalization_consent, updated_micros = excluded.updated_micros",
            )?;
            for (user, (attributes, preferred)) in users.iter().zip(&encoded) {
                stmt.execute(params![app_id, user.user_id, attributes, preferred, user.consent.personalization, now])?;
            }
            Ok(())
        })
    }

    fn get_user(&self, app: &str, user_id: &str) -> Result<Option<User>> {
        let app_id = self.app_id(app)?;
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE app_id = ?1 AND user_id = ?2"
        ))?;
        let mut rows = stmt.query(params![app_id, user_id])?;
        rows.next()?.map(rows::user).transpose()
    }

    fn delete_user(&self, app: &str, user_id: &str) -> Result<Erasure> {
        let app_id = self.app_id(app)?;
        self.write(|tx| {
            let events = tx
                .prepare_cached(concat!(
                    "DELETE FROM events WHERE seq IN (",
                    user_event_seqs!("?2"),
                    ")"
                ))?
                .execute(params![app_id, user_id])?;
            // Their experiment exposures and dismissals too (under the user id and their
            // linked devices).
            for table in ["experiment_exposures", "dismissals"] {
                tx.prepare_cached(&format!(
                    "DELETE FROM {table} WHERE app_id = ?1 AND (user_key = ?2 OR user_key IN \
                     (SELECT anonymous_id FROM identities WHERE app_id = ?1 AND user_id = ?2))"
                ))?
                .execute(params![app_id, user_id])?;
            }
            let identities = tx
                .prepare_cached("DELETE FROM identities WHERE app_id = ?1 AND user_id = ?2")?
                .execute(params![app_id, user_id])?;
            let profile = tx
                .prepare_cached("DELETE FROM users WHERE app_id = ?1 AND user_id = ?2")?
                .execute(params![app_id, user_id])?;
            Ok(Erasure {
                profile: profile > 0,
                events: events as u64,
                identities: identities as u64,
            })
        })
    }

    fn dismissals(&self, app: &str, user_key: &str) -> Result<Vec<(Dismissal, i64)>> {
        let app_id = self.app_id(app)?;
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT kind, value, at_micros FROM dismissals WHERE app_id = ?1 AND user_key = ?2 \
             ORDER BY at_micros, kind, value",
        )?;
        let mut rows = stmt.query(params![app_id, user_key])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let kind: String = r.get(0)?;
            let d = Dismissal::from_parts(&kind, r.get(1)?).ok_or_else(|| StoreError::Corrupt {
                table: "dismissals",
                detail: format!("unknown kind {kind:?}"),
            })?;
            out.push((d, r.get(2)?));
        }
        Ok(out)
    }

    fn scan_users(&self, app: &str, visit: &mut dyn FnMut(User) -> bool) -> Result<()> {
        let app_id = self.app_id(app)?;
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE app_id = ?1 ORDER BY user_id"
        ))?;
        let mut rows = stmt.query([app_id])?;
        while let Some(row) = rows.next()? {
            if !visit(rows::user(row)?) {
                break;
            }
        }
        Ok(())
    }

    fn identify(&self, app: &str, anonymous_id: &str, user_id: &str) -> Result<u64> {
        let app_id = self.app_id(app)?;
        self.write(|tx| {
            let linked: Option<String> = tx
                .prepare_cached("SELECT user_id FROM identities WHERE app_id = ?1 AND anonymous_id = ?2")?
                .query_row(params![app_id, anonymous_id], |r| r.get(0))
                .optional()?;
            match linked {
                Some(other) if other != user_id => return Err(relink_conflict(anonymous_id, user_id)),
                Some(_) => {}
                None => {
                    tx.prepare_cached(
                        "INSERT INTO identities (app_id, anonymous_id, user_id, linked_micros) VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![app_id, anonymous_id, user_id, now_micros()])?;
                }
            }
            let n = tx
                .prepare_cached(
                    "UPDATE events SET user_id = ?3 WHERE app_id = ?1 AND anonymous_id = ?2 AND user_id IS NULL",
                )?
                .execute(params![app_id, anonymous_id, user_id])?;
            experiments::carry_exposures(tx, app_id, anonymous_id, user_id)?;
            tx.prepare_cached(
                "INSERT INTO dismissals (app_id, user_key, kind, value, at_micros) \
                 SELECT app_id, ?3, kind, value, at_micros FROM dismissals WHERE app_id = ?1 AND user_key = ?2 \
                 ON CONFLICT (app_id, user_key, kind, value) DO NOTHING",
            )?
            .execute(params![app_id, anonymous_id, user_id])?;
            Ok(n as u64)
        })
    }

    fn resolve_identity(&self, app: &str, anonymous_id: &str) -> Result<Option<String>> {
        let app_id = self.app_id(app)?;
        let user = self
            .reader()?
            .prepare_cached(
                "SELECT user_id FROM identities WHERE app_id = ?1 AND anonymous_id = ?2",
            )?
            .query_row(params![app_id, anonymous_id], |r| r.get(0))
            .optional()?;
        Ok(user)
    }

    fn counts(&self, app: &str) -> Result<AppCounts> {
        let app_id = self.app_id(app)?;
        // One statement, so one snapshot.
        let counts = self
            .reader()?
            .prepare_cached(
                "SELECT (SELECT COUNT(*) FROM events WHERE app_id = ?1), (SELECT COUNT(*) FROM items WHERE app_id = ?1), \
                 (SELECT COUNT(*) FROM users WHERE app_id = ?1), (SELECT COUNT(*) FROM identities WHERE app_id = ?1)",
            )?
            .query_row([app_id], |r| {
                Ok(AppCounts {
                    events: r.get::<_, i64>(0)? as u64,
                    items: r.get::<_, i64>(1)? as u64,
                    users: r.get::<_, i64>(2)? as u64,
                    identities: r.get::<_, i64>(3)? as u64,
                })
            })?;
        Ok(counts)
    }

    fn reserve_model_version(&self, app: &str) -> Result<u32> {
        registry::reserve(self, app)
    }

    fn register_model(&self, app: &str, version: u32, info: &ModelInfo) -> Result<ModelRecord> {
        registry::register(self, app, version, info)
    }

    fn list_models(&self, app: &str) -> Result<Vec<ModelRecord>> {
        registry::list(self, app)
    }

    fn get_model(&self, app: &str, version: u32) -> Result<Option<ModelRecord>> {
        registry::get(self, app, version)
    }

    fn activate_model(
        &self,
        app: &str,
        version: u32,
        expected_seq: Option<u64>,
    ) -> Result<ActivationOutcome> {
        registry::activate(self, app, version, expected_seq)
    }

    fn rollback_model(&self, app: &str, expected_seq: Option<u64>) -> Result<ActivationOutcome> {
        registry::rollback(self, app, expected_seq)
    }

    fn active_model(&self, app: &str) -> Result<Option<ActiveModel>> {
        registry::active(self, app)
    }

    fn model_activations(&self, app: &str) -> Result<Vec<Activation>> {
        registry::activations(self, app)
    }
}

impl ExperimentStore for SqliteStore {
    fn create_experiment(
        &self,
        app: &str,
        name: &str,
        layer: &str,
        definition: &str,
    ) -> Result<ExperimentRecord> {
        experiments::create(self, app, name, layer, definition)
    }

    fn get_experiment(&self, app: &str, name: &str) -> Result<Option<ExperimentRecord>> {
        experiments::get(self, app, name)
    }

    fn list_experiments(&self, app: &str) -> Result<Vec<ExperimentRecord>> {
        experiments::list(self, app)
    }

    fn update_experiment(
        &self,
        app: &str,
        name: &str,
        definition: &str,
    ) -> Result<ExperimentRecord> {
        experiments::update(self, app, name, definition)
    }

    fn start_experiment(&self, app: &str, name: &str, buckets: u32) -> Result<ExperimentRecord> {
        experiments::start(self, app, name, buckets)
    }

    fn stop_experiment(&self, app: &str, name: &str) -> Result<ExperimentRecord> {
        experiments::stop(self, app, name)
    }

    fn experiment_phases(&self, app: &str, name: &str) -> Result<Vec<ExperimentPhase>> {
        experiments::phases(self, app, name)
    }

    fn record_exposures(&self, app: &str, exposures: &[Exposure]) -> Result<u64> {
        experiments::record_exposures(self, app, exposures)
    }

    fn get_exposure(
        &self,
        app: &str,
        experiment: &str,
        phase: u32,
        user_key: &str,
    ) -> Result<Option<Exposure>> {
        experiments::get_exposure(self, app, experiment, phase, user_key)
    }

    fn scan_exposures(
        &self,
        app: &str,
        experiment: &str,
        phase: u32,
        visit: &mut dyn FnMut(Exposure) -> bool,
    ) -> Result<()> {
        experiments::scan_exposures(self, app, experiment, phase, visit)
    }

    fn put_experiment_state(&self, app: &str, name: &str, state: &str) -> Result<()> {
        experiments::put_state(self, app, name, state)
    }

    fn get_experiment_state(&self, app: &str, name: &str) -> Result<Option<(String, i64)>> {
        experiments::get_state(self, app, name)
    }
}

impl crate::StudyStore for SqliteStore {
    fn save_study(&self, app: &str, study: &crate::StudyRecord) -> Result<crate::StudyRecord> {
        studies::save(self, app, study)
    }

    fn load_study(&self, app: &str, name: &str) -> Result<Option<crate::StudyRecord>> {
        studies::load(self, app, name)
    }

    fn list_studies(&self, app: &str) -> Result<Vec<crate::StudyRecord>> {
        studies::list(self, app)
    }

    fn delete_study(&self, app: &str, name: &str) -> Result<bool> {
        studies::delete(self, app, name)
    }
}

impl crate::MonitorStore for SqliteStore {
    fn put_points(&self, app: &str, points: &[crate::MetricPoint]) -> Result<()> {
        monitoring::put_points(self, app, points)
    }

    fn scan_points(
        &self,
        app: &str,
        metric: &str,
        since_micros: i64,
        until_micros: i64,
        visit: &mut dyn FnMut(crate::MetricPoint) -> bool,
    ) -> Result<()> {
        monitoring::scan_points(self, app, metric, since_micros, until_micros, visit)
    }

    fn metric_names(&self, app: &str) -> Result<Vec<String>> {
        monitoring::metric_names(self, app)
    }

    fn prune_points(&self, app: &str, before_micros: i64) -> Result<u64> {
        monitoring::prune_points(self, app, before_micros)
    }

    fn put_alert(&self, app: &str, alert: &crate::AlertRecord) -> Result<()> {
        monitoring::put_alert(self, app, alert)
    }

    fn list_alerts(&self, app: &str) -> Result<Vec<crate::AlertRecord>> {
        monitoring::list_alerts(self, app)
    }

    fn put_training_profile(&self, app: &str, version: u32, profile: &str) -> Result<()> {
        monitoring::put_training_profile(self, app, version, profile)
    }

    fn get_training_profile(&self, app: &str, version: u32) -> Result<Option<String>> {
        monitoring::get_training_profile(self, app, version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(conn: &Connection, sql: &str) -> String {
        let n = sql.matches('?').count();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let params: Vec<i64> = (0..n).map(|_| 1).collect();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(
                &params[..stmt.parameter_count()],
            ))
            .unwrap();
        let mut out = String::new();
        while let Some(r) = rows.next().unwrap() {
            out.push_str(&r.get::<_, String>(3).unwrap());
            out.push('\n');
        }
        out
    }

    /// Per-user reads and erasure must use the user and device indexes, not scan the app.
    #[test]
    fn user_queries_use_their_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("plan.db")).unwrap();
        let conn = store.reader().unwrap();
        let delete = concat!(
            "DELETE FROM events WHERE seq IN (",
            user_event_seqs!("?2"),
            ")"
        );
        for sql in [SCAN_USER_EVENTS, delete] {
            let p = plan(&conn, sql);
            assert!(
                p.contains("events_app_user") && p.contains("events_app_anon"),
                "{p}"
            );
            assert!(!p.contains("SCAN events"), "{p}");
        }
        let p = plan(&conn, SCAN_EVENTS);
        assert!(
            p.contains("events_app_ts") && !p.contains("TEMP B-TREE"),
            "{p}"
        );
        let p = plan(&conn, "UPDATE events SET user_id = ?3 WHERE app_id = ?1 AND anonymous_id = ?2 AND user_id IS NULL");
        assert!(p.contains("events_app_anon"), "{p}");
    }
}
