//! User features: one row per user, from their behaviour and their profile.
//!
//! What segmentation, per-segment tuning and the hybrid model read about a person: how recent,
//! frequent and valuable they are (RFM), how they visit (sessions of a 30-minute gap), when
//! (the share of their actions by part of day and on weekends, on *their own* clock: each
//! event's own UTC offset, so a user in Tokyo and one in Lima who both shop after dinner look
//! alike), how varied their interests are (the entropy of the categories they touched), on
//! which devices, for how long they have been around, and their own attributes (age,
//! location, tier).
//!
//! [`user_features`] computes the raw table, with missing values where a value does not exist
//! (no purchases: no device mix; no profile: no age). [`prepare`] turns it into a dense matrix
//! with the existing helpers — median imputation, z-scores, one-hot encoding — and keeps the
//! fitted parameters so the same transformation can be reapplied later. Pure: events, users and
//! item categories in, numbers out.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    FeatureError, MedianImputer, NumericTransform, OneHotEncoder, UnknownPolicy, ZScoreScaler,
};
use crate::catalog::{AttrValue, User};
use crate::clean::is_user_action;
use crate::event::{Event, EventType};
use crate::time::{Timestamp, MICROS_PER_DAY, MICROS_PER_SEC};

/// How behaviour is summarized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UserFeatureParams {
    /// A gap longer than this between two actions starts a new session, seconds (30 minutes,
    /// the web analytics convention).
    pub session_gap_secs: i64,
    /// Days of history RFM's frequency and monetary value count (recency and tenure always
    /// look at all of it).
    pub period_days: u32,
}

impl Default for UserFeatureParams {
    fn default() -> Self {
        Self {
            session_gap_secs: 30 * 60,
            period_days: 365,
        }
    }
}

/// The behavioural columns, in table order.
pub const BEHAVIOUR_COLUMNS: [&str; 18] = [
    "recency_days",
    "frequency",
    "monetary",
    "tenure_days",
    "sessions",
    "session_minutes",
    "actions_per_session",
    "distinct_items",
    "category_entropy",
    "purchase_share",
    "cart_share",
    "night_share",
    "morning_share",
    "afternoon_share",
    "evening_share",
    "weekend_share",
    "mobile_share",
    "desktop_share",
];

/// Raw user features: numeric columns (behaviour, then numeric and bool attributes as
/// `attr.<name>`) and categorical columns (text attributes), one value per user, `None` where
/// it does not exist.
#[derive(Debug, Clone, PartialEq)]
pub struct UserFeatures {
    /// Users, sorted.
    pub users: Vec<String>,
    /// Numeric columns by name, in output order.
    pub numeric: Vec<(String, Vec<Option<f64>>)>,
    /// Categorical columns by name (`attr.<name>`), in output order.
    pub categorical: Vec<(String, Vec<Option<String>>)>,
}

impl UserFeatures {
    /// Every column name, numeric first.
    pub fn column_names(&self) -> Vec<&str> {
        self.numeric
            .iter()
            .map(|(n, _)| n.as_str())
            .chain(self.categorical.iter().map(|(n, _)| n.as_str()))
            .collect()
    }

    /// The row of `user` by position, if present.
    pub fn position(&self, user: &str) -> Option<usize> {
        self.users.binary_search_by(|u| u.as_str().cmp(user)).ok()
    }

    /// Only the named columns, in the order of the table. An unknown name is an error that
    /// lists every column there is; nothing is selected on a partial match.
    pub fn select(&self, names: &[&str]) -> Result<UserFeatures, FeatureError> {
        let all = self.column_names();
        if let Some(bad) = names.iter().find(|n| !all.contains(n)) {
            return Err(FeatureError::UnknownColumn {
                name: bad.to_string(),
                available: all.join(", "),
            });
        }
        let keep = |n: &String| names.contains(&n.as_str());
        Ok(UserFeatures {
            users: self.users.clone(),
            numeric: self
                .numeric
                .iter()
                .filter(|(n, _)| keep(n))
                .cloned()
                .collect(),
            categorical: self
                .categorical
                .iter()
                .filter(|(n, _)| keep(n))
                .cloned()
                .collect(),
        })
    }

    /// A numeric column by name.
    pub fn numeric_column(&self, name: &str) -> Option<&[Option<f64>]> {
        self.numeric
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.as_slice())
    }
}

/// Per-user accumulator over their actions.
#[derive(Default)]
struct Acc {
    first: i64,
    last: i64,
    frequency: u64,
    monetary: f64,
    purchases: u64,
    carts: u64,
    actions: u64,
    times: Vec<i64>,
    items: BTreeSet<String>,
    /// Ordered, so the entropy sums in one order and is bit-for-bit reproducible.
    categories: BTreeMap<String, f64>,
    day_parts: [u64; 4],
    weekend: u64,
    devices: [u64; 2],
    with_device: u64,
}

/// Part of day on the writer's own clock: night 0–6, morning 6–12, afternoon 12–18, evening
/// 18–24.
fn day_part(t: &Timestamp) -> usize {
    (t.local_hour() / 6) as usize
}

/// Saturday or Sunday on the writer's own clock (1970-01-01 was a Thursday).
fn is_weekend(t: &Timestamp) -> bool {
    let local = t.utc_micros + i64::from(t.offset_secs) * MICROS_PER_SEC;
    let weekday = (local.div_euclid(MICROS_PER_DAY) + 3).rem_euclid(7); // Monday = 0
    weekday >= 5
}

/// The device class of a free-text `context.device`: mobile (phones, tablets, apps) or
/// desktop; anything else counts toward neither share.
fn device_class(device: &str) -> Option<usize> {
    let d = device.to_ascii_lowercase();
    if ["mobile", "phone", "tablet", "ios", "android", "ipad", "app"]
        .iter()
        .any(|k| d.contains(k))
    {
        Some(0)
    } else if ["desktop", "web", "laptop", "pc", "mac", "windows", "linux"]
        .iter()
        .any(|k| d.contains(k))
    {
        Some(1)
    } else {
        None
    }
}

/// Shannon entropy in bits of a weighted distribution.
fn entropy_bits(weights: impl Iterator<Item = f64> + Clone) -> f64 {
    let total: f64 = weights.clone().sum();
    if total <= 0.0 {
        return 0.0;
    }
    -weights
        .filter(|w| *w > 0.0)
        .map(|w| {
            let p = w / total;
            p * p.log2()
        })
        .sum::<f64>()
}

/// Sessions of sorted action times: (count, mean duration in minutes).
fn sessions(times: &[i64], gap_micros: i64) -> (u64, f64) {
    let Some(&first) = times.first() else {
        return (0, 0.0);
    };
    let (mut n, mut total, mut start, mut prev) = (1u64, 0i64, first, first);
    for &t in &times[1..] {
        if t - prev > gap_micros {
            total += prev - start;
            n += 1;
            start = t;
        }
        prev = t;
    }
    total += prev - start;
    (n, total as f64 / n as f64 / (60.0 * MICROS_PER_SEC as f64))
}

/// The raw feature table as of `now`: every user who acted (impressions are not actions) or
/// has a profile, behaviour from their actions at or before `now` (so features can be
/// computed as of a split time without the future), attributes from `users`.
///
/// `categories` gives an item's categories (an action on an item with several counts a share
/// for each).
pub fn user_features<'e, 'c>(
    events: impl IntoIterator<Item = &'e Event>,
    users: &[User],
    categories: impl Fn(&str) -> Option<&'c [String]>,
    now: Timestamp,
    params: &UserFeatureParams,
) -> UserFeatures {
    let now_us = now.utc_micros;
    let period_start =
        now_us.saturating_sub(i64::from(params.period_days).saturating_mul(MICROS_PER_DAY));
    let mut acc: BTreeMap<&str, Acc> = BTreeMap::new();
    for e in events {
        let t = e.timestamp.utc_micros;
        let Some(actor) = e.user_key() else { continue };
        if t > now_us || !is_user_action(&e.event_type) {
            continue;
        }
        let a = acc.entry(actor).or_insert_with(|| Acc {
            first: i64::MAX,
            last: i64::MIN,
            ..Acc::default()
        });
        a.first = a.first.min(t);
        a.last = a.last.max(t);
        a.actions += 1;
        a.times.push(t);
        if t > period_start {
            a.frequency += 1;
            if e.event_type == EventType::Purchase {
                if let Some(price) = e.properties.price {
                    a.monetary += price * f64::from(e.properties.quantity.unwrap_or(1));
                }
            }
        }
        match e.event_type {
            EventType::Purchase => a.purchases += 1,
            EventType::AddToCart => a.carts += 1,
            _ => {}
        }
        a.day_parts[day_part(&e.timestamp)] += 1;
        a.weekend += u64::from(is_weekend(&e.timestamp));
        if let Some(class) = e.context.device.as_deref().and_then(device_class) {
            a.devices[class] += 1;
            a.with_device += 1;
        }
        if let Some(item) = e.item_id.as_deref() {
            a.items.insert(item.to_string());
            if let Some(cats) = categories(item).filter(|c| !c.is_empty()) {
                let share = 1.0 / cats.len() as f64;
                for c in cats {
                    *a.categories.entry(c.clone()).or_insert(0.0) += share;
                }
            }
        }
    }

    let profiles: BTreeMap<&str, &User> = users.iter().map(|u| (u.user_id.as_str(), u)).collect();
    let ids: BTreeSet<&str> = acc
        .keys()
        .copied()
        .chain(profiles.keys().copied())
        .collect();
    let users_out: Vec<String> = ids.iter().map(|s| s.to_string()).collect();

    let gap = params.session_gap_secs.saturating_mul(MICROS_PER_SEC);
    let mut numeric: Vec<(String, Vec<Option<f64>>)> = BEHAVIOUR_COLUMNS
        .iter()
        .map(|c| (c.to_string(), Vec::with_capacity(ids.len())))
        .collect();
    for id in &ids {
        let row: [Option<f64>; 18] = match acc.get_mut(id) {
            None => {
                // A profile without actions: counts are zero, everything else unknown.
                let mut r = [None; 18];
                r[1] = Some(0.0); // frequency
                r[2] = Some(0.0); // monetary
                r[4] = Some(0.0); // sessions
                r[7] = Some(0.0); // distinct items
                r
            }
            Some(a) => {
                a.times.sort_unstable();
                let (n_sessions, minutes) = sessions(&a.times, gap);
                let actions = a.actions as f64;
                let share = |n: u64| Some(n as f64 / actions);
                let device_share = |k: usize| {
                    (a.with_device > 0).then(|| a.devices[k] as f64 / a.with_device as f64)
                };
                let days = |us: i64| us as f64 / MICROS_PER_DAY as f64;
                [
                    Some(days(now_us - a.last)),
                    Some(a.frequency as f64),
                    Some(a.monetary),
                    Some(days(now_us - a.first)),
                    Some(n_sessions as f64),
                    Some(minutes),
                    Some(actions / n_sessions as f64),
                    Some(a.items.len() as f64),
                    (!a.categories.is_empty())
                        .then(|| entropy_bits(a.categories.values().copied())),
                    share(a.purchases),
                    share(a.carts),
                    share(a.day_parts[0]),
                    share(a.day_parts[1]),
                    share(a.day_parts[2]),
                    share(a.day_parts[3]),
                    share(a.weekend),
                    device_share(0),
                    device_share(1),
                ]
            }
        };
        for (col, v) in numeric.iter_mut().zip(row) {
            col.1.push(v);
        }
    }

    // Attributes: the union of names over profiles; a name is numeric when every present
    // value is a number or a bool, categorical otherwise (text, or mixed).
    let mut kinds: BTreeMap<&str, bool> = BTreeMap::new(); // name -> all numeric
    for u in profiles.values() {
        for (k, v) in &u.attributes {
            if matches!(v, AttrValue::Vector(_)) {
                continue; // a dense vector is no column of this table
            }
            let numeric = !matches!(v, AttrValue::Text(_));
            kinds
                .entry(k.as_str())
                .and_modify(|all| *all &= numeric)
                .or_insert(numeric);
        }
    }
    let mut categorical = Vec::new();
    for (name, all_numeric) in kinds {
        let value = |id: &str| profiles.get(id).and_then(|u| u.attributes.get(name));
        if all_numeric {
            let col = ids
                .iter()
                .map(|id| match value(id) {
                    Some(AttrValue::Number(x)) => Some(*x),
                    Some(AttrValue::Bool(b)) => Some(f64::from(u8::from(*b))),
                    _ => None,
                })
                .collect();
            numeric.push((format!("attr.{name}"), col));
        } else {
            let col = ids
                .iter()
                .map(|id| match value(id) {
                    Some(AttrValue::Text(s)) => Some(s.clone()),
                    Some(AttrValue::Number(x)) => Some(x.to_string()),
                    Some(AttrValue::Bool(b)) => Some(b.to_string()),
                    Some(AttrValue::Vector(_)) | None => None,
                })
                .collect();
            categorical.push((format!("attr.{name}"), col));
        }
    }
    UserFeatures {
        users: users_out,
        numeric,
        categorical,
    }
}

/// How a numeric column was prepared: its median fill and its z-score.
#[derive(Debug, Clone, PartialEq)]
pub struct NumericPrep {
    /// Column name.
    pub name: String,
    /// Fill for missing values.
    pub imputer: MedianImputer,
    /// Standardization after filling.
    pub scaler: ZScoreScaler,
}

/// How a categorical column was prepared: one-hot over the categories seen at least
/// `min_count` times (missing and rare values encode as all zeros).
#[derive(Debug, Clone, PartialEq)]
pub struct CategoricalPrep {
    /// Column name.
    pub name: String,
    /// The encoder.
    pub encoder: OneHotEncoder,
}

/// A dense, model-ready user feature matrix and how it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedFeatures {
    /// Users, in row order.
    pub users: Vec<String>,
    /// Output column names: numeric columns as they were, one-hot columns as
    /// `attr.<name>=<value>`.
    pub columns: Vec<String>,
    /// Row-major values, `users.len() × columns.len()`.
    pub values: Vec<f64>,
    /// Numeric columns' parameters.
    pub numeric: Vec<NumericPrep>,
    /// Categorical columns' parameters.
    pub categorical: Vec<CategoricalPrep>,
}

impl PreparedFeatures {
    /// One user's row.
    pub fn row(&self, i: usize) -> &[f64] {
        let w = self.columns.len();
        &self.values[i * w..(i + 1) * w]
    }
}

/// Impute (median), standardize (z-score) and one-hot encode the raw table. A numeric column
/// with no present value at all (no user has a device, say) is dropped rather than invented;
/// so is a categorical column without a category seen `min_count` times.
pub fn prepare(raw: &UserFeatures, min_count: u64) -> Result<PreparedFeatures, FeatureError> {
    let n = raw.users.len();
    let mut columns = Vec::new();
    let mut blocks: Vec<Vec<f64>> = Vec::new(); // column-major blocks
    let mut numeric = Vec::new();
    for (name, col) in &raw.numeric {
        let imputer = match MedianImputer::fit(col) {
            Ok(i) => i,
            Err(FeatureError::NoValues { .. }) => continue,
            Err(e) => return Err(e),
        };
        let filled: Vec<Option<f64>> = imputer.transform(col).into_iter().map(Some).collect();
        let scaler = ZScoreScaler::fit(&filled)?;
        blocks.push(
            filled
                .iter()
                .map(|v| scaler.transform_one(v.unwrap_or(0.0)))
                .collect(),
        );
        columns.push(name.clone());
        numeric.push(NumericPrep {
            name: name.clone(),
            imputer,
            scaler,
        });
    }
    let mut categorical = Vec::new();
    for (name, col) in &raw.categorical {
        let values: Vec<Option<&str>> = col.iter().map(|v| v.as_deref()).collect();
        let encoder = match OneHotEncoder::fit(&values, min_count, UnknownPolicy::Ignore) {
            Ok(e) => e,
            Err(FeatureError::EmptyVocabulary) => continue,
            Err(e) => return Err(e),
        };
        let hot = encoder.transform(&values)?; // row-major n × width
        let w = encoder.width();
        for (j, label) in encoder.column_names().into_iter().enumerate() {
            blocks.push((0..n).map(|i| hot[i * w + j]).collect());
            columns.push(format!("{name}={label}"));
        }
        categorical.push(CategoricalPrep {
            name: name.clone(),
            encoder,
        });
    }
    let mut values = Vec::with_capacity(n * columns.len());
    for i in 0..n {
        values.extend(blocks.iter().map(|b| b[i]));
    }
    Ok(PreparedFeatures {
        users: raw.users.clone(),
        columns,
        values,
        numeric,
        categorical,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Context, Properties};
    use std::collections::HashMap;

    const H: i64 = 3600 * MICROS_PER_SEC;
    /// Monday 2026-11-30 00:00 UTC.
    const MONDAY: i64 = 1_795_996_800 * MICROS_PER_SEC;

    fn ev(user: &str, ty: EventType, item: &str, at: i64, offset_h: i32, device: &str) -> Event {
        Event {
            event_id: format!("{user}-{at}"),
            event_type: ty,
            user_id: Some(user.into()),
            anonymous_id: None,
            item_id: Some(item.into()),
            timestamp: Timestamp {
                utc_micros: at,
                offset_secs: offset_h * 3600,
            },
            value: None,
            properties: Properties::default(),
            context: Context {
                device: (!device.is_empty()).then(|| device.to_string()),
                ..Context::default()
            },
        }
    }

    fn cats(item: &str) -> Option<&'static [String]> {
        use std::sync::OnceLock;
        static C: OnceLock<HashMap<&'static str, Vec<String>>> = OnceLock::new();
        let c = C.get_or_init(|| {
            HashMap::from([
                ("book", vec!["books".to_string()]),
                ("lamp", vec!["home".to_string()]),
                ("kit", vec!["books".to_string(), "home".to_string()]),
            ])
        });
        c.get(item).map(Vec::as_slice)
    }

    fn value(f: &UserFeatures, col: &str, user: &str) -> Option<f64> {
        f.numeric_column(col).unwrap()[f.position(user).unwrap()]
    }

    #[test]
    fn behaviour_is_summarized_on_each_users_own_clock() {
        let now = Timestamp::from_utc_micros(MONDAY + 10 * MICROS_PER_DAY);
        let mut buy = ev(
            "tokyo",
            EventType::Purchase,
            "book",
            MONDAY + 11 * H,
            9,
            "iPhone app",
        );
        buy.properties.price = Some(12.5);
        buy.properties.quantity = Some(2);
        let events = vec![
            // Tokyo (+09:00): 11:00 UTC Monday is 20:00 local, evening; two sessions.
            ev(
                "tokyo",
                EventType::View,
                "book",
                MONDAY + 10 * H,
                9,
                "iPhone app",
            ),
            ev(
                "tokyo",
                EventType::View,
                "lamp",
                MONDAY + 10 * H + 20 * 60 * MICROS_PER_SEC,
                9,
                "desktop web",
            ),
            buy,
            // Lima (−05:00): Saturday 2026-12-05 02:00 UTC is Friday 21:00 local: evening, a weekday.
            ev(
                "lima",
                EventType::View,
                "kit",
                MONDAY + 5 * MICROS_PER_DAY + 2 * H,
                -5,
                "",
            ),
            // An impression is not an action; an event after `now` is ignored.
            ev(
                "lima",
                EventType::Impression,
                "book",
                MONDAY + 5 * MICROS_PER_DAY,
                -5,
                "",
            ),
            ev(
                "lima",
                EventType::View,
                "book",
                MONDAY + 20 * MICROS_PER_DAY,
                -5,
                "",
            ),
        ];
        let mut profile = User::new("paris");
        profile
            .attributes
            .insert("age".into(), AttrValue::Number(41.0));
        profile
            .attributes
            .insert("tier".into(), AttrValue::Text("gold".into()));
        let mut lima = User::new("lima");
        lima.attributes
            .insert("tier".into(), AttrValue::Text("free".into()));
        let f = user_features(
            &events,
            &[profile, lima],
            cats,
            now,
            &UserFeatureParams::default(),
        );

        assert_eq!(f.users, ["lima", "paris", "tokyo"]);
        assert_eq!(value(&f, "frequency", "tokyo"), Some(3.0));
        assert_eq!(value(&f, "monetary", "tokyo"), Some(25.0));
        assert_eq!(value(&f, "sessions", "tokyo"), Some(2.0)); // 20 min gap, then 40 min
        assert_eq!(value(&f, "session_minutes", "tokyo"), Some(10.0)); // (20 + 0) / 2
        assert_eq!(value(&f, "actions_per_session", "tokyo"), Some(1.5));
        assert_eq!(value(&f, "purchase_share", "tokyo"), Some(1.0 / 3.0));
        assert_eq!(value(&f, "evening_share", "tokyo"), Some(1.0));
        assert_eq!(value(&f, "weekend_share", "tokyo"), Some(0.0));
        assert_eq!(value(&f, "mobile_share", "tokyo"), Some(2.0 / 3.0));
        // books twice, home once: H(2/3, 1/3) in bits.
        let h = -(2.0f64 / 3.0 * (2.0f64 / 3.0).log2() + 1.0 / 3.0 * (1.0f64 / 3.0).log2());
        assert!((value(&f, "category_entropy", "tokyo").unwrap() - h).abs() < 1e-12);
        let recency = 10.0 - 11.0 / 24.0;
        assert!((value(&f, "recency_days", "tokyo").unwrap() - recency).abs() < 1e-12);

        assert_eq!(value(&f, "frequency", "lima"), Some(1.0));
        assert_eq!(value(&f, "evening_share", "lima"), Some(1.0));
        assert_eq!(value(&f, "weekend_share", "lima"), Some(0.0));
        assert_eq!(value(&f, "category_entropy", "lima"), Some(1.0)); // books ½, home ½
        assert_eq!(value(&f, "mobile_share", "lima"), None); // no device known

        // A profile without actions: zero counts, unknown behaviour, its attributes.
        assert_eq!(value(&f, "frequency", "paris"), Some(0.0));
        assert_eq!(value(&f, "recency_days", "paris"), None);
        assert_eq!(value(&f, "attr.age", "paris"), Some(41.0));
        assert_eq!(value(&f, "attr.age", "tokyo"), None);
        let tier = &f.categorical[0];
        assert_eq!(tier.0, "attr.tier");
        assert_eq!(tier.1, [Some("free".into()), Some("gold".into()), None]);
    }

    #[test]
    fn prepare_imputes_scales_and_encodes() {
        let raw = UserFeatures {
            users: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            numeric: vec![
                ("age".into(), vec![Some(20.0), None, Some(40.0), Some(30.0)]),
                ("nothing".into(), vec![None; 4]),
            ],
            categorical: vec![(
                "attr.tier".into(),
                vec![
                    Some("gold".into()),
                    Some("free".into()),
                    None,
                    Some("free".into()),
                ],
            )],
        };
        let p = prepare(&raw, 1).unwrap();
        assert_eq!(p.columns, ["age", "attr.tier=free", "attr.tier=gold"]);
        // age filled with the median 30 -> [20, 30, 40, 30]: mean 30, std sqrt(50).
        let s = 50f64.sqrt();
        let age: Vec<f64> = (0..4).map(|i| p.row(i)[0]).collect();
        for (got, want) in age.iter().zip([-10.0 / s, 0.0, 10.0 / s, 0.0]) {
            assert!((got - want).abs() < 1e-12, "{age:?}");
        }
        assert_eq!(p.row(0)[1..], [0.0, 1.0]);
        assert_eq!(p.row(2)[1..], [0.0, 0.0]); // missing: all zeros
        assert_eq!(p.numeric[0].imputer.median, 30.0);
        // Rare categories are left out at min_count 2.
        let p = prepare(&raw, 2).unwrap();
        assert_eq!(p.columns, ["age", "attr.tier=free"]);
    }

    #[test]
    fn select_keeps_named_columns_and_refuses_unknown_ones() {
        let raw = UserFeatures {
            users: vec!["a".into()],
            numeric: vec![
                ("frequency".into(), vec![Some(2.0)]),
                ("monetary".into(), vec![Some(9.5)]),
            ],
            categorical: vec![("attr.tier".into(), vec![Some("gold".into())])],
        };
        let s = raw.select(&["attr.tier", "frequency"]).unwrap();
        assert_eq!(s.column_names(), ["frequency", "attr.tier"]);
        let err = raw.select(&["frequency", "age"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown feature \"age\"; the table has: frequency, monetary, attr.tier"
        );
    }

    #[test]
    fn sessions_split_on_the_gap() {
        let m = 60 * MICROS_PER_SEC;
        assert_eq!(sessions(&[], 30 * m), (0, 0.0));
        assert_eq!(sessions(&[0], 30 * m), (1, 0.0));
        // 0, 10, 20 | 60, 65: sessions of 20 and 5 minutes.
        let (n, mean) = sessions(&[0, 10 * m, 20 * m, 60 * m, 65 * m], 30 * m);
        assert_eq!((n, mean), (2, 12.5));
    }

    #[test]
    fn device_classes() {
        assert_eq!(device_class("Mobile Safari"), Some(0));
        assert_eq!(device_class("android-app"), Some(0));
        assert_eq!(device_class("desktop"), Some(1));
        assert_eq!(device_class("smart-tv"), None);
    }
}
