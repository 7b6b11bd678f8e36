//! Whether a freshly registered version becomes active, and activating it. Activation always
//! goes through the serving engine ([`attune_serving::Serving::activate`]), which loads and
//! verifies the artifact before the registry changes, so a version that cannot be served is
//! never made active by anyone.

use std::collections::BTreeMap;

use attune_serving::model::version_name;
use attune_serving::{Serving, ServingError};
use attune_store::StoreError;

use crate::error::Result;

/// When a freshly trained version becomes active.
#[derive(Debug, Clone, PartialEq)]
pub enum Promote {
    /// Never (an operator activates it).
    Never,
    /// Always.
    Always,
    /// Only when the app has never had an active model, so `train` then `recommend` works on a
    /// fresh install while replacing what serves stays a decision.
    IfFirst,
    /// When its offline `metric` is not worse than the active version's by more than `margin`
    /// (absolute), or when nothing is active.
    IfNotWorse {
        /// Metric name in the model's metrics (`validation.ndcg@10`).
        metric: String,
        /// Largest tolerated drop.
        margin: f64,
    },
    /// A guarded rollout ([`crate::rollout`]): served to a canary share next to an equal
    /// control group on the active version, promoted when its online metric is not worse,
    /// rolled back when it is; activated at once when nothing is active.
    Canary(crate::rollout::CanaryParams),
}

/// The default metric of [`Promote::IfNotWorse`].
pub const DEFAULT_METRIC: &str = "validation.ndcg@10";

/// What promotion did.
#[derive(Debug, Clone, PartialEq)]
pub struct Promotion {
    /// The new version is now active.
    pub activated: bool,
    /// Why it was or was not activated.
    pub reason: String,
    /// The version active before (when one was).
    pub previous: Option<u32>,
    /// The activation's seq in the registry's history, when it activated.
    pub seq: Option<u64>,
}

/// The active version as promotion sees it: its number and its value of the metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Incumbent {
    /// Its version.
    pub version: u32,
    /// Its value of the policy's metric, if it has one.
    pub metric: Option<f64>,
}

/// Whether a new model with `new_metric` (its value of the policy's metric) should replace
/// `active`, and why. Pure: the rules, without the store.
pub fn decide(
    policy: &Promote,
    active: Option<Incumbent>,
    new_metric: Option<f64>,
) -> (bool, String) {
    match policy {
        Promote::Never => (false, "not activated (promote: never)".into()),
        Promote::Always => (true, "activated (promote: always)".into()),
        Promote::IfFirst => match active {
            None => (true, "activated: the app's first model".into()),
            Some(a) => (
                false,
                format!(
                    "not activated: {} stays active (activate it with `attune models activate`, or \
                     train with --activate)",
                    version_name(a.version)
                ),
            ),
        },
        Promote::Canary(p) => match active {
            None => (true, "activated: the app had no active model".into()),
            Some(a) => (
                false,
                format!(
                    "canary: served to {:.0}% of users against {} (as many), promoted when its \
                     online {} is not worse by more than {:.0}%",
                    100.0 * p.share,
                    version_name(a.version),
                    p.metric.as_str(),
                    100.0 * p.margin
                ),
            ),
        },
        Promote::IfNotWorse { metric, margin } => {
            let Some(active) = active else {
                return (true, "activated: the app had no active model".into());
            };
            match (new_metric, active.metric) {
                (Some(n), Some(c)) if n >= c - margin => (
                    true,
                    format!("activated: {metric} {n:.4} vs {c:.4} active (margin {margin})"),
                ),
                (Some(n), Some(c)) => (
                    false,
                    format!(
                        "not activated: {metric} {n:.4} is more than {margin} below the active \
                         version's {c:.4}"
                    ),
                ),
                (Some(n), None) => (
                    true,
                    format!("activated: {metric} {n:.4}; the active version has no {metric}"),
                ),
                (None, _) => (
                    false,
                    format!("not activated: the new model has no {metric}"),
                ),
            }
        }
    }
}

/// Apply `policy` to the registered `version` of `app` whose offline metrics are `metrics`.
pub fn promote(
    engine: &Serving,
    app: &str,
    version: u32,
    metrics: &BTreeMap<String, f64>,
    policy: &Promote,
) -> Result<Promotion> {
    let store = engine.store();
    let active = store.active_model(app)?;
    let metric_name = match policy {
        Promote::IfNotWorse { metric, .. } => Some(metric.as_str()),
        _ => None,
    };
    let incumbent = match active {
        None => None,
        Some(a) => Some(Incumbent {
            version: a.version,
            metric: match metric_name {
                Some(m) => store
                    .get_model(app, a.version)?
                    .and_then(|r| r.info.metrics.get(m).copied()),
                None => None,
            },
        }),
    };
    let new_metric = metric_name.and_then(|m| metrics.get(m).copied());
    let (activate, reason) = decide(policy, incumbent, new_metric);
    let previous = incumbent.map(|i| i.version);
    if let (Promote::Canary(params), false, Some(active)) = (policy, activate, previous) {
        if active != version {
            crate::rollout::start(engine, app, version, active, params)?;
        }
        return Ok(Promotion {
            activated: false,
            reason,
            previous,
            seq: None,
        });
    }
    if !activate {
        return Ok(Promotion {
            activated: false,
            reason,
            previous,
            seq: None,
        });
    }
    match engine.activate(app, version) {
        Ok(a) => Ok(Promotion {
            activated: true,
            reason,
            previous,
            seq: Some(a.seq),
        }),
        // Someone activated another version between the read above and the activation: theirs
        // stands (promotion never undoes an operator).
        Err(ServingError::Store(StoreError::StaleActivation { .. })) => {
            let now = store.active_model(app)?.map(|a| a.version);
            Ok(Promotion {
                activated: false,
                reason: format!(
                    "not activated: {} was activated meanwhile",
                    now.map_or_else(|| "another version".into(), version_name)
                ),
                previous: now,
                seq: None,
            })
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(version: u32, metric: Option<f64>) -> Option<Incumbent> {
        Some(Incumbent { version, metric })
    }

    #[test]
    fn fixed_policies() {
        assert!(!decide(&Promote::Never, None, Some(1.0)).0);
        assert!(decide(&Promote::Always, inc(3, Some(0.9)), None).0);
        assert!(decide(&Promote::IfFirst, None, None).0);
        let (on, why) = decide(&Promote::IfFirst, inc(3, None), Some(1.0));
        assert!(!on && why.contains("v0003 stays active"), "{why}");
    }

    #[test]
    fn by_metric_tolerates_the_margin_and_nothing_more() {
        let p = Promote::IfNotWorse {
            metric: DEFAULT_METRIC.into(),
            margin: 0.01,
        };
        assert!(decide(&p, None, None).0, "nothing active: activate");
        assert!(decide(&p, inc(1, Some(0.30)), Some(0.295)).0);
        assert!(decide(&p, inc(1, Some(0.30)), Some(0.31)).0);
        let (on, why) = decide(&p, inc(1, Some(0.30)), Some(0.28));
        assert!(!on && why.contains("more than 0.01 below"), "{why}");
        // Without the metric on the new model: keep the active one; on the active one only: go.
        assert!(!decide(&p, inc(1, Some(0.30)), None).0);
        assert!(decide(&p, inc(1, None), Some(0.1)).0);
    }
}
