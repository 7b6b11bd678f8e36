//! Items the catalog gained after the active model was trained ("fresh" items): recommendable
//! at once, by content, without retraining (issue 16, deliverable 4; docs/api.md, "New items
//! without retraining").
//!
//! When a version is loaded, the item-text vocabulary (TF-IDF over title, description and tags,
//! plus categories, plus the items' dense vectors when they carry one under
//! [`attune_core::catalog::EMBEDDING_ATTRIBUTE`], e.g. from `attune embed items`:
//! [`attune_core::features::item_text`] with its default parameters) is fitted
//! on the whole catalog, model items first so that row `i` is model item `i`. Catalog items the
//! model does not know are the fresh set. An item upserted later through the API
//! ([`crate::Serving::observe_items`]) is vectorized with that vocabulary (words the catalog
//! never had are ignored) and enters the set at once; each change moves the set's generation,
//! which every cached list of the snapshot is checked against. Scoring and placement are the
//! pure [`attune_core::model::fresh`].
//!
//! **Invariants.** Only items unknown to the model are ever fresh (the model scores the
//! others); a fresh item is never listed for a user without history, and never past the
//! request's and the user's filters (availability, categories, dismissals, seen items).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

use attune_core::catalog::Item;
use attune_core::features::{ItemDoc, ItemFeatures, ItemTextParams};
use attune_core::model::fresh::{FreshMatch, FreshValidParams, Row};
use attune_core::sparse::Interner;

/// One fresh item: what filters and rendering need, and its content row.
#[derive(Debug, Clone)]
pub(crate) struct FreshItem {
    pub(crate) title: Option<String>,
    pub(crate) categories: Vec<String>,
    pub(crate) available: bool,
    cols: Vec<u32>,
    vals: Vec<f32>,
}

/// A fresh item chosen for a list.
#[derive(Debug, Clone)]
pub(crate) struct FreshPick {
    pub(crate) item_id: String,
    pub(crate) title: Option<String>,
    /// The model item (of the history) that explains it.
    pub(crate) because: u32,
    /// Recency-weighted cosine to it.
    pub(crate) similarity: f32,
}

/// A snapshot's fresh items and the vocabulary they are vectorized with.
pub(crate) struct FreshItems {
    params: FreshValidParams,
    /// Fitted on the catalog at load; rows `0..n_model` are the model's items.
    features: ItemFeatures,
    n_model: usize,
    items: RwLock<BTreeMap<String, FreshItem>>,
    generation: AtomicU64,
}

impl FreshItems {
    /// Fit the vocabulary on `catalog` and collect the items `model_items` does not know.
    pub(crate) fn build(
        params: FreshValidParams,
        model_items: &Interner,
        catalog: &[Item],
    ) -> Self {
        let n_model = model_items.len();
        let mut docs = vec![ItemDoc::default(); n_model];
        let mut unknown: Vec<&Item> = Vec::new();
        for it in catalog {
            match model_items.get(&it.item_id) {
                Some(i) => docs[i as usize] = ItemDoc::from_item(it, &[]),
                None => unknown.push(it),
            }
        }
        docs.extend(unknown.iter().map(|it| ItemDoc::from_item(it, &[])));
        let features = ItemTextParams::new()
            .check()
            .expect("the default item-text parameters are valid")
            .fit(&docs);
        let items = unknown
            .iter()
            .enumerate()
            .map(|(k, it)| {
                let (cols, vals) = features.matrix().row(n_model + k);
                (
                    it.item_id.clone(),
                    fresh_item(it, cols.to_vec(), vals.to_vec()),
                )
            })
            .collect();
        Self {
            params,
            features,
            n_model,
            items: RwLock::new(items),
            generation: AtomicU64::new(0),
        }
    }

    /// Changes with every change of the set: lists computed at another generation are stale.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Fresh items now.
    pub(crate) fn len(&self) -> usize {
        self.items
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Apply upserted catalog items: those the model does not know enter (or replace their
    /// entry in) the set, vectorized with the fitted vocabulary; the others are the model's.
    pub(crate) fn upsert(&self, model_items: &Interner, items: &[Item]) {
        let rows: Vec<(String, FreshItem)> = items
            .iter()
            .filter(|it| model_items.get(&it.item_id).is_none())
            .map(|it| {
                let (cols, vals) = self
                    .features
                    .transform(&ItemDoc::from_item(it, &[]))
                    .into_iter()
                    .unzip();
                (it.item_id.clone(), fresh_item(it, cols, vals))
            })
            .collect();
        if rows.is_empty() {
            return;
        }
        let mut set = self.items.write().unwrap_or_else(PoisonError::into_inner);
        set.extend(rows);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Drop deleted items from the set.
    pub(crate) fn remove(&self, ids: &[String]) {
        let mut set = self.items.write().unwrap_or_else(PoisonError::into_inner);
        let before = set.len();
        for id in ids {
            set.remove(id);
        }
        if set.len() != before {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The fresh items to list for a user whose history is `history` (model items, newest
    /// first), among those `allow` lets through (item id, item), best first.
    pub(crate) fn pick(
        &self,
        history: &[u32],
        allow: impl Fn(&str, &FreshItem) -> bool,
    ) -> Vec<FreshPick> {
        if self.params.n_slots() == 0 || history.is_empty() {
            return Vec::new();
        }
        let m = self.features.matrix();
        let rows: Vec<Row<'_>> = history
            .iter()
            .filter(|&&i| (i as usize) < self.n_model)
            .map(|&i| m.row(i as usize))
            .collect();
        let kept: Vec<u32> = history
            .iter()
            .copied()
            .filter(|&i| (i as usize) < self.n_model)
            .collect();
        let set = self.items.read().unwrap_or_else(PoisonError::into_inner);
        let candidates: Vec<(&String, &FreshItem)> = set
            .iter()
            .filter(|(id, it)| !it.cols.is_empty() && allow(id, it))
            .collect();
        let matches: Vec<FreshMatch> = self.params.pick(
            &rows,
            candidates
                .iter()
                .map(|(_, it)| (it.cols.as_slice(), it.vals.as_slice())),
        );
        matches
            .into_iter()
            .map(|m| {
                let (id, it) = candidates[m.candidate];
                FreshPick {
                    item_id: id.clone(),
                    title: it.title.clone(),
                    because: kept[m.because],
                    similarity: m.score,
                }
            })
            .collect()
    }
}

fn fresh_item(it: &Item, cols: Vec<u32>, vals: Vec<f32>) -> FreshItem {
    FreshItem {
        title: it.title.clone(),
        categories: it.categories.clone(),
        available: it.available,
        cols,
        vals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attune_core::model::fresh::FreshParams;

    fn item(id: &str, title: &str, cats: &[&str]) -> Item {
        Item {
            item_id: id.into(),
            title: Some(title.into()),
            categories: cats.iter().map(|c| c.to_string()).collect(),
            available: true,
            ..Item::default()
        }
    }

    fn catalog() -> Vec<Item> {
        vec![
            item("s1", "Trail running shoes Alpha", &["shoes"]),
            item("s2", "Trail running shoes Beta", &["shoes"]),
            item("s3", "Road running shoes", &["shoes"]),
            item("k1", "Chef kitchen knife", &["kitchen"]),
            item("k2", "Bread kitchen knife", &["kitchen"]),
            item("l1", "Desk lamp", &["home"]),
            item("l2", "Floor lamp", &["home"]),
            item("x1", "Trail running shoes Gamma", &["shoes"]), // not in the model
        ]
    }

    #[test]
    fn items_unknown_to_the_model_are_fresh_and_upserts_enter_at_once() {
        let model = Interner::sorted(["s1", "s2", "s3", "k1", "k2", "l1", "l2"]);
        let f = FreshItems::build(FreshParams::new().check().unwrap(), &model, &catalog());
        assert_eq!(f.len(), 1);
        let g0 = f.generation();
        let shoes: Vec<u32> = ["s1", "s2"].iter().map(|i| model.get(i).unwrap()).collect();
        let knives: Vec<u32> = ["k1"].iter().map(|i| model.get(i).unwrap()).collect();
        let picks = f.pick(&shoes, |_, _| true);
        assert_eq!(picks.len(), 1);
        assert_eq!(picks[0].item_id, "x1");
        assert!(shoes.contains(&picks[0].because));
        assert!(f.pick(&knives, |_, _| true).is_empty());
        // An upsert of a model item changes nothing; of a new one, the set and its generation.
        f.upsert(
            &model,
            &[item("s1", "Trail running shoes Alpha 2", &["shoes"])],
        );
        assert_eq!(f.generation(), g0);
        f.upsert(&model, &[item("k9", "Paring kitchen knife", &["kitchen"])]);
        assert_eq!((f.len(), f.generation() > g0), (2, true));
        let picks = f.pick(&knives, |_, _| true);
        assert_eq!(picks.len(), 1);
        assert_eq!(
            (picks[0].item_id.as_str(), picks[0].because),
            ("k9", knives[0])
        );
        assert!(f.pick(&knives, |id, _| id != "k9").is_empty());
        let g1 = f.generation();
        f.remove(&["k9".to_string(), "nope".to_string()]);
        assert_eq!((f.len(), f.generation() > g1), (1, true));
        assert!(f.pick(&[], |_, _| true).is_empty());
    }
}
