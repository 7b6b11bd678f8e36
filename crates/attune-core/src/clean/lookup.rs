//! How the cleaner asks "is this item in the catalog, and can it be recommended?".
//!
//! A small trait instead of a concrete map so the caller can pass whatever it already holds (a
//! map loaded from the store, the catalog slice, or nothing at all) without copying it.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use crate::catalog::Item;

/// What the catalog says about an item id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemStatus {
    /// Not in the catalog.
    Unknown,
    /// In the catalog and recommendable.
    Available,
    /// In the catalog but withdrawn or out of stock.
    Unavailable,
}

/// Looks item ids up in a catalog.
pub trait ItemCatalog {
    /// The status of `item_id`.
    fn status(&self, item_id: &str) -> ItemStatus;
}

fn from_flag(flag: Option<&bool>) -> ItemStatus {
    match flag {
        None => ItemStatus::Unknown,
        Some(true) => ItemStatus::Available,
        Some(false) => ItemStatus::Unavailable,
    }
}

/// item id → available.
impl<S: BuildHasher> ItemCatalog for HashMap<String, bool, S> {
    fn status(&self, item_id: &str) -> ItemStatus {
        from_flag(self.get(item_id))
    }
}

/// item id → available, borrowing the ids.
impl<S: BuildHasher> ItemCatalog for HashMap<&str, bool, S> {
    fn status(&self, item_id: &str) -> ItemStatus {
        from_flag(self.get(item_id))
    }
}

/// item id → available, ordered.
impl ItemCatalog for BTreeMap<String, bool> {
    fn status(&self, item_id: &str) -> ItemStatus {
        from_flag(self.get(item_id))
    }
}

/// Every item is known and available: for apps that have not uploaded a catalog yet, where
/// "unknown item" would otherwise remove every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnyItem;

impl ItemCatalog for AnyItem {
    fn status(&self, _item_id: &str) -> ItemStatus {
        ItemStatus::Available
    }
}

/// A lookup index over a catalog slice, borrowing the ids (no string copies).
#[derive(Debug, Clone, Default)]
pub struct CatalogIndex<'a> {
    available: HashMap<&'a str, bool>,
}

impl<'a> CatalogIndex<'a> {
    /// Index `items` by id. A repeated id keeps the last entry (the catalog's upsert semantics).
    pub fn new(items: &'a [Item]) -> Self {
        let available = items
            .iter()
            .map(|it| (it.item_id.as_str(), it.available))
            .collect();
        Self { available }
    }

    /// Number of distinct item ids.
    pub fn len(&self) -> usize {
        self.available.len()
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.available.is_empty()
    }
}

impl ItemCatalog for CatalogIndex<'_> {
    fn status(&self, item_id: &str) -> ItemStatus {
        from_flag(self.available.get(item_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_form_agrees() {
        let mut sold_out = Item::new("sku-2");
        sold_out.available = false;
        let items = vec![Item::new("sku-1"), sold_out];
        let index = CatalogIndex::new(&items);
        let owned: HashMap<String, bool> = items
            .iter()
            .map(|i| (i.item_id.clone(), i.available))
            .collect();
        let ordered: BTreeMap<String, bool> = owned.clone().into_iter().collect();
        let catalogs: [&dyn ItemCatalog; 3] = [&index, &owned, &ordered];
        for c in catalogs {
            assert_eq!(c.status("sku-1"), ItemStatus::Available);
            assert_eq!(c.status("sku-2"), ItemStatus::Unavailable);
            assert_eq!(c.status("sku-404"), ItemStatus::Unknown);
        }
        assert_eq!(AnyItem.status("sku-404"), ItemStatus::Available);
        assert_eq!(index.len(), 2);
    }
}
