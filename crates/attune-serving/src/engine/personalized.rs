//! The per-user pipeline: consent → history (training row ∪ live events) → representation
//! (stored factors, or fold-in when anything happened since training) → scores
//! ([`super::scoring`]) → filters → top `offset + n` (a larger pool when re-ranking) → MMR
//! diversity → explanations; and the caches in front of it (in-process lists keyed by the
//! user's live generation, then the shared lists of other replicas).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use attune_core::model::fresh::interleave;
use attune_core::model::spec::Feedback;
use attune_core::sparse::UserRecency;

use super::ahead::{candidate_pool, Ahead, AheadFor};
use super::config::{ExperimentTag, RecList, RecRequest, Recommended, ServingError, Source};
use super::render::{list, recommended};
use super::snapshot::{CachedList, Snapshot};
use super::{cold_start, filters, lists, render, scoring, AppServing, Serving};
use crate::explain::{self, Reason};
use crate::live::LiveUser;
use crate::rerank::mmr;
use crate::shared::{codec, list_key};

impl Serving {
    /// Recommendations for `user`. With `allow_store = false` the call never blocks: it
    /// answers from memory or returns [`ServingError::NeedsStore`] (always, with shared state).
    pub fn recommend(
        &self,
        app: &str,
        user: &str,
        req: &RecRequest,
        allow_store: bool,
    ) -> Result<RecList, ServingError> {
        req.check(self.config.max_n)?;
        if self.shared.is_some() && !allow_store {
            return Err(ServingError::NeedsStore);
        }
        let a = self.app_for(app, allow_store)?;
        self.recommend_in(&a, user, req, allow_store, None)
    }

    /// Recommendations for `user` from a pinned snapshot ([`Serving::pinned`]): the same
    /// pipeline as [`Serving::recommend`]. Blocking.
    pub fn recommend_on(
        &self,
        a: &AppServing,
        user: &str,
        req: &RecRequest,
    ) -> Result<RecList, ServingError> {
        req.check(self.config.max_n)?;
        self.recommend_in(a, user, req, true, None)
    }

    /// Lists for many users at once, in the order given: the batch path (`attune recommend
    /// --all-users`, `attune precompute`), one list per user exactly as [`Serving::recommend`]
    /// answers it. Blocking.
    ///
    /// Users go in blocks of [`BLOCK_USERS`]: for an ALS snapshot scanned exactly, the block's
    /// candidate pools are scored together by the batch kernel ([`super::ahead`]), then each
    /// user runs the per-user pipeline in parallel (rayon), which takes its pool instead of
    /// scoring it alone when the pool applies ([`ServingStats::batch_scored`] counts those).
    ///
    /// [`ServingStats::batch_scored`]: super::ServingStats::batch_scored
    pub fn recommend_many(
        &self,
        a: &AppServing,
        users: &[String],
        req: &RecRequest,
    ) -> Result<Vec<RecList>, ServingError> {
        use rayon::prelude::*;
        req.check(self.config.max_n)?;
        // A per-user recency decay or a history rating factor folds every implicit user in:
        // no stored factors to batch.
        let snap = a.snapshot().filter(|s| {
            s.model.feedback() == Feedback::Explicit || !self.weighting.history().differs()
        });
        let mut lists = Vec::with_capacity(users.len());
        for block in users.chunks(BLOCK_USERS) {
            let ahead = snap.as_ref().and_then(|s| Ahead::score(s, block, req));
            let done: Vec<RecList> = block
                .par_iter()
                .enumerate()
                .map(|(at, u)| {
                    let ahead = ahead.as_ref().map(|ahead| AheadFor { ahead, at });
                    self.recommend_in(a, u, req, true, ahead)
                })
                .collect::<Result<_, _>>()?;
            lists.extend(done);
        }
        Ok(lists)
    }

    fn recommend_in(
        &self,
        a: &AppServing,
        user: &str,
        req: &RecRequest,
        allow_store: bool,
        ahead: Option<AheadFor<'_>>,
    ) -> Result<RecList, ServingError> {
        let app = a.app.as_str();
        // A pinned snapshot is this process's alone: nothing of it is shared.
        let shared = self.shared.as_ref().filter(|_| !a.pinned);
        let generation = shared.and_then(|s| s.user_generation(&self.stats, app, user));
        // An experiment variant may serve another version with other parameters; else the
        // user's segment may have its own version.
        let assignment = self.assignment(a, user, allow_store)?;
        let segment = self.segment_of(a, user, allow_store, generation)?;
        let snap = match assignment.as_ref().and_then(|x| x.treatment.model_version) {
            Some(v) => self.variant_snapshot(a, v, allow_store)?,
            None => self.segment_snapshot(a, segment.as_deref(), allow_store)?,
        };
        let treated;
        let req = match &assignment {
            None => req,
            Some(x) => {
                treated = treat(req, &x.treatment);
                &treated
            }
        };
        let holdout = assignment.as_ref().is_some_and(|x| x.treatment.holdout);
        let mut req_key = req.key();
        if holdout {
            req_key.push_str("|holdout");
        }
        let key = list_cache_key(user, &req_key);
        // Read before anything is computed: a catalog change racing this request leaves the
        // list cached at the older generation, so the next request recomputes it.
        let fresh_generation = snap.fresh_generation();
        let tagged = |mut l: RecList| {
            l.experiment = assignment.as_ref().map(|x| ExperimentTag {
                name: x.experiment.clone(),
                phase: x.phase,
                variant: x.variant.clone(),
                first: x.first,
            });
            l.segment.clone_from(&segment);
            l
        };
        // The hot path: the user's live state is here and current, and a list computed at its
        // generation is cached. Nothing is cloned but the list's `Arc`.
        if let Some((local, at_shared)) = snap.live.generation(user) {
            if generation.is_none() || at_shared == generation {
                if let Some(hit) = snap.lists.get(&key) {
                    if hit.generation == local && hit.fresh == fresh_generation {
                        self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                        return Ok(tagged(list(&snap, hit.source, hit.items.clone(), true)));
                    }
                }
            }
        }
        // Past the hot path the user is reloaded (a new generation no cached list has) or was
        // current without a cached list: either way the list is not in the local cache.
        let live = self.live_user(app, &snap, user, allow_store, generation)?;
        // Fresh items are not model items, so the shared form cannot hold them, and another
        // replica may not know them: with any, lists are computed here and kept here.
        let shared_key = shared
            .filter(|_| snap.fresh_items() == 0)
            .zip(generation)
            .map(|(s, g)| (s, list_key(app, snap.version, g, user, &req_key)));
        let from_shared = shared_key
            .as_ref()
            .and_then(|(s, k)| Some((k, s.get_list(&self.stats, k)?)))
            .and_then(|(k, bytes)| shared_list(&snap, k, &bytes));
        let (source, items, cached) = match from_shared {
            Some((source, items)) => {
                self.stats.shared_hits.fetch_add(1, Ordering::Relaxed);
                (source, items, true)
            }
            None => {
                self.stats.cache_misses.fetch_add(1, Ordering::Relaxed);
                let (source, items) = if holdout {
                    let allowed = snap.allowed(req);
                    let picks = lists::popular_items(&snap, req, &[], &allowed);
                    (
                        Source::Holdout,
                        render::with_reason(&snap, picks, Reason::Popular),
                    )
                } else {
                    self.compute(a, &snap, user, &live, req, ahead)
                };
                if let Some((s, k)) = &shared_key {
                    let bytes = encode_list(&snap, source, &items);
                    s.put_list(&self.stats, k, &bytes, self.config.list_cache_ttl);
                }
                (source, items, false)
            }
        };
        let items: Arc<[Recommended]> = items.into();
        snap.lists.insert(
            key,
            Arc::new(CachedList {
                generation: live.generation,
                fresh: fresh_generation,
                source,
                items: items.clone(),
            }),
        );
        Ok(tagged(list(&snap, source, items, cached)))
    }

    /// The user's experiment assignment for this request (`None`: no experiments, a pinned
    /// snapshot, or outside every running one).
    fn assignment(
        &self,
        a: &AppServing,
        user: &str,
        allow_store: bool,
    ) -> Result<Option<attune_experiment::Assignment>, ServingError> {
        let Some(router) = self.experiments.as_ref().filter(|_| !a.pinned) else {
            return Ok(None);
        };
        let store = &self.store;
        let app = a.app.as_str();
        match router.route(app, user, allow_store, &mut || {
            Ok(store.get_user(app, user)?)
        })? {
            attune_experiment::Routed::In(x) => Ok(Some(x)),
            attune_experiment::Routed::Out => Ok(None),
            attune_experiment::Routed::NeedsStore => Err(ServingError::NeedsStore),
        }
    }

    /// The user's segment when serving by segment is on: from their live state on the active
    /// snapshot (loaded from the store if need be, as any request would), so the hot path
    /// reads no profile.
    fn segment_of(
        &self,
        a: &AppServing,
        user: &str,
        allow_store: bool,
        generation: Option<crate::shared::SharedGeneration>,
    ) -> Result<Option<String>, ServingError> {
        if self.config.segments.is_none() {
            return Ok(None);
        }
        let active = a.require_snapshot()?;
        if let Some(segment) = active.live.segment(user, generation) {
            return Ok(segment);
        }
        Ok(self
            .live_user(&a.app, &active, user, allow_store, generation)?
            .segment)
    }

    /// The snapshot that serves `segment`: its configured version, else the active one (also
    /// when that version cannot be loaded: a segment is never left without lists).
    fn segment_snapshot(
        &self,
        a: &AppServing,
        segment: Option<&str>,
        allow_store: bool,
    ) -> Result<Arc<Snapshot>, ServingError> {
        let version = self
            .config
            .segments
            .as_ref()
            .filter(|_| !a.pinned)
            .and_then(|s| s.version_for(segment));
        match version.map(|v| self.variant_snapshot(a, v, allow_store)) {
            None => a.require_snapshot(),
            Some(Ok(snap)) => Ok(snap),
            Some(Err(ServingError::NeedsStore)) => Err(ServingError::NeedsStore),
            Some(Err(e)) => {
                tracing::warn!(app = %a.app, ?segment, ?version, error = %e,
                    "the segment's version cannot be served; serving the active one");
                a.require_snapshot()
            }
        }
    }

    fn compute(
        &self,
        a: &AppServing,
        snap: &Snapshot,
        user: &str,
        live: &LiveUser,
        req: &RecRequest,
        ahead: Option<AheadFor<'_>>,
    ) -> (Source, Vec<Recommended>) {
        let model = &snap.model;
        let allowed = filters::without_dismissed(
            &snap.catalog,
            &model.items,
            snap.allowed(req),
            &live.dismissed_items,
            &live.dismissed_categories,
        );
        if !live.personalization {
            let picks = lists::popular_items(snap, req, &[], &allowed);
            let items = render::with_reason(snap, picks, Reason::Popular);
            return (Source::NonPersonalized, items);
        }
        let explicit = model.feedback() == Feedback::Explicit;
        let trained = model.users.get(user);
        // History: the training row plus everything live (live weights add; live ratings
        // replace), in model item indices; items the model does not know are ignored.
        let mut history: BTreeMap<u32, f32> = BTreeMap::new();
        if let Some(u) = trained {
            let (cols, vals) = model.history.row(u as usize);
            history.extend(cols.iter().copied().zip(vals.iter().copied()));
        }
        let has_live = if explicit {
            !live.ratings.is_empty()
        } else {
            !live.implicit.is_empty()
        };
        if explicit {
            for (item, &r) in &live.ratings {
                if let Some(i) = model.items.get(item) {
                    history.insert(i, r);
                }
            }
        } else {
            match self.weighting.user_recency() {
                Some(r) => age_by_live_items(&mut history, live, |item| model.items.get(item), r),
                None => {
                    for (item, &w) in &live.implicit {
                        if let Some(i) = model.items.get(item) {
                            *history.entry(i).or_insert(0.0) += w;
                        }
                    }
                }
            }
        }
        let seen: Vec<u32> = history.keys().copied().collect();
        // A hybrid trained on profiles scores a user from their profile even before any
        // history; its items are explained as "Recommended for you" (no history item to name).
        let profiled = model
            .profile_model()
            .filter(|_| !live.profile_features.is_empty());
        if history.values().all(|&w| w <= 0.0) && profiled.is_none() {
            return (
                Source::ColdStart,
                cold_start::cold_start(a, snap, live, req, &seen, &allowed),
            );
        }
        // A per-user recency decay or a history rating factor weighs the history unlike the
        // matrix factors were trained on: such users are always folded in from it.
        let stored_repr = !has_live && (explicit || !self.weighting.history().differs());
        let stored = match (trained, stored_repr) {
            (Some(u), true) => model.training_repr(u).map(|r| (u, r)),
            _ => None,
        };
        let from_factors = stored.as_ref().map(|&(u, _)| u);
        let repr = stored.map(|(_, r)| r).unwrap_or_else(|| {
            let h: Vec<(u32, f32)> = history.iter().map(|(&i, &w)| (i, w)).collect();
            match profiled {
                Some(m) => m.fold_in_with_features(&h, &live.profile_features),
                None => model.recommender().fold_in(&h),
            }
        });
        let want = req.offset + req.n;
        let pool = candidate_pool(snap, req);
        let exclude: &[u32] = if req.exclude_seen { &seen } else { &[] };
        // A pool scored ahead with the block ([`super::ahead`]) is this one when the user is
        // represented by their stored factors and nothing of theirs narrows the allowed items.
        let undismissed = live.dismissed_items.is_empty() && live.dismissed_categories.is_empty();
        let scored_ahead = ahead
            .zip(from_factors.filter(|_| undismissed))
            .and_then(|(x, u)| x.ahead.pool_for(x.at, snap, u, req, pool));
        let mut top = match scored_ahead {
            Some(top) => {
                self.stats.batch_scored.fetch_add(1, Ordering::Relaxed);
                top.to_vec()
            }
            None => scoring::top_candidates(
                snap,
                &repr,
                &allowed,
                exclude,
                pool,
                !req.categories.is_empty(),
            ),
        };
        // Turned down: blend with popularity among the same allowed, unseen items.
        let mut popular_part: Vec<u32> = Vec::new();
        if let Some(s) = req.strength.filter(|s| *s < 1.0) {
            let wide = RecRequest {
                n: pool,
                offset: 0,
                ..req.clone()
            };
            let popular = lists::popular_items(snap, &wide, exclude, &allowed);
            let blended = crate::blend::blend(&top, &popular, s);
            popular_part = blended
                .iter()
                .filter(|b| !b.personal)
                .map(|b| b.item)
                .collect();
            top = blended
                .into_iter()
                .map(|b| (b.item, b.score))
                .take(pool)
                .collect();
        }
        let fitted = model.fitted.model();
        if let Some(lambda) = req.diversity {
            top = mmr(&top, want, lambda, |x, y| {
                snap.similarity.sim(fitted, x, y).max(0.0)
            });
        }
        // Exposure toward the target group shares; after MMR (when asked) it reorders MMR's
        // picks, otherwise it chooses from the whole candidate pool.
        if let Some(f) = &snap.fair {
            top = f.rerank(&top, want);
        }
        // Explanations: recent live items first, then the strongest training items.
        let mut explain_from: Vec<u32> = live
            .recent
            .iter()
            .rev()
            .filter_map(|i| model.items.get(i))
            .collect();
        let mut strongest: Vec<(u32, f32)> = history.iter().map(|(&i, &w)| (i, w)).collect();
        strongest.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        for (i, _) in strongest {
            if explain_from.len() >= self.config.explain_history {
                break;
            }
            if !explain_from.contains(&i) {
                explain_from.push(i);
            }
        }
        explain_from.truncate(self.config.explain_history);
        // Items newer than the model, by content similarity to the same recent history, at
        // the positions `fresh::interleave` gives them (after every re-ranking: the model's
        // picks keep their order).
        let fresh = snap.fresh.as_ref().map_or_else(Vec::new, |f| {
            f.pick(&explain_from, |id, it| {
                fresh_allowed(req, live, id, &it.categories, it.available)
            })
        });
        let merged = interleave(
            top.into_iter().map(|(i, s)| Pick::Model(i, s)).collect(),
            fresh.into_iter().map(Pick::Fresh).collect(),
        );
        let user_categories = filters::top_categories(&snap.catalog, &history);
        // Every pick shown is explained against the same history: one table for the list.
        let explained: Vec<u32> = merged
            .iter()
            .take(want)
            .skip(req.offset)
            .filter_map(|p| match p {
                Pick::Model(i, _) if !popular_part.contains(i) => Some(*i),
                _ => None,
            })
            .collect();
        let sims = snap.similarity.table(fitted, &explain_from, &explained);
        let mut explained_at = 0;
        // A fresh item takes the score of the item before it, so scores never rise down the
        // list (a fresh item first, behind no model pick, has its similarity).
        let mut previous: Option<f32> = None;
        let mut items = Vec::with_capacity(req.n);
        for (at, p) in merged.into_iter().enumerate().take(want) {
            let score = match &p {
                Pick::Model(_, s) => *s,
                Pick::Fresh(f) => previous.unwrap_or(f.similarity),
            };
            previous = Some(score);
            if at < req.offset {
                continue;
            }
            let item = match p {
                Pick::Fresh(f) => render::fresh(snap, f, score),
                Pick::Model(i, s) if popular_part.contains(&i) => {
                    recommended(snap, i, s, Reason::Popular)
                }
                Pick::Model(i, s) => {
                    debug_assert_eq!(explained[explained_at], i);
                    let row = &sims[explained_at * explain_from.len()..][..explain_from.len()];
                    explained_at += 1;
                    let reason = explain::personalized(
                        i,
                        &explain_from,
                        explicit,
                        row,
                        snap.catalog.categories(i),
                        &user_categories,
                    );
                    recommended(snap, i, s, reason)
                }
            };
            items.push(item);
        }
        (Source::Personalized, items)
    }
}

/// Users whose candidate pools [`Serving::recommend_many`] scores together before their lists
/// are finished: enough to keep the batch kernel's tiles full on every core, few enough that
/// a block's pools and exclusion lists stay small.
const BLOCK_USERS: usize = 4096;

/// One position of a personalized list: a model item with its score, or a fresh item.
enum Pick {
    Model(u32, f32),
    Fresh(crate::fresh::FreshPick),
}

/// Whether a fresh item passes the request's and the user's filters: availability, the
/// request's categories, the user's dismissed items and categories, and (when asked) what
/// the user already touched since the model was trained.
fn fresh_allowed(
    req: &RecRequest,
    live: &LiveUser,
    id: &str,
    categories: &[String],
    available: bool,
) -> bool {
    (available || !req.available_only)
        && (req.categories.is_empty() || categories.iter().any(|c| req.categories.contains(c)))
        && !live.dismissed_items.contains(id)
        && !categories
            .iter()
            .any(|c| live.dismissed_categories.contains(c))
        && !(req.exclude_seen && (live.implicit.contains_key(id) || live.ratings.contains_key(id)))
}

/// A list in the shared form ([`codec`]): model indices, scores, reasons.
fn encode_list(snap: &Snapshot, source: Source, items: &[Recommended]) -> Vec<u8> {
    let stored: Vec<codec::ListItem> = items
        .iter()
        .filter_map(|r| Some((snap.model.items.get(&r.item_id)?, r.score, r.reason)))
        .collect();
    codec::encode(source, &stored)
}

/// A shared list rendered from this snapshot (titles, sentences); one that does not decode
/// for it is a miss, and the fresh list computed instead replaces it.
fn shared_list(snap: &Snapshot, key: &str, bytes: &[u8]) -> Option<(Source, Vec<Recommended>)> {
    let n_categories = snap.catalog.category_names().len();
    let n_segments = snap.segments.as_ref().map_or(0, |s| s.len());
    match codec::decode(bytes, snap.model.items.len(), n_categories, n_segments) {
        Ok((source, items)) => Some((
            source,
            items
                .into_iter()
                .map(|(i, score, reason)| recommended(snap, i, score, reason))
                .collect(),
        )),
        Err(e) => {
            tracing::debug!(key, error = %e, "shared list not usable; recomputing");
            None
        }
    }
}

/// The list cache's key: the user and everything in the request that changes the answer
/// (user ids cannot contain the separator, a control character).
fn list_cache_key(user: &str, req_key: &str) -> String {
    let mut k = String::with_capacity(user.len() + 1 + req_key.len());
    k.push_str(user);
    k.push('\u{1f}');
    k.push_str(req_key);
    k
}

/// `req` with a variant's treatment applied: its diversity and categories replace the
/// request's.
fn treat(req: &RecRequest, t: &attune_experiment::Treatment) -> RecRequest {
    let mut r = req.clone();
    if t.diversity.is_some() {
        r.diversity = t.diversity;
    }
    if !t.categories.is_empty() {
        r.categories = t.categories.clone();
    }
    r
}

/// Add `live`'s implicit weights to a training history under a per-user recency decay
/// ([`UserRecency`]): the training row was decayed from the user's latest training item, and
/// every distinct item touched live since is one later moment, so the row ages by
/// `factor(live items)` and each live item weighs `factor(its rank among them)` (the newest 1;
/// items that fell out of the bounded recent list rank after the ones in it).
fn age_by_live_items(
    history: &mut BTreeMap<u32, f32>,
    live: &LiveUser,
    index: impl Fn(&str) -> Option<u32>,
    r: UserRecency,
) {
    let aged = r.factor(live.implicit.len()) as f32;
    for w in history.values_mut() {
        *w *= aged;
    }
    let newest_first: Vec<&str> = live.recent.iter().rev().map(String::as_str).collect();
    for (item, &w) in &live.implicit {
        let rank = newest_first
            .iter()
            .position(|&i| i == item)
            .unwrap_or(newest_first.len());
        if let Some(i) = index(item) {
            *history.entry(i).or_insert(0.0) += w * r.factor(rank) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_items_age_the_training_row_and_rank_newest_first() {
        let r = UserRecency::new(1.0).unwrap();
        // Training row: item 0 at the user's latest training moment, item 1 one before.
        let mut history = BTreeMap::from([(0u32, 1.0f32), (1, 0.5)]);
        let live = LiveUser {
            implicit: [("b".to_string(), 2.0f32), ("a".to_string(), 1.0)].into(),
            recent: ["a".to_string(), "b".to_string()].into(), // b is the newest
            ..LiveUser::default()
        };
        let index = |id: &str| match id {
            "a" => Some(0),
            "b" => Some(2),
            _ => None,
        };
        age_by_live_items(&mut history, &live, index, r);
        // Two live items: the row ages by 2^-2; a (rank 1) adds 1·0.5 to item 0; b weighs 2.
        assert_eq!(
            history,
            BTreeMap::from([(0, 0.25 + 0.5), (1, 0.125), (2, 2.0)])
        );
    }
}
