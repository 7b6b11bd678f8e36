//! Seeded synthetic data for attune's tests, demos and benchmarks.
//!
//! Two generators:
//!
//! - [`generate`] builds a small shop: a catalog, user profiles and a behavioural event log
//!   realistic enough to exercise every stage (cleaning, profiling, features, models, metrics).
//! - [`interactions`] builds a bare `(user, item, weight)` list fast, for scale benchmarks
//!   (100k users × 50k items × 5M interactions in about a second in release builds).
//!
//! [`stream`] simulates a steady live event stream (popularity and activity skew, a fixed
//! event mix) and shifts of it, for monitoring and drift tests.
//!
//! [`model_input`] turns a generated set into dense interactions and item content for models.
//!
//! Both are deterministic: the same configuration and seed give identical output on every
//! platform (ChaCha streams, no hash-order dependence, no clock).
//!
//! # What [`generate`] produces
//! - **Items** (`item-{i}`): each in one of `n_categories` categories (`electronics`, `books`,
//!   `kitchen`, ... then `category-{c}`), with a sub-category, a title and a description drawn
//!   mostly from the category's own vocabulary plus shared generic words (so TF-IDF separates
//!   categories), 2–4 tags, a brand, a log-normal price around the category's typical price, a
//!   publication time, and 5% unavailable.
//! - **Users** (`user-{u}`): age (5% missing), gender (2% missing), location (which fixes the
//!   UTC offset of their timestamps: New York, Los Angeles, London, Berlin, Paris, São Paulo,
//!   Mumbai, Tokyo, Sydney), device, subscription tier, and onboarding preferred categories
//!   (65% state their true tastes, 10% something unrelated, 25% skip onboarding). Each user has
//!   1–3 latent taste categories and a log-normal activity level (a few heavy users, many light).
//! - **Events**: sessions in the user's local evening-weighted hours over `span_days`. A session
//!   browses one taste category (with probability `taste_strength`) or the whole catalog; item
//!   choice is Zipf-like popularity within that scope. Each viewed item may go on through the
//!   funnel click → dwell (log-normal `dwell_ms`, longer on taste matches) → scroll →
//!   add_to_cart → purchase (price, quantity), and clicks or purchases are sometimes rated
//!   (4–5 stars on taste matches, 1–3 otherwise). Conversion is higher on taste matches, so the
//!   tastes are learnable.
//! - **Noise to clean**: `bot_users` scripted actors each firing `bot_events_per_user` clicks
//!   and views at ~8 per second; a share of clicks double-submitted 150–900 ms later with a new
//!   event id; a share of views of deleted items (`item-gone-{k}`, not in the catalog).
//! - **Identity**: `anonymous_devices` users browse anonymously (`anon-{seed}-{k}`) for the first
//!   third of the span, then log in; later events carry both ids.
//!
//! Events come out in time order with ids `syn-{seed}-{n}`, `n` being the position.
//! [`GroundTruth`] records what was planted, so tests can check that it is found.

mod catalog;
mod dist;
mod events;
mod interactions;
mod matrix;
pub mod stream;
mod vocab;

use attune_core::catalog::{Item, User};
use attune_core::event::Event;

pub use interactions::interactions;
pub use matrix::{model_input, ModelInput};

/// Parameters of [`generate`]. `Default` is a small shop suitable for unit tests.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticConfig {
    /// Human users with profiles.
    pub n_users: usize,
    /// Catalog items.
    pub n_items: usize,
    /// Total events, including bots and planted noise (the last session is cut to fit).
    pub n_events: usize,
    /// Item categories (the first 12 have hand-written vocabularies).
    pub n_categories: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Start of the time span, UTC microseconds.
    pub start_micros: i64,
    /// Length of the time span in days.
    pub span_days: u32,
    /// Scripted actors (ids continue after the human ones: `user-{n_users + k}`).
    pub bot_users: usize,
    /// Events per bot, fired in one burst.
    pub bot_events_per_user: usize,
    /// Users whose first sessions are anonymous and who later log in.
    pub anonymous_devices: usize,
    /// Zipf exponent of item popularity (1 ≈ classic long tail).
    pub zipf_exponent: f64,
    /// Probability that a session browses one of the user's taste categories.
    pub taste_strength: f64,
    /// Probability that a purchase is rated (clicks are rated at a tenth of this).
    pub rating_share: f64,
    /// Probability that a click is double-submitted.
    pub near_duplicate_share: f64,
    /// Probability that a viewed item is one deleted from the catalog.
    pub unknown_item_share: f64,
}

/// 2026-01-01T00:00:00Z in UTC microseconds.
pub const DEFAULT_START_MICROS: i64 = 1_767_225_600 * 1_000_000;

impl Default for SyntheticConfig {
    fn default() -> Self {
        Self {
            n_users: 300,
            n_items: 400,
            n_events: 30_000,
            n_categories: 8,
            seed: 42,
            start_micros: DEFAULT_START_MICROS,
            span_days: 60,
            bot_users: 2,
            bot_events_per_user: 500,
            anonymous_devices: 5,
            zipf_exponent: 1.0,
            taste_strength: 0.8,
            rating_share: 0.3,
            near_duplicate_share: 0.01,
            unknown_item_share: 0.002,
        }
    }
}

impl SyntheticConfig {
    fn assert_valid(&self) {
        assert!(
            self.n_users > 0,
            "SyntheticConfig.n_users must be at least 1"
        );
        assert!(
            self.n_items > 0,
            "SyntheticConfig.n_items must be at least 1"
        );
        assert!(
            self.n_categories > 0,
            "SyntheticConfig.n_categories must be at least 1"
        );
        assert!(
            self.span_days > 0,
            "SyntheticConfig.span_days must be at least 1"
        );
        assert!(
            self.anonymous_devices <= self.n_users,
            "SyntheticConfig.anonymous_devices must be at most n_users"
        );
        assert!(
            self.bot_users * self.bot_events_per_user <= self.n_events,
            "SyntheticConfig: bot events ({} × {}) exceed n_events ({})",
            self.bot_users,
            self.bot_events_per_user,
            self.n_events
        );
        for (name, p) in [
            ("taste_strength", self.taste_strength),
            ("rating_share", self.rating_share),
            ("near_duplicate_share", self.near_duplicate_share),
            ("unknown_item_share", self.unknown_item_share),
        ] {
            assert!(
                (0.0..=1.0).contains(&p),
                "SyntheticConfig.{name} must be in 0..=1, got {p}"
            );
        }
        assert!(
            self.zipf_exponent.is_finite() && self.zipf_exponent >= 0.0,
            "SyntheticConfig.zipf_exponent must be >= 0"
        );
    }
}

/// What was planted in the data.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroundTruth {
    /// Category names, by category index.
    pub categories: Vec<String>,
    /// Each human user's latent taste categories (names), by user index.
    pub user_tastes: Vec<Vec<String>>,
    /// Actor ids of the bots.
    pub bot_actors: Vec<String>,
    /// `(anonymous_id, user_id)` of each device that later logged in.
    pub identified_devices: Vec<(String, String)>,
    /// Double-submitted clicks planted.
    pub near_duplicates: usize,
    /// Events planted on items missing from the catalog.
    pub unknown_item_events: usize,
}

/// A generated data set.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticData {
    /// The catalog.
    pub items: Vec<Item>,
    /// Human user profiles (bots have none).
    pub users: Vec<User>,
    /// The event log, in time order.
    pub events: Vec<Event>,
    /// What was planted.
    pub truth: GroundTruth,
}

/// Generate a data set. O(n_events · log n_items) time.
///
/// # Panics
/// If the configuration is inconsistent (zero users, items or categories, probabilities outside
/// 0..=1, more bot events than `n_events`): a test-setup bug, reported with the field's name.
pub fn generate(config: &SyntheticConfig) -> SyntheticData {
    config.assert_valid();
    let cats = vocab::categories(config.n_categories);
    let shop = catalog::items(config, &cats);
    let people = catalog::users(config, &cats);
    let log = events::events(config, &shop, &people);
    let truth = GroundTruth {
        categories: cats.iter().map(|c| c.name.clone()).collect(),
        user_tastes: people
            .tastes
            .iter()
            .map(|t| t.iter().map(|&c| cats[c].name.clone()).collect())
            .collect(),
        bot_actors: log.bot_actors,
        identified_devices: log.identified_devices,
        near_duplicates: log.near_duplicates,
        unknown_item_events: log.unknown_item_events,
    };
    SyntheticData {
        items: shop.items,
        users: people.users,
        events: log.events,
        truth,
    }
}

#[cfg(test)]
mod tests;
