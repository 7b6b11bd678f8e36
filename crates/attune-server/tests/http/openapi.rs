//! `/v1/openapi.json` against the real router: it parses, every documented operation is routed
//! (not 404 `not_found`, not 405), and every request example in it is accepted.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::common::TestServer;

#[tokio::test]
async fn the_document_is_served_and_every_operation_is_routed() {
    // With every optional page, so `/demo` (404 without one) answers as it is documented.
    let t = TestServer::with_state(|s, _, _| s.with_demo_page("<!doctype html>"));
    let r = t.default_app().get("/v1/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type(), "application/json");
    assert_eq!(r.body["openapi"], "3.1.0");
    let paths = r.body["paths"].as_object().unwrap();
    let mut n_ops = 0;
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            n_ops += 1;
            let concrete = path.replace("{id}", "probe-1").replace("{file}", "app.js");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = t
                .default_app()
                .request(method.clone(), &concrete, None, "")
                .await;
            let code = res.body["code"].as_str().unwrap_or("");
            assert!(
                code != "not_found" && code != "method_not_allowed",
                "{method} {path} is documented but not routed: {}",
                res.text
            );
        }
    }
    assert_eq!(n_ops, attune_server::route_table().len());
}

#[tokio::test]
async fn every_request_example_is_accepted() {
    let t = TestServer::new();
    let doc: Value = serde_json::from_str(attune_server::OPENAPI_DOCUMENT).unwrap();
    // Apps first (the others use the default app), then writes before the calls that rely on
    // them (identify after events).
    let order = [
        "/v1/apps",
        "/v1/items",
        "/v1/items/{id}",
        "/v1/users/{id}",
        "/v1/events",
        "/v1/identify",
    ];
    let mut n_examples = 0;
    for path in order {
        for (method, op) in doc["paths"][path].as_object().unwrap() {
            let Some(example) = op["requestBody"]["content"]["application/json"].get("example")
            else {
                continue;
            };
            n_examples += 1;
            let concrete = path.replace("{id}", "SKU-1001-RED");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = t
                .default_app()
                .request(
                    method.clone(),
                    &concrete,
                    Some("application/json"),
                    example.to_string(),
                )
                .await;
            assert!(
                r.status.is_success(),
                "{method} {path} example refused: {}",
                r.text
            );
        }
    }
    assert_eq!(n_examples, 6);
}

/// Every array schema describes its elements with one schema object (`items`), never with
/// `prefixItems` tuples: schemathesis (the API conformance run, `scripts/schemathesis.sh`)
/// refused the whole `GET /v1/monitor/quality` operation over a `prefixItems` pair, so the
/// document states the pair as `items` of both types with `minItems = maxItems = 2`.
#[test]
fn array_schemas_use_a_single_items_schema() {
    fn walk(v: &Value, path: &str, bad: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if m.contains_key("prefixItems") {
                    bad.push(format!("{path}: prefixItems"));
                }
                if m.get("type") == Some(&Value::String("array".into()))
                    && !m.get("items").is_some_and(Value::is_object)
                {
                    bad.push(format!("{path}: an array without an items schema"));
                }
                for (k, x) in m {
                    walk(x, &format!("{path}/{k}"), bad);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, &format!("{path}/{i}"), bad);
                }
            }
            _ => {}
        }
    }
    let doc: Value = serde_json::from_str(attune_server::OPENAPI_DOCUMENT).unwrap();
    let mut bad = Vec::new();
    walk(&doc, "", &mut bad);
    assert!(bad.is_empty(), "{bad:#?}");
}
