//! Which algorithms to try first, from the shape of the data.
//!
//! [`advise`] reads a [`DataProfile`] and returns algorithm families ranked by how well they fit,
//! each with the reasons in plain words. It is a starting point for `attune train --algorithm
//! auto` (which evaluates the top candidates on a validation split and keeps the best), not a
//! verdict: the thresholds below come from the usual behaviour of these methods, and the
//! validation split decides.
//!
//! # Decision matrix
//! | rule | condition | families (priority) |
//! |---|---|---|
//! | no data | no interactions | popularity (100) |
//! | tiny | < [`TINY_INTERACTIONS`] interactions, or < [`TINY_SIDE`] active users or interacted items | popularity (90), item-kNN (85) |
//! | explicit ratings | ≥ [`EXPLICIT_SHARE`] of interactions are `rating` events | biased MF (95) |
//! | dense, moderate catalog | not tiny, ≤ [`EASE_MAX_ITEMS`] interacted items and density ≥ [`DENSE`] | EASE (80) |
//! | large or sparse | not tiny and ≥ [`LARGE_INTERACTIONS`] interactions, density < [`DENSE`] or > [`EASE_MAX_ITEMS`] items | ALS (85) |
//! | implicit default | not tiny | ALS (60), item-kNN (55) |
//! | content | ≥ [`TEXT_COVERAGE`] of catalog items have text or categories and ≥ [`COLD_ITEMS`] of items are cold | hybrid (75), content (70) |
//! | recency | ≥ [`RECENT_SHARE`] of events in the last 7 days of a span ≥ [`RECENT_SPAN_DAYS`] days | trending (70) |
//! | baseline | always | popularity (10) |
//!
//! A family named by several rules keeps its highest priority and every reason. Ties are broken
//! by the order of [`Family::ALL`].

use std::collections::BTreeMap;

use super::DataProfile;
use crate::event::EventType;

/// Fewer interactions than this is *tiny*: latent-factor models have too little to learn from.
pub const TINY_INTERACTIONS: u64 = 10_000;
/// Fewer active users or interacted items than this is *tiny* too.
pub const TINY_SIDE: u64 = 50;
/// Share of `rating` events among interactions above which the data is treated as explicit.
pub const EXPLICIT_SHARE: f64 = 0.5;
/// Largest catalog for which EASE is suggested: its dense solve needs `12·n²` bytes (30 GB at
/// 50k items), so above roughly 20k items it needs a large machine.
pub const EASE_MAX_ITEMS: u64 = 50_000;
/// Density (filled share of the user-item matrix) at or above which the data counts as dense.
pub const DENSE: f64 = 0.001;
/// Interactions at or above which the data counts as large.
pub const LARGE_INTERACTIONS: u64 = 1_000_000;
/// Share of catalog items with text or categories needed to suggest content-based methods.
pub const TEXT_COVERAGE: f64 = 0.5;
/// Share of cold items (fewer than [`super::COLD_THRESHOLD`] interactions) that makes content
/// worth it: collaborative models cannot rank those items.
pub const COLD_ITEMS: f64 = 0.3;
/// Share of events in the last 7 days that counts as strong recency.
pub const RECENT_SHARE: f64 = 0.5;
/// Minimum time span for the recency rule (on a week of data every event is recent).
pub const RECENT_SPAN_DAYS: f64 = 28.0;

/// An algorithm family the advice can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// Biased matrix factorization for explicit ratings.
    BiasedMf,
    /// Most popular items.
    Popularity,
    /// Item-kNN (cosine between item columns).
    ItemKnn,
    /// EASE (closed-form item-item).
    Ease,
    /// Implicit ALS.
    Als,
    /// A hybrid of interactions and item features.
    Hybrid,
    /// Content-based (item text and categories).
    Content,
    /// Trending (time-decayed popularity).
    Trending,
}

impl Family {
    /// Every family, in tie-break order.
    pub const ALL: [Family; 8] = [
        Family::BiasedMf,
        Family::Popularity,
        Family::ItemKnn,
        Family::Ease,
        Family::Als,
        Family::Hybrid,
        Family::Content,
        Family::Trending,
    ];

    /// The algorithm name used by training specs (`attune train --algorithm NAME`).
    pub fn algorithm(self) -> &'static str {
        match self {
            Family::BiasedMf => "mf",
            Family::Popularity => "popularity",
            Family::ItemKnn => "item-knn",
            Family::Ease => "ease",
            Family::Als => "als",
            Family::Hybrid => "hybrid",
            Family::Content => "content",
            Family::Trending => "trending",
        }
    }

    /// A human name.
    pub fn title(self) -> &'static str {
        match self {
            Family::BiasedMf => "biased matrix factorization",
            Family::Popularity => "most popular",
            Family::ItemKnn => "item-kNN",
            Family::Ease => "EASE",
            Family::Als => "implicit ALS",
            Family::Hybrid => "hybrid (interactions + item features)",
            Family::Content => "content-based",
            Family::Trending => "trending",
        }
    }
}

/// One suggested family.
#[derive(Debug, Clone, PartialEq)]
pub struct Advice {
    /// The family.
    pub family: Family,
    /// Priority, 0-100 (higher first).
    pub priority: u8,
    /// Why, one sentence per rule that named it.
    pub reasons: Vec<String>,
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// Families to try on data with this profile, best first (see the module docs for the rules).
pub fn advise(p: &DataProfile) -> Vec<Advice> {
    let mut picks: BTreeMap<Family, (u8, Vec<String>)> = BTreeMap::new();
    let mut add = |f: Family, priority: u8, reason: String| {
        let e = picks.entry(f).or_insert((0, Vec::new()));
        e.0 = e.0.max(priority);
        e.1.push(reason);
    };

    if p.interactions == 0 {
        add(
            Family::Popularity,
            100,
            "no interactions yet: nothing to personalize from; popularity fills in as events arrive"
                .into(),
        );
        return finish(picks);
    }

    let tiny = p.interactions < TINY_INTERACTIONS
        || p.active_users < TINY_SIDE
        || p.interacted_items < TINY_SIDE;
    if tiny {
        let why = format!(
            "little data ({} interactions, {} users, {} items): latent-factor models would overfit",
            p.interactions, p.active_users, p.interacted_items
        );
        add(Family::Popularity, 90, why.clone());
        add(
            Family::ItemKnn,
            85,
            format!("{why}; item-kNN works from co-occurrence alone"),
        );
    }

    let ratings = p
        .events_by_type
        .get(&EventType::Rating)
        .copied()
        .unwrap_or(0);
    let rating_share = ratings as f64 / p.interactions as f64;
    if rating_share >= EXPLICIT_SHARE {
        add(
            Family::BiasedMf,
            95,
            format!(
                "{} of interactions are explicit ratings: biased MF predicts them (RMSE)",
                pct(rating_share)
            ),
        );
    }

    if !tiny {
        let items = p.interacted_items;
        if items <= EASE_MAX_ITEMS && p.density >= DENSE {
            let bytes = 12.0 * (items as f64).powi(2);
            let memory = if bytes >= 1e9 {
                format!("{:.1} GB", bytes / 1e9)
            } else {
                format!("{:.0} MB", (bytes / 1e6).ceil())
            };
            add(
                Family::Ease,
                80,
                format!(
                    "{items} items at density {:.3}%: EASE is usually the most accurate there (training needs ~{memory})",
                    100.0 * p.density
                ),
            );
        }
        let large = p.interactions >= LARGE_INTERACTIONS;
        let sparse = p.density < DENSE;
        if large || sparse || items > EASE_MAX_ITEMS {
            let what = if large {
                format!("{} interactions", p.interactions)
            } else if sparse {
                format!("density {:.4}%", 100.0 * p.density)
            } else {
                format!("{items} items")
            };
            add(
                Family::Als,
                85,
                format!("{what}: ALS scales linearly in interactions and handles sparse data"),
            );
        }
        add(
            Family::Als,
            60,
            "a strong default for implicit feedback, with fold-in for new users".into(),
        );
        add(
            Family::ItemKnn,
            55,
            "simple and explainable (\"because you liked ...\")".into(),
        );
    }

    let features = p.items_with_text.max(p.items_with_categories);
    if features >= TEXT_COVERAGE && p.cold_items_share >= COLD_ITEMS {
        let why = format!(
            "{} of items have text or categories and {} of items are cold",
            pct(features),
            pct(p.cold_items_share)
        );
        add(
            Family::Hybrid,
            75,
            format!("{why}: features let it rank items with few interactions"),
        );
        add(
            Family::Content,
            70,
            format!("{why}: content similarity reaches items with none"),
        );
    }

    if p.share_last_7_days >= RECENT_SHARE && p.span_days >= RECENT_SPAN_DAYS {
        add(
            Family::Trending,
            70,
            format!(
                "{} of events are from the last 7 of {:.0} days: what is hot now matters",
                pct(p.share_last_7_days),
                p.span_days
            ),
        );
    }

    add(
        Family::Popularity,
        10,
        "the baseline every model must beat, and the fallback for users with no history".into(),
    );
    finish(picks)
}

fn finish(picks: BTreeMap<Family, (u8, Vec<String>)>) -> Vec<Advice> {
    let mut out: Vec<Advice> = picks
        .into_iter()
        .map(|(family, (priority, reasons))| Advice {
            family,
            priority,
            reasons,
        })
        .collect();
    // Stable sort: equal priorities keep `Family` order (the BTreeMap order).
    out.sort_by_key(|a| std::cmp::Reverse(a.priority));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mid-sized, moderately dense implicit data set that triggers only the default rules.
    fn base() -> DataProfile {
        let mut p = DataProfile::compute(&[], &[]);
        p.events = 200_000;
        p.interactions = 200_000;
        p.active_users = 5_000;
        p.users = 5_000;
        p.interacted_items = 2_000;
        p.catalog_items = 2_000;
        p.density = 0.02;
        p.cold_items_share = 0.1;
        p.span_days = 365.0;
        p.share_last_7_days = 0.05;
        p.events_by_type.insert(EventType::View, 200_000);
        p
    }

    fn families(p: &DataProfile) -> Vec<Family> {
        advise(p).iter().map(|a| a.family).collect()
    }

    #[test]
    fn no_data_gives_popularity_only() {
        let p = DataProfile::compute(&[], &[]);
        assert_eq!(families(&p), vec![Family::Popularity]);
    }

    #[test]
    fn tiny_data_puts_popularity_and_item_knn_first() {
        let mut p = base();
        p.interactions = 800;
        let f = families(&p);
        assert_eq!(&f[..2], &[Family::Popularity, Family::ItemKnn]);
        assert!(
            !f.contains(&Family::Als) && !f.contains(&Family::Ease),
            "{f:?}"
        );
        // A large log over very few items is tiny too.
        let mut p = base();
        p.interacted_items = 20;
        assert_eq!(families(&p)[0], Family::Popularity);
    }

    #[test]
    fn dense_moderate_catalog_puts_ease_first() {
        let f = families(&base());
        assert_eq!(f[0], Family::Ease, "{f:?}");
        // 2000 items: 12 · 2000² bytes.
        let ease = &advise(&base())[0];
        assert!(ease.reasons[0].contains("~48 MB"), "{ease:?}");
        assert!(f.contains(&Family::Als) && f.contains(&Family::ItemKnn));
        assert_eq!(*f.last().unwrap(), Family::Popularity);
    }

    #[test]
    fn ease_needs_at_most_50k_items() {
        let mut p = base();
        p.interacted_items = EASE_MAX_ITEMS + 1;
        let f = families(&p);
        assert!(!f.contains(&Family::Ease), "{f:?}");
        assert_eq!(f[0], Family::Als);
    }

    #[test]
    fn large_or_sparse_implicit_puts_als_first() {
        let mut p = base();
        p.density = 0.0002;
        let f = families(&p);
        assert_eq!(f[0], Family::Als, "{f:?}");
        assert!(!f.contains(&Family::Ease));
        let mut p = base();
        p.interactions = 5_000_000;
        let a = advise(&p);
        let als = a.iter().find(|a| a.family == Family::Als).unwrap();
        assert_eq!(als.priority, 85);
        assert!(als.reasons[0].contains("5000000 interactions"), "{als:?}");
    }

    #[test]
    fn explicit_ratings_put_biased_mf_first() {
        let mut p = base();
        p.events_by_type.insert(EventType::Rating, 150_000);
        assert_eq!(families(&p)[0], Family::BiasedMf);
        // A few ratings among many views do not.
        p.events_by_type.insert(EventType::Rating, 1_000);
        assert!(!families(&p).contains(&Family::BiasedMf));
    }

    #[test]
    fn text_coverage_with_cold_items_suggests_hybrid_and_content() {
        let mut p = base();
        p.items_with_text = 0.9;
        p.cold_items_share = 0.6;
        let f = families(&p);
        let (h, c) = (
            f.iter().position(|&x| x == Family::Hybrid).unwrap(),
            f.iter().position(|&x| x == Family::Content).unwrap(),
        );
        assert!(h < c);
        // Without cold items, content is not suggested.
        p.cold_items_share = 0.1;
        assert!(!families(&p).contains(&Family::Content));
        // Nor without features.
        p.cold_items_share = 0.6;
        p.items_with_text = 0.1;
        assert!(!families(&p).contains(&Family::Hybrid));
    }

    #[test]
    fn strong_recency_suggests_trending() {
        let mut p = base();
        p.share_last_7_days = 0.7;
        assert!(families(&p).contains(&Family::Trending));
        // A data set that only spans a week is all "recent".
        p.span_days = 6.0;
        assert!(!families(&p).contains(&Family::Trending));
    }

    #[test]
    fn every_family_is_listed_once_with_reasons() {
        let mut p = base();
        p.items_with_text = 1.0;
        p.cold_items_share = 0.5;
        p.share_last_7_days = 0.9;
        let a = advise(&p);
        let mut seen: Vec<Family> = a.iter().map(|a| a.family).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), a.len());
        assert!(a.iter().all(|a| !a.reasons.is_empty()));
        assert!(a.windows(2).all(|w| w[0].priority >= w[1].priority));
        // Popularity is only the baseline here (the data is not tiny).
        let pop = a.iter().find(|a| a.family == Family::Popularity).unwrap();
        assert_eq!(pop.priority, 10);
    }
}
