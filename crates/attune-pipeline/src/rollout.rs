//! Guarded rollout: a new version is served to a canary share of users next to an equal
//! control group on the incumbent, as an experiment (`rollout-vNNNN` in layer
//! [`ROLLOUT_LAYER`]); every monitoring tick compares them with the experiment statistics
//! ([`attune_experiment::report`]) and
//!
//! - **rolls back** (stops the experiment; the incumbent serves everyone) when the canary is
//!   worse with confidence: the always-valid (mSPRT) p-value of the decision metric is below
//!   `1 − confidence` — safe to look at every tick — and its relative lift is below
//!   `−margin`;
//! - **promotes** (activates the canary, stops the experiment) when both groups have at least
//!   `min_users` exposed users and the lower bound of the lift's `confidence` interval is at
//!   least `−margin` (not worse by more than the margin: a non-inferiority test at the planned
//!   size);
//! - otherwise waits, and rolls back as inconclusive after `max_hours`.
//!
//! The decision and its reason are saved as the experiment's state, so every replica and a
//! restarted one report the same; the serving engine keeps both versions loaded while the
//! experiment runs (its router lists them), so a decision never fails a request.

use attune_experiment::analysis::AnalysisParams;
use attune_experiment::definition::{Metric, Variant};
use attune_experiment::{lifecycle, report, Definition};
use attune_serving::model::version_name;
use attune_store::{ExperimentStatus, Store};
use serde::{Deserialize, Serialize};

use attune_monitor::alerts::{EventAlert, Notifier, Severity};
use attune_serving::Serving;

use crate::error::Result;

/// The layer rollout experiments run in (a user in one is in no other experiment of it).
pub const ROLLOUT_LAYER: &str = "rollout";
/// Rollout experiments are named this followed by the canary's version name.
pub const PREFIX: &str = "rollout-";

/// How a canary is judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryParams {
    /// Share of users served the canary, in (0, 0.5]; as many again form the control group.
    pub share: f64,
    /// The online metric compared (`ctr`, `conversion`, ...).
    #[serde(default)]
    pub metric: Metric,
    /// Largest tolerated relative drop (0.05: 5% worse than the incumbent).
    #[serde(default = "default_margin")]
    pub margin: f64,
    /// Confidence of the decisions.
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    /// Exposed users each group needs before the canary can be promoted.
    #[serde(default = "default_min_users")]
    pub min_users: u64,
    /// Hours after which an undecided canary is rolled back.
    #[serde(default = "default_max_hours")]
    pub max_hours: f64,
}

fn default_margin() -> f64 {
    0.05
}
fn default_confidence() -> f64 {
    0.95
}
fn default_min_users() -> u64 {
    1_000
}
fn default_max_hours() -> f64 {
    72.0
}

impl CanaryParams {
    /// A canary on `share` of users with the default judgement.
    pub fn new(share: f64) -> Self {
        Self {
            share,
            metric: Metric::Ctr,
            margin: default_margin(),
            confidence: default_confidence(),
            min_users: default_min_users(),
            max_hours: default_max_hours(),
        }
    }

    /// Check every field; an error names it.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if !(self.share > 0.0 && self.share <= 0.5) {
            return Err(("share", format!("must be in (0, 0.5], got {}", self.share)));
        }
        if !(self.margin.is_finite() && (0.0..1.0).contains(&self.margin)) {
            return Err(("margin", format!("must be in [0, 1), got {}", self.margin)));
        }
        if !(self.confidence > 0.5 && self.confidence < 1.0) {
            return Err((
                "confidence",
                format!("must be in (0.5, 1), got {}", self.confidence),
            ));
        }
        if self.min_users == 0 {
            return Err(("min_users", "must be at least 1".into()));
        }
        if !(self.max_hours.is_finite() && self.max_hours > 0.0) {
            return Err((
                "max_hours",
                format!("must be positive, got {}", self.max_hours),
            ));
        }
        Ok(())
    }
}

/// What a rollout came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Still comparing.
    Running,
    /// The canary is active.
    Promoted,
    /// The canary was withdrawn.
    RolledBack,
}

/// A rollout's state, saved as its experiment's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    /// The experiment.
    pub experiment: String,
    /// The canary version.
    pub canary: u32,
    /// The version it is compared with.
    pub incumbent: u32,
    /// How it is judged.
    pub params: CanaryParams,
    /// Where it stands.
    pub verdict: Verdict,
    /// Why, in words.
    pub reason: String,
    /// Started, UTC micros.
    pub started_micros: i64,
    /// Decided (`None` while running).
    pub decided_micros: Option<i64>,
}

/// The numbers a decision reads from the experiment report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    /// Exposed users of the control and the canary.
    pub users: (u64, u64),
    /// The canary's relative lift and its `confidence` interval.
    pub lift: (f64, f64, f64),
    /// The always-valid p-value of the difference.
    pub sequential_p: f64,
    /// Hours since the rollout started.
    pub hours: f64,
}

/// The verdict `evidence` gives under `params`, and why. Pure.
pub fn decide(params: &CanaryParams, e: &Evidence) -> (Verdict, String) {
    let (lift, low, high) = e.lift;
    let metric = params.metric.as_str();
    let pct = |x: f64| format!("{:+.1}%", 100.0 * x);
    if e.sequential_p < 1.0 - params.confidence && lift < -params.margin {
        return (
            Verdict::RolledBack,
            format!(
                "worse: {metric} {} [{}, {}] against the incumbent, always-valid p = {:.4} \
                 (tolerated drop {})",
                pct(lift),
                pct(low),
                pct(high),
                e.sequential_p,
                pct(-params.margin)
            ),
        );
    }
    let enough = e.users.0 >= params.min_users && e.users.1 >= params.min_users;
    if enough && low >= -params.margin {
        return (
            Verdict::Promoted,
            format!(
                "not worse: {metric} {} [{}, {}] against the incumbent with {} and {} users \
                 (tolerated drop {})",
                pct(lift),
                pct(low),
                pct(high),
                e.users.0,
                e.users.1,
                pct(-params.margin)
            ),
        );
    }
    if e.hours >= params.max_hours {
        return (
            Verdict::RolledBack,
            format!(
                "inconclusive after {:.0} h: {metric} {} [{}, {}] with {} and {} users",
                e.hours,
                pct(lift),
                pct(low),
                pct(high),
                e.users.0,
                e.users.1
            ),
        );
    }
    (
        Verdict::Running,
        format!(
            "comparing: {metric} {} [{}, {}], {} and {} of {} users",
            pct(lift),
            pct(low),
            pct(high),
            e.users.0,
            e.users.1,
            params.min_users
        ),
    )
}

/// The experiment name of a canary version.
pub fn experiment_name(canary: u32) -> String {
    format!("{PREFIX}{}", version_name(canary))
}

fn save(store: &dyn Store, app: &str, r: &Rollout) -> Result<()> {
    store.put_experiment_state(
        app,
        &r.experiment,
        &serde_json::to_string(r).expect("plain data"),
    )?;
    Ok(())
}

/// Start serving `canary` to `params.share` of users against `incumbent`: create and start
/// its experiment (an earlier rollout of the same version is stopped first).
pub fn start(
    engine: &Serving,
    app: &str,
    canary: u32,
    incumbent: u32,
    params: &CanaryParams,
) -> Result<Rollout> {
    let store = &**engine.store();
    let name = experiment_name(canary);
    let variant = |name: &str, version: u32, control: bool| Variant {
        name: name.into(),
        share: 0.5,
        control,
        model_version: Some(version),
        diversity: None,
        categories: Vec::new(),
        holdout: false,
    };
    let definition = Definition {
        variants: vec![
            variant("incumbent", incumbent, true),
            variant("canary", canary, false),
        ],
        traffic: 2.0 * params.share,
        metric: params.metric,
        description: format!(
            "guarded rollout of {} against {}",
            version_name(canary),
            version_name(incumbent)
        ),
        ..Definition::from_json(
            r#"{"variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]}"#,
        )
        .expect("a valid definition")
    };
    match store.get_experiment(app, &name)? {
        Some(e) if e.status == ExperimentStatus::Running => {
            lifecycle::stop(store, app, &name)?;
            lifecycle::update(store, app, &name, &definition)?;
        }
        Some(_) => {
            lifecycle::update(store, app, &name, &definition)?;
        }
        None => {
            lifecycle::create(store, app, &name, ROLLOUT_LAYER, &definition)?;
        }
    }
    let started = lifecycle::start(store, app, &name)?;
    let r = Rollout {
        experiment: name,
        canary,
        incumbent,
        params: params.clone(),
        verdict: Verdict::Running,
        reason: format!(
            "canary: {} serves {:.0}% of users, {} the same share as control",
            version_name(canary),
            100.0 * params.share,
            version_name(incumbent)
        ),
        started_micros: started.record.started_micros.unwrap_or_default(),
        decided_micros: None,
    };
    save(store, app, &r)?;
    if let Some(router) = engine.experiments() {
        router.invalidate(app);
    }
    Ok(r)
}

/// Every rollout of `app`, newest canary first.
pub fn list(store: &dyn Store, app: &str) -> Result<Vec<Rollout>> {
    let mut out = Vec::new();
    for e in store.list_experiments(app)? {
        if e.layer != ROLLOUT_LAYER || !e.name.starts_with(PREFIX) {
            continue;
        }
        if let Some((text, _)) = store.get_experiment_state(app, &e.name)? {
            if let Ok(r) = serde_json::from_str::<Rollout>(&text) {
                out.push(r);
            }
        }
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.canary));
    Ok(out)
}

/// The alert a rollback sends.
pub const ROLLED_BACK_ALERT: &str = "model_rolled_back";

/// Judge every running rollout of `app` at `now_micros`; returns those decided now. A rollback
/// is also sent to `notifier` as a critical [`ROLLED_BACK_ALERT`] with the reason.
pub fn evaluate(
    engine: &Serving,
    notifier: &Notifier,
    app: &str,
    now_micros: i64,
) -> Result<Vec<Rollout>> {
    let store = &**engine.store();
    let mut decided = Vec::new();
    for mut r in list(store, app)? {
        if r.verdict != Verdict::Running {
            continue;
        }
        let running = store
            .get_experiment(app, &r.experiment)?
            .is_some_and(|e| e.status == ExperimentStatus::Running);
        if !running {
            // Stopped by hand: the canary is withdrawn.
            r.verdict = Verdict::RolledBack;
            r.reason = "the rollout experiment was stopped by an operator".into();
            r.decided_micros = Some(now_micros);
            save(store, app, &r)?;
            decided.push(r);
            continue;
        }
        let analysis = AnalysisParams {
            confidence: r.params.confidence,
            alpha: 1.0 - r.params.confidence,
            mde_relative: r.params.margin.max(0.01),
            ..AnalysisParams::default()
        };
        let hours = (now_micros - r.started_micros) as f64 / 3.6e9;
        let evidence = match report::report(store, app, &r.experiment, None, now_micros, &analysis)
        {
            Ok(rep) => {
                let users = (
                    rep.variants.first().map_or(0, |v| v.users),
                    rep.variants.get(1).map_or(0, |v| v.users),
                );
                match rep
                    .metrics
                    .get(r.params.metric.as_str())
                    .and_then(|m| m.first())
                {
                    Some(m) => Evidence {
                        users,
                        lift: (m.lift.estimate, m.lift.low, m.lift.high),
                        sequential_p: m.sequential_p_value,
                        hours,
                    },
                    None => continue,
                }
            }
            // Nobody exposed yet: only the clock can decide.
            Err(attune_experiment::ExperimentError::NoData(_)) if hours >= r.params.max_hours => {
                Evidence {
                    users: (0, 0),
                    lift: (0.0, f64::NEG_INFINITY, f64::INFINITY),
                    sequential_p: 1.0,
                    hours,
                }
            }
            Err(attune_experiment::ExperimentError::NoData(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        let (verdict, reason) = decide(&r.params, &evidence);
        if verdict == Verdict::Running {
            if reason != r.reason {
                r.reason = reason;
                save(store, app, &r)?;
            }
            continue;
        }
        if verdict == Verdict::Promoted {
            engine.activate(app, r.canary)?;
        }
        lifecycle::stop(store, app, &r.experiment)?;
        if let Some(router) = engine.experiments() {
            router.invalidate(app);
        }
        r.verdict = verdict;
        r.reason = reason;
        r.decided_micros = Some(now_micros);
        save(store, app, &r)?;
        match verdict {
            Verdict::RolledBack => {
                tracing::warn!(
                    app,
                    canary = r.canary,
                    reason = r.reason,
                    "canary rolled back"
                );
                let alert = EventAlert::firing(ROLLED_BACK_ALERT)
                    .label("model_version", r.canary.to_string())
                    .label("incumbent", r.incumbent.to_string())
                    .severity(Severity::Critical)
                    .annotation(
                        "summary",
                        format!("canary {} rolled back", version_name(r.canary)),
                    )
                    .annotation("description", r.reason.clone());
                if let Err(e) = notifier.send_at(app, &alert, now_micros) {
                    tracing::warn!(app, error = %e, "the rollback alert could not be sent");
                }
            }
            _ => tracing::info!(app, canary = r.canary, reason = r.reason, "canary promoted"),
        }
        decided.push(r);
    }
    Ok(decided)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence(users: u64, lift: (f64, f64, f64), p: f64, hours: f64) -> Evidence {
        Evidence {
            users: (users, users),
            lift,
            sequential_p: p,
            hours,
        }
    }

    #[test]
    fn worse_with_confidence_rolls_back_at_any_size() {
        let p = CanaryParams::new(0.1);
        let (v, why) = decide(&p, &evidence(40, (-0.6, -0.8, -0.4), 0.001, 1.0));
        assert_eq!(v, Verdict::RolledBack);
        assert!(why.starts_with("worse: ctr -60.0%"), "{why}");
        // Significant but inside the margin: not a rollback.
        assert_eq!(
            decide(&p, &evidence(40, (-0.03, -0.05, -0.01), 0.001, 1.0)).0,
            Verdict::Running
        );
        // A large drop without always-valid evidence: keep comparing.
        assert_eq!(
            decide(&p, &evidence(40, (-0.3, -0.9, 0.3), 0.2, 1.0)).0,
            Verdict::Running
        );
    }

    #[test]
    fn not_worse_promotes_only_at_the_planned_size() {
        let p = CanaryParams {
            min_users: 500,
            ..CanaryParams::new(0.1)
        };
        assert_eq!(
            decide(&p, &evidence(499, (0.1, 0.0, 0.2), 0.01, 1.0)).0,
            Verdict::Running
        );
        let (v, why) = decide(&p, &evidence(500, (0.1, -0.04, 0.2), 0.3, 1.0));
        assert_eq!(v, Verdict::Promoted);
        assert!(why.starts_with("not worse"), "{why}");
        // The interval reaches below the margin: not shown not worse.
        assert_eq!(
            decide(&p, &evidence(500, (0.0, -0.06, 0.06), 0.9, 1.0)).0,
            Verdict::Running
        );
        // Undecided past the deadline: withdrawn.
        let (v, why) = decide(&p, &evidence(500, (0.0, -0.06, 0.06), 0.9, 80.0));
        assert_eq!(v, Verdict::RolledBack);
        assert!(why.starts_with("inconclusive after 80 h"), "{why}");
    }

    #[test]
    fn params_name_the_bad_field() {
        assert_eq!(CanaryParams::new(0.0).check().unwrap_err().0, "share");
        assert_eq!(CanaryParams::new(0.6).check().unwrap_err().0, "share");
        let bad = CanaryParams {
            confidence: 1.0,
            ..CanaryParams::new(0.1)
        };
        assert_eq!(bad.check().unwrap_err().0, "confidence");
        let bad = CanaryParams {
            min_users: 0,
            ..CanaryParams::new(0.1)
        };
        assert_eq!(bad.check().unwrap_err().0, "min_users");
        assert!(CanaryParams::new(0.1).check().is_ok());
    }
}
