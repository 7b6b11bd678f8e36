//! What an experiment is: its variants (each a treatment of the served list), how much of its
//! layer's traffic enters, whom it targets, what it is judged by, how traffic is allocated and
//! how outcomes are attributed. The JSON form is the wire and storage form; [`Definition::check`]
//! is the one place its rules live, so HTTP, CLI and store all refuse the same things.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::{ExperimentError, Result};

/// Shares must sum to 1 within this.
pub const SHARE_TOLERANCE: f64 = 1e-9;
/// Most variants in one experiment.
pub const MAX_VARIANTS: usize = 20;

fn one() -> f64 {
    1.0
}

/// An experiment's definition (one phase's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// Two or more variants; the control is the one marked `control`, else the first.
    pub variants: Vec<Variant>,
    /// Share of the layer's users that enter the experiment, in (0, 1]; the others are
    /// served as if it did not exist.
    #[serde(default = "one")]
    pub traffic: f64,
    /// Only users matching every condition enter (none: everyone).
    #[serde(default)]
    pub targeting: Vec<Condition>,
    /// The metric the decision is made on.
    #[serde(default)]
    pub metric: Metric,
    /// Fixed shares, or a bandit that moves traffic toward the best variant.
    #[serde(default)]
    pub allocation: Allocation,
    /// How outcomes are attributed to served lists.
    #[serde(default)]
    pub attribution: Attribution,
    /// Days before the phase's start whose activity is the CUPED covariate of per-user metrics
    /// (0: no variance reduction).
    #[serde(default = "two_weeks")]
    pub cuped_days: f64,
    /// Free text for people.
    #[serde(default)]
    pub description: String,
}

/// One variant: a treatment of the served list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Unique within the experiment (`control`, `als-v7`, `diverse`).
    pub name: String,
    /// Share of the experiment's users, in (0, 1]; shares sum to 1.
    pub share: f64,
    /// Marks the control (at most one; default: the first variant).
    #[serde(default)]
    pub control: bool,
    /// Serve this registered model version (default: the app's active version).
    #[serde(default)]
    pub model_version: Option<u32>,
    /// MMR diversity λ in [0, 1] for this variant's lists.
    #[serde(default)]
    pub diversity: Option<f32>,
    /// Only items of these categories.
    #[serde(default)]
    pub categories: Vec<String>,
    /// A holdout: serve the non-personalized list (the most popular items), to measure what
    /// personalization itself is worth.
    #[serde(default)]
    pub holdout: bool,
}

/// A targeting condition on the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// A profile attribute (`country`, `tier`, ...), or `user_type` (`anonymous` for device
    /// ids without a profile, `known` otherwise).
    pub attribute: String,
    /// The attribute's value (as text) must be one of these.
    #[serde(default, rename = "in", skip_serializing_if = "Vec::is_empty")]
    pub one_of: Vec<String>,
    /// The attribute's value must be none of these (a user without the attribute passes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_in: Vec<String>,
}

/// What a report decides on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Clicks per impression (a ratio of per-user sums; delta method).
    #[default]
    Ctr,
    /// Share of users with a purchase.
    Conversion,
    /// Revenue per user (Welch).
    RevenuePerUser,
    /// Attributed dwell milliseconds per user (Welch).
    DwellPerUser,
    /// Clicks per user (Welch).
    ClicksPerUser,
}

impl Metric {
    /// Every metric, in report order.
    pub const ALL: [Metric; 5] = [
        Metric::Ctr,
        Metric::Conversion,
        Metric::RevenuePerUser,
        Metric::DwellPerUser,
        Metric::ClicksPerUser,
    ];

    /// `ctr`, `conversion`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Ctr => "ctr",
            Metric::Conversion => "conversion",
            Metric::RevenuePerUser => "revenue_per_user",
            Metric::DwellPerUser => "dwell_per_user",
            Metric::ClicksPerUser => "clicks_per_user",
        }
    }
}

/// How traffic is split between variants.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Allocation {
    /// The variants' shares, fixed for the phase; sticky per user.
    #[default]
    Fixed,
    /// A bandit: each list's variant is drawn from the policy's current allocation, updated
    /// in batches from attributed outcomes; not sticky per user.
    Bandit {
        /// `thompson`, `ucb1` or `epsilon_greedy`; contextual: `linucb` or `lin_thompson`.
        policy: BanditPolicy,
        /// What counts as a success.
        #[serde(default)]
        reward: Reward,
        /// Every arm keeps at least this share of traffic, in [0, 1/K].
        #[serde(default)]
        floor: f64,
        /// ε of `epsilon_greedy`.
        #[serde(default)]
        epsilon: Option<f64>,
        /// Contextual policies: the profile attributes (`country`, `tier`, `user_type`, a
        /// segment attribute) whose values are the context, each one-hot encoded.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        context: Vec<String>,
        /// Contextual policies: `linucb`'s α (default 1) or `lin_thompson`'s v (default 0.25),
        /// the width of exploration.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exploration: Option<f64>,
    },
}

/// Bandit policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BanditPolicy {
    /// Thompson sampling (Beta–Bernoulli).
    Thompson,
    /// UCB1.
    Ucb1,
    /// ε-greedy.
    EpsilonGreedy,
    /// LinUCB over the `context` attributes (contextual).
    Linucb,
    /// Linear Thompson sampling over the `context` attributes (contextual).
    LinThompson,
}

/// Most attributes in a bandit's context.
pub const MAX_CONTEXT_ATTRIBUTES: usize = 4;

impl BanditPolicy {
    /// Whether the policy chooses per context.
    pub fn contextual(self) -> bool {
        matches!(self, BanditPolicy::Linucb | BanditPolicy::LinThompson)
    }

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            BanditPolicy::Thompson => "thompson",
            BanditPolicy::Ucb1 => "ucb1",
            BanditPolicy::EpsilonGreedy => "epsilon_greedy",
            BanditPolicy::Linucb => "linucb",
            BanditPolicy::LinThompson => "lin_thompson",
        }
    }
}

/// A bandit's success signal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reward {
    /// A list with at least one attributed click.
    #[default]
    Click,
    /// A list with at least one attributed purchase.
    Purchase,
}

/// How outcomes are attributed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attribution {
    /// Outcomes count for lists served at most this many hours before them.
    #[serde(default = "day")]
    pub window_hours: f64,
    /// Also attribute outcomes without a recommendation id (view-through).
    #[serde(default)]
    pub view_through: bool,
}

fn day() -> f64 {
    24.0
}

fn two_weeks() -> f64 {
    14.0
}

impl Default for Attribution {
    fn default() -> Self {
        Self {
            window_hours: day(),
            view_through: false,
        }
    }
}

impl Definition {
    /// Parse the stored or sent JSON; a type error names its path.
    pub fn from_json(text: &str) -> Result<Self> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let d: Definition = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." || path.is_empty() {
                "definition".to_string()
            } else {
                path
            };
            ExperimentError::invalid(field, e.inner().to_string())
        })?;
        de.end()
            .map_err(|e| ExperimentError::invalid("definition", e.to_string()))?;
        Ok(d)
    }

    /// The JSON form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a definition is plain JSON")
    }

    /// Check every rule; `known_version(v)` says whether model version `v` is registered.
    pub fn check(&self, known_version: &dyn Fn(u32) -> bool) -> Result<()> {
        let bad = |field: String, reason: String| Err(ExperimentError::invalid(field, reason));
        let n = self.variants.len();
        if !(2..=MAX_VARIANTS).contains(&n) {
            return bad(
                "variants".into(),
                format!("must list 2 to {MAX_VARIANTS} variants, got {n}"),
            );
        }
        let mut names = BTreeSet::new();
        for (i, v) in self.variants.iter().enumerate() {
            let at = |f: &str| format!("variants[{i}].{f}");
            if v.name.is_empty()
                || v.name.len() > 64
                || !v
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return bad(
                    at("name"),
                    format!(
                        "must be 1 to 64 of a-z, A-Z, 0-9, '-', '_', '.', got {:?}",
                        v.name
                    ),
                );
            }
            if !names.insert(v.name.as_str()) {
                return bad(at("name"), format!("{:?} is used twice", v.name));
            }
            if !(v.share.is_finite() && v.share > 0.0 && v.share <= 1.0) {
                return bad(at("share"), format!("must be in (0, 1], got {}", v.share));
            }
            if let Some(d) = v.diversity {
                if !(0.0..=1.0).contains(&d) {
                    return bad(at("diversity"), format!("must be in [0, 1], got {d}"));
                }
            }
            if let Some(version) = v.model_version {
                if !known_version(version) {
                    return bad(
                        at("model_version"),
                        format!("the app has no registered model version {version}"),
                    );
                }
            }
            if v.holdout && (v.model_version.is_some() || v.diversity.is_some()) {
                return bad(
                    at("holdout"),
                    "a holdout serves the non-personalized list; it takes no model_version or diversity".into(),
                );
            }
        }
        let total: f64 = self.variants.iter().map(|v| v.share).sum();
        if (total - 1.0).abs() > SHARE_TOLERANCE {
            return bad(
                "variants".into(),
                format!("shares must sum to 1, they sum to {total}"),
            );
        }
        if self.variants.iter().filter(|v| v.control).count() > 1 {
            return bad(
                "variants".into(),
                "at most one variant is the control".into(),
            );
        }
        if !(self.traffic.is_finite() && self.traffic > 0.0 && self.traffic <= 1.0) {
            return bad(
                "traffic".into(),
                format!("must be in (0, 1], got {}", self.traffic),
            );
        }
        for (i, c) in self.targeting.iter().enumerate() {
            if c.attribute.is_empty() {
                return bad(
                    format!("targeting[{i}].attribute"),
                    "must not be empty".into(),
                );
            }
            if c.one_of.is_empty() && c.not_in.is_empty() {
                return bad(
                    format!("targeting[{i}]"),
                    "needs `in` or `not_in` values".into(),
                );
            }
        }
        if !(self.cuped_days.is_finite() && (0.0..=365.0).contains(&self.cuped_days)) {
            return bad(
                "cuped_days".into(),
                format!("must be in [0, 365], got {}", self.cuped_days),
            );
        }
        let w = self.attribution.window_hours;
        if !(w.is_finite() && w > 0.0 && w <= 24.0 * 90.0) {
            return bad(
                "attribution.window_hours".into(),
                format!("must be in (0, 2160], got {w}"),
            );
        }
        if let Allocation::Bandit {
            floor,
            epsilon,
            policy,
            context,
            exploration,
            ..
        } = &self.allocation
        {
            if policy.contextual() {
                if context.is_empty() || context.len() > MAX_CONTEXT_ATTRIBUTES {
                    return bad(
                        "allocation.context".into(),
                        format!(
                            "{} needs 1 to {MAX_CONTEXT_ATTRIBUTES} profile attributes, got {}",
                            policy.name(),
                            context.len()
                        ),
                    );
                }
                let distinct: BTreeSet<&String> = context.iter().collect();
                if let Some(i) = context.iter().position(String::is_empty) {
                    return bad(
                        format!("allocation.context[{i}]"),
                        "must not be empty".into(),
                    );
                }
                if distinct.len() != context.len() {
                    return bad(
                        "allocation.context".into(),
                        "names an attribute twice".into(),
                    );
                }
                if let Some(x) = exploration.filter(|x| !(x.is_finite() && *x >= 0.0)) {
                    return bad(
                        "allocation.exploration".into(),
                        format!("must be finite and >= 0, got {x}"),
                    );
                }
            } else if !context.is_empty() || exploration.is_some() {
                let field = if context.is_empty() {
                    "allocation.exploration"
                } else {
                    "allocation.context"
                };
                return bad(
                    field.into(),
                    format!(
                        "is for the contextual policies linucb and lin_thompson, not {}",
                        policy.name()
                    ),
                );
            }
            let max = 1.0 / n as f64;
            if !(floor.is_finite() && (0.0..=max).contains(floor)) {
                return bad(
                    "allocation.floor".into(),
                    format!("must be in [0, 1/{n}], got {floor}"),
                );
            }
            match (policy, epsilon) {
                (BanditPolicy::EpsilonGreedy, Some(e)) if !(0.0..=1.0).contains(e) => {
                    return bad(
                        "allocation.epsilon".into(),
                        format!("must be in [0, 1], got {e}"),
                    )
                }
                (BanditPolicy::EpsilonGreedy, None) => {
                    return bad(
                        "allocation.epsilon".into(),
                        "is required for epsilon_greedy".into(),
                    )
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The control's index.
    pub fn control(&self) -> usize {
        self.variants.iter().position(|v| v.control).unwrap_or(0)
    }

    /// The layer buckets this definition's traffic needs.
    pub fn buckets(&self) -> u32 {
        ((self.traffic * f64::from(attune_store::LAYER_BUCKETS)).round() as u32).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two() -> Definition {
        Definition::from_json(
            r#"{"variants": [{"name": "control", "share": 0.5},
                             {"name": "als", "share": 0.5, "model_version": 2}]}"#,
        )
        .unwrap()
    }

    fn field(d: &Definition) -> String {
        match d.check(&|v| v <= 3) {
            Err(ExperimentError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_and_round_trip() {
        let d = two();
        assert!(d.check(&|v| v <= 3).is_ok());
        assert_eq!((d.traffic, d.metric, d.control()), (1.0, Metric::Ctr, 0));
        assert_eq!(d.allocation, Allocation::Fixed);
        assert_eq!(d.attribution.window_hours, 24.0);
        assert_eq!(d.buckets(), 10_000);
        assert_eq!(Definition::from_json(&d.to_json()).unwrap(), d);
    }

    #[test]
    fn every_rule_names_its_field() {
        let mut d = two();
        d.variants[1].share = 0.6;
        assert_eq!(field(&d), "variants");
        let mut d = two();
        d.variants[1].model_version = Some(9);
        assert_eq!(field(&d), "variants[1].model_version");
        let mut d = two();
        d.variants[1].name = "control".into();
        assert_eq!(field(&d), "variants[1].name");
        let mut d = two();
        d.variants[0].diversity = Some(1.5);
        assert_eq!(field(&d), "variants[0].diversity");
        let mut d = two();
        d.variants.truncate(1);
        d.variants[0].share = 1.0;
        assert_eq!(field(&d), "variants");
        let mut d = two();
        d.traffic = 0.0;
        assert_eq!(field(&d), "traffic");
        let mut d = two();
        d.variants[0].holdout = true;
        d.variants[0].diversity = Some(0.5);
        assert_eq!(field(&d), "variants[0].holdout");
        let mut d = two();
        d.targeting.push(Condition {
            attribute: "country".into(),
            one_of: vec![],
            not_in: vec![],
        });
        assert_eq!(field(&d), "targeting[0]");
        let mut d = two();
        d.allocation = Allocation::Bandit {
            policy: BanditPolicy::Thompson,
            reward: Reward::Click,
            floor: 0.6,
            epsilon: None,
            context: vec![],
            exploration: None,
        };
        assert_eq!(field(&d), "allocation.floor");
        let bandit = |policy, context: &[&str], exploration| {
            let mut d = two();
            d.allocation = Allocation::Bandit {
                policy,
                reward: Reward::Click,
                floor: 0.0,
                epsilon: None,
                context: context.iter().map(|s| s.to_string()).collect(),
                exploration,
            };
            d
        };
        assert_eq!(
            field(&bandit(BanditPolicy::Linucb, &[], None)),
            "allocation.context"
        );
        assert_eq!(
            field(&bandit(BanditPolicy::LinThompson, &["tier", ""], None)),
            "allocation.context[1]"
        );
        assert_eq!(
            field(&bandit(BanditPolicy::Linucb, &["tier", "tier"], None)),
            "allocation.context"
        );
        assert_eq!(
            field(&bandit(BanditPolicy::Linucb, &["tier"], Some(-1.0))),
            "allocation.exploration"
        );
        assert_eq!(
            field(&bandit(BanditPolicy::Thompson, &["tier"], None)),
            "allocation.context"
        );
        assert_eq!(
            field(&bandit(BanditPolicy::Ucb1, &[], Some(0.5))),
            "allocation.exploration"
        );
        assert!(
            bandit(BanditPolicy::LinThompson, &["tier", "user_type"], Some(0.5))
                .check(&|_| true)
                .is_ok()
        );
        let mut d = two();
        d.attribution.window_hours = 0.0;
        assert_eq!(field(&d), "attribution.window_hours");
    }

    #[test]
    fn unknown_members_and_types_are_refused_with_the_path() {
        let e = Definition::from_json(r#"{"variants": [], "trafic": 1}"#).unwrap_err();
        assert!(e.to_string().contains("trafic"), "{e}");
        let e =
            Definition::from_json(r#"{"variants": [{"name": "a", "share": "half"}]}"#).unwrap_err();
        assert!(
            matches!(e, ExperimentError::Invalid { ref field, .. } if field == "variants[0].share"),
            "{e}"
        );
        assert_eq!(two().buckets(), 10_000);
        let mut d = two();
        d.traffic = 0.25;
        assert_eq!(d.buckets(), 2_500);
    }
}
