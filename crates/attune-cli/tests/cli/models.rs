//! `attune models` and the registry as `train`, `recommend` and `similar` use it: versions
//! registered by training, the first one activated, activation and rollback, refusal of
//! missing, corrupt, substituted and incompatible artifacts with the active version left
//! serving, concurrent trainers, unregistered files, and the same flow on PostgreSQL.

use std::path::Path;

use serde_json::Value;

use crate::common::{describe, stderr, Attune};
use crate::import::ok_with;
use crate::server::PgSchema;
use crate::train::{import_shop_into, listed, model_path, shop};

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// `models list --json`.
fn list(env: &Attune) -> Value {
    json(&env.ok(&["models", "list", "--json"]))
}

/// The active version number of `models list --json`.
fn active(env: &Attune) -> Option<u64> {
    list(env)["active"]["version"].as_u64()
}

/// Which version (and its algorithm, from the registry) `recommend` serves by default.
fn served(env: &Attune) -> (String, String) {
    let j = json(&env.ok(&["recommend", "u1", "--json", "-n", "3"]));
    let v = j["model_version"].as_u64().unwrap();
    let models = list(env);
    let algorithm = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["version"] == v)
        .map(|m| m["algorithm"].as_str().unwrap().to_string())
        .unwrap();
    (format!("v{v:04}"), algorithm)
}

/// Run and require failure; returns stderr.
fn fails(env: &Attune, args: &[&str]) -> String {
    let out = env.run(args);
    assert!(
        !out.status.success(),
        "attune {args:?} should fail: {}",
        describe(&out)
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    stderr(&out)
}

#[test]
fn train_twice_then_list_activate_and_roll_back() {
    let env = shop();
    let out = env.ok(&["train", "--algorithm", "als:factors=8,iterations=4"]);
    assert!(
        out.contains("registered model v0001") && out.contains("activated v0001"),
        "{out}"
    );
    let out = env.ok(&["train", "--algorithm", "item-knn"]);
    assert!(
        out.contains("registered model v0002") && out.contains("not activated: v0001 stays active"),
        "{out}"
    );

    let l = list(&env);
    assert_eq!(l["app"], "default");
    assert_eq!(l["active"]["version"], 1);
    assert_eq!(l["active"]["seq"], 1);
    assert_eq!(l["active"]["rollback_to"], Value::Null);
    let models = l["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    let (m1, m2) = (&models[0], &models[1]);
    assert_eq!(
        (&m1["name"], &m1["status"], &m1["active"], &m1["algorithm"]),
        (
            &"v0001".into(),
            &"active".into(),
            &true.into(),
            &"als".into()
        )
    );
    assert_eq!(
        (&m2["name"], &m2["status"], &m2["algorithm"]),
        (&"v0002".into(), &"candidate".into(), &"item-knn".into())
    );
    assert_eq!(m1["params"]["factors"], "8");
    assert_eq!(m1["data"]["users"], 60);
    assert_eq!(m1["data"]["app"], "default");
    // The registry records the file exactly: its size and its own checksum trailer.
    let bytes = std::fs::read(model_path(&env, "v0001")).unwrap();
    assert_eq!(m1["artifact"]["size_bytes"], bytes.len() as u64);
    let trailer = u64::from_le_bytes(bytes[bytes.len() - 8..].try_into().unwrap());
    assert_eq!(m1["artifact"]["checksum"], format!("{trailer:016x}"));
    assert_eq!(m1["artifact"]["location"], "models/default/v0001.attune");
    assert_eq!(m1["artifact"]["present"], true);

    let text = env.ok(&["models", "list"]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("v0001 active (activation 1"), "{text}");
    assert!(
        lines[1].contains("version") && lines[1].contains("metrics"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("*  v0001") && lines[2].contains(" als "),
        "{text}"
    );
    assert!(
        lines[3].starts_with("   v0002") && lines[3].contains("candidate"),
        "{text}"
    );
    assert!(
        lines[2].contains("KiB") || lines[2].contains(" B "),
        "{text}"
    );

    assert_eq!(served(&env), ("v0001".into(), "als".into()));
    let out = env.ok(&["models", "activate", "v0002"]);
    assert_eq!(out.trim(), "activated v0002 (was v0001; activation 2)");
    assert_eq!(served(&env), ("v0002".into(), "item-knn".into()));
    // `similar` follows the active version too (ALS and item-kNN both answer it).
    assert_eq!(listed(&env.ok(&["similar", "i4", "-n", "2"])).len(), 2);
    let out = env.ok(&["models", "activate", "2"]);
    assert!(out.contains("v0002 is already active"), "{out}");
    let l = list(&env);
    assert_eq!(l["active"]["rollback_to"], 1);
    assert_eq!(l["models"][0]["status"], "inactive");

    let out = env.ok(&["models", "rollback"]);
    assert_eq!(out.trim(), "rolled back to v0001 (was v0002; activation 3)");
    assert_eq!(served(&env), ("v0001".into(), "als".into()));
    let err = fails(&env, &["models", "rollback"]);
    assert!(
        err.contains("no earlier active model") && err.contains("v0001 stays active"),
        "{err}"
    );
    assert_eq!(active(&env), Some(1));

    let h = json(&env.ok(&["models", "history", "--json"]));
    let h: Vec<(u64, &str, u64)> = h["activations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["seq"].as_u64().unwrap(),
                a["action"].as_str().unwrap(),
                a["version"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        h,
        vec![(1, "activate", 1), (2, "activate", 2), (3, "rollback", 1)]
    );

    // --activate makes a new version active at once; --version still reaches any version.
    let out = env.ok(&["train", "--algorithm", "popularity", "--activate"]);
    assert!(
        out.contains("activated v0003 (was v0001; activation 4)"),
        "{out}"
    );
    assert_eq!(served(&env).0, "v0003");
    let j = json(&env.ok(&["recommend", "u1", "--json", "--version", "v2"]));
    assert_eq!(j["model_version"], 2);

    let s = json(&env.ok(&["models", "show", "v0002", "--json"]));
    assert_eq!(s["artifact"]["check"], "ok");
    assert_eq!(s["status"], "inactive");
    assert!(s["created_at"].as_str().unwrap().starts_with("20"), "{s}");
    let text = env.ok(&["models", "show", "1"]);
    assert!(
        text.contains("algorithm   als") && text.contains("check       ok"),
        "{text}"
    );
}

#[test]
fn a_damaged_or_foreign_artifact_is_refused_and_the_active_version_keeps_serving() {
    let env = shop();
    env.ok(&["train", "--algorithm", "als:factors=4,iterations=2"]);
    for _ in 0..4 {
        env.ok(&["train", "--algorithm", "item-knn"]);
    }
    assert_eq!(active(&env), Some(1));

    // Corrupt: a flipped byte breaks the checksum.
    attune_testsupport::flip_middle_byte(&model_path(&env, "v0002"));
    let err = fails(&env, &["models", "activate", "v0002"]);
    assert!(
        err.contains("refusing to activate v0002; v0001 stays active")
            && err.contains("checksum mismatch")
            && err.contains("v0002.attune"),
        "{err}"
    );
    let s = json(&env.ok(&["models", "show", "2", "--json"]));
    assert!(
        s["artifact"]["check"].as_str().unwrap().contains("corrupt"),
        "{s}"
    );

    // Missing.
    std::fs::remove_file(model_path(&env, "v0003")).unwrap();
    let err = fails(&env, &["models", "activate", "3"]);
    assert!(
        err.contains("missing") && err.contains("v0001 stays active"),
        "{err}"
    );
    assert!(env.ok(&["models", "list"]).contains("missing"));

    // Substituted: a valid artifact, but not the one registered as v0004.
    std::fs::copy(model_path(&env, "v0001"), model_path(&env, "v0004")).unwrap();
    let err = fails(&env, &["models", "activate", "4"]);
    assert!(err.contains("is not the registered artifact"), "{err}");

    // Incompatible: a newer format version, and (resealed, so the checksum holds) an
    // algorithm this build does not know.
    let p5 = model_path(&env, "v0005");
    let mut bytes = std::fs::read(&p5).unwrap();
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    std::fs::write(&p5, &bytes).unwrap();
    let err = fails(&env, &["models", "activate", "5"]);
    assert!(err.contains("format version 2 is not supported"), "{err}");
    reseal_with_algorithm(&model_path(&env, "v0001"), &p5, "quantum-knn");
    let err = fails(&env, &["models", "activate", "5"]);
    assert!(
        err.contains("not understood by this attune") && err.contains("v0001 stays active"),
        "{err}"
    );

    // Nothing above changed what serves.
    assert_eq!(active(&env), Some(1));
    assert_eq!(list(&env)["active"]["seq"], 1);
    assert_eq!(served(&env), ("v0001".into(), "als".into()));
    let unknown = fails(&env, &["models", "activate", "v0042"]);
    assert!(
        unknown.contains("no registered model version v0042"),
        "{unknown}"
    );
    let bad = fails(&env, &["models", "activate", "latest"]);
    assert!(bad.contains("invalid model version"), "{bad}");

    // A rollback target is verified the same way.
    let fresh = env.ok(&["train", "--algorithm", "item-knn", "--activate"]);
    assert!(fresh.contains("activated v0006"), "{fresh}");
    attune_testsupport::flip_middle_byte(&model_path(&env, "v0001"));
    let err = fails(&env, &["models", "rollback"]);
    assert!(
        err.contains("refusing to roll back to v0001; v0006 stays active"),
        "{err}"
    );
    assert_eq!(active(&env), Some(6));
    // And the damaged active version is an error for serving, never a silent fallback.
    attune_testsupport::flip_middle_byte(&model_path(&env, "v0006"));
    let err = fails(&env, &["recommend", "u1"]);
    assert!(err.contains("v0006") && err.contains("corrupt"), "{err}");
}

/// Rewrite `from` as `to` with another algorithm name in its header: a sealed, valid artifact
/// whose model this build cannot rebuild.
fn reseal_with_algorithm(from: &Path, to: &Path, algorithm: &str) {
    let a = attune_artifact::Artifact::open(from).unwrap();
    let mut meta = a.header().meta.clone();
    meta.algorithm = algorithm.to_string();
    let (parts, users, items, history) = (
        a.parts(),
        a.user_ids().unwrap(),
        a.item_ids().unwrap(),
        a.history().unwrap(),
    );
    let contents = attune_artifact::Contents {
        meta: &meta,
        model: &parts,
        users: &users,
        items: &items,
        history: history.as_ref(),
    };
    attune_artifact::write_file(to, &contents, attune_artifact::Overwrite::Allow).unwrap();
}

#[test]
fn concurrent_trainings_get_distinct_versions_and_one_activation() {
    let env = shop();
    let children: Vec<_> = ["popularity", "item-knn", "popularity"]
        .iter()
        .map(|alg| {
            env.command(&["train", "--algorithm", alg])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<String> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", describe(&out));
            String::from_utf8(out.stdout).unwrap()
        })
        .collect();
    let mut versions: Vec<&str> = outputs
        .iter()
        .map(|o| {
            let at = o
                .find("registered model v")
                .unwrap_or_else(|| panic!("{o}"));
            &o[at + 17..at + 22]
        })
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, vec!["v0001", "v0002", "v0003"], "{outputs:?}");
    let activated = outputs
        .iter()
        .filter(|o| o.contains("the app's first model"))
        .count();
    assert_eq!(activated, 1, "{outputs:?}");
    assert_eq!(list(&env)["active"]["seq"], 1);
    for v in versions {
        assert!(model_path(&env, v).exists(), "{v}");
    }
}

#[test]
fn unregistered_files_are_skipped_and_served_only_by_path() {
    let env = shop();
    // A file from before the registry (or a crash after a reservation) holds the name v0001.
    let dir = env.path().join("models").join("default");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("v0001.attune"), b"left over").unwrap();
    let out = env.ok(&["train", "--algorithm", "item-knn"]);
    assert!(out.contains("registered model v0002"), "{out}");
    assert_eq!(
        std::fs::read(dir.join("v0001.attune")).unwrap(),
        b"left over"
    );
    let l = list(&env);
    assert_eq!(l["models"].as_array().unwrap().len(), 1);
    assert_eq!(l["active"]["version"], 2);
    let err = fails(&env, &["recommend", "u1", "--version", "v0001"]);
    assert!(
        err.contains("not in the registry") && err.contains("--model"),
        "{err}"
    );

    // --output writes an ad-hoc file the registry never sees.
    let adhoc = env.path().join("adhoc.attune");
    let out = env.ok(&[
        "train",
        "--algorithm",
        "popularity",
        "-o",
        adhoc.to_str().unwrap(),
    ]);
    assert!(out.contains("not registered"), "{out}");
    assert_eq!(list(&env)["models"].as_array().unwrap().len(), 1);
    let j = json(&env.ok(&[
        "recommend",
        "u1",
        "--json",
        "--model",
        adhoc.to_str().unwrap(),
    ]));
    // An unregistered file has no version; it serves through the same pipeline.
    assert_eq!(j["model_version"], Value::Null);
    assert_eq!(j["items"].as_array().unwrap().len(), 10, "{j}");

    // An app with no registered model says how to get one.
    env.ok(&["apps", "create", "empty"]);
    let err = fails(&env, &["recommend", "u1", "--app", "empty"]);
    assert!(err.contains("no trained model yet"), "{err}");
    let text = env.ok(&["models", "list", "--app", "empty"]);
    assert!(text.contains("no registered models yet"), "{text}");
    let err = fails(&env, &["models", "rollback", "--app", "empty"]);
    assert!(err.contains("no active model"), "{err}");
}

/// The registry on the shared backend: versions, activation and rollback through PostgreSQL,
/// artifacts in the data directory.
#[test]
fn models_on_postgres() {
    let env = Attune::new();
    let schema = PgSchema::new("models");
    let pg = [("ATTUNE_STORE__URL", schema.url.as_str())];
    import_shop_into(&env, &pg);
    let out = ok_with(
        &env,
        &pg,
        &["train", "--algorithm", "als:factors=4,iterations=2"],
    );
    assert!(
        out.contains("registered model v0001") && out.contains("activated v0001"),
        "{out}"
    );
    ok_with(&env, &pg, &["train", "--algorithm", "item-knn"]);
    let l = json(&ok_with(&env, &pg, &["models", "list", "--json"]));
    assert_eq!(l["models"].as_array().unwrap().len(), 2);
    assert_eq!(l["active"]["version"], 1);
    // The SQLite store of the same data directory knows nothing of them.
    assert!(list(&env)["models"].as_array().unwrap().is_empty());

    ok_with(&env, &pg, &["models", "activate", "v0002"]);
    let j = json(&ok_with(&env, &pg, &["recommend", "u1", "--json"]));
    assert_eq!(j["model_version"], 2);
    attune_testsupport::flip_middle_byte(&model_path(&env, "v0001"));
    let mut cmd = env.command(&["models", "rollback"]);
    cmd.envs(pg);
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        stderr(&out).contains("v0002 stays active"),
        "{}",
        describe(&out)
    );
    let l = json(&ok_with(&env, &pg, &["models", "list", "--json"]));
    assert_eq!(
        (&l["active"]["version"], &l["active"]["seq"]),
        (&2.into(), &2.into())
    );
}

#[test]
fn a_bad_algorithm_parameter_is_named_once_and_nothing_is_registered() {
    let env = shop();
    let err = fails(&env, &["train", "--algorithm", "ease:two_hop=2"]);
    assert!(
        err.contains("invalid algorithm \"ease:two_hop=2\": ease: `two_hop` = 2 is invalid"),
        "{err}"
    );
    // The library error names its cause in its own message; the CLI prints it once.
    assert_eq!(err.matches("is invalid").count(), 1, "{err}");
    let out = env.ok(&["models", "list"]);
    assert!(!out.contains("v0001"), "{out}");
}
