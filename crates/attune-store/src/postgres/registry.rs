//! The model registry on PostgreSQL.
//!
//! Versions come from one atomic upsert of the app's `model_registry` row, so replicas
//! reserving at once get distinct numbers. Activation and rollback lock that row with
//! `SELECT ... FOR UPDATE` before reading the history, so two of them (from any replicas)
//! run one after the other and the second sees what the first did (READ COMMITTED takes a
//! fresh snapshot per statement, after the lock was granted).

use postgres::Transaction;

use super::{rows, PgStore};
use crate::codec::now_micros;
use crate::registry::{
    self, Entry, RegistryTx, State, ACTIVATION_COLUMNS, MODEL_COLUMNS, STATUS_CASE,
};
use crate::{
    Activation, ActivationOutcome, ActiveModel, ModelInfo, ModelRecord, ModelStatus, Result,
    StoreError,
};

/// The replicas' poll: kept prepared on every pooled connection.
const ACTIVE: &str =
    "SELECT r.active_version, r.activation_seq, a.at_micros, b.version FROM model_registry r \
     JOIN model_activations a ON a.app_id = r.app_id AND a.seq = r.activation_seq \
     LEFT JOIN model_activations b ON b.app_id = r.app_id AND b.seq = a.back_seq \
     WHERE r.app_id = $1";

struct Tx<'a, 'c> {
    tx: &'a mut Transaction<'c>,
    app_id: i64,
}

impl RegistryTx for Tx<'_, '_> {
    fn lock_state(&mut self) -> Result<State> {
        self.tx.execute(
            "INSERT INTO model_registry (app_id, next_version, activation_seq) VALUES ($1, 1, 0) \
             ON CONFLICT (app_id) DO NOTHING",
            &[&self.app_id],
        )?;
        let row = self.tx.query_one(
            "SELECT activation_seq, active_version FROM model_registry WHERE app_id = $1 FOR UPDATE",
            &[&self.app_id],
        )?;
        Ok(State {
            seq: registry::seq_from_i64("model_registry", row.try_get(0)?)?,
            active: row
                .try_get::<_, Option<i64>>(1)?
                .map(|v| registry::version_from_i64("model_registry", v))
                .transpose()?,
        })
    }

    fn is_registered(&mut self, version: u32) -> Result<bool> {
        Ok(self
            .tx
            .query_opt(
                "SELECT 1 FROM model_versions WHERE app_id = $1 AND version = $2",
                &[&self.app_id, &i64::from(version)],
            )?
            .is_some())
    }

    fn entry(&mut self, seq: u64) -> Result<Entry> {
        let sql = format!(
            "SELECT {ACTIVATION_COLUMNS} FROM model_activations WHERE app_id = $1 AND seq = $2"
        );
        match self.tx.query_opt(&sql, &[&self.app_id, &(seq as i64)])? {
            Some(row) => rows::entry(&row),
            None => Err(StoreError::Corrupt {
                table: "model_activations",
                detail: format!("activation {seq} is referenced but missing"),
            }),
        }
    }

    fn append(&mut self, entry: &Entry) -> Result<()> {
        let a = &entry.activation;
        let (seq, version) = (a.seq as i64, i64::from(a.version));
        self.tx.execute(
            "INSERT INTO model_activations (app_id, seq, version, previous_version, kind, back_seq, at_micros) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &self.app_id,
                &seq,
                &version,
                &a.previous.map(i64::from),
                &a.kind.as_str(),
                &entry.back_seq.map(|s| s as i64),
                &a.at_micros,
            ],
        )?;
        self.tx.execute(
            "UPDATE model_registry SET activation_seq = $2, active_version = $3 WHERE app_id = $1",
            &[&self.app_id, &seq, &version],
        )?;
        Ok(())
    }
}

pub(super) fn reserve(store: &PgStore, app: &str) -> Result<u32> {
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    let row = conn.client.query_one(
        "INSERT INTO model_registry (app_id, next_version, activation_seq) VALUES ($1, 2, 0) \
         ON CONFLICT (app_id) DO UPDATE SET next_version = model_registry.next_version + 1 \
         RETURNING next_version - 1",
        &[&app_id],
    )?;
    registry::version_from_i64("model_registry", row.try_get(0)?)
}

pub(super) fn register(
    store: &PgStore,
    app: &str,
    version: u32,
    info: &ModelInfo,
) -> Result<ModelRecord> {
    let app_id = store.app_id(app)?;
    let row = registry::encode(info)?;
    let now = now_micros();
    let v = i64::from(version);
    let mut conn = store.conn()?;
    let mut tx = conn.client.transaction()?;
    let next: Option<i64> = tx
        .query_opt(
            "SELECT next_version FROM model_registry WHERE app_id = $1",
            &[&app_id],
        )?
        .map(|r| r.try_get(0))
        .transpose()?;
    if version == 0 || next.is_none_or(|n| v >= n) {
        return Err(registry::not_reserved(app, version));
    }
    let inserted = tx.execute(
        "INSERT INTO model_versions (app_id, version, algorithm, params, data_snapshot, metrics, \
         artifact_location, artifact_checksum, artifact_bytes, created_micros, registered_micros) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (app_id, version) DO NOTHING",
        &[
            &app_id,
            &v,
            &info.algorithm,
            &info.params,
            &info.data_snapshot,
            &row.metrics,
            &info.artifact.location,
            &row.checksum,
            &row.size_bytes,
            &info.created_micros,
            &now,
        ],
    )?;
    if inserted == 0 {
        return Err(registry::already_registered(app, version));
    }
    tx.commit()?;
    Ok(ModelRecord {
        version,
        status: ModelStatus::Candidate,
        registered_micros: now,
        info: info.clone(),
    })
}

fn select_models(filter: &str) -> String {
    format!(
        "SELECT {MODEL_COLUMNS}, {STATUS_CASE} FROM model_versions m \
         LEFT JOIN model_registry r ON r.app_id = m.app_id WHERE m.app_id = $1{filter} ORDER BY m.version"
    )
}

pub(super) fn list(store: &PgStore, app: &str) -> Result<Vec<ModelRecord>> {
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    conn.client
        .query(&select_models(""), &[&app_id])?
        .iter()
        .map(rows::model)
        .collect()
}

pub(super) fn get(store: &PgStore, app: &str, version: u32) -> Result<Option<ModelRecord>> {
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    conn.client
        .query_opt(
            &select_models(" AND m.version = $2"),
            &[&app_id, &i64::from(version)],
        )?
        .as_ref()
        .map(rows::model)
        .transpose()
}

/// Run `f` on the app's registry in one transaction; commit if it returns `Ok`.
fn in_tx<T>(store: &PgStore, app: &str, f: impl FnOnce(&mut Tx<'_, '_>) -> Result<T>) -> Result<T> {
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    let mut tx = conn.client.transaction()?;
    let out = f(&mut Tx {
        tx: &mut tx,
        app_id,
    })?;
    tx.commit()?;
    Ok(out)
}

pub(super) fn activate(
    store: &PgStore,
    app: &str,
    version: u32,
    expected_seq: Option<u64>,
) -> Result<ActivationOutcome> {
    in_tx(store, app, |tx| {
        registry::activate(tx, app, version, expected_seq)
    })
}

pub(super) fn rollback(
    store: &PgStore,
    app: &str,
    expected_seq: Option<u64>,
) -> Result<ActivationOutcome> {
    in_tx(store, app, |tx| registry::rollback(tx, app, expected_seq))
}

pub(super) fn active(store: &PgStore, app: &str) -> Result<Option<ActiveModel>> {
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    let stmt = conn.prepare(ACTIVE)?;
    // One statement, so one snapshot: the version, its seq and its rollback target agree.
    conn.client
        .query_opt(&stmt, &[&app_id])?
        .as_ref()
        .map(rows::active)
        .transpose()
}

pub(super) fn activations(store: &PgStore, app: &str) -> Result<Vec<Activation>> {
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    conn.client
        .query(
            &format!(
                "SELECT {ACTIVATION_COLUMNS} FROM model_activations WHERE app_id = $1 ORDER BY seq"
            ),
            &[&app_id],
        )?
        .iter()
        .map(|r| Ok(rows::entry(r)?.activation))
        .collect()
}
