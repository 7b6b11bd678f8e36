//! Loading versions into snapshots and swapping them in: refresh (follow the registry),
//! activate and rollback (verify first, then change the registry, then swap), and pinned
//! snapshots of a version or an artifact file that serve without being activated (the CLI's
//! `--version` and `--model`).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use attune_store::StoreError;

use super::snapshot::Snapshot;
use super::{Activated, AppServing, Serving, ServingError};
use crate::model::{load_registered, version_name, LoadError, LoadedModel};

/// Which model a pinned snapshot serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// A registered version of the app, verified against its registry record.
    Version(u32),
    /// Any artifact file (unregistered; it must have been trained on the app).
    File(PathBuf),
}

impl Serving {
    /// Load `version` of `app` for serving, verified against its registry record, without
    /// activating it.
    pub(super) fn load_version(
        &self,
        app: &str,
        version: u32,
        seq: u64,
    ) -> Result<Snapshot, ServingError> {
        let record =
            self.store
                .get_model(app, version)?
                .ok_or_else(|| StoreError::UnknownModel {
                    app: app.to_string(),
                    version,
                })?;
        let model = match load_registered(&self.data_dir, app, &record) {
            Ok(m) => m,
            Err(e) => {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                return Err(e.into());
            }
        };
        let path = crate::model::path_of(&self.data_dir, &record.info.artifact.location);
        let snap = Snapshot::build(&*self.store, app, version, seq, model, &path, &self.config)
            .inspect_err(|e| {
                if matches!(e, ServingError::Load(_)) {
                    self.stats.refused.fetch_add(1, Ordering::Relaxed);
                }
            })?;
        self.stats.loads.fetch_add(1, Ordering::Relaxed);
        tracing::info!(app, version = %version_name(version), seq, "model loaded for serving");
        Ok(snap)
    }

    /// Bring the app up to the store's active version (what a replica does when it polls).
    /// A version that cannot be loaded is refused and the current one keeps serving. Returns
    /// the version serving afterwards.
    pub fn refresh(&self, app: &str) -> Result<Option<u32>, ServingError> {
        let a = self.app(app)?;
        self.refresh_app(&a)?;
        Ok(a.snapshot().map(|s| s.version))
    }

    pub(super) fn refresh_app(&self, a: &AppServing) -> Result<(), ServingError> {
        self.prune_variants(a);
        let _guard = a.loading.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(active) = self.store.active_model(&a.app)? else {
            return Ok(());
        };
        if a.snapshot().is_some_and(|s| s.seq >= active.seq) {
            return Ok(());
        }
        let snap = match self.load_version(&a.app, active.version, active.seq) {
            Ok(snap) => snap,
            Err(e) => {
                if let ServingError::Load(inner) = &e {
                    *a.refused.lock().unwrap_or_else(PoisonError::into_inner) =
                        Some((active.version, inner.public_message()));
                }
                return Err(e);
            }
        };
        a.active.store(Some(Arc::new(snap)));
        *a.refused.lock().unwrap_or_else(PoisonError::into_inner) = None;
        Ok(())
    }

    /// Verify `version`, then make it the app's active version and serve it. A version that
    /// cannot be loaded is refused before the registry changes.
    pub fn activate(&self, app: &str, version: u32) -> Result<Activated, ServingError> {
        let a = self.app(app)?;
        let _guard = a.loading.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.store.active_model(app)?;
        let expected = current.map_or(0, |c| c.seq);
        let snap = self.load_version(app, version, 0)?;
        let outcome = self.store.activate_model(app, version, Some(expected))?;
        self.install(&a, snap, outcome.activation.seq);
        Ok(Activated {
            version,
            seq: outcome.activation.seq,
            changed: outcome.changed,
        })
    }

    /// Verify the version before the current one, then roll back to it.
    pub fn rollback(&self, app: &str) -> Result<Activated, ServingError> {
        let a = self.app(app)?;
        let _guard = a.loading.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.store.active_model(app)?;
        let target =
            current
                .and_then(|c| c.rollback_to)
                .ok_or_else(|| StoreError::NoRollbackTarget {
                    app: app.to_string(),
                })?;
        let snap = self.load_version(app, target, 0)?;
        let outcome = self
            .store
            .rollback_model(app, Some(current.map_or(0, |c| c.seq)))?;
        self.install(&a, snap, outcome.activation.seq);
        Ok(Activated {
            version: outcome.activation.version,
            seq: outcome.activation.seq,
            changed: outcome.changed,
        })
    }

    fn install(&self, a: &AppServing, mut snap: Snapshot, seq: u64) {
        // Reuse the live state when re-installing the same version (nothing changed).
        if let Some(cur) = a.snapshot() {
            if cur.version == snap.version && cur.seq == seq {
                return;
            }
        }
        snap.seq = seq;
        a.active.store(Some(Arc::new(snap)));
        *a.refused.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// A snapshot of `app` serving `pin` without activating it: what `attune recommend
    /// --version` and `--model` answer from, through the same pipeline as the active version.
    /// The result is not registered with the engine (no refresh, no shared state); pass it to
    /// [`Serving::recommend_on`] and [`Serving::similar_on`].
    pub fn pinned(&self, app: &str, pin: &Pin) -> Result<Arc<AppServing>, ServingError> {
        let snap = match pin {
            Pin::Version(v) => self.load_version(app, *v, 0)?,
            Pin::File(path) => {
                let model = LoadedModel::open(path)?;
                // Its catalog, live events and users are the app's: a model of another app
                // would be served against the wrong ones.
                let trained_on = &model.header.meta.data.app;
                if trained_on != app {
                    return Err(LoadError::WrongApp {
                        app: app.to_string(),
                        version: "file".into(),
                        path: path.clone(),
                        trained_on: trained_on.clone(),
                    }
                    .into());
                }
                Snapshot::build(&*self.store, app, 0, 0, model, path, &self.config)?
            }
        };
        let a = AppServing::new(app, self.config.trending_half_life_micros, true);
        a.active.store(Some(Arc::new(snap)));
        self.warm_trending(&a)?;
        Ok(Arc::new(a))
    }

    /// The snapshot of `version` for experiment variants of `a`: the active one when it is
    /// that version, else loaded (verified like an activation) on first use and kept.
    pub(super) fn variant_snapshot(
        &self,
        a: &AppServing,
        version: u32,
        allow_store: bool,
    ) -> Result<Arc<Snapshot>, ServingError> {
        if let Some(active) = a.snapshot().filter(|s| s.version == version) {
            return Ok(active);
        }
        if let Some(s) = a
            .variants
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&version)
        {
            return Ok(s.clone());
        }
        if !allow_store {
            return Err(ServingError::NeedsStore);
        }
        let _guard = a.loading.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = a
            .variants
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&version)
        {
            return Ok(s.clone());
        }
        let snap = Arc::new(self.load_version(&a.app, version, 0)?);
        a.variants
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(version, snap.clone());
        Ok(snap)
    }

    /// Drop variant snapshots no running experiment serves any more.
    pub(super) fn prune_variants(&self, a: &AppServing) {
        let Some(router) = &self.experiments else {
            return;
        };
        let mut keep = router.versions_in_use(&a.app);
        if let Some(s) = &self.config.segments {
            keep.extend(s.versions());
        }
        a.variants
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|v, _| keep.contains(v));
    }
}
