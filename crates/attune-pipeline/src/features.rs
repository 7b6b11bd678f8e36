//! User features of an app as training sees it: the core's [`user_features`] over the events
//! [`AppData`] keeps (consent applied, cleaned when `[train].clean` is on, so bots do not
//! become a segment), the profiles of users who allow personalization, and the catalog's
//! categories. `attune features users` exports it; segmentation and per-segment tuning read
//! the same table, so what a person inspects is what the models used.

use std::collections::HashMap;

use attune_core::features::{user_features, UserFeatureParams, UserFeatures};
use attune_core::time::Timestamp;

use crate::data::AppData;

/// The raw user feature table of `data` as of `now` (behaviour after `now` is ignored).
pub fn app_user_features(
    data: &AppData,
    now: Timestamp,
    params: &UserFeatureParams,
) -> UserFeatures {
    let categories: HashMap<&str, &[String]> = data
        .catalog
        .iter()
        .map(|i| (i.item_id.as_str(), i.categories.as_slice()))
        .collect();
    user_features(
        data.kept(),
        &data.users,
        |item| categories.get(item).copied(),
        now,
        params,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use attune_core::catalog::{AttrValue, Consent, Item, User};
    use attune_core::event::{Context, Event, EventType, Properties};
    use attune_core::time::MICROS_PER_DAY;
    use attune_store::sqlite::SqliteStore;
    use attune_store::Store;

    fn view(n: usize, user: &str, item: &str, day: i64) -> Event {
        Event {
            event_id: format!("e{n}"),
            event_type: EventType::View,
            user_id: Some(user.into()),
            anonymous_id: None,
            item_id: Some(item.into()),
            timestamp: Timestamp::from_utc_micros(day * MICROS_PER_DAY),
            value: None,
            properties: Properties::default(),
            context: Context::default(),
        }
    }

    #[test]
    fn features_come_from_what_training_sees() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("a.db")).unwrap();
        store.create_app("shop").unwrap();
        let mut book = Item::new("book");
        book.categories = vec!["books".into()];
        let mut lamp = Item::new("lamp");
        lamp.categories = vec!["home".into()];
        store.upsert_items("shop", &[book, lamp]).unwrap();
        store
            .insert_events(
                "shop",
                &[
                    view(0, "ann", "book", 100),
                    view(1, "ann", "lamp", 101),
                    view(2, "bob", "book", 100),
                ],
            )
            .unwrap();
        let mut ann = User::new("ann");
        ann.attributes
            .insert("tier".into(), AttrValue::Text("gold".into()));
        let bob = User {
            user_id: "bob".into(),
            consent: Consent {
                personalization: false,
            },
            ..User::default()
        };
        store.upsert_users("shop", &[ann, bob]).unwrap();

        let data = AppData::read(&store, "shop").unwrap();
        let now = Timestamp::from_utc_micros(110 * MICROS_PER_DAY);
        let f = app_user_features(&data, now, &UserFeatureParams::default());
        // bob turned personalization off: no row, nothing learned about him.
        assert_eq!(f.users, ["ann"]);
        assert_eq!(f.numeric_column("category_entropy").unwrap(), [Some(1.0)]);
        assert_eq!(f.numeric_column("recency_days").unwrap(), [Some(9.0)]);
        assert_eq!(f.categorical[0].1, [Some("gold".to_string())]);
    }
}
