//! SQLite schema and its migrations, versioned by `PRAGMA user_version`.
//!
//! `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`. Never edit a released
//! migration: append a new one. A file whose version is newer than [`LATEST`] was written by a
//! newer attune and is refused (an older build must not guess at its layout).

use rusqlite::{Connection, TransactionBehavior};

use crate::{Result, StoreError};

/// Migration steps, oldest first.
const MIGRATIONS: &[&str] = &[
    // 1: apps, events, items, users, identities.
    r#"
    CREATE TABLE apps (
        id             INTEGER PRIMARY KEY,
        name           TEXT NOT NULL UNIQUE,
        created_micros INTEGER NOT NULL
    );

    -- seq: monotonic and never reused (AUTOINCREMENT), a cursor for incremental consumers.
    CREATE TABLE events (
        seq               INTEGER PRIMARY KEY AUTOINCREMENT,
        app_id            INTEGER NOT NULL REFERENCES apps(id),
        event_id          TEXT NOT NULL,
        event_type        TEXT NOT NULL,
        user_id           TEXT,
        anonymous_id      TEXT,
        item_id           TEXT,
        ts_micros         INTEGER NOT NULL,
        tz_offset_secs    INTEGER NOT NULL,
        value             REAL,
        dwell_ms          INTEGER,
        scroll_depth      REAL,
        hover_ms          INTEGER,
        price             REAL,
        quantity          INTEGER,
        rating            REAL,
        extra             TEXT,            -- JSON object of free-form properties; NULL if none
        session_id        TEXT,
        device            TEXT,
        page              TEXT,
        recommendation_id TEXT,
        experiment        TEXT,
        variant           TEXT,
        received_micros   INTEGER NOT NULL,
        UNIQUE (app_id, event_id)
    );
    CREATE INDEX events_app_ts   ON events (app_id, ts_micros, event_id);
    CREATE INDEX events_app_user ON events (app_id, user_id, ts_micros) WHERE user_id IS NOT NULL;
    CREATE INDEX events_app_anon ON events (app_id, anonymous_id) WHERE anonymous_id IS NOT NULL;
    CREATE INDEX events_app_rec  ON events (app_id, recommendation_id) WHERE recommendation_id IS NOT NULL;

    CREATE TABLE items (
        app_id         INTEGER NOT NULL REFERENCES apps(id),
        item_id        TEXT NOT NULL,
        title          TEXT,
        description    TEXT,
        categories     TEXT NOT NULL,      -- JSON array of strings
        tags           TEXT NOT NULL,      -- JSON array of strings
        attributes     TEXT NOT NULL,      -- JSON object
        published_at   INTEGER,
        available      INTEGER NOT NULL,
        updated_micros INTEGER NOT NULL,
        PRIMARY KEY (app_id, item_id)
    );

    CREATE TABLE users (
        app_id                  INTEGER NOT NULL REFERENCES apps(id),
        user_id                 TEXT NOT NULL,
        attributes              TEXT NOT NULL,  -- JSON object
        preferred_categories    TEXT NOT NULL,  -- JSON array of strings
        personalization_consent INTEGER NOT NULL,
        updated_micros          INTEGER NOT NULL,
        PRIMARY KEY (app_id, user_id)
    );

    CREATE TABLE identities (
        app_id        INTEGER NOT NULL REFERENCES apps(id),
        anonymous_id  TEXT NOT NULL,
        user_id       TEXT NOT NULL,
        linked_micros INTEGER NOT NULL,
        PRIMARY KEY (app_id, anonymous_id)
    );
    CREATE INDEX identities_app_user ON identities (app_id, user_id);
    "#,
    // 2: the model registry (see `crate::registry` for the activation history rules).
    r#"
    CREATE TABLE model_versions (
        app_id            INTEGER NOT NULL REFERENCES apps(id),
        version           INTEGER NOT NULL,
        algorithm         TEXT NOT NULL,
        params            TEXT NOT NULL,   -- JSON object
        data_snapshot     TEXT NOT NULL,   -- JSON
        metrics           TEXT NOT NULL,   -- JSON object: name -> number
        artifact_location TEXT NOT NULL,
        artifact_checksum TEXT NOT NULL,   -- xxHash64, 16 hex digits
        artifact_bytes    INTEGER NOT NULL,
        created_micros    INTEGER NOT NULL,
        registered_micros INTEGER NOT NULL,
        PRIMARY KEY (app_id, version)
    );

    -- One row per app that ever reserved a version or activated one. Every activation and
    -- rollback updates it, so writers serialize on it.
    CREATE TABLE model_registry (
        app_id         INTEGER PRIMARY KEY REFERENCES apps(id),
        next_version   INTEGER NOT NULL,   -- what reserve_model_version hands out next
        activation_seq INTEGER NOT NULL,   -- seq of the newest activation entry; 0 = none
        active_version INTEGER,            -- NULL before the first activation
        FOREIGN KEY (app_id, active_version) REFERENCES model_versions (app_id, version)
    );

    CREATE TABLE model_activations (
        app_id           INTEGER NOT NULL REFERENCES apps(id),
        seq              INTEGER NOT NULL,
        version          INTEGER NOT NULL,
        previous_version INTEGER,
        kind             TEXT NOT NULL,    -- 'activate' | 'rollback'
        back_seq         INTEGER,          -- the entry a rollback from this one returns to
        at_micros        INTEGER NOT NULL,
        PRIMARY KEY (app_id, seq),
        FOREIGN KEY (app_id, version) REFERENCES model_versions (app_id, version)
    );
    CREATE INDEX model_activations_version ON model_activations (app_id, version);
    "#,
    // 3: experiments (see `crate::experiments` for the lifecycle rules).
    r#"
    CREATE TABLE experiments (
        app_id         INTEGER NOT NULL REFERENCES apps(id),
        name           TEXT NOT NULL,
        layer          TEXT NOT NULL,
        status         TEXT NOT NULL,      -- 'draft' | 'running' | 'stopped'
        phase          INTEGER NOT NULL,   -- 0 before the first start
        definition     TEXT NOT NULL,      -- JSON object, the current phase's
        bucket_start   INTEGER,            -- the layer buckets [start, end) held while running
        bucket_end     INTEGER,
        created_micros INTEGER NOT NULL,
        started_micros INTEGER,
        stopped_micros INTEGER,
        state          TEXT,               -- allocation state (a bandit's posterior), JSON
        state_micros   INTEGER,
        PRIMARY KEY (app_id, name)
    );
    CREATE INDEX experiments_layer ON experiments (app_id, layer, status);

    CREATE TABLE experiment_phases (
        app_id         INTEGER NOT NULL REFERENCES apps(id),
        name           TEXT NOT NULL,
        phase          INTEGER NOT NULL,
        definition     TEXT NOT NULL,
        bucket_start   INTEGER NOT NULL,
        bucket_end     INTEGER NOT NULL,
        started_micros INTEGER NOT NULL,
        stopped_micros INTEGER,
        PRIMARY KEY (app_id, name, phase)
    );

    -- A user's first serve in an experiment's phase; the first row stands.
    CREATE TABLE experiment_exposures (
        app_id     INTEGER NOT NULL REFERENCES apps(id),
        experiment TEXT NOT NULL,
        phase      INTEGER NOT NULL,
        user_key   TEXT NOT NULL,
        variant    TEXT NOT NULL,
        at_micros  INTEGER NOT NULL,
        PRIMARY KEY (app_id, experiment, phase, user_key)
    );
    CREATE INDEX experiment_exposures_user ON experiment_exposures (app_id, user_key);
    "#,
    // 4: monitoring (time series, alert states, drift references).
    r#"
    CREATE TABLE metric_points (
        app_id    INTEGER NOT NULL REFERENCES apps(id),
        metric    TEXT NOT NULL,
        labels    TEXT NOT NULL,            -- JSON object, keys sorted
        at_micros INTEGER NOT NULL,
        value     REAL NOT NULL,
        PRIMARY KEY (app_id, metric, at_micros, labels)
    ) WITHOUT ROWID;
    CREATE INDEX metric_points_at ON metric_points (app_id, at_micros);

    CREATE TABLE alert_states (
        app_id         INTEGER NOT NULL REFERENCES apps(id),
        rule           TEXT NOT NULL,
        labels         TEXT NOT NULL,
        state          TEXT NOT NULL,       -- 'pending' | 'firing' | 'resolved'
        since_micros   INTEGER NOT NULL,
        updated_micros INTEGER NOT NULL,
        value          REAL,
        detail         TEXT NOT NULL,       -- JSON object
        PRIMARY KEY (app_id, rule, labels)
    );

    -- What each model version was trained on, summarized: the reference drift compares with.
    CREATE TABLE training_profiles (
        app_id       INTEGER NOT NULL REFERENCES apps(id),
        version      INTEGER NOT NULL,
        profile      TEXT NOT NULL,         -- JSON object
        saved_micros INTEGER NOT NULL,
        PRIMARY KEY (app_id, version)
    );
    "#,
    // 5: what users said they are not interested in (derived from `not_interested` events
    // when they are stored, so a dismissal outlives the model snapshot it was made after).
    r#"
    CREATE TABLE dismissals (
        app_id    INTEGER NOT NULL REFERENCES apps(id),
        user_key  TEXT NOT NULL,   -- the resolved user id, else the device id
        kind      TEXT NOT NULL,        -- 'item' | 'category'
        value     TEXT NOT NULL,
        at_micros INTEGER NOT NULL,
        PRIMARY KEY (app_id, user_key, kind, value)
    );
    "#,
    // 6: hyperparameter-tuning studies (`attune tune`), saved after every trial.
    r#"
    CREATE TABLE studies (
        app_id         INTEGER NOT NULL REFERENCES apps(id),
        name           TEXT NOT NULL,
        algorithm      TEXT NOT NULL,
        objective      TEXT NOT NULL,       -- JSON object
        space          TEXT NOT NULL,       -- JSON
        study          TEXT NOT NULL,       -- JSON: space, direction, trials
        state          TEXT NOT NULL,       -- 'running' | 'done'
        n_trials       INTEGER NOT NULL,
        best_value     REAL,
        created_micros INTEGER NOT NULL,
        updated_micros INTEGER NOT NULL,
        PRIMARY KEY (app_id, name)
    );
    "#,
];

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// Bring the database to [`LATEST`] in one transaction, or refuse a newer one.
pub(super) fn migrate(conn: &mut Connection, path: &str) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > LATEST {
        return Err(crate::codec::schema_too_new(path, version, LATEST));
    }
    if version < 0 {
        return Err(StoreError::Corrupt {
            table: "schema",
            detail: format!("{path}: negative schema version {version}"),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)?;
        tracing::info!(path, version = i + 1, "sqlite schema migrated");
    }
    if version < LATEST {
        tx.pragma_update(None, "user_version", LATEST)?;
    }
    tx.commit()?;
    Ok(())
}
