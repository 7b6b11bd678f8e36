//! Route table and the handlers, one module per resource.
//!
//! Handlers are thin: extract (every failure a problem), hand the work to the blocking pool
//! with [`blocking`], render JSON. Decoding and validating a batch happens inside the blocking
//! task together with the store call, so a 16 MiB body never stalls an async worker.

use std::sync::OnceLock;

use axum::http::Method;
use axum::routing::{delete, get, post, put, MethodRouter};
use axum::Router;

use crate::auth::{Access, Scope};
use crate::problem::{ErrorCode, Problem};
use crate::AppState;

mod alerts;
mod drift;
mod events;
mod experiments;
mod items;
mod models;
mod profile;
mod quality;
pub(crate) mod recommend;
mod system;
mod ui;
mod users;
mod web;

/// One route of the API: method, path template, who may call it, handler.
struct Route {
    method: Method,
    path: &'static str,
    access: Access,
    handler: MethodRouter<AppState>,
}

fn route(
    method: Method,
    path: &'static str,
    access: Access,
    handler: MethodRouter<AppState>,
) -> Route {
    Route {
        method,
        path,
        access,
        handler,
    }
}

/// THE route table. The router, the access rules and the OpenAPI drift test all read it, so a
/// route cannot exist without a declared [`Access`] nor be missing from the document.
fn table() -> Vec<Route> {
    use Access::{AllApps, App, Metrics, Open};
    use Scope::{Admin, Ingest, Read};
    vec![
        route(Method::GET, "/health", Open, get(system::health)),
        route(Method::GET, "/ready", Open, get(system::ready)),
        route(Method::GET, "/metrics", Metrics, get(system::metrics)),
        route(Method::GET, "/v1/openapi.json", Open, get(system::openapi)),
        route(Method::GET, "/v1/tracker.js", Open, get(web::tracker)),
        route(Method::GET, "/demo", Open, get(web::demo)),
        route(Method::GET, "/ui", Open, get(ui::index)),
        route(Method::GET, "/ui/{file}", Open, get(ui::asset)),
        route(
            Method::GET,
            "/v1/apps",
            AllApps(Admin),
            get(system::list_apps),
        ),
        route(
            Method::POST,
            "/v1/apps",
            AllApps(Admin),
            post(system::create_app),
        ),
        route(
            Method::POST,
            "/v1/events",
            App(Ingest),
            post(events::ingest),
        ),
        route(
            Method::POST,
            "/v1/identify",
            App(Ingest),
            post(users::identify),
        ),
        route(Method::GET, "/v1/profile", App(Read), get(profile::profile)),
        route(Method::GET, "/v1/items", App(Read), get(items::list)),
        route(
            Method::POST,
            "/v1/items",
            App(Admin),
            post(items::bulk_upsert),
        ),
        route(Method::GET, "/v1/items/{id}", App(Read), get(items::get)),
        route(Method::PUT, "/v1/items/{id}", App(Admin), put(items::put)),
        route(
            Method::DELETE,
            "/v1/items/{id}",
            App(Admin),
            delete(items::delete),
        ),
        route(Method::GET, "/v1/users/{id}", App(Read), get(users::get)),
        route(Method::PUT, "/v1/users/{id}", App(Admin), put(users::put)),
        route(
            Method::DELETE,
            "/v1/users/{id}",
            App(Admin),
            delete(users::delete),
        ),
        route(
            Method::GET,
            "/v1/users/{id}/events",
            App(Read),
            get(users::events),
        ),
        route(
            Method::PUT,
            "/v1/users/{id}/consent",
            App(Ingest),
            put(users::consent),
        ),
        route(
            Method::GET,
            "/v1/users/{id}/recommendations",
            App(Read),
            get(recommend::for_user),
        ),
        route(
            Method::POST,
            "/v1/recommendations",
            App(Read),
            post(recommend::batch),
        ),
        route(
            Method::GET,
            "/v1/items/{id}/similar",
            App(Read),
            get(recommend::similar),
        ),
        route(
            Method::GET,
            "/v1/popular",
            App(Read),
            get(recommend::popular),
        ),
        route(
            Method::GET,
            "/v1/trending",
            App(Read),
            get(recommend::trending),
        ),
        route(Method::GET, "/v1/models", App(Admin), get(models::list)),
        route(
            Method::POST,
            "/v1/models/train",
            App(Admin),
            post(models::train),
        ),
        route(
            Method::GET,
            "/v1/models/jobs/{job_id}",
            App(Admin),
            get(models::job),
        ),
        route(
            Method::GET,
            "/v1/models/rollouts",
            App(Admin),
            get(models::rollouts),
        ),
        route(
            Method::POST,
            "/v1/models/rollback",
            App(Admin),
            post(models::rollback),
        ),
        route(
            Method::POST,
            "/v1/models/{version}/activate",
            App(Admin),
            post(models::activate),
        ),
        route(
            Method::GET,
            "/v1/experiments",
            App(Admin),
            get(experiments::list),
        ),
        route(
            Method::POST,
            "/v1/experiments",
            App(Admin),
            post(experiments::create),
        ),
        route(
            Method::GET,
            "/v1/experiments/{name}",
            App(Admin),
            get(experiments::get),
        ),
        route(
            Method::PUT,
            "/v1/experiments/{name}",
            App(Admin),
            put(experiments::update),
        ),
        route(
            Method::POST,
            "/v1/experiments/{name}/start",
            App(Admin),
            post(experiments::start),
        ),
        route(
            Method::POST,
            "/v1/experiments/{name}/stop",
            App(Admin),
            post(experiments::stop),
        ),
        route(
            Method::POST,
            "/v1/experiments/{name}/bandit",
            App(Admin),
            post(experiments::bandit),
        ),
        route(
            Method::GET,
            "/v1/monitor/quality",
            App(Read),
            get(quality::quality),
        ),
        route(
            Method::GET,
            "/v1/monitor/drift",
            App(Read),
            get(drift::drift),
        ),
        route(
            Method::GET,
            "/v1/fairness",
            App(Read),
            get(quality::fairness),
        ),
        route(
            Method::GET,
            "/v1/monitor/series",
            App(Read),
            get(quality::series),
        ),
        route(
            Method::GET,
            "/v1/outcomes",
            App(Read),
            get(experiments::outcomes),
        ),
        route(
            Method::GET,
            "/v1/experiments/{name}/results",
            App(Admin),
            get(experiments::results),
        ),
        route(Method::GET, "/v1/alerts", App(Admin), get(alerts::list)),
        route(
            Method::GET,
            "/v1/alerts/rules",
            App(Admin),
            get(alerts::rules),
        ),
    ]
}

/// Every route, with the problem+json fallback for unknown paths.
pub(crate) fn routes() -> Router<AppState> {
    table()
        .into_iter()
        .fold(Router::new(), |r, route| r.route(route.path, route.handler))
        .fallback(not_found)
}

/// A route as published by [`crate::route_table`]: method, path template and access rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// The HTTP method (`GET` routes also answer `HEAD`).
    pub method: Method,
    /// The path template, as matched (`/v1/items/{id}`).
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

/// The route table without its handlers, built once.
pub(crate) fn infos() -> &'static [RouteInfo] {
    static INFOS: OnceLock<Vec<RouteInfo>> = OnceLock::new();
    INFOS.get_or_init(|| {
        table()
            .into_iter()
            .map(|r| RouteInfo {
                method: r.method,
                path: r.path,
                access: r.access,
            })
            .collect()
    })
}

/// The access rule of `method` on the matched template `path` (`HEAD` as `GET`); `None` when
/// the route does not take this method (the router answers 405).
pub(crate) fn access(method: &Method, path: &str) -> Option<Access> {
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    infos()
        .iter()
        .find(|r| r.method == method && r.path == path)
        .map(|r| r.access)
}

async fn not_found(uri: axum::http::Uri) -> Problem {
    Problem::new(
        ErrorCode::NotFound,
        format!("no route for {}; the API lives under /v1", uri.path()),
    )
    .field("path")
}

/// Run blocking work (store calls, batch decoding) on tokio's blocking pool.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, Problem>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, Problem> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(Problem::internal("a request task failed", &e)),
    }
}
