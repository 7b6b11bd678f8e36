//! Retention deletes and the store's size on PostgreSQL.

use super::PgStore;
use crate::{DeletedEvents, Result};

pub(super) fn delete_events(
    store: &PgStore,
    app: &str,
    event_type: &str,
    from_micros: i64,
    before_micros: i64,
    limit: usize,
) -> Result<DeletedEvents> {
    let app_id = store.app_id(app)?;
    let mut conn = store.conn()?;
    let rows = conn.client.query(
        "DELETE FROM events WHERE seq IN (\
           SELECT seq FROM events WHERE app_id = $1 AND ts_micros >= $2 AND ts_micros < $3 \
           AND event_type = $4 ORDER BY ts_micros LIMIT $5) \
         RETURNING ts_micros",
        &[
            &app_id,
            &from_micros,
            &before_micros,
            &event_type,
            &(limit as i64),
        ],
    )?;
    Ok(DeletedEvents {
        deleted: rows.len(),
        last_ts_micros: rows.iter().map(|r| r.get::<_, i64>(0)).max(),
    })
}

pub(super) fn nth_newest_event_ts(
    store: &PgStore,
    app: &str,
    until_micros: i64,
    n: usize,
) -> Result<Option<i64>> {
    let app_id = store.app_id(app)?;
    if n == 0 {
        return Ok(None);
    }
    let mut conn = store.conn()?;
    let row = conn.client.query_opt(
        "SELECT ts_micros FROM events WHERE app_id = $1 AND ts_micros < $2 \
         ORDER BY ts_micros DESC LIMIT 1 OFFSET $3",
        &[&app_id, &until_micros, &((n - 1) as i64)],
    )?;
    Ok(row.map(|r| r.get(0)))
}

/// Every table of this store's schema with its indexes and TOAST data.
pub(super) fn size_bytes(store: &PgStore) -> Result<u64> {
    let mut conn = store.conn()?;
    let row = conn.client.query_one(
        "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::BIGINT FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')",
        &[],
    )?;
    Ok(row.get::<_, i64>(0).max(0) as u64)
}
