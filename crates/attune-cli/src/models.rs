//! Trained models on disk: where `attune train` puts them, how `recommend` and `similar` find
//! and load them, and how a loaded model serves one user.
//!
//! Layout: `<data_dir>/models/<app>/v0001.attune`, `v0002.attune`, ... Versions count up per
//! app; the newest is the default model. A version number is claimed by creating its file
//! without replacing an existing one, so two trainings racing never overwrite each other.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use attune_artifact::{Artifact, Header};
use attune_core::model::spec::{Feedback, Fitted, FittedModel, Spec};
use attune_core::model::topk::top_k_into;
use attune_core::model::{Popularity, Recommender, Scorer, TrainedModel, UserRepr};
use attune_core::sparse::{Csr, Interner};

use crate::config::Settings;

/// File extension of model artifacts.
pub const EXTENSION: &str = "attune";

/// `<data_dir>/models/<app>`.
pub fn app_dir(settings: &Settings, app: &str) -> PathBuf {
    settings.data_dir.join("models").join(app)
}

/// The version number of a file named `vNNNN.attune`.
fn version_of(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    let digits = name.strip_prefix('v')?.strip_suffix(".attune")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Versions present in `dir`, ascending (an absent directory has none).
pub fn versions(dir: &Path) -> anyhow::Result<Vec<u32>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    let mut v: Vec<u32> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| version_of(&e.path()))
        .collect();
    v.sort_unstable();
    Ok(v)
}

/// `v0007` for 7.
pub fn version_name(v: u32) -> String {
    format!("v{v:04}")
}

/// The path of version `v` in `dir`.
pub fn version_path(dir: &Path, v: u32) -> PathBuf {
    dir.join(format!("{}.{EXTENSION}", version_name(v)))
}

/// Which model file a serving command uses: `--model PATH`, else `--version V` of the app, else
/// the app's newest version.
pub fn resolve(
    settings: &Settings,
    app: &str,
    model: Option<&Path>,
    version: Option<&str>,
) -> anyhow::Result<PathBuf> {
    if let Some(p) = model {
        return Ok(p.to_path_buf());
    }
    let dir = app_dir(settings, app);
    if let Some(v) = version {
        let n: u32 = v
            .trim_start_matches('v')
            .parse()
            .with_context(|| format!("invalid --version {v:?}: expected v0003 or 3"))?;
        let p = version_path(&dir, n);
        anyhow::ensure!(
            p.exists(),
            "app {app:?} has no model version {}; see {}",
            version_name(n),
            dir.display()
        );
        return Ok(p);
    }
    match versions(&dir)?.last() {
        Some(&v) => Ok(version_path(&dir, v)),
        None => anyhow::bail!(
            "app {app:?} has no trained model yet; run `attune train --app {app} --algorithm auto` first"
        ),
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
    fn version_names_parse_back() {
        assert_eq!(version_of(Path::new("/x/v0007.attune")), Some(7));
        assert_eq!(
            version_of(&version_path(Path::new("d"), 12345)),
            Some(12345)
        );
        assert_eq!(version_of(Path::new("v.attune")), None);
        assert_eq!(version_of(Path::new("v12.tmp")), None);
        assert_eq!(version_of(Path::new(".attune-model-x.tmp")), None);
        assert_eq!(version_name(3), "v0003");
    }

    #[test]
    fn versions_lists_only_model_files_in_order() {
        let dir = tempfile::tempdir().unwrap();
        assert!(versions(&dir.path().join("absent")).unwrap().is_empty());
        for name in ["v0002.attune", "v0010.attune", "v0001.attune", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        assert_eq!(versions(dir.path()).unwrap(), vec![1, 2, 10]);
    }
}
