//! The dashboard (`GET /ui`, `GET /ui/{file}`): a single page of plain JavaScript modules and
//! CSS from `web/ui/`, compiled into the binary like the tracker (`web.rs`), so it needs no
//! asset directory, no CDN and no network beyond this server.
//!
//! The files are open: they hold code, never data. Every figure the page shows comes from the
//! JSON API, called with the key the operator types in, so with `auth.required` the shell
//! loads and shows nothing but a key prompt until a key is given.

use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::problem::{ErrorCode, Problem};

/// A compiled-in file of the dashboard.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_str!(concat!("../../../../web/ui/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file under `web/ui/` but the page itself (a file not listed here is not served).
const ASSETS: &[Asset] = &[
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("charts.js", JS),
    asset!("page-apps.js", JS),
    asset!("page-profile.js", JS),
    asset!("page-models.js", JS),
    asset!("page-experiments.js", JS),
    asset!("page-monitoring.js", JS),
    asset!("page-fairness.js", JS),
    asset!("page-explorer.js", JS),
];

/// The shell: navigation, the key prompt and an empty main element.
const INDEX_HTML: &str = include_str!("../../../../web/ui/index.html");

/// `no-cache`: a browser revalidates, so a new binary's dashboard is used at once.
fn respond(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /ui`: the dashboard's page.
pub(super) async fn index() -> Response {
    respond("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /ui/{file}`: one of its scripts or its style sheet.
pub(super) async fn asset(Path(file): Path<String>) -> Result<Response, Problem> {
    ASSETS
        .iter()
        .find(|a| a.name == file)
        .map(|a| respond(a.content_type, a.body))
        .ok_or_else(|| {
            Problem::new(
                ErrorCode::NotFound,
                format!("no dashboard file {file:?}; the dashboard is at /ui"),
            )
            .field("path")
        })
}
