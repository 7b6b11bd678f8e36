//! Time limits of a connection and of a request, and the two that are answered.
//!
//! [`Timeouts`] holds all four (`[server]` `*_timeout_secs`). The header-read and idle ones
//! close a connection that has no request in flight (`watchdog.rs`; nothing to answer). The
//! other two are enforced here, in a middleware inside the request log, so their answers are
//! problem+json and counted by status like any other:
//!
//! - **body read** → 408 `request_timeout` (field `body`) with `Connection: close`: the
//!   client did not send the body it announced within `body_read_timeout` of its head. The
//!   deadline is for the whole body, not between two reads, so a body trickled a byte at a
//!   time cannot hold a request open indefinitely. The connection is closed because the rest
//!   of that body may still be on its way (RFC 9110, 15.5.9).
//! - **whole request** → 503 `timeout` with `Retry-After: 1`: the server did not answer
//!   within `request_timeout`. 503, not 504: 504 says a gateway's upstream failed, and a
//!   client or proxy would blame the wrong hop; Go's `http.TimeoutHandler` answers 503 too.
//!   Work already handed to the blocking pool or the ingester is not undone (it cannot be
//!   cancelled safely): a timed-out `POST /v1/events` may still commit, and retrying it with
//!   the same `event_id`s is safe (duplicates change nothing).

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::{Frame, SizeHint};

use crate::problem::{ErrorCode, Problem};
use crate::AppState;

/// The connection and request time limits (`[server]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// A request head must be complete this long after its first byte (and a fresh connection
    /// must send one within this time, or within `idle` when shorter); else the connection is
    /// closed without an answer.
    pub header_read: Duration,
    /// A request's whole body must arrive within this time of its head; else 408.
    pub body_read: Duration,
    /// A keep-alive connection without a request is closed after this long.
    pub idle: Duration,
    /// The server must answer within this time of the head; else 503 `timeout`.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            body_read: Duration::from_secs(30),
            // Longer than the 60 s idle timeout of common load balancers, which must close
            // first: see `watchdog.rs`.
            idle: Duration::from_secs(75),
            request: Duration::from_secs(60),
        }
    }
}

/// The error a body read gets once the body deadline has passed; `extract::read_body` turns
/// it into the 408.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyReadTimeout(pub Duration);

/// A request body that fails with [`BodyReadTimeout`] once its deadline has passed.
struct DeadlineBody {
    inner: Body,
    limit: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl HttpBody for DeadlineBody {
    type Data = axum::body::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        // Data already there is taken even at the deadline: only waiting is limited.
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    let timed_out: axum::BoxError = Box::new(BodyReadTimeout(self.limit));
                    Poll::Ready(Some(Err(timed_out)))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The 408 for a body that did not arrive in time.
pub(crate) fn body_timeout_problem(limit: Duration) -> Problem {
    Problem::new(
        ErrorCode::RequestTimeout,
        format!(
            "the request body did not arrive within {} s of the request head (server.body_read_timeout_secs)",
            limit.as_secs_f64()
        ),
    )
    .field("body")
}

/// The middleware: the body gets its deadline, the whole request its time limit.
pub(crate) async fn limit_time(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let limits = state.config.timeouts;
    // A request without a body (most GETs) needs no deadline, nor its timer.
    let req = if req.body().is_end_stream() {
        req
    } else {
        req.map(|inner| {
            Body::new(DeadlineBody {
                inner,
                limit: limits.body_read,
                deadline: Box::pin(tokio::time::sleep(limits.body_read)),
            })
        })
    };
    let mut res = match tokio::time::timeout(limits.request, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            let mut res = Problem::new(
                ErrorCode::Timeout,
                format!(
                    "the server did not answer within {} s (server.request_timeout_secs); work it started may still complete, so retry only what is safe to repeat (events with their event_id are)",
                    limits.request.as_secs_f64()
                ),
            )
            .into_response();
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return res;
        }
    };
    let timed_out = res
        .extensions()
        .get::<Problem>()
        .is_some_and(|p| p.code == ErrorCode::RequestTimeout);
    if timed_out {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}
