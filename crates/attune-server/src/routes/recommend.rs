//! Recommendations: for a user, for many users at once, similar items, popular and trending.
//!
//! Every list carries a fresh `recommendation_id`, the model version and, per item, its score
//! and an explanation; served lists are logged as impressions under that id (see
//! `impressions.rs`). Handlers first try the engine's in-memory path on the async worker
//! (microseconds); only a request that needs the store (a user seen for the first time since
//! the model was loaded) moves to the blocking pool.

use std::sync::Arc;

use attune_serving::{RecList, RecRequest, Serving, ServingError};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::blocking;
use crate::api::ListBody;
use crate::extract::{App, IdPath, Params};
use crate::problem::{ErrorCode, Problem};
use crate::AppState;

/// Most users in one `POST /v1/recommendations`.
pub(crate) const MAX_BATCH_USERS: usize = 1000;

pub(crate) fn serving(state: &AppState) -> Result<Arc<Serving>, Problem> {
    state.serving.clone().ok_or_else(|| {
        Problem::new(
            ErrorCode::Unavailable,
            "this server was started without the serving engine",
        )
    })
}

/// Answer from memory if possible, else on the blocking pool (store reads).
pub(crate) async fn run<T, F>(f: F) -> Result<T, Problem>
where
    T: Send + 'static,
    F: Fn(bool) -> Result<T, ServingError> + Send + Sync + 'static,
{
    match f(false) {
        Err(ServingError::NeedsStore) => blocking(move || Ok(f(true)?)).await,
        other => Ok(other?),
    }
}

fn bool_param(params: &Params, name: &str, default: bool) -> Result<bool, Problem> {
    match params.str(name) {
        None => Ok(default),
        Some(_) => params.bool(name),
    }
}

/// The request options of a query string.
fn request_of(params: &Params, max_n: usize) -> Result<RecRequest, Problem> {
    let n = params.usize("n", 10, max_n)?;
    let offset = match params.str("offset") {
        None => 0,
        Some(t) => t.parse::<usize>().map_err(|_| {
            Problem::new(
                ErrorCode::InvalidRequest,
                format!("query parameter offset must be a whole number, got {t:?}"),
            )
            .field("offset")
        })?,
    };
    let categories = params
        .str("category")
        .map(|c| {
            c.split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Ok(RecRequest {
        n,
        offset,
        categories,
        exclude_seen: bool_param(params, "exclude_seen", true)?,
        available_only: bool_param(params, "available_only", true)?,
        diversity: fraction(params, "diversity")?,
        strength: fraction(params, "strength")?,
    })
}

/// An optional query parameter that must be a number from 0 to 1.
fn fraction(params: &Params, name: &'static str) -> Result<Option<f32>, Problem> {
    match params.str(name) {
        None => Ok(None),
        Some(t) => t
            .parse::<f32>()
            .ok()
            .filter(|l| (0.0..=1.0).contains(l))
            .map(Some)
            .ok_or_else(|| {
                Problem::new(
                    ErrorCode::InvalidRequest,
                    format!("query parameter {name} must be a number from 0 to 1, got {t:?}"),
                )
                .field(name)
            }),
    }
}

/// A served list to the publisher: the response body with the app, the user and the time.
fn publish_list(p: &dyn crate::streams::Publisher, app: &str, user: &str, list: &RecList) {
    match serde_json::to_value(ListBody::of(list, Some(user))) {
        Ok(mut v) => {
            v["app"] = app.into();
            v["served_at"] = chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .into();
            p.publish(
                crate::streams::Published::List,
                user,
                v.to_string().into_bytes(),
            );
        }
        Err(e) => tracing::warn!(error = %e, "list not published"),
    }
}

/// A list as the JSON response.
pub(crate) fn list_response(list: &RecList, user: Option<&str>) -> Response {
    Json(ListBody::of(list, user)).into_response()
}

fn log(state: &AppState, app: &str, user: &str, list: &RecList, latency: std::time::Duration) {
    if state.impressions.enabled() && !list.items.is_empty() {
        state.impressions.log(app, user, list, latency);
    }
    if let Some(p) = state.publisher.get() {
        publish_list(p.as_ref(), app, user, list);
    }
    // A user's first serve in an experiment's phase is their exposure: recorded off the
    // request path (the first recorded variant stands, whichever replica wrote it).
    if let (Some(x), Some(router)) = (
        list.experiment.as_ref().filter(|x| x.first),
        state
            .serving
            .as_ref()
            .and_then(|s| s.experiments().cloned()),
    ) {
        let exposure = attune_store::Exposure {
            experiment: x.name.clone(),
            phase: x.phase,
            user_key: user.to_string(),
            variant: x.variant.clone(),
            at_micros: chrono::Utc::now().timestamp_micros(),
        };
        let app = app.to_string();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = router.record_exposure(&app, &exposure) {
                tracing::warn!(app, experiment = exposure.experiment, error = %e, "exposure not recorded");
            }
        });
    }
}

/// `GET /v1/users/{id}/recommendations`.
pub(super) async fn for_user(
    State(state): State<AppState>,
    App(app): App,
    id: IdPath,
    params: Params,
) -> Result<Response, Problem> {
    let user = id.check("user_id", state.max_id_len())?;
    let engine = serving(&state)?;
    let req = request_of(&params, engine.config().max_n)?;
    let (a, u) = (app.clone(), user.clone());
    let started = std::time::Instant::now();
    let list = run(move |allow| engine.recommend(&a, &u, &req, allow)).await?;
    let latency = started.elapsed();
    record_cache(&state, &app, &list);
    log(&state, &app, &user, &list, latency);
    Ok(list_response(&list, Some(&user)))
}

/// Metrics of one served list: the cache lookup, and its segment when serving by segment.
fn record_cache(state: &AppState, app: &str, list: &RecList) {
    state.metrics.cache_lookup("recommendations", list.cached);
    if let Some(segment) = &list.segment {
        state.metrics.segment_list(app, segment, list.model_version);
    }
}

/// The body of `POST /v1/recommendations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    users: Vec<String>,
    #[serde(default = "ten")]
    n: usize,
    #[serde(default)]
    offset: usize,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default = "yes")]
    exclude_seen: bool,
    #[serde(default = "yes")]
    available_only: bool,
    #[serde(default)]
    diversity: Option<f32>,
    #[serde(default)]
    strength: Option<f32>,
}

fn ten() -> usize {
    10
}
fn yes() -> bool {
    true
}

/// `POST /v1/recommendations`: lists for many users in one call (order kept).
pub(super) async fn batch(
    State(state): State<AppState>,
    App(app): App,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    let engine = serving(&state)?;
    let de = &mut serde_json::Deserializer::from_slice(&body);
    let b: BatchRequest = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        Problem::new(ErrorCode::InvalidJson, e.inner().to_string()).field(path)
    })?;
    if b.users.is_empty() || b.users.len() > MAX_BATCH_USERS {
        return Err(Problem::new(
            ErrorCode::InvalidRequest,
            format!(
                "users must list 1 to {MAX_BATCH_USERS} user ids, got {}",
                b.users.len()
            ),
        )
        .field("users"));
    }
    for (i, u) in b.users.iter().enumerate() {
        attune_core::event::check_id(&format!("users[{i}]"), u, state.max_id_len())
            .map_err(Problem::invalid_field)?;
    }
    let req = RecRequest {
        n: b.n,
        offset: b.offset,
        categories: b.categories,
        exclude_seen: b.exclude_seen,
        available_only: b.available_only,
        diversity: b.diversity,
        strength: b.strength,
    };
    let users = Arc::new(b.users);
    let (a, us) = (app.clone(), users.clone());
    let started = std::time::Instant::now();
    let lists = run(move |allow| {
        us.iter()
            .map(|u| engine.recommend(&a, u, &req, allow))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    // Lists of a batch are computed together: each is logged with its share of the time.
    let latency = started.elapsed() / lists.len().max(1) as u32;
    #[derive(Serialize)]
    struct Results<'a> {
        results: Vec<ListBody<'a>>,
    }
    let results = users
        .iter()
        .zip(&lists)
        .map(|(u, l)| {
            record_cache(&state, &app, l);
            log(&state, &app, u, l, latency);
            ListBody::of(l, Some(u))
        })
        .collect();
    Ok(Json(Results { results }).into_response())
}

/// `GET /v1/items/{id}/similar`.
pub(super) async fn similar(
    State(state): State<AppState>,
    App(app): App,
    id: IdPath,
    params: Params,
) -> Result<Response, Problem> {
    let item = id.check("item_id", state.max_id_len())?;
    let engine = serving(&state)?;
    let req = request_of(&params, engine.config().max_n)?;
    let list = run(move |allow| engine.similar(&app, &item, &req, allow)).await?;
    Ok(list_response(&list, None))
}

/// `GET /v1/popular`.
pub(super) async fn popular(
    State(state): State<AppState>,
    App(app): App,
    params: Params,
) -> Result<Response, Problem> {
    let engine = serving(&state)?;
    let req = request_of(&params, engine.config().max_n)?;
    let list = run(move |allow| engine.popular(&app, &req, allow)).await?;
    Ok(list_response(&list, None))
}

/// `GET /v1/trending`.
pub(super) async fn trending(
    State(state): State<AppState>,
    App(app): App,
    params: Params,
) -> Result<Response, Problem> {
    let engine = serving(&state)?;
    let req = request_of(&params, engine.config().max_n)?;
    let list = run(move |allow| engine.trending(&app, &req, allow)).await?;
    Ok(list_response(&list, None))
}
