//! Population stability index (PSI): how far a current distribution has moved from a
//! reference one, for drift monitoring.
//!
//! `PSI = Σ_b (c_b − r_b) · ln(c_b / r_b)` over bins `b`, with `r_b`, `c_b` the reference and
//! current shares of bin `b`, each floored at [`EPSILON`] so an empty bin does not make the
//! index infinite (Siddiqi, *Credit Risk Scorecards*, 2006; Yurdakul, "Statistical properties
//! of the population stability index", 2018). Usual reading: below 0.1 stable, 0.1–0.2 a
//! moderate shift, above 0.2 a significant one.
//!
//! Numeric values are binned at the reference's deciles (numpy's default "linear" quantiles),
//! so each bin holds about a tenth of the reference; equal quantiles (discrete data: many
//! items with one event) are merged, so a bin is never empty by construction. A value `v` falls
//! in the first bin whose upper edge is `≥ v` (`numpy.searchsorted(edges, v, side="left")`).
//! Categorical data (the event-type mix) uses the categories as bins.
//!
//! Checked against numpy on the fixtures of `testdata/drift/reference.json`
//! (`scripts/drift-reference.sh`).

use super::error::{invalid, Result};

/// The floor of a bin's share: a bin empty on one side counts as 0.01 %, not 0.
pub const EPSILON: f64 = 1e-4;

/// The number of quantile bins numeric PSI uses (deciles).
pub const BINS: usize = 10;

/// numpy's default (`method="linear"`) quantile `q` of sorted `x` (not empty), with numpy's
/// two-sided interpolation (`_lerp`), so the result is bit-for-bit numpy's.
pub fn quantile_sorted(x: &[f64], q: f64) -> f64 {
    let n = x.len();
    let h = (n - 1) as f64 * q;
    let lo = (h.floor() as usize).min(n - 1);
    let hi = (lo + 1).min(n - 1);
    let t = h - lo as f64;
    let (a, b) = (x[lo], x[hi]);
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// The inner bin edges of `reference`: its `1/bins … (bins−1)/bins` quantiles, duplicates
/// merged, increasing. `bins − 1` edges at most; none when every value is equal.
pub fn quantile_edges(reference: &[f64], bins: usize) -> Result<Vec<f64>> {
    let sorted = sorted_finite("reference", reference)?;
    if bins < 2 {
        return Err(invalid("bins", format!("must be at least 2 (got {bins})")));
    }
    let mut edges: Vec<f64> = Vec::with_capacity(bins - 1);
    for k in 1..bins {
        let e = quantile_sorted(&sorted, k as f64 / bins as f64);
        if edges.last().is_none_or(|&l| e > l) {
            edges.push(e);
        }
    }
    Ok(edges)
}

/// How many of `values` fall in each bin of `edges` (`edges.len() + 1` bins).
pub fn bin_counts(edges: &[f64], values: &[f64]) -> Vec<u64> {
    let mut counts = vec![0u64; edges.len() + 1];
    for &v in values {
        counts[edges.partition_point(|&e| e < v)] += 1;
    }
    counts
}

/// PSI of numeric `current` against `reference`, binned at the reference's deciles.
pub fn psi(reference: &[f64], current: &[f64]) -> Result<f64> {
    sorted_finite("current", current)?;
    let edges = quantile_edges(reference, BINS)?;
    psi_counts(&bin_counts(&edges, reference), &bin_counts(&edges, current))
}

/// PSI between two histograms over the same bins (`reference[b]` and `current[b]` count bin
/// or category `b`).
pub fn psi_counts(reference: &[u64], current: &[u64]) -> Result<f64> {
    if reference.len() != current.len() {
        return Err(invalid(
            "current",
            format!(
                "must have as many bins as reference ({} against {})",
                current.len(),
                reference.len()
            ),
        ));
    }
    let (nr, nc) = (total("reference", reference)?, total("current", current)?);
    Ok(reference
        .iter()
        .zip(current)
        .map(|(&r, &c)| {
            let r = (r as f64 / nr).max(EPSILON);
            let c = (c as f64 / nc).max(EPSILON);
            (c - r) * (c / r).ln()
        })
        .sum())
}

fn total(field: &str, counts: &[u64]) -> Result<f64> {
    match counts.iter().sum::<u64>() {
        0 => Err(invalid(field, "must count at least one value")),
        n => Ok(n as f64),
    }
}

/// `x` sorted, or an error when it is empty or holds a NaN or an infinity.
pub(crate) fn sorted_finite(field: &str, x: &[f64]) -> Result<Vec<f64>> {
    if x.is_empty() {
        return Err(invalid(field, "must hold at least one value"));
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(invalid(
            format!("{field}[{i}]"),
            format!("must be a finite number (got {})", x[i]),
        ));
    }
    let mut s = x.to_vec();
    s.sort_by(f64::total_cmp);
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::drift_reference::{assert_close, cases, num, nums};

    #[test]
    fn psi_matches_numpy() {
        for case in cases("psi") {
            let got = psi(&nums(case, "reference"), &nums(case, "current")).unwrap();
            assert_close(
                got,
                num(case, "psi"),
                1e-12,
                &format!("psi {}", case["name"]),
            );
            let edges = quantile_edges(&nums(case, "reference"), BINS).unwrap();
            let want = nums(case, "edges");
            assert_eq!(edges.len(), want.len(), "edges of {}", case["name"]);
            for (g, w) in edges.iter().zip(&want) {
                assert_close(*g, *w, 1e-14, &format!("edge of {}", case["name"]));
            }
        }
    }

    #[test]
    fn categorical_psi_matches_numpy() {
        for case in cases("psi_counts") {
            let r: Vec<u64> = nums(case, "reference").iter().map(|&v| v as u64).collect();
            let c: Vec<u64> = nums(case, "current").iter().map(|&v| v as u64).collect();
            let got = psi_counts(&r, &c).unwrap();
            assert_close(
                got,
                num(case, "psi"),
                1e-12,
                &format!("psi_counts {}", case["name"]),
            );
        }
    }

    #[test]
    fn an_identical_sample_has_zero_psi() {
        let x: Vec<f64> = (0..1000).map(|i| (i % 37) as f64).collect();
        assert_eq!(psi(&x, &x).unwrap(), 0.0);
    }

    #[test]
    fn an_empty_bin_is_floored_not_infinite() {
        let v = psi_counts(&[50, 50, 0], &[0, 50, 50]).unwrap();
        assert!(v.is_finite() && v > 1.0, "{v}");
    }

    #[test]
    fn bad_input_names_the_argument() {
        assert!(psi(&[], &[1.0])
            .unwrap_err()
            .to_string()
            .starts_with("reference"));
        assert!(psi(&[1.0], &[f64::NAN])
            .unwrap_err()
            .to_string()
            .starts_with("current[0]"));
        assert!(psi_counts(&[1, 2], &[1])
            .unwrap_err()
            .to_string()
            .starts_with("current"));
        assert!(psi_counts(&[0, 0], &[1, 1])
            .unwrap_err()
            .to_string()
            .starts_with("reference"));
    }
}
