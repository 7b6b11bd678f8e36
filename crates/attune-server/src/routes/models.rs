//! Model versions: the registry, activation and rollback (verified by the serving engine
//! before the registry changes), and background training jobs.

use attune_serving::model::version_name;
use attune_store::ModelRecord;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::blocking;
use super::recommend::serving;
use crate::extract::App;
use crate::problem::{ErrorCode, Problem};
use crate::AppState;
use attune_pipeline::promote::DEFAULT_METRIC;
use attune_pipeline::{Job, JobError, Pipeline, Promote, StartError, TrainRequest};

fn record_json(r: &ModelRecord) -> Value {
    let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    json!({
        "version": r.version,
        "name": version_name(r.version),
        "status": r.status.as_str(),
        "algorithm": r.info.algorithm,
        "params": parse(&r.info.params),
        "data": parse(&r.info.data_snapshot),
        "metrics": r.info.metrics,
        "created_micros": r.info.created_micros,
        "registered_micros": r.registered_micros,
        "artifact": {
            "location": r.info.artifact.location,
            "checksum": format!("{:016x}", r.info.artifact.checksum),
            "size_bytes": r.info.artifact.size_bytes,
        },
    })
}

/// `GET /v1/models`: every registered version and the active one.
pub(super) async fn list(
    State(state): State<AppState>,
    App(app): App,
) -> Result<Json<Value>, Problem> {
    let store = state.store.clone();
    let (models, active) =
        blocking(move || Ok((store.list_models(&app)?, store.active_model(&app)?))).await?;
    Ok(Json(json!({
        "active": active.map(|a| json!({
            "version": a.version,
            "seq": a.seq,
            "since_micros": a.since_micros,
            "rollback_to": a.rollback_to,
        })),
        "models": models.iter().map(record_json).collect::<Vec<_>>(),
    })))
}

fn parse_version(text: &str) -> Result<u32, Problem> {
    attune_serving::model::parse_version(text).ok_or_else(|| {
        Problem::new(
            ErrorCode::InvalidRequest,
            format!("invalid model version {text:?}: expected v0003, v3 or 3"),
        )
        .field("version")
    })
}

/// `POST /v1/models/{version}/activate`: load and verify the version, then make it active.
/// A version that cannot be served is refused (422) and the active one keeps serving.
pub(super) async fn activate(
    State(state): State<AppState>,
    App(app): App,
    Path(version): Path<String>,
) -> Result<Json<Value>, Problem> {
    let v = parse_version(&version)?;
    let engine = serving(&state)?;
    let a = blocking(move || Ok(engine.activate(&app, v)?)).await?;
    Ok(Json(
        json!({"version": a.version, "name": version_name(a.version), "seq": a.seq, "changed": a.changed}),
    ))
}

/// `POST /v1/models/rollback`: back to the version active before the current one.
pub(super) async fn rollback(
    State(state): State<AppState>,
    App(app): App,
) -> Result<Json<Value>, Problem> {
    let engine = serving(&state)?;
    let a = blocking(move || Ok(engine.rollback(&app)?)).await?;
    Ok(Json(
        json!({"version": a.version, "name": version_name(a.version), "seq": a.seq, "changed": a.changed}),
    ))
}

/// `GET /v1/models/rollouts`: every guarded rollout, newest canary first, with its verdict
/// and the reason (`attune models rollouts`).
pub(super) async fn rollouts(
    State(state): State<AppState>,
    App(app): App,
) -> Result<Json<Value>, Problem> {
    let store = state.store.clone();
    let all = blocking(move || {
        attune_pipeline::rollout::list(&*store, &app)
            .map_err(|e| Problem::internal("reading rollouts", &e))
    })
    .await?;
    Ok(Json(json!({ "rollouts": all })))
}

/// The body of `POST /v1/models/train`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainBody {
    #[serde(default = "auto")]
    algorithm: String,
    /// `never`, `always` or `if_not_worse` (default).
    #[serde(default)]
    promote: Option<String>,
    #[serde(default)]
    metric: Option<String>,
    #[serde(default)]
    margin: Option<f64>,
    /// With `"promote": "canary"`: how the canary is judged.
    #[serde(default)]
    canary: Option<attune_pipeline::rollout::CanaryParams>,
}

fn auto() -> String {
    "auto".into()
}

fn promote_of(b: &TrainBody) -> Result<Promote, Problem> {
    let bad =
        |field: &str, msg: String| Problem::new(ErrorCode::ValidationFailed, msg).field(field);
    Ok(match b.promote.as_deref().unwrap_or("if_not_worse") {
        "never" => Promote::Never,
        "always" => Promote::Always,
        "canary" => {
            let params = b
                .canary
                .clone()
                .unwrap_or_else(|| attune_pipeline::rollout::CanaryParams::new(0.1));
            if let Err((field, rule)) = params.check() {
                return Err(bad(
                    &format!("canary.{field}"),
                    format!("canary.{field} {rule}"),
                ));
            }
            Promote::Canary(params)
        }
        "if_not_worse" => {
            let margin = b.margin.unwrap_or(0.01);
            if !(margin.is_finite() && margin >= 0.0) {
                return Err(bad(
                    "margin",
                    format!("margin must be a number >= 0, got {margin}"),
                ));
            }
            Promote::IfNotWorse {
                metric: b.metric.clone().unwrap_or_else(|| DEFAULT_METRIC.into()),
                margin,
            }
        }
        other => {
            return Err(bad(
                "promote",
                format!("promote must be never, always, if_not_worse or canary, got {other:?}"),
            ))
        }
    })
}

/// `POST /v1/models/train`: start a training job (202 with its id).
pub(super) async fn train(
    State(state): State<AppState>,
    App(app): App,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let b: TrainBody = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::from_str("{}").expect("empty object")
    } else {
        let de = &mut serde_json::Deserializer::from_slice(&body);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            Problem::new(ErrorCode::InvalidJson, e.inner().to_string()).field(path)
        })?
    };
    let request = TrainRequest {
        algorithm: b.algorithm.clone(),
        promote: promote_of(&b)?,
    };
    // Up front, with the parser training itself uses: an unknown algorithm or a bad parameter
    // is a 422 naming `algorithm` (the member sent), never a job that fails in the background.
    check_algorithm(&request.algorithm)?;
    let pipeline = pipeline(&state)?;
    // A promoted version is activated through the engine, so this replica serves it at once.
    let id = pipeline.start_job(&app, request).map_err(|e| match e {
        JobError::Invalid(e) => invalid_algorithm(e),
        JobError::Busy(e @ StartError::Busy { .. }) => {
            Problem::new(ErrorCode::Conflict, e.to_string())
        }
        JobError::Busy(e @ StartError::NoThread(_)) => {
            Problem::new(ErrorCode::Unavailable, e.to_string())
        }
    })?;
    Ok((
        StatusCode::ACCEPTED,
        Json(
            json!({"job_id": id, "status": "running", "status_url": format!("/v1/models/jobs/{id}")}),
        ),
    ))
}

/// Parse the algorithm text as training will ([`attune_pipeline::train::Algorithm`]).
fn check_algorithm(text: &str) -> Result<(), Problem> {
    text.parse::<attune_pipeline::train::Algorithm>()
        .map(drop)
        .map_err(invalid_algorithm)
}

/// A refused algorithm text: 422 naming `algorithm` (or the field a range rule names).
fn invalid_algorithm(e: attune_pipeline::PipelineError) -> Problem {
    let field = match &e {
        attune_pipeline::PipelineError::Invalid { field, .. } => *field,
        _ => "algorithm",
    };
    Problem::new(ErrorCode::ValidationFailed, e.to_string()).field(field)
}

pub(super) fn pipeline(state: &AppState) -> Result<std::sync::Arc<Pipeline>, Problem> {
    state.pipeline.clone().ok_or_else(|| {
        Problem::new(
            ErrorCode::Unavailable,
            "this server was started without the training pipeline",
        )
    })
}

/// `text` with the server's data directory taken out of every path in it (`<dir>/models/x`
/// becomes `models/x`): a job's error goes to the client, the directory layout must not.
fn without_data_dir(text: &str, data_dir: &std::path::Path) -> String {
    let dir = data_dir.display().to_string();
    if dir.is_empty() {
        return text.to_string();
    }
    let dir = dir.trim_end_matches('/');
    text.replace(&format!("{dir}/"), "").replace(dir, ".")
}

fn job_json(j: &Job, data_dir: &std::path::Path) -> Value {
    json!({
        "job_id": j.id,
        "status": j.state.as_str(),
        "algorithm": j.request.algorithm,
        "progress": j.progress,
        "started_micros": j.started_micros,
        "finished_micros": j.finished_micros,
        "version": j.outcome.as_ref().map(|o| o.version),
        "activated": j.outcome.as_ref().map(|o| o.activated),
        "promotion": j.outcome.as_ref().map(|o| o.promotion.clone()),
        "metrics": j.outcome.as_ref().map(|o| o.metrics.clone()),
        "error": j.error.as_deref().map(|e| without_data_dir(e, data_dir)),
    })
}

/// `GET /v1/models/jobs/{id}`.
pub(super) async fn job(
    State(state): State<AppState>,
    App(app): App,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let j = pipeline(&state)?.jobs().get(&app, &id).ok_or_else(|| {
        Problem::new(
            ErrorCode::JobNotFound,
            format!("no training job {id:?} in this app"),
        )
        .field("job_id")
    })?;
    let data_dir = pipeline(&state)?.engine().data_dir().to_path_buf();
    Ok(Json(job_json(&j, &data_dir)))
}

#[cfg(test)]
mod tests {
    use super::without_data_dir;
    use std::path::Path;

    #[test]
    fn job_errors_lose_the_data_directory() {
        let dir = Path::new("/srv/attune/data");
        assert_eq!(
            without_data_dir(
                "cannot write /srv/attune/data/models/shop/v0003.attune: disk full",
                dir
            ),
            "cannot write models/shop/v0003.attune: disk full"
        );
        assert_eq!(
            without_data_dir("/srv/attune/data is read-only", dir),
            ". is read-only"
        );
        assert_eq!(without_data_dir("no interactions", dir), "no interactions");
    }
}
