//! Sample-ratio mismatch: did the assignment deliver the traffic split it was configured with?
//!
//! A mismatch (say 50.6% / 49.4% on a million users configured 50/50) means users were lost or
//! duplicated unevenly — a redirect that drops some, a bot filter that hits one arm — and the
//! experiment's comparison is biased whatever its p-value says. Kohavi et al. (2020),
//! *Trustworthy Online Controlled Experiments*, ch. 21, recommend Pearson's χ² goodness of fit
//! and alarming below p = 0.001, strict because the check runs on every experiment and every
//! day.
//!
//! [`check`] is `scipy.stats.chisquare(observed, f_exp=shares·N)`: `χ² = Σ (O−E)²/E` on
//! `k − 1` degrees of freedom.

use super::dist::chi2_upper;
use super::error::{at_least, invalid, positive, Result};
use super::types::TestResult;

/// An SRM is flagged when the goodness-of-fit p-value is below this.
pub const SRM_P_VALUE_THRESHOLD: f64 = 0.001;

/// The verdict of an SRM check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SrmResult {
    /// The χ² goodness-of-fit test (`df = k − 1`).
    pub test: TestResult,
    /// `p_value < SRM_P_VALUE_THRESHOLD`: do not trust this experiment's comparisons.
    pub mismatch: bool,
}

/// χ² goodness of fit of the `observed` units per variant against `expected_shares` (each
/// `> 0`, summing to 1 within 1e-9; same order and length, at least two variants).
pub fn check(observed: &[u64], expected_shares: &[f64]) -> Result<SrmResult> {
    at_least("observed.len()", observed.len() as u64, 2)?;
    if expected_shares.len() != observed.len() {
        return Err(invalid(
            "expected_shares.len()",
            format!(
                "must equal observed.len() = {} (got {})",
                observed.len(),
                expected_shares.len()
            ),
        ));
    }
    for (i, &s) in expected_shares.iter().enumerate() {
        positive(format!("expected_shares[{i}]"), s)?;
    }
    let share_sum: f64 = expected_shares.iter().sum();
    if (share_sum - 1.0).abs() > 1e-9 {
        return Err(invalid(
            "expected_shares",
            format!("must sum to 1 within 1e-9 (got {share_sum})"),
        ));
    }
    let total: u64 = observed.iter().sum();
    at_least("observed (total)", total, 1)?;
    let total = total as f64;
    let statistic: f64 = observed
        .iter()
        .zip(expected_shares)
        .map(|(&o, &share)| {
            let expected = share * total;
            (o as f64 - expected).powi(2) / expected
        })
        .sum();
    let df = (observed.len() - 1) as f64;
    let p_value = chi2_upper(statistic, df);
    Ok(SrmResult {
        test: TestResult {
            statistic,
            p_value,
            df: Some(df),
        },
        mismatch: p_value < SRM_P_VALUE_THRESHOLD,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::reference::{assert_close, cases, ints, name, num, nums};

    #[test]
    fn matches_scipy_chisquare() {
        for c in cases("srm", "cases") {
            let what = name(c);
            let r = check(&ints(c, "observed"), &nums(c, "shares")).unwrap();
            assert_close(r.test.statistic, num(c, "chi2"), &format!("{what}: χ²"));
            assert_close(r.test.p_value, num(c, "p"), &format!("{what}: p"));
            assert_eq!(
                r.mismatch,
                c["mismatch"].as_bool().unwrap(),
                "{what}: mismatch"
            );
        }
    }

    #[test]
    fn a_small_imbalance_on_a_big_experiment_is_flagged() {
        // 50.3% / 49.7% of 1M users configured 50/50: χ² = 36, p ≈ 2e-9.
        let r = check(&[503_000, 497_000], &[0.5, 0.5]).unwrap();
        assert!(r.mismatch && (r.test.statistic - 36.0).abs() < 1e-9);
        // The same split on 10k users is noise.
        assert!(!check(&[5030, 4970], &[0.5, 0.5]).unwrap().mismatch);
    }

    #[test]
    fn rules_name_the_argument() {
        let e = check(&[10, 10], &[0.5, 0.6]).unwrap_err();
        assert!(
            e.to_string().starts_with("expected_shares: must sum to 1"),
            "{e}"
        );
        let e = check(&[10, 10], &[1.0, 0.0]).unwrap_err();
        assert!(e.to_string().starts_with("expected_shares[1]:"), "{e}");
        assert!(check(&[10], &[1.0]).is_err());
        assert!(check(&[10, 10, 10], &[0.5, 0.5]).is_err());
        assert!(check(&[0, 0], &[0.5, 0.5]).is_err());
        // 1/3 three times sums to 1 within rounding.
        assert!(check(&[10, 11, 12], &[1.0 / 3.0; 3]).is_ok());
    }
}
