//! RFC 7807 problem documents: the one error-code table and its renderer.
//!
//! Every error the API returns, whether raised by a handler, by an extractor rejection, by the
//! route fallback or by the store, becomes a [`Problem`] whose `code` is an [`ErrorCode`]. The
//! code alone fixes the HTTP status, the `title` and the `type` URI ([`ErrorCode::status`],
//! [`ErrorCode::title`]), so clients can switch on `code` and the table below is the single
//! place to read what the API can answer.
//!
//! A handler returns a `Problem` without knowing the request path; [`Problem::into_response`]
//! parks the problem in the response extensions and the request middleware in `lib.rs` renders
//! it with `instance` set to the request path (see [`render`]). Any other error response that
//! reaches that middleware without a problem (axum's own 405, for instance) is turned into one
//! there too, so no plain-text error ever leaves the server.

use attune_core::error::{FieldError, ValidationError};
use attune_store::StoreError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The `type` URI prefix; the code is appended.
pub const TYPE_PREFIX: &str = "https://attune.dev/problems/";

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The header that names the app (tenant) of a request.
pub const APP_HEADER: &str = "x-attune-app";

/// How many per-record errors a problem lists; the full count is in `error_count`.
pub const MAX_LISTED_ERRORS: usize = 100;

/// Every error the API can return. The table in `ErrorCode::spec` gives each its status and
/// title; adding a variant without a row does not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The body is not well-formed JSON (or a line of NDJSON is not).
    InvalidJson,
    /// A query parameter, path segment or header is malformed.
    InvalidRequest,
    /// No API key, or one that is not valid, on a route that needs one (`WWW-Authenticate` set).
    Unauthorized,
    /// The API key lacks the scope the route needs, or may not use the app.
    Forbidden,
    /// The `X-Attune-App` header names an app that does not exist.
    UnknownApp,
    /// No route matches the path.
    NotFound,
    /// No item with this id in the app.
    ItemNotFound,
    /// No user (profile, events or identities) with this id in the app.
    UserNotFound,
    /// No registered model with this version in the app.
    ModelNotFound,
    /// The route exists but not for this method.
    MethodNotAllowed,
    /// The write contradicts stored state (a device already linked to another user).
    Conflict,
    /// The body is larger than `max_body_bytes`.
    PayloadTooLarge,
    /// The batch has more records than `max_batch_events` / `max_batch_items`.
    BatchTooLarge,
    /// The body's `Content-Type` is not one this route reads.
    UnsupportedMediaType,
    /// One or more records (or fields) broke a rule; `errors` lists them.
    ValidationFailed,
    /// The server or its store failed; details are in the server log only.
    Internal,
    /// Not ready (`/ready`): the store is unreachable, or an app's active model is not loaded
    /// (still loading, or refused).
    NotReady,
    /// The app has no active model (train one).
    NoModel,
    /// The model version cannot be served (artifact missing, corrupt, incompatible, or not the
    /// registered file); the active version is unchanged.
    ModelUnservable,
    /// No training job with this id in the app.
    JobNotFound,
    /// The feature is not enabled on this server (no serving engine or no trainer).
    Unavailable,
    /// No experiment with this name in the app.
    ExperimentNotFound,
    /// The request body did not arrive within `server.body_read_timeout_secs` (the connection
    /// is closed after the answer).
    RequestTimeout,
    /// The server did not answer within `server.request_timeout_secs` (`Retry-After` set).
    Timeout,
    /// The server holds `server.max_connections` connections already (`Retry-After` set; the
    /// connection is closed).
    Overloaded,
    /// The API key (or anonymous client) sent more than its rate to this app (`Retry-After`
    /// set).
    RateLimited,
}

impl ErrorCode {
    /// Every code, in table order (the OpenAPI document lists the same set).
    pub const ALL: [ErrorCode; 26] = [
        ErrorCode::InvalidJson,
        ErrorCode::InvalidRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::UnknownApp,
        ErrorCode::NotFound,
        ErrorCode::ItemNotFound,
        ErrorCode::UserNotFound,
        ErrorCode::ModelNotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::BatchTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::ValidationFailed,
        ErrorCode::Internal,
        ErrorCode::NotReady,
        ErrorCode::NoModel,
        ErrorCode::ModelUnservable,
        ErrorCode::JobNotFound,
        ErrorCode::Unavailable,
        ErrorCode::ExperimentNotFound,
        ErrorCode::RequestTimeout,
        ErrorCode::Timeout,
        ErrorCode::Overloaded,
        ErrorCode::RateLimited,
    ];

    /// THE table: code -> (wire code, status, title).
    const fn spec(self) -> (&'static str, StatusCode, &'static str) {
        match self {
            ErrorCode::InvalidJson => ("invalid_json", StatusCode::BAD_REQUEST, "Malformed JSON"),
            ErrorCode::InvalidRequest => (
                "invalid_request",
                StatusCode::BAD_REQUEST,
                "Invalid request",
            ),
            ErrorCode::Unauthorized => (
                "unauthorized",
                StatusCode::UNAUTHORIZED,
                "Missing or invalid API key",
            ),
            ErrorCode::Forbidden => (
                "forbidden",
                StatusCode::FORBIDDEN,
                "Not allowed for this API key",
            ),
            ErrorCode::UnknownApp => ("unknown_app", StatusCode::NOT_FOUND, "Unknown app"),
            ErrorCode::NotFound => ("not_found", StatusCode::NOT_FOUND, "No such route"),
            ErrorCode::ItemNotFound => ("item_not_found", StatusCode::NOT_FOUND, "Item not found"),
            ErrorCode::UserNotFound => ("user_not_found", StatusCode::NOT_FOUND, "User not found"),
            ErrorCode::ModelNotFound => (
                "model_not_found",
                StatusCode::NOT_FOUND,
                "Model version not found",
            ),
            ErrorCode::MethodNotAllowed => (
                "method_not_allowed",
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed",
            ),
            ErrorCode::Conflict => (
                "conflict",
                StatusCode::CONFLICT,
                "Conflict with stored state",
            ),
            ErrorCode::PayloadTooLarge => (
                "payload_too_large",
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body too large",
            ),
            ErrorCode::BatchTooLarge => (
                "batch_too_large",
                StatusCode::PAYLOAD_TOO_LARGE,
                "Batch too large",
            ),
            ErrorCode::UnsupportedMediaType => (
                "unsupported_media_type",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported content type",
            ),
            ErrorCode::ValidationFailed => (
                "validation_failed",
                StatusCode::UNPROCESSABLE_ENTITY,
                "Validation failed",
            ),
            ErrorCode::Internal => (
                "internal",
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
            ),
            ErrorCode::NotReady => ("not_ready", StatusCode::SERVICE_UNAVAILABLE, "Not ready"),
            ErrorCode::NoModel => ("no_model", StatusCode::CONFLICT, "No active model"),
            ErrorCode::ModelUnservable => (
                "model_unservable",
                StatusCode::UNPROCESSABLE_ENTITY,
                "Model version cannot be served",
            ),
            ErrorCode::JobNotFound => ("job_not_found", StatusCode::NOT_FOUND, "Job not found"),
            ErrorCode::Unavailable => (
                "unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
                "Not enabled on this server",
            ),
            ErrorCode::ExperimentNotFound => (
                "experiment_not_found",
                StatusCode::NOT_FOUND,
                "Experiment not found",
            ),
            ErrorCode::RequestTimeout => (
                "request_timeout",
                StatusCode::REQUEST_TIMEOUT,
                "Request body not received in time",
            ),
            ErrorCode::Timeout => (
                "timeout",
                StatusCode::SERVICE_UNAVAILABLE,
                "Request took too long",
            ),
            ErrorCode::Overloaded => (
                "overloaded",
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many connections",
            ),
            ErrorCode::RateLimited => (
                "rate_limited",
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests",
            ),
        }
    }

    /// The wire code (`validation_failed`, ...), also the last segment of the `type` URI.
    pub const fn as_str(self) -> &'static str {
        self.spec().0
    }

    /// The HTTP status this code is always sent with.
    pub const fn status(self) -> StatusCode {
        self.spec().1
    }

    /// The short, fixed, human-readable summary (`title`).
    pub const fn title(self) -> &'static str {
        self.spec().2
    }

    /// The code used when an error status reaches the middleware without a problem attached.
    fn for_status(status: StatusCode) -> ErrorCode {
        match status {
            StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
            StatusCode::FORBIDDEN => ErrorCode::Forbidden,
            StatusCode::NOT_FOUND => ErrorCode::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
            StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::ValidationFailed,
            StatusCode::REQUEST_TIMEOUT => ErrorCode::RequestTimeout,
            StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
            StatusCode::SERVICE_UNAVAILABLE => ErrorCode::NotReady,
            s if s.is_client_error() => ErrorCode::InvalidRequest,
            _ => ErrorCode::Internal,
        }
    }
}

/// One broken rule of one record of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordError {
    /// Position of the record in the batch (0-based; for NDJSON, counting non-blank lines).
    pub index: usize,
    /// Dotted path of the offending field.
    pub field: String,
    /// The rule that was broken.
    pub reason: String,
}

impl RecordError {
    /// Tag a field error with its record index.
    pub fn new(index: usize, e: FieldError) -> Self {
        Self {
            index,
            field: e.field,
            reason: e.reason,
        }
    }
}

/// An RFC 7807 problem, before rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// What went wrong (fixes status and title).
    pub code: ErrorCode,
    /// Explanation specific to this occurrence.
    pub detail: String,
    /// The field, header or parameter at fault, when there is one.
    pub field: Option<String>,
    /// Per-record errors of a batch (at most [`MAX_LISTED_ERRORS`]).
    pub errors: Vec<RecordError>,
    /// How many record errors there were in all (may exceed `errors.len()`).
    pub error_count: usize,
    /// Extra members merged into the body (e.g. `backend` on `/ready`).
    pub extra: Vec<(&'static str, serde_json::Value)>,
}

impl Problem {
    /// A problem with a detail message.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            field: None,
            errors: Vec::new(),
            error_count: 0,
            extra: Vec::new(),
        }
    }

    /// Name the field, header or parameter at fault.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Add an extra body member.
    pub fn with(mut self, key: &'static str, value: impl Into<serde_json::Value>) -> Self {
        self.extra.push((key, value.into()));
        self
    }

    /// A 422 for one invalid field.
    pub fn invalid_field(e: FieldError) -> Self {
        Problem::new(
            ErrorCode::ValidationFailed,
            format!("{}: {}", e.field, e.reason),
        )
        .field(e.field)
    }

    /// A 422 for one invalid record: every broken rule is listed, the first is `field`.
    pub fn invalid_record(e: ValidationError) -> Self {
        let errors: Vec<RecordError> = e
            .errors
            .into_iter()
            .map(|e| RecordError::new(0, e))
            .collect();
        Problem::invalid_batch(errors, "the record is invalid")
    }

    /// A 422 for a batch with invalid records (`errors` sorted by index, capped for the body).
    pub fn invalid_batch(mut errors: Vec<RecordError>, what: &str) -> Self {
        let count = errors.len();
        let first = errors.first().cloned();
        errors.truncate(MAX_LISTED_ERRORS);
        let detail = match &first {
            Some(f) if count == 1 => format!("{what}: {}: {}", f.field, f.reason),
            Some(f) => format!(
                "{what}: {count} errors; first at index {}: {}: {}",
                f.index, f.field, f.reason
            ),
            None => what.to_string(),
        };
        let mut p = Problem::new(ErrorCode::ValidationFailed, detail);
        p.field = first.map(|f| f.field);
        p.error_count = count;
        p.errors = errors;
        p
    }

    /// 404 for an app that does not exist.
    pub fn unknown_app(app: &str) -> Self {
        Problem::new(
            ErrorCode::UnknownApp,
            format!("app {app:?} does not exist; create it with POST /v1/apps or name another in the X-Attune-App header"),
        )
        .field("X-Attune-App")
    }

    /// 500 for a failure inside the server: logged at error with the cause, the client sees
    /// only a short message (no internals).
    pub fn internal(context: &str, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "{context}");
        Problem::new(
            ErrorCode::Internal,
            format!("{context}; see the server log"),
        )
    }

    /// Render to the wire body, with `instance` = the request path.
    pub fn to_json(&self, instance: &str) -> serde_json::Value {
        let code = self.code.as_str();
        let mut body = serde_json::Map::new();
        body.insert("type".into(), format!("{TYPE_PREFIX}{code}").into());
        body.insert("title".into(), self.code.title().into());
        body.insert("status".into(), self.code.status().as_u16().into());
        body.insert("detail".into(), self.detail.clone().into());
        body.insert("code".into(), code.into());
        if let Some(f) = &self.field {
            body.insert("field".into(), f.clone().into());
        }
        if self.error_count > 0 {
            body.insert(
                "errors".into(),
                serde_json::to_value(&self.errors).unwrap_or_default(),
            );
            body.insert("error_count".into(), self.error_count.into());
        }
        for (k, v) in &self.extra {
            body.insert((*k).into(), v.clone());
        }
        body.insert("instance".into(), instance.into());
        serde_json::Value::Object(body)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

impl IntoResponse for Problem {
    /// The body is rendered by the request middleware, which knows the path ([`render`]); this
    /// response only carries the status and the problem itself.
    fn into_response(self) -> Response {
        let mut res = self.code.status().into_response();
        res.extensions_mut().insert(self);
        res
    }
}

/// Map a store error to a problem. Exhaustive on purpose: a new variant must be classified.
impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UnknownApp(app) => Problem::unknown_app(&app),
            StoreError::Conflict(msg) => Problem::new(ErrorCode::Conflict, msg),
            e @ StoreError::UnknownModel { .. } => {
                Problem::new(ErrorCode::ModelNotFound, e.to_string()).field("version")
            }
            e @ (StoreError::NoRollbackTarget { .. } | StoreError::StaleActivation { .. }) => {
                Problem::new(ErrorCode::Conflict, e.to_string())
            }
            StoreError::InvalidModel { field, reason } => {
                Problem::new(ErrorCode::ValidationFailed, format!("{field}: {reason}")).field(field)
            }
            e @ StoreError::UnknownExperiment { .. } => {
                Problem::new(ErrorCode::ExperimentNotFound, e.to_string()).field("name")
            }
            e @ StoreError::LayerFull { .. } => {
                Problem::new(ErrorCode::Conflict, e.to_string()).field("traffic")
            }
            StoreError::InvalidExperiment { field, reason }
            | StoreError::InvalidMonitoring { field, reason }
            | StoreError::InvalidStudy { field, reason } => {
                Problem::new(ErrorCode::InvalidRequest, format!("{field}: {reason}")).field(field)
            }
            e @ (StoreError::Sqlite(_)
            | StoreError::Postgres(_)
            | StoreError::Corrupt { .. }
            | StoreError::Io { .. }) => Problem::internal("the store failed", &e),
        }
    }
}

/// Map an experiment error: a broken rule names its field (400), a report without data is a
/// conflict with what is stored (409), store errors map as store errors.
impl From<attune_experiment::ExperimentError> for Problem {
    fn from(e: attune_experiment::ExperimentError) -> Self {
        use attune_experiment::ExperimentError as E;
        match e {
            E::Invalid { field, reason } => {
                Problem::new(ErrorCode::InvalidRequest, format!("{field}: {reason}")).field(field)
            }
            E::NoData(msg) => Problem::new(ErrorCode::Conflict, msg),
            E::Store(s) => s.into(),
        }
    }
}

/// Map a monitoring error: a bad value names its field (400), nothing to compute from is a
/// conflict with what is stored (409), store and experiment errors map as theirs.
impl From<attune_monitor::MonitorError> for Problem {
    fn from(e: attune_monitor::MonitorError) -> Self {
        use attune_monitor::MonitorError as E;
        match e {
            E::Invalid { field, reason } => {
                Problem::new(ErrorCode::InvalidRequest, format!("{field}: {reason}")).field(field)
            }
            E::NoData(msg) => Problem::new(ErrorCode::Conflict, msg),
            E::Store(s) => s.into(),
            E::Experiment(x) => x.into(),
        }
    }
}

impl From<attune_serving::ServingError> for Problem {
    fn from(e: attune_serving::ServingError) -> Self {
        use attune_serving::ServingError as E;
        match e {
            E::NoModel { .. } => Problem::new(ErrorCode::NoModel, e.to_string()),
            E::UnknownItem { .. } => {
                Problem::new(ErrorCode::ItemNotFound, e.to_string()).field("item_id")
            }
            E::Similar(inner) => {
                Problem::new(ErrorCode::InvalidRequest, inner.to_string()).field("item_id")
            }
            E::InvalidRequest { field, reason } => {
                Problem::new(ErrorCode::InvalidRequest, format!("{field}: {reason}")).field(field)
            }
            E::Load(inner) => {
                // The full message names the server's file; the answer only its name.
                tracing::warn!(error = %inner, "a model version cannot be served");
                Problem::new(ErrorCode::ModelUnservable, inner.public_message()).field("version")
            }
            E::Store(inner) => inner.into(),
            E::NeedsStore => Problem::internal("a serving call needed the store", &e),
            E::Experiment(inner) => (*inner).into(),
        }
    }
}

/// Turn any error response into `application/problem+json` with `instance` = `path`.
///
/// A response carrying a [`Problem`] extension is rendered from it; any other 4xx/5xx (axum's
/// method-not-allowed, a rejection that slipped through) gets a generic problem for its status.
/// Success responses pass through untouched.
pub fn render(mut res: Response, path: &str) -> Response {
    let problem = match res.extensions_mut().remove::<Problem>() {
        Some(p) => p,
        None if res.status().is_client_error() || res.status().is_server_error() => {
            let is_problem = res
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
            if is_problem {
                return res;
            }
            let code = ErrorCode::for_status(res.status());
            // StatusCode is a struct, so this match stays clear of ErrorCode wildcards.
            let detail = match res.status() {
                StatusCode::METHOD_NOT_ALLOWED => {
                    let allow = res
                        .headers()
                        .get(header::ALLOW)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    format!("{path} does not accept this method; allowed: {allow}")
                }
                StatusCode::NOT_FOUND => format!("no route for {path}"),
                other => other.canonical_reason().unwrap_or("error").to_string(),
            };
            Problem::new(code, detail)
        }
        None => return res,
    };
    let status = problem.code.status();
    let body = serde_json::to_vec(&problem.to_json(path)).unwrap_or_default();
    let mut headers = std::mem::take(res.headers_mut());
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    headers.remove(header::CONTENT_LENGTH);
    let mut out = (status, body).into_response();
    out.headers_mut().extend(headers);
    out.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_codes_are_unique_and_statuses_are_errors() {
        let all = ErrorCode::ALL;
        let mut names: Vec<_> = all.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        for c in all {
            assert!(
                c.status().is_client_error() || c.status().is_server_error(),
                "{c:?}"
            );
            assert!(c
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
    }

    #[test]
    fn store_errors_map_to_statuses() {
        let p: Problem = StoreError::UnknownApp("shop".into()).into();
        assert_eq!(p.code.status(), StatusCode::NOT_FOUND);
        assert_eq!(p.field.as_deref(), Some("X-Attune-App"));
        let p: Problem = StoreError::Conflict("device d1 is linked to u2".into()).into();
        assert_eq!(p.code.status(), StatusCode::CONFLICT);
        let p: Problem = StoreError::UnknownModel {
            app: "shop".into(),
            version: 7,
        }
        .into();
        assert_eq!(
            (p.code, p.code.status()),
            (ErrorCode::ModelNotFound, StatusCode::NOT_FOUND)
        );
        assert!(p.detail.contains('7'), "{}", p.detail);
        let p: Problem = StoreError::NoRollbackTarget { app: "shop".into() }.into();
        assert_eq!(p.code.status(), StatusCode::CONFLICT);
        let p: Problem = StoreError::StaleActivation {
            app: "shop".into(),
            expected: 1,
            current: 2,
        }
        .into();
        assert_eq!(p.code.status(), StatusCode::CONFLICT);
        let p: Problem = StoreError::InvalidModel {
            field: "metrics.ndcg".into(),
            reason: "NaN is not a finite number".into(),
        }
        .into();
        assert_eq!(p.code.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(p.field.as_deref(), Some("metrics.ndcg"));
        let p: Problem = StoreError::Corrupt {
            table: "events",
            detail: "secret internals".into(),
        }
        .into();
        assert_eq!(p.code.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!p.detail.contains("secret"), "{}", p.detail);
    }

    #[test]
    fn batch_problem_caps_the_list_and_names_the_first_field() {
        let errors: Vec<_> = (0..250)
            .map(|i| RecordError {
                index: i,
                field: "timestamp".into(),
                reason: "bad".into(),
            })
            .collect();
        let p = Problem::invalid_batch(errors, "2 events are invalid");
        let body = p.to_json("/v1/events");
        assert_eq!(body["errors"].as_array().unwrap().len(), MAX_LISTED_ERRORS);
        assert_eq!(body["error_count"], 250);
        assert_eq!(body["field"], "timestamp");
        assert_eq!(body["status"], 422);
        assert_eq!(
            body["type"],
            "https://attune.dev/problems/validation_failed"
        );
        assert_eq!(body["instance"], "/v1/events");
    }
}
