//! Retention deletes and the store's size on SQLite.

use rusqlite::{params, OptionalExtension};

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
    let mut conn = super::lock(&store.writer);
    // A deletion need not be durable on its own: one lost to a crash is redone by the next
    // pass. So the page commits without its own fsync (`synchronous = NORMAL`); the next
    // durable commit (any ingestion) syncs the WAL up to and including it. Measured: with an
    // fsync per page, paced ingestion's p99 tripled during a pass (its fsyncs queued behind
    // the pass's); see docs/benchmarks.md, "Retention's cost to ingestion".
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let result = page(
        &mut conn,
        app_id,
        event_type,
        from_micros,
        before_micros,
        limit,
    );
    // Restored before the writer is released, whatever happened: every other commit stays
    // durable.
    let restored = conn.pragma_update(None, "synchronous", "FULL");
    drop(conn);
    let out = result?;
    restored?;
    checkpoint(store, out.deleted)?;
    Ok(out)
}

/// Copy the WAL's frames back into the database from the checkpoint connection, beside the
/// writer (a passive checkpoint neither takes nor waits for the write lock).
///
/// Why: a pass rewrites most pages of the events table and its indexes, hundreds of MB of WAL
/// over a large backlog. Left to the writer's automatic checkpoint, every 64 MiB of WAL one
/// commit, as often an ingestion's as the pass's, copies them and fsyncs the database while
/// holding the writer; measured, paced ingestion's p99 tripled during a pass. Checkpointed
/// here after every page, the WAL stays small and restarts, and the copying happens on the
/// pass's own (background-priority) thread.
fn checkpoint(store: &SqliteStore, deleted: usize) -> Result<()> {
    let mut slot = super::lock(&store.checkpointer);
    let (conn, pending) = &mut *slot;
    *pending += deleted;
    if *pending < CHECKPOINT_EVERY_ROWS {
        return Ok(());
    }
    if conn.is_none() {
        *conn = Some(super::open_connection(store.path(), false)?);
    }
    let c = conn.as_ref().expect("just set");
    c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
    *pending = 0;
    Ok(())
}

/// Deleted rows between two checkpoints: each checkpoint ends in an fsync of the database
/// that competes with ingestion's own; every 4,000 rows keeps the WAL well under the
/// writer's 64 MiB automatic threshold.
const CHECKPOINT_EVERY_ROWS: usize = 4_000;

fn page(
    conn: &mut rusqlite::Connection,
    app_id: i64,
    event_type: &str,
    from_micros: i64,
    before_micros: i64,
    limit: usize,
) -> Result<DeletedEvents> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut out = DeletedEvents::default();
    {
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
        while let Some(row) = rows.next()? {
            let ts: i64 = row.get(0)?;
            out.deleted += 1;
            out.last_ts_micros = Some(out.last_ts_micros.map_or(ts, |t| t.max(ts)));
        }
    }
    tx.commit()?;
    Ok(out)
}

pub(super) fn nth_newest_event_ts(
    store: &SqliteStore,
    app: &str,
    until_micros: i64,
    n: usize,
) -> Result<Option<i64>> {
    let app_id = store.app_id(app)?;
    if n == 0 {
        return Ok(None);
    }
    Ok(store
        .reader()?
        .prepare_cached(
            "SELECT ts_micros FROM events WHERE app_id = ?1 AND ts_micros < ?2 \
             ORDER BY ts_micros DESC LIMIT 1 OFFSET ?3",
        )?
        .query_row(params![app_id, until_micros, (n - 1) as i64], |r| r.get(0))
        .optional()?)
}

/// The database file plus its WAL, as on disk (freed pages stay in the file for reuse).
pub(super) fn size_bytes(store: &SqliteStore) -> Result<u64> {
    let path = store.path();
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let len = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    Ok(len(path) + len(std::path::Path::new(&wal)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    /// A retention page commits without its own fsync, but every other commit stays durable:
    /// the writer is back at `synchronous = FULL` (2) after a page.
    #[test]
    fn the_writer_stays_fully_synchronous_after_a_page() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("a.db")).unwrap();
        store.create_app("shop").unwrap();
        let sync = |s: &SqliteStore| -> i64 {
            super::super::lock(&s.writer)
                .query_row("PRAGMA synchronous", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(sync(&store), 2);
        delete_events(&store, "shop", "impression", i64::MIN, 0, 10).unwrap();
        assert_eq!(sync(&store), 2);
        // An unknown app fails before the writer is touched.
        assert!(delete_events(&store, "no_such_app", "impression", i64::MIN, 0, 10).is_err());
        assert_eq!(sync(&store), 2);
        // The checkpoint connection opens once enough rows were deleted.
        checkpoint(&store, CHECKPOINT_EVERY_ROWS).unwrap();
        assert!(super::super::lock(&store.checkpointer).0.is_some());
        assert_eq!(super::super::lock(&store.checkpointer).1, 0);
    }
}
