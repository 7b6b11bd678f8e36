//! Committed events into live state: the users loaded here and, with shared state, every
//! replica (a new shared generation per user); and a user's live state loaded from the store.

use attune_core::catalog::Item;
use attune_core::event::Event;
use attune_store::EventFilter;

use super::snapshot::Snapshot;
use super::{Serving, ServingError};
use crate::live::LiveUser;
use crate::shared::SharedGeneration;

impl Serving {
    /// Apply committed events: live user state, trending. Call after the store acknowledged
    /// them. Never blocks on the store; with shared state, one round trip gives every user of
    /// the events a new shared generation (after the local update, so a replica that sees it
    /// reloads from a store that has the events). With a change feed, the events go to the
    /// other replicas too.
    pub fn observe(&self, app: &str, events: &[Event]) {
        self.apply_events(app, events);
        if let Some(feed) = self.feed.get() {
            feed.events(app, events);
        }
    }

    /// [`Serving::observe`] without the change feed: for events another replica committed
    /// and sent through it.
    pub fn apply_events(&self, app: &str, events: &[Event]) {
        if let Some(a) = self.loaded(app) {
            a.trending.observe(events, &self.weighting);
            if let Some(snap) = a.snapshot() {
                snap.live.observe(events, &self.weighting);
            }
            for snap in a
                .variants
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .values()
            {
                snap.live.observe(events, &self.weighting);
            }
        }
        // Every event's user, loaded here or not: another replica may hold them.
        if let Some(shared) = &self.shared {
            let mut users: Vec<String> = events
                .iter()
                .filter_map(Event::user_key)
                .map(str::to_string)
                .collect();
            users.sort_unstable();
            users.dedup();
            shared.bump_users(&self.stats, app, &users);
        }
    }

    /// Apply upserted catalog items (call after the store acknowledged them): items the
    /// serving versions do not know become listable at once, by content ([`crate::fresh`]),
    /// and every cached list of the app is stale from now on. Never blocks on the store. Only
    /// this process learns of them: other replicas and the CLI see them when they next load a
    /// version (they read the whole catalog then), unless a change feed carries them.
    pub fn observe_items(&self, app: &str, items: &[Item]) {
        self.apply_items(app, items);
        if let Some(feed) = self.feed.get() {
            feed.items_upserted(app, items);
        }
    }

    /// [`Serving::observe_items`] without the change feed (items from another replica).
    pub fn apply_items(&self, app: &str, items: &[Item]) {
        self.each_snapshot(app, |snap| {
            if let Some(f) = &snap.fresh {
                f.upsert(&snap.model.items, items);
            }
        });
    }

    /// Deleted catalog items: no longer listed as fresh items. (Items the model knows keep
    /// being served until the next version, as before.)
    pub fn forget_items(&self, app: &str, ids: &[String]) {
        self.apply_deleted_items(app, ids);
        if let Some(feed) = self.feed.get() {
            feed.items_deleted(app, ids);
        }
    }

    /// [`Serving::forget_items`] without the change feed (deletions from another replica).
    pub fn apply_deleted_items(&self, app: &str, ids: &[String]) {
        self.each_snapshot(app, |snap| {
            if let Some(f) = &snap.fresh {
                f.remove(ids);
            }
        });
    }

    /// `f` on the app's active snapshot and every loaded variant's.
    fn each_snapshot(&self, app: &str, f: impl Fn(&Snapshot)) {
        let Some(a) = self.loaded(app) else {
            return;
        };
        if let Some(snap) = a.snapshot() {
            f(&snap);
        }
        for snap in a
            .variants
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
        {
            f(snap);
        }
    }

    /// Forget what is known live about a user (consent or profile changed, user erased), here
    /// and, through a new shared generation, on every replica.
    pub fn forget_user(&self, app: &str, user: &str) {
        self.forget_users(app, &[user.to_string()]);
    }

    /// [`Serving::forget_user`] for many users at once: one shared round trip, not one per
    /// user (a segment recomputation may move thousands).
    pub fn forget_users(&self, app: &str, users: &[String]) {
        if users.is_empty() {
            return;
        }
        self.each_snapshot(app, |snap| {
            for user in users {
                snap.live.forget(user);
            }
        });
        if let Some(shared) = &self.shared {
            shared.bump_users(&self.stats, app, users);
        }
    }

    /// Segments were recomputed and saved into profiles (`attune_pipeline::resegment`):
    /// `segments` is each user's new segment, `changed` the users whose stored segment the
    /// save changed. Both kinds are forgotten through [`Serving::forget_users`] (the path a
    /// profile change through the API takes), so their next request re-reads the profile and
    /// is routed by the new segment at once: the changed users here and, with shared state,
    /// on every replica; and any user loaded here with another segment than `segments` says
    /// (another replica saved the change first, so this one saw no change in the store).
    /// Returns how many users were forgotten. Segment popularity for cold start is counted
    /// when a version loads and is not recounted here.
    pub fn segments_changed<'a>(
        &self,
        app: &str,
        segments: impl IntoIterator<Item = (&'a str, &'a str)>,
        changed: &[String],
    ) -> usize {
        let mut stale: Vec<String> = changed.to_vec();
        if self.config.segments.is_some() {
            if let Some(active) = self.loaded(app).and_then(|a| a.snapshot()) {
                stale.extend(segments.into_iter().filter_map(|(user, segment)| {
                    let loaded = active.live.segment(user, None)?;
                    (loaded.as_deref() != Some(segment)).then(|| user.to_string())
                }));
            }
        }
        stale.sort_unstable();
        stale.dedup();
        self.forget_users(app, &stale);
        stale.len()
    }

    /// The user's live state, current with the shared generation `shared` when there is one
    /// (read before this call, so the reload below sees every event committed before it).
    pub(super) fn live_user(
        &self,
        app: &str,
        snap: &Snapshot,
        user: &str,
        allow_store: bool,
        shared: Option<SharedGeneration>,
    ) -> Result<LiveUser, ServingError> {
        if let Some(u) = snap.live.get(user) {
            // Another replica changed the user since it was loaded here (or loading here
            // raced with an event): reload. Unknown (degraded): what is here.
            if shared.is_none() || u.shared == shared {
                return Ok(u);
            }
        }
        if !allow_store {
            return Err(ServingError::NeedsStore);
        }
        let profile = self.store.get_user(app, user)?;
        let segment = self
            .config
            .segments
            .as_ref()
            .and_then(|s| attune_experiment::assign::attribute(profile.as_ref(), &s.attribute));
        let profile_features = snap
            .model
            .profile_model()
            .zip(profile.as_ref())
            .map(|(m, p)| m.user_encoding().encode(&p.attributes))
            .unwrap_or_default();
        let (personalization, preferred) = profile.map_or((true, Vec::new()), |p| {
            (p.consent.personalization, p.preferred_categories)
        });
        let mut events = Vec::new();
        if personalization {
            let filter = EventFilter {
                user_id: Some(user.to_string()),
                since_micros: Some(snap.since_micros.saturating_add(1)),
                until_micros: None,
                // Impressions weigh nothing by default but `train.event_weights` may give
                // them a weight, so the live state reads them like training does.
                skip_impressions: false,
            };
            self.store.scan_events(app, &filter, &mut |e| {
                events.push(e);
                true
            })?;
        }
        let dismissed: Vec<_> = self
            .store
            .dismissals(app, user)?
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        Ok(snap.live.load(
            user,
            crate::live::UserFacts {
                personalization,
                preferred,
                dismissed,
                segment,
                profile_features,
            },
            &events,
            &self.weighting,
            shared,
        ))
    }
}
