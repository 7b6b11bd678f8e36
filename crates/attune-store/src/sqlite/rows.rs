//! Decoding SQLite rows into core types.

use attune_core::catalog::{Consent, Item, User};
use attune_core::event::Event;
use rusqlite::Row;

use crate::codec::{labels_from_json, map_from_json, EventRow};
use crate::registry::{self, Entry};
use crate::{Activation, ActiveModel, ArtifactRef, ModelInfo, ModelRecord, Result};

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

/// A row selected with `registry::MODEL_COLUMNS` and then the status.
pub(super) fn model(r: &Row<'_>) -> Result<ModelRecord> {
    let bytes: i64 = r.get(7)?;
    Ok(ModelRecord {
        version: registry::version_from_i64("model_versions", r.get(0)?)?,
        status: registry::status_from_str(&r.get::<_, String>(10)?)?,
        registered_micros: r.get(9)?,
        info: ModelInfo {
            algorithm: r.get(1)?,
            params: r.get(2)?,
            data_snapshot: r.get(3)?,
            metrics: registry::metrics_from_json(&r.get::<_, String>(4)?)?,
            artifact: ArtifactRef {
                location: r.get(5)?,
                checksum: registry::checksum_from_text(&r.get::<_, String>(6)?)?,
                size_bytes: u64::try_from(bytes)
                    .map_err(|_| registry::corrupt(format!("negative artifact size {bytes}")))?,
            },
            created_micros: r.get(8)?,
        },
    })
}

/// A row selected with `registry::ACTIVATION_COLUMNS`.
pub(super) fn entry(r: &Row<'_>) -> Result<Entry> {
    const T: &str = "model_activations";
    Ok(Entry {
        activation: Activation {
            seq: registry::seq_from_i64(T, r.get(0)?)?,
            version: registry::version_from_i64(T, r.get(1)?)?,
            previous: r
                .get::<_, Option<i64>>(2)?
                .map(|v| registry::version_from_i64(T, v))
                .transpose()?,
            kind: registry::kind_from_str(&r.get::<_, String>(3)?)?,
            at_micros: r.get(5)?,
        },
        back_seq: r
            .get::<_, Option<i64>>(4)?
            .map(|s| registry::seq_from_i64(T, s))
            .transpose()?,
    })
}

/// `active_version, activation_seq, since, rollback target` of the active-model query.
pub(super) fn active(r: &Row<'_>) -> Result<ActiveModel> {
    const T: &str = "model_registry";
    Ok(ActiveModel {
        version: registry::version_from_i64(T, r.get(0)?)?,
        seq: registry::seq_from_i64(T, r.get(1)?)?,
        since_micros: r.get(2)?,
        rollback_to: r
            .get::<_, Option<i64>>(3)?
            .map(|v| registry::version_from_i64(T, v))
            .transpose()?,
    })
}
