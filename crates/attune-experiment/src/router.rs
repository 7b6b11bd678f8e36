//! Routing a request into experiments: the serving engine asks which variant (if any) a user
//! gets, and the server records the first serve as the user's exposure.
//!
//! The running experiments of each app are read from the store at most every `refresh`
//! (every replica polls, as it polls the model registry), so a start or stop made anywhere is
//! followed within that delay. Per request, a user outside every running experiment's buckets
//! costs one hash per running experiment and nothing else; inside, the variant comes from:
//! 1. the decision cache (in memory, per phase);
//! 2. the user's recorded exposure (the store), so the first variant served stands on every
//!    replica and after restarts — also for a visitor who logged in since (`identify` carries
//!    exposures from the device to the user);
//! 3. targeting, then the deterministic draw ([`crate::assign`]), marked `first` so the caller
//!    records the exposure once the list is served.
//!
//! **One experiment per list.** A user inside running experiments of several layers is routed
//! into the one of the alphabetically first layer; the others neither serve nor count them.
//! Layers hash independently, so this thins the others' samples without biasing them.
//!
//! Bandit experiments are not sticky: every list draws its variant from the allocation the
//! bandit last saved (refreshed with the experiments); a contextual bandit's policy, rebuilt
//! from its saved state, chooses in the user's context (profile attributes, cached here for
//! [`PROFILE_TTL`]). Targeting applies to bandits as to fixed splits.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use attune_core::catalog::User;
use attune_store::{ExperimentStatus, Exposure, Store};

use crate::assign::{layer_bucket, pick, targeted, variant_draw};
use crate::bandit::contextual::ContextualRoute;
use crate::definition::{Allocation, Definition};
use crate::error::Result;

/// How long a profile read for a bandit's targeting or context is reused.
pub const PROFILE_TTL: Duration = Duration::from_secs(60);

/// How a variant treats the served list.
#[derive(Debug, Clone, PartialEq)]
pub struct Treatment {
    /// Serve this model version instead of the active one.
    pub model_version: Option<u32>,
    /// MMR diversity λ.
    pub diversity: Option<f32>,
    /// Only these categories.
    pub categories: Vec<String>,
    /// Serve the non-personalized list.
    pub holdout: bool,
}

/// A user's place in an experiment for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// The experiment.
    pub experiment: String,
    /// Its phase.
    pub phase: u32,
    /// The variant's name.
    pub variant: String,
    /// What the variant does to the list.
    pub treatment: Treatment,
    /// No exposure of the user in this phase is known: record one when the list is served.
    pub first: bool,
}

/// A running experiment as routing needs it.
#[derive(Debug, Clone)]
struct Running {
    name: String,
    layer: String,
    phase: u32,
    buckets: (u32, u32),
    definition: Definition,
    /// A bandit's current policy (`None`: fixed shares).
    bandit: Option<BanditRoute>,
}

/// How a bandit experiment picks a list's variant.
#[derive(Debug, Clone)]
enum BanditRoute {
    /// A draw from the saved allocation (before a contextual bandit's first update, its
    /// definition's shares).
    Shares(Vec<f64>),
    /// The contextual policy's choice in the user's context.
    Contextual(Arc<ContextualRoute>),
}

struct AppState {
    read_at: Instant,
    /// Sorted by layer, then name.
    running: Vec<Running>,
}

/// What a cached decision says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// The variant index, known to be recorded as the user's exposure.
    Exposed(usize),
    /// Not targeted by the experiment (re-checked after the cache entry expires).
    NotTargeted,
}

/// Routes users into experiments; one per process, shared by every app.
pub struct Router {
    store: Arc<dyn Store>,
    refresh: Duration,
    apps: RwLock<HashMap<String, Arc<AppState>>>,
    decisions: moka::sync::Cache<String, Decision>,
    /// Profiles read for bandits (targeting, context), by app and user.
    profiles: moka::sync::Cache<String, Arc<Option<User>>>,
}

/// The key of a cached decision.
fn decision_key(app: &str, experiment: &str, phase: u32, user: &str) -> String {
    format!("{app}\u{1f}{experiment}\u{1f}{phase}\u{1f}{user}")
}

impl Router {
    /// A router over `store`, re-reading running experiments at most every `refresh`.
    pub fn new(store: Arc<dyn Store>, refresh: Duration) -> Self {
        Self {
            store,
            refresh,
            apps: RwLock::default(),
            decisions: moka::sync::Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(Duration::from_secs(600))
                .build(),
            profiles: moka::sync::Cache::builder()
                .max_capacity(200_000)
                .time_to_live(PROFILE_TTL)
                .build(),
        }
    }

    /// The user's profile for a bandit (`None`: a store read is due and not allowed).
    fn profile(
        &self,
        app: &str,
        user: &str,
        allow_store: bool,
        read: &mut dyn FnMut() -> Result<Option<User>>,
    ) -> Result<Option<Arc<Option<User>>>> {
        let key = format!("{app}\u{1f}{user}");
        if let Some(p) = self.profiles.get(&key) {
            return Ok(Some(p));
        }
        if !allow_store {
            return Ok(None);
        }
        let p = Arc::new(read()?);
        self.profiles.insert(key, p.clone());
        Ok(Some(p))
    }

    fn cached(&self, app: &str) -> Option<Arc<AppState>> {
        self.apps
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(app)
            .filter(|s| s.read_at.elapsed() < self.refresh)
            .cloned()
    }

    /// The app's running experiments, read again when older than `refresh` (blocking; `None`
    /// when a read is due and `allow_store` is false).
    fn state(&self, app: &str, allow_store: bool) -> Result<Option<Arc<AppState>>> {
        if let Some(s) = self.cached(app) {
            return Ok(Some(s));
        }
        if !allow_store {
            return Ok(None);
        }
        let mut running = Vec::new();
        for rec in self.store.list_experiments(app)? {
            if rec.status != ExperimentStatus::Running {
                continue;
            }
            let Some(buckets) = rec.buckets else { continue };
            let definition = match Definition::from_json(&rec.definition) {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(app, experiment = rec.name, error = %e, "experiment definition unreadable; not routing into it");
                    continue;
                }
            };
            let bandit = match definition.allocation {
                Allocation::Fixed => None,
                Allocation::Bandit { .. } => Some(bandit_route(
                    crate::bandit::saved(&*self.store, app, &rec.name, rec.phase, &definition),
                    app,
                    &rec.name,
                    &definition,
                )),
            };
            running.push(Running {
                name: rec.name,
                layer: rec.layer,
                phase: rec.phase,
                buckets,
                definition,
                bandit,
            });
        }
        running.sort_by(|a, b| (&a.layer, &a.name).cmp(&(&b.layer, &b.name)));
        let state = Arc::new(AppState {
            read_at: Instant::now(),
            running,
        });
        self.apps
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(app.to_string(), state.clone());
        Ok(Some(state))
    }

    /// Forget what is cached for `app` (after a start or stop here, so this replica follows
    /// at once).
    pub fn invalidate(&self, app: &str) {
        self.apps
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(app);
    }

    /// Whether the app has a running experiment (as last read).
    pub fn any_running(&self, app: &str) -> bool {
        self.cached(app).is_some_and(|s| !s.running.is_empty())
    }

    /// The assignment of `user` in `app` for one request, or `None` outside every running
    /// experiment. `profile` is asked for only when targeting needs it. With `allow_store`
    /// false the call never blocks: `Ok(Err(NeedsStore))`-style, it returns
    /// [`Routed::NeedsStore`] when it would have to read the store.
    pub fn route(
        &self,
        app: &str,
        user: &str,
        allow_store: bool,
        profile: &mut dyn FnMut() -> Result<Option<User>>,
    ) -> Result<Routed> {
        let Some(state) = self.state(app, allow_store)? else {
            return Ok(Routed::NeedsStore);
        };
        // Layer order: the first experiment that takes the user is the one (module docs).
        for r in &state.running {
            let b = layer_bucket(&r.layer, user);
            if b < r.buckets.0 || b >= r.buckets.1 {
                continue;
            }
            if let Some(bandit) = &r.bandit {
                // Bandits: a fresh choice per list.
                let contextual = matches!(bandit, BanditRoute::Contextual(_));
                let targeting = &r.definition.targeting;
                let profile = if contextual || !targeting.is_empty() {
                    match self.profile(app, user, allow_store, profile)? {
                        Some(p) => p,
                        None => return Ok(Routed::NeedsStore),
                    }
                } else {
                    Arc::new(None)
                };
                if !targeting.is_empty() && !targeted(targeting, profile.as_ref().as_ref()) {
                    continue;
                }
                let i = match bandit {
                    BanditRoute::Shares(allocation) => pick(allocation, rand::random::<f64>()),
                    BanditRoute::Contextual(c) => {
                        c.choose(profile.as_ref().as_ref(), &mut rand::rng())
                    }
                };
                return Ok(Routed::In(assignment(r, i, false)));
            }
            let key = decision_key(app, &r.name, r.phase, user);
            match self.decisions.get(&key) {
                Some(Decision::Exposed(i)) => return Ok(Routed::In(assignment(r, i, false))),
                Some(Decision::NotTargeted) => continue,
                None => {}
            }
            if !allow_store {
                return Ok(Routed::NeedsStore);
            }
            if let Some(x) = self.store.get_exposure(app, &r.name, r.phase, user)? {
                if let Some(i) = r
                    .definition
                    .variants
                    .iter()
                    .position(|v| v.name == x.variant)
                {
                    self.decisions.insert(key, Decision::Exposed(i));
                    return Ok(Routed::In(assignment(r, i, false)));
                }
            }
            if !r.definition.targeting.is_empty()
                && !targeted(&r.definition.targeting, profile()?.as_ref())
            {
                self.decisions.insert(key, Decision::NotTargeted);
                continue;
            }
            let shares: Vec<f64> = r.definition.variants.iter().map(|v| v.share).collect();
            let i = pick(&shares, variant_draw(&r.name, r.phase, user));
            return Ok(Routed::In(assignment(r, i, true)));
        }
        Ok(Routed::Out)
    }

    /// Record a first serve (an exposure): it is written (the first recorded stands, whoever
    /// races) and what stands is remembered here.
    pub fn record_exposure(&self, app: &str, x: &Exposure) -> Result<()> {
        self.store.record_exposures(app, std::slice::from_ref(x))?;
        // Another replica may have recorded another variant first: read what stands.
        let Some(stood) = self
            .store
            .get_exposure(app, &x.experiment, x.phase, &x.user_key)?
        else {
            return Ok(());
        };
        let index = self.cached(app).and_then(|state| {
            let r = state.running.iter().find(|r| r.name == x.experiment)?;
            r.definition
                .variants
                .iter()
                .position(|v| v.name == stood.variant)
        });
        if let Some(i) = index {
            self.decisions.insert(
                decision_key(app, &x.experiment, x.phase, &x.user_key),
                Decision::Exposed(i),
            );
        }
        Ok(())
    }

    /// The exposure to record for `user` served `a` at `at_micros`.
    pub fn exposure(user: &str, a: &Assignment, at_micros: i64) -> Exposure {
        Exposure {
            experiment: a.experiment.clone(),
            phase: a.phase,
            user_key: user.to_string(),
            variant: a.variant.clone(),
            at_micros,
        }
    }

    /// Model versions the app's running experiments serve (to keep them loaded).
    pub fn versions_in_use(&self, app: &str) -> Vec<u32> {
        let Some(state) = self.cached(app) else {
            return Vec::new();
        };
        let mut v: Vec<u32> = state
            .running
            .iter()
            .flat_map(|r| r.definition.variants.iter().filter_map(|x| x.model_version))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// The outcome of [`Router::route`].
#[derive(Debug, Clone, PartialEq)]
pub enum Routed {
    /// In an experiment.
    In(Assignment),
    /// In none.
    Out,
    /// Deciding needs a store read; call again where blocking is allowed.
    NeedsStore,
}

/// The route of a bandit experiment given its saved state (`None`: no update yet, or one of
/// another phase).
fn bandit_route(
    saved: Option<crate::bandit::BanditState>,
    app: &str,
    name: &str,
    definition: &Definition,
) -> BanditRoute {
    let shares = || BanditRoute::Shares(definition.variants.iter().map(|v| v.share).collect());
    let Some(saved) = saved else {
        return shares();
    };
    match &saved.contextual {
        None => BanditRoute::Shares(saved.allocation),
        Some(state) => match ContextualRoute::new(definition, state) {
            Ok(c) => BanditRoute::Contextual(Arc::new(c)),
            Err(e) => {
                tracing::warn!(app, experiment = name, error = %e, "bandit state unusable; serving the definition's shares until the next update");
                shares()
            }
        },
    }
}

fn assignment(r: &Running, i: usize, first: bool) -> Assignment {
    let v = &r.definition.variants[i];
    Assignment {
        experiment: r.name.clone(),
        phase: r.phase,
        variant: v.name.clone(),
        treatment: Treatment {
            model_version: v.model_version,
            diversity: v.diversity,
            categories: v.categories.clone(),
            holdout: v.holdout,
        },
        first,
    }
}
