//! Per-user sums of attributed outcomes, grouped by what a report compares. The user is the
//! unit of analysis (their lists and outcomes are not independent of each other), so every
//! statistic downstream starts from these rows: CTR per impression is a ratio of two per-user
//! sums (delta method), conversion is the share of users with a purchase, revenue per user a
//! mean over users.

use std::collections::BTreeMap;

use super::{Attribution, Outcome, ServedList};

/// What outcomes are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// The experiment variant (lists outside `experiment` are left out).
    Variant,
    /// The model version.
    ModelVersion,
    /// The list's source.
    Source,
    /// Everything together.
    All,
}

/// One user's sums within one group.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UserOutcomes {
    /// Lists served.
    pub lists: u64,
    /// Items shown (impressions).
    pub impressions: u64,
    /// Clicks attributed.
    pub clicks: u64,
    /// Cart adds attributed.
    pub add_to_carts: u64,
    /// Purchases attributed.
    pub purchases: u64,
    /// Their revenue.
    pub revenue: f64,
    /// Dwell attributed, milliseconds.
    pub dwell_ms: u64,
}

impl UserOutcomes {
    /// Whether the user bought anything (the conversion of a user).
    pub fn converted(&self) -> bool {
        self.purchases > 0
    }
}

fn key(l: &ServedList, group: Group, experiment: Option<&str>) -> Option<String> {
    match group {
        Group::Variant => match (&l.experiment, experiment) {
            (Some((e, v)), Some(want)) if e == want => Some(v.clone()),
            _ => None,
        },
        Group::ModelVersion => Some(
            l.model_version
                .map_or("none".into(), |v| format!("v{v:04}")),
        ),
        Group::Source => Some(l.source.clone().unwrap_or_else(|| "unknown".into())),
        Group::All => Some("all".into()),
    }
}

impl Attribution {
    /// Sums per (group, user), users in id order. `experiment` names the experiment for
    /// [`Group::Variant`] (ignored otherwise).
    pub fn per_user(
        &self,
        group: Group,
        experiment: Option<&str>,
    ) -> BTreeMap<String, BTreeMap<String, UserOutcomes>> {
        let mut out: BTreeMap<String, BTreeMap<String, UserOutcomes>> = BTreeMap::new();
        let keys: Vec<Option<String>> = self
            .lists
            .iter()
            .map(|l| key(l, group, experiment))
            .collect();
        for (l, k) in self.lists.iter().zip(&keys) {
            let Some(k) = k else { continue };
            let u = out
                .entry(k.clone())
                .or_default()
                .entry(l.user.clone())
                .or_default();
            u.lists += 1;
            u.impressions += l.items.len() as u64;
        }
        for a in &self.outcomes {
            let Some(k) = &keys[a.list] else { continue };
            let user = &self.lists[a.list].user;
            let u = out
                .entry(k.clone())
                .or_default()
                .entry(user.clone())
                .or_default();
            match a.outcome {
                Outcome::Click => u.clicks += 1,
                Outcome::AddToCart => u.add_to_carts += 1,
                Outcome::Purchase { revenue } => {
                    u.purchases += 1;
                    u.revenue += revenue;
                }
                Outcome::Dwell { ms } => u.dwell_ms += ms,
            }
        }
        out
    }

    /// Impressions and clicks per position (1-based), over all lists: position bias at a
    /// glance.
    pub fn by_position(&self) -> BTreeMap<u32, (u64, u64)> {
        let mut out: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
        for l in &self.lists {
            for p in 1..=l.items.len() as u32 {
                out.entry(p).or_default().0 += 1;
            }
        }
        for a in &self.outcomes {
            if let (Outcome::Click, Some(p)) = (a.outcome, a.position) {
                out.entry(p).or_default().1 += 1;
            }
        }
        out
    }
}
