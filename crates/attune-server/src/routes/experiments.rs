//! Experiments: create (a draft), list, show, change (a draft or stopped one), start (a new
//! phase), stop, and results. Definitions are checked by `attune_experiment` (the CLI's
//! checks), so a bad one is a 400 naming the field and nothing is stored; a start that finds
//! its layer full is a 409.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use attune_experiment::analysis::AnalysisParams;
use attune_experiment::{lifecycle, report, Definition, Experiment};

use super::blocking;
use crate::extract::{App, Params};
use crate::problem::{ErrorCode, Problem};
use crate::AppState;

/// The layer experiments go in when the request names none.
pub const DEFAULT_LAYER: &str = "default";

/// `{"name": ..., "layer": ..., ...the definition...}`.
#[derive(Debug, Deserialize)]
struct CreateBody {
    name: String,
    #[serde(default)]
    layer: Option<String>,
    /// Start it at once.
    #[serde(default)]
    start: bool,
    #[serde(flatten)]
    definition: Value,
}

fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        Problem::new(ErrorCode::InvalidJson, e.inner().to_string()).field(path)
    })
}

fn definition_of(v: Value) -> Result<Definition, Problem> {
    Ok(Definition::from_json(&v.to_string())?)
}

/// The JSON of an experiment (`phases` when asked).
pub(crate) fn experiment_json(
    e: &Experiment,
    phases: Option<&[attune_store::ExperimentPhase]>,
) -> Value {
    let r = &e.record;
    let mut v = json!({
        "name": r.name,
        "layer": r.layer,
        "status": r.status.as_str(),
        "phase": r.phase,
        "buckets": r.buckets.map(|b| json!([b.0, b.1])),
        "created_micros": r.created_micros,
        "started_micros": r.started_micros,
        "stopped_micros": r.stopped_micros,
        "definition": serde_json::from_str::<Value>(&r.definition).unwrap_or(Value::Null),
    });
    if let Some(p) = phases {
        v["phases"] = p
            .iter()
            .map(|p| {
                json!({
                    "phase": p.phase,
                    "buckets": [p.buckets.0, p.buckets.1],
                    "started_micros": p.started_micros,
                    "stopped_micros": p.stopped_micros,
                    "definition": serde_json::from_str::<Value>(&p.definition).unwrap_or(Value::Null),
                })
            })
            .collect();
    }
    v
}

/// The engine's router follows a change here at once (other replicas within their refresh).
fn changed(state: &AppState, app: &str) {
    if let Some(router) = state.serving.as_ref().and_then(|s| s.experiments()) {
        router.invalidate(app);
    }
}

/// `GET /v1/experiments`.
pub(super) async fn list(
    State(state): State<AppState>,
    App(app): App,
) -> Result<Json<Value>, Problem> {
    let store = state.store.clone();
    let all = blocking(move || Ok(lifecycle::list(&*store, &app)?)).await?;
    Ok(Json(json!({
        "experiments": all.iter().map(|e| experiment_json(e, None)).collect::<Vec<_>>(),
    })))
}

/// `POST /v1/experiments`: 201 with the draft (or the running experiment with `"start": true`).
pub(super) async fn create(
    State(state): State<AppState>,
    App(app): App,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let b: CreateBody = decode(&body)?;
    let definition = definition_of(b.definition)?;
    let layer = b.layer.unwrap_or_else(|| DEFAULT_LAYER.to_string());
    let store = state.store.clone();
    let (a, name) = (app.clone(), b.name.clone());
    let created = blocking(move || {
        let e = lifecycle::create(&*store, &a, &name, &layer, &definition)?;
        if !b.start {
            return Ok(e);
        }
        // A refused start leaves the draft: the caller sees why and can start it later.
        Ok(lifecycle::start(&*store, &a, &name)?)
    })
    .await?;
    changed(&state, &app);
    Ok((StatusCode::CREATED, Json(experiment_json(&created, None))))
}

/// `GET /v1/experiments/{name}`: with every phase.
pub(super) async fn get(
    State(state): State<AppState>,
    App(app): App,
    Path(name): Path<String>,
) -> Result<Json<Value>, Problem> {
    let store = state.store.clone();
    let (e, phases) = blocking(move || {
        let e = lifecycle::get(&*store, &app, &name)?;
        let phases = store.experiment_phases(&app, &name)?;
        Ok((e, phases))
    })
    .await?;
    Ok(Json(experiment_json(&e, Some(&phases))))
}

/// `PUT /v1/experiments/{name}`: a new definition for a draft or stopped experiment (a running
/// one is 409: stop it, change it, start a new phase).
pub(super) async fn update(
    State(state): State<AppState>,
    App(app): App,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, Problem> {
    let v: Value = decode(&body)?;
    let definition = definition_of(v)?;
    let store = state.store.clone();
    let e = blocking(move || Ok(lifecycle::update(&*store, &app, &name, &definition)?)).await?;
    Ok(Json(experiment_json(&e, None)))
}

/// `POST /v1/experiments/{name}/start`: a new phase.
pub(super) async fn start(
    State(state): State<AppState>,
    App(app): App,
    Path(name): Path<String>,
) -> Result<Json<Value>, Problem> {
    let store = state.store.clone();
    let a = app.clone();
    let e = blocking(move || Ok(lifecycle::start(&*store, &a, &name)?)).await?;
    changed(&state, &app);
    Ok(Json(experiment_json(&e, None)))
}

/// `POST /v1/experiments/{name}/stop`.
pub(super) async fn stop(
    State(state): State<AppState>,
    App(app): App,
    Path(name): Path<String>,
) -> Result<Json<Value>, Problem> {
    let store = state.store.clone();
    let a = app.clone();
    let e = blocking(move || Ok(lifecycle::stop(&*store, &a, &name)?)).await?;
    changed(&state, &app);
    Ok(Json(experiment_json(&e, None)))
}

/// `POST /v1/experiments/{name}/bandit`: recompute a running bandit's allocation now (the
/// scheduler does it every `serving.bandit_update_secs`) and return the saved state; this
/// replica serves from it at once.
pub(super) async fn bandit(
    State(state): State<AppState>,
    App(app): App,
    Path(name): Path<String>,
) -> Result<Json<Value>, Problem> {
    let store = state.store.clone();
    let a = app.clone();
    let saved = blocking(move || {
        let now = chrono::Utc::now().timestamp_micros();
        Ok(attune_experiment::bandit::update(&*store, &a, &name, now)?)
    })
    .await?;
    changed(&state, &app);
    Ok(Json(serde_json::to_value(&saved).map_err(|e| {
        Problem::internal("rendering the bandit state", &e)
    })?))
}

/// A query parameter that must be a number strictly between 0 and 1.
fn fraction(params: &Params, name: &'static str, default: f64) -> Result<f64, Problem> {
    match params.str(name) {
        None => Ok(default),
        Some(t) => t
            .parse::<f64>()
            .ok()
            .filter(|x| *x > 0.0 && *x < 1.0)
            .ok_or_else(|| {
                Problem::new(
                    ErrorCode::InvalidRequest,
                    format!("query parameter {name} must be a number between 0 and 1, got {t:?}"),
                )
                .field(name)
            }),
    }
}

/// `GET /v1/experiments/{name}/results[?phase=&confidence=&alpha=&mde=]`: the report
/// `attune experiment report --json` prints (409 when nobody was exposed yet).
pub(super) async fn results(
    State(state): State<AppState>,
    App(app): App,
    Path(name): Path<String>,
    params: Params,
) -> Result<Json<Value>, Problem> {
    let analysis = AnalysisParams {
        confidence: fraction(&params, "confidence", 0.95)?,
        alpha: fraction(&params, "alpha", 0.05)?,
        mde_relative: fraction(&params, "mde", 0.05)?,
        ..AnalysisParams::default()
    };
    let phase = match params.str("phase") {
        None => None,
        Some(t) => Some(t.parse::<u32>().map_err(|_| {
            Problem::new(
                ErrorCode::InvalidRequest,
                format!("query parameter phase must be a phase number, got {t:?}"),
            )
            .field("phase")
        })?),
    };
    let store = state.store.clone();
    let r = blocking(move || {
        let now = chrono::Utc::now().timestamp_micros();
        Ok(report::report(&*store, &app, &name, phase, now, &analysis)?)
    })
    .await?;
    Ok(Json(serde_json::to_value(&r).map_err(|e| {
        Problem::internal("rendering the report", &e)
    })?))
}

/// A time query parameter: RFC 3339.
pub(super) fn time_param(params: &Params, name: &'static str) -> Result<Option<i64>, Problem> {
    params
        .str(name)
        .map(|t| {
            attune_core::time::Timestamp::parse_rfc3339(t)
                .map(|ts| ts.utc_micros)
                .map_err(|e| {
                    Problem::new(
                        ErrorCode::InvalidRequest,
                        format!("query parameter {name}: {e}"),
                    )
                    .field(name)
                })
        })
        .transpose()
}

/// `GET /v1/outcomes[?group=model_version|source|variant|all&experiment=&since=&until=&window_hours=&view_through=]`:
/// what the lists served in a time range (default: the last 7 days) led to.
pub(super) async fn outcomes(
    State(state): State<AppState>,
    App(app): App,
    params: Params,
) -> Result<Json<Value>, Problem> {
    let group =
        attune_experiment::outcomes::group_of(params.str("group").unwrap_or("model_version"))?;
    let now = chrono::Utc::now().timestamp_micros();
    let until = time_param(&params, "until")?.unwrap_or(now);
    let since = time_param(&params, "since")?.unwrap_or(until - 7 * 86_400_000_000);
    let window_hours = match params.str("window_hours") {
        None => 24.0,
        Some(t) => t
            .parse::<f64>()
            .ok()
            .filter(|h| *h > 0.0 && *h <= 2160.0)
            .ok_or_else(|| {
                Problem::new(
                    ErrorCode::InvalidRequest,
                    format!("query parameter window_hours must be in (0, 2160], got {t:?}"),
                )
                .field("window_hours")
            })?,
    };
    let view_through = match params.str("view_through") {
        None => false,
        Some(_) => params.bool("view_through")?,
    };
    let experiment = params.str("experiment").map(str::to_string);
    let attribution = attune_core::attribution::AttributionParams {
        window_micros: (window_hours * 3.6e9) as i64,
        view_through,
    };
    let store = state.store.clone();
    let o = blocking(move || {
        Ok(attune_experiment::outcomes::outcomes(
            &*store,
            &app,
            since,
            until,
            group,
            experiment.as_deref(),
            &attribution,
        )?)
    })
    .await?;
    Ok(Json(serde_json::to_value(&o).map_err(|e| {
        Problem::internal("rendering outcomes", &e)
    })?))
}
