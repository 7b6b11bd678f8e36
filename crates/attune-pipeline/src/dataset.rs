//! One app's training data: the events training sees ([`crate::data::AppData`]: consent
//! applied, cleaned), interned and turned into the matrices every algorithm trains from
//! ([`TrainingSet`]).
//!
//! Steps (each one documented where it happens):
//! 1. read the app as training sees it ([`AppData`]);
//! 2. run the `[clean]` pass (unless `[train].clean` is off) and keep its report;
//! 3. map ids to dense indices: users and items are interned in sorted id order, so the same
//!    data gives the same indices on every run and backend;
//! 4. each kept event with an item becomes a [`Touch`] (implicit weight from `[train]`), each
//!    rating event also a rating record;
//! 5. matrices: implicit weights summed per (user, item) cell, ratings resolved per cell by the
//!    rating policy, items x categories, per-item text.
//!
//! Evaluation splits **cells**, not events: every touch and rating of one (user, item) pair goes
//! to the same side, so a user's second view of an item never "predicts" their first. The
//! matrices of any subset of cells are built by the same code as the full ones
//! ([`Dataset::training_set`], [`Dataset::implicit_matrix`], [`Dataset::ratings_matrix`]).
//!
//! "Now" of the data (recency decay, trending) is the time of the latest kept event, not the
//! wall clock, so training on a snapshot is reproducible.

use attune_core::catalog::{AttrValue, EMBEDDING_ATTRIBUTE};
use attune_core::clean::CleanReport;
use attune_core::event::{Event, EventWeighting};
use attune_core::fairness::reweight::Reweight;
use attune_core::model::spec::{ItemContent, ItemSequences, TrainingSet, UserFeatureRows};
use attune_core::sparse::{
    ratings_matrix, Csr, HistoryWeights, Interner, RatingPolicy, Touch, ValidImplicitWeights,
};
use attune_store::Store;

use crate::config::PipelineConfig;
use crate::data::AppData;
use crate::error::{PipelineError, Result};

/// One (user, item) pair with any touch or rating: the unit evaluation splits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    /// User index.
    pub user: u32,
    /// Item index.
    pub item: u32,
    /// Time of the pair's first touch or rating, UTC microseconds.
    pub first_micros: i64,
    /// Implicit weight over all the pair's touches (0: no positive signal).
    pub weight: f32,
    /// The resolved rating, if the user rated the item.
    pub rating: Option<f32>,
}

/// What was read and kept, for reports.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    /// App name.
    pub app: String,
    /// Events read from the store.
    pub events_read: usize,
    /// Events of users without personalization consent, left out.
    pub withheld: usize,
    /// Events kept by cleaning.
    pub events_kept: usize,
    /// Catalog items.
    pub catalog_items: usize,
    /// User profiles.
    pub user_profiles: usize,
    /// Earliest and latest kept event, UTC microseconds.
    pub first_event_micros: Option<i64>,
    /// See `first_event_micros`.
    pub last_event_micros: Option<i64>,
}

/// One app's data, ready to train on.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// User id ↔ row.
    pub users: Interner,
    /// Item id ↔ column.
    pub items: Interner,
    /// Category name ↔ column of `item_categories`.
    pub categories: Interner,
    /// Kept events with an item, as touches.
    pub touches: Vec<Touch>,
    /// `(user, item, time_micros, rating)` of kept rating events.
    pub ratings: Vec<(u32, u32, i64, f32)>,
    /// Every (user, item) pair, sorted by (user, item).
    pub cells: Vec<Cell>,
    /// Items x categories (value 1).
    pub item_categories: Csr,
    /// Per-item text.
    pub item_content: ItemContent,
    /// Per item: may be recommended (catalog flag; items outside the catalog: true).
    pub available: Vec<bool>,
    /// What cleaning removed (`None` when cleaning was off).
    pub clean_report: Option<CleanReport>,
    /// Counts and times.
    pub snapshot: Snapshot,
    /// The reference time: the latest kept event (0 without events).
    pub now_micros: i64,
    /// `[train.fairness]`: training matrices are re-weighted toward under-exposed popularity
    /// buckets (set by [`Dataset::load`] from the configuration; `None`: as the events say).
    pub reweight: Option<Reweight>,
    touch_cell: Vec<u32>,
    rating_cell: Vec<u32>,
    weights: ValidImplicitWeights,
    /// Users' encoded profile attributes, for the hybrid ([`crate::user_profiles`]; `None`
    /// when no profile has a usable attribute).
    pub user_profiles: Option<UserFeatureRows>,
    /// How the history users are folded in from is weighed (`[train] user_recency_half_life`,
    /// `history_rating_exponent`).
    history: HistoryWeights,
    rating_policy: RatingPolicy,
}

impl Dataset {
    /// Read `app` from the store (consent applied), clean it unless `clean` (or, without
    /// it, `[train].clean`) says not to, and build its data.
    pub fn load(
        store: &dyn Store,
        app: &str,
        config: &PipelineConfig,
        clean: Option<bool>,
    ) -> Result<Self> {
        let data = AppData::for_training(store, app, config, clean)?;
        let mut d = Self::build(&data, &config.train.weighting, config.train.rating_policy)?;
        d.reweight = config.train.reweight;
        Ok(d)
    }

    /// Build from `data`'s kept events, catalog and user ids (pure; [`Dataset::load`] reads
    /// the store).
    pub fn build(
        data: &AppData,
        weighting: &EventWeighting,
        rating_policy: RatingPolicy,
    ) -> Result<Self> {
        let (events, catalog, user_ids) = (&data.events, &data.catalog, &data.user_ids);
        let kept: Vec<&Event> = data.kept().collect();
        let usable = |e: &&&Event| e.user_key().is_some() && e.item_id.is_some();

        // Sorted interning: indices do not depend on the order the store returns rows in.
        let users = Interner::sorted(
            user_ids
                .iter()
                .map(String::as_str)
                .chain(kept.iter().filter(usable).filter_map(|e| e.user_key())),
        );
        let items = Interner::sorted(
            catalog.iter().map(|i| i.item_id.as_str()).chain(
                kept.iter()
                    .filter(usable)
                    .filter_map(|e| e.item_id.as_deref()),
            ),
        );
        let categories = Interner::sorted(
            catalog
                .iter()
                .flat_map(|i| i.categories.iter().map(String::as_str)),
        );

        let now_micros = kept
            .iter()
            .map(|e| e.timestamp.utc_micros)
            .max()
            .unwrap_or(0);
        let weights = weighting.at(now_micros);

        let mut touches = Vec::new();
        let mut ratings = Vec::new();
        for e in kept.iter().filter(usable) {
            let user = users.get(e.user_key().unwrap_or_default()).unwrap_or(0);
            let item = items
                .get(e.item_id.as_deref().unwrap_or_default())
                .unwrap_or(0);
            if let Some(r) = e.rating() {
                ratings.push((user, item, e.timestamp.utc_micros, r as f32));
            }
            touches.push(weighting.touch(user, item, e));
        }

        // Cells: every (user, item) with a touch or a rating, sorted.
        let mut keys: Vec<(u32, u32)> = touches
            .iter()
            .map(|t| (t.user, t.item))
            .chain(ratings.iter().map(|r| (r.0, r.1)))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let cell_of = |u: u32, i: u32| {
            keys.binary_search(&(u, i))
                .expect("every touch and rating has a cell") as u32
        };
        let touch_cell: Vec<u32> = touches.iter().map(|t| cell_of(t.user, t.item)).collect();
        let rating_cell: Vec<u32> = ratings.iter().map(|r| cell_of(r.0, r.1)).collect();
        let (n_users, n_items) = (users.len(), items.len());
        let full_implicit = weights
            .matrix(&touches, n_users, n_items)
            .map_err(PipelineError::internal)?;
        let full_ratings = ratings_matrix(&ratings, n_users, n_items, rating_policy)
            .map_err(PipelineError::internal)?;
        let mut first = vec![i64::MAX; keys.len()];
        for (t, &c) in touches.iter().zip(&touch_cell) {
            first[c as usize] = first[c as usize].min(t.time_micros);
        }
        for (r, &c) in ratings.iter().zip(&rating_cell) {
            first[c as usize] = first[c as usize].min(r.2);
        }
        let cells = keys
            .iter()
            .zip(first)
            .map(|(&(user, item), first_micros)| Cell {
                user,
                item,
                first_micros,
                weight: full_implicit.get(user as usize, item).unwrap_or(0.0),
                rating: full_ratings.get(user as usize, item),
            })
            .collect();

        let mut titles = vec![String::new(); n_items];
        let mut descriptions = vec![String::new(); n_items];
        let mut tags = vec![Vec::new(); n_items];
        let mut vectors = vec![Vec::new(); n_items];
        let mut available = vec![true; n_items];
        let mut cat_triplets = Vec::new();
        for it in catalog {
            let Some(i) = items.get(&it.item_id) else {
                continue;
            };
            let i_us = i as usize;
            titles[i_us] = it.title.clone().unwrap_or_default();
            descriptions[i_us] = it.description.clone().unwrap_or_default();
            tags[i_us] = it.tags.clone();
            if let Some(AttrValue::Vector(v)) = it.attributes.get(EMBEDDING_ATTRIBUTE) {
                vectors[i_us] = v.clone();
            }
            available[i_us] = it.available;
            for c in &it.categories {
                if let Some(c) = categories.get(c) {
                    cat_triplets.push((i, c, 1.0f32));
                }
            }
        }
        cat_triplets.sort_unstable_by_key(|t| (t.0, t.1));
        cat_triplets.dedup_by_key(|t| (t.0, t.1));
        let item_categories = Csr::from_triplets(n_items, categories.len(), cat_triplets)
            .map_err(PipelineError::internal)?;

        let snapshot = Snapshot {
            app: data.app.clone(),
            events_read: events.len() + data.withheld_events,
            withheld: data.withheld_events,
            events_kept: kept.len(),
            catalog_items: catalog.len(),
            user_profiles: user_ids.len(),
            first_event_micros: kept.iter().map(|e| e.timestamp.utc_micros).min(),
            last_event_micros: kept.iter().map(|e| e.timestamp.utc_micros).max(),
        };
        let user_profiles = crate::user_profiles::profile_rows(&data.users, &users)?;
        Ok(Self {
            user_profiles,
            users,
            items,
            categories,
            touches,
            ratings,
            cells,
            item_categories,
            item_content: ItemContent {
                titles,
                descriptions,
                tags,
                vectors,
            },
            available,
            clean_report: data.clean_report().cloned(),
            snapshot,
            now_micros,
            reweight: None,
            touch_cell,
            rating_cell,
            weights,
            history: weighting.history(),
            rating_policy,
        })
    }

    /// Users (matrix rows).
    pub fn n_users(&self) -> usize {
        self.users.len()
    }

    /// Items (matrix columns).
    pub fn n_items(&self) -> usize {
        self.items.len()
    }

    /// Weigh the history users are folded in from this way ([`Self::history_set`]),
    /// overriding `[train] user_recency_half_life` and `history_rating_exponent` for this data
    /// set (evaluation compares half-lives and exponents this way).
    pub fn set_history(&mut self, h: HistoryWeights) {
        self.history = h;
    }

    /// How the history is weighed beyond the training weights.
    pub fn history(&self) -> HistoryWeights {
        self.history
    }

    /// Each user's items of the kept cells in the order of their first touch that has a weight.
    fn sequences(&self, keep: Option<&[bool]>) -> ItemSequences {
        let mut first = vec![i64::MAX; self.cells.len()];
        for (t, &c) in self.touches.iter().zip(&self.touch_cell) {
            if keep.is_none_or(|k| k[c as usize]) && self.weights.weight(t) > 0.0 {
                first[c as usize] = first[c as usize].min(t.time_micros);
            }
        }
        let cells = (self.cells.iter().zip(first))
            .filter(|(_, time)| *time != i64::MAX)
            .map(|(cell, time)| (cell.user, time, cell.item))
            .collect();
        ItemSequences::from_timed(self.n_users(), cells)
    }

    /// What users are folded in from, over the cells where `keep[cell]`: the training set
    /// with each user's implicit weights decayed by position in their own history when
    /// `history.recency` is set, and each rated cell times its rating factor when
    /// `history.rating` is (the same set otherwise). Models train on
    /// [`Self::training_set`]; serving and evaluation score users from this.
    pub fn history_set(&self, keep: Option<&[bool]>) -> Result<TrainingSet> {
        let mut t = self.training_set(keep)?;
        if let Some(r) = self.history.recency {
            let touches: Vec<Touch> = self.kept_touches(keep).copied().collect();
            let (m, latest) = self
                .weights
                .matrix_with_latest(&touches, self.n_users(), self.n_items())
                .map_err(PipelineError::internal)?;
            let decayed = r.apply(&m, &latest).map_err(PipelineError::internal)?;
            t.interactions = match &self.reweight {
                Some(w) => w.apply(&decayed),
                None => decayed,
            };
        }
        if let (Some(h), Some(ratings)) = (self.history.rating, &t.ratings) {
            t.interactions = h
                .apply(&t.interactions, ratings)
                .map_err(PipelineError::internal)?;
        }
        Ok(t)
    }

    /// The implicit matrix of the cells where `keep[cell]` (every cell for `None`).
    pub fn implicit_matrix(&self, keep: Option<&[bool]>) -> Result<Csr> {
        let touches: Vec<Touch> = self.kept_touches(keep).copied().collect();
        self.weights
            .matrix(&touches, self.n_users(), self.n_items())
            .map_err(PipelineError::internal)
    }

    /// The ratings matrix of the cells where `keep[cell]`.
    pub fn ratings_matrix(&self, keep: Option<&[bool]>) -> Result<Csr> {
        let ratings: Vec<(u32, u32, i64, f32)> = self
            .ratings
            .iter()
            .zip(&self.rating_cell)
            .filter(|(_, &c)| keep.is_none_or(|k| k[c as usize]))
            .map(|(r, _)| *r)
            .collect();
        ratings_matrix(&ratings, self.n_users(), self.n_items(), self.rating_policy)
            .map_err(PipelineError::internal)
    }

    fn kept_touches<'a>(&'a self, keep: Option<&'a [bool]>) -> impl Iterator<Item = &'a Touch> {
        self.touches
            .iter()
            .zip(&self.touch_cell)
            .filter(move |(_, &c)| keep.is_none_or(|k| k[c as usize]))
            .map(|(t, _)| t)
    }

    /// Everything a model trains from, over the cells where `keep[cell]` (all for `None`).
    pub fn training_set(&self, keep: Option<&[bool]>) -> Result<TrainingSet> {
        if let Some(k) = keep {
            if k.len() != self.cells.len() {
                return Err(PipelineError::internal("one keep flag per cell"));
            }
        }
        let implicit = self.implicit_matrix(keep)?;
        // Popularity buckets of these cells (a split's training part), so evaluation and
        // training re-weight by the popularity the model learns from.
        let implicit = match &self.reweight {
            Some(r) => r.apply(&implicit),
            None => implicit,
        };
        let mut t = TrainingSet::new(implicit);
        let ratings = self.ratings_matrix(keep)?;
        t.ratings = (ratings.nnz() > 0).then_some(ratings);
        t.item_categories =
            (self.item_categories.n_cols() > 0).then(|| self.item_categories.clone());
        t.item_events = self
            .kept_touches(keep)
            .map(|x| (x.item, x.time_micros, self.weights.weight(x) as f32))
            .filter(|e| e.2 > 0.0)
            .collect();
        t.now_micros = self.now_micros;
        t.item_content = Some(self.item_content.clone());
        t.sequences = Some(self.sequences(keep));
        t.user_features = self.user_profiles.clone();
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attune_core::catalog::Item;
    use attune_core::event::weight::EventWeightParams;
    use attune_core::event::{Context, EventType, Properties};
    use attune_core::time::Timestamp;
    use std::collections::BTreeMap;

    fn build(
        events: Vec<Event>,
        catalog: Vec<Item>,
        users: &[&str],
        w: &EventWeighting,
    ) -> Dataset {
        let users = users.iter().map(|u| u.to_string()).collect();
        let data = AppData::from_parts("shop", events, catalog, users);
        Dataset::build(&data, w, RatingPolicy::Latest).unwrap()
    }

    fn event(
        n: usize,
        user: &str,
        item: &str,
        t: EventType,
        secs: i64,
        value: Option<f64>,
    ) -> Event {
        Event {
            event_id: format!("e{n}"),
            event_type: t,
            user_id: Some(user.into()),
            anonymous_id: None,
            item_id: Some(item.into()),
            timestamp: Timestamp::from_utc_micros(secs * 1_000_000),
            value,
            properties: Properties::default(),
            context: Context::default(),
        }
    }

    fn item(id: &str, cats: &[&str], available: bool) -> Item {
        Item {
            item_id: id.into(),
            title: Some(format!("title {id}")),
            description: None,
            categories: cats.iter().map(|c| c.to_string()).collect(),
            tags: vec![],
            attributes: BTreeMap::new(),
            published_at: None,
            available,
        }
    }

    #[test]
    fn train_fairness_reweights_the_training_matrix_keeping_its_total() {
        use EventType::View;
        // Item a viewed by three users, b by one: K = 2 puts a in the head (mass before it 0),
        // b in the tail (3 of 4 → bucket 1). β = 1: raw multipliers 1/3 (head mean popularity
        // 3) and 1 (tail 1); weights head 3, tail 1, total 4, scaled 3·1/3 + 1 = 2 → c = 2:
        // head 2/3, tail 2.
        let events = vec![
            event(0, "u1", "a", View, 100, None),
            event(1, "u2", "a", View, 100, None),
            event(2, "u3", "a", View, 100, None),
            event(3, "u1", "b", View, 100, None),
        ];
        let mut d = build(events, vec![], &[], &EventWeighting::default());
        let plain = d.training_set(None).unwrap().interactions;
        d.reweight = Some(Reweight::new(2, 1.0).unwrap());
        let t = d.training_set(None).unwrap().interactions;
        assert_eq!(t.nnz(), plain.nnz());
        let total: f32 = t.data().iter().sum();
        assert!((total - plain.data().iter().sum::<f32>()).abs() < 1e-5);
        assert!((t.get(0, 0).unwrap() - 2.0 / 3.0).abs() < 1e-6);
        assert!((t.get(0, 1).unwrap() - 2.0).abs() < 1e-6);
    }

    #[test]
    fn builds_sorted_ids_weighted_cells_ratings_and_categories() {
        use EventType::*;
        let events = vec![
            event(0, "u2", "b", View, 100, None),
            event(1, "u2", "b", Purchase, 200, None),
            event(2, "u1", "a", Rating, 50, Some(4.0)),
            event(3, "u1", "c", Impression, 300, None),
            event(4, "u1", "a", Rating, 400, Some(2.0)),
        ];
        let catalog = vec![item("a", &["x"], true), item("b", &["y", "x"], false)];
        let d = build(events, catalog, &["u0"], &EventWeighting::default());
        assert_eq!(d.users.names().collect::<Vec<_>>(), ["u0", "u1", "u2"]);
        assert_eq!(d.items.names().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(d.now_micros, 400_000_000);
        // Cells: (u1,a) two ratings, (u1,c) an impression, (u2,b) view + purchase.
        assert_eq!(d.cells.len(), 3);
        assert_eq!(
            d.cells[0],
            Cell {
                user: 1,
                item: 0,
                first_micros: 50_000_000,
                weight: 2.0,
                rating: Some(2.0)
            }
        );
        assert_eq!(d.cells[1].weight, 0.0); // impressions weigh 0
        assert_eq!(d.cells[2].weight, 6.0); // view 1 + purchase 5
        let t = d.training_set(None).unwrap();
        assert_eq!(t.interactions.nnz(), 2);
        assert_eq!(t.ratings.as_ref().unwrap().get(1, 0), Some(2.0)); // latest wins
        let cats = t.item_categories.as_ref().unwrap();
        assert_eq!(cats.row(1).0, &[0, 1]);
        assert_eq!(d.available, [true, false, true]);
        assert_eq!(d.item_content.titles[0], "title a");
        // A subset keeps whole cells.
        let keep = [false, true, true];
        let sub = d.training_set(Some(&keep)).unwrap();
        assert_eq!(sub.interactions.nnz(), 1);
        assert!(sub.ratings.is_none());
        assert_eq!(sub.item_events.len(), 2);
    }

    #[test]
    fn low_ratings_add_no_implicit_weight_when_asked() {
        let w = EventWeightParams {
            min_positive_rating: Some(3.0),
            ..EventWeightParams::default()
        }
        .check()
        .unwrap();
        let events = vec![
            event(0, "u", "a", EventType::Rating, 1, Some(2.0)),
            event(1, "u", "b", EventType::Rating, 2, Some(3.0)),
        ];
        let d = build(events, vec![], &[], &w);
        let m = d.implicit_matrix(None).unwrap();
        assert_eq!(m.nnz(), 1);
        assert_eq!(m.get(0, 1), Some(1.0));
        assert_eq!(d.ratings_matrix(None).unwrap().nnz(), 2);
    }

    #[test]
    fn anonymous_visitors_are_users_and_training_weighs_as_serving_does() {
        let mut anon = event(0, "x", "a", EventType::Purchase, 5, None);
        anon.user_id = None;
        anon.anonymous_id = Some("dev-9".into());
        let mut dwell = event(1, "u", "b", EventType::Dwell, 6, None);
        dwell.properties.dwell_ms = Some(15_000);
        let w = EventWeighting::default();
        let d = build(vec![anon.clone(), dwell.clone()], vec![], &[], &w);
        assert_eq!(d.users.names().collect::<Vec<_>>(), ["dev-9", "u"]);
        let m = d.implicit_matrix(None).unwrap();
        // The matrix holds exactly the live weight of each event.
        assert_eq!(m.get(0, 0), Some(w.live_weight(&anon)));
        assert_eq!(m.get(1, 1), Some(w.live_weight(&dwell)));
    }

    #[test]
    fn the_history_weighs_ratings_as_live_ratings_do_and_training_does_not() {
        use EventType::{Rating, View};
        let w = EventWeightParams {
            history_rating: Some((1.0, 3.0)),
            ..EventWeightParams::default()
        }
        .check()
        .unwrap();
        let loved = event(0, "u", "a", Rating, 1, Some(4.5));
        let disliked = event(1, "u", "b", Rating, 2, Some(1.5));
        let events = vec![
            loved.clone(),
            disliked.clone(),
            event(2, "u", "c", View, 3, None),
        ];
        let mut d = build(events, vec![], &[], &w);
        assert!(d.history().differs());
        // Models train on the event weights: every rating counts 1.
        let train = d.implicit_matrix(None).unwrap();
        assert_eq!(train.row(0).1, &[1.0, 1.0, 1.0]);
        // Users are folded in from their ratings over the pivot; the view is as it was. A
        // live rating weighs what the same rating weighs in the stored history.
        let h = d.history_set(None).unwrap().interactions;
        assert_eq!(h.row(0).1, &[1.5, 0.5, 1.0]);
        assert_eq!(w.live_history_weight(&loved), 1.5);
        assert_eq!(w.live_history_weight(&disliked), 0.5);
        // Evaluation can switch it off on the same data.
        d.set_history(HistoryWeights::default());
        assert!(!d.history().differs());
        assert_eq!(d.history_set(None).unwrap().interactions, train);
        // Only the kept cells' ratings weigh a subset's history.
        d.set_history(w.history());
        let sub = d
            .history_set(Some(&[false, true, true]))
            .unwrap()
            .interactions;
        assert_eq!(sub.row(0), (&[1u32, 2][..], &[0.5f32, 1.0][..]));
    }
}
