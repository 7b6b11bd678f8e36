//! Items and user profiles.

use std::collections::BTreeMap;

use attune_core::catalog::{AttrValue, Item, User};
use attune_core::time::MICROS_PER_DAY;
use rand_chacha::ChaCha8Rng;

use crate::dist::{self, Discrete};
use crate::vocab::{CategoryVocab, ADJECTIVES, BRANDS, GENERIC};
use crate::SyntheticConfig;

/// The catalog plus what the event generator needs to pick items.
pub struct Shop {
    /// The catalog, by item index.
    pub items: Vec<Item>,
    /// Category of each item.
    pub category: Vec<usize>,
    /// Price of each item.
    pub price: Vec<f64>,
    /// Popularity over all items.
    pub popularity: Discrete,
    /// Items of each category, and popularity among them.
    pub by_category: Vec<(Vec<usize>, Discrete)>,
}

fn words<'a>(
    rng: &mut ChaCha8Rng,
    topical: &'a [String],
    n: usize,
    topical_share: f64,
) -> Vec<&'a str> {
    (0..n)
        .map(|_| {
            if dist::unit(rng) < topical_share {
                topical[dist::index(rng, topical.len())].as_str()
            } else {
                GENERIC[dist::index(rng, GENERIC.len())]
            }
        })
        .collect()
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The catalog, with a popularity order unrelated to item ids.
pub fn items(config: &SyntheticConfig, cats: &[CategoryVocab]) -> Shop {
    let mut rng = dist::stream(config.seed, 1);
    let n = config.n_items;
    let mut items = Vec::with_capacity(n);
    let mut category = Vec::with_capacity(n);
    let mut price = Vec::with_capacity(n);
    for i in 0..n {
        let c = dist::index(&mut rng, cats.len());
        let cat = &cats[c];
        let sub = &cat.subs[dist::index(&mut rng, cat.subs.len())];
        let title_words = words(&mut rng, &cat.words, 2, 0.9);
        let title = format!(
            "{} {} {}",
            ADJECTIVES[dist::index(&mut rng, ADJECTIVES.len())],
            title_words[0],
            title_words[1]
        );
        let n_desc = 12 + dist::index(&mut rng, 18);
        let description = format!(
            "{}.",
            capitalize(&words(&mut rng, &cat.words, n_desc, 0.7).join(" "))
        );
        let n_tags = 2 + dist::index(&mut rng, 3);
        let mut tags: Vec<String> = dist::distinct(&mut rng, cat.words.len(), n_tags)
            .into_iter()
            .map(|w| cat.words[w].clone())
            .collect();
        tags.sort();
        let p = (dist::log_normal(&mut rng, cat.median_price, 0.5) * 100.0).round() / 100.0;
        let p = p.max(0.99);
        let mut attributes = BTreeMap::new();
        attributes.insert("price".to_string(), AttrValue::Number(p));
        attributes.insert(
            "brand".to_string(),
            AttrValue::Text(BRANDS[dist::index(&mut rng, BRANDS.len())].to_string()),
        );
        let published_at = config.start_micros - 365 * MICROS_PER_DAY
            + (dist::unit(&mut rng) * f64::from(365 + config.span_days) * MICROS_PER_DAY as f64)
                as i64;
        items.push(Item {
            item_id: format!("item-{i}"),
            title: Some(title),
            description: Some(description),
            categories: vec![cat.name.clone(), sub.clone()],
            tags,
            attributes,
            published_at: Some(published_at),
            available: dist::unit(&mut rng) >= 0.05,
        });
        category.push(c);
        price.push(p);
    }

    // Popularity rank is a random permutation of item indices, so ids carry no signal.
    let mut rank_of: Vec<usize> = (0..n).collect();
    dist::shuffle(&mut rng, &mut rank_of);
    let weight = |i: usize| 1.0 / ((rank_of[i] + 1) as f64).powf(config.zipf_exponent);
    let popularity = Discrete::new((0..n).map(weight));
    let by_category = (0..cats.len())
        .map(|c| {
            let members: Vec<usize> = (0..n).filter(|&i| category[i] == c).collect();
            // An empty category (tiny catalogs) falls back to the whole catalog.
            let members = if members.is_empty() {
                (0..n).collect()
            } else {
                members
            };
            let d = Discrete::new(members.iter().map(|&i| weight(i)));
            (members, d)
        })
        .collect();
    Shop {
        items,
        category,
        price,
        popularity,
        by_category,
    }
}

/// A location and its UTC offset in seconds.
pub const LOCATIONS: &[(&str, i32)] = &[
    ("New York, US", -5 * 3600),
    ("Los Angeles, US", -8 * 3600),
    ("London, GB", 0),
    ("Berlin, DE", 3600),
    ("Paris, FR", 3600),
    ("São Paulo, BR", -3 * 3600),
    ("Mumbai, IN", 5 * 3600 + 1800),
    ("Tokyo, JP", 9 * 3600),
    ("Sydney, AU", 10 * 3600),
];

/// User profiles plus their latent behaviour.
pub struct People {
    /// Profiles, by user index.
    pub users: Vec<User>,
    /// Latent taste categories of each user.
    pub tastes: Vec<Vec<usize>>,
    /// UTC offset of each user's clock, in seconds.
    pub offset_secs: Vec<i32>,
    /// Device class of each user.
    pub device: Vec<&'static str>,
    /// How often each user starts a session.
    pub activity: Discrete,
}

fn pick<'a>(rng: &mut ChaCha8Rng, options: &[(&'a str, f64)]) -> &'a str {
    let mut x = dist::unit(rng) * options.iter().map(|o| o.1).sum::<f64>();
    for (name, w) in options {
        if x < *w {
            return name;
        }
        x -= w;
    }
    options[options.len() - 1].0
}

/// Profiles with demographics, onboarding answers and latent tastes.
pub fn users(config: &SyntheticConfig, cats: &[CategoryVocab]) -> People {
    let mut rng = dist::stream(config.seed, 2);
    let n = config.n_users;
    let (mut users, mut tastes, mut offset_secs, mut device, mut activity) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for u in 0..n {
        let n_tastes = (1 + dist::index(&mut rng, 3)).min(cats.len());
        let taste = dist::distinct(&mut rng, cats.len(), n_tastes);
        let (location, offset) = LOCATIONS[dist::index(&mut rng, LOCATIONS.len())];
        let dev = pick(
            &mut rng,
            &[("mobile", 0.6), ("desktop", 0.32), ("tablet", 0.08)],
        );
        let mut attributes = BTreeMap::new();
        if dist::unit(&mut rng) >= 0.05 {
            let age = 18.0 + (62.0 * dist::unit(&mut rng).powf(1.6)).floor();
            attributes.insert("age".to_string(), AttrValue::Number(age));
        }
        if dist::unit(&mut rng) >= 0.02 {
            let g = pick(
                &mut rng,
                &[("female", 0.49), ("male", 0.49), ("nonbinary", 0.02)],
            );
            attributes.insert("gender".to_string(), AttrValue::Text(g.to_string()));
        }
        attributes.insert(
            "location".to_string(),
            AttrValue::Text(location.to_string()),
        );
        attributes.insert("device".to_string(), AttrValue::Text(dev.to_string()));
        let tier = pick(
            &mut rng,
            &[("free", 0.7), ("plus", 0.22), ("premium", 0.08)],
        );
        attributes.insert("tier".to_string(), AttrValue::Text(tier.to_string()));
        let onboarding = dist::unit(&mut rng);
        let preferred_categories = if onboarding < 0.65 {
            taste.iter().map(|&c| cats[c].name.clone()).collect()
        } else if onboarding < 0.75 {
            vec![cats[dist::index(&mut rng, cats.len())].name.clone()]
        } else {
            Vec::new()
        };
        users.push(User {
            user_id: format!("user-{u}"),
            attributes,
            preferred_categories,
            consent: Default::default(),
        });
        tastes.push(taste);
        offset_secs.push(offset);
        device.push(dev);
        activity.push(dist::log_normal(&mut rng, 1.0, 1.0));
    }
    People {
        users,
        tastes,
        offset_secs,
        device,
        activity: Discrete::new(activity),
    }
}
