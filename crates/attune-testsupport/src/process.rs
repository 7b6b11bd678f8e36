//! What the per-test service fixtures ([`crate::RedisServer`], [`crate::KafkaBroker`]) share:
//! a port the kernel just handed out, and waiting for a started server to answer, or failing
//! with its log when it exits or never does.

use std::net::TcpListener;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// A port free right now on 127.0.0.1.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Wait up to 10 s until `ready()`; panics naming `what` with the log at `log` when the
/// child exits first or the time runs out.
pub(crate) fn wait_ready(child: &mut Child, what: &str, log: &Path, ready: impl Fn() -> bool) {
    let read_log = || std::fs::read_to_string(log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited ({status}): {}", read_log());
        }
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{what} did not answer within 10 s: {}", read_log());
}
