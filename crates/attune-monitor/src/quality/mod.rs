//! Online quality of what was served: per app, over the sliding window ending now, for every
//! list and per model version, list source, experiment variant and (when configured) user
//! segment — click-through, conversion, revenue and dwell per user, catalogue coverage,
//! intra-list diversity, novelty, popularity bias, the share of cold-start lists and serving
//! latency. Each figure is a point of a series in the store (`MonitorStore`), so reports,
//! alerts and the dashboard read history, and every replica computes the same numbers from
//! the same stored events.
//!
//! Everything is rebuilt from stored events: the impressions serving logs (list id,
//! position, source, model version, experiment, reason, latency) and the outcomes that carry a
//! list's id ([`attune_core::attribution`]). Outcomes of lists served near the end of the
//! window may still come: the latest point of a series is a slight underestimate of
//! outcome rates, corrected as the window slides on.

mod figures;
mod groups;
pub(crate) mod window;

use attune_store::{MetricPoint, Store};
use serde::{Deserialize, Serialize};

pub use figures::{figures, Figures};
pub use groups::group_labels;
pub use window::Window;

use crate::error::Result;

/// The metrics a tick records, in the order they are computed.
pub const METRICS: &[&str] = &[
    "lists",
    "impressions",
    "users",
    "ctr",
    "conversion",
    "revenue_per_user",
    "dwell_per_user",
    "coverage",
    "diversity",
    "novelty",
    "popularity_bias",
    "cold_start_share",
    "latency_p50_ms",
    "latency_p99_ms",
];

/// `[monitor.quality]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualityConfig {
    /// A user profile attribute whose values are segments (`country`, `tier`, `user_type`);
    /// every figure is also recorded per value (label `segment`). Empty: none.
    pub segment_attribute: String,
    /// Most events one tick reads: a busier window is shortened to its latest part
    /// ([`Window::read`]), so a tick's cost stays bounded. The default, 200,000 (about 20,000
    /// lists of 10), takes a tick about 2 s and 0.5 GB at its peak on the benchmark machine
    /// (docs/benchmarks.md): ample for app-level rates, and what a replica can spare.
    pub max_events: usize,
}

impl Default for QualityConfig {
    fn default() -> Self {
        Self {
            segment_attribute: String::new(),
            max_events: 200_000,
        }
    }
}

/// The figures of one series, for people and the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesFigures {
    /// The series' labels (none: every list).
    pub labels: crate::series::Labels,
    /// Metric → value, in [`METRICS`] order.
    pub figures: Vec<(String, f64)>,
}

/// What `GET /v1/monitor/quality` and `attune monitor quality` show: the figures computed
/// now over the window, per series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityReport {
    /// The app.
    pub app: String,
    /// The window, `[since, until)`, UTC micros (later than asked when the window held more
    /// than `max_events` events).
    pub since_micros: i64,
    /// Its end.
    pub until_micros: i64,
    /// Every series, overall first.
    pub series: Vec<SeriesFigures>,
}

/// The report of `app` over `[now − window, now)` (computed, not stored).
pub fn report(
    store: &dyn Store,
    app: &str,
    now_micros: i64,
    window_micros: i64,
    config: &QualityConfig,
) -> Result<QualityReport> {
    if window_micros <= 0 {
        return Err(crate::error::MonitorError::invalid(
            "window",
            "must be positive",
        ));
    }
    let (since, points) = measure_window(store, app, now_micros, window_micros, config)?;
    let mut series: Vec<SeriesFigures> = Vec::new();
    for p in points {
        match series.last_mut().filter(|s| s.labels == p.labels) {
            Some(s) => s.figures.push((p.metric, p.value)),
            None => series.push(SeriesFigures {
                labels: p.labels,
                figures: vec![(p.metric, p.value)],
            }),
        }
    }
    Ok(QualityReport {
        app: app.to_string(),
        since_micros: since,
        until_micros: now_micros,
        series,
    })
}

/// The quality figures of `app` over `[now − window, now)`, as points at `now`.
pub fn measure(
    store: &dyn Store,
    app: &str,
    now_micros: i64,
    window_micros: i64,
    config: &QualityConfig,
) -> Result<Vec<MetricPoint>> {
    Ok(measure_window(store, app, now_micros, window_micros, config)?.1)
}

/// [`measure`], and the start of the events actually read (later than the window's when it
/// held more than `max_events`).
fn measure_window(
    store: &dyn Store,
    app: &str,
    now_micros: i64,
    window_micros: i64,
    config: &QualityConfig,
) -> Result<(i64, Vec<MetricPoint>)> {
    let w = Window::read(
        store,
        app,
        now_micros.saturating_sub(window_micros),
        now_micros,
        config.max_events.max(1),
    )?;
    let segments = if config.segment_attribute.is_empty() {
        None
    } else {
        Some(w.segments(store, app, &config.segment_attribute)?)
    };
    let mut points = Vec::new();
    for (labels, lists) in group_labels(&w.attribution.lists, segments.as_ref()) {
        let f = figures(&w, &lists);
        for (metric, value) in f.values() {
            points.push(MetricPoint {
                metric: metric.to_string(),
                labels: labels.clone(),
                at_micros: now_micros,
                value,
            });
        }
    }
    Ok((w.since_micros, points))
}

/// The latest points each app's quality tick recorded on this replica, for `/metrics` (a
/// scrape reads memory, never the store).
#[derive(Debug, Default)]
pub struct Latest(std::sync::RwLock<std::collections::BTreeMap<String, Vec<MetricPoint>>>);

impl Latest {
    /// Replace `app`'s points.
    pub fn set(&self, app: &str, points: Vec<MetricPoint>) {
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(app.to_string(), points);
    }

    /// Every app's latest points, by app.
    pub fn snapshot(&self) -> Vec<(String, Vec<MetricPoint>)> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(a, p)| (a.clone(), p.clone()))
            .collect()
    }
}

/// [`measure`], then store the points; returns them.
pub fn record(
    store: &dyn Store,
    app: &str,
    now_micros: i64,
    window_micros: i64,
    config: &QualityConfig,
) -> Result<Vec<MetricPoint>> {
    let points = measure(store, app, now_micros, window_micros, config)?;
    store.put_points(app, &points)?;
    Ok(points)
}
