//! Bayesian comparison of two conversion rates under the Beta–Binomial model: with a
//! `Beta(α, β)` prior, group g's rate has posterior `Beta(α + x_g, β + n_g − x_g)`.
//!
//! - **P(B beats A)** by Evan Miller's exact sum ("Formulas for Bayesian A/B Testing", 2015),
//!   valid when `α_B` is a whole number:
//!   `P(p_B > p_A) = Σ_{i=0}^{α_B−1} B(α_A+i, β_A+β_B) / ((β_B+i) B(1+i, β_B) B(α_A, β_A))`.
//! - **Expected loss** of choosing a variant, the rate given up if the other is better
//!   (Stucchio 2015, "Bayesian A/B Testing at VWO", §4): with `m = α/(α+β)` the posterior
//!   mean and primes marking `α + 1`,
//!   `E[max(p_B − p_A, 0)] = m_B P(p_B' > p_A) − m_A P(p_B > p_A')` (loss of choosing A),
//!   and symmetrically for B. Every probability is its own exact sum, never `1 − P`, so small
//!   losses keep their relative precision.
//!
//! Each sum has `α` terms (the conversions), each an accurate `ln B` (see `special.rs`), so
//! 10⁵ conversions cost a few milliseconds. The prior's `alpha` must be a whole number for the
//! closed form (Beta(1, 1), the uniform prior, is the default); the reference is
//! `scipy.integrate.quad` over the posterior densities.

use super::error::{invalid, positive, Result};
use super::proportions::Counts;
use super::special::ln_beta;

/// The Beta prior shared by both groups.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BetaPrior {
    /// Prior successes plus one: a whole number >= 1 (Evan Miller's sum needs it).
    pub alpha: f64,
    /// Prior failures plus one: > 0.
    pub beta: f64,
}

impl Default for BetaPrior {
    /// The uniform prior Beta(1, 1).
    fn default() -> Self {
        Self {
            alpha: 1.0,
            beta: 1.0,
        }
    }
}

/// The posterior comparison of B against A.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BayesComparison {
    /// `P(p_B > p_A)` under the posteriors.
    pub prob_b_beats_a: f64,
    /// `E[max(p_B − p_A, 0)]`: conversion rate lost by shipping A if B is better.
    pub expected_loss_a: f64,
    /// `E[max(p_A − p_B, 0)]`: conversion rate lost by shipping B if A is better.
    pub expected_loss_b: f64,
}

/// Largest number of terms a sum may take (10⁷ conversions ≈ a second); beyond it the
/// posterior is so narrow that a normal approximation would do, and we refuse rather than stall.
const MAX_TERMS: f64 = 1e7;

/// `P(X > Y)` for `X ~ Beta(ax, bx)`, `Y ~ Beta(ay, by)`, `ax` whole.
fn prob_greater(ax: f64, bx: f64, ay: f64, by: f64) -> f64 {
    let base = ln_beta(ay, by);
    let mut sum = 0.0;
    let mut i = 0.0;
    while i < ax {
        sum += (ln_beta(ay + i, by + bx) - (bx + i).ln() - ln_beta(1.0 + i, bx) - base).exp();
        i += 1.0;
    }
    sum.clamp(0.0, 1.0)
}

/// `P(p_B > p_A)` for posteriors `Beta(alpha_a, beta_a)` and `Beta(alpha_b, beta_b)`;
/// `alpha_b` must be a whole number.
pub fn prob_b_beats_a(alpha_a: f64, beta_a: f64, alpha_b: f64, beta_b: f64) -> Result<f64> {
    let alpha_a = positive("alpha_a", alpha_a)?;
    let beta_a = positive("beta_a", beta_a)?;
    let alpha_b = whole("alpha_b", alpha_b)?;
    let beta_b = positive("beta_b", beta_b)?;
    Ok(prob_greater(alpha_b, beta_b, alpha_a, beta_a))
}

fn whole(field: &str, x: f64) -> Result<f64> {
    positive(field, x)?;
    if x.fract() != 0.0 {
        return Err(invalid(
            field,
            format!("must be a whole number for the exact sum (got {x})"),
        ));
    }
    if x > MAX_TERMS {
        return Err(invalid(
            field,
            format!("must be at most {MAX_TERMS} (the number of terms of the exact sum; got {x})"),
        ));
    }
    Ok(x)
}

/// The posterior comparison of two groups' conversions under `prior`.
pub fn compare(a: Counts, b: Counts, prior: &BetaPrior) -> Result<BayesComparison> {
    // No trials is fine here: the posterior is then the prior.
    a.check_successes("a")?;
    b.check_successes("b")?;
    whole("prior.alpha", prior.alpha)?;
    positive("prior.beta", prior.beta)?;
    let post = |c: Counts| {
        (
            prior.alpha + c.successes as f64,
            prior.beta + (c.trials - c.successes) as f64,
        )
    };
    let ((aa, ba), (ab, bb)) = (post(a), post(b));
    for (field, alpha) in [("a.successes", aa), ("b.successes", ab)] {
        if alpha + 1.0 > MAX_TERMS {
            return Err(invalid(
                field,
                format!("must be below {MAX_TERMS} − prior.alpha (the exact sum's terms)"),
            ));
        }
    }
    let (mean_a, mean_b) = (aa / (aa + ba), ab / (ab + bb));
    let loss_a =
        mean_b * prob_greater(ab + 1.0, bb, aa, ba) - mean_a * prob_greater(ab, bb, aa + 1.0, ba);
    let loss_b =
        mean_a * prob_greater(aa + 1.0, ba, ab, bb) - mean_b * prob_greater(aa, ba, ab + 1.0, bb);
    Ok(BayesComparison {
        prob_b_beats_a: prob_greater(ab, bb, aa, ba),
        expected_loss_a: loss_a.max(0.0),
        expected_loss_b: loss_b.max(0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::reference::{assert_close, cases, int, name, num};

    #[test]
    fn matches_scipy_quadrature() {
        for c in cases("bayes", "cases") {
            let what = name(c);
            let a = Counts {
                successes: int(c, "a_successes"),
                trials: int(c, "a_trials"),
            };
            let b = Counts {
                successes: int(c, "b_successes"),
                trials: int(c, "b_trials"),
            };
            let prior = BetaPrior {
                alpha: num(c, "prior_alpha"),
                beta: num(c, "prior_beta"),
            };
            let r = compare(a, b, &prior).unwrap();
            assert_close(
                r.prob_b_beats_a,
                num(c, "prob_b_beats_a"),
                &format!("{what}: P(B > A)"),
            );
            assert_close(
                r.expected_loss_a,
                num(c, "loss_a"),
                &format!("{what}: loss of A"),
            );
            assert_close(
                r.expected_loss_b,
                num(c, "loss_b"),
                &format!("{what}: loss of B"),
            );
        }
    }

    #[test]
    fn closed_forms_and_symmetry() {
        // No data: two uniform posteriors, P = ½, each loss E[max(U − V, 0)] = 1/6.
        let none = Counts {
            successes: 0,
            trials: 0,
        };
        let r = compare(none, none, &BetaPrior::default()).unwrap();
        assert!((r.prob_b_beats_a - 0.5).abs() < 1e-14);
        assert!((r.expected_loss_a - 1.0 / 6.0).abs() < 1e-14, "{r:?}");
        assert!((r.expected_loss_b - 1.0 / 6.0).abs() < 1e-14, "{r:?}");
        assert!((prob_b_beats_a(1.0, 1.0, 1.0, 1.0).unwrap() - 0.5).abs() < 1e-14);
        let a = Counts {
            successes: 30,
            trials: 1000,
        };
        let b = Counts {
            successes: 42,
            trials: 1000,
        };
        let ab = compare(a, b, &BetaPrior::default()).unwrap();
        let ba = compare(b, a, &BetaPrior::default()).unwrap();
        assert!((ab.prob_b_beats_a + ba.prob_b_beats_a - 1.0).abs() < 1e-13);
        assert!((ab.expected_loss_a - ba.expected_loss_b).abs() < 1e-15);
        // loss_A − loss_B = E[p_B − p_A].
        let diff = 43.0 / 1002.0 - 31.0 / 1002.0;
        assert!((ab.expected_loss_a - ab.expected_loss_b - diff).abs() < 1e-14);
    }

    #[test]
    fn rules_name_the_argument() {
        let e = prob_b_beats_a(1.0, 1.0, 1.5, 1.0).unwrap_err();
        assert!(
            e.to_string().starts_with("alpha_b: must be a whole number"),
            "{e}"
        );
        let c = Counts {
            successes: 1,
            trials: 10,
        };
        let e = compare(
            c,
            c,
            &BetaPrior {
                alpha: 0.5,
                beta: 0.5,
            },
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("prior.alpha:"), "{e}");
        let e = compare(
            c,
            Counts {
                successes: 11,
                trials: 10,
            },
            &BetaPrior::default(),
        );
        assert!(e.unwrap_err().to_string().starts_with("b.successes:"));
        let e = compare(
            c,
            c,
            &BetaPrior {
                alpha: 1.0,
                beta: 0.0,
            },
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("prior.beta:"), "{e}");
    }
}
