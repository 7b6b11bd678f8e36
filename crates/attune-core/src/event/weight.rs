//! How much preference an event expresses: the one rule training and live serving share.
//!
//! A click folded in at serving time must count exactly what it will count in the next
//! training run, or lists would jump at every retrain. So both call [`EventWeighting`]:
//! training maps each event to a [`Touch`] ([`EventWeighting::touch`]) and weighs touches with
//! recency anchored at the data's latest event ([`EventWeighting::at`]); serving weighs a
//! live event with [`EventWeighting::live_weight`], the same weights without recency decay
//! (a live event is, by definition, recent), and adds it to its user's history with
//! [`EventWeighting::live_history_weight`] (times the history rating factor, if any). The
//! arithmetic of one touch is [`crate::sparse::ValidImplicitWeights::weight`].
//!
//! Rules on top of the per-type weight: a rating below `min_positive_rating` expresses no
//! preference (its implicit weight is 0; the rating itself still trains explicit models);
//! types without a weight (impressions by default, custom types) weigh 0.

use std::collections::BTreeMap;

use super::Event;
use crate::model::ParamError;
use crate::sparse::{
    DwellCurve, HistoryWeights, ImplicitWeights, RatedHistory, Recency, Touch, UserRecency,
    ValidImplicitWeights,
};

/// The weighting rules, unchecked ([`EventWeightParams::check`]).
#[derive(Debug, Clone, PartialEq)]
pub struct EventWeightParams {
    /// Weight per event type name; types not named weigh 0.
    pub type_weights: BTreeMap<String, f32>,
    /// Dwell-time credit.
    pub dwell: Option<DwellCurve>,
    /// Floor of the scroll-depth credit.
    pub scroll_floor: Option<f32>,
    /// Training weights halve every this many microseconds before the data's latest event.
    pub recency_half_life_micros: Option<i64>,
    /// Largest weight of one (user, item) cell.
    pub cap: Option<f32>,
    /// The history a user is folded in from halves every this many interactions back in their
    /// own history ([`crate::sparse::UserRecency`]); models train on undecayed weights.
    pub user_recency_half_life: Option<f32>,
    /// `(exponent, pivot)`: a rated item of the history users are folded in from weighs
    /// `(rating / pivot)^exponent` ([`crate::sparse::RatedHistory`]); models train on the
    /// weights as the events give them.
    pub history_rating: Option<(f32, f32)>,
    /// Ratings below this express no preference.
    pub min_positive_rating: Option<f64>,
}

impl Default for EventWeightParams {
    /// The configuration defaults (`config/attune.toml`): view, click and dwell 1, scroll 0.5,
    /// hover 0.25, add to cart 3, purchase 5, rating 1; dwell credit saturating at 30 s from a
    /// floor of 0.2; scroll credit from a floor of 0.5; no recency decay, no cap.
    fn default() -> Self {
        let type_weights = [
            ("add_to_cart", 3.0),
            ("click", 1.0),
            ("dwell", 1.0),
            ("hover", 0.25),
            ("purchase", 5.0),
            ("rating", 1.0),
            ("scroll", 0.5),
            ("view", 1.0),
        ]
        .into_iter()
        .map(|(k, w)| (k.to_string(), w))
        .collect();
        Self {
            type_weights,
            dwell: Some(DwellCurve {
                saturate_ms: 30_000.0,
                floor: 0.2,
            }),
            scroll_floor: Some(0.5),
            recency_half_life_micros: None,
            cap: None,
            user_recency_half_life: None,
            history_rating: None,
            min_positive_rating: None,
        }
    }
}

impl EventWeightParams {
    /// Check every rule; the error names the field.
    pub fn check(self) -> Result<EventWeighting, ParamError> {
        if let Some(r) = self.min_positive_rating {
            if !r.is_finite() {
                return Err(ParamError::new(
                    "events",
                    "min_positive_rating",
                    r,
                    "must be a finite number",
                ));
            }
        }
        let (type_names, kinds): (Vec<String>, Vec<f32>) = self.type_weights.into_iter().unzip();
        let weights = ImplicitWeights {
            kinds,
            dwell: self.dwell,
            scroll_floor: self.scroll_floor,
            recency: self.recency_half_life_micros.map(|h| Recency {
                half_life_micros: h,
                now_micros: 0,
            }),
            cap: self.cap,
        };
        let history = HistoryWeights {
            recency: self
                .user_recency_half_life
                .map(UserRecency::new)
                .transpose()?,
            rating: self
                .history_rating
                .map(|(exponent, pivot)| RatedHistory::new(exponent, pivot))
                .transpose()?,
        };
        // Validates kinds, curves, half-life and cap; the checked copy is kept for live use.
        let live = ImplicitWeights {
            recency: None,
            ..weights.clone()
        };
        weights.clone().check()?;
        Ok(EventWeighting {
            type_names,
            live: live.check()?,
            weights,
            history,
            min_positive_rating: self.min_positive_rating,
        })
    }
}

/// Checked weighting rules (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct EventWeighting {
    /// Event type names, in the order of `weights.kinds`.
    type_names: Vec<String>,
    /// Training weights; `recency.now_micros` is set per data set by [`EventWeighting::at`].
    weights: ImplicitWeights,
    /// The same without recency, for live events.
    live: ValidImplicitWeights,
    /// How the history users are folded in from is weighed beyond the training weights.
    history: HistoryWeights,
    min_positive_rating: Option<f64>,
}

impl Default for EventWeighting {
    fn default() -> Self {
        EventWeightParams::default()
            .check()
            .expect("the default weighting is valid")
    }
}

impl EventWeighting {
    /// The kind index of `e` in the weights: `usize::MAX` (weight 0) for a type without a
    /// weight and for a rating below `min_positive_rating`.
    fn kind(&self, e: &Event) -> usize {
        let below = matches!(
            (e.rating(), self.min_positive_rating),
            (Some(r), Some(min)) if r < min
        );
        if below {
            return usize::MAX;
        }
        self.type_names
            .iter()
            .position(|n| n == e.event_type.as_str())
            .unwrap_or(usize::MAX)
    }

    /// `e` as a touch of `user` on `item` (dense indices of the caller's matrices).
    pub fn touch(&self, user: u32, item: u32, e: &Event) -> Touch {
        Touch {
            user,
            item,
            kind: self.kind(e),
            time_micros: e.timestamp.utc_micros,
            dwell_ms: e.properties.dwell_ms.map(|v| v as f32),
            scroll_depth: e.properties.scroll_depth.map(|v| v as f32),
        }
    }

    /// The training weights of a data set whose latest event is at `now_micros` (recency
    /// decays from there, not from the wall clock, so training on a snapshot is
    /// reproducible).
    pub fn at(&self, now_micros: i64) -> ValidImplicitWeights {
        let mut w = self.weights.clone();
        if let Some(r) = &mut w.recency {
            r.now_micros = now_micros;
        }
        w.check()
            .expect("checked when the weighting was built; now_micros has no rule")
    }

    /// The per-user positional decay of the history users are folded in from, if configured.
    pub fn user_recency(&self) -> Option<UserRecency> {
        self.history.recency
    }

    /// The same rules with another per-user decay (`None`: off).
    pub fn with_user_recency(&self, user_recency: Option<UserRecency>) -> Self {
        let mut w = self.clone();
        w.history.recency = user_recency;
        w
    }

    /// How the history users are folded in from is weighed beyond the training weights.
    pub fn history(&self) -> HistoryWeights {
        self.history
    }

    /// The implicit weight of a live event: the training weight without recency decay (what
    /// live trending counts, as training's item events do).
    pub fn live_weight(&self, e: &Event) -> f32 {
        self.live.weight(&self.touch(0, 0, e)) as f32
    }

    /// What a live event adds to the history its user is folded in from: [`Self::live_weight`]
    /// times the history rating factor of a rating, as the stored history weighs the ratings
    /// training saw.
    pub fn live_history_weight(&self, e: &Event) -> f32 {
        let w = self.live.weight(&self.touch(0, 0, e));
        match (self.history.rating, e.rating()) {
            (Some(h), Some(r)) => (w * h.factor(r as f32)) as f32,
            _ => w as f32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Context, EventType, Properties};
    use crate::sparse::Touch;
    use crate::time::Timestamp;

    fn event(t: EventType, value: Option<f64>, dwell_ms: Option<u64>, micros: i64) -> Event {
        Event {
            event_id: "e".into(),
            event_type: t,
            user_id: Some("u".into()),
            anonymous_id: None,
            item_id: Some("i".into()),
            timestamp: Timestamp::from_utc_micros(micros),
            value,
            properties: Properties {
                dwell_ms,
                ..Properties::default()
            },
            context: Context::default(),
        }
    }

    #[test]
    fn defaults_weigh_the_funnel() {
        let w = EventWeighting::default();
        assert_eq!(w.live_weight(&event(EventType::View, None, None, 0)), 1.0);
        assert_eq!(
            w.live_weight(&event(EventType::Purchase, None, None, 0)),
            5.0
        );
        assert_eq!(
            w.live_weight(&event(EventType::Impression, None, None, 0)),
            0.0
        );
        // 15 s of dwell: 0.2 + 0.8 · 0.5.
        let d = w.live_weight(&event(EventType::Dwell, None, Some(15_000), 0));
        assert!((d - 0.6).abs() < 1e-6, "{d}");
    }

    #[test]
    fn low_ratings_express_no_preference() {
        let w = EventWeightParams {
            min_positive_rating: Some(4.0),
            ..EventWeightParams::default()
        }
        .check()
        .unwrap();
        let low = event(EventType::Rating, Some(3.0), None, 0);
        let high = event(EventType::Rating, Some(4.5), None, 0);
        assert_eq!(w.live_weight(&low), 0.0);
        assert_eq!(w.live_weight(&high), 1.0);
        assert_eq!(w.touch(1, 2, &low).kind, usize::MAX);
    }

    #[test]
    fn training_decays_from_the_data_and_live_does_not() {
        const DAY: i64 = 86_400_000_000;
        let w = EventWeightParams {
            recency_half_life_micros: Some(10 * DAY),
            ..EventWeightParams::default()
        }
        .check()
        .unwrap();
        let old = event(EventType::Purchase, None, None, 0);
        let t: Touch = w.touch(3, 4, &old);
        assert_eq!((t.user, t.item), (3, 4));
        // Ten days before the data's latest event: half of 5.
        assert!((w.at(10 * DAY).weight(&t) - 2.5).abs() < 1e-9);
        assert_eq!(w.at(0).weight(&t), 5.0);
        assert_eq!(w.live_weight(&old), 5.0);
    }

    #[test]
    fn bad_rules_name_the_field() {
        let mut p = EventWeightParams::default();
        p.type_weights.insert("view".into(), -1.0);
        assert_eq!(p.check().unwrap_err().field, "kinds");
        let p = EventWeightParams {
            recency_half_life_micros: Some(0),
            ..EventWeightParams::default()
        };
        assert_eq!(p.check().unwrap_err().field, "recency.half_life");
        let p = EventWeightParams {
            min_positive_rating: Some(f64::NAN),
            ..EventWeightParams::default()
        };
        assert_eq!(p.check().unwrap_err().field, "min_positive_rating");
    }

    #[test]
    fn a_history_rating_factor_weighs_live_ratings_into_the_history_only() {
        let w = EventWeightParams {
            history_rating: Some((2.0, 4.0)),
            ..EventWeightParams::default()
        }
        .check()
        .unwrap();
        assert!(w.history().differs());
        // (5 / 4)^2 of the rating type's weight 1 in the history; a view keeps its weight, and
        // trending counts the rating as training's item events do.
        let rating = event(EventType::Rating, Some(5.0), None, 0);
        let five = w.live_history_weight(&rating);
        assert!((five - 1.5625).abs() < 1e-6, "{five}");
        assert_eq!(w.live_weight(&rating), 1.0);
        let view = event(EventType::View, None, None, 0);
        assert_eq!(w.live_history_weight(&view), 1.0);
        let off = HistoryWeights {
            rating: None,
            ..w.history()
        };
        assert!(!off.differs());
        let bad = EventWeightParams {
            history_rating: Some((1.0, 0.0)),
            ..EventWeightParams::default()
        }
        .check()
        .unwrap_err();
        assert_eq!(bad.field, "history_rating.pivot");
    }
}
