//! Drift: is the data still what the active model learned from? Each feature of the window
//! ending now is compared with the same feature over the last window of the model's
//! training data ([`reference`]) by the population stability index and, for numeric
//! features, the two-sample Kolmogorov–Smirnov test (`attune_core::stats::{psi, ks}`).
//!
//! Features ([`FEATURES`], docs/monitoring.md "Drift" has the definitions): the event-type
//! mix, events per item, the training-popularity rank of events' items, events per user,
//! configured item and user attributes, and the model's scores of sampled users (shown, not
//! judged by default: scores move legitimately).
//!
//! A tick records `drift_psi{feature}`, `drift_ks{feature}` (the KS statistic),
//! `drift_new_items_share` and `drift_detected` (1 when a judged feature drifted) as series,
//! so alert rules fire on them like on any metric.

mod config;
mod judge;
pub mod reference;
mod sample;

use std::collections::BTreeMap;

use attune_store::{MetricPoint, Store};
use serde::Serialize;

pub use config::DriftConfig;
pub use judge::{FeatureDrift, Status};
pub use reference::Reference;
pub use sample::{read_events, read_window, AttrSample, Sample};

use crate::error::{MonitorError, Result};

/// The built-in features, in report order (attributes and `score` follow).
pub const FEATURES: &[&str] = &["event_type", "item_events", "item_rank", "user_events"];

/// What `GET /v1/monitor/drift` and `attune monitor drift` show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    /// The app.
    pub app: String,
    /// The active model version the reference belongs to.
    pub model_version: u32,
    /// The reference window, `[since, until)`, UTC micros (`until`: the training cutoff).
    pub reference_since_micros: i64,
    /// Its end.
    pub reference_until_micros: i64,
    /// The current window.
    pub since_micros: i64,
    /// Its end (now).
    pub until_micros: i64,
    /// Interaction events in the current window (at most `max_events`: a busier window is
    /// shortened to its latest part, and `since_micros` says where it starts).
    pub events: u64,
    /// Share of the window's events on items the ranking does not hold (new items, and tail
    /// items the training period missed).
    pub new_items_share: Option<f64>,
    /// The same share in the reference window (against the training before it): the level a
    /// steady stream has.
    pub reference_new_items_share: Option<f64>,
    /// Every feature.
    pub features: Vec<FeatureDrift>,
    /// Whether a judged feature drifted.
    pub drift_detected: bool,
}

impl DriftReport {
    /// The features that drifted and count.
    pub fn drifted(&self) -> Vec<&str> {
        self.features
            .iter()
            .filter(|f| f.judged && f.status == Status::Drifted)
            .map(|f| f.feature.as_str())
            .collect()
    }
}

/// The feature values of `events` (a window's interactions, [`read_events`]) ranked against
/// `reference` (scores left empty: the caller with the model adds them).
pub fn sample_events(
    store: &dyn Store,
    app: &str,
    events: &[attune_core::event::Event],
    reference: &Reference,
    config: &DriftConfig,
) -> Result<Sample> {
    sample::sample(
        store,
        app,
        events,
        &reference.rank_index(),
        &config.attributes,
    )
}

/// A window must be positive.
pub fn check_window(window_micros: i64) -> Result<()> {
    if window_micros <= 0 {
        return Err(MonitorError::invalid("window", "must be positive"));
    }
    Ok(())
}

/// Compare `current` (the window `[since, until)`) with `reference`.
pub fn compare(
    app: &str,
    reference: &Reference,
    current: &Sample,
    since_micros: i64,
    until_micros: i64,
    config: &DriftConfig,
) -> DriftReport {
    let r = &reference.sample;
    let mut features = vec![
        judge::categorical(
            "event_type",
            &r.event_types,
            &current.event_types,
            true,
            config,
        ),
        judge::numeric(
            "item_events",
            &r.item_events,
            &current.item_events,
            true,
            config,
        ),
        judge::numeric("item_rank", &r.item_rank, &current.item_rank, true, config),
        judge::numeric(
            "user_events",
            &r.user_events,
            &current.user_events,
            true,
            config,
        ),
    ];
    let empty = AttrSample::default();
    for name in &config.attributes {
        let (a, b) = (
            r.attributes.get(name).unwrap_or(&empty),
            current.attributes.get(name).unwrap_or(&empty),
        );
        features.push(if a.categories.is_empty() && b.categories.is_empty() {
            judge::numeric(name, &a.numbers, &b.numbers, true, config)
        } else {
            judge::categorical(name, &a.categories, &b.categories, true, config)
        });
    }
    if !r.score.is_empty() || !current.score.is_empty() {
        features.push(judge::numeric(
            "score",
            &r.score,
            &current.score,
            config.judge_score,
            config,
        ));
    }
    let drift_detected = features
        .iter()
        .any(|f| f.judged && f.status == Status::Drifted);
    DriftReport {
        app: app.to_string(),
        model_version: reference.version,
        reference_since_micros: reference.since_micros,
        reference_until_micros: reference.cutoff_micros,
        since_micros,
        until_micros,
        events: current.events,
        new_items_share: share(current),
        reference_new_items_share: share(r),
        features,
        drift_detected,
    }
}

fn share(s: &Sample) -> Option<f64> {
    (s.events > 0).then(|| s.new_item_events as f64 / s.events as f64)
}

/// The report as series points at `at_micros`: `drift_psi` and `drift_ks` per judged-or-shown
/// feature with enough data (label `feature`), `drift_new_items_share`, `drift_detected`.
pub fn points(report: &DriftReport, at_micros: i64) -> Vec<MetricPoint> {
    let point = |metric: &str, labels: BTreeMap<String, String>, value: f64| MetricPoint {
        metric: metric.to_string(),
        labels,
        at_micros,
        value,
    };
    let mut out = Vec::new();
    for f in report
        .features
        .iter()
        .filter(|f| f.status != Status::InsufficientData)
    {
        let labels: BTreeMap<String, String> = [("feature".to_string(), f.feature.clone())].into();
        if let Some(p) = f.psi {
            out.push(point("drift_psi", labels.clone(), p));
        }
        if let Some(d) = f.ks_statistic {
            out.push(point("drift_ks", labels, d));
        }
    }
    if let Some(s) = report.new_items_share {
        out.push(point("drift_new_items_share", BTreeMap::new(), s));
    }
    out.push(point(
        "drift_detected",
        BTreeMap::new(),
        f64::from(u8::from(report.drift_detected)),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> Reference {
        Reference {
            version: 3,
            cutoff_micros: 2_000,
            since_micros: 1_000,
            ranking: vec!["a".into(), "b".into()],
            sample: Sample {
                events: 2_000,
                event_types: [("view".to_string(), 1_800), ("purchase".to_string(), 200)].into(),
                item_rank: (0..2_000).map(|i| f64::from(i % 2)).collect(),
                item_events: vec![1.0; 10],
                ..Sample::default()
            },
        }
    }

    #[test]
    fn points_name_each_judged_feature_and_skip_insufficient_ones() {
        let current = Sample {
            events: 2_000,
            event_types: [("view".to_string(), 1_000), ("purchase".to_string(), 1_000)].into(),
            item_rank: (0..2_000).map(|i| f64::from(i % 3)).collect(),
            new_item_events: 700,
            item_events: vec![2.0; 10],
            ..Sample::default()
        };
        let r = compare(
            "shop",
            &reference(),
            &current,
            5,
            9,
            &DriftConfig::default(),
        );
        assert_eq!(r.model_version, 3);
        assert!(r.drift_detected);
        assert_eq!(r.drifted(), ["event_type", "item_rank"]);
        assert_eq!(r.new_items_share, Some(0.35));
        let item_events = &r.features[1];
        assert_eq!(item_events.status, Status::InsufficientData);
        let names: Vec<(String, String)> = points(&r, 9)
            .into_iter()
            .map(|p| {
                assert_eq!(p.at_micros, 9);
                let feature = p.labels.get("feature").cloned().unwrap_or_default();
                (p.metric, feature)
            })
            .collect();
        let expected: Vec<(String, String)> = [
            ("drift_psi", "event_type"),
            ("drift_psi", "item_rank"),
            ("drift_ks", "item_rank"),
            ("drift_new_items_share", ""),
            ("drift_detected", ""),
        ]
        .iter()
        .map(|(m, f)| (m.to_string(), f.to_string()))
        .collect();
        assert_eq!(names, expected);
    }
}
