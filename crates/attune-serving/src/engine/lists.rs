//! Lists that are not one user's: the most popular items, what is trending, items similar to
//! an item; and the popular and trending picks the cold-start chain and opted-out users get.

use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use attune_core::model::similar::similar_items;
use attune_core::model::topk::top_k_into;

use super::config::{RecList, RecRequest, Recommended, ServingError, Source};
use super::render::{item_name, list, recommended, with_reason};
use super::scoring::{HalfScan, SCORES};
use super::snapshot::Snapshot;
use super::{AppServing, Serving};
use crate::explain::Reason;

impl Serving {
    /// The most popular items of the active model (training popularity).
    pub fn popular(
        &self,
        app: &str,
        req: &RecRequest,
        allow_store: bool,
    ) -> Result<RecList, ServingError> {
        req.check(self.config.max_n)?;
        let snap = self.app_for(app, allow_store)?.require_snapshot()?;
        let allowed = snap.allowed(req);
        let picks = popular_items(&snap, req, &[], &allowed);
        let items = with_reason(&snap, picks, Reason::Popular);
        Ok(list(&snap, Source::Popular, items, false))
    }

    /// What is trending now (time-decayed live counts), among the active model's items.
    pub fn trending(
        &self,
        app: &str,
        req: &RecRequest,
        allow_store: bool,
    ) -> Result<RecList, ServingError> {
        req.check(self.config.max_n)?;
        let a = self.app_for(app, allow_store)?;
        let snap = a.require_snapshot()?;
        let allowed = snap.allowed(req);
        let picks = trending_items(&a, &snap, req, &[], &allowed);
        let items = with_reason(&snap, picks, Reason::Trending);
        Ok(list(&snap, Source::Trending, items, false))
    }

    /// Items most similar to `item` under the active model.
    pub fn similar(
        &self,
        app: &str,
        item: &str,
        req: &RecRequest,
        allow_store: bool,
    ) -> Result<RecList, ServingError> {
        req.check(self.config.max_n)?;
        let snap = self.app_for(app, allow_store)?.require_snapshot()?;
        similar_in(&snap, item, req)
    }

    /// Items most similar to `item` under a pinned snapshot ([`Serving::pinned`]).
    pub fn similar_on(
        &self,
        a: &AppServing,
        item: &str,
        req: &RecRequest,
    ) -> Result<RecList, ServingError> {
        req.check(self.config.max_n)?;
        let snap = a.require_snapshot()?;
        similar_in(&snap, item, req)
    }
}

/// Items most similar to `item` in `snap`: item-item models' own similarity, the cosine of
/// unit factors for factor models (through the half-precision scan), filters applied before
/// the top-k.
fn similar_in(snap: &Snapshot, item: &str, req: &RecRequest) -> Result<RecList, ServingError> {
    let i = snap
        .model
        .items
        .get(item)
        .ok_or_else(|| ServingError::UnknownItem { item: item.into() })?;
    let allowed = snap.allowed(req);
    let want = req.offset + req.n;
    // Over-fetch so filters still leave enough.
    let pool = (4 * want).max(50);
    let mut found = match snap.similarity.unit_factors() {
        // Factor models: one pass over the unit item factors kept in the snapshot (the
        // model's own `similar_items` renormalizes every item per call).
        Some((unit, k)) => {
            let q = &unit[i as usize * k..(i as usize + 1) * k];
            let mut sims = SCORES.with(|s| std::mem::take(&mut *s.borrow_mut()));
            let mut top = Vec::new();
            match &snap.similar_half {
                // As for recommendations: an f16 pass, the exact answer, filters applied
                // before the top-k (so filtered items never crowd out allowed ones).
                Some(h) => {
                    let scan = HalfScan {
                        half: h,
                        rows: unit,
                        batcher: &snap.similar_batcher,
                    };
                    scan.top_k(q, &allowed, pool, &[i], &mut sims, &mut top);
                }
                None => {
                    snap.similar_batcher.score(unit, q, &mut sims);
                    top_k_into(&sims, pool, &[i], &mut top);
                }
            }
            SCORES.with(|s| *s.borrow_mut() = sims);
            top
        }
        None => similar_items(snap.model.fitted.model(), i, pool)?,
    };
    found.retain(|&(j, _)| allowed[j as usize]);
    let items: Vec<Recommended> = found
        .into_iter()
        .skip(req.offset)
        .take(req.n)
        .map(|(j, s)| {
            recommended(
                snap,
                j,
                s,
                Reason::Because {
                    item: i,
                    rated: false,
                },
            )
        })
        .map(|mut r| {
            r.explanation = format!("Similar to {}", item_name(snap, i));
            r
        })
        .collect();
    Ok(list(snap, Source::Similar, items, false))
}

/// Top items by training popularity among `allowed`, minus `exclude` (sorted).
pub(crate) fn popular_items(
    snap: &Snapshot,
    req: &RecRequest,
    exclude: &[u32],
    allowed: &[bool],
) -> Vec<(u32, f32)> {
    let mut scores = snap.model.popularity.scores().to_vec();
    for (s, ok) in scores.iter_mut().zip(allowed) {
        if !ok {
            *s = f32::NEG_INFINITY;
        }
    }
    let mut top = Vec::new();
    top_k_into(&scores, req.offset + req.n, exclude, &mut top);
    top.into_iter()
        .filter(|e| e.1.is_finite())
        .skip(req.offset)
        .take(req.n)
        .collect()
}

/// Trending items among `allowed`, minus `exclude`; the ranked counts are recomputed at most
/// once a second.
pub(crate) fn trending_items(
    a: &AppServing,
    snap: &Snapshot,
    req: &RecRequest,
    exclude: &[u32],
    allowed: &[bool],
) -> Vec<(u32, f32)> {
    let ranked = {
        let mut cached = a
            .trending_list
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match &*cached {
            Some((at, r)) if at.elapsed() < Duration::from_secs(1) => r.clone(),
            _ => {
                let now = a.trending.latest_micros().unwrap_or(0);
                let r = Arc::new(a.trending.ranked(now));
                *cached = Some((Instant::now(), r.clone()));
                r
            }
        }
    };
    ranked
        .iter()
        .filter_map(|(id, v)| Some((snap.model.items.get(id)?, *v as f32)))
        .filter(|&(i, _)| allowed[i as usize] && exclude.binary_search(&i).is_err())
        .skip(req.offset)
        .take(req.n)
        .collect()
}
