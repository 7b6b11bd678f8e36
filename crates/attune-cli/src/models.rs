//! Trained models: where `attune train` puts them, how serving commands find them through the
//! registry, how a registered artifact is verified, and how a loaded model serves one user.
//!
//! Layout: `<data_dir>/models/<app>/v0001.attune`, `v0002.attune`, ... The registry in the
//! store is the source of truth: it assigns the version numbers (the file is named after the
//! version it was given) and records each artifact's location relative to the data directory,
//! its checksum and size. A file the registry does not know is not a version (it may be left
//! over from a crash, or from before the registry); `--model PATH` still serves any file.
//!
//! Serving commands use the app's **active** version (`attune models activate`), or the one
//! named with `--version`; there is no silent fallback to "the newest file", because an
//! operator who rolled back must not be rolled forward by the next command.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use attune_serving::{AppServing, Pin, Serving};
use attune_store::{ModelRecord, Store};

use crate::cli::ModelArg;
use crate::config::Settings;

pub use attune_serving::model::{path_of, version_name, version_path, LoadedModel};

/// `<data_dir>/models/<app>`.
pub fn app_dir(settings: &Settings, app: &str) -> PathBuf {
    attune_serving::model::app_dir(&settings.data_dir, app)
}

/// A version as an operator types it: `v0003`, `v3` or `3`.
pub fn parse_version(text: &str) -> anyhow::Result<u32> {
    attune_serving::model::parse_version(text)
        .with_context(|| format!("invalid model version {text:?}: expected v0003, v3 or 3"))
}

/// The model a serving command uses.
pub struct Resolved {
    /// The artifact file.
    pub path: PathBuf,
    /// Its registry record (`None` for `--model FILE`).
    pub record: Option<ModelRecord>,
}

/// Which model a serving command uses: `--model PATH` (any artifact, unregistered), else
/// `--version V` of the app's registry, else the app's active version.
pub fn resolve(
    settings: &Settings,
    store: &dyn Store,
    app: &str,
    model: Option<&Path>,
    version: Option<&str>,
) -> anyhow::Result<Resolved> {
    if let Some(p) = model {
        return Ok(Resolved {
            path: p.to_path_buf(),
            record: None,
        });
    }
    let v = match version {
        Some(text) => parse_version(text).context("--version")?,
        None => match store.active_model(app)? {
            Some(active) => active.version,
            None if store.list_models(app)?.is_empty() => anyhow::bail!(
                "app {app:?} has no trained model yet; run `attune train --app {app} --algorithm auto` first"
            ),
            None => anyhow::bail!(
                "app {app:?} has no active model; pick one with `attune models activate VERSION --app {app}` \
                 (see `attune models list --app {app}`)"
            ),
        },
    };
    let record = registered(settings, store, app, v)?;
    Ok(Resolved {
        path: path_of(&settings.data_dir, &record.info.artifact.location),
        record: Some(record),
    })
}

/// The registry record of version `v`, or an error that says what to do instead.
pub fn registered(
    settings: &Settings,
    store: &dyn Store,
    app: &str,
    v: u32,
) -> anyhow::Result<ModelRecord> {
    if let Some(r) = store.get_model(app, v)? {
        return Ok(r);
    }
    let file = version_path(&app_dir(settings, app), v);
    if file.exists() {
        anyhow::bail!(
            "app {app:?} has no registered model version {}; {} exists but is not in the registry \
             (serve it with --model {})",
            version_name(v),
            file.display(),
            file.display()
        );
    }
    anyhow::bail!(
        "app {app:?} has no registered model version {} (see `attune models list --app {app}`)",
        version_name(v)
    )
}

/// Load a registered version's artifact and check it is the file that was registered and that
/// this build can serve it (`attune_serving::load_registered`). Every failure says which
/// version and file, and why.
pub fn load_registered(
    settings: &Settings,
    app: &str,
    record: &ModelRecord,
) -> anyhow::Result<LoadedModel> {
    attune_serving::load_registered(&settings.data_dir, app, record).map_err(|e| {
        let name = version_name(record.version);
        match e {
            // These name the version already.
            attune_serving::LoadError::Missing { .. }
            | attune_serving::LoadError::NotRegistered { .. }
            | attune_serving::LoadError::WrongApp { .. } => anyhow::Error::new(e),
            other => anyhow::Error::new(other)
                .context(format!("model {name} of app {app:?} cannot be served")),
        }
    })
}

/// The serving state a serving command answers from: the app's active version as the engine
/// serves it, or the version or file [`resolve`] chose, pinned (served by the same pipeline
/// without being activated).
pub fn serving_app(
    engine: &Serving,
    settings: &Settings,
    app: &str,
    model: &ModelArg,
) -> anyhow::Result<Arc<AppServing>> {
    let store = &**engine.store();
    let resolved = resolve(
        settings,
        store,
        app,
        model.model.as_deref(),
        model.version.as_deref(),
    )?;
    let pin = match (&resolved.record, model.version.is_some()) {
        (None, _) => Pin::File(resolved.path.clone()),
        (Some(r), true) => Pin::Version(r.version),
        (Some(r), false) => {
            let a = engine.app(app)?;
            if a.snapshot().is_none() {
                // The active version did not load: say why.
                engine.refresh(app).map_err(|e| {
                    anyhow::Error::new(e).context(format!(
                        "model {} of app {app:?} cannot be served",
                        version_name(r.version)
                    ))
                })?;
            }
            return Ok(a);
        }
    };
    let name = match &pin {
        Pin::Version(v) => version_name(*v),
        Pin::File(p) => p.display().to_string(),
    };
    engine
        .pinned(app, &pin)
        .with_context(|| format!("model {name} of app {app:?} cannot be served"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_in_every_spelling() {
        for (text, v) in [
            ("v0007", 7),
            ("v7", 7),
            ("7", 7),
            ("0012", 12),
            ("v12345", 12345),
        ] {
            assert_eq!(parse_version(text).unwrap(), v, "{text}");
        }
        for bad in ["", "v", "v0", "0", "-1", "v+1", "seven", "v1.2", "vv1"] {
            let err = parse_version(bad).unwrap_err().to_string();
            assert!(err.contains("v0003"), "{bad}: {err}");
        }
        assert_eq!(version_name(3), "v0003");
        assert_eq!(
            version_path(Path::new("d"), 12),
            Path::new("d").join("v0012.attune")
        );
    }
}
