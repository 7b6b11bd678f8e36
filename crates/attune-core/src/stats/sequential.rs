//! Always-valid inference: p-values and intervals that stay valid however often an experiment
//! is looked at, so a dashboard refreshed daily (or per event) can stop an experiment early
//! without inflating false positives. A fixed-horizon test checked at 20 looks rejects a true
//! null ~25% of the time at α = 0.05 (see the peeking simulation in `simulations.rs`).
//!
//! The mixture sequential probability ratio test (mSPRT) of Johari, Koomen, Pekelis, Walsh,
//! "Peeking at A/B Tests" (KDD 2017) and "Always Valid Inference" (Operations Research 2022):
//! the likelihood ratio of "effect θ" against "θ = θ₀", averaged over θ ~ N(θ₀, τ²). For an
//! estimate `Δ̂ ~ N(θ, V)` (V its variance, e.g. `σ²_A/n_A + σ²_B/n_B` for a difference of
//! means) the mixture has the closed form
//!
//! `Λ_n = √(V/(V + τ²)) · exp( τ² (Δ̂ − θ₀)² / (2V(V + τ²)) )`
//!
//! (with `V = 2σ²/n` this is their eq. for two streams of n pairs). Λ is a martingale under
//! θ₀, so by Ville's inequality `P(sup_n Λ_n ≥ 1/α) ≤ α`, giving
//! - the always-valid p-value `p_n = min(p_{n−1}, 1/Λ_n)`, `p_0 = 1`;
//! - the always-valid interval: the θ₀ with `Λ_n(θ₀) < 1/α`,
//!   `Δ̂ ± √( V(V+τ²)/τ² · (2 ln(1/α) + ln((V+τ²)/V)) )`, intersected over looks.
//!
//! The normal model uses the plug-in variance (binary data: `p̂(1−p̂)/n` per arm), as Johari et
//! al. do; validity is asymptotic in the users per look. τ² is the prior guess of effect sizes
//! squared (the squared MDE is a good choice): any τ² keeps the guarantee, it only moves power
//! between early and late looks. scipy has no mSPRT; the reference evaluates this closed form
//! with numpy. Group-sequential (alpha-spending) boundaries are not implemented.

use super::error::{finite, non_negative, open_unit, positive, undefined, Result};
use super::proportions::Counts;
use super::summary::Summary;
use super::types::Interval;

/// `ln Λ` of the normal mixture for estimate `estimate` with variance `variance` against
/// `θ₀ = 0`, mixing variance `tau2`.
pub fn log_likelihood_ratio(estimate: f64, variance: f64, tau2: f64) -> Result<f64> {
    let (d, v, t) = checked(estimate, variance, tau2)?;
    Ok(ln_lambda(d, v, t))
}

/// The always-valid interval of one look at level `1 − alpha` (not yet intersected with
/// earlier looks; [`Msprt`] does that).
pub fn always_valid_interval(
    estimate: f64,
    variance: f64,
    tau2: f64,
    alpha: f64,
) -> Result<Interval> {
    let (d, v, t) = checked(estimate, variance, tau2)?;
    let alpha = open_unit("alpha", alpha)?;
    Ok(interval(d, v, t, alpha))
}

fn checked(estimate: f64, variance: f64, tau2: f64) -> Result<(f64, f64, f64)> {
    let d = finite("estimate", estimate)?;
    let v = non_negative("variance", variance)?;
    if v == 0.0 {
        return Err(undefined(
            "mSPRT likelihood ratio",
            "the estimate's variance is 0; look again once both arms vary",
        ));
    }
    Ok((d, v, positive("tau2", tau2)?))
}

fn ln_lambda(d: f64, v: f64, tau2: f64) -> f64 {
    0.5 * (v / (v + tau2)).ln() + tau2 * d * d / (2.0 * v * (v + tau2))
}

fn interval(d: f64, v: f64, tau2: f64, alpha: f64) -> Interval {
    let half = (v * (v + tau2) / tau2 * (-2.0 * alpha.ln() + ((v + tau2) / v).ln())).sqrt();
    Interval::around(d, half)
}

/// What one look reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Look {
    /// `ln Λ_n` at this look.
    pub log_lambda: f64,
    /// The always-valid p-value so far, `min_k 1/Λ_k` (never increases).
    pub p_value: f64,
    /// The always-valid interval so far (the intersection over looks, never widens).
    pub interval: Interval,
    /// `p_value <= alpha`: the experiment may stop with a significant result.
    pub reject: bool,
}

/// A running mSPRT over the looks of one experiment (one metric, B − A).
#[derive(Debug, Clone, PartialEq)]
pub struct Msprt {
    tau2: f64,
    alpha: f64,
    p_value: f64,
    interval: Interval,
    looks: u64,
}

impl Msprt {
    /// A monitor with mixing variance `tau2 > 0` and level `0 < alpha < 1`.
    pub fn new(tau2: f64, alpha: f64) -> Result<Self> {
        Ok(Self {
            tau2: positive("tau2", tau2)?,
            alpha: open_unit("alpha", alpha)?,
            p_value: 1.0,
            interval: Interval {
                low: f64::NEG_INFINITY,
                high: f64::INFINITY,
            },
            looks: 0,
        })
    }

    /// Record a look at the cumulative estimate `Δ̂` (B − A) with variance `V`.
    ///
    /// A look with `V = 0` (no variation yet) is refused and leaves the monitor unchanged. If a
    /// look's interval misses the running one entirely (possible only when the normal model is
    /// badly off), the running interval is kept.
    pub fn observe(&mut self, estimate: f64, variance: f64) -> Result<Look> {
        let (d, v, tau2) = checked(estimate, variance, self.tau2)?;
        let log_lambda = ln_lambda(d, v, tau2);
        self.p_value = self.p_value.min((-log_lambda).exp());
        let now = interval(d, v, tau2, self.alpha);
        let (low, high) = (
            self.interval.low.max(now.low),
            self.interval.high.min(now.high),
        );
        if low <= high {
            self.interval = Interval { low, high };
        }
        self.looks += 1;
        Ok(Look {
            log_lambda,
            p_value: self.p_value,
            interval: self.interval,
            reject: self.p_value <= self.alpha,
        })
    }

    /// A look at cumulative conversion counts: `Δ̂ = p̂_B − p̂_A`,
    /// `V = p̂_A(1−p̂_A)/n_A + p̂_B(1−p̂_B)/n_B`.
    pub fn observe_proportions(&mut self, a: Counts, b: Counts) -> Result<Look> {
        let (p_a, p_b) = (a.check("a")?, b.check("b")?);
        self.observe(p_b - p_a, a.variance_of_rate() + b.variance_of_rate())
    }

    /// A look at cumulative per-user means: `Δ̂ = x̄_B − x̄_A`, `V = s²_A/n_A + s²_B/n_B`.
    pub fn observe_means(&mut self, a: &Summary, b: &Summary) -> Result<Look> {
        a.check("a")?;
        b.check("b")?;
        self.observe(b.mean - a.mean, a.variance_of_mean() + b.variance_of_mean())
    }

    /// The always-valid p-value so far (1 before the first look).
    pub fn p_value(&self) -> f64 {
        self.p_value
    }

    /// The always-valid interval so far (the whole line before the first look).
    pub fn interval(&self) -> Interval {
        self.interval
    }

    /// Looks recorded.
    pub fn looks(&self) -> u64 {
        self.looks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::reference::{assert_close, cases, ints, name, num, nums};

    #[test]
    fn running_values_match_the_numpy_closed_form() {
        for c in cases("sequential", "proportions") {
            let what = name(c);
            let mut m = Msprt::new(num(c, "tau2"), num(c, "alpha")).unwrap();
            let (sa, na, sb, nb) = (
                ints(c, "a_successes"),
                ints(c, "a_trials"),
                ints(c, "b_successes"),
                ints(c, "b_trials"),
            );
            let (ll, p, low, high) = (
                nums(c, "log_lambda"),
                nums(c, "p"),
                nums(c, "low"),
                nums(c, "high"),
            );
            for k in 0..sa.len() {
                let look = m
                    .observe_proportions(
                        Counts {
                            successes: sa[k],
                            trials: na[k],
                        },
                        Counts {
                            successes: sb[k],
                            trials: nb[k],
                        },
                    )
                    .unwrap();
                assert_close(look.log_lambda, ll[k], &format!("{what}: ln Λ at look {k}"));
                assert_close(look.p_value, p[k], &format!("{what}: p at look {k}"));
                assert_close(
                    look.interval.low,
                    low[k],
                    &format!("{what}: low at look {k}"),
                );
                assert_close(
                    look.interval.high,
                    high[k],
                    &format!("{what}: high at look {k}"),
                );
            }
            assert_eq!(m.looks(), sa.len() as u64);
        }
        for c in cases("sequential", "means") {
            let what = name(c);
            let (d, v, tau2, alpha) = (
                num(c, "estimate"),
                num(c, "variance"),
                num(c, "tau2"),
                num(c, "alpha"),
            );
            let l = log_likelihood_ratio(d, v, tau2).unwrap();
            assert_close(l, num(c, "log_lambda"), &format!("{what}: ln Λ"));
            let i = always_valid_interval(d, v, tau2, alpha).unwrap();
            assert_close(i.low, num(c, "low"), &format!("{what}: low"));
            assert_close(i.high, num(c, "high"), &format!("{what}: high"));
        }
    }

    #[test]
    fn the_interval_is_where_lambda_is_below_one_over_alpha() {
        let (d, v, tau2, alpha) = (0.004, 1.3e-6, 1e-5, 0.05);
        let i = always_valid_interval(d, v, tau2, alpha).unwrap();
        for edge in [i.low, i.high] {
            let l = log_likelihood_ratio(d - edge, v, tau2).unwrap();
            assert!((l - (1.0 / alpha).ln()).abs() < 1e-9, "{l}");
        }
    }

    #[test]
    fn p_value_never_rises_and_interval_never_widens() {
        let mut m = Msprt::new(1e-4, 0.05).unwrap();
        let mut last = m.clone();
        for (k, d) in [0.01, 0.002, 0.03, -0.01, 0.0].into_iter().enumerate() {
            let look = m.observe(d, 1e-4 / (k + 1) as f64).unwrap();
            assert!(look.p_value <= last.p_value());
            assert!(
                look.interval.low >= last.interval().low
                    && look.interval.high <= last.interval().high
            );
            last = m.clone();
        }
    }

    #[test]
    fn rules_name_the_argument() {
        assert!(Msprt::new(0.0, 0.05)
            .unwrap_err()
            .to_string()
            .starts_with("tau2:"));
        assert!(Msprt::new(1.0, 1.0)
            .unwrap_err()
            .to_string()
            .starts_with("alpha:"));
        let mut m = Msprt::new(1.0, 0.05).unwrap();
        let none = Counts {
            successes: 0,
            trials: 10,
        };
        assert!(m.observe_proportions(none, none).is_err());
        assert_eq!(m.looks(), 0);
        assert!(m
            .observe(f64::NAN, 1.0)
            .unwrap_err()
            .to_string()
            .starts_with("estimate:"));
    }
}
