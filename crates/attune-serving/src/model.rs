//! A trained model loaded for serving: the artifact verified, its model rebuilt, its id tables
//! and training history in memory; plus where artifacts live and how a registered version is
//! checked against its registry record.
//!
//! Layout: `<data_dir>/models/<app>/v0001.attune`, ... The registry in the store assigns the
//! versions and records each artifact's location relative to the data directory, its checksum
//! and its size.

use std::path::{Path, PathBuf};

use attune_artifact::{Artifact, ArtifactError, Header};
use attune_core::model::ann::HnswGraph;
use attune_core::model::spec::{Feedback, Fitted, FittedModel, Spec};
use attune_core::model::topk::top_k_into;
use attune_core::model::{Popularity, Recommender, Scorer, TrainedModel, UserRepr};
use attune_core::sparse::{Csr, Interner};
use attune_store::ModelRecord;

/// File extension of model artifacts.
pub const EXTENSION: &str = "attune";

/// Why a model cannot be served. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The artifact is unreadable, corrupt (checksum), truncated or of an unknown format.
    #[error("{path}: {source}")]
    Artifact {
        /// The file.
        path: PathBuf,
        /// What the artifact reader found.
        #[source]
        source: Box<ArtifactError>,
    },
    /// The header's training spec names an algorithm or parameter this build does not know.
    #[error("{path}: the stored training spec is not understood by this attune: {reason}")]
    Spec {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
    /// Arrays inconsistent with each other or with the id tables.
    #[error("{path}: the model is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What does not fit.
        reason: String,
    },
    /// The registered artifact file is not there.
    #[error("model {version} of app {app:?}: its artifact {path} is missing")]
    Missing {
        /// App.
        app: String,
        /// `v0003`.
        version: String,
        /// The file.
        path: PathBuf,
    },
    /// The file is a valid artifact but not the one that was registered.
    #[error("model {version} of app {app:?}: {path} is not the registered artifact (checksum {found:016x}, {found_size} bytes; registered {expected:016x}, {expected_size} bytes)")]
    NotRegistered {
        /// App.
        app: String,
        /// `v0003`.
        version: String,
        /// The file.
        path: PathBuf,
        /// Its checksum.
        found: u64,
        /// Its size.
        found_size: u64,
        /// The registered checksum.
        expected: u64,
        /// The registered size.
        expected_size: u64,
    },
    /// The model was trained on another app's data.
    #[error("model {version} of app {app:?}: {path} was trained on app {trained_on:?}")]
    WrongApp {
        /// App.
        app: String,
        /// `v0003`.
        version: String,
        /// The file.
        path: PathBuf,
        /// The app in its header.
        trained_on: String,
    },
}

impl LoadError {
    /// The file this error is about.
    pub fn path(&self) -> &Path {
        match self {
            LoadError::Artifact { path, .. }
            | LoadError::Spec { path, .. }
            | LoadError::Corrupt { path, .. }
            | LoadError::Missing { path, .. }
            | LoadError::NotRegistered { path, .. }
            | LoadError::WrongApp { path, .. } => path,
        }
    }

    /// The message for a client: the file named by its name only, so an answer never tells
    /// a client where the server keeps its data (the log has the full message).
    pub fn public_message(&self) -> String {
        let path = self.path();
        let full = path.display().to_string();
        let name = path.file_name().map_or_else(
            || "the model file".to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        self.to_string().replace(&full, &name)
    }
}

/// `<data_dir>/models/<app>`.
pub fn app_dir(data_dir: &Path, app: &str) -> PathBuf {
    data_dir.join("models").join(app)
}

/// `v0007` for 7.
pub fn version_name(v: u32) -> String {
    format!("v{v:04}")
}

/// The path of version `v` in `dir`.
pub fn version_path(dir: &Path, v: u32) -> PathBuf {
    dir.join(format!("{}.{EXTENSION}", version_name(v)))
}

/// A version as an operator types it: `v0003`, `v3` or `3`; `None` for anything else.
pub fn parse_version(text: &str) -> Option<u32> {
    let digits = text.strip_prefix('v').unwrap_or(text);
    match digits.parse::<u32>() {
        Ok(v) if v > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => Some(v),
        _ => None,
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

/// Load a registered version's artifact and check it is the file that was registered and that
/// this build can serve it: present, checksum intact, format and algorithm understood, arrays
/// valid, the registered checksum and size, trained on this app.
pub fn load_registered(
    data_dir: &Path,
    app: &str,
    record: &ModelRecord,
) -> Result<LoadedModel, LoadError> {
    let version = version_name(record.version);
    let path = path_of(data_dir, &record.info.artifact.location);
    if !path.exists() {
        return Err(LoadError::Missing {
            app: app.into(),
            version,
            path,
        });
    }
    let model = LoadedModel::open(&path)?;
    let expected = &record.info.artifact;
    if model.checksum != expected.checksum || model.size_bytes != expected.size_bytes {
        return Err(LoadError::NotRegistered {
            app: app.into(),
            version,
            path,
            found: model.checksum,
            found_size: model.size_bytes,
            expected: expected.checksum,
            expected_size: expected.size_bytes,
        });
    }
    if model.header.meta.data.app != app {
        return Err(LoadError::WrongApp {
            app: app.into(),
            version,
            path,
            trained_on: model.header.meta.data.app.clone(),
        });
    }
    Ok(model)
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
    /// The artifact's xxHash64, as the registry records it.
    pub checksum: u64,
    /// The artifact's size in bytes.
    pub size_bytes: u64,
    /// The approximate index over the item factors stored with the model (ALS models of large
    /// catalogs, see [`crate::catalog_index`]), checked against those factors.
    pub graph: Option<HnswGraph>,
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel")
            .field("spec", &self.fitted.spec().to_string())
            .field("users", &self.users.len())
            .field("items", &self.items.len())
            .field("checksum", &format_args!("{:016x}", self.checksum))
            .finish_non_exhaustive()
    }
}

impl LoadedModel {
    /// Open, verify and load `path`.
    pub fn open(path: &Path) -> Result<Self, LoadError> {
        let artifact = Artifact::open(path).map_err(|source| LoadError::Artifact {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        Self::from_artifact(&artifact)
    }

    /// Load the model of a verified artifact: spec, id tables, model arrays, history and
    /// approximate index, each checked against the others. Errors name [`Artifact::path`].
    /// Separate from [`LoadedModel::open`] so that artifacts held in memory
    /// ([`Artifact::from_bytes`]) load through the same checks (the `artifact` fuzz target).
    pub fn from_artifact(artifact: &Artifact) -> Result<Self, LoadError> {
        let path = artifact.path();
        let artifact_err = |source| LoadError::Artifact {
            path: path.to_path_buf(),
            source: Box::new(source),
        };
        let corrupt = |reason: String| LoadError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let header = artifact.header().clone();
        let spec = spec_of(&header).map_err(|reason| LoadError::Spec {
            path: path.to_path_buf(),
            reason,
        })?;
        let users = artifact.user_ids().map_err(artifact_err)?;
        let items = artifact.item_ids().map_err(artifact_err)?;
        // A stored user-factor matrix must have one row per user id.
        let parts = artifact.parts();
        for name in ["user_factors", "users"] {
            if let Some(a) = parts.arrays.get(name) {
                if a.shape().first() != Some(&users.len()) {
                    return Err(corrupt(format!(
                        "{name} has {:?} rows but there are {} user ids",
                        a.shape().first(),
                        users.len()
                    )));
                }
            }
        }
        let model = FittedModel::from_parts(spec.algorithm(), parts)
            .map_err(|e| corrupt(format!("the stored model is invalid: {e}")))?;
        if model.as_recommender().n_items() != items.len() {
            return Err(corrupt(format!(
                "it scores {} items but has {} item ids",
                model.as_recommender().n_items(),
                items.len()
            )));
        }
        let history = artifact
            .history()
            .map_err(artifact_err)?
            .unwrap_or_else(|| Csr::empty(users.len(), items.len()));
        if (history.n_rows(), history.n_cols()) != (users.len(), items.len()) {
            return Err(corrupt(format!(
                "the training history is {} x {}, the id tables {} x {}",
                history.n_rows(),
                history.n_cols(),
                users.len(),
                items.len()
            )));
        }
        let graph = match (HnswGraph::detach_from(&mut artifact.parts()), &model) {
            (None, _) => None,
            (Some(g), FittedModel::Als(als)) => Some(
                HnswGraph::from_parts(g, als.all_item_factors()).map_err(|e| {
                    corrupt(format!("the stored approximate index is invalid: {e}"))
                })?,
            ),
            (Some(_), _) => {
                return Err(corrupt(
                    "it stores an approximate index, which only ALS models have".into(),
                ))
            }
        };
        let popularity = Popularity::most_popular(&history);
        Ok(Self {
            header,
            fitted: Fitted::from_parts(spec, model),
            users,
            items,
            history,
            popularity,
            checksum: artifact.checksum(),
            size_bytes: artifact.len() as u64,
            graph,
        })
    }

    /// The model as a recommender.
    pub fn recommender(&self) -> &dyn Recommender {
        self.fitted.model().as_recommender()
    }

    /// The hybrid model when it was trained with profile features: then a user's profile
    /// changes their scores ([`attune_core::model::HybridModel::fold_in_profile`]).
    pub fn profile_model(&self) -> Option<&attune_core::model::HybridModel> {
        match self.fitted.model() {
            FittedModel::Hybrid(m) if m.uses_profiles() => Some(m),
            _ => None,
        }
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
fn spec_of(h: &Header) -> Result<Spec, String> {
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
    text.parse::<Spec>().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_parse_back() {
        assert_eq!(version_name(3), "v0003");
        assert_eq!(parse_version("v0003"), Some(3));
        assert_eq!(parse_version("12"), Some(12));
        for bad in ["v", "v0", "0", "x3", "v-1", "v1.5"] {
            assert_eq!(parse_version(bad), None, "{bad}");
        }
        assert_eq!(
            version_path(Path::new("d"), 7),
            Path::new("d").join("v0007.attune")
        );
    }

    #[test]
    fn locations_are_relative_to_the_data_dir() {
        let dir = Path::new("/data");
        let loc = location_of(dir, Path::new("/data/models/shop/v0001.attune"));
        assert_eq!(loc, "models/shop/v0001.attune");
        assert_eq!(
            path_of(dir, &loc),
            Path::new("/data/models/shop/v0001.attune")
        );
        assert_eq!(path_of(dir, "/else/x.attune"), Path::new("/else/x.attune"));
    }
}
