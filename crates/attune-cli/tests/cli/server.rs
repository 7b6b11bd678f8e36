//! `attune serve` as a child process, and a tiny blocking HTTP client for it.
//!
//! The server binds `127.0.0.1:0` (through `ATTUNE_SERVER__BIND`, the way an operator would
//! configure it) and the address is read back from its "listening on http://..." log line, so
//! parallel tests never race for a port. The child is killed when the [`Server`] is dropped, so
//! a failing assertion never leaves a server behind.

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::Attune;

/// PostgreSQL for the tests that must also pass on the shared backend.
pub fn postgres_url() -> String {
    std::env::var("ATTUNE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A private PostgreSQL schema (on [`postgres_url`]) for one test, dropped when the guard goes
/// out of scope whether the test passed or failed, so test runs leave nothing behind in the
/// shared database (a failed test's message says what went wrong; its data is not needed).
pub struct PgSchema {
    name: String,
    /// A store URL whose connections use only this schema.
    pub url: String,
}

impl PgSchema {
    pub fn new(tag: &str) -> PgSchema {
        let name = unique_app(tag).replace('-', "_");
        admin()
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .unwrap_or_else(|e| panic!("cannot create schema {name}: {e}"));
        let base = postgres_url();
        let sep = if base.contains('?') { '&' } else { '?' };
        PgSchema {
            url: format!("{base}{sep}options=-csearch_path%3D{name}"),
            name,
        }
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        // Errors are ignored: panicking here while a failed test unwinds would abort the binary.
        if let Ok(mut client) = postgres::Client::connect(&postgres_url(), postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

fn admin() -> postgres::Client {
    let url = postgres_url();
    postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| {
        panic!(
            "cannot use the PostgreSQL test server at {url}: {e}\nstart PostgreSQL (.ci/run does) or \
             point ATTUNE_TEST_POSTGRES_URL at one; these tests never skip"
        )
    })
}

/// A name no other test run uses: apps on the shared PostgreSQL never collide.
pub fn unique_app(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000_000
    )
}

/// A running `attune serve`.
pub struct Server {
    child: Child,
    /// `host:port` it listens on.
    pub addr: String,
    /// Everything it wrote to stderr so far (for failure messages).
    log: Arc<Mutex<String>>,
    agent: ureq::Agent,
}

/// How long a server may take to come up (a debug build opening PostgreSQL on a busy machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);

impl Server {
    /// Start `attune serve` in `attune`'s data directory, on `store_url` when given (else the
    /// SQLite default), and wait until `/ready` answers 200.
    pub fn start(attune: &Attune, store_url: Option<&str>) -> Server {
        Server::start_with_env(attune, store_url, &[])
    }

    /// [`Server::start`] with extra environment variables (`ATTUNE_CONFIG`, ...).
    pub fn start_with_env(
        attune: &Attune,
        store_url: Option<&str>,
        env: &[(&str, &str)],
    ) -> Server {
        Server::spawn(attune.command(&["serve"]), store_url, env, true)
    }

    /// [`Server::start_with_env`] that returns once it listens, ready or not (a broker that
    /// is down keeps it unready).
    pub fn start_listening(attune: &Attune, env: &[(&str, &str)]) -> Server {
        Server::spawn(attune.command(&["serve"]), None, env, false)
    }

    /// `attune serve` started by `sh -c "<prefix> && exec attune serve"` (`ulimit -n 256`).
    pub fn start_in_shell(attune: &Attune, prefix: &str, env: &[(&str, &str)]) -> Server {
        Server::spawn(attune.shell_command(prefix, &["serve"]), None, env, true)
    }

    fn spawn(
        mut cmd: std::process::Command,
        store_url: Option<&str>,
        env: &[(&str, &str)],
        wait_ready: bool,
    ) -> Server {
        cmd.envs(env.iter().copied());
        cmd.env("ATTUNE_SERVER__BIND", "127.0.0.1:0")
            .env("ATTUNE_LOG__LEVEL", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(url) = store_url {
            cmd.env("ATTUNE_STORE__URL", url);
        }
        let mut child = cmd.spawn().expect("spawn attune serve");
        let log = Arc::new(Mutex::new(String::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = listening_addr(&line) {
                    let _ = addr_tx.send(addr);
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = match addr_rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "attune serve did not start (exit {status:?}); stderr:\n{}",
                    log.lock().unwrap()
                );
            }
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let server = Server {
            child,
            addr,
            log,
            agent,
        };
        if wait_ready {
            server.wait_ready();
        }
        server
    }

    pub fn wait_ready(&self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(res) = self.agent.get(self.url("/ready")).call() {
                if res.status() == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "attune serve on {} never became ready; stderr:\n{}",
                self.addr,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://addr{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The server's stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The process id (to send it signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A client for this server (keep-alive; 4xx/5xx are answers, not errors).
    pub fn client(&self) -> Client {
        Client {
            agent: self.agent.clone(),
            base: format!("http://{}", self.addr),
            app: None,
        }
    }

    /// SIGKILL: no shutdown code runs, requests in flight are cut off.
    pub fn kill9(&mut self) -> ExitStatus {
        self.child.kill().expect("SIGKILL attune serve");
        self.child.wait().expect("wait for attune serve")
    }

    /// SIGTERM, then wait (at most `timeout`) for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "attune serve did not stop within {timeout:?} of SIGTERM; stderr:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address in a "listening on http://ADDR" log line (colours or not).
fn listening_addr(line: &str) -> Option<String> {
    let rest = &line[line.find("listening on http://")? + "listening on http://".len()..];
    let addr: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '\u{1b}')
        .collect();
    (!addr.is_empty()).then_some(addr)
}

/// A blocking client bound to one server and (optionally) one app.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
    app: Option<String>,
}

/// Status and body of an answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl Client {
    /// The same client, sending `X-Attune-App: app`.
    pub fn with_app(&self, app: &str) -> Client {
        Client {
            app: Some(app.to_string()),
            ..self.clone()
        }
    }

    pub fn get(&self, path: &str) -> Result<Answer, ureq::Error> {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if let Some(app) = &self.app {
            req = req.header("x-attune-app", app);
        }
        answer(req.call()?)
    }

    /// POST a JSON body.
    pub fn post(&self, path: &str, body: &[u8]) -> Result<Answer, ureq::Error> {
        let mut req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(app) = &self.app {
            req = req.header("x-attune-app", app);
        }
        answer(req.send(body)?)
    }
}

impl Client {
    /// PUT a JSON body.
    pub fn put(&self, path: &str, body: &[u8]) -> Result<Answer, ureq::Error> {
        let mut req = self
            .agent
            .put(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(app) = &self.app {
            req = req.header("x-attune-app", app);
        }
        answer(req.send(body)?)
    }
}

fn answer(mut res: ureq::http::Response<ureq::Body>) -> Result<Answer, ureq::Error> {
    let status = res.status().as_u16();
    let body = res
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()?;
    Ok(Answer { status, body })
}
