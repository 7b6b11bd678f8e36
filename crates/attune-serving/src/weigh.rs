//! The implicit weight of one live event, by the same rules training uses (`[train]` in the
//! configuration), so a click folded in at serving time counts what it would count in the
//! next training run. Recency decay is left out: a live event is, by definition, recent.

use attune_core::event::{Event, EventType};
use attune_core::model::ParamError;
use attune_core::sparse::{ImplicitWeights, Touch, ValidImplicitWeights};

/// Weighs events.
#[derive(Debug, Clone)]
pub struct EventWeigher {
    kind_names: Vec<String>,
    weights: ValidImplicitWeights,
    min_positive_rating: Option<f64>,
}

impl EventWeigher {
    /// `kind_names[k]` is the event type whose weight is `weights.kinds[k]`; types not named
    /// weigh 0. Rating events below `min_positive_rating` weigh 0.
    pub fn new(
        kind_names: Vec<String>,
        mut weights: ImplicitWeights,
        min_positive_rating: Option<f64>,
    ) -> Result<Self, ParamError> {
        weights.recency = None;
        Ok(Self {
            kind_names,
            weights: weights.check()?,
            min_positive_rating,
        })
    }

    /// The configuration defaults (`config/attune.toml`): view, click and dwell 1, scroll 0.5,
    /// hover 0.25, add to cart 3, purchase 5, rating 1; dwell credit saturating at 30 s from a
    /// floor of 0.2; scroll credit from a floor of 0.5.
    pub fn defaults() -> Self {
        let pairs = [
            ("add_to_cart", 3.0),
            ("click", 1.0),
            ("dwell", 1.0),
            ("hover", 0.25),
            ("purchase", 5.0),
            ("rating", 1.0),
            ("scroll", 0.5),
            ("view", 1.0),
        ];
        Self::new(
            pairs.iter().map(|p| p.0.to_string()).collect(),
            ImplicitWeights {
                kinds: pairs.iter().map(|p| p.1).collect(),
                dwell: Some(attune_core::sparse::DwellCurve {
                    saturate_ms: 30_000.0,
                    floor: 0.2,
                }),
                scroll_floor: Some(0.5),
                recency: None,
                cap: None,
            },
            None,
        )
        .expect("the defaults are valid")
    }

    /// The implicit weight of `e` (0 for events that carry no preference).
    pub fn weight(&self, e: &Event) -> f32 {
        let rating = rating_of(e);
        if matches!((rating, self.min_positive_rating), (Some(r), Some(min)) if r < min) {
            return 0.0;
        }
        let kind = self
            .kind_names
            .iter()
            .position(|n| n == e.event_type.as_str())
            .unwrap_or(usize::MAX);
        let touch = Touch {
            user: 0,
            item: 0,
            kind,
            time_micros: e.timestamp.utc_micros,
            dwell_ms: e.properties.dwell_ms.map(|v| v as f32),
            scroll_depth: e.properties.scroll_depth.map(|v| v as f32),
        };
        self.weights.weight(&touch) as f32
    }
}

/// The explicit rating of an event, if it is a rating event with a value.
pub fn rating_of(e: &Event) -> Option<f64> {
    if e.event_type != EventType::Rating {
        return None;
    }
    e.properties.rating.or(e.value).filter(|r| r.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use attune_core::event::{Context, Properties};
    use attune_core::time::Timestamp;

    pub(crate) fn event(t: EventType, value: Option<f64>, dwell_ms: Option<u32>) -> Event {
        Event {
            event_id: "e".into(),
            event_type: t,
            user_id: Some("u".into()),
            anonymous_id: None,
            item_id: Some("i".into()),
            timestamp: Timestamp::from_utc_micros(0),
            value,
            properties: Properties {
                dwell_ms: dwell_ms.map(u64::from),
                ..Properties::default()
            },
            context: Context::default(),
        }
    }

    #[test]
    fn defaults_weigh_the_funnel() {
        let w = EventWeigher::defaults();
        assert_eq!(w.weight(&event(EventType::View, None, None)), 1.0);
        assert_eq!(w.weight(&event(EventType::Purchase, None, None)), 5.0);
        assert_eq!(w.weight(&event(EventType::Impression, None, None)), 0.0);
        // 15 s of dwell: 0.2 + 0.8 · 0.5.
        let d = w.weight(&event(EventType::Dwell, None, Some(15_000)));
        assert!((d - 0.6).abs() < 1e-6, "{d}");
        let strict = EventWeigher::new(
            vec!["rating".into()],
            ImplicitWeights {
                kinds: vec![1.0],
                dwell: None,
                scroll_floor: None,
                recency: None,
                cap: None,
            },
            Some(4.0),
        )
        .unwrap();
        assert_eq!(
            strict.weight(&event(EventType::Rating, Some(3.0), None)),
            0.0
        );
        assert_eq!(
            strict.weight(&event(EventType::Rating, Some(4.5), None)),
            1.0
        );
    }
}
