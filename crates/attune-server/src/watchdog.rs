//! The header-read and idle keep-alive deadlines of one connection.
//!
//! hyper's own `header_read_timeout` starts when a connection goes idle, so it is one timer
//! for two different waits: a client that sends nothing at all, and one that trickles a
//! request head. A server behind a load balancer wants them apart (nginx's
//! `keepalive_timeout` and `client_header_timeout`, Go's `IdleTimeout` and
//! `ReadHeaderTimeout`): idle keep-alive connections should outlive the balancer's own idle
//! timeout (often 60 s), or it reuses a connection just as the server closes it and answers
//! its client 502; a request head, once started, should arrive within seconds.
//!
//! So the connection is watched from two sides: [`Watched`] wraps the socket and sees bytes
//! go in and out, and [`Activity::request_started`] is called when hyper hands a complete
//! head to the service. That gives three phases:
//!
//! - **idle** (just accepted, or the last response is done): closed after `idle_timeout`
//!   without a byte from the client. The first connection's wait counts as idle too: a
//!   client that connects and sends nothing is closed then, or sooner by `header_read_timeout`
//!   when that is shorter (the deadline of a fresh connection is the smaller of the two).
//! - **head** (a byte arrived while idle): the head must be complete within
//!   `header_read_timeout`.
//! - **busy** (a request is being handled): no deadline here; the body-read and request
//!   timeouts (`timeouts.rs`) bound it.
//!
//! [`watch`] resolves when a deadline passes; the connection task then drops the connection
//! (no request is in flight in those phases, so nothing is cut off).

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Which wait expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    /// Nothing arrived within the idle (keep-alive) timeout.
    Idle,
    /// A request head was started but not completed within the header-read timeout.
    Header,
}

impl Expired {
    /// The metric label.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Expired::Idle => "idle",
            Expired::Header => "header",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Freshly accepted: nothing read yet.
    Fresh,
    Idle,
    Head,
    Busy,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// When the phase began (idle: refreshed by every byte written).
    since: Instant,
    /// Requests handed to the service and not answered yet (HTTP/1 pipelining may overlap a
    /// finished response and the next head).
    in_flight: usize,
}

/// What one connection is doing, shared by its socket wrapper, its service and its watchdog.
#[derive(Debug)]
pub(crate) struct Activity {
    state: Mutex<State>,
    changed: Notify,
}

impl Activity {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                phase: Phase::Fresh,
                since: Instant::now(),
                in_flight: 0,
            }),
            changed: Notify::new(),
        })
    }

    fn update(&self, f: impl FnOnce(&mut State) -> bool) {
        let notify = f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
        if notify {
            self.changed.notify_one();
        }
    }

    fn read(&self) {
        self.update(|s| match s.phase {
            Phase::Fresh | Phase::Idle => {
                s.phase = Phase::Head;
                s.since = Instant::now();
                true
            }
            Phase::Head | Phase::Busy => false,
        });
    }

    fn wrote(&self) {
        // A response still being written keeps the connection from counting as idle.
        self.update(|s| {
            if s.phase == Phase::Idle {
                s.since = Instant::now();
            }
            false
        });
    }

    /// hyper called the service: a request head is complete. The guard marks the request
    /// answered when dropped.
    pub(crate) fn request_started(self: &Arc<Self>) -> RequestGuard {
        self.update(|s| {
            s.in_flight += 1;
            s.phase = Phase::Busy;
            true
        });
        RequestGuard(self.clone())
    }

    fn snapshot(&self) -> (Phase, Instant) {
        let s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        (s.phase, s.since)
    }
}

/// Keeps a connection busy while a request is being handled.
#[derive(Debug)]
pub(crate) struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.update(|s| {
            s.in_flight = s.in_flight.saturating_sub(1);
            if s.in_flight == 0 {
                s.phase = Phase::Idle;
                s.since = Instant::now();
            }
            true
        });
    }
}

/// The two deadlines.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadlines {
    pub(crate) header_read: Duration,
    pub(crate) idle: Duration,
}

/// Resolves when the connection has been idle, or in a request head, for too long; never
/// while a request is being handled.
pub(crate) async fn watch(activity: &Activity, limits: Deadlines) -> Expired {
    loop {
        let (phase, since) = activity.snapshot();
        let (deadline, expired) = match phase {
            Phase::Fresh => (since + limits.idle.min(limits.header_read), Expired::Idle),
            Phase::Idle => (since + limits.idle, Expired::Idle),
            Phase::Head => (since + limits.header_read, Expired::Header),
            Phase::Busy => {
                activity.changed.notified().await;
                continue;
            }
        };
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {
                // Bytes written meanwhile move `since` without a notification: look again.
                if activity.snapshot() == (phase, since) {
                    return expired;
                }
            }
            () = activity.changed.notified() => {}
        }
    }
}

/// A socket that reports its traffic to an [`Activity`].
#[derive(Debug)]
pub(crate) struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    pub(crate) fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Within a millisecond of `secs` (the clock is paused: timers fire exactly).
    #[track_caller]
    fn assert_secs(took: Duration, secs: u64) {
        let want = Duration::from_secs(secs);
        assert!(
            took >= want && took < want + Duration::from_millis(1),
            "{took:?}, expected {want:?}"
        );
    }

    const LIMITS: Deadlines = Deadlines {
        header_read: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    #[tokio::test(start_paused = true)]
    async fn a_fresh_connection_waits_the_shorter_of_the_two() {
        let a = Activity::new();
        let start = Instant::now();
        assert_eq!(watch(&a, LIMITS).await, Expired::Idle);
        assert_secs(start.elapsed(), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn a_started_head_has_the_header_deadline_and_an_answered_request_the_idle_one() {
        let a = Activity::new();
        let start = Instant::now();
        a.read();
        assert_eq!(watch(&a, LIMITS).await, Expired::Header);
        assert_secs(start.elapsed(), 10);

        let a = Activity::new();
        a.read();
        let guard = a.request_started();
        let watcher = {
            let a = a.clone();
            tokio::spawn(async move { watch(&a, LIMITS).await })
        };
        // Busy for 100 s: no deadline runs.
        tokio::time::sleep(Duration::from_secs(100)).await;
        assert!(!watcher.is_finished());
        let answered = Instant::now();
        drop(guard);
        assert_eq!(watcher.await.unwrap(), Expired::Idle);
        assert_secs(answered.elapsed(), 60);
    }

    #[tokio::test(start_paused = true)]
    async fn writing_a_response_keeps_an_idle_connection_alive() {
        let a = Activity::new();
        drop(a.request_started());
        let start = Instant::now();
        let watcher = {
            let a = a.clone();
            tokio::spawn(async move { watch(&a, LIMITS).await })
        };
        tokio::time::sleep(Duration::from_secs(50)).await;
        a.wrote();
        assert_eq!(watcher.await.unwrap(), Expired::Idle);
        assert_secs(start.elapsed(), 110);
    }
}
