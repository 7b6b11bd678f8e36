//! The figures of one group of lists. Definitions (docs/monitoring.md repeats them):
//!
//! - `ctr`: attributed clicks / impressions; `conversion`: users with an attributed purchase /
//!   users served; `revenue_per_user`, `dwell_per_user` (ms): attributed sums / users served.
//! - `coverage`: distinct items served / available catalogue items.
//! - `diversity`: mean intra-list diversity (Ziegler et al. 2005) with category Jaccard
//!   similarity, over lists with at least two items whose categories are known (items
//!   without categories are left out of their list).
//! - `novelty`: mean self-information `−log2(pop(i) / active users)` of served items (Zhou et
//!   al. 2010), pop = distinct users who interacted with the item in the window (at least 1).
//! - `popularity_bias`: average recommendation popularity (Abdollahpouri et al. 2019) divided
//!   by the mean popularity of the items users interacted with: 1 when what is served is as
//!   popular as what users touch, above 1 when it leans to the head.
//! - `cold_start_share`: lists served by the cold-start chain / lists.
//! - `latency_p50_ms`, `latency_p99_ms`: nearest-rank quantiles of the logged compute time.
//!
//! A figure without a denominator (no impressions, no catalogue, no categorized pair, no
//! interactions, no logged latency) is left out rather than recorded as 0.

use std::collections::{BTreeSet, HashSet};

use attune_core::attribution::Outcome;
use attune_core::eval::beyond::{average_popularity, intra_list_diversity, novelty};

use super::window::Window;

/// One group's figures, by metric name (see the module docs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures(Vec<(&'static str, f64)>);

impl Figures {
    /// `(metric, value)` in [`super::METRICS`] order.
    pub fn values(&self) -> impl Iterator<Item = (&'static str, f64)> + '_ {
        self.0.iter().copied()
    }

    /// One figure.
    pub fn get(&self, metric: &str) -> Option<f64> {
        self.0.iter().find(|(m, _)| *m == metric).map(|(_, v)| *v)
    }
}

fn jaccard(a: &[String], b: &[String]) -> f32 {
    let a: BTreeSet<&String> = a.iter().collect();
    let b: BTreeSet<&String> = b.iter().collect();
    let union = a.union(&b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(&b).count() as f32 / union as f32
}

/// Nearest-rank quantile `q` of sorted `xs` (non-empty).
fn quantile(xs: &[f64], q: f64) -> f64 {
    let rank = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    xs[rank - 1]
}

/// The figures of the lists `group` (indices into `w.attribution.lists`).
pub fn figures(w: &Window, group: &[usize]) -> Figures {
    let lists = &w.attribution.lists;
    let mut out = Vec::new();
    let in_group: HashSet<usize> = group.iter().copied().collect();
    let users: HashSet<&str> = group.iter().map(|&i| lists[i].user.as_str()).collect();
    let impressions: usize = group.iter().map(|&i| lists[i].items.len()).sum();
    let (mut clicks, mut revenue, mut dwell) = (0u64, 0f64, 0u64);
    let mut buyers: HashSet<&str> = HashSet::new();
    for a in w
        .attribution
        .outcomes
        .iter()
        .filter(|a| in_group.contains(&a.list))
    {
        match a.outcome {
            Outcome::Click => clicks += 1,
            Outcome::Purchase { revenue: r } => {
                revenue += r;
                buyers.insert(&lists[a.list].user);
            }
            Outcome::Dwell { ms } => dwell += ms,
            Outcome::AddToCart => {}
        }
    }
    let n_users = users.len() as f64;
    out.push(("lists", group.len() as f64));
    out.push(("impressions", impressions as f64));
    out.push(("users", n_users));
    if impressions > 0 {
        out.push(("ctr", clicks as f64 / impressions as f64));
    }
    if n_users > 0.0 {
        out.push(("conversion", buyers.len() as f64 / n_users));
        out.push(("revenue_per_user", revenue / n_users));
        out.push(("dwell_per_user", dwell as f64 / n_users));
    }
    let indexed: Vec<Vec<u32>> = group
        .iter()
        .map(|&i| lists[i].items.iter().map(|id| w.item(id)).collect())
        .collect();
    if w.catalogue > 0 {
        let distinct: HashSet<u32> = indexed.iter().flatten().copied().collect();
        out.push(("coverage", distinct.len() as f64 / w.catalogue as f64));
    }
    let categorized: Vec<Vec<u32>> = indexed
        .iter()
        .map(|l| {
            l.iter()
                .copied()
                .filter(|&i| !w.categories[i as usize].is_empty())
                .collect::<Vec<u32>>()
        })
        .filter(|l| l.len() >= 2)
        .collect();
    if !categorized.is_empty() {
        let sim = |a: u32, b: u32| jaccard(&w.categories[a as usize], &w.categories[b as usize]);
        let total: f64 = categorized
            .iter()
            .map(|l| intra_list_diversity(l, sim))
            .sum();
        out.push(("diversity", total / categorized.len() as f64));
    }
    let touched: Vec<u32> = w.popularity.iter().copied().filter(|&p| p > 0).collect();
    if w.active_users > 0 && !indexed.is_empty() {
        let nov: f64 = indexed
            .iter()
            .map(|l| novelty(l, &w.popularity, w.active_users))
            .sum();
        out.push(("novelty", nov / indexed.len() as f64));
        let mean_touched =
            touched.iter().map(|&p| f64::from(p)).sum::<f64>() / touched.len() as f64;
        let arp: f64 = indexed
            .iter()
            .map(|l| average_popularity(l, &w.popularity))
            .sum::<f64>()
            / indexed.len() as f64;
        out.push(("popularity_bias", arp / mean_touched));
    }
    if !group.is_empty() {
        let cold = group
            .iter()
            .filter(|&&i| lists[i].source.as_deref() == Some("cold_start"))
            .count();
        out.push(("cold_start_share", cold as f64 / group.len() as f64));
    }
    let mut latencies: Vec<f64> = group.iter().filter_map(|&i| lists[i].latency_ms).collect();
    if !latencies.is_empty() {
        latencies.sort_by(f64::total_cmp);
        out.push(("latency_p50_ms", quantile(&latencies, 0.5)));
        out.push(("latency_p99_ms", quantile(&latencies, 0.99)));
    }
    Figures(out)
}
