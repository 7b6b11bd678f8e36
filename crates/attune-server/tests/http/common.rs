//! The in-process harness: one temp SQLite store per test, the real router driven with
//! `oneshot`, and snapshots of everything an app holds (to prove a rejected request changed
//! nothing).

use std::sync::Arc;

use attune_server::api::{event_to_json, item_to_json, user_to_json};
use attune_server::{router, ApiKeySpec, AppState, AuthConfig, ServerConfig};
use attune_store::sqlite::SqliteStore;
use attune_store::{AppCounts, EventFilter, Store};
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

/// A router over a fresh store in its own temp directory.
pub struct TestServer {
    pub store: Arc<SqliteStore>,
    pub router: axum::Router,
    /// The pipeline, for servers made by [`TestServer::with_pipeline`].
    pub pipeline: Option<Arc<attune_pipeline::Pipeline>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub fn new() -> Self {
        Self::with_config(ServerConfig::default())
    }

    pub fn with_config(config: ServerConfig) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(SqliteStore::open(dir.path().join("attune.db")).expect("open store"));
        let state = AppState::new(store.clone(), config);
        Self {
            store,
            router: router(state),
            pipeline: None,
            _dir: dir,
        }
    }

    /// A router that serves and trains: the serving engine and the training pipeline over it,
    /// in this process, with artifacts in the test's temp directory.
    pub fn with_pipeline() -> Self {
        Self::with_pipeline_serving(attune_serving::ServingConfig::default())
    }

    /// [`TestServer::with_pipeline`] with the engine's settings.
    pub fn with_pipeline_serving(serving: attune_serving::ServingConfig) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(SqliteStore::open(dir.path().join("attune.db")).expect("open store"));
        Self::serving_over(dir, store, serving, ServerConfig::default())
    }

    /// [`TestServer::with_pipeline`] with the server's settings.
    pub fn with_pipeline_config(config: ServerConfig) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(SqliteStore::open(dir.path().join("attune.db")).expect("open store"));
        Self::serving_over(dir, store, attune_serving::ServingConfig::default(), config)
    }

    /// The same data directory and store behind a new engine and pipeline: what a restarted
    /// server sees (nothing loaded yet).
    pub fn restart(self) -> Self {
        let TestServer { store, _dir, .. } = self;
        Self::serving_over(
            _dir,
            store,
            attune_serving::ServingConfig::default(),
            ServerConfig::default(),
        )
    }

    fn serving_over(
        dir: tempfile::TempDir,
        store: Arc<SqliteStore>,
        serving: attune_serving::ServingConfig,
        config: ServerConfig,
    ) -> Self {
        let experiments =
            attune_experiment::Router::new(store.clone(), std::time::Duration::from_secs(5));
        let engine = attune_serving::Serving::new(
            store.clone(),
            dir.path(),
            serving,
            attune_core::event::EventWeighting::default(),
        )
        .with_experiments(Arc::new(experiments));
        let pipeline = Arc::new(attune_pipeline::Pipeline::new(
            Arc::new(engine),
            attune_pipeline::PipelineConfig::default(),
        ));
        let state = AppState::new(store.clone(), config).with_pipeline(pipeline.clone());
        Self {
            store,
            router: router(state),
            pipeline: Some(pipeline),
            _dir: dir,
        }
    }

    /// A router over a fresh store whose state `build` completes (a pipeline, alert rules,
    /// ...), given the state, the store and the temp directory.
    pub fn with_state(
        build: impl FnOnce(AppState, Arc<SqliteStore>, &std::path::Path) -> AppState,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(SqliteStore::open(dir.path().join("attune.db")).expect("open store"));
        let state = build(
            AppState::new(store.clone(), ServerConfig::default()),
            store.clone(),
            dir.path(),
        );
        Self {
            store,
            pipeline: state.pipeline.clone(),
            router: router(state),
            _dir: dir,
        }
    }

    /// The server's data directory (store and model artifacts).
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// Requests to the `default` app (no header).
    pub fn default_app(&self) -> Client<'_> {
        Client {
            server: self,
            app: None,
        }
    }

    /// Requests naming `app` in `X-Attune-App`.
    pub fn app(&self, app: &str) -> Client<'_> {
        Client {
            server: self,
            app: Some(app.to_string()),
        }
    }

    /// Create an app through the API.
    pub async fn create_app(&self, name: &str) {
        let r = self
            .default_app()
            .post_json("/v1/apps", &json!({"name": name}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }

    /// Everything `app` holds, read straight from the store.
    pub fn snapshot(&self, app: &str) -> Snapshot {
        let mut events = Vec::new();
        self.store
            .scan_events(app, &EventFilter::default(), &mut |e| {
                events.push(event_to_json(&e));
                true
            })
            .unwrap();
        let mut items = Vec::new();
        self.store
            .scan_items(app, &mut |i| {
                items.push(item_to_json(&i));
                true
            })
            .unwrap();
        let mut users = Vec::new();
        self.store
            .scan_users(app, &mut |u| {
                users.push(user_to_json(&u));
                true
            })
            .unwrap();
        Snapshot {
            counts: self.store.counts(app).unwrap(),
            events,
            items,
            users,
        }
    }
}

/// Everything one app holds.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub counts: AppCounts,
    pub events: Vec<Value>,
    pub items: Vec<Value>,
    pub users: Vec<Value>,
}

pub struct Client<'a> {
    server: &'a TestServer,
    app: Option<String>,
}

/// A response with its body read (parsed as JSON when it is JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Resp {
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Assert this is a problem+json with `status`, `code` and (if given) `field`.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str, field: Option<&str>) {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "{}",
            self.text
        );
        assert_eq!(self.body["status"], status, "{}", self.text);
        assert_eq!(self.body["code"], code, "{}", self.text);
        assert_eq!(
            self.body["type"],
            format!("https://attune.dev/problems/{code}"),
            "{}",
            self.text
        );
        assert!(
            self.body["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{}",
            self.text
        );
        assert!(
            self.body["detail"].as_str().is_some_and(|t| !t.is_empty()),
            "{}",
            self.text
        );
        assert!(
            self.body["instance"]
                .as_str()
                .is_some_and(|t| t.starts_with('/')),
            "{}",
            self.text
        );
        if let Some(field) = field {
            assert_eq!(self.body["field"], field, "{}", self.text);
        }
    }
}

impl Resp {
    /// Read a whole response.
    pub async fn read<B>(res: axum::http::Response<B>) -> Resp
    where
        B: axum::body::HttpBody,
        B::Error: std::fmt::Debug,
    {
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            body,
        }
    }

    /// A header as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl Client<'_> {
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> Resp {
        self.send(method, path, &[], content_type, body).await
    }

    /// A request with extra headers (`authorization`, `origin`, ...).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(app) = &self.app {
            req = req.header("x-attune-app", app);
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(body.into()).unwrap();
        let res = self.server.router.clone().oneshot(req).await.unwrap();
        Resp::read(res).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.request(Method::GET, path, None, Body::empty()).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.request(Method::DELETE, path, None, Body::empty())
            .await
    }

    pub async fn post_json(&self, path: &str, v: &Value) -> Resp {
        self.request(Method::POST, path, Some("application/json"), v.to_string())
            .await
    }

    pub async fn put_json(&self, path: &str, v: &Value) -> Resp {
        self.request(Method::PUT, path, Some("application/json"), v.to_string())
            .await
    }

    pub async fn post_ndjson(&self, path: &str, lines: &[Value]) -> Resp {
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        self.request(Method::POST, path, Some("application/x-ndjson"), body)
            .await
    }

    /// POST events and assert every one was accepted.
    pub async fn ingest_ok(&self, events: &Value) -> Resp {
        let r = self.post_json("/v1/events", events).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["rejected"], 0, "{}", r.text);
        r
    }
}

/// A small shop: SKUs with categories and prices.
/// An API key given in clear (not by hash) with `scopes` on `apps` (`*`: every app).
pub fn api_key(name: &str, key: &str, scopes: &[&str], apps: &[&str]) -> ApiKeySpec {
    ApiKeySpec {
        name: name.into(),
        key: Some(key.into()),
        key_sha256: None,
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        apps: apps.iter().map(|s| s.to_string()).collect(),
    }
}

/// The default server settings with keys required and these keys (metrics open).
pub fn keys_required(keys: &[ApiKeySpec]) -> ServerConfig {
    ServerConfig {
        auth: AuthConfig::new(true, false, keys).unwrap(),
        ..ServerConfig::default()
    }
}

pub fn shop_items() -> Value {
    json!([
        {"item_id": "SKU-1001-RED", "title": "Trail runner, red", "categories": ["shoes", "running"],
         "tags": ["waterproof"], "attributes": {"price": 129.9, "brand": "Fjell"},
         "published_at": "2026-02-01T08:00:00Z", "available": true},
        {"item_id": "SKU-1002-BLK", "title": "Trail runner, black", "categories": ["shoes", "running"],
         "attributes": {"price": 129.9, "brand": "Fjell"}, "available": true},
        {"item_id": "SKU-2040", "title": "Merino socks (3 pack)", "categories": ["apparel", "socks"],
         "attributes": {"price": 24.5, "brand": "Ullvik", "pack": 3}, "available": true},
        {"item_id": "SKU-3300", "title": "Headlamp 400 lm", "categories": ["gear", "lighting"],
         "attributes": {"price": 49.0, "rechargeable": true}, "available": false}
    ])
}

/// One shopping session of a signed-in customer: view, dwell, scroll, cart, purchase.
pub fn session_events(user: &str, session: &str, id_prefix: &str) -> Value {
    json!([
        {"event_id": format!("{id_prefix}-1"), "type": "view", "user_id": user, "item_id": "SKU-1001-RED",
         "timestamp": "2026-11-27T18:02:11+01:00", "context": {"session_id": session, "device": "mobile", "page": "/p/SKU-1001-RED"}},
        {"event_id": format!("{id_prefix}-2"), "type": "dwell", "user_id": user, "item_id": "SKU-1001-RED",
         "timestamp": "2026-11-27T18:02:58+01:00", "properties": {"dwell_ms": 47250},
         "context": {"session_id": session, "device": "mobile"}},
        {"event_id": format!("{id_prefix}-3"), "type": "scroll", "user_id": user, "item_id": "SKU-1001-RED",
         "timestamp": "2026-11-27T18:03:01+01:00", "properties": {"scroll_depth": 0.85},
         "context": {"session_id": session, "device": "mobile"}},
        {"event_id": format!("{id_prefix}-4"), "type": "add_to_cart", "user_id": user, "item_id": "SKU-2040",
         "timestamp": "2026-11-27T18:04:40+01:00", "properties": {"price": 24.5, "quantity": 2},
         "context": {"session_id": session, "recommendation_id": "rec-77f1", "experiment": "pdp-recs", "variant": "b"}},
        {"event_id": format!("{id_prefix}-5"), "type": "purchase", "user_id": user, "item_id": "SKU-2040",
         "timestamp": "2026-11-27T18:09:05+01:00", "value": 49, "properties": {"price": 24.5, "quantity": 2, "coupon": "BF26"},
         "context": {"session_id": session, "device": "mobile"}}
    ])
}

/// A store that delegates to SQLite until `broken` is set, then fails every write and ping
/// with an error full of internals (which must not reach clients). `insert_delay_ms` makes
/// every event insert take that long (a request is then reliably in flight).
pub struct FlakyStore {
    pub inner: SqliteStore,
    pub broken: std::sync::atomic::AtomicBool,
    pub insert_delay_ms: std::sync::atomic::AtomicU64,
}

impl FlakyStore {
    pub fn open(dir: &std::path::Path) -> FlakyStore {
        FlakyStore {
            inner: SqliteStore::open(dir.join("attune.db")).expect("open store"),
            broken: Default::default(),
            insert_delay_ms: Default::default(),
        }
    }

    fn check(&self) -> attune_store::Result<()> {
        if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(attune_store::StoreError::Io {
                path: "/var/lib/attune/secret-tenant.db".into(),
                source: std::io::Error::other("disk on fire"),
            });
        }
        Ok(())
    }
}

impl Store for FlakyStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
    fn ping(&self) -> attune_store::Result<()> {
        self.check()?;
        self.inner.ping()
    }
    fn create_app(&self, app: &str) -> attune_store::Result<()> {
        self.check()?;
        self.inner.create_app(app)
    }
    fn list_apps(&self) -> attune_store::Result<Vec<String>> {
        self.inner.list_apps()
    }
    fn insert_events(
        &self,
        app: &str,
        events: &[attune_core::event::Event],
    ) -> attune_store::Result<Vec<attune_store::InsertStatus>> {
        self.check()?;
        let delay = self
            .insert_delay_ms
            .load(std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_millis(delay));
        self.inner.insert_events(app, events)
    }
    fn scan_events(
        &self,
        app: &str,
        filter: &EventFilter,
        visit: &mut dyn FnMut(attune_core::event::Event) -> bool,
    ) -> attune_store::Result<()> {
        self.inner.scan_events(app, filter, visit)
    }
    fn delete_events(
        &self,
        app: &str,
        event_type: &str,
        from_micros: i64,
        before_micros: i64,
        limit: usize,
    ) -> attune_store::Result<attune_store::DeletedEvents> {
        self.check()?;
        self.inner
            .delete_events(app, event_type, from_micros, before_micros, limit)
    }
    fn size_bytes(&self) -> attune_store::Result<u64> {
        self.check()?;
        self.inner.size_bytes()
    }
    fn nth_newest_event_ts(
        &self,
        app: &str,
        until_micros: i64,
        n: usize,
    ) -> attune_store::Result<Option<i64>> {
        self.check()?;
        self.inner.nth_newest_event_ts(app, until_micros, n)
    }
    fn upsert_items(
        &self,
        app: &str,
        items: &[attune_core::catalog::Item],
    ) -> attune_store::Result<()> {
        self.check()?;
        self.inner.upsert_items(app, items)
    }
    fn get_item(
        &self,
        app: &str,
        item_id: &str,
    ) -> attune_store::Result<Option<attune_core::catalog::Item>> {
        self.inner.get_item(app, item_id)
    }
    fn delete_item(&self, app: &str, item_id: &str) -> attune_store::Result<bool> {
        self.check()?;
        self.inner.delete_item(app, item_id)
    }
    fn scan_items(
        &self,
        app: &str,
        visit: &mut dyn FnMut(attune_core::catalog::Item) -> bool,
    ) -> attune_store::Result<()> {
        self.inner.scan_items(app, visit)
    }
    fn upsert_users(
        &self,
        app: &str,
        users: &[attune_core::catalog::User],
    ) -> attune_store::Result<()> {
        self.check()?;
        self.inner.upsert_users(app, users)
    }
    fn get_user(
        &self,
        app: &str,
        user_id: &str,
    ) -> attune_store::Result<Option<attune_core::catalog::User>> {
        self.inner.get_user(app, user_id)
    }
    fn delete_user(&self, app: &str, user_id: &str) -> attune_store::Result<attune_store::Erasure> {
        self.check()?;
        self.inner.delete_user(app, user_id)
    }
    fn dismissals(
        &self,
        app: &str,
        user_key: &str,
    ) -> attune_store::Result<Vec<(attune_core::event::Dismissal, i64)>> {
        self.check()?;
        self.inner.dismissals(app, user_key)
    }
    fn scan_users(
        &self,
        app: &str,
        visit: &mut dyn FnMut(attune_core::catalog::User) -> bool,
    ) -> attune_store::Result<()> {
        self.inner.scan_users(app, visit)
    }
    fn identify(&self, app: &str, anonymous_id: &str, user_id: &str) -> attune_store::Result<u64> {
        self.check()?;
        self.inner.identify(app, anonymous_id, user_id)
    }
    fn resolve_identity(
        &self,
        app: &str,
        anonymous_id: &str,
    ) -> attune_store::Result<Option<String>> {
        self.inner.resolve_identity(app, anonymous_id)
    }
    fn counts(&self, app: &str) -> attune_store::Result<AppCounts> {
        self.inner.counts(app)
    }
    fn reserve_model_version(&self, app: &str) -> attune_store::Result<u32> {
        self.check()?;
        self.inner.reserve_model_version(app)
    }
    fn register_model(
        &self,
        app: &str,
        version: u32,
        info: &attune_store::ModelInfo,
    ) -> attune_store::Result<attune_store::ModelRecord> {
        self.check()?;
        self.inner.register_model(app, version, info)
    }
    fn list_models(&self, app: &str) -> attune_store::Result<Vec<attune_store::ModelRecord>> {
        self.inner.list_models(app)
    }
    fn get_model(
        &self,
        app: &str,
        version: u32,
    ) -> attune_store::Result<Option<attune_store::ModelRecord>> {
        self.inner.get_model(app, version)
    }
    fn activate_model(
        &self,
        app: &str,
        version: u32,
        expected_seq: Option<u64>,
    ) -> attune_store::Result<attune_store::ActivationOutcome> {
        self.check()?;
        self.inner.activate_model(app, version, expected_seq)
    }
    fn rollback_model(
        &self,
        app: &str,
        expected_seq: Option<u64>,
    ) -> attune_store::Result<attune_store::ActivationOutcome> {
        self.check()?;
        self.inner.rollback_model(app, expected_seq)
    }
    fn active_model(&self, app: &str) -> attune_store::Result<Option<attune_store::ActiveModel>> {
        self.inner.active_model(app)
    }
    fn model_activations(&self, app: &str) -> attune_store::Result<Vec<attune_store::Activation>> {
        self.inner.model_activations(app)
    }
}

/// A server over a [`FlakyStore`].
pub fn flaky_server() -> (Arc<FlakyStore>, axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(FlakyStore::open(dir.path()));
    let router = router(AppState::new(store.clone(), ServerConfig::default()));
    (store, router, dir)
}

/// `serve` itself on a real TCP port (`127.0.0.1:0`), stopped by [`LiveServer::stop`].
pub struct LiveServer {
    pub addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl LiveServer {
    pub async fn start(store: Arc<dyn Store>, config: ServerConfig) -> LiveServer {
        let state = AppState::new(store, config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(attune_server::serve(listener, state, async move {
            let _ = stopped.await;
        }));
        LiveServer {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// A client-only handle on a server started elsewhere (for requests from spawned tasks);
    /// dropping it stops nothing.
    pub fn client_for(addr: std::net::SocketAddr) -> LiveServer {
        LiveServer {
            addr,
            stop: None,
            task: None,
        }
    }

    /// Fire the shutdown future (requests in flight go on).
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Wait (at most 10 s) until `serve` returned, and assert it returned `Ok`.
    pub async fn stopped(&mut self) {
        let task = self.task.take().expect("not awaited yet");
        tokio::time::timeout(std::time::Duration::from_secs(10), task)
            .await
            .expect("serve stops within 10 s")
            .unwrap()
            .unwrap();
    }

    /// One request on a fresh connection, with a real HTTP/1 client.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Resp {
        let stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(http_body_util::Full::new(axum::body::Bytes::from(
                body.to_string(),
            )))
            .unwrap();
        Resp::read(sender.send_request(req).await.unwrap()).await
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.request(Method::GET, path, headers, "").await
    }

    /// POST a JSON body.
    pub async fn post_json(&self, path: &str, headers: &[(&str, &str)], v: &Value) -> Resp {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        self.request(Method::POST, path, &all, &v.to_string()).await
    }

    /// PUT a JSON body.
    pub async fn put_json(&self, path: &str, headers: &[(&str, &str)], v: &Value) -> Resp {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        self.request(Method::PUT, path, &all, &v.to_string()).await
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        self.begin_shutdown();
    }
}

impl attune_store::ExperimentStore for FlakyStore {
    fn create_experiment(
        &self,
        app: &str,
        name: &str,
        layer: &str,
        definition: &str,
    ) -> attune_store::Result<attune_store::ExperimentRecord> {
        self.check()?;
        self.inner.create_experiment(app, name, layer, definition)
    }
    fn get_experiment(
        &self,
        app: &str,
        name: &str,
    ) -> attune_store::Result<Option<attune_store::ExperimentRecord>> {
        self.check()?;
        self.inner.get_experiment(app, name)
    }
    fn list_experiments(
        &self,
        app: &str,
    ) -> attune_store::Result<Vec<attune_store::ExperimentRecord>> {
        self.check()?;
        self.inner.list_experiments(app)
    }
    fn update_experiment(
        &self,
        app: &str,
        name: &str,
        definition: &str,
    ) -> attune_store::Result<attune_store::ExperimentRecord> {
        self.check()?;
        self.inner.update_experiment(app, name, definition)
    }
    fn start_experiment(
        &self,
        app: &str,
        name: &str,
        buckets: u32,
    ) -> attune_store::Result<attune_store::ExperimentRecord> {
        self.check()?;
        self.inner.start_experiment(app, name, buckets)
    }
    fn stop_experiment(
        &self,
        app: &str,
        name: &str,
    ) -> attune_store::Result<attune_store::ExperimentRecord> {
        self.check()?;
        self.inner.stop_experiment(app, name)
    }
    fn experiment_phases(
        &self,
        app: &str,
        name: &str,
    ) -> attune_store::Result<Vec<attune_store::ExperimentPhase>> {
        self.check()?;
        self.inner.experiment_phases(app, name)
    }
    fn record_exposures(
        &self,
        app: &str,
        exposures: &[attune_store::Exposure],
    ) -> attune_store::Result<u64> {
        self.check()?;
        self.inner.record_exposures(app, exposures)
    }
    fn get_exposure(
        &self,
        app: &str,
        experiment: &str,
        phase: u32,
        user_key: &str,
    ) -> attune_store::Result<Option<attune_store::Exposure>> {
        self.check()?;
        self.inner.get_exposure(app, experiment, phase, user_key)
    }
    fn scan_exposures(
        &self,
        app: &str,
        experiment: &str,
        phase: u32,
        visit: &mut dyn FnMut(attune_store::Exposure) -> bool,
    ) -> attune_store::Result<()> {
        self.check()?;
        self.inner.scan_exposures(app, experiment, phase, visit)
    }
    fn put_experiment_state(&self, app: &str, name: &str, state: &str) -> attune_store::Result<()> {
        self.check()?;
        self.inner.put_experiment_state(app, name, state)
    }
    fn get_experiment_state(
        &self,
        app: &str,
        name: &str,
    ) -> attune_store::Result<Option<(String, i64)>> {
        self.check()?;
        self.inner.get_experiment_state(app, name)
    }
}

impl attune_store::StudyStore for FlakyStore {
    fn save_study(
        &self,
        app: &str,
        study: &attune_store::StudyRecord,
    ) -> attune_store::Result<attune_store::StudyRecord> {
        self.check()?;
        self.inner.save_study(app, study)
    }
    fn load_study(
        &self,
        app: &str,
        name: &str,
    ) -> attune_store::Result<Option<attune_store::StudyRecord>> {
        self.check()?;
        self.inner.load_study(app, name)
    }
    fn list_studies(&self, app: &str) -> attune_store::Result<Vec<attune_store::StudyRecord>> {
        self.check()?;
        self.inner.list_studies(app)
    }
    fn delete_study(&self, app: &str, name: &str) -> attune_store::Result<bool> {
        self.check()?;
        self.inner.delete_study(app, name)
    }
}

impl attune_store::MonitorStore for FlakyStore {
    fn put_points(
        &self,
        app: &str,
        points: &[attune_store::MetricPoint],
    ) -> attune_store::Result<()> {
        self.check()?;
        self.inner.put_points(app, points)
    }
    fn scan_points(
        &self,
        app: &str,
        metric: &str,
        since_micros: i64,
        until_micros: i64,
        visit: &mut dyn FnMut(attune_store::MetricPoint) -> bool,
    ) -> attune_store::Result<()> {
        self.check()?;
        self.inner
            .scan_points(app, metric, since_micros, until_micros, visit)
    }
    fn metric_names(&self, app: &str) -> attune_store::Result<Vec<String>> {
        self.check()?;
        self.inner.metric_names(app)
    }
    fn prune_points(&self, app: &str, before_micros: i64) -> attune_store::Result<u64> {
        self.check()?;
        self.inner.prune_points(app, before_micros)
    }
    fn put_alert(&self, app: &str, alert: &attune_store::AlertRecord) -> attune_store::Result<()> {
        self.check()?;
        self.inner.put_alert(app, alert)
    }
    fn list_alerts(&self, app: &str) -> attune_store::Result<Vec<attune_store::AlertRecord>> {
        self.check()?;
        self.inner.list_alerts(app)
    }
    fn put_training_profile(
        &self,
        app: &str,
        version: u32,
        profile: &str,
    ) -> attune_store::Result<()> {
        self.check()?;
        self.inner.put_training_profile(app, version, profile)
    }
    fn get_training_profile(
        &self,
        app: &str,
        version: u32,
    ) -> attune_store::Result<Option<String>> {
        self.check()?;
        self.inner.get_training_profile(app, version)
    }
}
