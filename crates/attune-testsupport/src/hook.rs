//! A real HTTP/1.1 receiver on `127.0.0.1:<free port>` for tests of outgoing webhooks: it
//! records every request, answers with the statuses a test scripts (then 200), and can hold
//! its answers to play a slow receiver. Plain `std::net`, one thread per connection, every
//! connection closed after one answer.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// One request as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// `POST`, ...
    pub method: String,
    /// The request target (`/hook`).
    pub path: String,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The body (UTF-8, lossy).
    pub body: String,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    statuses: VecDeque<u16>,
    held: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The receiver; stops accepting when dropped.
pub struct HookReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl HookReceiver {
    /// A receiver that answers 200 to everything.
    pub fn start() -> Self {
        Self::with_statuses(&[])
    }

    /// A receiver that answers `statuses` in order, then 200.
    pub fn with_statuses(statuses: &[u16]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared::default());
        shared.lock().statuses = statuses.iter().copied().collect();
        let s = shared.clone();
        std::thread::Builder::new()
            .name("hook-receiver".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if s.stop.load(Ordering::SeqCst) {
                        return;
                    }
                    if let Ok(conn) = conn {
                        let s = s.clone();
                        std::thread::spawn(move || serve(&s, conn));
                    }
                }
            })
            .expect("spawn the receiver");
        Self { addr, shared }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().received.clone()
    }

    /// Wait until at least `n` requests have arrived (at most `timeout`); every request so
    /// far.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        while st.received.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        st.received.clone()
    }

    /// Read requests but do not answer them until [`HookReceiver::release`].
    pub fn hold(&self) {
        self.shared.lock().held = true;
    }

    /// Answer held requests and every later one.
    pub fn release(&self) {
        self.shared.lock().held = false;
        self.shared.changed.notify_all();
    }
}

impl Drop for HookReceiver {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.release();
        // Wake the accept loop so it sees `stop`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn serve(shared: &Shared, conn: TcpStream) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut length = 0usize;
    let mut content_type = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.to_string());
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let status = {
        let mut st = shared.lock();
        st.received.push(Received {
            method,
            path,
            content_type,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        shared.changed.notify_all();
        let status = st.statuses.pop_front().unwrap_or(200);
        while st.held && !shared.stop.load(Ordering::SeqCst) {
            st = shared
                .changed
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        status
    };
    let mut conn = conn;
    let _ = write!(
        conn,
        "HTTP/1.1 {status} {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        if status < 300 { "OK" } else { "Error" }
    );
    let _ = conn.flush();
}
