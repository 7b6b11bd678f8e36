//! CORS: which browser origins may call the API directly (a storefront's JavaScript tracker).
//!
//! Off by default: no origin is allowed, so browsers keep the same-origin rule and a server-side
//! integration needs nothing. When origins are configured, tower-http's `CorsLayer` answers
//! preflight requests (`OPTIONS` with `Access-Control-Request-Method`) before authentication runs
//! (browsers send no credentials on a preflight) and adds `Access-Control-Allow-Origin` to every
//! answer, errors included, so the page can read a 401 or 422. Credentials (cookies) are never
//! allowed: keys travel in headers.

use std::time::Duration;

use axum::http::{header, HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::API_KEY_HEADER;
use crate::problem::APP_HEADER;
use crate::ConfigError;

/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The checked list of allowed origins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsConfig {
    /// Empty: CORS off. `["*"]`: any origin. Otherwise exact origins (`https://shop.example`).
    origins: Vec<String>,
}

impl CorsConfig {
    /// Check `origins` (config key `server.cors_allowed_origins`): each is `*` alone, or
    /// `http(s)://host[:port]` with no path and no trailing slash (the form browsers send in
    /// `Origin`, so a near miss would silently never match).
    pub fn new(origins: &[String]) -> Result<Self, ConfigError> {
        let err = |i: usize, reason: String| ConfigError {
            field: format!("server.cors_allowed_origins[{i}]"),
            reason,
        };
        if origins.iter().any(|o| o == "*") && origins.len() > 1 {
            let i = origins.iter().position(|o| o != "*").unwrap_or(0);
            return Err(err(i, "\"*\" allows every origin and must be alone".into()));
        }
        for (i, o) in origins.iter().enumerate() {
            if o == "*" {
                continue;
            }
            let host = o
                .strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"))
                .ok_or_else(|| err(i, format!("{o:?} must start with http:// or https://")))?;
            let ok = !host.is_empty()
                && host
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b".-:[]".contains(&c));
            if !ok {
                return Err(err(
                    i,
                    format!("{o:?} must be scheme://host[:port], without a path or trailing slash"),
                ));
            }
        }
        Ok(Self {
            origins: origins.to_vec(),
        })
    }

    /// Whether any origin is allowed.
    pub fn is_enabled(&self) -> bool {
        !self.origins.is_empty()
    }

    /// The allowed origins as configured.
    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    /// The layer, when CORS is on.
    pub(crate) fn layer(&self) -> Option<CorsLayer> {
        if !self.is_enabled() {
            return None;
        }
        let allow = if self.origins == ["*"] {
            AllowOrigin::any()
        } else {
            AllowOrigin::list(
                self.origins
                    .iter()
                    .map(|o| HeaderValue::from_str(o).expect("checked in CorsConfig::new")),
            )
        };
        Some(
            CorsLayer::new()
                .allow_origin(allow)
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
                .allow_headers([
                    header::CONTENT_TYPE,
                    header::AUTHORIZATION,
                    HeaderName::from_static(API_KEY_HEADER),
                    HeaderName::from_static(APP_HEADER),
                ])
                .expose_headers([header::WWW_AUTHENTICATE])
                .max_age(PREFLIGHT_MAX_AGE),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn good_origins_pass_and_bad_ones_name_their_index() {
        for ok in [
            &[][..],
            &["*"],
            &[
                "https://shop.example",
                "http://localhost:3000",
                "http://[::1]:8080",
            ],
        ] {
            assert!(CorsConfig::new(&origins(ok)).is_ok(), "{ok:?}");
        }
        for (bad, idx) in [
            (&["https://shop.example/"][..], 0),
            (&["https://a.example", "shop.example"], 1),
            (&["https://a.example/path"], 0),
            (&["*", "https://a.example"], 1),
            (&["https://"], 0),
            (&["https://a b"], 0),
        ] {
            let e = CorsConfig::new(&origins(bad)).unwrap_err();
            assert_eq!(
                e.field,
                format!("server.cors_allowed_origins[{idx}]"),
                "{bad:?}"
            );
        }
        assert!(!CorsConfig::default().is_enabled());
        assert!(CorsConfig::default().layer().is_none());
    }
}
