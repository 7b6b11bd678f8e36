//! A [`SyntheticData`] set as model input: dense `(user, item, weight)` interactions of the
//! human users and the content of every catalog item, so model tests and examples need no
//! store.

use attune_core::event::EventType;
use attune_core::features::ItemDoc;

use crate::SyntheticData;

/// Interactions and item content indexed by dense ids: user `u` is `user-{u}`, item `i` is
/// `item-{i}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInput {
    /// Human users (bots and anonymous-only devices are left out).
    pub n_users: usize,
    /// Catalog items.
    pub n_items: usize,
    /// One `(user, item, weight)` per distinct pair, sorted, weights summed over events.
    pub interactions: Vec<(u32, u32, f32)>,
    /// `docs[i]` is the content of item `i` (title, description, tags, categories, brand).
    pub docs: Vec<ItemDoc>,
}

/// Implicit weight of one event: engagement grows down the funnel. Impressions, hovers,
/// removals and custom events count 0; a rating counts only when it is 4 or more.
fn weight(t: &EventType, value: Option<f64>) -> f32 {
    match t {
        EventType::View => 1.0,
        EventType::Click | EventType::Dwell | EventType::Scroll => 2.0,
        EventType::AddToCart => 3.0,
        EventType::Purchase => 5.0,
        EventType::Rating if value.is_some_and(|v| v >= 4.0) => 3.0,
        _ => 0.0,
    }
}

fn index(id: &str, prefix: &str, n: usize) -> Option<u32> {
    let i: usize = id.strip_prefix(prefix)?.parse().ok()?;
    (i < n).then_some(i as u32)
}

/// The model input of `data`: events of known human users on catalog items, weighted by
/// [`weight`]'s funnel scale and summed per pair (pairs summing to 0 dropped).
pub fn model_input(data: &SyntheticData) -> ModelInput {
    let (n_users, n_items) = (data.users.len(), data.items.len());
    let mut sums = std::collections::BTreeMap::<(u32, u32), f32>::new();
    for e in &data.events {
        let (Some(user), Some(item)) = (&e.user_id, &e.item_id) else {
            continue;
        };
        let (Some(u), Some(i)) = (index(user, "user-", n_users), index(item, "item-", n_items))
        else {
            continue;
        };
        *sums.entry((u, i)).or_insert(0.0) += weight(&e.event_type, e.value);
    }
    ModelInput {
        n_users,
        n_items,
        interactions: sums
            .into_iter()
            .filter(|&(_, w)| w > 0.0)
            .map(|((u, i), w)| (u, i, w))
            .collect(),
        docs: data
            .items
            .iter()
            .map(|it| ItemDoc::from_item(it, &["brand"]))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{generate, SyntheticConfig};

    #[test]
    fn humans_and_catalog_items_only_with_funnel_weights() {
        let config = SyntheticConfig::default();
        let data = generate(&config);
        let m = model_input(&data);
        assert_eq!((m.n_users, m.n_items), (config.n_users, config.n_items));
        assert_eq!(m.docs.len(), config.n_items);
        assert!(m
            .interactions
            .windows(2)
            .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)));
        assert!(m
            .interactions
            .iter()
            .all(|&(u, i, w)| (u as usize) < m.n_users && (i as usize) < m.n_items && w > 0.0));
        // Bots (user-300, user-301) are outside the human range and left out.
        assert!(m.interactions.len() > 1000);
        assert_eq!(m.docs[0].title, data.items[0].title.clone().unwrap());
        assert_eq!(m.docs[0].attributes[0].0, "brand");
    }
}
