//! Groups of items or users: a label per group and the group of every member (item or user
//! index), built from an attribute, from training popularity or activity, or from item age.
//!
//! Specifications are strings so the CLI flag, the config file and the HTTP query read the
//! same way: items `attr:<name>`, `popularity:<K>`, `new:<DAYS>`; users `attr:<name>`,
//! `activity:<K>`.

use std::collections::BTreeSet;
use std::str::FromStr;

use super::FairnessError;

/// Label of members without a value for a grouping attribute.
pub const MISSING: &str = "(none)";

/// A partition of `0..n` members into labelled groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Groups {
    labels: Vec<String>,
    of: Vec<u32>,
}

impl Groups {
    /// `of[member]` is an index into `labels`.
    ///
    /// # Panics
    /// If a member's group is out of range (a bug in the caller, never user input).
    pub fn new(labels: Vec<String>, of: Vec<u32>) -> Self {
        assert!(
            of.iter().all(|&g| (g as usize) < labels.len()),
            "every member's group must be a label index"
        );
        Self { labels, of }
    }

    /// Group labels, by group index.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Number of groups.
    pub fn n_groups(&self) -> usize {
        self.labels.len()
    }

    /// Number of members (items or users).
    pub fn n_members(&self) -> usize {
        self.of.len()
    }

    /// The group of `member`.
    #[inline]
    pub fn group_of(&self, member: u32) -> usize {
        self.of[member as usize] as usize
    }

    /// Members per group.
    pub fn sizes(&self) -> Vec<usize> {
        let mut n = vec![0usize; self.labels.len()];
        for &g in &self.of {
            n[g as usize] += 1;
        }
        n
    }

    /// Each group's share of the members (the "catalogue share" of item groups).
    pub fn member_shares(&self) -> Vec<f64> {
        let total = self.of.len().max(1) as f64;
        self.sizes().iter().map(|&s| s as f64 / total).collect()
    }
}

fn bucket_labels(k: usize, names: &[&[&str]]) -> Vec<String> {
    match names.iter().find(|n| n.len() == k) {
        Some(n) => n.iter().map(|s| s.to_string()).collect(),
        None => (1..=k).map(|b| format!("b{b}")).collect(),
    }
}

/// `K` buckets of (as near as whole items allow) equal interaction mass. Items are taken by
/// training popularity, most popular first (ties: lower index first); an item goes to bucket
/// `floor(K · mass before it / total mass)`, so the head bucket holds the few items that carry
/// the first `1/K` of all interactions and the last bucket the long tail (and every item
/// without interactions). Labels: `head, tail` (K = 2), `head, mid, tail` (K = 3), else
/// `b1..bK` from the head.
pub fn popularity_buckets(popularity: &[f64], k: usize) -> Result<Groups, FairnessError> {
    if k == 0 {
        return Err(FairnessError::Param {
            field: "popularity buckets",
            value: 0.0,
            rule: "must be at least 1",
        });
    }
    let mut order: Vec<usize> = (0..popularity.len()).collect();
    order.sort_by(|&a, &b| popularity[b].total_cmp(&popularity[a]).then(a.cmp(&b)));
    let total: f64 = popularity.iter().map(|p| p.max(0.0)).sum();
    let mut of = vec![0u32; popularity.len()];
    let mut before = 0.0;
    for i in order {
        let b = if total > 0.0 {
            ((before * k as f64 / total).floor() as usize).min(k - 1)
        } else {
            k - 1
        };
        of[i] = b as u32;
        before += popularity[i].max(0.0);
    }
    Ok(Groups::new(
        bucket_labels(k, &[&["all"], &["head", "tail"], &["head", "mid", "tail"]]),
        of,
    ))
}

/// `K` buckets of (as near as possible) equal numbers of users by activity (training
/// interactions), least active first: user at rank `r` of `n` (ascending activity, ties by
/// index) goes to bucket `floor(K · r / n)`. Labels `low, high` (K = 2), `low, mid, high`
/// (K = 3), else `b1..bK` from the least active.
pub fn activity_buckets(activity: &[f64], k: usize) -> Result<Groups, FairnessError> {
    if k == 0 {
        return Err(FairnessError::Param {
            field: "activity buckets",
            value: 0.0,
            rule: "must be at least 1",
        });
    }
    let n = activity.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| activity[a].total_cmp(&activity[b]).then(a.cmp(&b)));
    let mut of = vec![0u32; n];
    for (r, u) in order.into_iter().enumerate() {
        of[u] = (r * k / n.max(1)) as u32;
    }
    Ok(Groups::new(
        bucket_labels(k, &[&["all"], &["low", "high"], &["low", "mid", "high"]]),
        of,
    ))
}

/// One group per distinct value (labels sorted), plus [`MISSING`] for members without one.
pub fn attribute_groups(values: &[Option<String>]) -> Groups {
    let mut distinct: BTreeSet<&str> = values.iter().flatten().map(String::as_str).collect();
    if values.iter().any(Option::is_none) {
        distinct.insert(MISSING);
    }
    let labels: Vec<String> = distinct.iter().map(|s| s.to_string()).collect();
    let of = values
        .iter()
        .map(|v| {
            let key = v.as_deref().unwrap_or(MISSING);
            labels
                .binary_search_by(|l| l.as_str().cmp(key))
                .expect("a label") as u32
        })
        .collect();
    Groups::new(labels, of)
}

/// `new` for items published within `days` before `now_micros` (inclusive), `established`
/// for the others and for items without a publication time.
pub fn new_item_groups(published_micros: &[Option<i64>], now_micros: i64, days: u32) -> Groups {
    let since = now_micros - i64::from(days) * 86_400_000_000;
    let of = published_micros
        .iter()
        .map(|p| u32::from(p.is_none_or(|t| t < since)))
        .collect();
    Groups::new(vec!["new".into(), "established".into()], of)
}

fn spec_error(field: &'static str, value: &str, rule: &str) -> FairnessError {
    FairnessError::Spec {
        field,
        value: value.to_string(),
        rule: rule.to_string(),
    }
}

fn positive(field: &'static str, s: &str, arg: &str, what: &str) -> Result<u32, FairnessError> {
    arg.parse::<u32>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| spec_error(field, s, &format!("{what} must be a positive integer")))
}

fn attribute(field: &'static str, s: &str, name: &str) -> Result<String, FairnessError> {
    if name.trim().is_empty() {
        return Err(spec_error(field, s, "attr: needs an attribute name"));
    }
    Ok(name.trim().to_string())
}

/// How items are grouped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemGroupSpec {
    /// `attr:<name>`: by the value of an item attribute (e.g. provider, brand); `attr:category`
    /// groups by an item's first category.
    Attribute(String),
    /// `popularity:<K>`: K buckets of equal training interaction mass ([`popularity_buckets`]).
    Popularity(usize),
    /// `new:<DAYS>`: items published in the last DAYS days ([`new_item_groups`]).
    New(u32),
}

impl FromStr for ItemGroupSpec {
    type Err = FairnessError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const FIELD: &str = "item groups";
        const FORMS: &str = "expected attr:<name>, popularity:<K> or new:<DAYS>";
        let (kind, arg) = s
            .split_once(':')
            .ok_or_else(|| spec_error(FIELD, s, FORMS))?;
        match kind.trim() {
            "attr" => Ok(Self::Attribute(attribute(FIELD, s, arg)?)),
            "popularity" => Ok(Self::Popularity(
                positive(FIELD, s, arg.trim(), "K")? as usize
            )),
            "new" => Ok(Self::New(positive(FIELD, s, arg.trim(), "DAYS")?)),
            _ => Err(spec_error(FIELD, s, FORMS)),
        }
    }
}

impl std::fmt::Display for ItemGroupSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Attribute(a) => write!(f, "attr:{a}"),
            Self::Popularity(k) => write!(f, "popularity:{k}"),
            Self::New(d) => write!(f, "new:{d}"),
        }
    }
}

/// How users are grouped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserGroupSpec {
    /// `attr:<name>`: by a profile attribute (age band, gender, location, a segment label).
    Attribute(String),
    /// `activity:<K>`: K buckets of equal user count by training activity
    /// ([`activity_buckets`]).
    Activity(usize),
}

impl FromStr for UserGroupSpec {
    type Err = FairnessError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const FIELD: &str = "user groups";
        const FORMS: &str = "expected attr:<name> or activity:<K>";
        let (kind, arg) = s
            .split_once(':')
            .ok_or_else(|| spec_error(FIELD, s, FORMS))?;
        match kind.trim() {
            "attr" => Ok(Self::Attribute(attribute(FIELD, s, arg)?)),
            "activity" => Ok(Self::Activity(positive(FIELD, s, arg.trim(), "K")? as usize)),
            _ => Err(spec_error(FIELD, s, FORMS)),
        }
    }
}

impl std::fmt::Display for UserGroupSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Attribute(a) => write!(f, "attr:{a}"),
            Self::Activity(k) => write!(f, "activity:{k}"),
        }
    }
}

/// The exposure share each item group should get.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetSpec {
    /// `catalogue`: each group's share of the catalogue's items.
    Catalogue,
    /// `equal`: `1 / groups` each (for `popularity:K`, each bucket's share of interactions).
    Equal,
    /// `label=share,...`: explicit shares; unnamed groups get 0; normalized to sum to 1.
    Shares(Vec<(String, f64)>),
}

impl FromStr for TargetSpec {
    type Err = FairnessError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const FIELD: &str = "targets";
        match s.trim() {
            "catalogue" | "catalog" => return Ok(Self::Catalogue),
            "equal" => return Ok(Self::Equal),
            _ => {}
        }
        let mut shares = Vec::new();
        for part in s.split(',') {
            let (label, v) = part.split_once('=').ok_or_else(|| {
                spec_error(FIELD, s, "expected catalogue, equal or label=share,...")
            })?;
            let v: f64 = v
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| spec_error(FIELD, s, "a share must be a number >= 0"))?;
            shares.push((label.trim().to_string(), v));
        }
        if shares.iter().map(|s| s.1).sum::<f64>() <= 0.0 {
            return Err(spec_error(FIELD, s, "the shares must not all be 0"));
        }
        Ok(Self::Shares(shares))
    }
}

impl TargetSpec {
    /// Target share per group of `groups`, summing to 1. An explicit label the groups do not
    /// have is an error naming the labels they do have.
    pub fn resolve(&self, groups: &Groups) -> Result<Vec<f64>, FairnessError> {
        let n = groups.n_groups();
        match self {
            Self::Catalogue => Ok(groups.member_shares()),
            Self::Equal => Ok(vec![1.0 / n.max(1) as f64; n]),
            Self::Shares(shares) => {
                let mut t = vec![0.0; n];
                for (label, v) in shares {
                    let g = groups
                        .labels()
                        .iter()
                        .position(|l| l == label)
                        .ok_or_else(|| {
                            spec_error(
                                "targets",
                                label,
                                &format!("no such group; the groups are {:?}", groups.labels()),
                            )
                        })?;
                    t[g] = *v;
                }
                let sum: f64 = t.iter().sum();
                Ok(t.into_iter().map(|v| v / sum).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn popularity_buckets_split_interaction_mass_hand_computed() {
        // Popularity 6, 3, 2, 1, 0, 0 (total 12), K = 3. Mass before each item, most popular
        // first: 0, 6, 9, 11, 12, 12 → buckets floor(3·m/12) = 0, 1, 2, 2, 3→2, 3→2.
        let g = popularity_buckets(&[2.0, 6.0, 0.0, 3.0, 1.0, 0.0], 3).unwrap();
        assert_eq!(g.labels(), ["head", "mid", "tail"]);
        let of: Vec<usize> = (0..6).map(|i| g.group_of(i)).collect();
        assert_eq!(of, vec![2, 0, 2, 1, 2, 2]);
        assert_eq!(g.sizes(), vec![1, 1, 4]);
        assert_eq!(g.member_shares(), vec![1.0 / 6.0, 1.0 / 6.0, 4.0 / 6.0]);
        assert!(popularity_buckets(&[1.0], 0).is_err());
        // No interactions at all: everything is tail.
        let flat = popularity_buckets(&[0.0, 0.0], 2).unwrap();
        assert_eq!(flat.sizes(), vec![0, 2]);
    }

    #[test]
    fn activity_buckets_have_equal_user_counts() {
        // Ascending activity: users 3 (1), 0 (2), 2 (5), 1 (9) at ranks 0..3; bucket
        // floor(2·r/4) = 0, 0, 1, 1.
        let g = activity_buckets(&[2.0, 9.0, 5.0, 1.0], 2).unwrap();
        assert_eq!(g.labels(), ["low", "high"]);
        assert_eq!(
            (0..4).map(|u| g.group_of(u)).collect::<Vec<_>>(),
            [0, 1, 1, 0]
        );
    }

    #[test]
    fn attribute_groups_sorted_with_missing() {
        let v = [Some("M".to_string()), None, Some("F".to_string())];
        let g = attribute_groups(&v);
        assert_eq!(g.labels(), ["(none)", "F", "M"]);
        assert_eq!((0..3).map(|u| g.group_of(u)).collect::<Vec<_>>(), [2, 0, 1]);
    }

    #[test]
    fn new_items_by_publication_time() {
        let day = 86_400_000_000i64;
        let now = 100 * day;
        let g = new_item_groups(&[Some(now - 3 * day), Some(now - 8 * day), None], now, 7);
        assert_eq!((0..3).map(|i| g.group_of(i)).collect::<Vec<_>>(), [0, 1, 1]);
    }

    #[test]
    fn specs_parse_and_bad_ones_name_the_forms() {
        assert_eq!(
            "popularity:3".parse::<ItemGroupSpec>().unwrap(),
            ItemGroupSpec::Popularity(3)
        );
        assert_eq!(
            "attr:brand".parse::<ItemGroupSpec>().unwrap().to_string(),
            "attr:brand"
        );
        assert_eq!(
            "new:30".parse::<ItemGroupSpec>().unwrap(),
            ItemGroupSpec::New(30)
        );
        for bad in ["popularity:0", "popularity", "pop:3", "attr:", "new:x"] {
            let e = bad.parse::<ItemGroupSpec>().unwrap_err().to_string();
            assert!(e.contains("item groups") && e.contains(bad), "{e}");
        }
        assert_eq!(
            "activity:3".parse::<UserGroupSpec>().unwrap(),
            UserGroupSpec::Activity(3)
        );
        assert!("popularity:3".parse::<UserGroupSpec>().is_err());
    }

    #[test]
    fn targets_resolve_against_groups() {
        let g = popularity_buckets(&[2.0, 6.0, 0.0, 3.0, 1.0, 0.0], 3).unwrap();
        assert_eq!(TargetSpec::Equal.resolve(&g).unwrap(), vec![1.0 / 3.0; 3]);
        assert_eq!(
            TargetSpec::Catalogue.resolve(&g).unwrap(),
            g.member_shares()
        );
        let t: TargetSpec = "head=1,tail=3".parse().unwrap();
        assert_eq!(t.resolve(&g).unwrap(), vec![0.25, 0.0, 0.75]);
        let e = "top=1"
            .parse::<TargetSpec>()
            .unwrap()
            .resolve(&g)
            .unwrap_err();
        assert!(e.to_string().contains("head"), "{e}");
        assert!("head=-1".parse::<TargetSpec>().is_err());
        assert!("head=0".parse::<TargetSpec>().is_err());
    }
}
