//! Tuning studies on PostgreSQL (see [`crate::StudyStore`]).

use postgres::Row;

use super::PgStore;
use crate::codec::now_micros;
use crate::studies::{check_study, check_update, Stored};
use crate::{Result, StoreError, StudyRecord};

const COLUMNS: &str = "name, algorithm, objective, space, study, state, n_trials, best_value, \
                       created_micros, updated_micros";

fn record(r: &Row) -> Result<StudyRecord> {
    let n_trials: i64 = r.try_get(6)?;
    Ok(StudyRecord {
        name: r.try_get(0)?,
        algorithm: r.try_get(1)?,
        objective: r.try_get(2)?,
        space: r.try_get(3)?,
        study: r.try_get(4)?,
        state: r.try_get(5)?,
        n_trials: u32::try_from(n_trials).map_err(|_| StoreError::Corrupt {
            table: "studies",
            detail: format!("n_trials {n_trials}"),
        })?,
        best_value: r.try_get(7)?,
        created_micros: r.try_get(8)?,
        updated_micros: r.try_get(9)?,
    })
}

pub(super) fn save(store: &PgStore, app: &str, s: &StudyRecord) -> Result<StudyRecord> {
    check_study(s)?;
    let app_id = store.app_id(app)?;
    let now = now_micros();
    let mut conn = store.conn()?;
    let mut tx = conn.client.transaction()?;
    // The row lock serializes saves of one study; a first save races only with another first
    // save, and the loser fails on the primary key, changing nothing.
    let stored = tx.query_opt(
        "SELECT algorithm, space, n_trials, created_micros FROM studies \
         WHERE app_id = $1 AND name = $2 FOR UPDATE",
        &[&app_id, &s.name],
    )?;
    let created = match stored {
        Some(r) => {
            let meta = Stored {
                algorithm: r.try_get(0)?,
                space: r.try_get(1)?,
                n_trials: r.try_get::<_, i64>(2)?.try_into().unwrap_or(u32::MAX),
            };
            check_update(&meta, s)?;
            tx.execute(
                "UPDATE studies SET objective = $3, study = $4, state = $5, n_trials = $6, \
                 best_value = $7, updated_micros = $8 WHERE app_id = $1 AND name = $2",
                &[
                    &app_id,
                    &s.name,
                    &s.objective,
                    &s.study,
                    &s.state,
                    &i64::from(s.n_trials),
                    &s.best_value,
                    &now,
                ],
            )?;
            r.try_get::<_, i64>(3)?
        }
        None => {
            tx.execute(
                "INSERT INTO studies (app_id, name, algorithm, objective, space, study, state, \
                 n_trials, best_value, created_micros, updated_micros) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
                &[
                    &app_id,
                    &s.name,
                    &s.algorithm,
                    &s.objective,
                    &s.space,
                    &s.study,
                    &s.state,
                    &i64::from(s.n_trials),
                    &s.best_value,
                    &now,
                ],
            )?;
            now
        }
    };
    tx.commit()?;
    Ok(StudyRecord {
        created_micros: created,
        updated_micros: now,
        ..s.clone()
    })
}

pub(super) fn load(store: &PgStore, app: &str, name: &str) -> Result<Option<StudyRecord>> {
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    let row = conn.client.query_opt(
        &format!("SELECT {COLUMNS} FROM studies WHERE app_id = $1 AND name = $2"),
        &[&app_id, &name],
    )?;
    row.as_ref().map(record).transpose()
}

pub(super) fn list(store: &PgStore, app: &str) -> Result<Vec<StudyRecord>> {
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    let rows = conn.client.query(
        &format!("SELECT {COLUMNS} FROM studies WHERE app_id = $1 ORDER BY name"),
        &[&app_id],
    )?;
    rows.iter().map(record).collect()
}

pub(super) fn delete(store: &PgStore, app: &str, name: &str) -> Result<bool> {
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    Ok(conn.client.execute(
        "DELETE FROM studies WHERE app_id = $1 AND name = $2",
        &[&app_id, &name],
    )? > 0)
}
