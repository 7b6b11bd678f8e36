//! Liveness, readiness, metrics, the API document and apps (tenants).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use attune_serving::AppReadiness;

use super::blocking;
use crate::api::describe;
use crate::extract::{body_format, check_app_name, parse_object, read_body};
use crate::problem::{ErrorCode, Problem};
use crate::AppState;

/// `GET /health`: the process serves requests. Never touches the store.
pub(super) async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /ready`: 200 only when the store answers a ping and every app's active model is
/// loaded (or the app has none), so a load balancer never sends a request that would get "no
/// active model" for an app that has one. Otherwise 503 `not_ready`, naming the backend and,
/// per app not serving, whether its model is still `loading` or was refused (`degraded`).
pub(super) async fn ready(State(state): State<AppState>) -> Result<Json<Value>, Problem> {
    let backend = state.store.backend();
    let store = state.store.clone();
    let ping = tokio::task::spawn_blocking(move || store.ping()).await;
    match ping {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, backend, "store ping failed");
            return Err(Problem::new(
                ErrorCode::NotReady,
                format!("the {backend} store does not answer"),
            )
            .with("backend", backend)
            .with("readiness", "store_unreachable"));
        }
        Err(e) => return Err(Problem::internal("the readiness check failed", &e)),
    }
    // A stream source whose broker is away: events sent through it wait in the broker (or
    // the producer), so this replica is not doing its whole job; say which and why.
    let down: Vec<Value> = state
        .streams
        .iter()
        .filter_map(|s| {
            let st = s.status();
            (!st.connected).then(|| json!({"source": s.name(), "reason": st.detail}))
        })
        .collect();
    if !down.is_empty() {
        return Err(Problem::new(
            ErrorCode::NotReady,
            format!("{} stream source(s) cannot reach their broker", down.len()),
        )
        .with("backend", backend)
        .with("readiness", "stream_unreachable")
        .with("streams", down));
    }
    let Some(serving) = state.serving.clone() else {
        return Ok(Json(json!({"status": "ready", "backend": backend})));
    };
    let apps = blocking(move || Ok(serving.readiness()?)).await?;
    let mut waiting = Vec::new();
    let mut degraded = false;
    for (app, r) in apps {
        match r {
            AppReadiness::Serving => {}
            AppReadiness::Loading { version } => waiting.push(json!({
                "app": app, "state": "loading", "version": version,
            })),
            AppReadiness::Degraded { version, reason } => {
                degraded = true;
                waiting.push(json!({
                    "app": app, "state": "degraded", "version": version, "reason": reason,
                }));
            }
        }
    }
    if waiting.is_empty() {
        return Ok(Json(json!({"status": "ready", "backend": backend})));
    }
    let (status, what) = if degraded {
        (
            "degraded",
            "an active model was refused and nothing serves it",
        )
    } else {
        ("loading", "active models are still loading")
    };
    Err(Problem::new(
        ErrorCode::NotReady,
        format!("{what}: {} app(s) not serving", waiting.len()),
    )
    .with("backend", backend)
    .with("readiness", status)
    .with("apps", Value::Array(waiting)))
}

/// `GET /metrics`: Prometheus text format (0.0.4), or OpenMetrics 1.0 when the scraper's
/// `Accept` asks for `application/openmetrics-text` (Prometheus does).
pub(super) async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(serving) = &state.serving {
        use std::sync::atomic::Ordering::Relaxed;
        let dropped = state.impressions.dropped.load(Relaxed);
        let unsampled = state.impressions.unsampled.load(Relaxed);
        state.metrics.observe_serving(serving, dropped, unsampled);
    }
    // A file's metadata on SQLite, one catalog query on PostgreSQL; a store that cannot
    // answer leaves the last value (readiness reports the store itself).
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.size_bytes()).await {
        Ok(Ok(bytes)) => state.metrics.set_store_bytes(bytes),
        Ok(Err(e)) => tracing::debug!(error = %e, "store size not measured"),
        Err(e) => tracing::debug!(error = %e, "store size not measured"),
    }
    for source in state.streams.iter() {
        state
            .metrics
            .observe_stream(source.name(), &source.status());
    }
    if let Some(pipeline) = &state.pipeline {
        state.metrics.observe_jobs(pipeline.jobs());
        state.metrics.observe_quality(pipeline.quality());
    }
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let (body, content_type) = if openmetrics {
        (
            state.metrics.render_openmetrics(),
            crate::metrics::OPENMETRICS_CONTENT_TYPE,
        )
    } else {
        (
            state.metrics.render_prometheus(),
            crate::metrics::PROMETHEUS_CONTENT_TYPE,
        )
    };
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

/// `GET /v1/openapi.json`: the OpenAPI 3.1 document of this API (compiled in).
pub(super) async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        crate::openapi::DOCUMENT,
    )
        .into_response()
}

/// `GET /v1/apps`: every app name, sorted.
pub(super) async fn list_apps(State(state): State<AppState>) -> Result<Json<Value>, Problem> {
    let store = state.store.clone();
    let apps = blocking(move || Ok(store.list_apps()?)).await?;
    Ok(Json(json!({"apps": apps})))
}

/// `POST /v1/apps {"name": "shop"}`: 201 when created, 200 when it already existed.
pub(super) async fn create_app(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), Problem> {
    body_format(&headers, false)?;
    let bytes = read_body(&headers, body, state.config.max_body_bytes).await?;
    let v = parse_object(&bytes, "app")?;
    let obj = v.as_object().expect("parse_object returns objects");
    let strict = state.config.strict_fields;
    if let Some(k) = obj.keys().find(|k| *k != "name").filter(|_| strict) {
        return Err(Problem::new(
            ErrorCode::ValidationFailed,
            format!("{k}: unknown field; allowed: name"),
        )
        .field(k));
    }
    let name = match obj.get("name") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => {
            return Err(
                Problem::new(ErrorCode::ValidationFailed, "name: is required").field("name"),
            )
        }
        Some(other) => {
            return Err(Problem::new(
                ErrorCode::ValidationFailed,
                format!("name: expected a string, got {}", describe(other)),
            )
            .field("name"))
        }
    };
    check_app_name(&name).map_err(Problem::invalid_field)?;
    let existed = state.app_exists(&name).await?;
    let store = state.store.clone();
    let n = name.clone();
    blocking(move || Ok(store.create_app(&n)?)).await?;
    state.remember_app(&name);
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(json!({"name": name}))))
}
