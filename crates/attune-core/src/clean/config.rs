//! Cleaning parameters, checked once into [`ValidCleanConfig`] before any data is touched.
//!
//! Only a checked configuration can run [`clean`](super::clean), so a bad value fails loudly with
//! the field's name instead of silently producing a strange report half-way through a large scan.

use std::fmt;

/// A parameter broke a rule; names the field, the rule and the value given.
///
/// A user error: the fix is in the configuration file or the command line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid parameter `{field}`: {reason}")]
pub struct ParamError {
    /// The configuration field at fault, e.g. `bot_mad_k`.
    pub field: &'static str,
    /// The rule that was broken, with the value given.
    pub reason: String,
}

impl ParamError {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// Which per-actor signals make an actor a bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BotRule {
    /// Both an outlying event count *and* an outlying peak rate (the default). A heavy but human
    /// user (many events spread over weeks) and a fast human burst (rating twenty films in a
    /// minute) each trip only one signal; scripted traffic trips both.
    #[default]
    CountAndRate,
    /// Either signal alone. Also catches slow scrapers, at the price of flagging the most
    /// engaged real users.
    CountOrRate,
}

impl fmt::Display for BotRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BotRule::CountAndRate => "count_and_rate",
            BotRule::CountOrRate => "count_or_rate",
        })
    }
}

/// Cleaning parameters as written by the user; call [`CleanConfig::check`] to use them.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanConfig {
    /// Events by the same actor on the same item with the same type closer than this (seconds)
    /// to the last kept one are near duplicates (double submits, retry storms). 0 disables the
    /// rule. Default 2.
    pub near_duplicate_window_secs: f64,
    /// `k` in `median + k · MAD` for the per-actor event count and peak rate. Default 6.
    pub bot_mad_k: f64,
    /// Actors (and items) with fewer events than this are never flagged: a robust rule on a
    /// population of light users would otherwise call a user with 12 events an outlier.
    /// Default 50.
    pub min_events_for_outlier: u64,
    /// Width of the sliding window (seconds) in which an actor's peak rate is measured
    /// ("most events in any 60 s"). Default 60.
    pub rate_window_secs: u64,
    /// The peak-rate signal also needs at least this pace: `bot_min_events_per_sec ×
    /// rate_window_secs` events in the window. The robust rule alone is relative to the
    /// population, and on rating data (MovieLens users rate 20–30 films a minute from a list
    /// page) it would call fast humans bots; one action per second sustained over a minute is
    /// beyond human pace. 0 disables the floor. Default 1.0.
    pub bot_min_events_per_sec: f64,
    /// Which signals make a bot. Default [`BotRule::CountAndRate`].
    pub bot_rule: BotRule,
    /// Remove every event of a bot. Default true.
    pub drop_bot_users: bool,
    /// `k` in `median + k · MAD` for per-item interaction counts. Popularity is power-law, so
    /// the head of any real catalog sits far above the median: the default (25) is looser than
    /// the bot rule and outlier items are only reported unless `drop_outlier_items` is set.
    pub item_outlier_mad_k: f64,
    /// Remove the events of outlier items. Default false (report only).
    pub drop_outlier_items: bool,
    /// Remove events whose item is not in the catalog (deleted products, tracking typos).
    /// Default true.
    pub drop_unknown_items: bool,
    /// Remove events whose item is in the catalog but unavailable. Default false: the user
    /// really did interact with it, which still says something about their taste; serving
    /// filters unavailable items anyway.
    pub drop_unavailable_items: bool,
}

impl Default for CleanConfig {
    fn default() -> Self {
        Self {
            near_duplicate_window_secs: 2.0,
            bot_mad_k: 6.0,
            min_events_for_outlier: 50,
            rate_window_secs: 60,
            bot_min_events_per_sec: 1.0,
            bot_rule: BotRule::CountAndRate,
            drop_bot_users: true,
            item_outlier_mad_k: 25.0,
            drop_outlier_items: false,
            drop_unknown_items: true,
            drop_unavailable_items: false,
        }
    }
}

/// Longest near-duplicate window accepted; longer values are almost surely milliseconds.
pub const MAX_NEAR_DUPLICATE_WINDOW_SECS: f64 = 3600.0;
/// Longest rate window accepted (one day).
pub const MAX_RATE_WINDOW_SECS: u64 = 86_400;

impl CleanConfig {
    /// Check every rule; the first broken one is returned, naming its field.
    pub fn check(self) -> Result<ValidCleanConfig, ParamError> {
        let w = self.near_duplicate_window_secs;
        if !w.is_finite() || w < 0.0 {
            return Err(ParamError::new(
                "near_duplicate_window_secs",
                format!("must be a finite number of seconds >= 0 (0 disables), got {w}"),
            ));
        }
        if w > MAX_NEAR_DUPLICATE_WINDOW_SECS {
            return Err(ParamError::new(
                "near_duplicate_window_secs",
                format!(
                    "must be at most {MAX_NEAR_DUPLICATE_WINDOW_SECS} s, got {w} (the unit is \
                     seconds, not milliseconds)"
                ),
            ));
        }
        for (field, k) in [
            ("bot_mad_k", self.bot_mad_k),
            ("item_outlier_mad_k", self.item_outlier_mad_k),
        ] {
            if !k.is_finite() || k <= 0.0 {
                return Err(ParamError::new(
                    field,
                    format!("must be a finite number > 0, got {k}"),
                ));
            }
        }
        if self.min_events_for_outlier == 0 {
            return Err(ParamError::new(
                "min_events_for_outlier",
                "must be at least 1, got 0",
            ));
        }
        if self.rate_window_secs == 0 || self.rate_window_secs > MAX_RATE_WINDOW_SECS {
            return Err(ParamError::new(
                "rate_window_secs",
                format!(
                    "must be between 1 and {MAX_RATE_WINDOW_SECS} seconds, got {}",
                    self.rate_window_secs
                ),
            ));
        }
        let pace = self.bot_min_events_per_sec;
        if !pace.is_finite() || pace < 0.0 {
            return Err(ParamError::new(
                "bot_min_events_per_sec",
                format!("must be a finite number >= 0 (0 disables the floor), got {pace}"),
            ));
        }
        Ok(ValidCleanConfig(self))
    }
}

/// A [`CleanConfig`] whose every rule holds. Only this type can run [`clean`](super::clean).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidCleanConfig(CleanConfig);

impl ValidCleanConfig {
    /// The checked values.
    pub fn config(&self) -> &CleanConfig {
        &self.0
    }

    pub(crate) fn near_duplicate_window_micros(&self) -> i64 {
        (self.0.near_duplicate_window_secs * 1e6).round() as i64
    }

    pub(crate) fn rate_window_micros(&self) -> i64 {
        self.0.rate_window_secs as i64 * 1_000_000
    }

    /// Fewest events in the rate window that can count as a peak-rate signal.
    pub fn min_bot_peak_events(&self) -> f64 {
        self.0.bot_min_events_per_sec * self.0.rate_window_secs as f64
    }
}

impl Default for ValidCleanConfig {
    fn default() -> Self {
        CleanConfig::default()
            .check()
            .expect("the default clean config is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(c: CleanConfig) -> &'static str {
        c.check().unwrap_err().field
    }

    #[test]
    fn default_is_valid() {
        assert_eq!(
            ValidCleanConfig::default().config(),
            &CleanConfig::default()
        );
    }

    #[test]
    fn near_duplicate_window_cannot_be_negative_or_nan() {
        for w in [-1.0, f64::NAN, f64::INFINITY] {
            let c = CleanConfig {
                near_duplicate_window_secs: w,
                ..Default::default()
            };
            assert_eq!(field_of(c), "near_duplicate_window_secs");
        }
        let zero = CleanConfig {
            near_duplicate_window_secs: 0.0,
            ..Default::default()
        };
        assert!(zero.check().is_ok(), "0 disables the rule");
    }

    #[test]
    fn near_duplicate_window_in_milliseconds_is_caught() {
        let c = CleanConfig {
            near_duplicate_window_secs: 2000.0 * 10.0,
            ..Default::default()
        };
        let err = c.check().unwrap_err();
        assert_eq!(err.field, "near_duplicate_window_secs");
        assert!(err.reason.contains("milliseconds"), "{err}");
    }

    #[test]
    fn bot_mad_k_must_be_positive() {
        for k in [0.0, -3.0, f64::NAN] {
            assert_eq!(
                field_of(CleanConfig {
                    bot_mad_k: k,
                    ..Default::default()
                }),
                "bot_mad_k"
            );
        }
    }

    #[test]
    fn item_outlier_mad_k_must_be_positive() {
        let c = CleanConfig {
            item_outlier_mad_k: 0.0,
            ..Default::default()
        };
        assert_eq!(field_of(c), "item_outlier_mad_k");
    }

    #[test]
    fn min_events_for_outlier_cannot_be_zero() {
        let c = CleanConfig {
            min_events_for_outlier: 0,
            ..Default::default()
        };
        assert_eq!(field_of(c), "min_events_for_outlier");
    }

    #[test]
    fn rate_window_must_be_between_one_second_and_one_day() {
        for secs in [0, 86_401] {
            let c = CleanConfig {
                rate_window_secs: secs,
                ..Default::default()
            };
            assert_eq!(field_of(c), "rate_window_secs");
        }
    }

    #[test]
    fn bot_min_events_per_sec_must_be_non_negative() {
        for pace in [-0.5, f64::NAN] {
            let c = CleanConfig {
                bot_min_events_per_sec: pace,
                ..Default::default()
            };
            assert_eq!(field_of(c), "bot_min_events_per_sec");
        }
        let off = CleanConfig {
            bot_min_events_per_sec: 0.0,
            ..Default::default()
        };
        assert_eq!(off.check().unwrap().min_bot_peak_events(), 0.0);
        assert_eq!(ValidCleanConfig::default().min_bot_peak_events(), 60.0);
    }

    #[test]
    fn error_message_names_field_and_value() {
        let err = CleanConfig {
            bot_mad_k: -2.0,
            ..Default::default()
        }
        .check()
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid parameter `bot_mad_k`: must be a finite number > 0, got -2"
        );
    }

    #[test]
    fn autotraits() {
        fn is_send_sync<T: Send + Sync>() {}
        is_send_sync::<ValidCleanConfig>();
        is_send_sync::<ParamError>();
    }
}
