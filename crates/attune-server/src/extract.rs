//! Request extractors whose every failure is a [`Problem`] naming what was wrong.
//!
//! axum's stock extractors answer with plain-text rejections; these wrap them (or replace them)
//! so that a bad header, path, query or body always yields problem+json with `field` set.

use attune_core::error::FieldError;
use attune_core::event::check_id;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use serde_json::Value;

use crate::problem::{ErrorCode, Problem, APP_HEADER};
use crate::AppState;

/// The app (tenant) a request addresses, from `X-Attune-App` (absent: `default`). Extraction
/// fails with 404 `unknown_app` naming the header when the app does not exist, before any body
/// is read.
#[derive(Debug, Clone)]
pub struct App(pub String);

impl FromRequestParts<AppState> for App {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let name = match parts.headers.get(APP_HEADER) {
            None => attune_store::DEFAULT_APP.to_string(),
            Some(v) => match v.to_str() {
                Ok(s) => s.trim().to_string(),
                Err(_) => return Err(Problem::unknown_app(&String::from_utf8_lossy(v.as_bytes()))),
            },
        };
        if check_app_name(&name).is_err() || !state.app_exists(&name).await? {
            return Err(Problem::unknown_app(&name));
        }
        Ok(App(name))
    }
}

/// The app name rule: `^[a-z0-9][a-z0-9_-]{0,62}$` (safe in URLs, file names and SQL
/// identifiers, and case-insensitively unique).
pub fn check_app_name(name: &str) -> Result<(), FieldError> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-');
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            "name",
            format!(
                "{name:?} is not a valid app name: 1 to 63 characters a-z, 0-9, '_' or '-', starting with a letter or digit"
            ),
        ))
    }
}

/// The single `{id}` path segment, checked as an id (`field` names it in errors).
#[derive(Debug, Clone)]
pub struct IdPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(IdPath(id)),
            Err(e) => Err(Problem::new(ErrorCode::InvalidRequest, e.body_text()).field("path")),
        }
    }
}

impl IdPath {
    /// The id if it is a valid id for `field` (`item_id`, `user_id`); else 422 naming `field`.
    pub fn check(self, field: &str, max_len: usize) -> Result<String, Problem> {
        check_id(field, &self.0, max_len).map_err(Problem::invalid_field)?;
        Ok(self.0)
    }
}

/// The query string as decoded pairs; each route reads the ones it knows with [`Params::usize`]
/// and friends, whose errors name the parameter.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<Vec<(String, String)>>::from_request_parts(parts, state).await {
            Ok(Query(pairs)) => Ok(Params(pairs)),
            Err(e) => Err(Problem::new(ErrorCode::InvalidRequest, e.body_text()).field("query")),
        }
    }
}

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A string parameter.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.get(name)
    }

    /// A whole-number parameter in `1..=max`, `default` when absent.
    pub fn usize(&self, name: &str, default: usize, max: usize) -> Result<usize, Problem> {
        let Some(text) = self.get(name) else {
            return Ok(default);
        };
        match text.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(Problem::new(
                ErrorCode::InvalidRequest,
                format!(
                    "query parameter {name} must be a whole number from 1 to {max}, got {text:?}"
                ),
            )
            .field(name)),
        }
    }

    /// A boolean parameter (`true`/`false`/`1`/`0`; bare `?name` means true), false when absent.
    pub fn bool(&self, name: &str) -> Result<bool, Problem> {
        match self.get(name) {
            None => Ok(false),
            Some("" | "true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(other) => Err(Problem::new(
                ErrorCode::InvalidRequest,
                format!("query parameter {name} must be true or false, got {other:?}"),
            )
            .field(name)),
        }
    }
}

/// How a request body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// One JSON document (`application/json`, or any `+json` type).
    Json,
    /// One JSON document per line (`application/x-ndjson` and its aliases).
    Ndjson,
}

/// The body format from `Content-Type`; 415 naming the header when it is absent or not one the
/// route reads.
pub fn body_format(headers: &HeaderMap, allow_ndjson: bool) -> Result<BodyFormat, Problem> {
    let raw = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = raw
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let format = match essence.as_str() {
        "application/json" => Some(BodyFormat::Json),
        t if t.starts_with("application/") && t.ends_with("+json") => Some(BodyFormat::Json),
        "application/x-ndjson"
        | "application/ndjson"
        | "application/jsonl"
        | "application/x-jsonlines"
            if allow_ndjson =>
        {
            Some(BodyFormat::Ndjson)
        }
        _ => None,
    };
    format.ok_or_else(|| {
        let accepted = if allow_ndjson {
            "application/json or application/x-ndjson"
        } else {
            "application/json"
        };
        let got = if raw.is_empty() {
            "no Content-Type".to_string()
        } else {
            format!("{raw:?}")
        };
        Problem::new(
            ErrorCode::UnsupportedMediaType,
            format!("the body must be {accepted}; got {got}"),
        )
        .field("Content-Type")
    })
}

fn too_large(limit: usize) -> Problem {
    Problem::new(
        ErrorCode::PayloadTooLarge,
        format!("the request body is larger than {limit} bytes (max_body_bytes); split it into smaller batches"),
    )
    .field("max_body_bytes")
    .with("limit", limit)
}

/// Read the whole body, at most `limit` bytes; over it, 413 naming `max_body_bytes`; a body
/// that does not arrive within `server.body_read_timeout_secs` is a 408 (`timeouts.rs`).
///
/// A declared `Content-Length` over the limit is refused before reading anything.
/// A compressed body (`Content-Encoding` other than `identity`) is refused with 415 naming the
/// header rather than misread as malformed JSON.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, Problem> {
    if let Some(enc) = headers.get(CONTENT_ENCODING) {
        if !enc.as_bytes().eq_ignore_ascii_case(b"identity") {
            let enc = String::from_utf8_lossy(enc.as_bytes());
            return Err(Problem::new(
                ErrorCode::UnsupportedMediaType,
                format!("Content-Encoding {enc:?} is not supported; send the body uncompressed"),
            )
            .field("Content-Encoding"));
        }
    }
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(bytes),
        Err(e) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(s) = source {
                if s.is::<http_body_util::LengthLimitError>() {
                    return Err(too_large(limit));
                }
                if let Some(t) = s.downcast_ref::<crate::timeouts::BodyReadTimeout>() {
                    return Err(crate::timeouts::body_timeout_problem(t.0));
                }
                source = s.source();
            }
            Err(Problem::new(
                ErrorCode::InvalidRequest,
                format!("could not read the request body: {e}"),
            )
            .field("body"))
        }
    }
}

/// A 400 `invalid_json` for a parse error; `line_offset` shifts the line for NDJSON records.
fn invalid_json(
    e: &serde_json::Error,
    line_offset: usize,
    what: &str,
    ndjson_hint: bool,
) -> Problem {
    let line = e.line() + line_offset;
    let column = e.column();
    let empty = e.is_eof() && line_offset == 0 && e.line() == 1 && column == 0;
    let detail = if empty {
        format!("the body is empty; expected {what}")
    } else {
        // serde_json's message ends with its own "at line L column C"; restate it with the
        // line of the whole body.
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg);
        let hint = if ndjson_hint && msg.starts_with("trailing characters") {
            "; to send one event per line, use Content-Type: application/x-ndjson"
        } else {
            ""
        };
        format!("{msg} at line {line} column {column}{hint}")
    };
    Problem::new(ErrorCode::InvalidJson, detail)
        .field("body")
        .with("line", line)
        .with("column", column)
}

/// Split a batch body into its records: a JSON array, a single JSON object, or NDJSON (blank
/// lines skipped). More than `max` records is a 413 naming `limit_name`.
pub fn parse_records(
    bytes: &[u8],
    format: BodyFormat,
    max: usize,
    limit_name: &str,
    what: &str,
) -> Result<Vec<Value>, Problem> {
    let too_many = |n: usize| {
        Problem::new(
            ErrorCode::BatchTooLarge,
            format!(
                "the batch has {n} {what}s; at most {max} are accepted per request ({limit_name})"
            ),
        )
        .field(limit_name)
        .with("limit", max)
    };
    let expected = format!("a JSON array of {what}s or one {what} object");
    match format {
        BodyFormat::Json => {
            let v: Value =
                serde_json::from_slice(bytes).map_err(|e| invalid_json(&e, 0, &expected, true))?;
            let records = match v {
                Value::Array(a) => a,
                v @ Value::Object(_) => vec![v],
                other => {
                    return Err(Problem::new(
                        ErrorCode::InvalidJson,
                        format!("expected {expected}, got {}", crate::api::describe(&other)),
                    )
                    .field("body"))
                }
            };
            if records.len() > max {
                return Err(too_many(records.len()));
            }
            Ok(records)
        }
        BodyFormat::Ndjson => {
            let is_blank = |l: &[u8]| l.iter().all(u8::is_ascii_whitespace);
            let n = bytes
                .split(|&b| b == b'\n')
                .filter(|l| !is_blank(l))
                .count();
            if n > max {
                return Err(too_many(n));
            }
            let mut records = Vec::with_capacity(n);
            for (line_idx, line) in bytes.split(|&b| b == b'\n').enumerate() {
                if is_blank(line) {
                    continue;
                }
                let v: Value = serde_json::from_slice(line)
                    .map_err(|e| invalid_json(&e, line_idx, &expected, false))?;
                records.push(v);
            }
            Ok(records)
        }
    }
}

/// Parse a body holding exactly one JSON object (PUT item/user, identify, create app).
pub fn parse_object(bytes: &[u8], what: &str) -> Result<Value, Problem> {
    let expected = format!("one {what} object");
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| invalid_json(&e, 0, &expected, false))?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(Problem::new(
            ErrorCode::InvalidJson,
            format!("expected {expected}, got {}", crate::api::describe(&v)),
        )
        .field("body"))
    }
}
