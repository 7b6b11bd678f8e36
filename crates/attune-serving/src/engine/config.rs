//! The engine's settings, one request's options, what a served list is, and what a request
//! can fail with.

use std::sync::Arc;
use std::time::Duration;

use attune_core::model::ann::{TopKParams, TopKValidParams};
use attune_core::model::fresh::{FreshParams, FreshValidParams};
use attune_core::model::similar::SimilarError;
use attune_store::StoreError;

use crate::explain::Reason;
use crate::model::LoadError;

/// Settings of the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct ServingConfig {
    /// Largest `n + offset` of one request.
    pub max_n: usize,
    /// Users whose live state is kept per app.
    pub live_users: u64,
    /// Recent items kept per user (explanations use them first).
    pub max_recent: usize,
    /// Lists kept in the in-process cache per app.
    pub list_cache_capacity: u64,
    /// A cached list is recomputed after this long even without events.
    pub list_cache_ttl: Duration,
    /// Trending counts halve every this many microseconds.
    pub trending_half_life_micros: i64,
    /// At start, trending is warmed up from the events of this long before the model's last
    /// training event.
    pub trending_warmup_micros: i64,
    /// History items considered for an explanation.
    pub explain_history: usize,
    /// From which catalog size factor models are served through the approximate index, and
    /// its parameters ([`crate::catalog_index`]).
    pub topk: TopKValidParams,
    /// Exposure-aware re-ranking of personalized lists (`None`: off).
    pub fairness: Option<crate::fairness::FairnessConfig>,
    /// Catalog items the active model does not know (created after training): how many may
    /// enter a personalized list and how similar to the user's recent history they must be
    /// ([`attune_core::model::fresh`]; 0 slots: off, and no vocabulary is fitted at load).
    pub fresh: FreshValidParams,
    /// Serving by user segment: a version per segment and the segment's cold-start list
    /// (`None`: off).
    pub segments: Option<crate::segments::SegmentServing>,
}

impl Default for ServingConfig {
    fn default() -> Self {
        Self {
            max_n: 200,
            live_users: 200_000,
            max_recent: 50,
            list_cache_capacity: 100_000,
            list_cache_ttl: Duration::from_secs(600),
            trending_half_life_micros: attune_core::time::MICROS_PER_DAY,
            trending_warmup_micros: 7 * attune_core::time::MICROS_PER_DAY,
            explain_history: 20,
            topk: TopKParams::default()
                .check()
                .expect("the default top-k parameters are valid"),
            fairness: None,
            fresh: FreshParams::new()
                .check()
                .expect("the default fresh-item parameters are valid"),
            segments: None,
        }
    }
}

/// What a request may fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServingError {
    /// The app has no active model (and the request needs one).
    #[error(
        "app {app:?} has no active model; train one (POST /v1/models/train or `attune train`)"
    )]
    NoModel {
        /// App.
        app: String,
    },
    /// The item is not in the active model.
    #[error("item {item:?} is not known to the active model")]
    UnknownItem {
        /// The id asked for.
        item: String,
    },
    /// The active model cannot compute item similarities.
    #[error("{0}")]
    Similar(#[from] SimilarError),
    /// A request parameter is out of range.
    #[error("{field}: {reason}")]
    InvalidRequest {
        /// The parameter.
        field: &'static str,
        /// What is allowed.
        reason: String,
    },
    /// The version cannot be served (missing, corrupt, incompatible, not the registered file).
    #[error(transparent)]
    Load(Box<LoadError>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Answering needs a store read; call again where blocking is allowed.
    #[error("the request needs a store read")]
    NeedsStore,
    /// Routing into an experiment failed.
    #[error(transparent)]
    Experiment(Box<attune_experiment::ExperimentError>),
}

impl From<attune_experiment::ExperimentError> for ServingError {
    fn from(e: attune_experiment::ExperimentError) -> Self {
        match e {
            attune_experiment::ExperimentError::Store(s) => ServingError::Store(s),
            other => ServingError::Experiment(Box::new(other)),
        }
    }
}

impl From<LoadError> for ServingError {
    fn from(e: LoadError) -> Self {
        ServingError::Load(Box::new(e))
    }
}

/// One recommendation request's options.
#[derive(Debug, Clone, PartialEq)]
pub struct RecRequest {
    /// Items to return.
    pub n: usize,
    /// Items to skip first (paging).
    pub offset: usize,
    /// Only items in at least one of these categories (empty: any).
    pub categories: Vec<String>,
    /// Leave out items the user already interacted with.
    pub exclude_seen: bool,
    /// Leave out items the catalog marks unavailable.
    pub available_only: bool,
    /// MMR trade-off λ in `[0, 1]` (`None`: the model's order).
    pub diversity: Option<f32>,
    /// Personalization strength in `[0, 1]`: 1 (or `None`) ranks by the model, 0 by
    /// popularity, in between blends the two rankings ([`crate::blend`]).
    pub strength: Option<f32>,
}

impl Default for RecRequest {
    fn default() -> Self {
        Self {
            n: 10,
            offset: 0,
            categories: Vec::new(),
            exclude_seen: true,
            available_only: true,
            diversity: None,
            strength: None,
        }
    }
}

impl RecRequest {
    pub(crate) fn check(&self, max_n: usize) -> Result<(), ServingError> {
        if self.n == 0 || self.n.saturating_add(self.offset) > max_n {
            return Err(ServingError::InvalidRequest {
                field: "n",
                reason: format!("n must be at least 1 and n + offset at most {max_n}"),
            });
        }
        for (field, value) in [("diversity", self.diversity), ("strength", self.strength)] {
            if let Some(l) = value.filter(|l| !(0.0..=1.0).contains(l)) {
                return Err(ServingError::InvalidRequest {
                    field,
                    reason: format!("must be between 0 and 1, got {l}"),
                });
            }
        }
        Ok(())
    }

    /// Everything that changes the answer, as a cache key.
    pub(crate) fn key(&self) -> String {
        let mut cats = self.categories.clone();
        cats.sort();
        format!(
            "{}|{}|{}|{}|{}|{:?}|{:?}",
            self.n,
            self.offset,
            cats.join(","),
            self.exclude_seen,
            self.available_only,
            self.diversity,
            self.strength.filter(|s| *s < 1.0)
        )
    }
}

/// Where a list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The personalized model.
    Personalized,
    /// The cold-start chain (no history yet).
    ColdStart,
    /// Personalization is off for this user (consent): popular items only.
    NonPersonalized,
    /// The most popular items, asked for as such.
    Popular,
    /// Trending items, asked for as such.
    Trending,
    /// Items similar to an item.
    Similar,
    /// The user is in an experiment's holdout: the non-personalized list.
    Holdout,
}

impl Source {
    /// `personalized`, `cold_start`, `non_personalized`, `popular`, `trending`, `similar`,
    /// `holdout`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Personalized => "personalized",
            Source::ColdStart => "cold_start",
            Source::NonPersonalized => "non_personalized",
            Source::Popular => "popular",
            Source::Trending => "trending",
            Source::Similar => "similar",
            Source::Holdout => "holdout",
        }
    }
}

/// One item of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommended {
    /// External item id.
    pub item_id: String,
    /// Score (comparable within one list only).
    pub score: f32,
    /// Title from the catalog.
    pub title: Option<String>,
    /// Why.
    pub reason: Reason,
    /// The reason in words.
    pub explanation: String,
    /// The item the reason names (`because`), external id.
    pub reason_item: Option<String>,
    /// The category the reason names, if any.
    pub reason_category: Option<String>,
}

/// A served list.
#[derive(Debug, Clone, PartialEq)]
pub struct RecList {
    /// Unique per response: clicks and purchases that carry it are attributed to this list.
    pub recommendation_id: String,
    /// The model version that produced it (`None` without a model).
    pub model_version: Option<u32>,
    /// Where it came from.
    pub source: Source,
    /// The items, best first (shared with the list cache: a hit copies no item).
    pub items: Arc<[Recommended]>,
    /// Served from the list cache.
    pub cached: bool,
    /// The experiment variant the list was served under, if any.
    pub experiment: Option<ExperimentTag>,
    /// The user's segment, when serving by segment is on and they have one.
    pub segment: Option<String>,
}

/// The experiment a list was served under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentTag {
    /// The experiment.
    pub name: String,
    /// Its phase.
    pub phase: u32,
    /// The variant.
    pub variant: String,
    /// The user's first serve in this phase: the server records the exposure.
    pub first: bool,
}
