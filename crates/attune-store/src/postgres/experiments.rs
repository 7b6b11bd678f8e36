//! Experiments on PostgreSQL. Lifecycle writes take the app's row in `apps` with
//! `SELECT ... FOR UPDATE` first, so replicas starting experiments of one layer at once run one
//! after the other and the second sees the buckets the first took (READ COMMITTED reads after
//! the lock was granted).

use postgres::{Row, Transaction};

use super::PgStore;
use crate::codec::now_micros;
use crate::experiments::{self, status_from_str, u32_from_i64, ExperimentTx};
use crate::{ExperimentPhase, ExperimentRecord, ExperimentStatus, Exposure, Result, StoreError};

const COLUMNS: &str = "name, layer, status, phase, definition, bucket_start, bucket_end, \
     created_micros, started_micros, stopped_micros";

fn record(row: &Row) -> Result<ExperimentRecord> {
    let status: String = row.try_get(2)?;
    let (start, end): (Option<i64>, Option<i64>) = (row.try_get(5)?, row.try_get(6)?);
    let buckets = match (start, end) {
        (Some(a), Some(b)) => Some((
            u32_from_i64("experiments", "bucket_start", a)?,
            u32_from_i64("experiments", "bucket_end", b)?,
        )),
        _ => None,
    };
    Ok(ExperimentRecord {
        name: row.try_get(0)?,
        layer: row.try_get(1)?,
        status: status_from_str(&status)?,
        phase: u32_from_i64("experiments", "phase", row.try_get(3)?)?,
        definition: row.try_get(4)?,
        buckets,
        created_micros: row.try_get(7)?,
        started_micros: row.try_get(8)?,
        stopped_micros: row.try_get(9)?,
    })
}

fn exposure(row: &Row) -> Result<Exposure> {
    Ok(Exposure {
        experiment: row.try_get(0)?,
        phase: u32_from_i64("experiment_exposures", "phase", row.try_get(1)?)?,
        user_key: row.try_get(2)?,
        variant: row.try_get(3)?,
        at_micros: row.try_get(4)?,
    })
}

struct Tx<'a, 'c> {
    tx: &'a mut Transaction<'c>,
    app_id: i64,
}

impl ExperimentTx for Tx<'_, '_> {
    fn lock(&mut self) -> Result<()> {
        self.tx.query_one(
            "SELECT id FROM apps WHERE id = $1 FOR UPDATE",
            &[&self.app_id],
        )?;
        Ok(())
    }

    fn get(&mut self, name: &str) -> Result<Option<ExperimentRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM experiments WHERE app_id = $1 AND name = $2");
        self.tx
            .query_opt(&sql, &[&self.app_id, &name])?
            .as_ref()
            .map(record)
            .transpose()
    }

    fn running_in(&mut self, layer: &str) -> Result<Vec<(u32, u32)>> {
        let rows = self.tx.query(
            "SELECT bucket_start, bucket_end FROM experiments \
             WHERE app_id = $1 AND layer = $2 AND status = 'running'",
            &[&self.app_id, &layer],
        )?;
        rows.iter()
            .map(|r| {
                Ok((
                    u32_from_i64("experiments", "bucket_start", r.try_get(0)?)?,
                    u32_from_i64("experiments", "bucket_end", r.try_get(1)?)?,
                ))
            })
            .collect()
    }

    fn put(&mut self, rec: &ExperimentRecord) -> Result<()> {
        self.tx.execute(
            "UPDATE experiments SET status = $3, phase = $4, definition = $5, bucket_start = $6, \
             bucket_end = $7, started_micros = $8, stopped_micros = $9 WHERE app_id = $1 AND name = $2",
            &[
                &self.app_id,
                &rec.name,
                &rec.status.as_str(),
                &i64::from(rec.phase),
                &rec.definition,
                &rec.buckets.map(|b| i64::from(b.0)),
                &rec.buckets.map(|b| i64::from(b.1)),
                &rec.started_micros,
                &rec.stopped_micros,
            ],
        )?;
        Ok(())
    }

    fn put_phase(&mut self, name: &str, p: &ExperimentPhase) -> Result<()> {
        self.tx.execute(
            "INSERT INTO experiment_phases (app_id, name, phase, definition, bucket_start, bucket_end, \
             started_micros, stopped_micros) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (app_id, name, phase) DO UPDATE SET stopped_micros = EXCLUDED.stopped_micros",
            &[
                &self.app_id,
                &name,
                &i64::from(p.phase),
                &p.definition,
                &i64::from(p.buckets.0),
                &i64::from(p.buckets.1),
                &p.started_micros,
                &p.stopped_micros,
            ],
        )?;
        Ok(())
    }
}

/// Run `f` in one transaction of the app's experiments.
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

pub(super) fn create(
    store: &PgStore,
    app: &str,
    name: &str,
    layer: &str,
    definition: &str,
) -> Result<ExperimentRecord> {
    experiments::check_new(name, layer, definition)?;
    let app_id = store.app_id(app)?;
    let now = now_micros();
    let mut conn = store.conn()?;
    let n = conn.client.execute(
        "INSERT INTO experiments (app_id, name, layer, status, phase, definition, created_micros) \
         VALUES ($1, $2, $3, 'draft', 0, $4, $5) ON CONFLICT (app_id, name) DO NOTHING",
        &[&app_id, &name, &layer, &definition, &now],
    )?;
    if n == 0 {
        return Err(StoreError::Conflict(format!(
            "app {app:?} has an experiment named {name:?} already"
        )));
    }
    Ok(ExperimentRecord {
        name: name.to_string(),
        layer: layer.to_string(),
        status: ExperimentStatus::Draft,
        phase: 0,
        definition: definition.to_string(),
        buckets: None,
        created_micros: now,
        started_micros: None,
        stopped_micros: None,
    })
}

pub(super) fn get(store: &PgStore, app: &str, name: &str) -> Result<Option<ExperimentRecord>> {
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    let sql = format!("SELECT {COLUMNS} FROM experiments WHERE app_id = $1 AND name = $2");
    conn.client
        .query_opt(&sql, &[&app_id, &name])?
        .as_ref()
        .map(record)
        .transpose()
}

pub(super) fn list(store: &PgStore, app: &str) -> Result<Vec<ExperimentRecord>> {
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    let sql = format!("SELECT {COLUMNS} FROM experiments WHERE app_id = $1 ORDER BY name");
    conn.client
        .query(&sql, &[&app_id])?
        .iter()
        .map(record)
        .collect()
}

pub(super) fn update(
    store: &PgStore,
    app: &str,
    name: &str,
    definition: &str,
) -> Result<ExperimentRecord> {
    in_tx(store, app, |tx| {
        experiments::update(tx, app, name, definition)
    })
}

pub(super) fn start(
    store: &PgStore,
    app: &str,
    name: &str,
    buckets: u32,
) -> Result<ExperimentRecord> {
    in_tx(store, app, |tx| experiments::start(tx, app, name, buckets))
}

pub(super) fn stop(store: &PgStore, app: &str, name: &str) -> Result<ExperimentRecord> {
    in_tx(store, app, |tx| experiments::stop(tx, app, name))
}

pub(super) fn phases(store: &PgStore, app: &str, name: &str) -> Result<Vec<ExperimentPhase>> {
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    let rows = conn.client.query(
        "SELECT phase, definition, bucket_start, bucket_end, started_micros, stopped_micros \
         FROM experiment_phases WHERE app_id = $1 AND name = $2 ORDER BY phase",
        &[&app_id, &name],
    )?;
    rows.iter()
        .map(|r| {
            Ok(ExperimentPhase {
                phase: u32_from_i64("experiment_phases", "phase", r.try_get(0)?)?,
                definition: r.try_get(1)?,
                buckets: (
                    u32_from_i64("experiment_phases", "bucket_start", r.try_get(2)?)?,
                    u32_from_i64("experiment_phases", "bucket_end", r.try_get(3)?)?,
                ),
                started_micros: r.try_get(4)?,
                stopped_micros: r.try_get(5)?,
            })
        })
        .collect()
}

pub(super) fn record_exposures(store: &PgStore, app: &str, exposures: &[Exposure]) -> Result<u64> {
    if exposures.is_empty() {
        return Ok(0);
    }
    let app_id = store.app_id(app)?;
    let experiment: Vec<&str> = exposures.iter().map(|e| e.experiment.as_str()).collect();
    let phase: Vec<i64> = exposures.iter().map(|e| i64::from(e.phase)).collect();
    let user: Vec<&str> = exposures.iter().map(|e| e.user_key.as_str()).collect();
    let variant: Vec<&str> = exposures.iter().map(|e| e.variant.as_str()).collect();
    let at: Vec<i64> = exposures.iter().map(|e| e.at_micros).collect();
    let mut conn = store.conn()?;
    // One statement; a key repeated within the batch keeps its first row (DISTINCT ON in
    // input order), as repeated calls would.
    let n = conn.client.execute(
        "INSERT INTO experiment_exposures (app_id, experiment, phase, user_key, variant, at_micros) \
         SELECT DISTINCT ON (e, p, u) $1, e, p, u, v, t FROM \
         UNNEST($2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[]) WITH ORDINALITY AS x(e, p, u, v, t, o) \
         ORDER BY e, p, u, o \
         ON CONFLICT (app_id, experiment, phase, user_key) DO NOTHING",
        &[&app_id, &experiment, &phase, &user, &variant, &at],
    )?;
    Ok(n)
}

pub(super) fn get_exposure(
    store: &PgStore,
    app: &str,
    experiment: &str,
    phase: u32,
    user_key: &str,
) -> Result<Option<Exposure>> {
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    conn.client
        .query_opt(
            "SELECT experiment, phase, user_key, variant, at_micros FROM experiment_exposures \
             WHERE app_id = $1 AND experiment = $2 AND phase = $3 AND user_key = $4",
            &[&app_id, &experiment, &i64::from(phase), &user_key],
        )?
        .as_ref()
        .map(exposure)
        .transpose()
}

pub(super) fn scan_exposures(
    store: &PgStore,
    app: &str,
    experiment: &str,
    phase: u32,
    visit: &mut dyn FnMut(Exposure) -> bool,
) -> Result<()> {
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    let rows = conn.client.query(
        "SELECT experiment, phase, user_key, variant, at_micros FROM experiment_exposures \
         WHERE app_id = $1 AND experiment = $2 AND phase = $3 ORDER BY user_key",
        &[&app_id, &experiment, &i64::from(phase)],
    )?;
    for r in &rows {
        if !visit(exposure(r)?) {
            break;
        }
    }
    Ok(())
}

/// The device's exposures become the user's where the user has none in that phase (inside
/// `identify`'s transaction).
pub(super) fn carry_exposures(
    tx: &mut Transaction<'_>,
    app_id: i64,
    from: &str,
    to: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO experiment_exposures (app_id, experiment, phase, user_key, variant, at_micros) \
         SELECT app_id, experiment, phase, $3, variant, at_micros FROM experiment_exposures \
         WHERE app_id = $1 AND user_key = $2 \
         ON CONFLICT (app_id, experiment, phase, user_key) DO NOTHING",
        &[&app_id, &from, &to],
    )?;
    Ok(())
}

pub(super) fn put_state(store: &PgStore, app: &str, name: &str, state: &str) -> Result<()> {
    experiments::check_definition(state).map_err(|_| StoreError::InvalidExperiment {
        field: "state".into(),
        reason: "must be a JSON object".into(),
    })?;
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    let n = conn.client.execute(
        "UPDATE experiments SET state = $3, state_micros = $4 WHERE app_id = $1 AND name = $2",
        &[&app_id, &name, &state, &now_micros()],
    )?;
    if n == 0 {
        return Err(StoreError::UnknownExperiment {
            app: app.to_string(),
            name: name.to_string(),
        });
    }
    Ok(())
}

pub(super) fn get_state(store: &PgStore, app: &str, name: &str) -> Result<Option<(String, i64)>> {
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    let row = conn.client.query_opt(
        "SELECT state, state_micros FROM experiments WHERE app_id = $1 AND name = $2",
        &[&app_id, &name],
    )?;
    Ok(match row {
        Some(r) => match (
            r.try_get::<_, Option<String>>(0)?,
            r.try_get::<_, Option<i64>>(1)?,
        ) {
            (Some(s), Some(at)) => Some((s, at)),
            _ => None,
        },
        None => None,
    })
}
