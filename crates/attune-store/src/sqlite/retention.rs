//! Retention deletes and the store's size on SQLite.

use rusqlite::params;

use super::SqliteStore;
use crate::{DeletedEvents, Result};

pub(super) fn delete_events(
    store: &SqliteStore,
    app: &str,
    event_type: &str,
    from_micros: i64,
    before_micros: i64,
    limit: usize,
) -> Result<DeletedEvents> {
    let app_id = store.app_id(app)?;
    store.write(|tx| {
        // The inner query walks `events_app_ts` from `from_micros`: oldest first, and rows of
        // other types before the page's end are read once per page, not once per pass.
        let mut stmt = tx.prepare_cached(
            "DELETE FROM events WHERE seq IN (\
               SELECT seq FROM events WHERE app_id = ?1 AND ts_micros >= ?2 AND ts_micros < ?3 \
               AND event_type = ?4 ORDER BY ts_micros LIMIT ?5) \
             RETURNING ts_micros",
        )?;
        let mut rows = stmt.query(params![
            app_id,
            from_micros,
            before_micros,
            event_type,
            limit as i64
        ])?;
        let mut out = DeletedEvents::default();
        while let Some(row) = rows.next()? {
            let ts: i64 = row.get(0)?;
            out.deleted += 1;
            out.last_ts_micros = Some(out.last_ts_micros.map_or(ts, |t| t.max(ts)));
        }
        Ok(out)
    })
}

/// The database file plus its WAL, as on disk (freed pages stay in the file for reuse).
pub(super) fn size_bytes(store: &SqliteStore) -> Result<u64> {
    let path = store.path();
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let len = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    Ok(len(path) + len(std::path::Path::new(&wal)))
}
