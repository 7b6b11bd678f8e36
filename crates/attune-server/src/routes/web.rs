//! What a browser loads from attune rather than calls: the tracker script (`GET
//! /v1/tracker.js`) and, when the binary runs `attune demo`, the demo shop page (`GET /demo`).
//!
//! Both are compiled in, so the server needs no asset directory and a page works offline. The
//! script's `ETag` is a hash of its bytes computed at compile time: browsers revalidate it
//! after an hour (`max-age`) and get a 304 until the binary ships another tracker.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::problem::{ErrorCode, Problem};
use crate::AppState;

/// The tracker, `web/tracker/attune.js` of the repository (an npm package with its tests).
pub(crate) const TRACKER_JS: &str = include_str!("../../../../web/tracker/attune.js");

/// FNV-1a of the tracker's bytes: a strong validator that changes with any byte.
const TRACKER_HASH: u64 = fnv1a(TRACKER_JS.as_bytes());

const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

fn tracker_etag() -> String {
    format!("\"{TRACKER_HASH:016x}\"")
}

/// Whether an `If-None-Match` header names `etag` (or is `*`).
fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

/// `GET /v1/tracker.js`: the tracker, cacheable for an hour and revalidated by `ETag`. Open:
/// a script tag sends no key.
pub(super) async fn tracker(headers: HeaderMap) -> Response {
    let etag = tracker_etag();
    let common = [
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        ),
        (
            header::ETAG,
            HeaderValue::from_str(&etag).expect("hex digits in quotes"),
        ),
    ];
    if matches(&headers, &etag) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        StatusCode::OK,
        common,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        )],
        TRACKER_JS,
    )
        .into_response()
}

/// `GET /demo`: the demo shop page given by [`AppState::with_demo_page`] (`attune demo` does);
/// 404 on a server started otherwise.
pub(super) async fn demo(State(state): State<AppState>) -> Result<Response, Problem> {
    let Some(html) = state.demo_page else {
        return Err(Problem::new(
            ErrorCode::NotFound,
            "no demo page here: it is served by `attune demo`",
        )
        .field("path"));
    };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        html,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let etag = tracker_etag();
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
            h
        };
        assert!(matches(&with(&etag), &etag));
        assert!(matches(&with(&format!("\"x\", W/{etag}")), &etag));
        assert!(matches(&with("*"), &etag));
        assert!(!matches(&with("\"other\""), &etag));
        assert!(!matches(&HeaderMap::new(), &etag));
    }
}
