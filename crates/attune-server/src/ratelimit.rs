//! Rate limits per API key and app: a token bucket per (who, app), one set for ingestion and
//! one for reads (`[server.rate_limits]`).
//!
//! **What is limited.** Routes whose access rule is [`Scope::Ingest`] on an app (`POST
//! /v1/events`, `/v1/identify`, consent) draw from the ingestion buckets; [`Scope::Read`] on an
//! app (recommendations, similar, popular, items, users, monitoring reads) from the read
//! buckets. Admin and open routes (`/health`, `/ready`, `/metrics`) are never limited: a load
//! balancer's probes and an operator's fix must not be refused by the traffic they are there
//! to handle.
//!
//! **Who.** The bucket key is the API key's name (authentication has run: an invalid key was
//! refused already, so nobody can mint fresh buckets with made-up keys) or, for a request
//! without a key (`auth.required = false`), the client's IP address: each anonymous client
//! has its own bucket, and behind a proxy they all share the proxy's. **App:** the app the
//! request names when it exists; any other name shares one bucket, so made-up app names
//! neither escape the limit nor grow memory (that request gets its 404 afterwards).
//!
//! **Answer.** Over the limit: 429 `rate_limited` with `Retry-After` in whole seconds, rounded
//! up (at least 1), naming the setting in `field`. Limited requests are counted in
//! `attune_rate_limited_total{class,app,key}` (`key` is the key's name or `anonymous`).
//!
//! **Defaults: off.** What is too much depends on the deployment (a tracker batching events
//! sends a few requests per second; a page view may ask for several lists), and a limit set
//! too low silently loses events from clients that do not retry. Operators set them
//! knowingly; docs/operations.md has starting points.
//!
//! The buckets are governor's GCRA, the token bucket computed from one timestamp per key
//! (exact, lock-free), rather than a hand-written one. Keys idle long enough to be full again
//! are dropped every few thousand checks, so memory follows the active clients.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::auth::{Access, KeyName, Scope};
use crate::problem::{ErrorCode, Problem};
use crate::{AppState, ConfigError};

/// One token bucket: `per_sec` tokens refill every second, up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Sustained requests per second (may be fractional: 0.5 is one every 2 s).
    pub per_sec: f64,
    /// Requests allowed at once from a full bucket.
    pub burst: u32,
}

impl Bucket {
    /// A checked bucket, or `None` when `per_sec` is 0 (that class is not limited). `name` is
    /// the class (`ingest`, `read`); errors name `server.rate_limits.<name>_per_sec` or
    /// `..._burst`.
    pub fn new(name: &str, per_sec: f64, burst: u32) -> Result<Option<Bucket>, ConfigError> {
        let err = |key: &str, reason: &str| ConfigError {
            field: format!("server.rate_limits.{name}_{key}"),
            reason: reason.into(),
        };
        if !(per_sec.is_finite() && per_sec >= 0.0) {
            return Err(err("per_sec", "must be a number >= 0 (0: not limited)"));
        }
        if per_sec == 0.0 {
            return Ok(None);
        }
        // A bucket refilled less than once a day is a mistake, and keeps Duration finite.
        if per_sec < 1.0 / 86_400.0 {
            return Err(err(
                "per_sec",
                "must be 0 (off) or at least one a day (1.2e-5)",
            ));
        }
        if burst == 0 {
            return Err(err("burst", "must be at least 1"));
        }
        Ok(Some(Bucket { per_sec, burst }))
    }

    fn quota(self) -> Quota {
        let period = Duration::from_secs_f64(1.0 / self.per_sec).max(Duration::from_nanos(1));
        Quota::with_period(period)
            .expect("the period is positive")
            .allow_burst(NonZeroU32::new(self.burst).expect("checked: burst >= 1"))
    }
}

/// The `[server.rate_limits]` settings: a bucket per class, `None` = not limited (default).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RateLimits {
    /// Ingestion: `POST /v1/events`, `/v1/identify`, `PUT /v1/users/{id}/consent`.
    pub ingest: Option<Bucket>,
    /// Reads: recommendations, similar, popular, trending, items, users, monitoring reads.
    pub read: Option<Bucket>,
}

/// Which set of buckets a route draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Ingest,
    Read,
}

impl Class {
    fn as_str(self) -> &'static str {
        match self {
            Class::Ingest => "ingest",
            Class::Read => "read",
        }
    }
}

/// Whose bucket: a key's name or an anonymous client's address, and the app.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Who {
    Key(String),
    Anonymous(Option<IpAddr>),
}

type Keyed = DefaultKeyedRateLimiter<(Who, String)>;

/// The buckets of one server.
pub(crate) struct Limiter {
    limits: RateLimits,
    ingest: Option<Keyed>,
    read: Option<Keyed>,
    checks: AtomicU64,
}

/// How often (in checks) idle keys are dropped.
const SWEEP_EVERY: u64 = 4096;

/// The bucket of an app name that does not exist (yet, as far as this server knows).
const UNKNOWN_APP: &str = "-";

impl Limiter {
    pub(crate) fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            ingest: limits.ingest.map(|b| Keyed::keyed(b.quota())),
            read: limits.read.map(|b| Keyed::keyed(b.quota())),
            checks: AtomicU64::new(0),
        }
    }

    /// Take a token; `Err(wait)` when the bucket is empty.
    fn check(&self, class: Class, who: Who, app: String) -> Option<Result<(), Duration>> {
        let keyed = match class {
            Class::Ingest => self.ingest.as_ref()?,
            Class::Read => self.read.as_ref()?,
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            keyed.retain_recent();
            keyed.shrink_to_fit();
        }
        Some(
            keyed
                .check_key(&(who, app))
                .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now())),
        )
    }

    fn bucket(&self, class: Class) -> Option<Bucket> {
        match class {
            Class::Ingest => self.limits.ingest,
            Class::Read => self.limits.read,
        }
    }
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// `Retry-After` in whole seconds: rounded up, at least 1.
fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs_f64().ceil() as u64).max(1)
}

/// The middleware (after `auth::authorize`, which has named the key): take a token from the
/// request's bucket or answer 429.
pub(crate) async fn limit_rate(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    // Off (the default): no route lookup, nothing.
    if state.limiter.limits == RateLimits::default() {
        return next.run(req).await;
    }
    let access = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|r| crate::routes::access(req.method(), r.as_str()));
    let class = match access {
        Some(Access::App(Scope::Ingest)) => Class::Ingest,
        Some(Access::App(Scope::Read)) => Class::Read,
        _ => return next.run(req).await,
    };
    let Some(bucket) = state.limiter.bucket(class) else {
        return next.run(req).await;
    };
    let who = match req.extensions().get::<KeyName>() {
        Some(k) => Who::Key(k.0.clone()),
        None => Who::Anonymous(
            req.extensions()
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ),
    };
    let named = crate::auth::requested_app(req.headers());
    let app = if state.knows_app(&named) {
        named
    } else {
        UNKNOWN_APP.to_string()
    };
    let wait = match state.limiter.check(class, who.clone(), app.clone()) {
        None | Some(Ok(())) => return next.run(req).await,
        Some(Err(wait)) => wait,
    };
    let secs = retry_after_secs(wait);
    let (key_label, whom) = match &who {
        Who::Key(name) => (name.as_str(), format!("the API key {name:?}")),
        Who::Anonymous(_) => ("anonymous", "this client (no API key)".to_string()),
    };
    state.metrics.rate_limited(class.as_str(), &app, key_label);
    let setting = format!("{}_per_sec", class.as_str());
    let mut res = Problem::new(
        ErrorCode::RateLimited,
        format!(
            "{whom} sent more {} requests to app {app:?} than server.rate_limits allows ({} per second, bursts of {}); retry after {secs} s",
            class.as_str(),
            bucket.per_sec,
            bucket.burst
        ),
    )
    .field(setting)
    .with("limit", bucket.per_sec)
    .with("burst", bucket.burst)
    .with("retry_after", secs)
    .into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_by_name() {
        assert_eq!(Bucket::new("ingest", 0.0, 0).unwrap(), None);
        let b = Bucket::new("read", 2.5, 10).unwrap().unwrap();
        assert_eq!((b.per_sec, b.burst), (2.5, 10));
        for (rate, burst, field) in [
            (-1.0, 5, "server.rate_limits.ingest_per_sec"),
            (f64::NAN, 5, "server.rate_limits.ingest_per_sec"),
            (1e-9, 5, "server.rate_limits.ingest_per_sec"),
            (10.0, 0, "server.rate_limits.ingest_burst"),
        ] {
            assert_eq!(Bucket::new("ingest", rate, burst).unwrap_err().field, field);
        }
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(10)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1000)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
    }

    #[test]
    fn a_bucket_allows_its_burst_then_waits_one_period() {
        let limiter = Limiter::new(RateLimits {
            ingest: Bucket::new("ingest", 0.5, 3).unwrap(),
            read: None,
        });
        let who = || Who::Key("tracker".into());
        for _ in 0..3 {
            assert_eq!(
                limiter.check(Class::Ingest, who(), "shop".into()),
                Some(Ok(()))
            );
        }
        let Some(Err(wait)) = limiter.check(Class::Ingest, who(), "shop".into()) else {
            panic!("the fourth request passed");
        };
        assert!(
            wait > Duration::from_millis(1900) && wait <= Duration::from_secs(2),
            "{wait:?}"
        );
        // Another app, another key: their own buckets. Reads are not limited.
        assert_eq!(
            limiter.check(Class::Ingest, who(), "blog".into()),
            Some(Ok(()))
        );
        assert_eq!(
            limiter.check(Class::Ingest, Who::Anonymous(None), "shop".into()),
            Some(Ok(()))
        );
        assert_eq!(limiter.check(Class::Read, who(), "shop".into()), None);
    }
}
