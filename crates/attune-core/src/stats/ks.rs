//! Two-sample Kolmogorov–Smirnov test: the largest gap between two empirical distribution
//! functions and how likely a gap that large is when both samples come from one continuous
//! distribution. Drift monitoring uses it beside the PSI: the PSI says how much a distribution
//! moved, the KS p-value whether the move is more than sampling noise.
//!
//! `D = sup_x |F_a(x) − F_b(x)|`, evaluated after every distinct value as
//! `scipy.stats.ks_2samp` does (so ties are handled the same way). The two-sided p-value
//! `P(D ≥ d)` is
//!
//! - **exact** when `n·m ≤` [`EXACT_MAX_PRODUCT`]: every ordering of the pooled sample is
//!   equally likely, so the probability that the lattice path of the merged samples leaves the
//!   band `|i/n − j/m| < d` is summed over the paths' first exits (a dynamic programme over
//!   the `(n+1)(m+1)` lattice in probabilities, not path counts, so it neither overflows nor
//!   loses small p-values to `1 − inside`); `d` is rounded to the lattice as scipy does;
//! - **asymptotic** otherwise: Kolmogorov's limit `Q(d·√(nm/(n+m)))` with
//!   `Q(x) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²x²}` (`scipy.stats.kstwobign.sf`).
//!
//! scipy's `method="auto"` uses the exact test up to `max(n, m) ≤ 10,000` and, above, the
//! finite-n Kolmogorov distribution `kstwo.sf(d, round(nm/(n+m)))`; the limit used here
//! differs from that by a few percent of the p-value at the sample sizes monitoring sees
//! (thousands), which does not change a decision at α = 0.01, and keeps this module small.
//! Checked against scipy in `testdata/drift/reference.json` (`scripts/drift-reference.sh`):
//! the exact branch against `ks_2samp(method="exact")`, the asymptotic one against
//! `kstwobign.sf`.

use super::error::Result;
use super::psi::sorted_finite;

/// Largest `n·m` for which the p-value is exact (cost `O(n·m)`).
pub const EXACT_MAX_PRODUCT: u64 = 10_000;

/// Which p-value [`ks_2samp`] computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KsMethod {
    /// The exact permutation distribution.
    Exact,
    /// Kolmogorov's limiting distribution.
    Asymptotic,
}

/// A two-sample KS test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ks {
    /// `D`, in [0, 1].
    pub statistic: f64,
    /// `P(D ≥ statistic)` under "same distribution", two-sided.
    pub p_value: f64,
    /// How the p-value was computed.
    pub method: KsMethod,
}

/// The two-sample KS test of `a` against `b` (neither empty, all finite).
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Result<Ks> {
    let a = sorted_finite("a", a)?;
    let b = sorted_finite("b", b)?;
    let (n, m) = (a.len() as u64, b.len() as u64);
    let gap = max_gap(&a, &b);
    let statistic = gap as f64 / (n * m) as f64;
    if n * m <= EXACT_MAX_PRODUCT {
        // The gap is a multiple of gcd(n, m): already on scipy's lattice (`round(d · lcm)`).
        return Ok(Ks {
            statistic,
            p_value: exact_p(n, m, gap),
            method: KsMethod::Exact,
        });
    }
    let en = (n * m) as f64 / (n + m) as f64;
    Ok(Ks {
        statistic,
        p_value: kolmogorov_sf(statistic * en.sqrt()),
        method: KsMethod::Asymptotic,
    })
}

/// `max |i·m − j·n|` over the merged sorted samples, after each distinct value (`i`, `j` the
/// values of `a`, `b` at or below it): `D · n · m`, in integers.
fn max_gap(a: &[f64], b: &[f64]) -> u64 {
    let (n, m) = (a.len() as i64, b.len() as i64);
    let (mut i, mut j, mut best) = (0usize, 0usize, 0i64);
    while i < a.len() || j < b.len() {
        let x = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) | (None, Some(&x)) => x,
            (None, None) => unreachable!("the loop condition"),
        };
        while a.get(i) == Some(&x) {
            i += 1;
        }
        while b.get(j) == Some(&x) {
            j += 1;
        }
        best = best.max((i as i64 * m - j as i64 * n).abs());
    }
    best as u64
}

/// `P(max |i·m − j·n| ≥ bound)` over uniformly random interleavings of `n` and `m` values: the
/// probability mass of lattice paths from (0, 0) to (n, m) at the step where they first reach
/// the bound.
fn exact_p(n: u64, m: u64, bound: u64) -> f64 {
    if bound == 0 {
        return 1.0;
    }
    let outside =
        |i: u64, j: u64| (i as i64 * m as i64 - j as i64 * n as i64).unsigned_abs() >= bound;
    let width = (m + 1) as usize;
    // mass[j] at row i: probability of reaching (i, j) without having left the band.
    let mut mass = vec![0.0f64; width];
    mass[0] = 1.0;
    let mut exited = 0.0f64;
    for i in 0..=n {
        let mut next = vec![0.0f64; width];
        for j in 0..=m {
            let p = mass[j as usize];
            if p == 0.0 {
                continue;
            }
            let left = (n - i + m - j) as f64;
            if i < n {
                let q = p * (n - i) as f64 / left;
                if outside(i + 1, j) {
                    exited += q;
                } else {
                    next[j as usize] += q;
                }
            }
            if j < m {
                let q = p * (m - j) as f64 / left;
                if outside(i, j + 1) {
                    exited += q;
                } else {
                    mass[j as usize + 1] += q;
                }
            }
        }
        mass = next;
    }
    exited.min(1.0)
}

/// The Kolmogorov distribution's survival function `Q(x) = P(K > x)` (`scipy.stats.kstwobign.sf`):
/// the alternating series `2 Σ (−1)^{k−1} e^{−2k²x²}` for `x ≥ 1`, and for smaller `x` one
/// minus the Jacobi-theta form of the CDF, `√(2π)/x Σ e^{−(2k−1)²π²/(8x²)}`, which converges
/// fast there (each form is accurate to about 1e-16 absolute on its side).
pub fn kolmogorov_sf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if x < 1.0 {
        let w = std::f64::consts::PI * std::f64::consts::PI / (8.0 * x * x);
        let mut cdf = 0.0;
        for k in 1..=20u32 {
            let t = (-((2 * k - 1) as f64).powi(2) * w).exp();
            cdf += t;
            if t < 1e-300 {
                break;
            }
        }
        return 1.0 - (2.0 * std::f64::consts::PI).sqrt() / x * cdf;
    }
    let mut sum = 0.0;
    let mut sign = 1.0;
    for k in 1..=100u32 {
        let t = (-2.0 * (k as f64).powi(2) * x * x).exp();
        sum += sign * t;
        if t <= 1e-18 * sum.abs() || t == 0.0 {
            break;
        }
        sign = -sign;
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::drift_reference::{assert_close, cases, num, nums};

    #[test]
    fn ks_matches_scipy() {
        for case in cases("ks") {
            let name = case["name"].as_str().unwrap();
            let got = ks_2samp(&nums(case, "a"), &nums(case, "b")).unwrap();
            assert_close(
                got.statistic,
                num(case, "statistic"),
                1e-14,
                &format!("D {name}"),
            );
            let method = case["method"].as_str().unwrap();
            assert_eq!(
                got.method,
                if method == "exact" {
                    KsMethod::Exact
                } else {
                    KsMethod::Asymptotic
                },
                "{name}"
            );
            assert_close(
                got.p_value,
                num(case, "p_value"),
                1e-10,
                &format!("p {name}"),
            );
            // Against ks_2samp(method="auto") itself: the same decision at the usual levels.
            let auto = num(case, "auto_p_value");
            assert!(
                (got.p_value - auto).abs() <= 0.02 + 0.05 * auto,
                "{name}: {} against scipy's auto {auto}",
                got.p_value
            );
        }
    }

    #[test]
    fn kolmogorov_sf_matches_scipy() {
        for case in cases("kstwobign") {
            let x = num(case, "x");
            assert_close(kolmogorov_sf(x), num(case, "sf"), 1e-14, &format!("Q({x})"));
        }
    }

    #[test]
    fn identical_samples_have_no_gap() {
        let x: Vec<f64> = (0..50).map(f64::from).collect();
        let t = ks_2samp(&x, &x).unwrap();
        assert_eq!((t.statistic, t.p_value), (0.0, 1.0));
    }

    #[test]
    fn disjoint_samples_have_a_gap_of_one() {
        let t = ks_2samp(&[1.0, 2.0, 3.0], &[10.0, 11.0, 12.0, 13.0]).unwrap();
        assert_eq!(t.statistic, 1.0);
        // Two of the 35 orderings put every a before every b or every b before every a.
        assert!((t.p_value - 2.0 / 35.0).abs() < 1e-15, "{}", t.p_value);
    }

    #[test]
    fn bad_input_names_the_sample() {
        assert!(ks_2samp(&[], &[1.0])
            .unwrap_err()
            .to_string()
            .starts_with("a"));
        assert!(ks_2samp(&[1.0], &[f64::INFINITY])
            .unwrap_err()
            .to_string()
            .starts_with("b[0]"));
    }
}
