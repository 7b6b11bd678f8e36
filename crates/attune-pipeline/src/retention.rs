//! Retention: events older than their type's time-to-live are deleted in the background
//! (`[retention]`), so impressions, which the server writes for every served list, do not
//! grow the store forever while purchases and ratings are kept as long as wanted.
//!
//! A pass deletes in small pages, one short transaction each, oldest first, with a pause
//! between pages: on SQLite the single writer is shared with ingestion, and a page of 100
//! (the default; a page of 1,000 scattered rows held it for ~6 ms and showed in ingestion's
//! p99) holds it for well under a millisecond, so ingestion waits for at most one short page
//! rather than for the whole pass (measured in docs/benchmarks.md, "Retention's cost to
//! ingestion"). The pass runs on the scheduler's `attune-retention` thread at background
//! priority.

use std::collections::BTreeMap;
use std::time::Duration;

use attune_core::event::EventType;
use attune_store::Store;
use serde::{Deserialize, Serialize};

use crate::error::{PipelineError, Result};

/// The `[retention]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Seconds between passes on each replica (0: retention off).
    pub interval_secs: u64,
    /// Days events of each type are kept, by wire name (`impression = 30`); a type not listed
    /// is kept forever.
    pub ttl_days: BTreeMap<String, f64>,
    /// Events deleted per transaction.
    pub batch: usize,
    /// Pause between two pages, milliseconds.
    pub pause_ms: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            interval_secs: 3_600,
            ttl_days: BTreeMap::from([("impression".to_string(), 30.0)]),
            batch: 100,
            pause_ms: 5,
        }
    }
}

fn bad(key: &str, rule: impl Into<String>) -> PipelineError {
    PipelineError::Config {
        key: format!("retention.{key}"),
        rule: rule.into(),
        env: format!("RETENTION__{}", key.replace('.', "__").to_uppercase()),
    }
}

impl RetentionConfig {
    /// Check every key; event types must be built-in or among `custom_types`.
    pub fn check(&self, custom_types: &[String]) -> Result<()> {
        for (name, days) in &self.ttl_days {
            if EventType::parse(name, custom_types).is_none() {
                return Err(bad(
                    &format!("ttl_days.{name}"),
                    "is not an event type (built-in, or declared in events.custom_types)",
                ));
            }
            if !(days.is_finite() && *days > 0.0) {
                return Err(bad(
                    &format!("ttl_days.{name}"),
                    format!("must be a positive number of days, got {days}"),
                ));
            }
        }
        if !(1..=100_000).contains(&self.batch) {
            return Err(bad("batch", "must be between 1 and 100000"));
        }
        if self.pause_ms > 60_000 {
            return Err(bad("pause_ms", "must be at most 60000"));
        }
        Ok(())
    }

    /// Whether passes run at all.
    pub fn enabled(&self) -> bool {
        self.interval_secs > 0 && !self.ttl_days.is_empty()
    }

    /// `(event type, delete before this instant)` for a pass at `now_micros`.
    pub fn cutoffs(&self, now_micros: i64) -> Vec<(String, i64)> {
        self.ttl_days
            .iter()
            .map(|(t, days)| {
                (
                    t.clone(),
                    now_micros.saturating_sub((days * 86_400e6) as i64),
                )
            })
            .collect()
    }
}

/// What one pass over one app deleted, per event type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Events deleted, by type.
    pub deleted: BTreeMap<String, u64>,
    /// Transactions (pages) used.
    pub pages: u64,
    /// The pass stopped early because the server is stopping.
    pub interrupted: bool,
}

impl RetentionReport {
    /// Events deleted in all.
    pub fn total(&self) -> u64 {
        self.deleted.values().sum()
    }
}

/// One pass over `app` at `now_micros`. `stopping` is asked between pages: a server that
/// shuts down does not wait for a long pass (the next one continues where this one stopped).
pub fn apply(
    store: &dyn Store,
    app: &str,
    config: &RetentionConfig,
    now_micros: i64,
    stopping: &dyn Fn() -> bool,
) -> Result<RetentionReport> {
    let mut report = RetentionReport::default();
    let pause = Duration::from_millis(config.pause_ms);
    for (event_type, before) in config.cutoffs(now_micros) {
        let mut from = i64::MIN;
        let mut deleted = 0u64;
        loop {
            if stopping() {
                report.interrupted = true;
                break;
            }
            let page = store.delete_events(app, &event_type, from, before, config.batch)?;
            report.pages += 1;
            deleted += page.deleted as u64;
            match page.last_ts_micros {
                Some(t) if page.deleted == config.batch => from = t,
                _ => break,
            }
            if !pause.is_zero() {
                std::thread::sleep(pause);
            }
        }
        if deleted > 0 {
            report.deleted.insert(event_type, deleted);
        }
        if report.interrupted {
            break;
        }
    }
    Ok(report)
}

/// One pass over every app (the scheduler's step); failures are logged per app.
pub fn apply_all(store: &dyn Store, config: &RetentionConfig, stopping: &dyn Fn() -> bool) {
    let apps = match store.list_apps() {
        Ok(apps) => apps,
        Err(e) => {
            tracing::warn!(error = %e, "retention: cannot list apps");
            return;
        }
    };
    let now = chrono::Utc::now().timestamp_micros();
    for app in apps {
        match apply(store, &app, config, now, stopping) {
            Ok(r) if r.total() > 0 => {
                tracing::info!(app, deleted = r.total(), pages = r.pages, by_type = ?r.deleted, "retention: old events deleted")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(app, error = %e, "retention: pass failed"),
        }
        if stopping() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attune_core::event::{Event, Properties};
    use attune_core::time::Timestamp;
    use attune_store::EventFilter;

    const DAY: i64 = 86_400_000_000;
    const NOW: i64 = 1_790_000_000_000_000;

    fn event(i: usize, t: EventType, age_days: f64) -> Event {
        Event {
            event_id: format!("e{i}"),
            event_type: t,
            user_id: Some(format!("u{}", i % 7)),
            anonymous_id: None,
            item_id: Some(format!("SKU-{}", i % 13)),
            timestamp: Timestamp::from_utc_micros(NOW - (age_days * DAY as f64) as i64),
            value: None,
            properties: Properties::default(),
            context: Default::default(),
        }
    }

    fn store() -> (tempfile::TempDir, attune_store::sqlite::SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = attune_store::sqlite::SqliteStore::open(dir.path().join("a.db")).unwrap();
        s.create_app("shop").unwrap();
        (dir, s)
    }

    fn remaining(s: &dyn Store) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        s.scan_events("shop", &EventFilter::default(), &mut |e| {
            out.push((e.event_type.as_str().to_string(), e.timestamp.utc_micros));
            true
        })
        .unwrap();
        out
    }

    /// Impressions older than their 30 days go, in pages of `batch`; newer impressions and
    /// old purchases (no TTL) stay.
    #[test]
    fn a_pass_deletes_only_expired_events_of_listed_types() {
        let (_d, s) = store();
        let mut events = Vec::new();
        for i in 0..250 {
            let age = (i % 50) as f64; // 0..49 days
            let t = if i % 5 == 0 {
                EventType::Purchase
            } else {
                EventType::Impression
            };
            events.push(event(i, t, age + 0.5));
        }
        s.insert_events("shop", &events).unwrap();
        let config = RetentionConfig {
            batch: 17,
            pause_ms: 0,
            ..RetentionConfig::default()
        };
        let expired = events
            .iter()
            .filter(|e| {
                e.event_type == EventType::Impression && e.timestamp.utc_micros < NOW - 30 * DAY
            })
            .count() as u64;
        assert!(expired > 50);
        let report = apply(&s, "shop", &config, NOW, &|| false).unwrap();
        assert_eq!(
            report.deleted,
            BTreeMap::from([("impression".into(), expired)])
        );
        assert_eq!(report.pages, expired / 17 + 1);
        assert!(!report.interrupted);
        let left = remaining(&s);
        assert_eq!(left.len() as u64, 250 - expired);
        assert!(left
            .iter()
            .all(|(t, ts)| t == "purchase" || *ts >= NOW - 30 * DAY));
        assert_eq!(left.iter().filter(|(t, _)| t == "purchase").count(), 50);
        // A second pass finds nothing.
        assert_eq!(
            apply(&s, "shop", &config, NOW, &|| false).unwrap().total(),
            0
        );
    }

    /// A stopping server ends the pass between pages; the next pass finishes the work.
    #[test]
    fn a_stopping_server_interrupts_the_pass_and_the_next_one_continues() {
        let (_d, s) = store();
        let events: Vec<Event> = (0..100)
            .map(|i| event(i, EventType::Impression, 40.0 + i as f64 / 10.0))
            .collect();
        s.insert_events("shop", &events).unwrap();
        let config = RetentionConfig {
            batch: 10,
            pause_ms: 0,
            ..RetentionConfig::default()
        };
        let pages = std::cell::Cell::new(0);
        let first = apply(&s, "shop", &config, NOW, &|| {
            pages.set(pages.get() + 1);
            pages.get() > 3
        })
        .unwrap();
        assert!(first.interrupted);
        assert_eq!(first.total(), 30);
        let second = apply(&s, "shop", &config, NOW, &|| false).unwrap();
        assert_eq!(second.total(), 70);
        assert!(remaining(&s).is_empty());
    }

    /// Bad settings name their key.
    #[test]
    fn bad_settings_name_their_key() {
        let mut c = RetentionConfig::default();
        c.ttl_days.insert("impresion".into(), 3.0);
        let e = c.check(&[]).unwrap_err().to_string();
        assert!(e.contains("retention.ttl_days.impresion"), "{e}");
        assert!(e.contains("not an event type"), "{e}");
        // Declared custom types are fine.
        c.ttl_days.remove("impresion");
        c.ttl_days.insert("wishlist".into(), 3.0);
        assert!(c.check(&["wishlist".into()]).is_ok());
        c.ttl_days.insert("view".into(), 0.0);
        let e = c.check(&["wishlist".into()]).unwrap_err().to_string();
        assert!(e.contains("retention.ttl_days.view"), "{e}");
        let c = RetentionConfig {
            batch: 0,
            ..RetentionConfig::default()
        };
        assert!(c
            .check(&[])
            .unwrap_err()
            .to_string()
            .contains("retention.batch"));
    }
}
