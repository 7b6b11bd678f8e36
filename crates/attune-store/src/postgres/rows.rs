//! Decoding PostgreSQL rows into core types.

use attune_core::catalog::{Consent, Item, User};
use attune_core::event::Event;
use postgres::Row;

use crate::codec::{labels_from_json, map_from_json, EventRow};
use crate::Result;

/// A row selected with `event_columns!()`.
pub(super) fn event(r: &Row) -> Result<Event> {
    EventRow {
        event_id: r.try_get(0)?,
        event_type: r.try_get(1)?,
        user_id: r.try_get(2)?,
        anonymous_id: r.try_get(3)?,
        item_id: r.try_get(4)?,
        ts_micros: r.try_get(5)?,
        tz_offset_secs: r.try_get(6)?,
        value: r.try_get(7)?,
        dwell_ms: r.try_get(8)?,
        scroll_depth: r.try_get(9)?,
        hover_ms: r.try_get(10)?,
        price: r.try_get(11)?,
        quantity: r.try_get(12)?,
        rating: r.try_get(13)?,
        extra: r.try_get(14)?,
        session_id: r.try_get(15)?,
        device: r.try_get(16)?,
        page: r.try_get(17)?,
        recommendation_id: r.try_get(18)?,
        experiment: r.try_get(19)?,
        variant: r.try_get(20)?,
    }
    .into_event()
}

/// A row selected with `ITEM_COLUMNS`.
pub(super) fn item(r: &Row) -> Result<Item> {
    Ok(Item {
        item_id: r.try_get(0)?,
        title: r.try_get(1)?,
        description: r.try_get(2)?,
        categories: labels_from_json("items", r.try_get(3)?)?,
        tags: labels_from_json("items", r.try_get(4)?)?,
        attributes: map_from_json("items", r.try_get(5)?)?,
        published_at: r.try_get(6)?,
        available: r.try_get(7)?,
    })
}

/// A row selected with `USER_COLUMNS`.
pub(super) fn user(r: &Row) -> Result<User> {
    Ok(User {
        user_id: r.try_get(0)?,
        attributes: map_from_json("users", r.try_get(1)?)?,
        preferred_categories: labels_from_json("users", r.try_get(2)?)?,
        consent: Consent {
            personalization: r.try_get(3)?,
        },
    })
}
