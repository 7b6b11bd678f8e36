//! Decoding SQLite rows into core types.

use attune_core::catalog::{Consent, Item, User};
use attune_core::event::Event;
use rusqlite::Row;

use crate::codec::{labels_from_json, map_from_json, EventRow};
use crate::Result;

/// A row selected with `event_columns!()`.
pub(super) fn event(r: &Row<'_>) -> Result<Event> {
    EventRow {
        event_id: r.get(0)?,
        event_type: r.get(1)?,
        user_id: r.get(2)?,
        anonymous_id: r.get(3)?,
        item_id: r.get(4)?,
        ts_micros: r.get(5)?,
        tz_offset_secs: r.get(6)?,
        value: r.get(7)?,
        dwell_ms: r.get(8)?,
        scroll_depth: r.get(9)?,
        hover_ms: r.get(10)?,
        price: r.get(11)?,
        quantity: r.get(12)?,
        rating: r.get(13)?,
        extra: r.get(14)?,
        session_id: r.get(15)?,
        device: r.get(16)?,
        page: r.get(17)?,
        recommendation_id: r.get(18)?,
        experiment: r.get(19)?,
        variant: r.get(20)?,
    }
    .into_event()
}

/// A row selected with `ITEM_COLUMNS`.
pub(super) fn item(r: &Row<'_>) -> Result<Item> {
    Ok(Item {
        item_id: r.get(0)?,
        title: r.get(1)?,
        description: r.get(2)?,
        categories: labels_from_json("items", &r.get::<_, String>(3)?)?,
        tags: labels_from_json("items", &r.get::<_, String>(4)?)?,
        attributes: map_from_json("items", &r.get::<_, String>(5)?)?,
        published_at: r.get(6)?,
        available: r.get(7)?,
    })
}

/// A row selected with `USER_COLUMNS`.
pub(super) fn user(r: &Row<'_>) -> Result<User> {
    Ok(User {
        user_id: r.get(0)?,
        attributes: map_from_json("users", &r.get::<_, String>(1)?)?,
        preferred_categories: labels_from_json("users", &r.get::<_, String>(2)?)?,
        consent: Consent {
            personalization: r.get(3)?,
        },
    })
}
