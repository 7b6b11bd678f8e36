//! Alerts: every alert state of the app (rule and event alerts, firing first) and the
//! configured rules. The documents are `attune_monitor`'s, the ones `attune alerts --json`
//! prints; evaluation and delivery run in the monitoring tick, not here.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::blocking;
use crate::extract::App;
use crate::problem::Problem;
use crate::AppState;

/// `GET /v1/alerts`: every alert of the app with its state, since when, value, annotations
/// and last delivery per sink; firing first, then pending, resolved and inactive.
pub(super) async fn list(
    State(state): State<AppState>,
    App(app): App,
) -> Result<Json<Value>, Problem> {
    let store = state.store.clone();
    let alerts = blocking(move || Ok(attune_monitor::alerts::view::list(&*store, &app)?)).await?;
    Ok(Json(json!({ "alerts": alerts })))
}

/// `GET /v1/alerts/rules`: the rules this server was configured with (as written in
/// `[[monitor.alerts]]`) and the sinks its notifier sends to.
pub(super) async fn rules(State(state): State<AppState>, App(_): App) -> Json<Value> {
    let sinks = state
        .pipeline
        .as_ref()
        .map(|p| p.notifier().sinks().to_vec())
        .unwrap_or_default();
    Json(json!({ "rules": &*state.alert_rules, "sinks": sinks }))
}
