//! Choosing the number of segments: k-means for every k in a range, a per-k table of inertia
//! and silhouette, and the elbow of the inertia curve ([`mod@super::knee`], Kneedle) as the choice.
//!
//! Inertia always falls as k grows, so "lowest" is no answer; the elbow is where adding a
//! cluster stops paying. When the curve has no elbow (fewer than three k, or a straight or flat
//! curve) the k with the highest silhouette is chosen instead, and if there is none either
//! (only k = 1 or k = rows) the smallest k. Both candidates are reported so a caller can
//! disagree.

use std::ops::RangeInclusive;

use super::dense::Dense;
use super::error::{invalid, Result, SegmentError};
use super::kmeans::{kmeans, Init, KMeansParams};
use super::knee::{knee_index, Direction};
use super::silhouette::silhouette_score;

/// One row of the table: k-means with `k` clusters.
#[derive(Debug, Clone, PartialEq)]
pub struct KScore {
    /// Number of clusters.
    pub k: usize,
    /// Inertia of the best run.
    pub inertia: f64,
    /// Silhouette of its labels; `None` for k = 1 and k = rows, where it is undefined.
    pub silhouette: Option<f64>,
}

/// The result of [`choose_k`].
#[derive(Debug, Clone, PartialEq)]
pub struct KChoice {
    /// One entry per k, ascending.
    pub table: Vec<KScore>,
    /// The Kneedle elbow of inertia, if the curve has one.
    pub elbow_k: Option<usize>,
    /// The k with the highest silhouette (the smallest such k on ties), if any is defined.
    pub best_silhouette_k: Option<usize>,
    /// The elbow, else the best silhouette, else the smallest k.
    pub k: usize,
}

/// Run [`kmeans`] with `params` (k-means++ only; its `k` is ignored) for every k in `ks`.
/// Errors: an empty range, k = 0, k larger than the number of rows, or given centroids.
pub fn choose_k(data: &Dense, ks: RangeInclusive<usize>, params: &KMeansParams) -> Result<KChoice> {
    if ks.is_empty() {
        return Err(invalid("ks", format!("must not be empty (got {ks:?})")));
    }
    if *ks.start() == 0 {
        return Err(invalid("ks", "must start at 1 or more (got 0)"));
    }
    if *ks.end() > data.rows() {
        return Err(SegmentError::TooManyClusters {
            k: *ks.end(),
            users: data.rows(),
        });
    }
    if matches!(params.init, Init::Given(_)) {
        return Err(invalid("init", "must be k-means++ when k varies"));
    }
    let mut table = Vec::new();
    for k in ks {
        let fit = kmeans(
            data,
            &KMeansParams {
                k,
                ..params.clone()
            },
        )?;
        let silhouette = if k >= 2 && k < data.rows() {
            silhouette_score(data, &fit.labels).ok()
        } else {
            None
        };
        table.push(KScore {
            k,
            inertia: fit.inertia,
            silhouette,
        });
    }
    let inertia: Vec<f64> = table.iter().map(|s| s.inertia).collect();
    let elbow_k = knee_index(&inertia, Direction::Decreasing).map(|i| table[i].k);
    let best_silhouette_k = table
        .iter()
        .filter_map(|s| s.silhouette.map(|v| (v, s.k)))
        .fold(None, |best: Option<(f64, usize)>, (v, k)| match best {
            Some((b, _)) if b >= v => best,
            _ => Some((v, k)),
        })
        .map(|(_, k)| k);
    let k = elbow_k.or(best_silhouette_k).unwrap_or(table[0].k);
    Ok(KChoice {
        table,
        elbow_k,
        best_silhouette_k,
        k,
    })
}
