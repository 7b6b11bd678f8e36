//! What a browser loads: `/v1/tracker.js` (open even when keys are required, cacheable,
//! revalidated by ETag) and `/demo` (only when the binary gave a page).

use attune_server::ServerConfig;
use axum::http::{Method, StatusCode};

use crate::common::{api_key, keys_required, TestServer};

fn required_auth() -> ServerConfig {
    keys_required(&[api_key("ops", "ops-key-0000000000001", &["admin"], &["*"])])
}

#[tokio::test]
async fn the_tracker_is_served_without_a_key_as_javascript_with_cache_headers() {
    let t = TestServer::with_config(required_auth());
    let r = t.default_app().get("/v1/tracker.js").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("content-type"), "text/javascript; charset=utf-8");
    assert_eq!(r.header("cache-control"), "public, max-age=3600");
    assert!(r.text.contains("root.attune = api"), "the tracker source");
    let etag = r.header("etag").to_string();
    assert!(etag.starts_with('"') && etag.len() == 18, "{etag}");

    let again = t
        .default_app()
        .send(
            Method::GET,
            "/v1/tracker.js",
            &[("if-none-match", &etag)],
            None,
            "",
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(again.header("etag"), etag);
    assert!(again.text.is_empty());

    let stale = t
        .default_app()
        .send(
            Method::GET,
            "/v1/tracker.js",
            &[("if-none-match", "\"0000000000000000\"")],
            None,
            "",
        )
        .await;
    assert_eq!(stale.status, StatusCode::OK);
}

#[tokio::test]
async fn the_demo_page_is_served_only_when_given() {
    let plain = TestServer::new();
    let r = plain.default_app().get("/demo").await;
    r.assert_problem(404, "not_found", Some("path"));
    assert!(r.text.contains("attune demo"), "{}", r.text);

    let page = "<!doctype html><title>shop</title>";
    let demo = TestServer::with_state(|s, _, _| s.with_demo_page(page));
    let r = demo.default_app().get("/demo").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(r.text, page);
}
