//! What serving knows about the items a model scores: titles (for explanations), categories
//! (filters, "popular in" reasons) and availability, read from the store's catalog when a model
//! version is loaded and aligned with the model's item indices.

use attune_core::catalog::Item;
use attune_core::sparse::{Csr, Interner};

/// Catalog facts per model item.
#[derive(Debug, Clone, Default)]
pub struct ItemCatalog {
    titles: Vec<Option<String>>,
    categories: Vec<Vec<u32>>,
    category_names: Interner,
    available: Vec<bool>,
}

impl ItemCatalog {
    /// Align `catalog` with the model's `items`. Model items missing from the catalog have no
    /// title, no categories and count as available (the catalog is optional); catalog items
    /// the model does not know are ignored (it cannot score them).
    pub fn build(items: &Interner, catalog: &[Item]) -> Self {
        let n = items.len();
        let category_names = Interner::sorted(
            catalog
                .iter()
                .filter(|it| items.get(&it.item_id).is_some())
                .flat_map(|it| it.categories.iter().map(String::as_str)),
        );
        let mut titles = vec![None; n];
        let mut categories = vec![Vec::new(); n];
        let mut available = vec![true; n];
        for it in catalog {
            let Some(i) = items.get(&it.item_id) else {
                continue;
            };
            let i = i as usize;
            titles[i] = it.title.clone();
            available[i] = it.available;
            let mut cats: Vec<u32> = it
                .categories
                .iter()
                .filter_map(|c| category_names.get(c))
                .collect();
            cats.sort_unstable();
            cats.dedup();
            categories[i] = cats;
        }
        Self {
            titles,
            categories,
            category_names,
            available,
        }
    }

    /// Items covered.
    pub fn len(&self) -> usize {
        self.available.len()
    }

    /// Whether no item is covered.
    pub fn is_empty(&self) -> bool {
        self.available.is_empty()
    }

    /// Title of item `i`, if the catalog has one.
    pub fn title(&self, i: u32) -> Option<&str> {
        self.titles.get(i as usize)?.as_deref()
    }

    /// Category indices of item `i`, ascending.
    pub fn categories(&self, i: u32) -> &[u32] {
        self.categories.get(i as usize).map_or(&[], Vec::as_slice)
    }

    /// Whether item `i` may be recommended.
    pub fn available(&self, i: u32) -> bool {
        self.available.get(i as usize).copied().unwrap_or(false)
    }

    /// Category name ↔ index.
    pub fn category_names(&self) -> &Interner {
        &self.category_names
    }

    /// Items x categories, value 1 (for category popularity).
    pub fn category_matrix(&self) -> Csr {
        let triplets = self
            .categories
            .iter()
            .enumerate()
            .flat_map(|(i, cs)| cs.iter().map(move |&c| (i as u32, c, 1.0f32)));
        Csr::from_triplets(self.len(), self.category_names.len(), triplets)
            .expect("categories are interned indices")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, title: &str, cats: &[&str], available: bool) -> Item {
        Item {
            item_id: id.into(),
            title: Some(title.into()),
            categories: cats.iter().map(|c| c.to_string()).collect(),
            available,
            ..Item::default()
        }
    }

    #[test]
    fn aligns_with_model_items() {
        let items = Interner::sorted(["a", "b", "c"]);
        let catalog = [
            item("c", "Gamma", &["books", "sale"], false),
            item("a", "Alpha", &["books"], true),
            item("zz", "Unknown to the model", &["toys"], true),
        ];
        let c = ItemCatalog::build(&items, &catalog);
        assert_eq!(c.len(), 3);
        let (a, b, cc) = (0, 1, 2);
        assert_eq!(c.title(a), Some("Alpha"));
        assert_eq!(c.title(b), None);
        assert!(c.available(b) && !c.available(cc) && !c.available(99));
        // "toys" belongs only to an item the model does not know.
        assert_eq!(c.category_names().len(), 2);
        let books = c.category_names().get("books").unwrap();
        assert_eq!(c.categories(a), &[books]);
        assert_eq!(c.categories(cc).len(), 2);
        assert_eq!(c.category_matrix().nnz(), 3);
    }
}
