//! Monitoring of served lists: the online quality figures over a window, computed now, and
//! the stored series monitoring ticks recorded (`attune_monitor`, the same calls as
//! `attune monitor quality|series`).

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::blocking;
use crate::extract::{App, Params};
use crate::problem::{ErrorCode, Problem};
use crate::AppState;

/// A positive whole number of seconds (`window_secs`), in micros.
pub(super) fn seconds(params: &Params, name: &'static str, default: u64) -> Result<i64, Problem> {
    match params.str(name) {
        None => Ok(default as i64 * 1_000_000),
        Some(t) => t
            .parse::<u64>()
            .ok()
            .filter(|s| (1..=90 * 86_400).contains(s))
            .map(|s| s as i64 * 1_000_000)
            .ok_or_else(|| {
                Problem::new(
                    ErrorCode::InvalidRequest,
                    format!("query parameter {name} must be 1 to 7776000 seconds, got {t:?}"),
                )
                .field(name)
            }),
    }
}

/// `GET /v1/monitor/quality[?window_secs=]`: every series' figures over the window ending now.
pub(super) async fn quality(
    State(state): State<AppState>,
    App(app): App,
    params: Params,
) -> Result<Json<Value>, Problem> {
    let window = seconds(&params, "window_secs", state.monitor.window_secs)?;
    let store = state.store.clone();
    let config = state.monitor.quality.clone();
    let r = blocking(move || {
        let now = chrono::Utc::now().timestamp_micros();
        Ok(attune_monitor::quality::report(
            &*store, &app, now, window, &config,
        )?)
    })
    .await?;
    Ok(Json(serde_json::to_value(&r).map_err(|e| {
        Problem::internal("rendering the quality report", &e)
    })?))
}

/// `GET /v1/monitor/series?metric=&since=&until=&labels=k:v,k:v`: the stored points of one
/// metric (default: the last day), grouped by series.
pub(super) async fn series(
    State(state): State<AppState>,
    App(app): App,
    params: Params,
) -> Result<Json<Value>, Problem> {
    let metric = params
        .str("metric")
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            Problem::new(
                ErrorCode::InvalidRequest,
                "query parameter metric is required",
            )
            .field("metric")
        })?
        .to_string();
    let now = chrono::Utc::now().timestamp_micros();
    let until = super::experiments::time_param(&params, "until")?.unwrap_or(now + 1);
    let since = super::experiments::time_param(&params, "since")?.unwrap_or(until - 86_400_000_000);
    let matching = attune_monitor::series::parse_matcher(params.str("labels").unwrap_or(""))
        .map_err(|e| Problem::new(ErrorCode::InvalidRequest, e.to_string()).field("labels"))?;
    let store = state.store.clone();
    let m = metric.clone();
    let found = blocking(move || {
        Ok(attune_monitor::series::read(
            &*store, &app, &m, &matching, since, until,
        )?)
    })
    .await?;
    let series: Vec<Value> = found
        .into_iter()
        .map(|(labels, points)| {
            json!({
                "labels": labels,
                "points": points.iter().map(|(at, v)| json!([at, v])).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({
        "metric": metric,
        "since_micros": since,
        "until_micros": until,
        "series": series,
    })))
}

/// A group specification query parameter, parsed (`item_groups`, `user_groups`).
fn spec<T>(params: &Params, name: &'static str) -> Result<Option<T>, Problem>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    params
        .str(name)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<T>()
                .map_err(|e| Problem::new(ErrorCode::InvalidRequest, e.to_string()).field(name))
        })
        .transpose()
}

/// `GET /v1/fairness[?window_secs=&item_groups=popularity:3&user_groups=attr:gender]`: exposure
/// by item group of the lists served in the window ending now, and CTR by user group
/// (`attune_monitor::fairness::online_fairness`, as `attune fairness online`).
pub(super) async fn fairness(
    State(state): State<AppState>,
    App(app): App,
    params: Params,
) -> Result<Json<Value>, Problem> {
    let window = seconds(&params, "window_secs", state.monitor.window_secs)?;
    let item_groups = spec(&params, "item_groups")?
        .unwrap_or(attune_core::fairness::ItemGroupSpec::Popularity(3));
    let user_groups = spec(&params, "user_groups")?;
    let store = state.store.clone();
    let max_events = state.monitor.quality.max_events.max(1);
    let doc = blocking(move || {
        let q = attune_monitor::fairness::FairnessQuery {
            until_micros: chrono::Utc::now().timestamp_micros() + 1,
            window_secs: (window / 1_000_000) as u64,
            item_groups,
            user_groups,
            max_events,
        };
        Ok(attune_monitor::fairness::online_fairness(&*store, &app, &q)?.to_json(&q))
    })
    .await?;
    Ok(Json(doc))
}
