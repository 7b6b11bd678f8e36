//! Segments in words and numbers: what sets each group of users apart.
//!
//! A cluster id says nothing to the person who has to act on it. [`describe`] compares each
//! segment with all users on the raw [`UserFeatures`] table (days, counts and shares people
//! can read, not z-scores): its size, every numeric column's segment mean against the overall
//! mean as a standardized difference, the most common value of every categorical column, and a
//! one-line summary such as "more recent (recency_days −1.3 sd), buys more (purchase_share
//! +0.9 sd)". Labels are strings so rule segments, k-means clusters ([`cluster_labels`]) and
//! DBSCAN clusters ([`dbscan_labels`]) are described alike.

use std::collections::BTreeMap;

use serde::Serialize;

use super::dbscan::NOISE;
use super::error::{invalid, Result};
use crate::features::users::UserFeatures;

/// A column enters the summary when its standardized difference exceeds this in size (half an
/// sd: Cohen's "medium" effect; smaller differences are not worth a word).
pub const SUMMARY_MIN_SD: f64 = 0.5;
/// At most this many columns in the summary, the largest differences first.
pub const SUMMARY_TERMS: usize = 3;
/// The summary of a segment with no difference above [`SUMMARY_MIN_SD`].
pub const SUMMARY_AVERAGE: &str = "close to the overall average";

/// Every segment of one labelling, largest first (ties by name).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Description {
    /// Users described (the table's rows).
    pub users: usize,
    /// Segments by size descending, then name.
    pub segments: Vec<SegmentDescription>,
}

/// One segment against all users.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentDescription {
    /// The label.
    pub segment: String,
    /// Users with this label.
    pub size: usize,
    /// `size / users`.
    pub share: f64,
    /// Numeric columns in table order, except those with no value or a single value overall.
    pub numeric: Vec<NumericContrast>,
    /// Categorical columns in table order, except those no member of the segment has a value of.
    pub categorical: Vec<CategoricalContrast>,
    /// The largest standardized differences in words; [`SUMMARY_AVERAGE`] when none is large.
    pub summary: String,
}

/// A numeric column, segment against everyone; missing values are ignored throughout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NumericContrast {
    /// Column name.
    pub column: String,
    /// Mean over the segment's present values; `None` when no member has one.
    pub mean: Option<f64>,
    /// Mean over all present values.
    pub overall_mean: f64,
    /// `(mean - overall_mean) / sd`, with `sd` the population (ddof 0) standard deviation of all
    /// present values: a difference in units of how much users vary, comparable across
    /// columns of different scales.
    pub std_diff: Option<f64>,
}

/// A categorical column: the segment's most common value and how common it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoricalContrast {
    /// Column name.
    pub column: String,
    /// The most common value among members with a value (ties: the first by name).
    pub value: String,
    /// Its share among the segment's members with a value.
    pub share: f64,
    /// Its share among all users with a value.
    pub overall_share: f64,
}

/// Phrases for the behaviour columns: (column, when higher, when lower). Recency is days since
/// the last action, so lower is "more recent".
const PHRASES: [(&str, &str, &str); 18] = [
    ("recency_days", "less recent", "more recent"),
    ("frequency", "more actions", "fewer actions"),
    ("monetary", "spends more", "spends less"),
    ("tenure_days", "longer-standing", "newer"),
    ("sessions", "more sessions", "fewer sessions"),
    ("session_minutes", "longer sessions", "shorter sessions"),
    (
        "actions_per_session",
        "more actions per session",
        "fewer actions per session",
    ),
    (
        "distinct_items",
        "more distinct items",
        "fewer distinct items",
    ),
    (
        "category_entropy",
        "broader interests",
        "narrower interests",
    ),
    ("purchase_share", "buys more", "buys less"),
    ("cart_share", "adds to cart more", "adds to cart less"),
    ("night_share", "more night activity", "less night activity"),
    (
        "morning_share",
        "more morning activity",
        "less morning activity",
    ),
    (
        "afternoon_share",
        "more afternoon activity",
        "less afternoon activity",
    ),
    (
        "evening_share",
        "more evening activity",
        "less evening activity",
    ),
    (
        "weekend_share",
        "more weekend activity",
        "less weekend activity",
    ),
    ("mobile_share", "more mobile", "less mobile"),
    ("desktop_share", "more desktop", "less desktop"),
];

/// The words for a difference in `column`: the table's phrase, else "higher X" / "lower X"
/// with X the column name without its `attr.` prefix.
fn phrase(column: &str, higher: bool) -> String {
    match PHRASES.iter().find(|p| p.0 == column) {
        Some(&(_, up, down)) => (if higher { up } else { down }).to_string(),
        None => {
            let name = column.strip_prefix("attr.").unwrap_or(column);
            format!("{} {name}", if higher { "higher" } else { "lower" })
        }
    }
}

/// Up to [`SUMMARY_TERMS`] differences above [`SUMMARY_MIN_SD`], largest first (ties in table
/// order), as "phrase (column ±d.d sd)" with a true minus sign.
fn summary(numeric: &[NumericContrast]) -> String {
    let mut big: Vec<(&str, f64)> = numeric
        .iter()
        .filter_map(|c| c.std_diff.map(|d| (c.column.as_str(), d)))
        .filter(|(_, d)| d.abs() > SUMMARY_MIN_SD)
        .collect();
    if big.is_empty() {
        return SUMMARY_AVERAGE.to_string();
    }
    big.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    big.iter()
        .take(SUMMARY_TERMS)
        .map(|&(col, d)| {
            let sign = if d < 0.0 { '\u{2212}' } else { '+' };
            format!("{} ({col} {sign}{:.1} sd)", phrase(col, d > 0.0), d.abs())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Mean of the present, finite values at `rows`.
fn mean(col: &[Option<f64>], rows: &[usize]) -> Option<f64> {
    let (sum, n) = rows
        .iter()
        .filter_map(|&i| col[i].filter(|v| v.is_finite()))
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// Overall mean and population sd of a column; `None` without values, or when every value is
/// the same (the sd would be 0, or rounding noise that inflates tiny differences).
fn overall(col: &[Option<f64>]) -> Option<(f64, f64)> {
    let present: Vec<f64> = col
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let first = *present.first()?;
    if present.iter().all(|&v| v == first) {
        return None;
    }
    let m = present.iter().sum::<f64>() / present.len() as f64;
    let var = present.iter().map(|v| (v - m).powi(2)).sum::<f64>() / present.len() as f64;
    Some((m, var.sqrt()))
}

/// Value counts over the present values at `rows`, and how many were present.
fn counts(
    col: &[Option<String>],
    rows: impl Iterator<Item = usize>,
) -> (BTreeMap<&str, usize>, usize) {
    let mut c = BTreeMap::new();
    let mut n = 0;
    for v in rows.filter_map(|i| col[i].as_deref()) {
        *c.entry(v).or_insert(0) += 1;
        n += 1;
    }
    (c, n)
}

/// Describe every segment of `labels` (one per user, in the table's row order). Refuses a
/// label count other than the number of users, and no users at all (field `labels`).
pub fn describe<S: AsRef<str>>(features: &UserFeatures, labels: &[S]) -> Result<Description> {
    let n = features.users.len();
    if labels.len() != n {
        return Err(invalid(
            "labels",
            format_args!("{} labels for {n} users: one label per user", labels.len()),
        ));
    }
    if n == 0 {
        return Err(invalid("labels", "no users to describe"));
    }
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, l) in labels.iter().enumerate() {
        groups.entry(l.as_ref()).or_default().push(i);
    }
    let mut groups: Vec<(&str, Vec<usize>)> = groups.into_iter().collect();
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));

    let numeric_overall: Vec<_> = features
        .numeric
        .iter()
        .filter_map(|(name, col)| overall(col).map(|(m, sd)| (name, col, m, sd)))
        .collect();
    let categorical_overall: Vec<_> = features
        .categorical
        .iter()
        .map(|(name, col)| (name, col, counts(col, 0..n)))
        .collect();

    let segments = groups
        .into_iter()
        .map(|(label, rows)| {
            let numeric: Vec<NumericContrast> = numeric_overall
                .iter()
                .map(|&(name, col, overall_mean, sd)| {
                    let m = mean(col, &rows);
                    NumericContrast {
                        column: name.clone(),
                        mean: m,
                        overall_mean,
                        std_diff: m.map(|m| (m - overall_mean) / sd),
                    }
                })
                .collect();
            let categorical = categorical_overall
                .iter()
                .filter_map(|(name, col, (all, all_n))| {
                    let (seg, seg_n) = counts(col, rows.iter().copied());
                    // Highest count; on ties the first by name (max_by keeps the last maximum).
                    let (value, count) = seg.into_iter().rev().max_by_key(|&(_, c)| c)?;
                    Some(CategoricalContrast {
                        column: name.to_string(),
                        value: value.to_string(),
                        share: count as f64 / seg_n as f64,
                        overall_share: all[value] as f64 / *all_n as f64,
                    })
                })
                .collect();
            SegmentDescription {
                segment: label.to_string(),
                size: rows.len(),
                share: rows.len() as f64 / n as f64,
                summary: summary(&numeric),
                numeric,
                categorical,
            }
        })
        .collect();
    Ok(Description { users: n, segments })
}

/// k-means labels as "cluster 0", "cluster 1", ... for [`describe`].
pub fn cluster_labels(labels: &[usize]) -> Vec<String> {
    labels.iter().map(|l| format!("cluster {l}")).collect()
}

/// DBSCAN labels as "cluster 0", ... and [`NOISE`] as "noise", for [`describe`].
pub fn dbscan_labels(labels: &[i32]) -> Vec<String> {
    labels
        .iter()
        .map(|&l| {
            if l == NOISE {
                "noise".to_string()
            } else {
                format!("cluster {l}")
            }
        })
        .collect()
}
