//! Monitoring records on PostgreSQL (see [`crate::MonitorStore`]).

use super::PgStore;
use crate::codec::now_micros;
use crate::monitoring::{check_alert, check_object, check_points, labels_from, labels_text};
use crate::{AlertRecord, MetricPoint, Result};

pub(super) fn put_points(store: &PgStore, app: &str, points: &[MetricPoint]) -> Result<()> {
    check_points(points)?;
    if points.is_empty() {
        return Ok(());
    }
    let app_id = store.app_id(app)?;
    let metric: Vec<&str> = points.iter().map(|p| p.metric.as_str()).collect();
    let labels: Vec<String> = points.iter().map(|p| labels_text(&p.labels)).collect();
    let at: Vec<i64> = points.iter().map(|p| p.at_micros).collect();
    let value: Vec<f64> = points.iter().map(|p| p.value).collect();
    let mut conn = store.conn()?;
    // One statement; a series and time repeated within the batch keeps its last value, as
    // repeated calls would.
    conn.client.execute(
        "INSERT INTO metric_points (app_id, metric, labels, at_micros, value) \
         SELECT DISTINCT ON (m, l, t) $1, m, l, t, v FROM \
         UNNEST($2::text[], $3::text[], $4::bigint[], $5::float8[]) WITH ORDINALITY AS x(m, l, t, v, o) \
         ORDER BY m, l, t, o DESC \
         ON CONFLICT (app_id, metric, at_micros, labels) DO UPDATE SET value = excluded.value",
        &[&app_id, &metric, &labels, &at, &value],
    )?;
    Ok(())
}

pub(super) fn scan_points(
    store: &PgStore,
    app: &str,
    metric: &str,
    since_micros: i64,
    until_micros: i64,
    visit: &mut dyn FnMut(MetricPoint) -> bool,
) -> Result<()> {
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    let rows = conn.client.query(
        "SELECT labels, at_micros, value FROM metric_points \
         WHERE app_id = $1 AND metric = $2 AND at_micros >= $3 AND at_micros < $4 \
         ORDER BY at_micros, labels",
        &[&app_id, &metric, &since_micros, &until_micros],
    )?;
    for r in &rows {
        let labels: String = r.try_get(0)?;
        let p = MetricPoint {
            metric: metric.to_string(),
            labels: labels_from("metric_points", &labels)?,
            at_micros: r.try_get(1)?,
            value: r.try_get(2)?,
        };
        if !visit(p) {
            break;
        }
    }
    Ok(())
}

pub(super) fn metric_names(store: &PgStore, app: &str) -> Result<Vec<String>> {
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    let rows = conn.client.query(
        "SELECT DISTINCT metric FROM metric_points WHERE app_id = $1 ORDER BY metric",
        &[&app_id],
    )?;
    rows.iter()
        .map(|r| Ok(r.try_get::<_, String>(0)?))
        .collect()
}

pub(super) fn prune_points(store: &PgStore, app: &str, before_micros: i64) -> Result<u64> {
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    Ok(conn.client.execute(
        "DELETE FROM metric_points WHERE app_id = $1 AND at_micros < $2",
        &[&app_id, &before_micros],
    )?)
}

pub(super) fn put_alert(store: &PgStore, app: &str, a: &AlertRecord) -> Result<()> {
    check_alert(a)?;
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    conn.client.execute(
        "INSERT INTO alert_states (app_id, rule, labels, state, since_micros, updated_micros, value, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (app_id, rule, labels) DO UPDATE SET state = excluded.state, \
         since_micros = excluded.since_micros, updated_micros = excluded.updated_micros, \
         value = excluded.value, detail = excluded.detail",
        &[
            &app_id,
            &a.rule,
            &labels_text(&a.labels),
            &a.state,
            &a.since_micros,
            &a.updated_micros,
            &a.value,
            &a.detail,
        ],
    )?;
    Ok(())
}

pub(super) fn list_alerts(store: &PgStore, app: &str) -> Result<Vec<AlertRecord>> {
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    let rows = conn.client.query(
        "SELECT rule, labels, state, since_micros, updated_micros, value, detail FROM alert_states \
         WHERE app_id = $1 ORDER BY rule, labels",
        &[&app_id],
    )?;
    rows.iter()
        .map(|r| {
            let labels: String = r.try_get(1)?;
            Ok(AlertRecord {
                rule: r.try_get(0)?,
                labels: labels_from("alert_states", &labels)?,
                state: r.try_get(2)?,
                since_micros: r.try_get(3)?,
                updated_micros: r.try_get(4)?,
                value: r.try_get(5)?,
                detail: r.try_get(6)?,
            })
        })
        .collect()
}

pub(super) fn put_training_profile(
    store: &PgStore,
    app: &str,
    version: u32,
    profile: &str,
) -> Result<()> {
    check_object("profile", profile)?;
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    conn.client.execute(
        "INSERT INTO training_profiles (app_id, version, profile, saved_micros) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (app_id, version) DO UPDATE SET profile = excluded.profile, saved_micros = excluded.saved_micros",
        &[&app_id, &i64::from(version), &profile, &now_micros()],
    )?;
    Ok(())
}

pub(super) fn get_training_profile(
    store: &PgStore,
    app: &str,
    version: u32,
) -> Result<Option<String>> {
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    let row = conn.client.query_opt(
        "SELECT profile FROM training_profiles WHERE app_id = $1 AND version = $2",
        &[&app_id, &i64::from(version)],
    )?;
    Ok(match row {
        Some(r) => Some(r.try_get(0)?),
        None => None,
    })
}
