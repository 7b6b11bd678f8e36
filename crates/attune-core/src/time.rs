//! Timestamps: UTC microseconds plus the original UTC offset.
//!
//! Clients send RFC 3339 (`2026-11-28T09:15:00+01:00` or `...Z`). attune keeps the instant in
//! UTC microseconds for ordering and arithmetic, and the original offset in seconds so that
//! time-of-day features ("evening reader") use the user's local clock.

use chrono::{DateTime, FixedOffset, TimeZone, Utc};

/// A parsed instant with the offset it was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Microseconds since the Unix epoch, UTC.
    pub utc_micros: i64,
    /// The writer's UTC offset in seconds (east positive); 0 for `Z`.
    pub offset_secs: i32,
}

/// Microseconds in one second.
pub const MICROS_PER_SEC: i64 = 1_000_000;
/// Microseconds in one day.
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SEC;

impl Timestamp {
    /// A UTC timestamp from microseconds since the epoch.
    pub fn from_utc_micros(utc_micros: i64) -> Self {
        Self {
            utc_micros,
            offset_secs: 0,
        }
    }

    /// Parse RFC 3339 text. The offset (or `Z`) is required: a naive local time is ambiguous.
    pub fn parse_rfc3339(s: &str) -> Result<Self, String> {
        let dt = DateTime::parse_from_rfc3339(s.trim()).map_err(|e| {
            format!("must be an RFC 3339 timestamp with an offset or Z, e.g. 2026-11-28T09:15:00+01:00 ({e})")
        })?;
        Ok(Self {
            utc_micros: dt.timestamp_micros(),
            offset_secs: dt.offset().local_minus_utc(),
        })
    }

    /// Render as RFC 3339 in the original offset, microsecond precision.
    pub fn to_rfc3339(&self) -> String {
        let offset = FixedOffset::east_opt(self.offset_secs)
            .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"));
        match offset.timestamp_micros(self.utc_micros).single() {
            Some(dt) => dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            None => Utc
                .timestamp_micros(0)
                .single()
                .map(|d| d.to_rfc3339())
                .unwrap_or_default(),
        }
    }

    /// Hour of day (0..24) on the writer's local clock.
    pub fn local_hour(&self) -> u32 {
        let local = self.utc_micros + i64::from(self.offset_secs) * MICROS_PER_SEC;
        (local.rem_euclid(MICROS_PER_DAY) / (3600 * MICROS_PER_SEC)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offset_and_keeps_it() {
        let t = Timestamp::parse_rfc3339("2026-11-28T09:15:00+01:00").unwrap();
        let z = Timestamp::parse_rfc3339("2026-11-28T08:15:00Z").unwrap();
        assert_eq!(t.utc_micros, z.utc_micros);
        assert_eq!(t.offset_secs, 3600);
        assert_eq!(z.offset_secs, 0);
        assert_eq!(t.local_hour(), 9);
        assert_eq!(z.local_hour(), 8);
        assert_eq!(t.to_rfc3339(), "2026-11-28T09:15:00+01:00");
    }

    #[test]
    fn rejects_naive_and_garbage() {
        assert!(Timestamp::parse_rfc3339("2026-11-28T09:15:00").is_err());
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
        assert!(Timestamp::parse_rfc3339("2026-13-01T00:00:00Z").is_err());
    }

    #[test]
    fn negative_offsets_and_fractions() {
        let t = Timestamp::parse_rfc3339("2026-01-01T23:30:00.123456-05:00").unwrap();
        assert_eq!(t.offset_secs, -5 * 3600);
        assert_eq!(t.local_hour(), 23);
        assert_eq!(t.utc_micros % 1_000_000, 123_456);
        assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()).unwrap(), t);
    }
}
