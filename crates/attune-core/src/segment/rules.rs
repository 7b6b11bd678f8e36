//! Rule segments: new, dormant, heavy and active users from a few thresholds.
//!
//! Clusters say which users look alike; rules say what the business already means by "new" or
//! "lapsed", stay the same from one run to the next, and need no fit. They read three columns
//! of the raw [`UserFeatures`] table (not the z-scored matrix: thresholds are in days and
//! actions, which z-scores would move with every new batch of users).
//!
//! Precedence, first match wins: **new** > **dormant** > **heavy** > **active**.
//!
//! - **new**: no actions at all (a profile only, `recency_days` missing), or `tenure_days`
//!   below `new_days`. A profile without actions is "new" rather than "dormant": such a user
//!   never was active, and what fits them is a newcomer's treatment (popular items,
//!   onboarding), not a win-back.
//! - **dormant**: `recency_days` above `dormant_days`.
//! - **heavy**: `frequency` at or above `heavy_min_actions` when given, otherwise at or above
//!   the `heavy_quantile` of the frequencies of the users who reach this step (neither new nor
//!   dormant), so long-gone users and newcomers do not pull the bar down.
//! - **active**: everyone else.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::{invalid, Result};
use crate::features::users::UserFeatures;

/// The `[segments.rules]` section: thresholds of the rule segments. Missing keys take the
/// defaults, unknown keys are refused (a misspelt threshold would otherwise silently be the
/// default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleSegments {
    /// A user whose first action is fewer than this many days ago is "new" (14: two weeks is
    /// too short for their behaviour to say much).
    pub new_days: f64,
    /// A user whose last action is more than this many days ago is "dormant" (60).
    pub dormant_days: f64,
    /// A remaining user is "heavy" when their frequency is at or above this quantile of the
    /// remaining users' frequencies (0.9: the top tenth, more with ties at the bar).
    pub heavy_quantile: f64,
    /// An absolute bar instead of the quantile: heavy means at least this many actions in the
    /// feature period. For a bar that should not move as the user base changes.
    pub heavy_min_actions: Option<u64>,
}

impl Default for RuleSegments {
    fn default() -> Self {
        Self {
            new_days: 14.0,
            dormant_days: 60.0,
            heavy_quantile: 0.9,
            heavy_min_actions: None,
        }
    }
}

/// Checked [`RuleSegments`]; the only input [`assign`] takes, so thresholds are checked once.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidRuleSegments(RuleSegments);

impl ValidRuleSegments {
    /// The checked thresholds.
    pub fn rules(&self) -> &RuleSegments {
        &self.0
    }
}

impl RuleSegments {
    /// Check every threshold; the error names the field (`SegmentError::Invalid`).
    pub fn check(self) -> Result<ValidRuleSegments> {
        for (field, v) in [
            ("new_days", self.new_days),
            ("dormant_days", self.dormant_days),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(invalid(field, format_args!("must be days >= 0, got {v}")));
            }
        }
        // Recency never exceeds tenure, so with dormant_days <= new_days a "dormant" user
        // would have to be new as well: the rules would say nothing about lapsed users.
        if self.dormant_days <= self.new_days {
            return Err(invalid(
                "dormant_days",
                format_args!(
                    "must be above new_days ({}), got {}",
                    self.new_days, self.dormant_days
                ),
            ));
        }
        let q = self.heavy_quantile;
        if !(q > 0.0 && q < 1.0) {
            return Err(invalid(
                "heavy_quantile",
                format_args!("must be in (0, 1), got {q}"),
            ));
        }
        if self.heavy_min_actions == Some(0) {
            return Err(invalid(
                "heavy_min_actions",
                "must be at least 1 (0 would make every remaining user heavy)",
            ));
        }
        Ok(ValidRuleSegments(self))
    }
}

/// A rule segment, in precedence order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleSegment {
    /// No actions, or a first action fewer than `new_days` ago.
    New,
    /// Last action more than `dormant_days` ago.
    Dormant,
    /// Frequency at or above the heavy bar.
    Heavy,
    /// Everyone else.
    Active,
}

impl RuleSegment {
    /// Every segment, in precedence order.
    pub const ALL: [RuleSegment; 4] = [Self::New, Self::Dormant, Self::Heavy, Self::Active];

    /// The lowercase name, as in config and reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Dormant => "dormant",
            Self::Heavy => "heavy",
            Self::Active => "active",
        }
    }
}

impl fmt::Display for RuleSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// So rule segments can be passed straight to [`describe`](fn@super::describe::describe) as labels.
impl AsRef<str> for RuleSegment {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// A required numeric column, or an error naming it (a column selection may have left it out).
fn column<'a>(features: &'a UserFeatures, name: &str) -> Result<&'a [Option<f64>]> {
    features.numeric_column(name).ok_or_else(|| {
        invalid(
            "features",
            format_args!("the user feature table has no `{name}` column, which rule segments need (left out by a column selection?)"),
        )
    })
}

/// New or dormant by the day thresholds, `None` for users who go on to the frequency rule.
fn by_days(recency: Option<f64>, tenure: Option<f64>, r: &RuleSegments) -> Option<RuleSegment> {
    match recency {
        None => Some(RuleSegment::New), // a profile without actions
        Some(_) if tenure.is_some_and(|t| t < r.new_days) => Some(RuleSegment::New),
        Some(days) if days > r.dormant_days => Some(RuleSegment::Dormant),
        Some(_) => None,
    }
}

/// The `q` quantile of `values` with linear interpolation between order statistics (numpy's
/// default, `method="linear"`); `None` for no values.
fn quantile(mut values: Vec<f64>, q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let h = (values.len() - 1) as f64 * q;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    Some(values[lo] + (h - lo as f64) * (values[hi] - values[lo]))
}

/// The frequency bar for "heavy": `heavy_min_actions` if set, otherwise the quantile over the
/// users who are neither new nor dormant; `None` when there are no such users. Public so a
/// report can say what "heavy" meant in this run.
pub fn heavy_threshold(features: &UserFeatures, rules: &ValidRuleSegments) -> Result<Option<f64>> {
    let r = rules.rules();
    let (recency, tenure, frequency) = (
        column(features, "recency_days")?,
        column(features, "tenure_days")?,
        column(features, "frequency")?,
    );
    if let Some(min) = r.heavy_min_actions {
        return Ok(Some(min as f64));
    }
    let remaining = (0..features.users.len())
        .filter(|&i| by_days(recency[i], tenure[i], r).is_none())
        .map(|i| frequency[i].unwrap_or(0.0))
        .collect();
    Ok(quantile(remaining, r.heavy_quantile))
}

/// Each user's rule segment, in the table's user order. Fails, naming the column, when the
/// table lacks `recency_days`, `tenure_days` or `frequency`. A missing frequency counts as 0.
pub fn assign(features: &UserFeatures, rules: &ValidRuleSegments) -> Result<Vec<RuleSegment>> {
    let bar = heavy_threshold(features, rules)?;
    let r = rules.rules();
    let (recency, tenure, frequency) = (
        column(features, "recency_days")?,
        column(features, "tenure_days")?,
        column(features, "frequency")?,
    );
    Ok((0..features.users.len())
        .map(|i| {
            by_days(recency[i], tenure[i], r).unwrap_or_else(|| {
                let f = frequency[i].unwrap_or(0.0);
                if bar.is_some_and(|b| f >= b) {
                    RuleSegment::Heavy
                } else {
                    RuleSegment::Active
                }
            })
        })
        .collect())
}
