//! Per-arm ridge regression shared by [`LinUcb`](super::LinUcb) and
//! [`LinThompson`](super::LinThompson): `A_a = λI + Σ x xᵀ`, `θ_a = A_a⁻¹ Σ r x`.
//!
//! Why a Cholesky refactorization per batch rather than Sherman–Morrison rank-one updates of
//! `A⁻¹`: serving updates in batches, so one `d³/3` factorization per touched arm per batch is
//! cheap for the dimensions a context has here (a one-hot segment, a few dozen user
//! features), rounding does not accumulate over millions of updates, and the state stays the
//! additive sufficient statistics (no inverse to persist or to merge). The factor `L` gives
//! both what LinUCB needs, `xᵀA⁻¹x = ‖L⁻¹x‖²`, and what linear Thompson sampling needs.

use super::{BanditError, ContextualReward, LinearState};
use crate::model::linalg::{cholesky, cholesky_solve, dot64};

/// Ridge statistics, their Cholesky factors and the fitted weights of every arm.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LinearArms {
    lambda: f64,
    state: LinearState,
    /// Lower Cholesky factor of `A_a` per arm (`K·d·d`; only the lower triangle is read).
    chol: Vec<f64>,
    /// `θ_a` per arm (`K·d`).
    theta: Vec<f64>,
}

impl LinearArms {
    /// Factor every arm of a validated-here `state` with ridge `lambda > 0`.
    pub(crate) fn new(
        state: LinearState,
        lambda: f64,
        n_arms: usize,
        dim: usize,
    ) -> Result<Self, BanditError> {
        state.validate_for(n_arms, dim)?;
        let mut arms = Self {
            lambda,
            chol: vec![0.0; n_arms * dim * dim],
            theta: vec![0.0; n_arms * dim],
            state,
        };
        for a in 0..n_arms {
            arms.refactor(a)?;
        }
        Ok(arms)
    }

    pub(crate) fn state(&self) -> &LinearState {
        &self.state
    }

    pub(crate) fn dim(&self) -> usize {
        self.state.dim
    }

    /// `θ_a`, the ridge estimate of `arm`'s weights.
    pub(crate) fn theta(&self, arm: usize) -> &[f64] {
        let d = self.dim();
        &self.theta[arm * d..(arm + 1) * d]
    }

    /// Recompute `arm`'s factor and weights from the statistics.
    fn refactor(&mut self, arm: usize) -> Result<(), BanditError> {
        let d = self.dim();
        let l = &mut self.chol[arm * d * d..(arm + 1) * d * d];
        l.copy_from_slice(self.state.gram_of(arm));
        for i in 0..d {
            l[i * d + i] += self.lambda;
        }
        cholesky(l, d).map_err(|e| {
            BanditError::state(
                format!("gram[{arm}]"),
                format!(
                    "λI + gram is not positive definite (row {}): not a Gram matrix",
                    e.row
                ),
            )
        })?;
        let theta = &mut self.theta[arm * d..(arm + 1) * d];
        theta.copy_from_slice(self.state.xty_of(arm));
        cholesky_solve(l, d, theta);
        Ok(())
    }

    /// The context has length `d` and finite entries.
    pub(crate) fn check_context(&self, x: &[f64]) -> Result<(), BanditError> {
        if x.len() != self.dim() {
            return Err(BanditError::ContextDimension {
                expected: self.dim(),
                received: x.len(),
            });
        }
        match x.iter().position(|v| !v.is_finite()) {
            Some(index) => Err(BanditError::NonFiniteContext {
                index,
                value: x[index],
            }),
            None => Ok(()),
        }
    }

    /// `(xᵀθ_a, √(xᵀA_a⁻¹x))` for every arm, into `means` and `widths` (`x` checked).
    pub(crate) fn means_and_widths(&self, x: &[f64], means: &mut [f64], widths: &mut [f64]) {
        let d = self.dim();
        let mut y = vec![0.0; d];
        for a in 0..self.state.n_arms() {
            means[a] = dot64(x, self.theta(a));
            // Forward substitution L y = x; then xᵀA⁻¹x = yᵀy.
            let l = &self.chol[a * d * d..(a + 1) * d * d];
            for i in 0..d {
                y[i] = (x[i] - dot64(&l[i * d..i * d + i], &y[..i])) / l[i * d + i];
            }
            widths[a] = dot64(&y, &y).sqrt();
        }
    }

    /// Record a batch: every entry is checked first, then applied to a copy whose touched
    /// arms are refactored; the copy replaces `self` only if all of that succeeded.
    pub(crate) fn update_batch(
        &mut self,
        batch: &[ContextualReward<'_>],
    ) -> Result<(), BanditError> {
        let n_arms = self.state.n_arms();
        for o in batch {
            self.check_context(o.context)?;
            if o.arm >= n_arms {
                return Err(BanditError::ArmOutOfRange { arm: o.arm, n_arms });
            }
            if !o.reward.is_finite() {
                return Err(BanditError::InvalidReward {
                    arm: o.arm,
                    reward: o.reward,
                    rule: "must be a finite number",
                });
            }
        }
        let mut next = self.clone();
        let mut touched = vec![false; n_arms];
        for o in batch {
            next.state.record(o.arm, o.context, o.reward);
            touched[o.arm] = true;
        }
        for (a, _) in touched.iter().enumerate().filter(|(_, &t)| t) {
            next.refactor(a)?;
        }
        *self = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn theta_solves_the_ridge_normal_equations() {
        // Oracle: (λI + XᵀX) θ = Xᵀr, checked by multiplying back.
        let (d, lambda) = (4, 0.5);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let rows: Vec<Vec<f64>> = (0..30)
            .map(|_| (0..d).map(|_| rng.random_range(-1.0..1.0)).collect())
            .collect();
        let rewards: Vec<f64> = (0..30).map(|_| rng.random_range(0.0..2.0)).collect();
        let batch: Vec<_> = rows
            .iter()
            .zip(&rewards)
            .map(|(x, &r)| ContextualReward {
                context: x,
                arm: 0,
                reward: r,
            })
            .collect();
        let mut arms = LinearArms::new(LinearState::new(2, d), lambda, 2, d).unwrap();
        arms.update_batch(&batch).unwrap();
        let theta = arms.theta(0);
        for i in 0..d {
            let lhs: f64 =
                lambda * theta[i] + rows.iter().map(|x| x[i] * dot64(x, theta)).sum::<f64>();
            let rhs: f64 = rows.iter().zip(&rewards).map(|(x, r)| r * x[i]).sum();
            assert!((lhs - rhs).abs() < 1e-10, "row {i}: {lhs} vs {rhs}");
        }
        assert_eq!(arms.theta(1), &[0.0; 4]);
    }

    #[test]
    fn one_hot_contexts_give_shrunk_segment_means_and_widths() {
        // With a one-hot context, θ_a[s] = Σ r / (n + λ) and the width is 1/√(n + λ).
        let mut arms = LinearArms::new(LinearState::new(1, 2), 1.0, 1, 2).unwrap();
        let x = [0.0, 1.0];
        let batch: Vec<_> = [1.0, 0.0, 1.0]
            .iter()
            .map(|&r| ContextualReward {
                context: &x,
                arm: 0,
                reward: r,
            })
            .collect();
        arms.update_batch(&batch).unwrap();
        let (mut m, mut w) = ([0.0], [0.0]);
        arms.means_and_widths(&x, &mut m, &mut w);
        assert!((m[0] - 2.0 / 4.0).abs() < 1e-12);
        assert!((w[0] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn a_batch_with_a_bad_context_changes_nothing() {
        let mut arms = LinearArms::new(LinearState::new(2, 2), 1.0, 2, 2).unwrap();
        let before = arms.clone();
        let good = [1.0, 0.0];
        let bad = [1.0, f64::NAN];
        let e = arms
            .update_batch(&[
                ContextualReward {
                    context: &good,
                    arm: 0,
                    reward: 1.0,
                },
                ContextualReward {
                    context: &bad,
                    arm: 1,
                    reward: 1.0,
                },
            ])
            .unwrap_err();
        assert!(matches!(e, BanditError::NonFiniteContext { index: 1, .. }));
        let e = arms
            .update_batch(&[ContextualReward {
                context: &[1.0],
                arm: 0,
                reward: 1.0,
            }])
            .unwrap_err();
        assert_eq!(
            e,
            BanditError::ContextDimension {
                expected: 2,
                received: 1
            }
        );
        assert_eq!(arms, before);
    }

    #[test]
    fn a_state_that_is_not_a_gram_matrix_is_refused() {
        // Symmetric with a non-negative diagonal, but indefinite beyond what λ covers.
        let mut s = LinearState::new(1, 2);
        s.counts[0] = 1;
        s.gram.copy_from_slice(&[1.0, 10.0, 10.0, 1.0]);
        let e = LinearArms::new(s, 1.0, 1, 2).unwrap_err();
        assert!(matches!(e, BanditError::InvalidState { ref field, .. } if field == "gram[0]"));
    }
}
