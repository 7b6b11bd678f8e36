//! Decoding PostgreSQL rows into core types.

use attune_core::catalog::{Consent, Item, User};
use attune_core::event::Event;
use postgres::Row;

use crate::codec::{labels_from_json, map_from_json, EventRow};
use crate::registry::{self, Entry};
use crate::{Activation, ActiveModel, ArtifactRef, ModelInfo, ModelRecord, Result};

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

/// A row selected with `registry::MODEL_COLUMNS` and then the status.
pub(super) fn model(r: &Row) -> Result<ModelRecord> {
    let bytes: i64 = r.try_get(7)?;
    Ok(ModelRecord {
        version: registry::version_from_i64("model_versions", r.try_get(0)?)?,
        status: registry::status_from_str(r.try_get(10)?)?,
        registered_micros: r.try_get(9)?,
        info: ModelInfo {
            algorithm: r.try_get(1)?,
            params: r.try_get(2)?,
            data_snapshot: r.try_get(3)?,
            metrics: registry::metrics_from_json(r.try_get(4)?)?,
            artifact: ArtifactRef {
                location: r.try_get(5)?,
                checksum: registry::checksum_from_text(r.try_get(6)?)?,
                size_bytes: u64::try_from(bytes)
                    .map_err(|_| registry::corrupt(format!("negative artifact size {bytes}")))?,
            },
            created_micros: r.try_get(8)?,
        },
    })
}

/// A row selected with `registry::ACTIVATION_COLUMNS`.
pub(super) fn entry(r: &Row) -> Result<Entry> {
    const T: &str = "model_activations";
    Ok(Entry {
        activation: Activation {
            seq: registry::seq_from_i64(T, r.try_get(0)?)?,
            version: registry::version_from_i64(T, r.try_get(1)?)?,
            previous: r
                .try_get::<_, Option<i64>>(2)?
                .map(|v| registry::version_from_i64(T, v))
                .transpose()?,
            kind: registry::kind_from_str(r.try_get(3)?)?,
            at_micros: r.try_get(5)?,
        },
        back_seq: r
            .try_get::<_, Option<i64>>(4)?
            .map(|s| registry::seq_from_i64(T, s))
            .transpose()?,
    })
}

/// `active_version, activation_seq, since, rollback target` of the active-model query.
pub(super) fn active(r: &Row) -> Result<ActiveModel> {
    const T: &str = "model_registry";
    Ok(ActiveModel {
        version: registry::version_from_i64(T, r.try_get(0)?)?,
        seq: registry::seq_from_i64(T, r.try_get(1)?)?,
        since_micros: r.try_get(2)?,
        rollback_to: r
            .try_get::<_, Option<i64>>(3)?
            .map(|v| registry::version_from_i64(T, v))
            .transpose()?,
    })
}
