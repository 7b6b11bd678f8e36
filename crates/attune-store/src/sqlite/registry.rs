//! The model registry on SQLite. Writes run on the single writer connection in a
//! `BEGIN IMMEDIATE` transaction, which already serializes them against every other writer
//! (in this process and in others), so the app's registry row needs no further lock.

use rusqlite::{params, OptionalExtension, Transaction};

use super::{rows, SqliteStore};
use crate::codec::now_micros;
use crate::registry::{
    self, Entry, RegistryTx, State, ACTIVATION_COLUMNS, MODEL_COLUMNS, STATUS_CASE,
};
use crate::{
    Activation, ActivationOutcome, ActiveModel, ModelInfo, ModelRecord, ModelStatus, Result,
    StoreError,
};

const ENSURE_STATE: &str = "INSERT INTO model_registry (app_id, next_version, activation_seq) \
     VALUES (?1, 1, 0) ON CONFLICT (app_id) DO NOTHING";

struct Tx<'a, 'c> {
    tx: &'a Transaction<'c>,
    app_id: i64,
}

impl RegistryTx for Tx<'_, '_> {
    fn lock_state(&mut self) -> Result<State> {
        self.tx
            .prepare_cached(ENSURE_STATE)?
            .execute([self.app_id])?;
        let (seq, active): (i64, Option<i64>) = self
            .tx
            .prepare_cached(
                "SELECT activation_seq, active_version FROM model_registry WHERE app_id = ?1",
            )?
            .query_row([self.app_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(State {
            seq: registry::seq_from_i64("model_registry", seq)?,
            active: active
                .map(|v| registry::version_from_i64("model_registry", v))
                .transpose()?,
        })
    }

    fn is_registered(&mut self, version: u32) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached("SELECT 1 FROM model_versions WHERE app_id = ?1 AND version = ?2")?
            .query_row(params![self.app_id, version], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn entry(&mut self, seq: u64) -> Result<Entry> {
        let mut stmt = self.tx.prepare_cached(&format!(
            "SELECT {} FROM model_activations WHERE app_id = ?1 AND seq = ?2",
            ACTIVATION_COLUMNS
        ))?;
        let mut found = stmt.query(params![self.app_id, seq as i64])?;
        match found.next()? {
            Some(row) => rows::entry(row),
            None => Err(StoreError::Corrupt {
                table: "model_activations",
                detail: format!("activation {seq} is referenced but missing"),
            }),
        }
    }

    fn append(&mut self, entry: &Entry) -> Result<()> {
        let a = &entry.activation;
        self.tx
            .prepare_cached(
                "INSERT INTO model_activations (app_id, seq, version, previous_version, kind, back_seq, at_micros) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                self.app_id,
                a.seq as i64,
                a.version,
                a.previous,
                a.kind.as_str(),
                entry.back_seq.map(|s| s as i64),
                a.at_micros
            ])?;
        self.tx
            .prepare_cached(
                "UPDATE model_registry SET activation_seq = ?2, active_version = ?3 WHERE app_id = ?1",
            )?
            .execute(params![self.app_id, a.seq as i64, a.version])?;
        Ok(())
    }
}

pub(super) fn reserve(store: &SqliteStore, app: &str) -> Result<u32> {
    let app_id = store.app_id(app)?;
    store.write(|tx| {
        let next: i64 = tx
            .prepare_cached(
                "INSERT INTO model_registry (app_id, next_version, activation_seq) VALUES (?1, 2, 0) \
                 ON CONFLICT (app_id) DO UPDATE SET next_version = next_version + 1 \
                 RETURNING next_version - 1",
            )?
            .query_row([app_id], |r| r.get(0))?;
        registry::version_from_i64("model_registry", next)
    })
}

pub(super) fn register(
    store: &SqliteStore,
    app: &str,
    version: u32,
    info: &ModelInfo,
) -> Result<ModelRecord> {
    let app_id = store.app_id(app)?;
    let row = registry::encode(info)?;
    let now = now_micros();
    store.write(|tx| {
        let next: Option<i64> = tx
            .prepare_cached("SELECT next_version FROM model_registry WHERE app_id = ?1")?
            .query_row([app_id], |r| r.get(0))
            .optional()?;
        if version == 0 || next.is_none_or(|n| i64::from(version) >= n) {
            return Err(registry::not_reserved(app, version));
        }
        let inserted = tx
            .prepare_cached(
                "INSERT INTO model_versions (app_id, version, algorithm, params, data_snapshot, metrics, \
                 artifact_location, artifact_checksum, artifact_bytes, created_micros, registered_micros) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (app_id, version) DO NOTHING",
            )?
            .execute(params![
                app_id,
                version,
                info.algorithm,
                info.params,
                info.data_snapshot,
                row.metrics,
                info.artifact.location,
                row.checksum,
                row.size_bytes,
                info.created_micros,
                now
            ])?;
        if inserted == 0 {
            return Err(registry::already_registered(app, version));
        }
        Ok(ModelRecord {
            version,
            status: ModelStatus::Candidate,
            registered_micros: now,
            info: info.clone(),
        })
    })
}

fn select_models(filter: &str) -> String {
    format!(
        "SELECT {MODEL_COLUMNS}, {STATUS_CASE} FROM model_versions m \
         LEFT JOIN model_registry r ON r.app_id = m.app_id WHERE m.app_id = ?1{filter} ORDER BY m.version"
    )
}

pub(super) fn list(store: &SqliteStore, app: &str) -> Result<Vec<ModelRecord>> {
    let app_id = store.app_id(app)?;
    let conn = store.reader()?;
    let mut stmt = conn.prepare_cached(&select_models(""))?;
    let mut found = stmt.query([app_id])?;
    let mut out = Vec::new();
    while let Some(row) = found.next()? {
        out.push(rows::model(row)?);
    }
    Ok(out)
}

pub(super) fn get(store: &SqliteStore, app: &str, version: u32) -> Result<Option<ModelRecord>> {
    let app_id = store.app_id(app)?;
    let conn = store.reader()?;
    let mut stmt = conn.prepare_cached(&select_models(" AND m.version = ?2"))?;
    let mut found = stmt.query(params![app_id, version])?;
    found.next()?.map(rows::model).transpose()
}

pub(super) fn activate(
    store: &SqliteStore,
    app: &str,
    version: u32,
    expected_seq: Option<u64>,
) -> Result<ActivationOutcome> {
    let app_id = store.app_id(app)?;
    store.write(|tx| registry::activate(&mut Tx { tx, app_id }, app, version, expected_seq))
}

pub(super) fn rollback(
    store: &SqliteStore,
    app: &str,
    expected_seq: Option<u64>,
) -> Result<ActivationOutcome> {
    let app_id = store.app_id(app)?;
    store.write(|tx| registry::rollback(&mut Tx { tx, app_id }, app, expected_seq))
}

pub(super) fn active(store: &SqliteStore, app: &str) -> Result<Option<ActiveModel>> {
    let app_id = store.app_id(app)?;
    let conn = store.reader()?;
    // One statement, so one snapshot: the version, its seq and its rollback target agree.
    let mut stmt = conn.prepare_cached(
        "SELECT r.active_version, r.activation_seq, a.at_micros, b.version FROM model_registry r \
         JOIN model_activations a ON a.app_id = r.app_id AND a.seq = r.activation_seq \
         LEFT JOIN model_activations b ON b.app_id = r.app_id AND b.seq = a.back_seq \
         WHERE r.app_id = ?1",
    )?;
    let mut found = stmt.query([app_id])?;
    found.next()?.map(rows::active).transpose()
}

pub(super) fn activations(store: &SqliteStore, app: &str) -> Result<Vec<Activation>> {
    let app_id = store.app_id(app)?;
    let conn = store.reader()?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM model_activations WHERE app_id = ?1 ORDER BY seq",
        ACTIVATION_COLUMNS
    ))?;
    let mut found = stmt.query([app_id])?;
    let mut out = Vec::new();
    while let Some(row) = found.next()? {
        out.push(rows::entry(row)?.activation);
    }
    Ok(out)
}
