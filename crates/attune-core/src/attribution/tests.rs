use std::collections::BTreeMap;

use super::*;
use crate::event::{Context, Properties};
use crate::time::Timestamp;

const MIN: i64 = 60_000_000;

fn impression(rec: &str, user: &str, item: &str, pos: u32, t: i64, variant: Option<&str>) -> Event {
    let mut extra = BTreeMap::new();
    extra.insert(names::RECOMMENDATION_ID.into(), PropValue::Text(rec.into()));
    extra.insert(names::POSITION.into(), PropValue::Number(f64::from(pos)));
    extra.insert(names::MODEL_VERSION.into(), PropValue::Number(3.0));
    extra.insert(names::SOURCE.into(), PropValue::Text("personalized".into()));
    Event {
        event_id: format!("{rec}:{pos}"),
        event_type: EventType::Impression,
        user_id: Some(user.into()),
        anonymous_id: None,
        item_id: Some(item.into()),
        timestamp: Timestamp::from_utc_micros(t),
        value: None,
        properties: Properties {
            extra,
            ..Properties::default()
        },
        context: Context {
            experiment: variant.map(|_| "homepage".into()),
            variant: variant.map(str::to_string),
            ..Context::default()
        },
    }
}

fn outcome(t: EventType, user: &str, item: &str, rec: Option<&str>, at: i64) -> Event {
    Event {
        event_id: format!("{}-{user}-{item}-{at}", t.as_str()),
        event_type: t,
        user_id: Some(user.into()),
        anonymous_id: None,
        item_id: Some(item.into()),
        timestamp: Timestamp::from_utc_micros(at),
        value: None,
        properties: Properties::default(),
        context: Context {
            recommendation_id: rec.map(str::to_string),
            ..Context::default()
        },
    }
}

/// Two users, one list each (u1 in variant A, u2 in B), three items per list.
fn served() -> Vec<Event> {
    let mut v = Vec::new();
    for (rec, user, variant, items) in [
        ("r1", "u1", "A", ["i1", "i2", "i3"]),
        ("r2", "u2", "B", ["i2", "i4", "i5"]),
    ] {
        for (p, item) in items.iter().enumerate() {
            v.push(impression(
                rec,
                user,
                item,
                p as u32 + 1,
                10 * MIN,
                Some(variant),
            ));
        }
    }
    v
}

#[test]
fn lists_are_rebuilt_from_their_impressions() {
    let mut events = served();
    events.reverse(); // order does not matter
    let a = attribute(&events, &AttributionParams::default());
    assert_eq!(a.lists.len(), 2);
    let r1 = &a.lists[0];
    assert_eq!(r1.recommendation_id, "r1");
    assert_eq!((r1.user.as_str(), r1.served_micros), ("u1", 10 * MIN));
    assert_eq!(r1.items, ["i1", "i2", "i3"]);
    assert_eq!(r1.model_version, Some(3));
    assert_eq!(r1.source.as_deref(), Some("personalized"));
    assert_eq!(r1.experiment, Some(("homepage".into(), "A".into())));
}

#[test]
fn outcomes_with_the_id_count_within_the_window_with_their_position() {
    let mut events = served();
    let mut purchase = outcome(EventType::Purchase, "u1", "i3", Some("r1"), 40 * MIN);
    purchase.properties.price = Some(20.0);
    purchase.properties.quantity = Some(2);
    let mut dwell = outcome(EventType::Dwell, "u2", "i4", Some("r2"), 12 * MIN);
    dwell.properties.dwell_ms = Some(5_000);
    events.extend([
        outcome(EventType::Click, "u1", "i2", Some("r1"), 11 * MIN),
        purchase,
        dwell,
        // Another item than listed: attributed, no position.
        outcome(EventType::AddToCart, "u2", "i9", Some("r2"), 13 * MIN),
        // After the window, and an id nothing logged.
        outcome(
            EventType::Click,
            "u1",
            "i1",
            Some("r1"),
            10 * MIN + 25 * 60 * MIN,
        ),
        outcome(EventType::Click, "u1", "i1", Some("r-lost"), 11 * MIN),
        // A view is not an outcome; a click without an id is not click-through.
        outcome(EventType::View, "u1", "i1", Some("r1"), 11 * MIN),
        outcome(EventType::Click, "u2", "i5", None, 11 * MIN),
    ]);
    let a = attribute(&events, &AttributionParams::default());
    assert_eq!((a.unmatched_ids, a.outside_window), (1, 1));
    let got: Vec<(usize, Option<u32>, bool)> = a
        .outcomes
        .iter()
        .map(|o| (o.list, o.position, o.view_through))
        .collect();
    assert_eq!(
        got,
        [
            (0, Some(2), false),
            (0, Some(3), false),
            (1, Some(2), false),
            (1, None, false)
        ]
    );
    assert_eq!(a.outcomes[1].outcome, Outcome::Purchase { revenue: 40.0 });

    let by_variant = a.per_user(Group::Variant, Some("homepage"));
    let u1 = by_variant["A"]["u1"];
    assert_eq!(
        (
            u1.lists,
            u1.impressions,
            u1.clicks,
            u1.purchases,
            u1.revenue
        ),
        (1, 3, 1, 1, 40.0)
    );
    assert!(u1.converted());
    let u2 = by_variant["B"]["u2"];
    assert_eq!((u2.clicks, u2.add_to_carts, u2.dwell_ms), (0, 1, 5_000));
    assert!(!u2.converted());
    // Another experiment's name groups nothing; by model version everything is v0003.
    assert!(a.per_user(Group::Variant, Some("other")).is_empty());
    assert_eq!(a.per_user(Group::ModelVersion, None)["v0003"].len(), 2);
    assert_eq!(a.by_position()[&2], (2, 1));
    assert_eq!(a.by_position()[&1], (2, 0));
}

#[test]
fn view_through_takes_the_latest_list_that_showed_the_item_when_asked() {
    let mut events = served();
    // u2 is shown i5 again in a later list.
    events.push(impression("r3", "u2", "i5", 1, 30 * MIN, Some("B")));
    events.push(outcome(EventType::Purchase, "u2", "i5", None, 31 * MIN));
    events.push(outcome(EventType::Click, "u1", "i4", None, 31 * MIN)); // never shown to u1
    let off = attribute(&events, &AttributionParams::default());
    assert!(off.outcomes.is_empty());
    let on = attribute(
        &events,
        &AttributionParams {
            view_through: true,
            ..AttributionParams::default()
        },
    );
    assert_eq!(on.outcomes.len(), 1);
    let o = &on.outcomes[0];
    assert_eq!(on.lists[o.list].recommendation_id, "r3");
    assert_eq!((o.position, o.view_through), (Some(1), true));
}
