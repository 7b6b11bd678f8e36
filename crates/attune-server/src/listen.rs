//! The accept loop: connections under a cap, each with its deadlines, and graceful shutdown.
//!
//! `axum::serve` times nothing out: a client that opens connections and sends nothing keeps
//! each one (and its file descriptor) forever, and once the process runs out of descriptors
//! `accept` fails and nobody is served. This loop adds what a server facing the internet needs:
//!
//! - **Deadlines per connection** (`watchdog.rs`): a connection with no request in flight is
//!   closed after the idle timeout, and a started request head must be complete within the
//!   header-read timeout. Bodies and whole requests are limited in `timeouts.rs`.
//! - **A cap** (`server.max_connections`). Over it a connection is still accepted, answered
//!   at once with 503 `overloaded` problem+json, `Retry-After: 1` and `Connection: close`, and
//!   closed. Answering rather than leaving it in the kernel's backlog (what a plain accept
//!   limit does) is deliberate: a client or load balancer learns in a millisecond that this
//!   replica is full and can go elsewhere, instead of waiting out its connect or read timeout
//!   on a server that looks dead; and the backlog keeps moving, so ordinary clients are not
//!   stuck behind idle ones. The answer does not read the request (that would cost what the
//!   cap saves); the socket is then drained briefly so the close does not turn into a reset
//!   that loses the answer. Answering is itself capped; beyond that, connections are closed.
//! - **Accept errors are paused, not spun on.** `EMFILE` ("Too many open files") and its kin
//!   leave the pending connection in the backlog, so retrying at once would busy-loop. The
//!   loop pauses 5 ms, doubling to 1 s while failures go on (as Go's `net/http` does), logs
//!   at most one error line a minute (with the count since the last one), and one line when a
//!   logged run of failures ends. Every failure counts in `attune_http_accept_errors_total`.
//!
//! **Shutdown** keeps `axum::serve`'s semantics: when the shutdown future completes, the
//! listener is closed at once (new connections are refused), idle connections are closed,
//! requests in flight are answered, and [`run`] returns when the last connection has closed.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tower::ServiceExt as _;

use crate::metrics::Metrics;
use crate::problem::{ErrorCode, Problem};
use crate::timeouts::Timeouts;
use crate::watchdog::{self, Activity, Deadlines, Watched};

/// Connections answered 503 at the same time, at most (each holds a descriptor for up to
/// [`REFUSAL_LINGER`]); more are closed without an answer.
const MAX_REFUSING: usize = 64;
/// How long answering an over-cap connection may take, draining included.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);
/// Descriptors kept for everything but client connections (store, logs, webhooks, Redis).
const RESERVED_FDS: u64 = 64;

/// Serve `app` on `listener` under `max_connections` and `timeouts` until `shutdown`
/// completes and every connection has closed.
pub(crate) async fn run(
    listener: TcpListener,
    app: axum::Router,
    metrics: Arc<Metrics>,
    timeouts: Timeouts,
    max_connections: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    warn_if_files_are_short(max_connections);
    // Dropping the receiver tells every task that shutdown began (`closed()` resolves);
    // every connection task holds a `close_rx` until it ends.
    let (signal_tx, signal_rx) = watch::channel(());
    tokio::spawn(async move {
        shutdown.await;
        drop(signal_rx);
    });
    let (close_tx, close_rx) = watch::channel(());
    let slots = Arc::new(Semaphore::new(max_connections));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let overloaded = overloaded_answer(max_connections);
    let deadlines = Deadlines {
        header_read: timeouts.header_read,
        idle: timeouts.idle,
    };
    let mut backoff = Backoff::default();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = signal_tx.closed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(conn) => {
                backoff.succeeded();
                conn
            }
            Err(e) if client_went_away(&e) => continue,
            Err(e) => {
                metrics.accept_error();
                let pause = backoff.failed(&e);
                tokio::select! {
                    () = tokio::time::sleep(pause) => continue,
                    () = signal_tx.closed() => break,
                }
            }
        };
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                let conn = Connection {
                    app: app.clone(),
                    metrics: metrics.clone(),
                    deadlines,
                    signal: signal_tx.clone(),
                    close_rx: close_rx.clone(),
                };
                tokio::spawn(conn.serve(stream, peer, slot));
            }
            Err(_) => {
                metrics.connection_rejected();
                if let Ok(permit) = refusing.clone().try_acquire_owned() {
                    tokio::spawn(refuse(stream, overloaded.clone(), permit));
                }
            }
        }
    }
    tracing::debug!("shutdown: no longer accepting connections");
    drop(listener);
    drop(close_rx);
    close_tx.closed().await;
}

/// What one accepted connection needs.
struct Connection {
    app: axum::Router,
    metrics: Arc<Metrics>,
    deadlines: Deadlines,
    signal: watch::Sender<()>,
    close_rx: watch::Receiver<()>,
}

impl Connection {
    async fn serve(self, stream: TcpStream, peer: SocketAddr, _slot: OwnedSemaphorePermit) {
        let _open = self.metrics.connection_opened();
        let activity = Activity::new();
        let io = TokioIo::new(Watched::new(stream, activity.clone()));
        let app = self.app;
        let on_request = activity.clone();
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let busy = on_request.request_started();
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            let app = app.clone();
            async move {
                let res = app.oneshot(req).await;
                drop(busy);
                res
            }
        });
        // The header-read deadline is the watchdog's (hyper's would also cut idle
        // keep-alive connections at the same moment).
        let conn = hyper::server::conn::http1::Builder::new()
            .header_read_timeout(None::<Duration>)
            .serve_connection(io, service);
        let mut conn = std::pin::pin!(conn);
        let mut deadline = std::pin::pin!(watchdog::watch(&activity, self.deadlines));
        let mut stopping = std::pin::pin!(self.signal.closed());
        let mut draining = false;
        loop {
            tokio::select! {
                served = conn.as_mut() => {
                    if let Err(e) = served {
                        tracing::trace!(%peer, error = %e, "connection ended with an error");
                    }
                    break;
                }
                expired = &mut deadline => {
                    // No request is in flight: dropping the connection closes the socket.
                    self.metrics.connection_timed_out(expired.as_str());
                    tracing::trace!(%peer, timeout = expired.as_str(), "connection timed out");
                    break;
                }
                () = &mut stopping, if !draining => {
                    conn.as_mut().graceful_shutdown();
                    draining = true;
                }
            }
        }
        drop(self.close_rx);
    }
}

/// The full HTTP answer to a connection over the cap.
fn overloaded_answer(max_connections: usize) -> Arc<[u8]> {
    let problem = Problem::new(
        ErrorCode::Overloaded,
        format!(
            "the server has {max_connections} connections open (server.max_connections); retry shortly, or on another replica"
        ),
    )
    .field("max_connections")
    .with("limit", max_connections);
    // The request was not read, so its path (`instance`) is not known.
    let body = serde_json::to_vec(&problem.to_json("")).unwrap_or_default();
    let mut answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: {}\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        crate::problem::PROBLEM_JSON,
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    answer.into()
}

/// Answer 503 without reading the request, then drain until the client closes (at most
/// [`REFUSAL_LINGER`] in all), so the close is not a reset that discards the answer.
async fn refuse(mut stream: TcpStream, answer: Arc<[u8]>, _permit: OwnedSemaphorePermit) {
    let answered = async {
        stream.write_all(&answer).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    };
    let _ = tokio::time::timeout(REFUSAL_LINGER, answered).await;
}

/// Errors about one connection that the client abandoned before it was accepted: nothing
/// is wrong with the server, the next accept is independent.
fn client_went_away(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionRefused
    )
}

/// The pause after failed accepts, and their log lines: at most one error line a minute
/// however the failures come (a run of thousands, or failures alternating with successes as
/// each closed connection frees one descriptor), and one line when a logged run ends.
#[derive(Debug, Default)]
struct Backoff {
    pause: Duration,
    /// Failures in the current run (since the last successful accept).
    failures: u64,
    since: Option<Instant>,
    /// Whether the current run was logged (its end is logged then).
    run_logged: bool,
    /// Failures since the last error line.
    unlogged: u64,
    last_log: Option<Instant>,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_secs(1);
    const LOG_EVERY: Duration = Duration::from_secs(60);

    /// Count a failure; the pause before the next accept.
    fn failed(&mut self, e: &std::io::Error) -> Duration {
        let now = Instant::now();
        self.failures += 1;
        self.unlogged += 1;
        self.pause = if self.failures == 1 {
            Self::FIRST
        } else {
            (self.pause * 2).min(Self::MAX)
        };
        self.since.get_or_insert(now);
        if self.last_log.is_none_or(|t| now - t >= Self::LOG_EVERY) {
            let hint = if is_out_of_files(e) {
                "; raise the open-file limit (ulimit -n, systemd LimitNOFILE) or lower server.max_connections"
            } else {
                ""
            };
            tracing::error!(
                error = %e,
                failures = self.unlogged,
                "cannot accept connections: pausing up to 1 s between attempts{hint} (attune_http_accept_errors_total counts them; next report in a minute at most)"
            );
            self.last_log = Some(now);
            self.unlogged = 0;
            self.run_logged = true;
        }
        self.pause
    }

    /// An accept worked: the run of failures is over.
    fn succeeded(&mut self) {
        if self.failures == 0 {
            return;
        }
        if self.run_logged {
            let secs = self.since.map_or(0.0, |t| t.elapsed().as_secs_f64());
            tracing::warn!(
                failures = self.failures,
                "accepting connections again after {} failed accepts over {secs:.1} s",
                self.failures
            );
        }
        self.pause = Duration::ZERO;
        self.failures = 0;
        self.since = None;
        self.run_logged = false;
    }
}

#[cfg(unix)]
fn is_out_of_files(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

#[cfg(not(unix))]
fn is_out_of_files(_: &std::io::Error) -> bool {
    false
}

/// The soft open-file limit of this process.
#[cfg(unix)]
fn open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given, which lives for the call.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    // rlim_t is u64 on Linux but not on every unix.
    #[allow(clippy::unnecessary_cast)]
    let soft = limit.rlim_cur as u64;
    (rc == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(soft)
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<u64> {
    None
}

/// Say at start when the cap cannot be reached: accept would fail with `EMFILE` first, and
/// clients over the limit would wait instead of getting the 503.
fn warn_if_files_are_short(max_connections: usize) {
    let Some(limit) = open_file_limit() else {
        return;
    };
    if max_connections as u64 + RESERVED_FDS > limit {
        tracing::warn!(
            max_connections,
            open_file_limit = limit,
            "server.max_connections is more than the open-file limit leaves for connections \
             (about {}): past that, accept fails (paused and retried) instead of answering 503; \
             raise the limit (ulimit -n, systemd LimitNOFILE) or lower server.max_connections",
            limit.saturating_sub(RESERVED_FDS)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_doubles_to_one_second_and_resets() {
        let mut b = Backoff::default();
        let e = std::io::Error::other("test");
        let pauses: Vec<u64> = (0..10).map(|_| b.failed(&e).as_millis() as u64).collect();
        assert_eq!(pauses, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        b.succeeded();
        assert_eq!(b.failed(&e), Duration::from_millis(5));
        // Logged once: the next line is a minute away, whatever happens meanwhile.
        assert_eq!(b.unlogged, 10);
        b.succeeded();
        assert!(!b.run_logged);
    }

    #[test]
    fn the_overloaded_answer_is_a_complete_problem_response() {
        let answer = overloaded_answer(7);
        let text = std::str::from_utf8(&answer).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(head.contains("\r\nretry-after: 1\r\n"), "{head}");
        assert!(head.contains("\r\nconnection: close\r\n"), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["code"], "overloaded");
        assert_eq!(v["status"], 503);
        assert_eq!(v["limit"], 7);
        assert_eq!(v["field"], "max_connections");
    }
}
