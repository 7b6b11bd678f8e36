//! Route table and the handlers, one module per resource.
//!
//! Handlers are thin: extract (every failure a problem), hand the work to the blocking pool
//! with [`blocking`], render JSON. Decoding and validating a batch happens inside the blocking
//! task together with the store call, so a 16 MiB body never stalls an async worker.

use axum::routing::{get, post, put};
use axum::Router;

use crate::problem::{ErrorCode, Problem};
use crate::AppState;

mod events;
mod items;
mod system;
mod users;

/// Every route, with the problem+json fallback for unknown paths.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(system::health))
        .route("/ready", get(system::ready))
        .route("/v1/apps", get(system::list_apps).post(system::create_app))
        .route("/v1/events", post(events::ingest))
        .route("/v1/identify", post(users::identify))
        .route("/v1/items", get(items::list).post(items::bulk_upsert))
        .route(
            "/v1/items/{id}",
            put(items::put).get(items::get).delete(items::delete),
        )
        .route(
            "/v1/users/{id}",
            put(users::put).get(users::get).delete(users::delete),
        )
        .route("/v1/users/{id}/events", get(users::events))
        .fallback(not_found)
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
