//! Experiments on SQLite. Lifecycle writes run in the writer's `BEGIN IMMEDIATE` transaction,
//! which serializes them against every other writer (in this process and in others), so the
//! bucket allocation of a layer needs no further lock.

use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::SqliteStore;
use crate::codec::now_micros;
use crate::experiments::{self, status_from_str, u32_from_i64, ExperimentTx};
use crate::{ExperimentPhase, ExperimentRecord, ExperimentStatus, Exposure, Result, StoreError};

const COLUMNS: &str = "name, layer, status, phase, definition, bucket_start, bucket_end, \
     created_micros, started_micros, stopped_micros";

fn record(row: &Row<'_>) -> Result<ExperimentRecord> {
    let status: String = row.get(2)?;
    let phase: i64 = row.get(3)?;
    let (start, end): (Option<i64>, Option<i64>) = (row.get(5)?, row.get(6)?);
    let buckets = match (start, end) {
        (Some(a), Some(b)) => Some((
            u32_from_i64("experiments", "bucket_start", a)?,
            u32_from_i64("experiments", "bucket_end", b)?,
        )),
        _ => None,
    };
    Ok(ExperimentRecord {
        name: row.get(0)?,
        layer: row.get(1)?,
        status: status_from_str(&status)?,
        phase: u32_from_i64("experiments", "phase", phase)?,
        definition: row.get(4)?,
        buckets,
        created_micros: row.get(7)?,
        started_micros: row.get(8)?,
        stopped_micros: row.get(9)?,
    })
}

fn exposure(row: &Row<'_>) -> Result<Exposure> {
    let phase: i64 = row.get(1)?;
    Ok(Exposure {
        experiment: row.get(0)?,
        phase: u32_from_i64("experiment_exposures", "phase", phase)?,
        user_key: row.get(2)?,
        variant: row.get(3)?,
        at_micros: row.get(4)?,
    })
}

struct Tx<'a, 'c> {
    tx: &'a Transaction<'c>,
    app_id: i64,
}

impl ExperimentTx for Tx<'_, '_> {
    fn lock(&mut self) -> Result<()> {
        // BEGIN IMMEDIATE already holds the database's write lock.
        Ok(())
    }

    fn get(&mut self, name: &str) -> Result<Option<ExperimentRecord>> {
        let mut stmt = self.tx.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM experiments WHERE app_id = ?1 AND name = ?2"
        ))?;
        let mut found = stmt.query(params![self.app_id, name])?;
        found.next()?.map(record).transpose()
    }

    fn running_in(&mut self, layer: &str) -> Result<Vec<(u32, u32)>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT bucket_start, bucket_end FROM experiments \
             WHERE app_id = ?1 AND layer = ?2 AND status = 'running'",
        )?;
        let mut found = stmt.query(params![self.app_id, layer])?;
        let mut out = Vec::new();
        while let Some(row) = found.next()? {
            let (a, b): (i64, i64) = (row.get(0)?, row.get(1)?);
            out.push((
                u32_from_i64("experiments", "bucket_start", a)?,
                u32_from_i64("experiments", "bucket_end", b)?,
            ));
        }
        Ok(out)
    }

    fn put(&mut self, rec: &ExperimentRecord) -> Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE experiments SET status = ?3, phase = ?4, definition = ?5, bucket_start = ?6, \
                 bucket_end = ?7, started_micros = ?8, stopped_micros = ?9 WHERE app_id = ?1 AND name = ?2",
            )?
            .execute(params![
                self.app_id,
                rec.name,
                rec.status.as_str(),
                rec.phase,
                rec.definition,
                rec.buckets.map(|b| b.0),
                rec.buckets.map(|b| b.1),
                rec.started_micros,
                rec.stopped_micros
            ])?;
        Ok(())
    }

    fn put_phase(&mut self, name: &str, p: &ExperimentPhase) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO experiment_phases (app_id, name, phase, definition, bucket_start, bucket_end, \
                 started_micros, stopped_micros) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT (app_id, name, phase) DO UPDATE SET stopped_micros = excluded.stopped_micros",
            )?
            .execute(params![
                self.app_id,
                name,
                p.phase,
                p.definition,
                p.buckets.0,
                p.buckets.1,
                p.started_micros,
                p.stopped_micros
            ])?;
        Ok(())
    }
}

pub(super) fn create(
    store: &SqliteStore,
    app: &str,
    name: &str,
    layer: &str,
    definition: &str,
) -> Result<ExperimentRecord> {
    experiments::check_new(name, layer, definition)?;
    let app_id = store.app_id(app)?;
    let now = now_micros();
    store.write(|tx| {
        let n = tx
            .prepare_cached(
                "INSERT INTO experiments (app_id, name, layer, status, phase, definition, created_micros) \
                 VALUES (?1, ?2, ?3, 'draft', 0, ?4, ?5) ON CONFLICT (app_id, name) DO NOTHING",
            )?
            .execute(params![app_id, name, layer, definition, now])?;
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
    })
}

pub(super) fn get(store: &SqliteStore, app: &str, name: &str) -> Result<Option<ExperimentRecord>> {
    let app_id = store.app_id(app)?;
    let conn = store.reader()?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM experiments WHERE app_id = ?1 AND name = ?2"
    ))?;
    let mut found = stmt.query(params![app_id, name])?;
    found.next()?.map(record).transpose()
}

pub(super) fn list(store: &SqliteStore, app: &str) -> Result<Vec<ExperimentRecord>> {
    let app_id = store.app_id(app)?;
    let conn = store.reader()?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM experiments WHERE app_id = ?1 ORDER BY name"
    ))?;
    let mut found = stmt.query([app_id])?;
    let mut out = Vec::new();
    while let Some(row) = found.next()? {
        out.push(record(row)?);
    }
    Ok(out)
}

pub(super) fn update(
    store: &SqliteStore,
    app: &str,
    name: &str,
    definition: &str,
) -> Result<ExperimentRecord> {
    let app_id = store.app_id(app)?;
    store.write(|tx| experiments::update(&mut Tx { tx, app_id }, app, name, definition))
}

pub(super) fn start(
    store: &SqliteStore,
    app: &str,
    name: &str,
    buckets: u32,
) -> Result<ExperimentRecord> {
    let app_id = store.app_id(app)?;
    store.write(|tx| experiments::start(&mut Tx { tx, app_id }, app, name, buckets))
}

pub(super) fn stop(store: &SqliteStore, app: &str, name: &str) -> Result<ExperimentRecord> {
    let app_id = store.app_id(app)?;
    store.write(|tx| experiments::stop(&mut Tx { tx, app_id }, app, name))
}

pub(super) fn phases(store: &SqliteStore, app: &str, name: &str) -> Result<Vec<ExperimentPhase>> {
    let app_id = store.app_id(app)?;
    let conn = store.reader()?;
    let mut stmt = conn.prepare_cached(
        "SELECT phase, definition, bucket_start, bucket_end, started_micros, stopped_micros \
         FROM experiment_phases WHERE app_id = ?1 AND name = ?2 ORDER BY phase",
    )?;
    let mut found = stmt.query(params![app_id, name])?;
    let mut out = Vec::new();
    while let Some(row) = found.next()? {
        let (phase, a, b): (i64, i64, i64) = (row.get(0)?, row.get(2)?, row.get(3)?);
        out.push(ExperimentPhase {
            phase: u32_from_i64("experiment_phases", "phase", phase)?,
            definition: row.get(1)?,
            buckets: (
                u32_from_i64("experiment_phases", "bucket_start", a)?,
                u32_from_i64("experiment_phases", "bucket_end", b)?,
            ),
            started_micros: row.get(4)?,
            stopped_micros: row.get(5)?,
        });
    }
    Ok(out)
}

pub(super) fn record_exposures(
    store: &SqliteStore,
    app: &str,
    exposures: &[Exposure],
) -> Result<u64> {
    if exposures.is_empty() {
        return Ok(0);
    }
    let app_id = store.app_id(app)?;
    store.write(|tx| {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO experiment_exposures (app_id, experiment, phase, user_key, variant, at_micros) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (app_id, experiment, phase, user_key) DO NOTHING",
        )?;
        let mut new = 0u64;
        for e in exposures {
            new += stmt.execute(params![
                app_id,
                e.experiment,
                e.phase,
                e.user_key,
                e.variant,
                e.at_micros
            ])? as u64;
        }
        Ok(new)
    })
}

pub(super) fn get_exposure(
    store: &SqliteStore,
    app: &str,
    experiment: &str,
    phase: u32,
    user_key: &str,
) -> Result<Option<Exposure>> {
    let app_id = store.app_id(app)?;
    let conn = store.reader()?;
    let mut stmt = conn.prepare_cached(
        "SELECT experiment, phase, user_key, variant, at_micros FROM experiment_exposures \
         WHERE app_id = ?1 AND experiment = ?2 AND phase = ?3 AND user_key = ?4",
    )?;
    let mut found = stmt.query(params![app_id, experiment, phase, user_key])?;
    found.next()?.map(exposure).transpose()
}

pub(super) fn scan_exposures(
    store: &SqliteStore,
    app: &str,
    experiment: &str,
    phase: u32,
    visit: &mut dyn FnMut(Exposure) -> bool,
) -> Result<()> {
    let app_id = store.app_id(app)?;
    let conn = store.reader()?;
    let mut stmt = conn.prepare_cached(
        "SELECT experiment, phase, user_key, variant, at_micros FROM experiment_exposures \
         WHERE app_id = ?1 AND experiment = ?2 AND phase = ?3 ORDER BY user_key",
    )?;
    let mut found = stmt.query(params![app_id, experiment, phase])?;
    while let Some(row) = found.next()? {
        if !visit(exposure(row)?) {
            break;
        }
    }
    Ok(())
}

/// The device's exposures become the user's where the user has none in that phase (inside
/// `identify`'s transaction).
pub(super) fn carry_exposures(
    tx: &Transaction<'_>,
    app_id: i64,
    from: &str,
    to: &str,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO experiment_exposures (app_id, experiment, phase, user_key, variant, at_micros) \
         SELECT app_id, experiment, phase, ?3, variant, at_micros FROM experiment_exposures \
         WHERE app_id = ?1 AND user_key = ?2 \
         ON CONFLICT (app_id, experiment, phase, user_key) DO NOTHING",
    )?
    .execute(params![app_id, from, to])?;
    Ok(())
}

pub(super) fn put_state(store: &SqliteStore, app: &str, name: &str, state: &str) -> Result<()> {
    experiments::check_definition(state).map_err(|_| StoreError::InvalidExperiment {
        field: "state".into(),
        reason: "must be a JSON object".into(),
    })?;
    let app_id = store.app_id(app)?;
    store.write(|tx| {
        let n = tx
            .prepare_cached(
                "UPDATE experiments SET state = ?3, state_micros = ?4 WHERE app_id = ?1 AND name = ?2",
            )?
            .execute(params![app_id, name, state, now_micros()])?;
        if n == 0 {
            return Err(StoreError::UnknownExperiment {
                app: app.to_string(),
                name: name.to_string(),
            });
        }
        Ok(())
    })
}

pub(super) fn get_state(
    store: &SqliteStore,
    app: &str,
    name: &str,
) -> Result<Option<(String, i64)>> {
    let app_id = store.app_id(app)?;
    let conn = store.reader()?;
    let found: Option<(Option<String>, Option<i64>)> = conn
        .prepare_cached(
            "SELECT state, state_micros FROM experiments WHERE app_id = ?1 AND name = ?2",
        )?
        .query_row(params![app_id, name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match found {
        Some((Some(s), Some(at))) => Some((s, at)),
        _ => None,
    })
}
