//! The dashboard's files: `/ui` and every file of `web/ui/` served open, with its content
//! type, from the binary; nothing in them points outside this server (it works offline).

use axum::http::StatusCode;

use crate::common::{api_key, keys_required, TestServer};

/// Keys required: the files must still load (they hold code, never data).
fn required_auth() -> TestServer {
    TestServer::with_config(keys_required(&[api_key(
        "ops",
        "ops-key-0000000000001",
        &["admin"],
        &["*"],
    )]))
}

/// Every file of `web/ui/` with its name, read from the repository.
fn files_on_disk() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/ui");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn every_dashboard_file_is_served_without_a_key_with_its_content_type() {
    let t = required_auth();
    let files = files_on_disk();
    assert!(files.len() >= 10, "{files:?}");
    for (name, source) in &files {
        let (path, want) = match name.rsplit_once('.').map(|(_, ext)| ext) {
            Some("html") => ("/ui".to_string(), "text/html; charset=utf-8"),
            Some("js") => (format!("/ui/{name}"), "text/javascript; charset=utf-8"),
            Some("css") => (format!("/ui/{name}"), "text/css; charset=utf-8"),
            other => panic!("an unexpected file type in web/ui: {name} ({other:?})"),
        };
        let r = t.default_app().get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        assert_eq!(r.header("content-type"), want, "{path}");
        assert_eq!(r.header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(&r.text, source, "{path} is the repository's file");
    }
    // Unlike the files, the data needs the key.
    let r = t.default_app().get("/v1/profile").await;
    r.assert_problem(401, "unauthorized", None);
}

#[tokio::test]
async fn the_dashboard_refers_to_nothing_outside_this_server() {
    for (name, source) in files_on_disk() {
        // The SVG namespace is a name, never fetched; any other absolute URL would be.
        let rest = source.replace("http://www.w3.org/2000/svg", "");
        for needle in [
            "http://",
            "https://",
            "src=\"//",
            "href=\"//",
            "url(",
            "@import",
        ] {
            assert!(!rest.contains(needle), "{name} contains {needle:?}");
        }
        // Scripts import only their siblings, which the server serves (previous test).
        for line in source.lines().filter(|l| l.starts_with("import ")) {
            assert!(line.contains("from './"), "{name}: {line}");
        }
    }
    let html = TestServer::new().default_app().get("/ui").await.text;
    assert!(html.contains(r#"<script type="module" src="/ui/app.js">"#));
    assert!(
        html.contains(r#"<link rel="icon" href="data:,">"#),
        "no favicon request"
    );
}

#[tokio::test]
async fn an_unknown_dashboard_file_is_a_problem() {
    let t = TestServer::new();
    let r = t.default_app().get("/ui/secrets.json").await;
    r.assert_problem(404, "not_found", Some("path"));
    assert!(r.text.contains("/ui"), "{}", r.text);
}
