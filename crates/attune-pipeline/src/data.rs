//! An app's data as training sees it, read once and shared by every consumer: training and
//! evaluation build their matrices from it ([`crate::dataset::Dataset`]), `attune clean
//! --report` shows its cleaning report, `attune profile` profiles what it keeps. So the report
//! and the profile describe exactly what a model learns from.
//!
//! What training sees:
//! 1. every event of the app, except those of users who turned personalization off (they
//!    build no profile, so no model learns from them; they are still users, and are served
//!    popular items);
//! 2. the catalog and the user profiles;
//! 3. when cleaning is on (`[train].clean`), only the events the `[clean]` pass keeps. An app
//!    without a catalog is cleaned with every item treated as known, since "unknown item"
//!    would otherwise remove every event.

use std::collections::{HashMap, HashSet};

use attune_core::catalog::{Item, User};
use attune_core::clean::{self, AnyItem, CleanReport, Cleaned, ValidCleanConfig};
use attune_core::event::Event;
use attune_core::profile::{DataProfile, ProfileBuilder};
use attune_store::{EventFilter, Store};

use crate::config::PipelineConfig;
use crate::error::Result;

/// One app's events, catalog and users, consent applied, optionally cleaned.
#[derive(Debug, Clone)]
pub struct AppData {
    /// App name.
    pub app: String,
    /// Events of users who allow personalization (and of anonymous visitors), store order.
    pub events: Vec<Event>,
    /// The catalog.
    pub catalog: Vec<Item>,
    /// Every user profile's id.
    pub user_ids: Vec<String>,
    /// The profiles (attributes) of users who allow personalization: what user features read.
    pub users: Vec<User>,
    /// Events left out because their user turned personalization off.
    pub withheld_events: usize,
    /// Users who turned personalization off.
    pub opted_out_users: usize,
    cleaned: Option<Cleaned>,
}

impl AppData {
    /// Read `app` from the store, consent applied, not cleaned.
    pub fn read(store: &dyn Store, app: &str) -> Result<Self> {
        let mut catalog = Vec::new();
        store.scan_items(app, &mut |i| {
            catalog.push(i);
            true
        })?;
        let mut user_ids = Vec::new();
        let mut users = Vec::new();
        let mut opted_out: HashSet<String> = HashSet::new();
        store.scan_users(app, &mut |u| {
            user_ids.push(u.user_id.clone());
            if u.consent.personalization {
                users.push(u);
            } else {
                opted_out.insert(u.user_id);
            }
            true
        })?;
        let mut events = Vec::new();
        let mut withheld_events = 0usize;
        store.scan_events(app, &EventFilter::default(), &mut |e| {
            if e.user_id.as_ref().is_some_and(|u| opted_out.contains(u)) {
                withheld_events += 1;
            } else {
                events.push(e);
            }
            true
        })?;
        if withheld_events > 0 {
            tracing::info!(
                app,
                events = withheld_events,
                users = opted_out.len(),
                "events of users without personalization consent are not trained on"
            );
        }
        Ok(Self {
            app: app.to_string(),
            events,
            catalog,
            user_ids,
            users,
            withheld_events,
            opted_out_users: opted_out.len(),
            cleaned: None,
        })
    }

    /// Read `app` and clean it unless `clean` (or, without it, `[train].clean`) says not to:
    /// exactly what training and evaluation see.
    pub fn for_training(
        store: &dyn Store,
        app: &str,
        config: &PipelineConfig,
        clean: Option<bool>,
    ) -> Result<Self> {
        let mut data = Self::read(store, app)?;
        if clean.unwrap_or(config.train.clean) {
            data.clean(&config.clean);
        }
        Ok(data)
    }

    /// Data given directly (tests, files): nothing withheld, not cleaned.
    pub fn from_parts(
        app: &str,
        events: Vec<Event>,
        catalog: Vec<Item>,
        user_ids: Vec<String>,
    ) -> Self {
        Self {
            app: app.to_string(),
            events,
            catalog,
            user_ids,
            users: Vec::new(),
            withheld_events: 0,
            opted_out_users: 0,
            cleaned: None,
        }
    }

    /// Run the cleaning pass (again, if it ran before): from now on only kept events count.
    pub fn clean(&mut self, config: &ValidCleanConfig) {
        let cleaned = if self.catalog.is_empty() {
            clean::clean(&self.events, &AnyItem, config)
        } else {
            let index: HashMap<&str, bool> = self
                .catalog
                .iter()
                .map(|i| (i.item_id.as_str(), i.available))
                .collect();
            clean::clean(&self.events, &index, config)
        };
        self.cleaned = Some(cleaned);
    }

    /// What cleaning removed and why (`None`: not cleaned).
    pub fn clean_report(&self) -> Option<&CleanReport> {
        self.cleaned.as_ref().map(|c| &c.report)
    }

    /// The events training uses: all of [`AppData::events`], or those cleaning kept.
    pub fn kept(&self) -> impl Iterator<Item = &Event> {
        self.events
            .iter()
            .enumerate()
            .filter(|(k, _)| self.cleaned.as_ref().is_none_or(|c| c.is_kept(*k)))
            .map(|(_, e)| e)
    }

    /// The statistical profile of what training uses (`attune profile`, and the input of
    /// `--algorithm auto`).
    pub fn profile(&self) -> DataProfile {
        let mut builder = ProfileBuilder::default();
        for e in self.kept() {
            builder.push(e);
        }
        builder.finish(&self.catalog)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attune_core::catalog::{Consent, User};
    use attune_core::event::{Context, EventType, Properties};
    use attune_core::time::Timestamp;
    use attune_store::sqlite::SqliteStore;

    fn event(n: usize, user: &str, item: &str, secs: i64) -> Event {
        Event {
            event_id: format!("e{n}"),
            event_type: EventType::View,
            user_id: Some(user.into()),
            anonymous_id: None,
            item_id: Some(item.into()),
            timestamp: Timestamp::from_utc_micros(secs * 1_000_000),
            value: None,
            properties: Properties::default(),
            context: Context::default(),
        }
    }

    #[test]
    fn opted_out_users_are_withheld_and_cleaning_narrows_what_counts() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("a.db")).unwrap();
        store.create_app("shop").unwrap();
        let mut events = vec![
            event(0, "ann", "i1", 100),
            event(1, "bob", "i2", 200),
            event(2, "bob", "i3", 300),
        ];
        // A near duplicate of ann's view one second later: cleaning drops it.
        events.push(event(3, "ann", "i1", 101));
        store.insert_events("shop", &events).unwrap();
        let bob = User {
            user_id: "bob".into(),
            consent: Consent {
                personalization: false,
            },
            ..User::default()
        };
        store.upsert_users("shop", &[bob]).unwrap();

        let mut data = AppData::read(&store, "shop").unwrap();
        assert_eq!(data.events.len(), 2);
        assert_eq!((data.withheld_events, data.opted_out_users), (2, 1));
        assert_eq!(data.user_ids, ["bob"]);
        assert_eq!(data.kept().count(), 2);
        assert!(data.clean_report().is_none());
        assert_eq!(data.profile().events, 2);

        data.clean(&attune_core::clean::CleanConfig::default().check().unwrap());
        let report = data.clean_report().unwrap();
        assert_eq!((report.input_events, report.kept), (2, 1));
        assert_eq!(data.kept().count(), 1);
        // The profile describes what training uses.
        assert_eq!(data.profile().events, 1);
    }
}
