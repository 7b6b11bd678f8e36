//! The store's metric time series as monitoring reads and writes them: a series is a metric
//! and a label set; a point is the series' value over the window ending at its time.

use std::collections::BTreeMap;

use attune_store::{MetricPoint, Store};

use crate::error::Result;

/// A series' label set.
pub type Labels = BTreeMap<String, String>;

/// Points per series, each oldest first: `(at_micros, value)`.
pub type BySeries = BTreeMap<Labels, Vec<(i64, f64)>>;

/// A label set from pairs.
pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A label matcher from text: `k:v,k:v` (empty: match everything).
pub fn parse_matcher(text: &str) -> Result<Labels> {
    let mut out = Labels::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once(':').filter(|(k, _)| !k.trim().is_empty()) else {
            return Err(crate::error::MonitorError::invalid(
                "labels",
                format!("expected name:value pairs separated by commas, got {pair:?}"),
            ));
        };
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(out)
}

/// Whether `labels` has every pair of `matching` (an empty matcher matches every series).
pub fn matches(labels: &BTreeMap<String, String>, matching: &BTreeMap<String, String>) -> bool {
    matching.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The points of `metric` in `[since, until)` whose labels include `matching`, grouped by
/// series (label set), each oldest first.
pub fn read(
    store: &dyn Store,
    app: &str,
    metric: &str,
    matching: &BTreeMap<String, String>,
    since_micros: i64,
    until_micros: i64,
) -> Result<BySeries> {
    let mut out = BySeries::new();
    store.scan_points(app, metric, since_micros, until_micros, &mut |p| {
        if matches(&p.labels, matching) {
            out.entry(p.labels)
                .or_default()
                .push((p.at_micros, p.value));
        }
        true
    })?;
    Ok(out)
}

/// Every series' latest point of `metric` at or before `until` and after `since`.
pub fn latest(
    store: &dyn Store,
    app: &str,
    metric: &str,
    since_micros: i64,
    until_micros: i64,
) -> Result<Vec<MetricPoint>> {
    let all = read(
        store,
        app,
        metric,
        &BTreeMap::new(),
        since_micros,
        until_micros.saturating_add(1),
    )?;
    Ok(all
        .into_iter()
        .filter_map(|(labels, points)| {
            let &(at, value) = points.last()?;
            Some(MetricPoint {
                metric: metric.to_string(),
                labels,
                at_micros: at,
                value,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use attune_store::sqlite::SqliteStore;
    use attune_store::MonitorStore as _;

    #[test]
    fn reads_group_by_series_and_filter_by_labels() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("m.db")).unwrap();
        store.create_app("shop").unwrap();
        let p = |l: &[(&str, &str)], at: i64, v: f64| MetricPoint {
            metric: "ctr".into(),
            labels: labels(l),
            at_micros: at,
            value: v,
        };
        store
            .put_points(
                "shop",
                &[
                    p(&[("model_version", "1")], 10, 0.1),
                    p(&[("model_version", "2")], 10, 0.2),
                    p(&[("model_version", "1")], 20, 0.11),
                ],
            )
            .unwrap();
        let v1 = read(
            &store,
            "shop",
            "ctr",
            &labels(&[("model_version", "1")]),
            0,
            100,
        )
        .unwrap();
        assert_eq!(v1.len(), 1);
        assert_eq!(v1.values().next().unwrap(), &vec![(10, 0.1), (20, 0.11)]);
        let all = read(&store, "shop", "ctr", &BTreeMap::new(), 0, 100).unwrap();
        assert_eq!(all.len(), 2);
        let last = latest(&store, "shop", "ctr", 0, 20).unwrap();
        assert_eq!(
            last.iter().map(|p| p.value).collect::<Vec<_>>(),
            vec![0.11, 0.2]
        );
        assert!(latest(&store, "shop", "ctr", 0, 5).unwrap().is_empty());
        assert_eq!(
            parse_matcher("model_version:1, source:cold_start").unwrap(),
            labels(&[("model_version", "1"), ("source", "cold_start")])
        );
        assert!(parse_matcher("").unwrap().is_empty());
        assert!(parse_matcher("model_version").is_err());
    }
}
