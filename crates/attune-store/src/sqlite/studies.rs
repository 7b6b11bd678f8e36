//! Tuning studies on SQLite (see [`crate::StudyStore`]).

use rusqlite::{params, OptionalExtension, Row};

use super::SqliteStore;
use crate::codec::now_micros;
use crate::studies::{check_study, check_update, Stored};
use crate::{Result, StoreError, StudyRecord};

const COLUMNS: &str = "name, algorithm, objective, space, study, state, n_trials, best_value, \
                       created_micros, updated_micros";

fn record(r: &Row<'_>) -> Result<StudyRecord> {
    let n_trials: i64 = r.get(6)?;
    Ok(StudyRecord {
        name: r.get(0)?,
        algorithm: r.get(1)?,
        objective: r.get(2)?,
        space: r.get(3)?,
        study: r.get(4)?,
        state: r.get(5)?,
        n_trials: u32::try_from(n_trials).map_err(|_| StoreError::Corrupt {
            table: "studies",
            detail: format!("n_trials {n_trials}"),
        })?,
        best_value: r.get(7)?,
        created_micros: r.get(8)?,
        updated_micros: r.get(9)?,
    })
}

pub(super) fn save(store: &SqliteStore, app: &str, s: &StudyRecord) -> Result<StudyRecord> {
    check_study(s)?;
    let app_id = store.app_id(app)?;
    let now = now_micros();
    store.write(|tx| {
        let stored = tx
            .prepare_cached(
                "SELECT algorithm, space, n_trials, created_micros FROM studies \
                 WHERE app_id = ?1 AND name = ?2",
            )?
            .query_row(params![app_id, s.name], |r| {
                Ok((
                    Stored {
                        algorithm: r.get(0)?,
                        space: r.get(1)?,
                        n_trials: r.get::<_, i64>(2)?.try_into().unwrap_or(u32::MAX),
                    },
                    r.get::<_, i64>(3)?,
                ))
            })
            .optional()?;
        let created = match &stored {
            Some((meta, created)) => {
                check_update(meta, s)?;
                *created
            }
            None => now,
        };
        tx.prepare_cached(
            "INSERT INTO studies (app_id, name, algorithm, objective, space, study, state, \
             n_trials, best_value, created_micros, updated_micros) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT (app_id, name) DO UPDATE SET objective = excluded.objective, \
             study = excluded.study, state = excluded.state, n_trials = excluded.n_trials, \
             best_value = excluded.best_value, updated_micros = excluded.updated_micros",
        )?
        .execute(params![
            app_id,
            s.name,
            s.algorithm,
            s.objective,
            s.space,
            s.study,
            s.state,
            i64::from(s.n_trials),
            s.best_value,
            created,
            now
        ])?;
        Ok(StudyRecord {
            created_micros: created,
            updated_micros: now,
            ..s.clone()
        })
    })
}

pub(super) fn load(store: &SqliteStore, app: &str, name: &str) -> Result<Option<StudyRecord>> {
    let app_id = store.app_id(app)?;
    let conn = store.reader()?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM studies WHERE app_id = ?1 AND name = ?2"
    ))?;
    let mut rows = stmt.query(params![app_id, name])?;
    match rows.next()? {
        Some(r) => Ok(Some(record(r)?)),
        None => Ok(None),
    }
}

pub(super) fn list(store: &SqliteStore, app: &str) -> Result<Vec<StudyRecord>> {
    let app_id = store.app_id(app)?;
    let conn = store.reader()?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM studies WHERE app_id = ?1 ORDER BY name"
    ))?;
    let mut rows = stmt.query(params![app_id])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(record(r)?);
    }
    Ok(out)
}

pub(super) fn delete(store: &SqliteStore, app: &str, name: &str) -> Result<bool> {
    let app_id = store.app_id(app)?;
    store.write(|tx| {
        Ok(tx
            .prepare_cached("DELETE FROM studies WHERE app_id = ?1 AND name = ?2")?
            .execute(params![app_id, name])?
            > 0)
    })
}
