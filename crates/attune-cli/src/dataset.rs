//! One app's training data: events, catalog and user profiles from the store, cleaned, interned
//! and turned into the matrices every algorithm trains from ([`TrainingSet`]).
//!
//! Steps (each one documented where it happens):
//! 1. read every event, the catalog and the user ids from the store;
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

use std::collections::HashMap;

use anyhow::Context as _;
use attune_core::catalog::Item;
use attune_core::clean::{self, AnyItem, CleanReport, ValidCleanConfig};
use attune_core::event::{Event, EventType};
use attune_core::model::spec::{ItemContent, TrainingSet};
use attune_core::sparse::{
    ratings_matrix, Csr, DwellCurve, ImplicitWeights, Interner, RatingPolicy, Recency, Touch,
    ValidImplicitWeights,
};
use attune_core::time::MICROS_PER_DAY;
use attune_store::{EventFilter, Store};

use crate::config::{Settings, TrainSection};

/// The checked `[train]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    /// Event type names, in the order of `weights.kinds`.
    kind_names: Vec<String>,
    /// Weights; `recency.now_micros` is set per data set.
    weights: ImplicitWeights,
    /// Ratings below this add no implicit weight.
    min_positive_rating: Option<f64>,
    rating_policy: RatingPolicy,
    /// Apply the cleaning pass.
    pub clean: bool,
}

impl TrainOptions {
    /// Check the section; an error names the `train.*` key.
    pub fn from_settings(t: &TrainSection) -> anyhow::Result<Self> {
        let bad = |key: &str, rule: &str| {
            anyhow::anyhow!(
                "invalid configuration: train.{key} {rule} (set it in the config file or ATTUNE_TRAIN__{})",
                key.to_ascii_uppercase()
            )
        };
        let kind_names: Vec<String> = t.event_weights.keys().cloned().collect();
        let kinds: Vec<f32> = t.event_weights.values().copied().collect();
        if let Some((name, w)) = t
            .event_weights
            .iter()
            .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
        {
            return Err(bad(
                "event_weights",
                &format!("must be finite numbers >= 0; {name} = {w}"),
            ));
        }
        if !(t.dwell_saturate_secs.is_finite() && t.dwell_saturate_secs >= 0.0) {
            return Err(bad("dwell_saturate_secs", "must be a number >= 0"));
        }
        if !(0.0..=1.0).contains(&t.dwell_floor) {
            return Err(bad("dwell_floor", "must be between 0 and 1"));
        }
        if !(t.scroll_floor.is_finite() && t.scroll_floor <= 1.0) {
            return Err(bad("scroll_floor", "must be at most 1 (negative disables)"));
        }
        if !(t.recency_half_life_days.is_finite() && t.recency_half_life_days >= 0.0) {
            return Err(bad("recency_half_life_days", "must be a number >= 0"));
        }
        if !(t.cap.is_finite() && t.cap >= 0.0) {
            return Err(bad("cap", "must be a number >= 0 (0: no cap)"));
        }
        if !t.min_positive_rating.is_finite() {
            return Err(bad("min_positive_rating", "must be a number"));
        }
        let rating_policy = match t.rating_policy.as_str() {
            "latest" => RatingPolicy::Latest,
            "mean" => RatingPolicy::Mean,
            _ => return Err(bad("rating_policy", "must be \"latest\" or \"mean\"")),
        };
        let weights = ImplicitWeights {
            kinds,
            dwell: (t.dwell_saturate_secs > 0.0).then_some(DwellCurve {
                saturate_ms: (t.dwell_saturate_secs * 1000.0) as f32,
                floor: t.dwell_floor,
            }),
            scroll_floor: (t.scroll_floor >= 0.0).then_some(t.scroll_floor),
            recency: (t.recency_half_life_days > 0.0).then(|| Recency {
                half_life_micros: ((t.recency_half_life_days * MICROS_PER_DAY as f64) as i64)
                    .max(1),
                now_micros: 0,
            }),
            cap: (t.cap > 0.0).then_some(t.cap),
        };
        weights
            .clone()
            .check()
            .map_err(|e| bad(e.field, &format!("= {} is invalid: {}", e.value, e.rule)))?;
        Ok(Self {
            kind_names,
            weights,
            min_positive_rating: (t.min_positive_rating > 0.0).then_some(t.min_positive_rating),
            rating_policy,
            clean: t.clean,
        })
    }

    /// The same weights for live events (serving folds a click in as training would count
    /// it; recency decay does not apply to what just happened).
    pub fn weigher(&self) -> anyhow::Result<attune_serving::EventWeigher> {
        attune_serving::EventWeigher::new(
            self.kind_names.clone(),
            self.weights.clone(),
            self.min_positive_rating,
        )
        .map_err(|e| anyhow::anyhow!("invalid configuration: train.{}: {e}", e.field))
    }

    /// Index of an event type in the weights (`None`: weight 0).
    fn kind(&self, t: &EventType) -> Option<usize> {
        self.kind_names.iter().position(|n| n == t.as_str())
    }
}

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
    touch_cell: Vec<u32>,
    rating_cell: Vec<u32>,
    weights: ValidImplicitWeights,
    rating_policy: RatingPolicy,
}

/// The explicit rating of an event, if it is a rating event with a value.
fn rating_of(e: &Event) -> Option<f64> {
    if e.event_type != EventType::Rating {
        return None;
    }
    e.properties.rating.or(e.value).filter(|r| r.is_finite())
}

/// The user key of an event: the user id, else the device id (anonymous users are users too).
fn user_key(e: &Event) -> Option<&str> {
    e.user_id.as_deref().or(e.anonymous_id.as_deref())
}

impl Dataset {
    /// Read `app` from the store and build its data. `clean` overrides `[train].clean`.
    pub fn load(
        store: &dyn Store,
        app: &str,
        settings: &Settings,
        clean: Option<bool>,
    ) -> anyhow::Result<Self> {
        let opts = TrainOptions::from_settings(&settings.train)?;
        let clean_config = if clean.unwrap_or(opts.clean) {
            Some(settings.clean.to_core()?)
        } else {
            None
        };
        let mut items: Vec<Item> = Vec::new();
        store
            .scan_items(app, &mut |i| {
                items.push(i);
                true
            })
            .context("reading the catalog")?;
        let mut user_ids: Vec<String> = Vec::new();
        // Users who turned personalization off: their events build no profile, so no model
        // learns from them (they are still counted as users, and served popular items).
        let mut opted_out: std::collections::HashSet<String> = Default::default();
        store
            .scan_users(app, &mut |u| {
                if !u.consent.personalization {
                    opted_out.insert(u.user_id.clone());
                }
                user_ids.push(u.user_id);
                true
            })
            .context("reading user profiles")?;
        let mut events: Vec<Event> = Vec::new();
        let mut withheld = 0usize;
        store
            .scan_events(app, &EventFilter::default(), &mut |e| {
                if e.user_id.as_ref().is_some_and(|u| opted_out.contains(u)) {
                    withheld += 1;
                } else {
                    events.push(e);
                }
                true
            })
            .context("reading events")?;
        if withheld > 0 {
            tracing::info!(
                events = withheld,
                users = opted_out.len(),
                "events of users without personalization consent are not trained on"
            );
        }
        let mut d = Self::build(&events, &items, &user_ids, clean_config.as_ref(), &opts)?;
        d.snapshot.app = app.to_string();
        Ok(d)
    }

    /// Build from events, the catalog and user ids (pure; [`Dataset::load`] reads the store).
    pub fn build(
        events: &[Event],
        catalog: &[Item],
        user_ids: &[String],
        clean_config: Option<&ValidCleanConfig>,
        opts: &TrainOptions,
    ) -> anyhow::Result<Self> {
        let cleaned = clean_config.map(|cfg| {
            if catalog.is_empty() {
                clean::clean(events, &AnyItem, cfg)
            } else {
                let index: HashMap<&str, bool> = catalog
                    .iter()
                    .map(|i| (i.item_id.as_str(), i.available))
                    .collect();
                clean::clean(events, &index, cfg)
            }
        });
        let kept: Vec<&Event> = events
            .iter()
            .enumerate()
            .filter(|(k, _)| cleaned.as_ref().is_none_or(|c| c.is_kept(*k)))
            .map(|(_, e)| e)
            .collect();
        let usable = |e: &&&Event| user_key(e).is_some() && e.item_id.is_some();

        // Sorted interning: indices do not depend on the order the store returns rows in.
        let users = Interner::sorted(
            user_ids
                .iter()
                .map(String::as_str)
                .chain(kept.iter().filter(usable).filter_map(|e| user_key(e))),
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
        let mut weights = opts.weights.clone();
        if let Some(r) = &mut weights.recency {
            r.now_micros = now_micros;
        }
        let weights = weights
            .check()
            .map_err(|e| anyhow::anyhow!("invalid configuration: train.{}: {e}", e.field))?;

        let mut touches = Vec::new();
        let mut ratings = Vec::new();
        for e in kept.iter().filter(usable) {
            let user = users.get(user_key(e).unwrap_or_default()).unwrap_or(0);
            let item = items
                .get(e.item_id.as_deref().unwrap_or_default())
                .unwrap_or(0);
            let t = e.timestamp.utc_micros;
            let rating = rating_of(e);
            if let Some(r) = rating {
                ratings.push((user, item, t, r as f32));
            }
            let below =
                matches!((rating, opts.min_positive_rating), (Some(r), Some(min)) if r < min);
            touches.push(Touch {
                user,
                item,
                // An out-of-range kind weighs 0.
                kind: if below {
                    usize::MAX
                } else {
                    opts.kind(&e.event_type).unwrap_or(usize::MAX)
                },
                time_micros: t,
                dwell_ms: e.properties.dwell_ms.map(|v| v as f32),
                scroll_depth: e.properties.scroll_depth.map(|v| v as f32),
            });
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
            .context("building the implicit matrix")?;
        let full_ratings = ratings_matrix(&ratings, n_users, n_items, opts.rating_policy)
            .context("building the ratings matrix")?;
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
            .context("building the item-category matrix")?;

        let snapshot = Snapshot {
            app: String::new(),
            events_read: events.len(),
            events_kept: kept.len(),
            catalog_items: catalog.len(),
            user_profiles: user_ids.len(),
            first_event_micros: kept.iter().map(|e| e.timestamp.utc_micros).min(),
            last_event_micros: kept.iter().map(|e| e.timestamp.utc_micros).max(),
        };
        Ok(Self {
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
            },
            available,
            clean_report: cleaned.map(|c| c.report),
            snapshot,
            now_micros,
            touch_cell,
            rating_cell,
            weights,
            rating_policy: opts.rating_policy,
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

    /// The implicit matrix of the cells where `keep[cell]` (every cell for `None`).
    pub fn implicit_matrix(&self, keep: Option<&[bool]>) -> anyhow::Result<Csr> {
        let touches: Vec<Touch> = self.kept_touches(keep).copied().collect();
        Ok(self
            .weights
            .matrix(&touches, self.n_users(), self.n_items())?)
    }

    /// The ratings matrix of the cells where `keep[cell]`.
    pub fn ratings_matrix(&self, keep: Option<&[bool]>) -> anyhow::Result<Csr> {
        let ratings: Vec<(u32, u32, i64, f32)> = self
            .ratings
            .iter()
            .zip(&self.rating_cell)
            .filter(|(_, &c)| keep.is_none_or(|k| k[c as usize]))
            .map(|(r, _)| *r)
            .collect();
        Ok(ratings_matrix(
            &ratings,
            self.n_users(),
            self.n_items(),
            self.rating_policy,
        )?)
    }

    fn kept_touches<'a>(&'a self, keep: Option<&'a [bool]>) -> impl Iterator<Item = &'a Touch> {
        self.touches
            .iter()
            .zip(&self.touch_cell)
            .filter(move |(_, &c)| keep.is_none_or(|k| k[c as usize]))
            .map(|(t, _)| t)
    }

    /// Everything a model trains from, over the cells where `keep[cell]` (all for `None`).
    pub fn training_set(&self, keep: Option<&[bool]>) -> anyhow::Result<TrainingSet> {
        if let Some(k) = keep {
            anyhow::ensure!(k.len() == self.cells.len(), "one keep flag per cell");
        }
        let mut t = TrainingSet::new(self.implicit_matrix(keep)?);
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
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attune_core::event::{Context, Properties};
    use attune_core::time::Timestamp;
    use std::collections::BTreeMap;

    fn options() -> TrainOptions {
        let settings: Settings = figment::Figment::from(
            <figment::providers::Toml as figment::providers::Format>::string(
                crate::config::DEFAULT_TOML,
            ),
        )
        .extract()
        .unwrap();
        TrainOptions::from_settings(&settings.train).unwrap()
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
        let d = Dataset::build(&events, &catalog, &["u0".into()], None, &options()).unwrap();
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
        let mut s: Settings = figment::Figment::from(
            <figment::providers::Toml as figment::providers::Format>::string(
                crate::config::DEFAULT_TOML,
            ),
        )
        .extract()
        .unwrap();
        s.train.min_positive_rating = 3.0;
        let opts = TrainOptions::from_settings(&s.train).unwrap();
        let events = vec![
            event(0, "u", "a", EventType::Rating, 1, Some(2.0)),
            event(1, "u", "b", EventType::Rating, 2, Some(3.0)),
        ];
        let d = Dataset::build(&events, &[], &[], None, &opts).unwrap();
        let m = d.implicit_matrix(None).unwrap();
        assert_eq!(m.nnz(), 1);
        assert_eq!(m.get(0, 1), Some(1.0));
        assert_eq!(d.ratings_matrix(None).unwrap().nnz(), 2);
    }

    #[test]
    fn bad_train_settings_name_the_key() {
        let mut s: Settings = figment::Figment::from(
            <figment::providers::Toml as figment::providers::Format>::string(
                crate::config::DEFAULT_TOML,
            ),
        )
        .extract()
        .unwrap();
        s.train.rating_policy = "first".into();
        let e = TrainOptions::from_settings(&s.train)
            .unwrap_err()
            .to_string();
        assert!(e.contains("train.rating_policy"), "{e}");
        s.train.rating_policy = "latest".into();
        s.train.event_weights.insert("view".into(), -1.0);
        let e = TrainOptions::from_settings(&s.train)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("train.event_weights") && e.contains("view"),
            "{e}"
        );
    }
}
