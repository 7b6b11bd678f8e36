//! Online fairness figures (docs/fairness.md, "Online"): the offline audit's exposure figures
//! over the lists actually served, from the stored impression log, and the click-through rate
//! per user group with its demographic-parity gap. `GET /v1/fairness` and
//! `attune fairness online` both call [`online_fairness`].
//!
//! - Items: every catalogue item and every item seen in the window's events. `popularity:K`
//!   buckets by the window's own popularity (distinct users who interacted with the item,
//!   impressions not counted: the model's training data is not at hand here); `attr:` and
//!   `new:DAYS` read the catalogue, "now" is the window's end.
//! - Exposure: each served list's items by logged position, discount `1 / log2(rank + 1)`.
//! - CTR per user group (`attr:<name>` of the served user's profile; users without one are
//!   `(none)`): attributed clicks on the group's lists / impressions (listed items) of them.
//!   Demographic-parity gap: max − min of the groups' CTR (groups with impressions).

use std::collections::{BTreeMap, HashMap};

use attune_core::attribution::Outcome;
use attune_core::fairness::exposure::{exposure_report_of_items, ExposureReport};
use attune_core::fairness::groups::MISSING;
use attune_core::fairness::resolve::{attr_label, item_groups};
use attune_core::fairness::{discount, ItemGroupSpec, UserGroupSpec};
use attune_core::sparse::Interner;

use crate::error::{MonitorError, Result};
use crate::quality::window::Window;
use attune_store::Store;

/// What to compute.
#[derive(Debug, Clone, PartialEq)]
pub struct FairnessQuery {
    /// The window ends here (UTC micros, exclusive).
    pub until_micros: i64,
    /// Its length.
    pub window_secs: u64,
    /// How items are grouped.
    pub item_groups: ItemGroupSpec,
    /// How users are grouped (`attr:<name>` only online).
    pub user_groups: Option<UserGroupSpec>,
    /// At most this many events are read (the window shortens, as a quality tick's).
    pub max_events: usize,
}

/// One user group's click-through.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupCtr {
    /// Group label.
    pub label: String,
    /// Distinct users served.
    pub users: usize,
    /// Lists served.
    pub lists: usize,
    /// Items shown.
    pub impressions: usize,
    /// Attributed clicks.
    pub clicks: usize,
    /// clicks / impressions (0 without impressions).
    pub ctr: f64,
}

/// The online figures of one window.
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineFairness {
    /// The start of the events read (later than asked when the window held more than the cap).
    pub since_micros: i64,
    /// The end.
    pub until_micros: i64,
    /// Exposure by item group over the served lists.
    pub exposure: ExposureReport,
    /// CTR by user group (when asked).
    pub user_groups: Option<Vec<GroupCtr>>,
    /// max − min of the user groups' CTR (groups with impressions).
    pub dp_gap: Option<f64>,
}

/// The window's figures (see the module docs).
pub fn online_fairness(store: &dyn Store, app: &str, q: &FairnessQuery) -> Result<OnlineFairness> {
    if q.window_secs == 0 {
        return Err(MonitorError::invalid("window_secs", "must be at least 1"));
    }
    if let Some(UserGroupSpec::Activity(_)) = q.user_groups {
        return Err(MonitorError::invalid(
            "user_groups",
            "online figures group users by attr:<name> only (activity:K is offline)",
        ));
    }
    let since = q.until_micros - (q.window_secs as i64).saturating_mul(1_000_000);
    let w = Window::read(store, app, since, q.until_micros, q.max_events)?;
    let mut catalog = Vec::new();
    store.scan_items(app, &mut |i| {
        catalog.push(i);
        true
    })?;
    let items = Interner::sorted(
        catalog
            .iter()
            .map(|i| i.item_id.as_str())
            .chain(w.index.keys().map(String::as_str)),
    );
    let mut popularity = vec![0.0; items.len()];
    for (id, &i) in &w.index {
        popularity[items.get(id).expect("interned") as usize] = f64::from(w.popularity[i as usize]);
    }
    let groups = item_groups(
        &q.item_groups,
        &items,
        &catalog,
        &popularity,
        q.until_micros,
    )
    .map_err(|e| MonitorError::invalid("item_groups", e.to_string()))?;
    let mut per_item = vec![0.0; items.len()];
    for l in &w.attribution.lists {
        for (p, id) in l.items.iter().enumerate() {
            per_item[items.get(id).expect("interned") as usize] += discount(p);
        }
    }
    let exposure = exposure_report_of_items(&per_item, &groups, w.attribution.lists.len());
    let (user_groups, dp_gap) = match &q.user_groups {
        Some(UserGroupSpec::Attribute(name)) => {
            let ctr = ctr_by_group(store, app, &w, name)?;
            let rates: Vec<f64> = ctr
                .iter()
                .filter(|g| g.impressions > 0)
                .map(|g| g.ctr)
                .collect();
            let gap = rates.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
                - rates.iter().cloned().fold(f64::INFINITY, f64::min);
            (Some(ctr), Some(if rates.is_empty() { 0.0 } else { gap }))
        }
        _ => (None, None),
    };
    Ok(OnlineFairness {
        since_micros: w.since_micros,
        until_micros: q.until_micros,
        exposure,
        user_groups,
        dp_gap,
    })
}

fn ctr_by_group(store: &dyn Store, app: &str, w: &Window, name: &str) -> Result<Vec<GroupCtr>> {
    let mut label_of: HashMap<&str, String> = HashMap::new();
    for l in &w.attribution.lists {
        if !label_of.contains_key(l.user.as_str()) {
            let profile = store.get_user(app, &l.user)?;
            let label = profile
                .as_ref()
                .and_then(|p| p.attributes.get(name))
                .map_or_else(|| MISSING.to_string(), attr_label);
            label_of.insert(l.user.as_str(), label);
        }
    }
    let mut clicks = vec![0usize; w.attribution.lists.len()];
    for o in &w.attribution.outcomes {
        if o.outcome == Outcome::Click {
            clicks[o.list] += 1;
        }
    }
    // label → (users, lists, impressions, clicks)
    let mut by: BTreeMap<&str, (std::collections::HashSet<&str>, usize, usize, usize)> =
        BTreeMap::new();
    for (l, list) in w.attribution.lists.iter().enumerate() {
        let g = by.entry(label_of[list.user.as_str()].as_str()).or_default();
        g.0.insert(list.user.as_str());
        g.1 += 1;
        g.2 += list.items.len();
        g.3 += clicks[l];
    }
    Ok(by
        .into_iter()
        .map(|(label, (users, lists, impressions, clicks))| GroupCtr {
            label: label.to_string(),
            users: users.len(),
            lists,
            impressions,
            clicks,
            ctr: if impressions > 0 {
                clicks as f64 / impressions as f64
            } else {
                0.0
            },
        })
        .collect())
}

impl OnlineFairness {
    /// The document `GET /v1/fairness` and `attune fairness online --json` return.
    pub fn to_json(&self, q: &FairnessQuery) -> serde_json::Value {
        use serde_json::json;
        let e = &self.exposure;
        json!({
            "since_micros": self.since_micros,
            "until_micros": self.until_micros,
            "window_secs": q.window_secs,
            "lists": e.lists,
            "item_groups": q.item_groups.to_string(),
            "exposure": {
                "gap": e.gap,
                "ratio_gap": e.ratio_gap,
                "recommended_rate_gap": e.recommended_rate_gap,
                "gini": e.gini,
                "groups": e.groups.iter().map(|g| json!({
                    "label": g.label,
                    "items": g.items,
                    "exposure": g.exposure,
                    "share": g.share,
                    "catalogue_share": g.catalogue_share,
                    "ratio": g.ratio,
                    "recommended_rate": g.recommended_rate,
                })).collect::<Vec<_>>(),
            },
            "user_groups": q.user_groups.as_ref().map(ToString::to_string),
            "users": self.user_groups.as_ref().map(|gs| gs.iter().map(|g| json!({
                "label": g.label,
                "users": g.users,
                "lists": g.lists,
                "impressions": g.impressions,
                "clicks": g.clicks,
                "ctr": g.ctr,
            })).collect::<Vec<_>>()),
            "dp_gap": self.dp_gap,
        })
    }
}
