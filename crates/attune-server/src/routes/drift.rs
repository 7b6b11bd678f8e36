//! `GET /v1/monitor/drift`: the app's data over the window ending now against the active
//! model's training data (`attune_pipeline::drift::report`, the same call as
//! `attune monitor drift`).

use axum::extract::State;
use axum::Json;
use serde_json::Value;

use super::blocking;
use crate::extract::{App, Params};
use crate::problem::Problem;
use crate::AppState;

/// `GET /v1/monitor/drift[?window_secs=]`: every feature's PSI and KS against the reference.
/// 409 when the app has no active model or its training data has no reference window; 503
/// when the server runs without the pipeline.
pub(super) async fn drift(
    State(state): State<AppState>,
    App(app): App,
    params: Params,
) -> Result<Json<Value>, Problem> {
    let window = super::quality::seconds(&params, "window_secs", state.monitor.window_secs)?;
    let pipeline = super::models::pipeline(&state)?;
    let config = state.monitor.drift.clone();
    let r = blocking(move || {
        let now = chrono::Utc::now().timestamp_micros();
        Ok(attune_pipeline::drift::report(
            &pipeline, &app, now, window, &config,
        )?)
    })
    .await?;
    Ok(Json(serde_json::to_value(&r).map_err(|e| {
        Problem::internal("rendering the drift report", &e)
    })?))
}
