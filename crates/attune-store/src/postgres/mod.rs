//! PostgreSQL backend: the shared store for several replicas.
//!
//! Uses the synchronous `postgres` client (each client drives its own small runtime), so every
//! method must run on a plain thread or a tokio `spawn_blocking` thread, never directly on an
//! async worker; [`PgStore::connect`] and dropping the store are safe anywhere. Connections come
//! from a small hand-written pool; each keeps its prepared statements.
//!
//! Batches go in as one `INSERT ... SELECT FROM UNNEST(arrays) ON CONFLICT DO NOTHING RETURNING
//! event_id` per call (one round trip for the whole batch). Durability is PostgreSQL's default
//! (`synchronous_commit` as configured on the server).
//!
//! Identity stitching under concurrency: inserts take a shared per-app advisory lock and
//! `identify` / `delete_user` an exclusive one, so an insert never stitches against a link
//! that is being created or erased at the same moment (no event is left anonymous because it
//! raced with `identify`). Ingest of different apps never waits on each other.
//!
//! TLS is not supported yet (connections use `NoTls`; `sslmode=require` fails to connect).

mod experiments;
mod monitoring;
mod registry;
mod retention;
mod rows;
mod schema;
mod studies;

use std::collections::{HashMap, HashSet};
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use attune_core::catalog::{Item, User};
use attune_core::event::{Dismissal, Event};
use postgres::{Client, IsolationLevel, NoTls, Statement};

use crate::codec::{
    event_columns, labels_to_json, map_to_json, now_micros, relink_conflict, ts_bounds, EventParams,
};
use crate::{
    Activation, ActivationOutcome, ActiveModel, AppCounts, Erasure, EventFilter, InsertStatus,
    ModelInfo, ModelRecord, Result, Store, StoreError,
};

pub use schema::LATEST as SCHEMA_VERSION;

/// Idle connections kept; more are opened on demand and closed when returned.
const MAX_IDLE: usize = 8;
/// Connect timeout when the URL sets none.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Rows fetched per round trip by scans.
const SCAN_CHUNK: i32 = 10_000;
/// Advisory-lock class for per-app identity locks (two-int form; second key = app id).
const IDENTITY_LOCK: i32 = 0x6174_7502;

const LOCK_SHARED: &str = "SELECT pg_advisory_xact_lock_shared($1, $2)";
const LOCK_EXCLUSIVE: &str = "SELECT pg_advisory_xact_lock($1, $2)";
const APP_ID: &str = "SELECT id FROM apps WHERE name = $1";
const LINKED_DEVICES: &str =
    "SELECT anonymous_id FROM identities WHERE app_id = $1 AND user_id = $2";
const LOOKUP_LINKS: &str =
    "SELECT anonymous_id, user_id FROM identities WHERE app_id = $1 AND anonymous_id = ANY($2::text[])";
const INSERT_EVENTS: &str = concat!(
    "INSERT INTO events (app_id, ",
    event_columns!(),
    ", received_micros) SELECT $1::int8, u.*, $23::int8 FROM UNNEST($2::text[], $3::text[], $4::text[], \
     $5::text[], $6::text[], $7::int8[], $8::int4[], $9::float8[], $10::int8[], $11::float8[], $12::int8[], \
     $13::float8[], $14::int8[], $15::float8[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], \
     $21::text[], $22::text[]) AS u ON CONFLICT (app_id, event_id) DO NOTHING RETURNING event_id"
);
const SCAN_EVENTS: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE app_id = $1 AND ts_micros BETWEEN $2 AND $3 AND event_type <> $4 \
     ORDER BY ts_micros, event_id"
);
const SCAN_USER_EVENTS: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE app_id = $1 AND ts_micros BETWEEN $2 AND $3 AND (user_id = $4 OR anonymous_id = \
     ANY($5::text[])) AND event_type <> $6 ORDER BY ts_micros, event_id"
);
const ITEM_COLUMNS: &str =
    "item_id, title, description, categories, tags, attributes, published_at, available";
const USER_COLUMNS: &str = "user_id, attributes, preferred_categories, personalization_consent";
const UPSERT_ITEMS: &str = "INSERT INTO items (app_id, item_id, title, description, categories, tags, attributes, \
     published_at, available, updated_micros) SELECT $1::int8, u.*, $10::int8 FROM UNNEST($2::text[], $3::text[], \
     $4::text[], $5::text[], $6::text[], $7::text[], $8::int8[], $9::bool[]) AS u \
     ON CONFLICT (app_id, item_id) DO UPDATE SET title = EXCLUDED.title, description = EXCLUDED.description, \
     categories = EXCLUDED.categories, tags = EXCLUDED.tags, attributes = EXCLUDED.attributes, \
     published_at = EXCLUDED.published_at, available = EXCLUDED.available, updated_micros = EXCLUDED.updated_micros";
const UPSERT_USERS: &str = "INSERT INTO users (app_id, user_id, attributes, preferred_categories, \
     personalization_consent, updated_micros) SELECT $1::int8, u.*, $6::int8 FROM UNNEST($2::text[], $3::text[], \
     $4::text[], $5::bool[]) AS u ON CONFLICT (app_id, user_id) DO UPDATE SET attributes = EXCLUDED.attributes, \
     preferred_categories = EXCLUDED.preferred_categories, \
     personalization_consent = EXCLUDED.personalization_consent, updated_micros = EXCLUDED.updated_micros";

/// The shared store. Cheap to share (`Arc<PgStore>`); every method is blocking.
pub struct PgStore {
    config: postgres::Config,
    /// `host:port/db` for logs and errors (never the password).
    place: String,
    pool: Mutex<Vec<PgConn>>,
    /// Known apps (name -> id). Apps are never deleted, so a cached id stays valid.
    apps: RwLock<HashMap<String, i64>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("place", &self.place)
            .finish_non_exhaustive()
    }
}

/// A client with its prepared statements.
struct PgConn {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

impl PgConn {
    fn prepare(&mut self, sql: &'static str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }
}

/// A pooled connection, returned to the pool on drop unless it is broken.
struct Conn<'a> {
    store: &'a PgStore,
    conn: Option<PgConn>,
}

impl Deref for Conn<'_> {
    type Target = PgConn;
    fn deref(&self) -> &PgConn {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut PgConn {
        self.conn.as_mut().expect("present until dropped")
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !conn.client.is_closed() {
                let mut pool = lock(&self.store.pool);
                if pool.len() < MAX_IDLE {
                    pool.push(conn);
                }
            }
        }
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Closing a sync client blocks on its runtime, which panics on an async worker thread
        // (a server dropping its last `Arc<dyn Store>` at shutdown); close them on a plain thread.
        let conns = std::mem::take(self.pool.get_mut().unwrap_or_else(PoisonError::into_inner));
        if !conns.is_empty() {
            let _ = std::thread::spawn(move || drop(conns)).join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The second key of an app's identity lock.
fn lock_key(app_id: i64) -> i32 {
    (app_id & 0x7fff_ffff) as i32
}

fn describe(config: &postgres::Config) -> String {
    use postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{host}:{port}/{}",
        config.get_dbname().unwrap_or("")
    )
}

impl PgStore {
    /// Connect to `url` (`postgres://user[:password]@host[:port]/db[?options]`), migrate the
    /// schema to [`SCHEMA_VERSION`] and load the app list. A database migrated by a newer attune
    /// is refused with [`StoreError::Corrupt`] naming both versions.
    pub fn connect(url: &str) -> Result<Self> {
        let mut config: postgres::Config = url.parse()?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let place = describe(&config);
        let store = Self {
            config,
            place,
            pool: Mutex::new(Vec::new()),
            apps: RwLock::new(HashMap::new()),
        };
        // On a helper thread: the sync client must not be created on an async worker thread.
        std::thread::scope(|s| {
            s.spawn(|| store.init())
                .join()
                .expect("postgres init thread panicked")
        })?;
        Ok(store)
    }

    fn init(&self) -> Result<()> {
        let mut conn = self.conn()?;
        schema::migrate(&mut conn.client, &self.place)?;
        let apps = conn
            .client
            .query("SELECT name, id FROM apps", &[])?
            .iter()
            .map(|r| Ok((r.try_get::<_, String>(0)?, r.try_get::<_, i64>(1)?)))
            .collect::<Result<HashMap<_, _>>>()?;
        tracing::debug!(place = %self.place, apps = apps.len(), "postgres store connected");
        *self.apps.write().unwrap_or_else(PoisonError::into_inner) = apps;
        Ok(())
    }

    fn conn(&self) -> Result<Conn<'_>> {
        let pooled = loop {
            match lock(&self.pool).pop() {
                Some(c) if c.client.is_closed() => continue,
                other => break other,
            }
        };
        let conn = match pooled {
            Some(c) => c,
            None => PgConn {
                client: self.config.connect(NoTls)?,
                statements: HashMap::new(),
            },
        };
        Ok(Conn {
            store: self,
            conn: Some(conn),
        })
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
        // Another replica may have created it.
        let mut conn = self.conn()?;
        let stmt = conn.prepare(APP_ID)?;
        match conn.client.query_opt(&stmt, &[&app])? {
            Some(row) => {
                let id: i64 = row.try_get(0)?;
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

/// Keep the last occurrence of every key, in order of those last occurrences (an upsert batch
/// naming an id twice means its last version; one statement may not update a row twice).
fn last_per_key<T>(xs: &[T], key: impl Fn(&T) -> &str) -> Vec<&T> {
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(xs.len());
    for (i, x) in xs.iter().enumerate() {
        last.insert(key(x), i);
    }
    xs.iter()
        .enumerate()
        .filter(|(i, x)| last[key(x)] == *i)
        .map(|(_, x)| x)
        .collect()
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn ping(&self) -> Result<()> {
        let mut conn = self.conn()?;
        match conn.client.is_valid(Duration::from_secs(5)) {
            Ok(()) => Ok(()),
            // A pooled connection may have died with a server restart: one fresh attempt.
            Err(_) if conn.client.is_closed() => {
                drop(conn);
                self.conn()?.client.is_valid(Duration::from_secs(5))?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    fn create_app(&self, app: &str) -> Result<()> {
        if self.app_id(app).is_ok() {
            return Ok(());
        }
        let mut conn = self.conn()?;
        conn.client.execute(
            "INSERT INTO apps (name, created_micros) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&app, &now_micros()],
        )?;
        drop(conn);
        self.app_id(app).map(|_| ())
    }

    fn list_apps(&self) -> Result<Vec<String>> {
        let mut conn = self.conn()?;
        let rows = conn
            .client
            .query("SELECT name FROM apps ORDER BY name", &[])?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    fn insert_events(&self, app: &str, events: &[Event]) -> Result<Vec<InsertStatus>> {
        let app_id = self.app_id(app)?;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let encoded = events
            .iter()
            .map(EventParams::new)
            .collect::<Result<Vec<_>>>()?;
        // Later occurrences of an id in the batch are duplicates of the first; send firsts only.
        let mut firsts: HashSet<&str> = HashSet::with_capacity(events.len());
        let fresh: Vec<&EventParams<'_>> = encoded
            .iter()
            .filter(|p| firsts.insert(&p.event.event_id))
            .collect();
        let mut anonymous: Vec<&str> = fresh
            .iter()
            .filter(|p| p.event.user_id.is_none())
            .filter_map(|p| p.event.anonymous_id.as_deref())
            .collect();
        anonymous.sort_unstable();
        anonymous.dedup();

        let mut conn = self.conn()?;
        let (lock_stmt, lookup, insert) = (
            conn.prepare(LOCK_SHARED)?,
            conn.prepare(LOOKUP_LINKS)?,
            conn.prepare(INSERT_EVENTS)?,
        );
        let mut tx = conn.client.transaction()?;
        tx.execute(&lock_stmt, &[&IDENTITY_LOCK, &lock_key(app_id)])?;
        let mut links: HashMap<String, String> = HashMap::new();
        if !anonymous.is_empty() {
            for row in tx.query(&lookup, &[&app_id, &anonymous])? {
                links.insert(row.try_get(0)?, row.try_get(1)?);
            }
        }

        let n = fresh.len();
        let mut cols = EventColumns::with_capacity(n);
        for p in &fresh {
            let e = p.event;
            let user_id = e.user_id.as_deref().or_else(|| {
                e.anonymous_id
                    .as_deref()
                    .and_then(|a| links.get(a))
                    .map(String::as_str)
            });
            cols.push(p, user_id);
        }
        let c = &cols;
        let rows = tx.query(
            &insert,
            &[
                &app_id,
                &c.event_id,
                &c.event_type,
                &c.user_id,
                &c.anonymous_id,
                &c.item_id,
                &c.ts_micros,
                &c.tz_offset_secs,
                &c.value,
                &c.dwell_ms,
                &c.scroll_depth,
                &c.hover_ms,
                &c.price,
                &c.quantity,
                &c.rating,
                &c.extra,
                &c.session_id,
                &c.device,
                &c.page,
                &c.recommendation_id,
                &c.experiment,
                &c.variant,
                &now_micros(),
            ],
        )?;
        let mut accepted: HashSet<String> = HashSet::with_capacity(rows.len());
        for row in &rows {
            accepted.insert(row.try_get(0)?);
        }
        // Dismissals of the accepted `not_interested` events (rare: one statement each).
        for p in &fresh {
            let e = p.event;
            let Some(d) = e.dismissal() else { continue };
            if !accepted.contains(&e.event_id) {
                continue;
            }
            let key = e
                .user_id
                .as_deref()
                .or_else(|| {
                    e.anonymous_id
                        .as_deref()
                        .and_then(|a| links.get(a))
                        .map(String::as_str)
                })
                .or(e.anonymous_id.as_deref());
            if let Some(key) = key {
                tx.execute(
                    "INSERT INTO dismissals (app_id, user_key, kind, value, at_micros) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (app_id, user_key, kind, value) DO UPDATE SET at_micros = GREATEST(dismissals.at_micros, excluded.at_micros)",
                    &[&app_id, &key, &d.kind(), &d.value(), &e.timestamp.utc_micros],
                )?;
            }
        }
        tx.commit()?;

        let mut seen: HashSet<&str> = HashSet::with_capacity(events.len());
        Ok(events
            .iter()
            .map(|e| {
                if seen.insert(&e.event_id) && accepted.contains(&e.event_id) {
                    InsertStatus::Accepted
                } else {
                    InsertStatus::Duplicate
                }
            })
            .collect())
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
        let mut conn = self.conn()?;
        let skipped = crate::codec::skipped_type(filter);
        let (scan, devices) = match filter.user_id {
            Some(_) => (
                conn.prepare(SCAN_USER_EVENTS)?,
                Some(conn.prepare(LINKED_DEVICES)?),
            ),
            None => (conn.prepare(SCAN_EVENTS)?, None),
        };
        // One snapshot for the device lookup and every chunk of the scan.
        let mut tx = conn
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let portal = match (&filter.user_id, devices) {
            (Some(user), Some(devices)) => {
                let anonymous: Vec<String> = tx
                    .query(&devices, &[&app_id, user])?
                    .iter()
                    .map(|r| r.try_get(0))
                    .collect::<Result<_, _>>()?;
                tx.bind(
                    &scan,
                    &[&app_id, &since, &until, user, &anonymous, &skipped],
                )?
            }
            _ => tx.bind(&scan, &[&app_id, &since, &until, &skipped])?,
        };
        loop {
            let rows = tx.query_portal(&portal, SCAN_CHUNK)?;
            let done = rows.len() < SCAN_CHUNK as usize;
            for row in &rows {
                if !visit(rows::event(row)?) {
                    return Ok(());
                }
            }
            if done {
                break;
            }
        }
        tx.commit()?;
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
        if items.is_empty() {
            return Ok(());
        }
        let items = last_per_key(items, |i| &i.item_id);
        let mut ids = Vec::with_capacity(items.len());
        let mut titles = Vec::with_capacity(items.len());
        let mut descriptions = Vec::with_capacity(items.len());
        let mut categories = Vec::with_capacity(items.len());
        let mut tags = Vec::with_capacity(items.len());
        let mut attributes = Vec::with_capacity(items.len());
        let mut published = Vec::with_capacity(items.len());
        let mut available = Vec::with_capacity(items.len());
        for i in &items {
            ids.push(i.item_id.as_str());
            titles.push(i.title.as_deref());
            descriptions.push(i.description.as_deref());
            categories.push(labels_to_json(&i.categories));
            tags.push(labels_to_json(&i.tags));
            attributes.push(map_to_json("items", &i.attributes)?);
            published.push(i.published_at);
            available.push(i.available);
        }
        let mut conn = self.conn()?;
        let stmt = conn.prepare(UPSERT_ITEMS)?;
        conn.client.execute(
            &stmt,
            &[
                &app_id,
                &ids,
                &titles,
                &descriptions,
                &categories,
                &tags,
                &attributes,
                &published,
                &available,
                &now_micros(),
            ],
        )?;
        Ok(())
    }

    fn get_item(&self, app: &str, item_id: &str) -> Result<Option<Item>> {
        const SQL: &str = "SELECT item_id, title, description, categories, tags, attributes, published_at, available \
                           FROM items WHERE app_id = $1 AND item_id = $2";
        let app_id = self.app_id(app)?;
        let mut conn = self.conn()?;
        let stmt = conn.prepare(SQL)?;
        conn.client
            .query_opt(&stmt, &[&app_id, &item_id])?
            .as_ref()
            .map(rows::item)
            .transpose()
    }

    fn delete_item(&self, app: &str, item_id: &str) -> Result<bool> {
        let app_id = self.app_id(app)?;
        let mut conn = self.conn()?;
        let n = conn.client.execute(
            "DELETE FROM items WHERE app_id = $1 AND item_id = $2",
            &[&app_id, &item_id],
        )?;
        Ok(n > 0)
    }

    fn scan_items(&self, app: &str, visit: &mut dyn FnMut(Item) -> bool) -> Result<()> {
        let app_id = self.app_id(app)?;
        self.scan_rows(
            &format!("SELECT {ITEM_COLUMNS} FROM items WHERE app_id = $1 ORDER BY item_id"),
            app_id,
            &mut |row| Ok(visit(rows::item(row)?)),
        )
    }

    fn upsert_users(&self, app: &str, users: &[User]) -> Result<()> {
        let app_id = self.app_id(app)?;
        if users.is_empty() {
            return Ok(());
        }
        let users = last_per_key(users, |u| &u.user_id);
        let mut ids = Vec::with_capacity(users.len());
        let mut attributes = Vec::with_capacity(users.len());
        let mut preferred = Vec::with_capacity(users.len());
        let mut consent = Vec::with_capacity(users.len());
        for u in &users {
            ids.push(u.user_id.as_str());
            attributes.push(map_to_json("users", &u.attributes)?);
            preferred.push(labels_to_json(&u.preferred_categories));
            consent.push(u.consent.personalization);
        }
        let mut conn = self.conn()?;
        let stmt = conn.prepare(UPSERT_USERS)?;
        conn.client.execute(
            &stmt,
            &[
                &app_id,
                &ids,
                &attributes,
                &preferred,
                &consent,
                &now_micros(),
            ],
        )?;
        Ok(())
    }

    fn get_user(&self, app: &str, user_id: &str) -> Result<Option<User>> {
        const SQL: &str =
            "SELECT user_id, attributes, preferred_categories, personalization_consent \
                           FROM users WHERE app_id = $1 AND user_id = $2";
        let app_id = self.app_id(app)?;
        let mut conn = self.conn()?;
        let stmt = conn.prepare(SQL)?;
        conn.client
            .query_opt(&stmt, &[&app_id, &user_id])?
            .as_ref()
            .map(rows::user)
            .transpose()
    }

    fn delete_user(&self, app: &str, user_id: &str) -> Result<Erasure> {
        let app_id = self.app_id(app)?;
        let mut conn = self.conn()?;
        let (lock_stmt, devices) = (conn.prepare(LOCK_EXCLUSIVE)?, conn.prepare(LINKED_DEVICES)?);
        let mut tx = conn.client.transaction()?;
        tx.execute(&lock_stmt, &[&IDENTITY_LOCK, &lock_key(app_id)])?;
        let anonymous: Vec<String> = tx
            .query(&devices, &[&app_id, &user_id])?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let events = tx.execute(
            "DELETE FROM events WHERE app_id = $1 AND (user_id = $2 OR anonymous_id = ANY($3::text[]))",
            &[&app_id, &user_id, &anonymous],
        )?;
        // Their experiment exposures and dismissals too (under the user id and their linked
        // devices).
        for table in ["experiment_exposures", "dismissals"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE app_id = $1 AND (user_key = $2 OR user_key = ANY($3::text[]))"),
                &[&app_id, &user_id, &anonymous],
            )?;
        }
        let identities = tx.execute(
            "DELETE FROM identities WHERE app_id = $1 AND user_id = $2",
            &[&app_id, &user_id],
        )?;
        let profile = tx.execute(
            "DELETE FROM users WHERE app_id = $1 AND user_id = $2",
            &[&app_id, &user_id],
        )?;
        tx.commit()?;
        Ok(Erasure {
            profile: profile > 0,
            events,
            identities,
        })
    }

    fn dismissals(&self, app: &str, user_key: &str) -> Result<Vec<(Dismissal, i64)>> {
        let app_id = self.app_id(app)?;
        let mut conn = self.conn()?;
        let rows = conn.client.query(
            "SELECT kind, value, at_micros FROM dismissals WHERE app_id = $1 AND user_key = $2 \
             ORDER BY at_micros, kind, value",
            &[&app_id, &user_key],
        )?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get(0)?;
                let d = Dismissal::from_parts(&kind, r.try_get(1)?).ok_or_else(|| {
                    StoreError::Corrupt {
                        table: "dismissals",
                        detail: format!("unknown kind {kind:?}"),
                    }
                })?;
                Ok((d, r.try_get(2)?))
            })
            .collect()
    }

    fn scan_users(&self, app: &str, visit: &mut dyn FnMut(User) -> bool) -> Result<()> {
        let app_id = self.app_id(app)?;
        self.scan_rows(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE app_id = $1 ORDER BY user_id"),
            app_id,
            &mut |row| Ok(visit(rows::user(row)?)),
        )
    }

    fn identify(&self, app: &str, anonymous_id: &str, user_id: &str) -> Result<u64> {
        let app_id = self.app_id(app)?;
        let mut conn = self.conn()?;
        let lock_stmt = conn.prepare(LOCK_EXCLUSIVE)?;
        let mut tx = conn.client.transaction()?;
        tx.execute(&lock_stmt, &[&IDENTITY_LOCK, &lock_key(app_id)])?;
        let linked = tx.query_opt(
            "SELECT user_id FROM identities WHERE app_id = $1 AND anonymous_id = $2",
            &[&app_id, &anonymous_id],
        )?;
        match linked {
            Some(row) if row.try_get::<_, &str>(0)? != user_id => {
                return Err(relink_conflict(anonymous_id, user_id))
            }
            Some(_) => {}
            None => {
                tx.execute(
                    "INSERT INTO identities (app_id, anonymous_id, user_id, linked_micros) VALUES ($1, $2, $3, $4)",
                    &[&app_id, &anonymous_id, &user_id, &now_micros()],
                )?;
            }
        }
        let n = tx.execute(
            "UPDATE events SET user_id = $3 WHERE app_id = $1 AND anonymous_id = $2 AND user_id IS NULL",
            &[&app_id, &anonymous_id, &user_id],
        )?;
        experiments::carry_exposures(&mut tx, app_id, anonymous_id, user_id)?;
        tx.execute(
            "INSERT INTO dismissals (app_id, user_key, kind, value, at_micros) \
             SELECT app_id, $3, kind, value, at_micros FROM dismissals WHERE app_id = $1 AND user_key = $2 \
             ON CONFLICT (app_id, user_key, kind, value) DO NOTHING",
            &[&app_id, &anonymous_id, &user_id],
        )?;
        tx.commit()?;
        Ok(n)
    }

    fn resolve_identity(&self, app: &str, anonymous_id: &str) -> Result<Option<String>> {
        let app_id = self.app_id(app)?;
        let mut conn = self.conn()?;
        let row = conn.client.query_opt(
            "SELECT user_id FROM identities WHERE app_id = $1 AND anonymous_id = $2",
            &[&app_id, &anonymous_id],
        )?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    fn counts(&self, app: &str) -> Result<AppCounts> {
        let app_id = self.app_id(app)?;
        let mut conn = self.conn()?;
        // One statement, so one snapshot.
        let row = conn.client.query_one(
            "SELECT (SELECT COUNT(*) FROM events WHERE app_id = $1), (SELECT COUNT(*) FROM items WHERE app_id = $1), \
             (SELECT COUNT(*) FROM users WHERE app_id = $1), (SELECT COUNT(*) FROM identities WHERE app_id = $1)",
            &[&app_id],
        )?;
        let n = |i: usize| -> Result<u64> { Ok(row.try_get::<_, i64>(i)? as u64) };
        Ok(AppCounts {
            events: n(0)?,
            items: n(1)?,
            users: n(2)?,
            identities: n(3)?,
        })
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

impl PgStore {
    /// Stream the rows of `sql` (one parameter: the app id) through a portal, in chunks.
    fn scan_rows(
        &self,
        sql: &str,
        app_id: i64,
        visit: &mut dyn FnMut(&postgres::Row) -> Result<bool>,
    ) -> Result<()> {
        let mut conn = self.conn()?;
        let mut tx = conn.client.build_transaction().read_only(true).start()?;
        let portal = tx.bind(sql, &[&app_id])?;
        loop {
            let rows = tx.query_portal(&portal, SCAN_CHUNK)?;
            for row in &rows {
                if !visit(row)? {
                    return Ok(());
                }
            }
            if rows.len() < SCAN_CHUNK as usize {
                break;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// Column arrays of an event batch, for `UNNEST`.
struct EventColumns<'a> {
    event_id: Vec<&'a str>,
    event_type: Vec<&'a str>,
    user_id: Vec<Option<&'a str>>,
    anonymous_id: Vec<Option<&'a str>>,
    item_id: Vec<Option<&'a str>>,
    ts_micros: Vec<i64>,
    tz_offset_secs: Vec<i32>,
    value: Vec<Option<f64>>,
    dwell_ms: Vec<Option<i64>>,
    scroll_depth: Vec<Option<f64>>,
    hover_ms: Vec<Option<i64>>,
    price: Vec<Option<f64>>,
    quantity: Vec<Option<i64>>,
    rating: Vec<Option<f64>>,
    extra: Vec<Option<&'a str>>,
    session_id: Vec<Option<&'a str>>,
    device: Vec<Option<&'a str>>,
    page: Vec<Option<&'a str>>,
    recommendation_id: Vec<Option<&'a str>>,
    experiment: Vec<Option<&'a str>>,
    variant: Vec<Option<&'a str>>,
}

impl<'a> EventColumns<'a> {
    fn with_capacity(n: usize) -> Self {
        Self {
            event_id: Vec::with_capacity(n),
            event_type: Vec::with_capacity(n),
            user_id: Vec::with_capacity(n),
            anonymous_id: Vec::with_capacity(n),
            item_id: Vec::with_capacity(n),
            ts_micros: Vec::with_capacity(n),
            tz_offset_secs: Vec::with_capacity(n),
            value: Vec::with_capacity(n),
            dwell_ms: Vec::with_capacity(n),
            scroll_depth: Vec::with_capacity(n),
            hover_ms: Vec::with_capacity(n),
            price: Vec::with_capacity(n),
            quantity: Vec::with_capacity(n),
            rating: Vec::with_capacity(n),
            extra: Vec::with_capacity(n),
            session_id: Vec::with_capacity(n),
            device: Vec::with_capacity(n),
            page: Vec::with_capacity(n),
            recommendation_id: Vec::with_capacity(n),
            experiment: Vec::with_capacity(n),
            variant: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, p: &'a EventParams<'a>, user_id: Option<&'a str>) {
        let (e, c) = (p.event, &p.event.context);
        self.event_id.push(&e.event_id);
        self.event_type.push(e.event_type.as_str());
        self.user_id.push(user_id);
        self.anonymous_id.push(e.anonymous_id.as_deref());
        self.item_id.push(e.item_id.as_deref());
        self.ts_micros.push(e.timestamp.utc_micros);
        self.tz_offset_secs.push(e.timestamp.offset_secs);
        self.value.push(e.value);
        self.dwell_ms.push(p.dwell_ms);
        self.scroll_depth.push(e.properties.scroll_depth);
        self.hover_ms.push(p.hover_ms);
        self.price.push(e.properties.price);
        self.quantity.push(p.quantity);
        self.rating.push(e.properties.rating);
        self.extra.push(p.extra.as_deref());
        self.session_id.push(c.session_id.as_deref());
        self.device.push(c.device.as_deref());
        self.page.push(c.page.as_deref());
        self.recommendation_id.push(c.recommendation_id.as_deref());
        self.experiment.push(c.experiment.as_deref());
        self.variant.push(c.variant.as_deref());
    }
}

impl crate::ExperimentStore for PgStore {
    fn create_experiment(
        &self,
        app: &str,
        name: &str,
        layer: &str,
        definition: &str,
    ) -> Result<crate::ExperimentRecord> {
        experiments::create(self, app, name, layer, definition)
    }

    fn get_experiment(&self, app: &str, name: &str) -> Result<Option<crate::ExperimentRecord>> {
        experiments::get(self, app, name)
    }

    fn list_experiments(&self, app: &str) -> Result<Vec<crate::ExperimentRecord>> {
        experiments::list(self, app)
    }

    fn update_experiment(
        &self,
        app: &str,
        name: &str,
        definition: &str,
    ) -> Result<crate::ExperimentRecord> {
        experiments::update(self, app, name, definition)
    }

    fn start_experiment(
        &self,
        app: &str,
        name: &str,
        buckets: u32,
    ) -> Result<crate::ExperimentRecord> {
        experiments::start(self, app, name, buckets)
    }

    fn stop_experiment(&self, app: &str, name: &str) -> Result<crate::ExperimentRecord> {
        experiments::stop(self, app, name)
    }

    fn experiment_phases(&self, app: &str, name: &str) -> Result<Vec<crate::ExperimentPhase>> {
        experiments::phases(self, app, name)
    }

    fn record_exposures(&self, app: &str, exposures: &[crate::Exposure]) -> Result<u64> {
        experiments::record_exposures(self, app, exposures)
    }

    fn get_exposure(
        &self,
        app: &str,
        experiment: &str,
        phase: u32,
        user_key: &str,
    ) -> Result<Option<crate::Exposure>> {
        experiments::get_exposure(self, app, experiment, phase, user_key)
    }

    fn scan_exposures(
        &self,
        app: &str,
        experiment: &str,
        phase: u32,
        visit: &mut dyn FnMut(crate::Exposure) -> bool,
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

impl crate::StudyStore for PgStore {
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

impl crate::MonitorStore for PgStore {
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
