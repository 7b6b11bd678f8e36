//! The pipeline's settings: `[train]` as the configuration file spells it ([`TrainSettings`],
//! owned here so the binary composes it without re-declaring it) and the checked forms the
//! pipeline runs with ([`TrainConfig`], [`PipelineConfig`]).

use std::collections::BTreeMap;

use attune_core::clean::ValidCleanConfig;
use attune_core::event::weight::EventWeightParams;
use attune_core::event::EventWeighting;
use attune_core::fairness::reweight::Reweight;
use attune_core::fairness::ItemGroupSpec;
use attune_core::model::ann::TopKValidParams;
use attune_core::sparse::{DwellCurve, RatedHistory, RatingPolicy};
use attune_core::time::MICROS_PER_DAY;
use serde::{Deserialize, Serialize};

use crate::error::{PipelineError, Result};

/// `[train]`: how stored events become training data (see `config/attune.toml` for each key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSettings {
    /// Implicit weight per event type name.
    pub event_weights: BTreeMap<String, f32>,
    /// Rating events below this add no implicit weight (0: every rating is positive).
    pub min_positive_rating: f64,
    /// Dwell time of full credit (0: no dwell credit).
    pub dwell_saturate_secs: f64,
    /// Credit of a zero dwell.
    pub dwell_floor: f32,
    /// Floor of the scroll credit (negative: no scroll credit).
    pub scroll_floor: f32,
    /// Weights halve every this many days before the latest event (0: no decay).
    pub recency_half_life_days: f64,
    /// Weights halve every this many interactions back in each user's own history (0: no
    /// decay; docs/evaluation.md measures it).
    #[serde(default)]
    pub user_recency_half_life: f32,
    /// A rated item of the history users are folded in from weighs `(rating / pivot)^this`
    /// (0: as the events weigh it; docs/evaluation.md measures it).
    #[serde(default)]
    pub history_rating_exponent: f32,
    /// The rating that weighs what a click weighs under `history_rating_exponent`.
    #[serde(default = "default_history_rating_pivot")]
    pub history_rating_pivot: f32,
    /// Largest weight of one cell (0: no cap).
    pub cap: f32,
    /// `latest` or `mean`.
    pub rating_policy: String,
    /// Apply the cleaning pass before training.
    pub clean: bool,
    /// `[train.fairness]`: re-weighting toward under-exposed popularity buckets.
    #[serde(default)]
    pub fairness: TrainFairnessSettings,
}

/// `[train.fairness]` (docs/fairness.md, "Re-weighting at training").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainFairnessSettings {
    /// Strength β of the re-weighting (0: off).
    pub reweight_beta: f64,
    /// The item groups re-weighted: `popularity:K` (the only grouping training knows).
    pub item_groups: String,
}

impl Default for TrainFairnessSettings {
    fn default() -> Self {
        Self {
            reweight_beta: 0.0,
            item_groups: "popularity:3".into(),
        }
    }
}

fn default_history_rating_pivot() -> f32 {
    3.0
}

fn bad(key: &str, rule: impl Into<String>) -> PipelineError {
    PipelineError::Config {
        key: format!("train.{key}"),
        rule: rule.into(),
        env: format!("TRAIN__{}", key.to_ascii_uppercase()),
    }
}

impl TrainSettings {
    /// Check every key; an error names the `train.*` key and what it allows.
    pub fn check(&self) -> Result<TrainConfig> {
        if let Some((name, w)) = self
            .event_weights
            .iter()
            .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
        {
            return Err(bad(
                "event_weights",
                format!("must be finite numbers >= 0; {name} = {w}"),
            ));
        }
        if !(self.dwell_saturate_secs.is_finite() && self.dwell_saturate_secs >= 0.0) {
            return Err(bad("dwell_saturate_secs", "must be a number >= 0"));
        }
        if !(0.0..=1.0).contains(&self.dwell_floor) {
            return Err(bad("dwell_floor", "must be between 0 and 1"));
        }
        if !(self.scroll_floor.is_finite() && self.scroll_floor <= 1.0) {
            return Err(bad("scroll_floor", "must be at most 1 (negative disables)"));
        }
        if !(self.recency_half_life_days.is_finite() && self.recency_half_life_days >= 0.0) {
            return Err(bad("recency_half_life_days", "must be a number >= 0"));
        }
        if !(self.user_recency_half_life.is_finite() && self.user_recency_half_life >= 0.0) {
            return Err(bad(
                "user_recency_half_life",
                "must be a number of interactions >= 0 (0: off)",
            ));
        }
        if !(self.history_rating_exponent.is_finite()
            && (0.0..=RatedHistory::MAX_EXPONENT).contains(&self.history_rating_exponent))
        {
            return Err(bad(
                "history_rating_exponent",
                "must be a number between 0 and 4 (0: off)",
            ));
        }
        if !(self.history_rating_pivot.is_finite() && self.history_rating_pivot > 0.0) {
            return Err(bad(
                "history_rating_pivot",
                "must be a rating > 0 (the rating that weighs what a click weighs)",
            ));
        }
        if !(self.cap.is_finite() && self.cap >= 0.0) {
            return Err(bad("cap", "must be a number >= 0 (0: no cap)"));
        }
        if !self.min_positive_rating.is_finite() {
            return Err(bad("min_positive_rating", "must be a number"));
        }
        let rating_policy = match self.rating_policy.as_str() {
            "latest" => RatingPolicy::Latest,
            "mean" => RatingPolicy::Mean,
            _ => return Err(bad("rating_policy", "must be \"latest\" or \"mean\"")),
        };
        let weighting = EventWeightParams {
            type_weights: self.event_weights.clone(),
            dwell: (self.dwell_saturate_secs > 0.0).then_some(DwellCurve {
                saturate_ms: (self.dwell_saturate_secs * 1000.0) as f32,
                floor: self.dwell_floor,
            }),
            scroll_floor: (self.scroll_floor >= 0.0).then_some(self.scroll_floor),
            recency_half_life_micros: (self.recency_half_life_days > 0.0)
                .then(|| ((self.recency_half_life_days * MICROS_PER_DAY as f64) as i64).max(1)),
            cap: (self.cap > 0.0).then_some(self.cap),
            user_recency_half_life: (self.user_recency_half_life > 0.0)
                .then_some(self.user_recency_half_life),
            history_rating: (self.history_rating_exponent > 0.0)
                .then_some((self.history_rating_exponent, self.history_rating_pivot)),
            min_positive_rating: (self.min_positive_rating > 0.0)
                .then_some(self.min_positive_rating),
        }
        .check()
        .map_err(|e| bad(e.field, format!("= {} is invalid: {}", e.value, e.rule)))?;
        let reweight = match self.fairness.item_groups.parse::<ItemGroupSpec>() {
            _ if self.fairness.reweight_beta == 0.0 => None,
            Ok(ItemGroupSpec::Popularity(k)) => Some(
                Reweight::new(k, self.fairness.reweight_beta)
                    .map_err(|e| bad("fairness.reweight_beta", e.to_string()))?,
            ),
            _ => {
                return Err(bad(
                    "fairness.item_groups",
                    format!(
                        "must be popularity:<K> (K >= 1), got {:?}",
                        self.fairness.item_groups
                    ),
                ))
            }
        };
        Ok(TrainConfig {
            weighting,
            rating_policy,
            clean: self.clean,
            reweight,
        })
    }
}

/// The checked `[train]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// How an event becomes an implicit weight: the same rule live serving folds events in by.
    pub weighting: EventWeighting,
    /// How repeated ratings of one item by one user resolve.
    pub rating_policy: RatingPolicy,
    /// Apply the cleaning pass.
    pub clean: bool,
    /// Re-weight interactions toward under-exposed popularity buckets (`None`: off).
    pub reweight: Option<Reweight>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            weighting: EventWeighting::default(),
            rating_policy: RatingPolicy::Latest,
            clean: true,
            reweight: None,
        }
    }
}

/// Everything the pipeline runs with (artifacts go under the serving engine's data
/// directory, where it reads them back).
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// How events become training data.
    pub train: TrainConfig,
    /// The cleaning pass (applied when `train.clean`).
    pub clean: ValidCleanConfig,
    /// Exact or approximate top-k in serving: training stores the approximate index in the
    /// artifact of an ALS catalog that will be served through it.
    pub topk: TopKValidParams,
    /// Share of each user's pairs held out to validate (`auto`, grids, promotion by metric).
    pub validation_fraction: f64,
    /// Seed of the validation split.
    pub seed: u64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            train: TrainConfig::default(),
            clean: attune_core::clean::CleanConfig::default()
                .check()
                .expect("the default cleaning parameters are valid"),
            topk: attune_core::model::ann::TopKParams::default()
                .check()
                .expect("the default top-k parameters are valid"),
            validation_fraction: 0.2,
            seed: 42,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> TrainSettings {
        TrainSettings {
            event_weights: [("view", 1.0), ("purchase", 5.0)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            min_positive_rating: 0.0,
            dwell_saturate_secs: 30.0,
            dwell_floor: 0.2,
            scroll_floor: 0.5,
            recency_half_life_days: 0.0,
            user_recency_half_life: 0.0,
            history_rating_exponent: 0.0,
            history_rating_pivot: 3.0,
            cap: 0.0,
            rating_policy: "latest".into(),
            clean: true,
            fairness: TrainFairnessSettings::default(),
        }
    }

    #[test]
    fn fairness_reweighting_is_checked() {
        let mut s = defaults();
        assert_eq!(s.check().unwrap().reweight, None);
        s.fairness.reweight_beta = 0.5;
        let r = s.check().unwrap().reweight.unwrap();
        assert_eq!((r.buckets(), r.beta()), (3, 0.5));
        s.fairness.item_groups = "attr:brand".into();
        let e = s.check().unwrap_err().to_string();
        assert!(e.contains("train.fairness.item_groups"), "{e}");
        s.fairness.item_groups = "popularity:2".into();
        s.fairness.reweight_beta = -1.0;
        let e = s.check().unwrap_err().to_string();
        assert!(e.contains("train.fairness.reweight_beta"), "{e}");
    }

    #[test]
    fn bad_settings_name_the_key_and_its_variable() {
        let mut s = defaults();
        s.rating_policy = "first".into();
        let e = s.check().unwrap_err().to_string();
        assert!(
            e.contains("train.rating_policy") && e.contains("ATTUNE_TRAIN__RATING_POLICY"),
            "{e}"
        );
        let mut s = defaults();
        s.event_weights.insert("view".into(), -1.0);
        let e = s.check().unwrap_err().to_string();
        assert!(
            e.contains("train.event_weights") && e.contains("view"),
            "{e}"
        );
        for (key, edit) in [
            (
                "dwell_floor",
                (|s: &mut TrainSettings| s.dwell_floor = 2.0) as fn(&mut _),
            ),
            ("scroll_floor", |s| s.scroll_floor = 1.5),
            ("recency_half_life_days", |s| {
                s.recency_half_life_days = -1.0
            }),
            ("cap", |s| s.cap = f32::NAN),
            ("user_recency_half_life", |s| {
                s.user_recency_half_life = -2.0
            }),
            ("min_positive_rating", |s| {
                s.min_positive_rating = f64::INFINITY
            }),
            ("history_rating_exponent", |s| {
                s.history_rating_exponent = 5.0
            }),
            ("history_rating_exponent", |s| {
                s.history_rating_exponent = -1.0
            }),
            ("history_rating_pivot", |s| s.history_rating_pivot = 0.0),
            ("dwell_saturate_secs", |s| s.dwell_saturate_secs = -3.0),
        ] {
            let mut s = defaults();
            edit(&mut s);
            let e = s.check().unwrap_err().to_string();
            assert!(e.contains(&format!("train.{key}")), "{key}: {e}");
        }
    }

    #[test]
    fn settings_become_the_weighting_serving_uses_too() {
        let mut s = defaults();
        s.min_positive_rating = 3.0;
        let c = s.check().unwrap();
        assert_eq!(c.rating_policy, RatingPolicy::Latest);
        // The file's keys mean exactly the core's defaults plus the rating threshold.
        let same = EventWeightParams {
            type_weights: s.event_weights.clone(),
            min_positive_rating: Some(3.0),
            ..EventWeightParams::default()
        }
        .check()
        .unwrap();
        assert_eq!(c.weighting, same);
        // The history rating factor is on only with an exponent.
        assert_eq!(c.weighting.history().rating, None);
        s.history_rating_exponent = 1.0;
        s.history_rating_pivot = 4.0;
        let h = s.check().unwrap().weighting.history().rating.unwrap();
        assert_eq!((h.exponent(), h.pivot()), (1.0, 4.0));
    }
}
