//! `GET /v1/profile`: the profile of the data training sees
//! (`attune_pipeline::profile::ProfileReport`, the report `attune profile --json` prints), so
//! the dashboard's data page and the CLI show the same numbers.

use attune_pipeline::PipelineError;
use axum::extract::State;
use axum::Json;
use serde_json::Value;

use super::blocking;
use crate::extract::App;
use crate::problem::Problem;
use crate::AppState;

/// `GET /v1/profile`: sizes, sparsity, activity distributions, events per UTC day, cold start
/// and the suggested algorithms. It reads every event of the app, as training does; 503 on a
/// server started without the training pipeline (whose `[train]`/`[clean]` settings define
/// "the data training sees").
pub(super) async fn profile(
    State(state): State<AppState>,
    App(app): App,
) -> Result<Json<Value>, Problem> {
    let pipeline = super::models::pipeline(&state)?;
    let store = state.store.clone();
    let report = blocking(move || {
        let now = chrono::Utc::now().timestamp_micros();
        attune_pipeline::profile::ProfileReport::build(&*store, &app, pipeline.config(), now)
            .map_err(|e| match e {
                // An unknown app is a 404 naming the header, as on every route.
                PipelineError::Store(s) => s.into(),
                e => Problem::internal("profiling the app", &e),
            })
    })
    .await?;
    Ok(Json(serde_json::to_value(&report).map_err(|e| {
        Problem::internal("rendering the profile", &e)
    })?))
}
