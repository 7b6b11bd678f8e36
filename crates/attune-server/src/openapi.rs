//! The OpenAPI 3.1 document served at `GET /v1/openapi.json`.
//!
//! Hand-maintained (`openapi.json` beside `Cargo.toml`) rather than derived: the wire formats
//! are decoded by hand in `api.rs` (for field-path error messages), so there are no DTO structs
//! to derive schemas from, and a parallel set of structs kept only for a derive would drift just
//! the same. Drift is caught by tests instead: the document must list exactly the routes of the
//! route table with the same access rule (below), and `tests/http/openapi.rs` sends every request
//! example in it to the real router and expects a 2xx.

/// The document, compiled in.
pub const DOCUMENT: &str = include_str!("../openapi.json");

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::DOCUMENT;
    use crate::auth::Access;

    fn doc() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is valid JSON")
    }

    fn access_tag(a: Access) -> String {
        match a {
            Access::Open => "open".into(),
            Access::Metrics => "metrics".into(),
            Access::App(s) => format!("app:{}", s.as_str()),
            Access::AllApps(s) => format!("all-apps:{}", s.as_str()),
        }
    }

    const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

    #[test]
    fn document_lists_exactly_the_route_table_with_its_access_rules() {
        let doc = doc();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                assert!(METHODS.contains(&method.as_str()), "{path}: {method}");
                let access = op["x-attune-access"].as_str().unwrap_or("");
                documented.insert((method.to_uppercase(), path.clone(), access.to_string()));
            }
        }
        let routed: BTreeSet<_> = crate::route_table()
            .iter()
            .map(|r| {
                (
                    r.method.as_str().to_string(),
                    r.path.to_string(),
                    access_tag(r.access),
                )
            })
            .collect();
        let missing: Vec<_> = routed.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&routed).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "routes not (or differently) documented: {missing:?}; documented but not routed (or with another access rule): {extra:?}"
        );
    }

    #[test]
    fn security_and_app_header_follow_the_access_rule() {
        let doc = doc();
        let mut operation_ids = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap();
                assert!(operation_ids.insert(id.to_string()), "duplicate {id}");
                let access = op["x-attune-access"].as_str().unwrap();
                let scopes: BTreeSet<&str> = op["security"]
                    .as_array()
                    .map(|reqs| {
                        reqs.iter()
                            .flat_map(|r| r.as_object().unwrap().values())
                            .flat_map(|s| s.as_array().unwrap())
                            .map(|s| s.as_str().unwrap())
                            .collect()
                    })
                    .unwrap_or_default();
                let want: BTreeSet<&str> = match access.split_once(':') {
                    Some((_, scope)) => [scope].into(),
                    None if access == "metrics" => ["admin"].into(),
                    None => BTreeSet::new(),
                };
                assert_eq!(scopes, want, "{method} {path}");
                let names_app = op["parameters"].as_array().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["$ref"] == "#/components/parameters/App")
                });
                assert_eq!(names_app, access.starts_with("app:"), "{method} {path}");
                if path.contains("{id}") {
                    let has_id = op["parameters"].as_array().unwrap().iter().any(|p| {
                        p["$ref"] == "#/components/parameters/ItemId"
                            || p["$ref"] == "#/components/parameters/UserId"
                    });
                    assert!(has_id, "{method} {path}");
                }
                let responses = op["responses"].as_object().unwrap();
                assert!(
                    responses.keys().any(|k| k.starts_with('2')),
                    "{method} {path}"
                );
                if access != "open" {
                    for code in ["401", "403"] {
                        assert!(responses.contains_key(code), "{method} {path}: {code}");
                    }
                }
            }
        }
    }

    fn collect_refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("$ref", Value::String(s)) => out.push(s),
                        _ => collect_refs(x, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves_and_every_component_is_used() {
        let doc = doc();
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(!refs.is_empty());
        for r in &refs {
            let pointer = r.strip_prefix('#').expect("local references only");
            assert!(doc.pointer(pointer).is_some(), "dangling {r}");
        }
        for kind in ["schemas", "parameters", "responses"] {
            for name in doc["components"][kind].as_object().unwrap().keys() {
                let r = format!("#/components/{kind}/{name}");
                assert!(refs.contains(&r.as_str()), "unused component {r}");
            }
        }
    }

    #[test]
    fn every_operation_documents_the_answers_of_the_limits_that_apply_to_it() {
        let doc = doc();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                let access = op["x-attune-access"].as_str().unwrap();
                // Request timeout and connection cap: any request.
                assert!(responses.contains_key("503"), "{method} {path}: 503");
                if op.get("requestBody").is_some() {
                    assert!(responses.contains_key("408"), "{method} {path}: 408");
                }
                let limited = access == "app:ingest" || access == "app:read";
                assert_eq!(
                    responses.contains_key("429"),
                    limited,
                    "{method} {path}: 429 is documented exactly where rate limits apply"
                );
            }
        }
    }

    #[test]
    fn problem_codes_match_the_error_table() {
        let doc = doc();
        let documented: BTreeSet<&str> = doc["components"]["schemas"]["Problem"]["properties"]
            ["code"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let table: BTreeSet<&str> = crate::problem::ErrorCode::ALL
            .iter()
            .map(|c| c.as_str())
            .collect();
        assert_eq!(documented, table);
    }
}
