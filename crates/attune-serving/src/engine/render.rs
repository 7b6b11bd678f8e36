//! Model items into served items: ids, titles and explanations in words, and the list around
//! them with its fresh recommendation id.

use std::sync::Arc;

use super::config::{RecList, Recommended, Source};
use super::snapshot::Snapshot;
use crate::explain::Reason;

/// A served list around computed items: a fresh recommendation id every time. A pinned
/// artifact file (version 0) has no model version.
pub(crate) fn list(
    snap: &Snapshot,
    source: Source,
    items: impl Into<Arc<[Recommended]>>,
    cached: bool,
) -> RecList {
    RecList {
        recommendation_id: uuid::Uuid::now_v7().to_string(),
        model_version: (snap.version > 0).then_some(snap.version),
        source,
        items: items.into(),
        cached,
        experiment: None,
        segment: None,
    }
}

/// The catalog title of model item `i`, else its id.
pub(crate) fn item_name(snap: &Snapshot, i: u32) -> String {
    snap.catalog
        .title(i)
        .map_or_else(|| snap.model.item_id(i).to_string(), str::to_string)
}

/// The name of segment `s` of the snapshot (empty if it has none such).
fn segment_name(snap: &Snapshot, s: u32) -> String {
    snap.segments
        .as_ref()
        .and_then(|p| p.name(s))
        .unwrap_or_default()
        .to_string()
}

/// Model item `i` with `score` and `reason`, as served.
pub(crate) fn recommended(snap: &Snapshot, i: u32, score: f32, reason: Reason) -> Recommended {
    let cat_name = |c: u32| {
        snap.catalog
            .category_names()
            .name(c)
            .unwrap_or_default()
            .to_string()
    };
    let (reason_item, reason_category) = match reason {
        Reason::Because { item, .. } | Reason::NewItemLike { item } => {
            (Some(snap.model.item_id(item).to_string()), None)
        }
        Reason::InterestIn { category } | Reason::PopularIn { category } => {
            (None, Some(cat_name(category)))
        }
        _ => (None, None),
    };
    Recommended {
        item_id: snap.model.item_id(i).to_string(),
        score,
        title: snap.catalog.title(i).map(str::to_string),
        explanation: reason.text(|x| item_name(snap, x), cat_name, |s| segment_name(snap, s)),
        reason,
        reason_item,
        reason_category,
    }
}

/// A fresh item (unknown to the model) as served: its reason names the history item it is like.
pub(crate) fn fresh(snap: &Snapshot, pick: crate::fresh::FreshPick, score: f32) -> Recommended {
    let reason = Reason::NewItemLike { item: pick.because };
    Recommended {
        explanation: reason.text(|x| item_name(snap, x), |_| String::new(), |_| String::new()),
        reason_item: Some(snap.model.item_id(pick.because).to_string()),
        reason_category: None,
        item_id: pick.item_id,
        score,
        title: pick.title,
        reason,
    }
}

/// Picks that share one reason (popular, trending), as served items.
pub(crate) fn with_reason(
    snap: &Snapshot,
    picks: Vec<(u32, f32)>,
    reason: Reason,
) -> Vec<Recommended> {
    picks
        .into_iter()
        .map(|(i, s)| recommended(snap, i, s, reason))
        .collect()
}
