//! `attune serve`, `attune config` and `attune demo`: start-up errors are one clear line and a
//! non-zero exit, configuration layers apply in order, SIGTERM is a clean stop, and the demo is
//! deterministic and careful with directories it did not create.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use attune_core::catalog::{Item, User};
use attune_core::event::Event;
use attune_store::{EventFilter, Store as _, DEFAULT_APP};

use crate::common::{describe, stderr, stdout, Attune};
use crate::server::Server;

/// The `attune: error: ...` lines of a failed run.
fn error_lines(out: &Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.starts_with("attune: error:"))
        .map(str::to_string)
        .collect()
}

#[test]
fn serve_on_a_busy_port_fails_with_one_clear_line() {
    let attune = Attune::new();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = attune
        .command(&["serve"])
        .env("ATTUNE_SERVER__BIND", &addr)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let errors = error_lines(&out);
    assert_eq!(errors.len(), 1, "{}", describe(&out));
    assert!(
        errors[0].contains(&format!("cannot listen on {addr}")) && errors[0].contains("in use"),
        "{}",
        errors[0]
    );

    // --bind wins over the configuration.
    let out = attune.run(&["serve", "--bind", &addr]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(error_lines(&out)[0].contains(&addr), "{}", describe(&out));
}

#[test]
fn serve_with_an_unreachable_store_fails_with_one_clear_line() {
    let attune = Attune::new();
    let out = attune
        .command(&["serve"])
        .env("ATTUNE_SERVER__BIND", "127.0.0.1:0")
        .env(
            "ATTUNE_STORE__URL",
            "postgres://postgres@127.0.0.1:1/nothing",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let errors = error_lines(&out);
    assert_eq!(errors.len(), 1, "{}", describe(&out));
    assert!(
        errors[0].contains("cannot open store postgres://postgres@127.0.0.1:1/nothing"),
        "{}",
        errors[0]
    );
}

#[test]
fn config_prints_the_effective_layers() {
    let attune = Attune::new();
    let defaults = attune.ok(&["config"]);
    assert!(defaults.contains("bind = \"127.0.0.1:8080\""), "{defaults}");
    assert!(defaults.contains("max_batch_events = 10000"), "{defaults}");

    let file = attune.path().join("attune.toml");
    std::fs::write(
        &file,
        "[server]\nbind = \"0.0.0.0:9000\"\nmax_batch_events = 77\n\n[events]\nrating_max = 10.0\n",
    )
    .unwrap();
    let from_file = attune.ok(&["config", "--config", file.to_str().unwrap()]);
    assert!(from_file.contains("bind = \"0.0.0.0:9000\""), "{from_file}");
    assert!(from_file.contains("max_batch_events = 77"), "{from_file}");
    assert!(from_file.contains("rating_max = 10.0"), "{from_file}");

    // The environment wins over the file.
    let out = attune
        .command(&["config", "--config", file.to_str().unwrap()])
        .env("ATTUNE_SERVER__BIND", "127.0.0.1:7001")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("bind = \"127.0.0.1:7001\""), "{text}");
    assert!(text.contains("max_batch_events = 77"), "{text}");

    // The printed config is itself a valid config file that gives the same result.
    let printed = attune.path().join("printed.toml");
    std::fs::write(&printed, &text).unwrap();
    assert_eq!(
        attune.ok(&["config", "--config", printed.to_str().unwrap()]),
        text
    );
}

#[test]
fn bad_config_values_fail_clearly() {
    let attune = Attune::new();
    let out = attune
        .command(&["config"])
        .env("ATTUNE_SERVER__MAX_BODY_BYTES", "abc")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let errors = error_lines(&out);
    assert_eq!(errors.len(), 1, "{}", describe(&out));
    let e = errors[0].to_lowercase();
    assert!(
        e.contains("invalid configuration") && e.contains("max_body_bytes") && e.contains("abc"),
        "{e}"
    );

    let out = attune.run(&["config", "--config", "/nonexistent/attune.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        error_lines(&out)[0].contains("/nonexistent/attune.toml"),
        "{}",
        describe(&out)
    );

    let file = attune.path().join("typo.toml");
    std::fs::write(&file, "[server]\nbnid = \"127.0.0.1:1\"\n").unwrap();
    let out = attune.run(&["serve", "--config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(error_lines(&out)[0].contains("bnid"), "{}", describe(&out));
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let attune = Attune::new();
    let mut server = Server::start(&attune, None);
    let health = server.client().get("/health").unwrap();
    assert_eq!(health.status, 200);
    let status = server.terminate(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "stderr:\n{}", server.log());
    assert!(
        server.log().contains("SIGTERM received"),
        "{}",
        server.log()
    );
}

/// Everything the default app of a SQLite store holds.
fn snapshot(db: &Path) -> (Vec<Item>, Vec<User>, Vec<Event>) {
    let store = attune_store::sqlite::SqliteStore::open(db).unwrap();
    let (mut items, mut users, mut events) = (Vec::new(), Vec::new(), Vec::new());
    store
        .scan_items(DEFAULT_APP, &mut |i| {
            items.push(i);
            true
        })
        .unwrap();
    store
        .scan_users(DEFAULT_APP, &mut |u| {
            users.push(u);
            true
        })
        .unwrap();
    store
        .scan_events(DEFAULT_APP, &EventFilter::default(), &mut |e| {
            events.push(e);
            true
        })
        .unwrap();
    let counts = store.counts(DEFAULT_APP).unwrap();
    assert_eq!(counts.identities, 40);
    (items, users, events)
}

#[test]
fn demo_is_deterministic_and_reloads_in_place() {
    let attune = Attune::new();
    let dir = attune.path().join("demo");
    let dir_arg = dir.to_str().unwrap();
    let first = attune.ok(&["demo", "--no-serve", "--data-dir", dir_arg, "--seed", "5"]);
    assert!(first.contains("events      100000"), "{first}");
    assert!(
        first.contains("curl -sS -X POST http://127.0.0.1:8080/v1/events"),
        "{first}"
    );
    let a = snapshot(&dir.join("attune.db"));
    assert_eq!((a.0.len(), a.1.len(), a.2.len()), (500, 2000, 100_000));

    // Again into the same directory: wiped, reloaded, identical.
    let second = attune.ok(&["demo", "--no-serve", "--data-dir", dir_arg, "--seed", "5"]);
    let b = snapshot(&dir.join("attune.db"));
    assert!(a == b, "same seed, different data");
    let summary = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(summary(&first), summary(&second));

    // Another seed gives other data.
    attune.ok(&["demo", "--no-serve", "--data-dir", dir_arg, "--seed", "6"]);
    let c = snapshot(&dir.join("attune.db"));
    assert!(a.2 != c.2, "seed is ignored");
}

#[test]
fn demo_refuses_to_wipe_a_foreign_directory() {
    let attune = Attune::new();
    let dir = attune.path().join("project");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("precious.txt"), "keep me").unwrap();
    let out = attune.run(&["demo", "--no-serve", "--data-dir", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        error_lines(&out)[0].contains("refusing to wipe"),
        "{}",
        describe(&out)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("precious.txt")).unwrap(),
        "keep me"
    );
}

/// The requests the demo prints are the README's first experience: each must succeed as
/// printed (run with `curl -f`, so an HTTP error fails the test).
#[test]
fn demo_serves_and_its_example_requests_work() {
    let attune = Attune::new();
    let dir = attune.path().join("demo");
    let mut child = attune
        .command(&[
            "demo",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
            dir.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let guard = KillOnDrop(child);
    let mut printed = String::new();
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with("Serving on http://") {
            break;
        }
    }
    assert!(
        printed.contains("Serving on http://127.0.0.1:"),
        "{printed}"
    );
    let script: String = printed
        .split_once("Try it:")
        .expect("examples")
        .1
        .lines()
        .filter(|l| !l.starts_with("Serving on"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("curl -sS", "curl -sSf");
    let out = std::process::Command::new("sh")
        .args(["-e", "-c", &script])
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "example requests failed:\n{script}\n{}",
        describe(&out)
    );
    let answers = String::from_utf8_lossy(&out.stdout);
    assert!(answers.contains("\"accepted\":1"), "{answers}");
    assert!(answers.contains("\"accepted\":2"), "{answers}");
    assert!(answers.contains("\"reattributed\":2"), "{answers}");
    assert!(answers.contains("\"status\":\"ready\""), "{answers}");
    // The trained model answers: personalized lists with reasons, the cold-start chain for a
    // stranger, similar items, a background training job.
    assert!(answers.contains("\"source\":\"personalized\""), "{answers}");
    assert!(answers.contains("\"source\":\"cold_start\""), "{answers}");
    assert!(answers.contains("\"source\":\"similar\""), "{answers}");
    assert!(answers.contains("Because you viewed"), "{answers}");
    assert!(answers.contains("\"job_id\""), "{answers}");
    // The demo shop page, and the tracker it loads (docs/web.md; the browser tests in
    // web/tracker drive them in Chromium).
    let base = printed
        .split("Serving on ")
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .expect("the address")
        .to_string();
    assert!(printed.contains(&format!("{base}/demo")), "{printed}");
    let page = curl(&format!("{base}/demo"));
    assert!(page.contains("<script src=\"/v1/tracker.js\">"), "{page}");
    let tracker = curl(&format!("{base}/v1/tracker.js"));
    assert!(tracker.contains("root.attune = api"), "{tracker}");
    drop(guard);
}

/// The body of a GET that must succeed.
fn curl(url: &str) -> String {
    let out = std::process::Command::new("curl")
        .args(["-sSf", url])
        .output()
        .expect("run curl");
    assert!(out.status.success(), "GET {url}: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
