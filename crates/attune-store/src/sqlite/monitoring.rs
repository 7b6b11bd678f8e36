//! Monitoring records on SQLite (see [`crate::MonitorStore`]).

use rusqlite::{params, OptionalExtension, Row};

use super::SqliteStore;
use crate::codec::now_micros;
use crate::monitoring::{check_alert, check_object, check_points, labels_from, labels_text};
use crate::{AlertRecord, MetricPoint, Result};

fn point(metric: &str, row: &Row<'_>) -> Result<MetricPoint> {
    let labels: String = row.get(0)?;
    Ok(MetricPoint {
        metric: metric.to_string(),
        labels: labels_from("metric_points", &labels)?,
        at_micros: row.get(1)?,
        value: row.get(2)?,
    })
}

pub(super) fn put_points(store: &SqliteStore, app: &str, points: &[MetricPoint]) -> Result<()> {
    check_points(points)?;
    if points.is_empty() {
        return Ok(());
    }
    let app_id = store.app_id(app)?;
    store.write(|tx| {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO metric_points (app_id, metric, labels, at_micros, value) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (app_id, metric, at_micros, labels) DO UPDATE SET value = excluded.value",
        )?;
        for p in points {
            stmt.execute(params![app_id, p.metric, labels_text(&p.labels), p.at_micros, p.value])?;
        }
        Ok(())
    })
}

pub(super) fn scan_points(
    store: &SqliteStore,
    app: &str,
    metric: &str,
    since_micros: i64,
    until_micros: i64,
    visit: &mut dyn FnMut(MetricPoint) -> bool,
) -> Result<()> {
    let app_id = store.app_id(app)?;
    let conn = store.reader()?;
    let mut stmt = conn.prepare_cached(
        "SELECT labels, at_micros, value FROM metric_points \
         WHERE app_id = ?1 AND metric = ?2 AND at_micros >= ?3 AND at_micros < ?4 \
         ORDER BY at_micros, labels",
    )?;
    let mut rows = stmt.query(params![app_id, metric, since_micros, until_micros])?;
    while let Some(r) = rows.next()? {
        if !visit(point(metric, r)?) {
            break;
        }
    }
    Ok(())
}

pub(super) fn metric_names(store: &SqliteStore, app: &str) -> Result<Vec<String>> {
    let app_id = store.app_id(app)?;
    let conn = store.reader()?;
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT metric FROM metric_points WHERE app_id = ?1 ORDER BY metric",
    )?;
    let names = stmt
        .query_map(params![app_id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(names)
}

pub(super) fn prune_points(store: &SqliteStore, app: &str, before_micros: i64) -> Result<u64> {
    let app_id = store.app_id(app)?;
    store.write(|tx| {
        Ok(tx
            .prepare_cached("DELETE FROM metric_points WHERE app_id = ?1 AND at_micros < ?2")?
            .execute(params![app_id, before_micros])? as u64)
    })
}

pub(super) fn put_alert(store: &SqliteStore, app: &str, a: &AlertRecord) -> Result<()> {
    check_alert(a)?;
    let app_id = store.app_id(app)?;
    store.write(|tx| {
        tx.prepare_cached(
            "INSERT INTO alert_states (app_id, rule, labels, state, since_micros, updated_micros, value, detail) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (app_id, rule, labels) DO UPDATE SET state = excluded.state, \
             since_micros = excluded.since_micros, updated_micros = excluded.updated_micros, \
             value = excluded.value, detail = excluded.detail",
        )?
        .execute(params![
            app_id,
            a.rule,
            labels_text(&a.labels),
            a.state,
            a.since_micros,
            a.updated_micros,
            a.value,
            a.detail
        ])?;
        Ok(())
    })
}

pub(super) fn list_alerts(store: &SqliteStore, app: &str) -> Result<Vec<AlertRecord>> {
    let app_id = store.app_id(app)?;
    let conn = store.reader()?;
    let mut stmt = conn.prepare_cached(
        "SELECT rule, labels, state, since_micros, updated_micros, value, detail FROM alert_states \
         WHERE app_id = ?1 ORDER BY rule, labels",
    )?;
    let mut rows = stmt.query(params![app_id])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let labels: String = r.get(1)?;
        out.push(AlertRecord {
            rule: r.get(0)?,
            labels: labels_from("alert_states", &labels)?,
            state: r.get(2)?,
            since_micros: r.get(3)?,
            updated_micros: r.get(4)?,
            value: r.get(5)?,
            detail: r.get(6)?,
        });
    }
    Ok(out)
}

pub(super) fn put_training_profile(
    store: &SqliteStore,
    app: &str,
    version: u32,
    profile: &str,
) -> Result<()> {
    check_object("profile", profile)?;
    let app_id = store.app_id(app)?;
    store.write(|tx| {
        tx.prepare_cached(
            "INSERT INTO training_profiles (app_id, version, profile, saved_micros) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (app_id, version) DO UPDATE SET profile = excluded.profile, saved_micros = excluded.saved_micros",
        )?
        .execute(params![app_id, version, profile, now_micros()])?;
        Ok(())
    })
}

pub(super) fn get_training_profile(
    store: &SqliteStore,
    app: &str,
    version: u32,
) -> Result<Option<String>> {
    let app_id = store.app_id(app)?;
    let conn = store.reader()?;
    let found = conn
        .prepare_cached("SELECT profile FROM training_profiles WHERE app_id = ?1 AND version = ?2")?
        .query_row(params![app_id, version], |r| r.get(0))
        .optional()?;
    Ok(found)
}
