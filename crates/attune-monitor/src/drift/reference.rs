//! The drift reference of a model version: what the data looked like when the model was
//! built. It is the last window of the training data (the events in `[cutoff − window,
//! cutoff)`, `cutoff` the model's last training event), with the same window length as the
//! current window so per-item and per-user counts are comparable, plus a popularity ranking
//! of the training events (so a new set of popular items shows as events on unranked or
//! low-ranked items). Both windows are ranked out of sample and against rankings of the same
//! number of events: the reference window against the training events before it, the current
//! window against as many of the latest training events (all of them when fewer than half a
//! window precede the reference window). The history read for ranking is bounded
//! ([`RANKING_WINDOWS`] windows, at most `max_events` events). Otherwise the reference would never see an unranked
//! item while a steady stream always does (tail items training happened to miss), and the
//! rank scales would differ.
//!
//! Stored in the store as the version's training profile (one JSON object, one reference per
//! window length), so it is computed once per version and window and survives restarts and
//! the deletion of old events.

use std::collections::{BTreeMap, HashMap};

use attune_store::Store;
use serde::{Deserialize, Serialize};

use super::sample::{ranking, read_window, sample, Sample};
use super::DriftConfig;
use crate::error::{MonitorError, Result};

/// Most items the stored ranking holds; items past it rank as new (popularity's tail).
pub const MAX_RANKED_ITEMS: usize = 100_000;

/// One version's reference for one window length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// The model version.
    pub version: u32,
    /// The end of its training data, UTC micros (exclusive).
    pub cutoff_micros: i64,
    /// The window's start (`cutoff − window`).
    pub since_micros: i64,
    /// Items by popularity over the latest training events, most popular first (what the
    /// current window is ranked against).
    pub ranking: Vec<String>,
    /// The window's feature values (thinned, see `sample::MAX_STORED_VALUES`).
    pub sample: Sample,
}

/// The stored training profile: references by window length (seconds, as text keys).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Profile {
    #[serde(default)]
    drift: BTreeMap<String, Reference>,
}

impl Reference {
    /// The reference as stored: every feature thinned to at most
    /// `sample::MAX_STORED_VALUES` values (what [`load`] returns after [`save`]).
    pub fn thinned(mut self) -> Self {
        self.sample = self.sample.thinned();
        self
    }

    /// Item → ranking position.
    pub fn rank_index(&self) -> HashMap<String, u32> {
        index(&self.ranking)
    }
}

/// How much training history before the reference window ranks items: this many windows
/// (a day with the default hour), at most `max_events` of its latest events, so building a
/// reference reads at most twice `max_events` events however long the training history.
pub const RANKING_WINDOWS: i64 = 24;

/// Build the reference of `version` trained on events before `cutoff_micros` (scores left
/// empty; the caller with the model adds them before [`save`]).
pub fn build(
    store: &dyn Store,
    app: &str,
    version: u32,
    cutoff_micros: i64,
    window_micros: i64,
    config: &DriftConfig,
) -> Result<Reference> {
    let (since, mut all) = read_window(
        store,
        app,
        cutoff_micros.saturating_sub(window_micros),
        cutoff_micros,
        config.max_events,
    )?;
    if all.is_empty() {
        return Err(MonitorError::NoData(format!(
            "model v{version} of app {app:?} has no training events in the {} s before its \
             cutoff, so it has no drift reference",
            window_micros / 1_000_000
        )));
    }
    let history = window_micros.saturating_mul(RANKING_WINDOWS);
    let (_, mut prior) = read_window(
        store,
        app,
        since.saturating_sub(history),
        since,
        config.max_events,
    )?;
    let start = prior.len();
    prior.append(&mut all);
    let all = prior;
    let (prior, window) = all.split_at(start);
    // Both windows are ranked out of sample and against the same number of events: the
    // reference window against the training events before it, the current window (later)
    // against as many of the latest training events. Rankings of different sizes would differ
    // in scale (a longer one reaches further into the tail), which KS sees at once.
    let (latest, before) = if 2 * prior.len() >= window.len() {
        (&all[all.len() - prior.len()..], prior)
    } else {
        (&all[..], &all[..])
    };
    let mut ranked = ranking(latest);
    ranked.truncate(MAX_RANKED_ITEMS);
    let mut ranked_before = ranking(before);
    ranked_before.truncate(MAX_RANKED_ITEMS);
    let rank = index(&ranked_before);
    Ok(Reference {
        version,
        cutoff_micros,
        since_micros: since,
        sample: sample(store, app, window, &rank, &config.attributes)?,
        ranking: ranked,
    })
}

fn index(ranking: &[String]) -> HashMap<String, u32> {
    ranking
        .iter()
        .enumerate()
        .map(|(i, item)| (item.clone(), i as u32))
        .collect()
}

fn key(window_micros: i64) -> String {
    (window_micros / 1_000_000).to_string()
}

/// The stored reference of `version` for `window_micros`, if any.
pub fn load(
    store: &dyn Store,
    app: &str,
    version: u32,
    window_micros: i64,
) -> Result<Option<Reference>> {
    let Some(text) = store.get_training_profile(app, version)? else {
        return Ok(None);
    };
    let profile: Profile = match serde_json::from_str(&text) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(app, version, error = %e, "drift reference unreadable; it is rebuilt");
            return Ok(None);
        }
    };
    Ok(profile.drift.get(&key(window_micros)).cloned())
}

/// Store `reference` (thinned) as its version's reference for `window_micros`, beside the
/// other window lengths'.
pub fn save(store: &dyn Store, app: &str, window_micros: i64, reference: &Reference) -> Result<()> {
    let mut profile: Profile = store
        .get_training_profile(app, reference.version)?
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    profile
        .drift
        .insert(key(window_micros), reference.clone().thinned());
    let text = serde_json::to_string(&profile)
        .map_err(|e| MonitorError::NoData(format!("cannot encode the drift reference: {e}")))?;
    store.put_training_profile(app, reference.version, &text)?;
    Ok(())
}
