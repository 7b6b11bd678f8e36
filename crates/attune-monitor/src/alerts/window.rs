//! What a rule sees at one evaluation: per matching series, the window's value, the
//! baseline's (for `drop`), and whether the condition holds.
//!
//! The window is `[now - window, now]`; the baseline window is the `baseline` before it,
//! `[now - window - baseline, now - window)`, so the two never share a point.

use std::collections::BTreeMap;

use attune_store::Store;

use crate::alerts::rule::{AlertRule, Condition};
use crate::error::Result;
use crate::series::{self, Labels};

/// One series at one evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// The window's value; `None` without points in the window.
    pub value: Option<f64>,
    /// The baseline window's value (`drop` rules); `None` otherwise or without points.
    pub baseline: Option<f64>,
    /// Whether the condition holds; `None` when unknown (no value, or no usable baseline).
    pub holds: Option<bool>,
}

/// The reading of one series from its points (each oldest first).
pub fn reading(rule: &AlertRule, window: &[(i64, f64)], baseline: &[(i64, f64)]) -> Reading {
    let value = rule.aggregate.apply(window);
    let baseline = match rule.condition {
        Condition::Drop => rule.aggregate.apply(baseline),
        Condition::Above | Condition::Below => None,
    };
    Reading {
        value,
        baseline,
        holds: value.and_then(|v| rule.holds(v, baseline)),
    }
}

/// Every series of `rule` with a point in its window or baseline at `now_micros`, read from
/// the store in one scan.
pub fn read(
    store: &dyn Store,
    app: &str,
    rule: &AlertRule,
    now_micros: i64,
) -> Result<BTreeMap<Labels, Reading>> {
    let start = now_micros.saturating_sub(rule.window_micros());
    let since = match rule.condition {
        Condition::Drop => start.saturating_sub(rule.baseline_micros()),
        Condition::Above | Condition::Below => start,
    };
    let all = series::read(
        store,
        app,
        &rule.metric,
        &rule.match_labels,
        since,
        now_micros.saturating_add(1),
    )?;
    Ok(all
        .into_iter()
        .map(|(labels, points)| {
            let split = points.partition_point(|&(at, _)| at < start);
            let r = reading(rule, &points[split..], &points[..split]);
            (labels, r)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rule::{Aggregate, NoData, Severity};
    use crate::series::labels;
    use attune_store::sqlite::SqliteStore;
    use attune_store::{MetricPoint, MonitorStore as _};

    fn rule(condition: Condition, threshold: f64) -> AlertRule {
        AlertRule {
            name: "r".into(),
            metric: "ctr".into(),
            match_labels: labels(&[("source", "model")]),
            window_secs: 10,
            aggregate: Aggregate::Mean,
            condition,
            threshold,
            baseline_secs: Some(20),
            for_secs: 0,
            severity: Severity::Warning,
            no_data: NoData::Keep,
            summary: String::new(),
            description: String::new(),
        }
    }

    #[test]
    fn no_points_is_unknown() {
        let r = reading(&rule(Condition::Below, 1.0), &[], &[(1, 1.0)]);
        assert_eq!(r.value, None);
        assert_eq!(r.holds, None);
    }

    #[test]
    fn drop_without_baseline_is_unknown() {
        let r = reading(&rule(Condition::Drop, 0.5), &[(1, 1.0)], &[]);
        assert_eq!(r.value, Some(1.0));
        assert_eq!(r.holds, None);
    }

    #[test]
    fn windows_split_at_their_start_and_match_labels() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("m.db")).unwrap();
        store.create_app("shop").unwrap();
        let s = 1_000_000;
        let p = |source: &str, at: i64, v: f64| MetricPoint {
            metric: "ctr".into(),
            labels: labels(&[("source", source), ("model_version", "3")]),
            at_micros: at * s,
            value: v,
        };
        store
            .put_points(
                "shop",
                &[
                    p("model", 65, 9.0), // before the baseline: ignored
                    p("model", 75, 1.0), // baseline [70, 90)
                    p("model", 85, 1.0),
                    p("model", 90, 0.4), // window [90, 100]
                    p("model", 100, 0.6),
                    p("model", 101, 9.0), // after now: ignored
                    p("popular", 95, 0.0),
                ],
            )
            .unwrap();
        let got = read(&store, "shop", &rule(Condition::Drop, 0.5), 100 * s).unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        let r = got[&labels(&[("source", "model"), ("model_version", "3")])];
        assert_eq!(r.value, Some(0.5));
        assert_eq!(r.baseline, Some(1.0));
        assert_eq!(r.holds, Some(true));
        let got = read(&store, "shop", &rule(Condition::Below, 0.45), 100 * s).unwrap();
        let r = got.values().next().unwrap();
        assert_eq!(
            (r.value, r.baseline, r.holds),
            (Some(0.5), None, Some(false))
        );
    }
}
