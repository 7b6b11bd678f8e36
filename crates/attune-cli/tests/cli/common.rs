//! Shared helpers: a temporary data directory and a runner for the real binary.

#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The workspace root (for `testdata/` and `scripts/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// A file under `testdata/`.
pub fn testdata(rel: &str) -> PathBuf {
    repo_root().join("testdata").join(rel)
}

/// A fresh data directory; the binary runs with `ATTUNE_DATA_DIR` pointing at it.
pub struct Attune {
    dir: tempfile::TempDir,
}

impl Attune {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The data directory (also a good place for scratch files).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A command for the binary with a hermetic environment: no inherited `ATTUNE_*` or
    /// `RUST_LOG`, logging at warn so stderr carries only what the command reports.
    pub fn command(&self, args: &[&str]) -> Command {
        self.hermetic(Command::new(env!("CARGO_BIN_EXE_attune")), args)
    }

    /// [`Attune::command`] run by `sh -c "<prefix> && exec attune <args>"`, for what a shell
    /// sets before starting a service (`ulimit -n 256`); the child's pid is attune's.
    pub fn shell_command(&self, prefix: &str, args: &[&str]) -> Command {
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg(format!("{prefix} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_attune"));
        self.hermetic(sh, args)
    }

    fn hermetic(&self, mut cmd: Command, args: &[&str]) -> Command {
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ATTUNE_") {
                cmd.env_remove(key);
            }
        }
        cmd.env_remove("RUST_LOG")
            .env("ATTUNE_DATA_DIR", self.path())
            .env("ATTUNE_LOG__LEVEL", "warn")
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Run to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run attune")
    }

    /// Run with `input` on standard input.
    pub fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn attune");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write stdin");
        child.wait_with_output().expect("wait for attune")
    }

    /// Run and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "attune {args:?} failed: {}",
            describe(&out)
        );
        stdout(&out)
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit status and both streams, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    )
}
