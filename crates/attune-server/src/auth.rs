//! API keys with scopes: who may call which route, for which app.
//!
//! A key grants a set of [`Scope`]s (`ingest`, `read`, `admin`; admin implies the other two) on a
//! set of apps (`["shop"]`, or `["*"]` for every app). Keys are presented as
//! `Authorization: Bearer <key>` or `X-Api-Key: <key>`. The configuration may hold a key in clear
//! (`key`) or only its SHA-256 (`key_sha256`), so a config file checked into a deployment repo
//! need not hold secrets; either way only the hash is kept in memory, and a presented key is
//! hashed and compared with every configured hash in constant time.
//!
//! Each route declares its [`Access`] in the route table (`routes/mod.rs`); the `authorize`
//! middleware runs after routing (it needs the matched route) and before any extractor, so a
//! refused request has read no body and touched no store, and a key limited to one app cannot
//! even learn whether another app exists.
//!
//! **Policy:** with `auth.required = false` (the default: a single-user install or the demo needs
//! no ceremony) a request without a key is allowed everything; a request *with* a key is always
//! checked, so keys can be tried out before they are enforced. With `required = true` a request
//! without a key gets 401. Open routes (`/health`, `/ready`, `/v1/openapi.json`, and `/metrics`
//! unless `metrics_require_admin`) never look at keys.

use std::collections::HashSet;

use attune_store::DEFAULT_APP;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::extract::check_app_name;
use crate::problem::{ErrorCode, Problem, APP_HEADER};
use crate::{AppState, ConfigError};

/// The header that may carry a key (the alternative to `Authorization: Bearer`).
pub const API_KEY_HEADER: &str = "x-api-key";

/// Shortest key accepted in clear: a guessable key is a configuration error, not a risk to run.
pub const MIN_KEY_LEN: usize = 16;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Send events and identities (`POST /v1/events`, `POST /v1/identify`): a tracker's key.
    Ingest,
    /// Read items, users, histories and recommendations: a storefront's key.
    Read,
    /// Everything: catalog and profile writes, erasure, apps, models.
    Admin,
}

impl Scope {
    /// Every scope, in the order used in messages.
    pub const ALL: [Scope; 3] = [Scope::Ingest, Scope::Read, Scope::Admin];

    /// The configuration and wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }

    /// Parse a configuration name.
    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Who may call a route (one entry per route in the route table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No key is looked at: liveness, readiness, the API document.
    Open,
    /// `/metrics`: open, or [`Scope::Admin`] on every app with `auth.metrics_require_admin`.
    Metrics,
    /// A key with this scope on the app the request names (`X-Attune-App`, absent: `default`).
    App(Scope),
    /// A key with this scope on every app (`apps = ["*"]`): the routes that manage apps.
    AllApps(Scope),
}

impl Access {
    /// The scope a key needs, if any (`/metrics` counted as admin).
    pub fn scope(self) -> Option<Scope> {
        match self {
            Access::Open => None,
            Access::Metrics => Some(Scope::Admin),
            Access::App(s) | Access::AllApps(s) => Some(s),
        }
    }
}

/// One `[[auth.keys]]` entry as written in the configuration, before it is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiKeySpec {
    /// A label for logs (never the key itself); unique.
    pub name: String,
    /// The key in clear (at least [`MIN_KEY_LEN`] visible ASCII characters).
    pub key: Option<String>,
    /// The key's SHA-256 as 64 hex digits (`printf %s "$KEY" | sha256sum`).
    pub key_sha256: Option<String>,
    /// `ingest`, `read`, `admin`.
    pub scopes: Vec<String>,
    /// App names, or `"*"` for every app.
    pub apps: Vec<String>,
}

/// A checked key. Only the hash of the secret is kept.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    name: String,
    sha256: [u8; 32],
    scopes: Vec<Scope>,
    /// `None`: every app.
    apps: Option<HashSet<String>>,
}

impl std::fmt::Debug for ApiKey {
    /// Names and grants only: the hash stays out of logs too.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("apps", &self.apps)
            .finish_non_exhaustive()
    }
}

impl ApiKey {
    /// The key's label.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the key grants `scope` (admin grants every scope).
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin)
    }

    /// Whether the key may use `app`.
    pub fn may_use(&self, app: &str) -> bool {
        self.apps.as_ref().is_none_or(|apps| apps.contains(app))
    }

    /// Whether the key may use every app (`apps = ["*"]`).
    pub fn all_apps(&self) -> bool {
        self.apps.is_none()
    }
}

/// The SHA-256 of a key.
pub fn sha256(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The SHA-256 of a key as 64 lowercase hex digits (the `key_sha256` form).
pub fn sha256_hex(key: &str) -> String {
    sha256(key).iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

impl ApiKeySpec {
    /// Check the entry at `index` of `auth.keys`; an error names the field (`auth.keys[2].scopes`).
    pub fn check(&self, index: usize) -> Result<ApiKey, ConfigError> {
        let err = |field: &str, reason: String| ConfigError {
            field: format!("auth.keys[{index}].{field}"),
            reason,
        };
        if self.name.trim().is_empty() {
            return Err(err("name", "is required (a label for logs)".into()));
        }
        let sha256 = match (&self.key, &self.key_sha256) {
            (Some(_), Some(_)) => {
                return Err(err("key", "give either key or key_sha256, not both".into()))
            }
            (None, None) => {
                return Err(err(
                    "key",
                    "is required (or key_sha256, the SHA-256 of the key in hex)".into(),
                ))
            }
            (Some(k), None) => {
                if k.len() < MIN_KEY_LEN || !k.bytes().all(|c| c.is_ascii_graphic()) {
                    return Err(err(
                        "key",
                        format!(
                            "must be at least {MIN_KEY_LEN} visible ASCII characters without spaces"
                        ),
                    ));
                }
                sha256(k)
            }
            (None, Some(h)) => parse_hex32(h).ok_or_else(|| {
                err(
                    "key_sha256",
                    format!(
                        "must be 64 hex digits (a SHA-256), got {} characters",
                        h.len()
                    ),
                )
            })?,
        };
        if self.scopes.is_empty() {
            return Err(err(
                "scopes",
                "is empty; give one or more of ingest, read, admin".into(),
            ));
        }
        let mut scopes = Vec::new();
        for s in &self.scopes {
            let scope = Scope::parse(s).ok_or_else(|| {
                err(
                    "scopes",
                    format!("unknown scope {s:?}; allowed: ingest, read, admin"),
                )
            })?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        scopes.sort_unstable();
        if self.apps.is_empty() {
            return Err(err(
                "apps",
                "is empty; name the apps this key may use, or [\"*\"] for all".into(),
            ));
        }
        let apps = if self.apps.iter().any(|a| a == "*") {
            None
        } else {
            for a in &self.apps {
                check_app_name(a).map_err(|e| err("apps", e.reason))?;
            }
            Some(self.apps.iter().cloned().collect())
        };
        Ok(ApiKey {
            name: self.name.clone(),
            sha256,
            scopes,
            apps,
        })
    }
}

/// The checked `[auth]` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// Refuse requests without a key (401) on every route that is not open.
    pub required: bool,
    /// `/metrics` needs an admin key for every app.
    pub metrics_require_admin: bool,
    keys: Vec<ApiKey>,
}

impl AuthConfig {
    /// Check every key; names and hashes must be unique, and `required` needs at least one key
    /// (otherwise nothing could ever be called).
    pub fn new(
        required: bool,
        metrics_require_admin: bool,
        specs: &[ApiKeySpec],
    ) -> Result<Self, ConfigError> {
        let mut keys: Vec<ApiKey> = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            let key = spec.check(i)?;
            if let Some(j) = keys.iter().position(|k| k.name == key.name) {
                return Err(ConfigError {
                    field: format!("auth.keys[{i}].name"),
                    reason: format!("{:?} is already the name of auth.keys[{j}]", key.name),
                });
            }
            if let Some(j) = keys.iter().position(|k| k.sha256 == key.sha256) {
                return Err(ConfigError {
                    field: format!("auth.keys[{i}].key"),
                    reason: format!("the same key as auth.keys[{j}] ({:?})", keys[j].name),
                });
            }
            keys.push(key);
        }
        if required && keys.is_empty() {
            return Err(ConfigError {
                field: "auth.required".into(),
                reason: "is true but auth.keys is empty, so no request could be authorized; add [[auth.keys]] entries".into(),
            });
        }
        Ok(Self {
            required,
            metrics_require_admin,
            keys,
        })
    }

    /// The configured keys.
    pub fn keys(&self) -> &[ApiKey] {
        &self.keys
    }

    /// The key whose hash matches `presented`. Every configured hash is compared, each in
    /// constant time, so the answer time says nothing about which key (or how much of a hash)
    /// matched.
    pub fn lookup(&self, presented: &str) -> Option<&ApiKey> {
        let h = sha256(presented);
        let mut found = None;
        for k in &self.keys {
            if bool::from(k.sha256.ct_eq(&h)) {
                found = Some(k);
            }
        }
        found
    }
}

/// The name of the key that authorized a request (in request and response extensions, for the
/// request log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyName(pub String);

/// Where the presented key came from, or why it could not be read.
enum Presented {
    None,
    Key(String),
    Malformed(&'static str),
}

fn presented_key(headers: &HeaderMap) -> Presented {
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let Ok(text) = v.to_str() else {
            return Presented::Malformed("the Authorization header is not ASCII");
        };
        let mut parts = text.trim().splitn(2, ' ');
        let scheme = parts.next().unwrap_or("");
        let token = parts.next().unwrap_or("").trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Presented::Malformed("the Authorization header must be \"Bearer <key>\"");
        }
        return Presented::Key(token.to_string());
    }
    match headers.get(API_KEY_HEADER) {
        None => Presented::None,
        Some(v) => match v.to_str() {
            Ok(s) if !s.trim().is_empty() => Presented::Key(s.trim().to_string()),
            _ => Presented::Malformed("the X-Api-Key header is empty or not ASCII"),
        },
    }
}

/// A 401 with `WWW-Authenticate` (RFC 6750: `error="invalid_token"` when a key was sent).
fn unauthorized(detail: &str, key_sent: bool) -> Response {
    let mut res = Problem::new(ErrorCode::Unauthorized, detail)
        .field("Authorization")
        .into_response();
    let challenge = if key_sent {
        r#"Bearer realm="attune", error="invalid_token""#
    } else {
        r#"Bearer realm="attune""#
    };
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    res
}

fn forbidden_scope(key: &ApiKey, scope: Scope, method: &Method, route: &str) -> Response {
    Problem::new(
        ErrorCode::Forbidden,
        format!(
            "the API key {:?} lacks the {} scope needed for {method} {route}",
            key.name,
            scope.as_str()
        ),
    )
    .with("required_scope", scope.as_str())
    .into_response()
}

/// The app a request names, read the way the `App` extractor reads it.
pub(crate) fn requested_app(headers: &HeaderMap) -> String {
    match headers.get(APP_HEADER) {
        None => DEFAULT_APP.to_string(),
        Some(v) => String::from_utf8_lossy(v.as_bytes()).trim().to_string(),
    }
}

/// The middleware: allow the request, or answer 401/403 before anything else runs.
pub(crate) async fn authorize(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let access = route
        .as_ref()
        .and_then(|r| crate::routes::access(req.method(), r.as_str()));
    // An unknown method on a known route falls through to the router's 405.
    let (Some(matched), Some(access)) = (route, access) else {
        return next.run(req).await;
    };
    let route = matched.as_str();
    let auth = &state.config.auth;
    let needs = match access {
        Access::Open => None,
        Access::Metrics if !auth.metrics_require_admin => None,
        Access::Metrics => Some((Scope::Admin, true)),
        Access::App(s) => Some((s, false)),
        Access::AllApps(s) => Some((s, true)),
    };
    let Some((scope, all_apps)) = needs else {
        return next.run(req).await;
    };
    let key = match presented_key(req.headers()) {
        Presented::None if !auth.required => return next.run(req).await,
        Presented::None => {
            return unauthorized(
                &format!(
                    "{} {route} needs an API key with the {} scope: send Authorization: Bearer <key> or X-Api-Key: <key>",
                    req.method(),
                    scope.as_str()
                ),
                false,
            )
        }
        Presented::Malformed(why) => return unauthorized(why, true),
        Presented::Key(k) => k,
    };
    let Some(key) = auth.lookup(&key) else {
        return unauthorized("the API key is not valid", true);
    };
    if !key.has_scope(scope) {
        return forbidden_scope(key, scope, req.method(), route);
    }
    if all_apps {
        if !key.all_apps() {
            return Problem::new(
                ErrorCode::Forbidden,
                format!(
                    "{} {route} needs a key for every app (apps = [\"*\"]); the API key {:?} is limited to some apps",
                    req.method(),
                    key.name
                ),
            )
            .with("required_scope", scope.as_str())
            .into_response();
        }
    } else {
        let app = requested_app(req.headers());
        if !key.may_use(&app) {
            return Problem::new(
                ErrorCode::Forbidden,
                format!("the API key {:?} may not use the app {app:?}", key.name),
            )
            .field("X-Attune-App")
            .into_response();
        }
    }
    let name = KeyName(key.name.clone());
    req.extensions_mut().insert(name.clone());
    let mut res = next.run(req).await;
    res.extensions_mut().insert(name);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, key: &str, scopes: &[&str], apps: &[&str]) -> ApiKeySpec {
        ApiKeySpec {
            name: name.into(),
            key: Some(key.into()),
            key_sha256: None,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            apps: apps.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn sha256_matches_the_known_vector() {
        // FIPS 180-2 test vector for "abc".
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn clear_and_hashed_keys_are_the_same_key() {
        let clear = spec("a", "tracker-key-0123456789", &["ingest"], &["shop"]);
        let hashed = ApiKeySpec {
            key: None,
            key_sha256: Some(sha256_hex("tracker-key-0123456789").to_uppercase()),
            ..clear.clone()
        };
        assert_eq!(clear.check(0).unwrap(), hashed.check(0).unwrap());
        let auth = AuthConfig::new(true, false, &[hashed]).unwrap();
        assert_eq!(auth.lookup("tracker-key-0123456789").unwrap().name(), "a");
        assert!(auth.lookup("tracker-key-012345678").is_none());
        assert!(auth.lookup("").is_none());
    }

    #[test]
    fn admin_implies_every_scope_and_star_every_app() {
        let k = spec("adm", "admin-key-0123456789", &["admin"], &["*"])
            .check(0)
            .unwrap();
        assert!(Scope::ALL.iter().all(|&s| k.has_scope(s)));
        assert!(k.may_use("anything") && k.all_apps());
        let k = spec(
            "r",
            "reader-key-0123456789",
            &["read", "read"],
            &["shop", "blog"],
        )
        .check(0)
        .unwrap();
        assert!(k.has_scope(Scope::Read));
        assert!(!k.has_scope(Scope::Ingest) && !k.has_scope(Scope::Admin));
        assert!(k.may_use("blog") && !k.may_use("default") && !k.all_apps());
    }

    #[test]
    fn every_bad_entry_names_its_field() {
        let ok = spec("a", "tracker-key-0123456789", &["ingest"], &["shop"]);
        let cases: Vec<(ApiKeySpec, &str)> = vec![
            (
                ApiKeySpec {
                    name: " ".into(),
                    ..ok.clone()
                },
                "auth.keys[3].name",
            ),
            (
                ApiKeySpec {
                    key: None,
                    ..ok.clone()
                },
                "auth.keys[3].key",
            ),
            (
                ApiKeySpec {
                    key_sha256: Some(sha256_hex("x")),
                    ..ok.clone()
                },
                "auth.keys[3].key",
            ),
            (
                ApiKeySpec {
                    key: Some("short".into()),
                    ..ok.clone()
                },
                "auth.keys[3].key",
            ),
            (
                ApiKeySpec {
                    key: Some("has a space in it!!".into()),
                    ..ok.clone()
                },
                "auth.keys[3].key",
            ),
            (
                ApiKeySpec {
                    key: None,
                    key_sha256: Some("abc".into()),
                    ..ok.clone()
                },
                "auth.keys[3].key_sha256",
            ),
            (
                ApiKeySpec {
                    key: None,
                    key_sha256: Some("g".repeat(64)),
                    ..ok.clone()
                },
                "auth.keys[3].key_sha256",
            ),
            (
                ApiKeySpec {
                    scopes: vec![],
                    ..ok.clone()
                },
                "auth.keys[3].scopes",
            ),
            (
                ApiKeySpec {
                    scopes: vec!["write".into()],
                    ..ok.clone()
                },
                "auth.keys[3].scopes",
            ),
            (
                ApiKeySpec {
                    apps: vec![],
                    ..ok.clone()
                },
                "auth.keys[3].apps",
            ),
            (
                ApiKeySpec {
                    apps: vec!["Shop!".into()],
                    ..ok.clone()
                },
                "auth.keys[3].apps",
            ),
        ];
        for (bad, field) in cases {
            let e = bad.check(3).unwrap_err();
            assert_eq!(e.field, field, "{bad:?}: {e}");
            assert!(!e.reason.is_empty());
        }
        assert!(ok.check(3).is_ok());
    }

    #[test]
    fn duplicate_names_or_keys_and_required_without_keys_are_errors() {
        let a = spec("a", "tracker-key-0123456789", &["ingest"], &["shop"]);
        let b = spec("a", "another-key-0123456789", &["read"], &["shop"]);
        assert_eq!(
            AuthConfig::new(false, false, &[a.clone(), b])
                .unwrap_err()
                .field,
            "auth.keys[1].name"
        );
        let c = spec("c", "tracker-key-0123456789", &["read"], &["shop"]);
        assert_eq!(
            AuthConfig::new(false, false, &[a, c]).unwrap_err().field,
            "auth.keys[1].key"
        );
        assert_eq!(
            AuthConfig::new(true, false, &[]).unwrap_err().field,
            "auth.required"
        );
        assert!(AuthConfig::new(false, true, &[]).is_ok());
    }

    #[test]
    fn keys_are_read_from_bearer_or_x_api_key() {
        let read = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_static(v));
            }
            match presented_key(&h) {
                Presented::None => "none".to_string(),
                Presented::Key(k) => k,
                Presented::Malformed(_) => "malformed".to_string(),
            }
        };
        assert_eq!(read(&[]), "none");
        assert_eq!(read(&[("authorization", "Bearer abc")]), "abc");
        assert_eq!(read(&[("authorization", "bearer  abc ")]), "abc");
        assert_eq!(read(&[("x-api-key", "xyz")]), "xyz");
        assert_eq!(read(&[("authorization", "Basic dXNlcg==")]), "malformed");
        assert_eq!(read(&[("authorization", "Bearer")]), "malformed");
        assert_eq!(read(&[("x-api-key", " ")]), "malformed");
        // Authorization wins when both are sent.
        assert_eq!(
            read(&[("authorization", "Bearer abc"), ("x-api-key", "xyz")]),
            "abc"
        );
    }

    #[test]
    fn debug_output_hides_the_hash() {
        let k = spec("a", "tracker-key-0123456789", &["ingest"], &["shop"])
            .check(0)
            .unwrap();
        let text = format!("{k:?}");
        assert!(!text.contains("sha256"), "{text}");
        assert!(text.contains("\"a\""), "{text}");
    }
}
