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

use anyhow::Context as _;
use attune_artifact::{Artifact, Header};
use attune_core::model::spec::{Feedback, Fitted, FittedModel, Spec};
use attune_core::model::topk::top_k_into;
use attune_core::model::{Popularity, Recommender, Scorer, TrainedModel, UserRepr};
use attune_core::sparse::{Csr, Interner};
use attune_store::{ModelRecord, Store};

use crate::config::Settings;

/// File extension of model artifacts.
pub const EXTENSION: &str = "attune";

/// `<data_dir>/models/<app>`.
pub fn app_dir(settings: &Settings, app: &str) -> PathBuf {
    settings.data_dir.join("models").join(app)
}

/// `v0007` for 7.
pub fn version_name(v: u32) -> String {
    format!("v{v:04}")
}

/// The path of version `v` in `dir`.
pub fn version_path(dir: &Path, v: u32) -> PathBuf {
    dir.join(format!("{}.{EXTENSION}", version_name(v)))
}

/// A version as an operator types it: `v0003`, `v3` or `3`.
pub fn parse_version(text: &str) -> anyhow::Result<u32> {
    let digits = text.strip_prefix('v').unwrap_or(text);
    match digits.parse::<u32>() {
        Ok(v) if v > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => Ok(v),
        _ => anyhow::bail!("invalid model version {text:?}: expected v0003, v3 or 3"),
    }
}

/// The registry location of a file: relative to the data directory when it is inside it (so
/// the data directory can move), else the path as given.
pub fn location_of(data_dir: &Path, path: &Path) -> String {
    path.strip_prefix(data_dir)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The file a registry location names (relative locations are under the data directory).
pub fn path_of(data_dir: &Path, location: &str) -> PathBuf {
    let p = Path::new(location);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        data_dir.join(p)
    }
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
/// this build can serve it: present, checksum intact, format and algorithm understood, arrays
/// valid, the registered checksum and size, trained on this app. Every failure says which
/// version and file, and why.
pub fn load_registered(
    settings: &Settings,
    app: &str,
    record: &ModelRecord,
) -> anyhow::Result<LoadedModel> {
    let name = version_name(record.version);
    let path = path_of(&settings.data_dir, &record.info.artifact.location);
    anyhow::ensure!(
        path.exists(),
        "model {name} of app {app:?}: its artifact {} is missing",
        path.display()
    );
    let model = LoadedModel::open(&path)
        .with_context(|| format!("model {name} of app {app:?} cannot be served"))?;
    let expected = &record.info.artifact;
    anyhow::ensure!(
        model.checksum == expected.checksum && model.size_bytes == expected.size_bytes,
        "model {name} of app {app:?}: {} is not the registered artifact (checksum {:016x}, {} bytes; \
         registered {:016x}, {} bytes)",
        path.display(),
        model.checksum,
        model.size_bytes,
        expected.checksum,
        expected.size_bytes
    );
    anyhow::ensure!(
        model.header.meta.data.app == app,
        "model {name} of app {app:?}: {} was trained on app {:?}",
        path.display(),
        model.header.meta.data.app
    );
    Ok(model)
}

/// Load what [`resolve`] chose: a registered version is checked against its record.
pub fn load(settings: &Settings, app: &str, resolved: &Resolved) -> anyhow::Result<LoadedModel> {
    match &resolved.record {
        Some(record) => load_registered(settings, app, record),
        None => LoadedModel::open(&resolved.path),
    }
}

/// A model loaded from an artifact, with its id tables and training history.
pub struct LoadedModel {
    /// Its header.
    pub header: Header,
    /// The model and the spec it was trained with.
    pub fitted: Fitted,
    /// Training users, in model order.
    pub users: Interner,
    /// Items, in model order.
    pub items: Interner,
    /// Training interactions (users x items): the feedback the model reads.
    pub history: Csr,
    /// Most popular items in the history: the fallback for users with nothing.
    pub popularity: Popularity,
    /// The artifact's verified xxHash64.
    pub checksum: u64,
    /// The artifact's size in bytes.
    pub size_bytes: u64,
}

impl LoadedModel {
    /// Open, verify and load `path`. Every failure names the file.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let artifact = Artifact::open(path)?;
        let header = artifact.header().clone();
        let spec = spec_of(&header).with_context(|| {
            format!(
                "{}: the stored training spec is not understood by this attune",
                path.display()
            )
        })?;
        let users = artifact.user_ids()?;
        let items = artifact.item_ids()?;
        // A stored user-factor matrix must have one row per user id.
        let parts = artifact.parts();
        for name in ["user_factors", "users"] {
            if let Some(a) = parts.arrays.get(name) {
                anyhow::ensure!(
                    a.shape().first() == Some(&users.len()),
                    "{}: the model is corrupt: {name} has {:?} rows but there are {} user ids",
                    path.display(),
                    a.shape().first(),
                    users.len()
                );
            }
        }
        let model = FittedModel::from_parts(spec.algorithm(), parts)
            .with_context(|| format!("{}: the stored model is invalid", path.display()))?;
        anyhow::ensure!(
            model.as_recommender().n_items() == items.len(),
            "{}: the model is corrupt: it scores {} items but has {} item ids",
            path.display(),
            model.as_recommender().n_items(),
            items.len()
        );
        let history = artifact
            .history()?
            .unwrap_or_else(|| Csr::empty(users.len(), items.len()));
        let popularity = Popularity::most_popular(&history);
        Ok(Self {
            checksum: artifact.checksum(),
            size_bytes: artifact.len() as u64,
            header,
            fitted: Fitted::from_parts(spec, model),
            users,
            items,
            history,
            popularity,
        })
    }

    /// The model as a recommender.
    pub fn recommender(&self) -> &dyn Recommender {
        self.fitted.model().as_recommender()
    }

    /// Which feedback a history for fold-in must be.
    pub fn feedback(&self) -> Feedback {
        self.fitted.spec().algorithm().feedback()
    }

    /// Training user `u`'s representation: the stored vector of factor models, else the
    /// user's training history folded in. `None` when the user had no training history.
    pub fn training_repr(&self, u: u32) -> Option<UserRepr> {
        let (cols, vals) = self.history.row(u as usize);
        if cols.is_empty() {
            return None;
        }
        Some(match self.fitted.model() {
            FittedModel::Als(m) => m.user(u),
            FittedModel::Bpr(m) => m.user(u),
            FittedModel::Mf(m) => m.user(u),
            _ => {
                let h: Vec<(u32, f32)> = cols.iter().copied().zip(vals.iter().copied()).collect();
                self.recommender().fold_in(&h)
            }
        })
    }

    /// The top `n` items for `repr`, excluding `exclude` (sorted item indices), into `out`;
    /// `scores` is scratch of `n_items` floats.
    pub fn top_n(
        &self,
        repr: &UserRepr,
        n: usize,
        exclude: &[u32],
        scores: &mut [f32],
        out: &mut Vec<(u32, f32)>,
    ) {
        self.recommender().score_all_into(repr, scores);
        top_k_into(scores, n, exclude, out);
    }

    /// The most popular items, excluding `exclude`.
    pub fn popular(&self, n: usize, exclude: &[u32]) -> Vec<(u32, f32)> {
        let mut scores = vec![0f32; self.popularity.n_items()];
        self.popularity
            .score_all_into(&UserRepr::Anonymous, &mut scores);
        let mut out = Vec::new();
        top_k_into(&scores, n, exclude, &mut out);
        out
    }

    /// The external id of item `i`.
    pub fn item_id(&self, i: u32) -> &str {
        self.items
            .name(i)
            .expect("model item indices are in the id table")
    }
}

/// The training spec recorded in a header (algorithm and every parameter).
fn spec_of(h: &Header) -> anyhow::Result<Spec> {
    let params: Vec<String> = h
        .meta
        .parameters
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let text = if params.is_empty() {
        h.meta.algorithm.clone()
    } else {
        format!("{}:{}", h.meta.algorithm, params.join(","))
    };
    Ok(text.parse::<Spec>()?)
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

    #[test]
    fn locations_are_relative_to_the_data_dir() {
        let data_dir = Path::new("/srv/attune");
        let inside = Path::new("/srv/attune/models/shop/v0001.attune");
        assert_eq!(location_of(data_dir, inside), "models/shop/v0001.attune");
        assert_eq!(path_of(data_dir, "models/shop/v0001.attune"), inside);
        let outside = Path::new("/mnt/models/x.attune");
        assert_eq!(location_of(data_dir, outside), "/mnt/models/x.attune");
        assert_eq!(path_of(data_dir, "/mnt/models/x.attune"), outside);
    }
}
