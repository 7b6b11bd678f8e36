//! [`Regret`]: how much a policy lost against always playing the best arm, for simulations
//! where the true arm means are known.
//!
//! The expected (pseudo-)regret after `T` impressions is `Σ_t (max_a μ_a(x_t) − μ_{a_t}(x_t))`,
//! with the means of the context each impression was served in. It uses the means rather than
//! the rewards drawn, so it measures the decisions and not the luck of the draws (Bubeck &
//! Cesa-Bianchi 2012, "Regret Analysis of Stochastic and Nonstochastic Multi-armed Bandit
//! Problems", §1). Alongside it the realized share of pulls per arm, and the share that went to
//! the best arm of its context.

use super::BanditError;

/// Running regret and pull counts of one policy in one simulation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Regret {
    pulls: Vec<u64>,
    best_pulls: u64,
    cumulative: f64,
}

impl Regret {
    /// Nothing recorded yet, over `n_arms` arms.
    pub fn new(n_arms: usize) -> Self {
        Self {
            pulls: vec![0; n_arms],
            best_pulls: 0,
            cumulative: 0.0,
        }
    }

    /// One impression served with `arm`, where the arms' true mean rewards (in this
    /// impression's context) are `true_means`.
    pub fn record(&mut self, arm: usize, true_means: &[f64]) -> Result<(), BanditError> {
        if true_means.len() != self.pulls.len() {
            return Err(BanditError::ShapeMismatch {
                field: "true_means",
                expected: self.pulls.len(),
                received: true_means.len(),
            });
        }
        if arm >= self.pulls.len() {
            return Err(BanditError::ArmOutOfRange {
                arm,
                n_arms: self.pulls.len(),
            });
        }
        let best = true_means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        self.cumulative += best - true_means[arm];
        self.pulls[arm] += 1;
        if true_means[arm] == best {
            self.best_pulls += 1;
        }
        Ok(())
    }

    /// Cumulative expected regret so far.
    pub fn cumulative(&self) -> f64 {
        self.cumulative
    }

    /// Impressions recorded.
    pub fn total(&self) -> u64 {
        self.pulls.iter().sum()
    }

    /// Pulls per arm.
    pub fn pulls(&self) -> &[u64] {
        &self.pulls
    }

    /// Realized share of the impressions per arm (zeros before any).
    pub fn shares(&self) -> Vec<f64> {
        let total = self.total().max(1) as f64;
        self.pulls.iter().map(|&n| n as f64 / total).collect()
    }

    /// Share of the impressions that went to the best arm of their context.
    pub fn best_share(&self) -> f64 {
        self.best_pulls as f64 / self.total().max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regret_adds_the_gap_of_each_pull() {
        let mut r = Regret::new(3);
        let means = [0.05, 0.055, 0.06];
        for arm in [0, 1, 2, 2] {
            r.record(arm, &means).unwrap();
        }
        assert!((r.cumulative() - 0.015).abs() < 1e-15);
        assert_eq!(r.pulls(), &[1, 1, 2]);
        assert_eq!(r.shares(), vec![0.25, 0.25, 0.5]);
        assert_eq!(r.best_share(), 0.5);
    }

    #[test]
    fn the_best_arm_is_per_context() {
        let mut r = Regret::new(2);
        r.record(0, &[0.1, 0.0]).unwrap();
        r.record(1, &[0.0, 0.1]).unwrap();
        assert_eq!((r.cumulative(), r.best_share()), (0.0, 1.0));
    }

    #[test]
    fn shapes_are_checked() {
        let mut r = Regret::new(2);
        assert!(matches!(
            r.record(0, &[0.1]),
            Err(BanditError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            r.record(2, &[0.1, 0.2]),
            Err(BanditError::ArmOutOfRange { .. })
        ));
        assert_eq!(r.total(), 0);
    }
}
