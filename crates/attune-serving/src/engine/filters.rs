//! Request filters and user facts from the catalog: which model items a request allows, and a
//! user's strongest categories (explanations name them).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use attune_core::sparse::Interner;

use super::config::RecRequest;
use crate::catalog::ItemCatalog;

/// Per model item: passes the request's availability and category filters. The common request
/// (available items, any category) borrows `available`, the snapshot's precomputed mask,
/// instead of building one per request. Categories the catalog does not know match nothing.
pub(crate) fn allowed_items<'a>(
    catalog: &ItemCatalog,
    available: &'a [bool],
    req: &RecRequest,
) -> Cow<'a, [bool]> {
    let any_category = req.categories.is_empty();
    if any_category && req.available_only {
        return Cow::Borrowed(available);
    }
    let wanted: Vec<u32> = req
        .categories
        .iter()
        .filter_map(|c| catalog.category_names().get(c))
        .collect();
    (0..available.len() as u32)
        .map(|i| {
            (!req.available_only || catalog.available(i))
                && (any_category || catalog.categories(i).iter().any(|c| wanted.contains(c)))
        })
        .collect()
}

/// `allowed` minus what the user said they are not interested in: the items, and every item
/// of the categories. Borrowed unchanged when they dismissed nothing the model knows.
pub(crate) fn without_dismissed<'a>(
    catalog: &ItemCatalog,
    items: &Interner,
    allowed: Cow<'a, [bool]>,
    dismissed_items: &BTreeSet<String>,
    dismissed_categories: &BTreeSet<String>,
) -> Cow<'a, [bool]> {
    let item_ids: Vec<u32> = dismissed_items
        .iter()
        .filter_map(|i| items.get(i))
        .collect();
    let categories: Vec<u32> = dismissed_categories
        .iter()
        .filter_map(|c| catalog.category_names().get(c))
        .collect();
    if item_ids.is_empty() && categories.is_empty() {
        return allowed;
    }
    let mut mask = allowed.into_owned();
    for i in item_ids {
        if let Some(m) = mask.get_mut(i as usize) {
            *m = false;
        }
    }
    if !categories.is_empty() {
        for (i, m) in mask.iter_mut().enumerate() {
            if *m
                && catalog
                    .categories(i as u32)
                    .iter()
                    .any(|c| categories.contains(c))
            {
                *m = false;
            }
        }
    }
    Cow::Owned(mask)
}

/// The user's categories, strongest first (at most five), from the categories of their
/// history items weighted by their positive weights; ties by category index.
pub(crate) fn top_categories(catalog: &ItemCatalog, history: &BTreeMap<u32, f32>) -> Vec<u32> {
    let mut weight: HashMap<u32, f32> = HashMap::new();
    for (&i, &w) in history {
        for &c in catalog.categories(i) {
            *weight.entry(c).or_insert(0.0) += w.max(0.0);
        }
    }
    let mut v: Vec<(u32, f32)> = weight.into_iter().collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v.into_iter().take(5).map(|e| e.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use attune_core::catalog::Item;
    use attune_core::sparse::Interner;

    /// Six items: i0..i5; categories by `i % 3` (shoes, hats, bags); i4 unavailable.
    fn catalog() -> (ItemCatalog, Vec<bool>) {
        let ids = Interner::sorted((0..6).map(|i| format!("i{i}")));
        let names = ["shoes", "hats", "bags"];
        let items: Vec<Item> = (0..6)
            .map(|i| Item {
                item_id: format!("i{i}"),
                categories: vec![names[i % 3].to_string()],
                available: i != 4,
                ..Item::default()
            })
            .collect();
        let c = ItemCatalog::build(&ids, &items);
        let available = (0..6).map(|i| c.available(i)).collect();
        (c, available)
    }

    #[test]
    fn dismissed_items_and_categories_are_masked() {
        let (c, available) = catalog();
        let ids = Interner::sorted((0..6).map(|i| format!("i{i}")));
        let set = |xs: &[&str]| {
            xs.iter()
                .map(|s| s.to_string())
                .collect::<BTreeSet<String>>()
        };
        let none = without_dismissed(
            &c,
            &ids,
            Cow::Borrowed(&available),
            &set(&[]),
            &set(&["gloves"]),
        );
        assert!(
            matches!(none, Cow::Borrowed(_)),
            "nothing known dismissed: no copy"
        );
        let m = without_dismissed(
            &c,
            &ids,
            Cow::Borrowed(&available),
            &set(&["i0", "unknown"]),
            &set(&["hats"]),
        );
        // i0 dismissed, hats (i1, i4) dismissed, i4 also unavailable.
        assert_eq!(&*m, &[false, false, true, true, false, true]);
    }

    fn req(categories: &[&str], available_only: bool) -> RecRequest {
        RecRequest {
            categories: categories.iter().map(|c| c.to_string()).collect(),
            available_only,
            ..RecRequest::default()
        }
    }

    #[test]
    fn the_default_request_borrows_the_availability_mask() {
        let (c, available) = catalog();
        let allowed = allowed_items(&c, &available, &req(&[], true));
        assert!(matches!(allowed, Cow::Borrowed(_)));
        assert_eq!(&*allowed, &[true, true, true, true, false, true]);
    }

    #[test]
    fn categories_and_availability_combine() {
        let (c, available) = catalog();
        // hats: i1, i4 (unavailable).
        assert_eq!(
            &*allowed_items(&c, &available, &req(&["hats"], true)),
            &[false, true, false, false, false, false]
        );
        assert_eq!(
            &*allowed_items(&c, &available, &req(&["hats"], false)),
            &[false, true, false, false, true, false]
        );
        // Any of several; an unknown category matches nothing.
        assert_eq!(
            &*allowed_items(&c, &available, &req(&["shoes", "bags", "gloves"], true)),
            &[true, false, true, true, false, true]
        );
        assert_eq!(
            &*allowed_items(&c, &available, &req(&["gloves"], false)),
            &[false; 6]
        );
        assert_eq!(
            &*allowed_items(&c, &available, &req(&[], false)),
            &[true; 6]
        );
    }

    #[test]
    fn top_categories_weigh_the_history() {
        let (c, _) = catalog();
        let id = |name: &str| c.category_names().get(name).unwrap();
        // shoes 1 + 1, hats 3, bags 0.5; a negative weight (a low rating) adds nothing.
        let history = BTreeMap::from([(0, 1.0), (3, 1.0), (1, 3.0), (2, 0.5), (5, -2.0)]);
        assert_eq!(
            top_categories(&c, &history),
            vec![id("hats"), id("shoes"), id("bags")]
        );
        // Ties go to the lower category index.
        let tie = BTreeMap::from([(0, 1.0), (1, 1.0)]);
        let mut expected = vec![id("shoes"), id("hats")];
        expected.sort_unstable();
        assert_eq!(top_categories(&c, &tie), expected);
        assert!(top_categories(&c, &BTreeMap::new()).is_empty());
    }
}
