//! [`ArmsState`]: what a non-contextual policy knows, as plain numbers a store can keep.
//!
//! Every non-contextual policy here (Thompson Beta–Bernoulli, Thompson Gaussian, UCB1,
//! ε-greedy) is a function of its checked parameters and, per arm, the number of pulls, the sum
//! of the rewards and the sum of their squares: the sufficient statistics of both reward
//! models. So the state is policy-independent: a store saves it, every replica rebuilds the
//! same policy from configuration + state, and an experiment can even switch policy over the
//! same history.
//!
//! Replicas that update separately share through deltas (see `docs/bandits.md`): a replica
//! remembers the `base` it loaded, sends `local.delta_since(&base)`, and the store applies
//! `stored.merge(&delta)`. Merging adds, so deltas commute and every replica's outcomes are
//! counted once, whatever the order they arrive in.

use super::BanditError;

/// Relative slack for floating-point checks on sums (rounding in long additions).
const REL_TOL: f64 = 1e-9;

/// Per-arm sufficient statistics of the rewards seen: `counts[i]` pulls of arm `i` whose
/// rewards sum to `sums[i]` and whose squares sum to `sums_sq[i]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ArmsState {
    /// Rewards recorded per arm.
    pub counts: Vec<u64>,
    /// Sum of the rewards per arm.
    pub sums: Vec<f64>,
    /// Sum of the squared rewards per arm.
    pub sums_sq: Vec<f64>,
}

impl ArmsState {
    /// The state of `n_arms` arms that have seen nothing.
    pub fn new(n_arms: usize) -> Self {
        Self {
            counts: vec![0; n_arms],
            sums: vec![0.0; n_arms],
            sums_sq: vec![0.0; n_arms],
        }
    }

    /// Number of arms (the length of `counts`).
    pub fn n_arms(&self) -> usize {
        self.counts.len()
    }

    /// Rewards recorded over all arms.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Mean reward of `arm`, `None` if it has none (or the arm does not exist).
    pub fn mean(&self, arm: usize) -> Option<f64> {
        match self.counts.get(arm) {
            Some(&n) if n > 0 => Some(self.sums[arm] / n as f64),
            _ => None,
        }
    }

    /// Check that these numbers could have been written by a policy: equal lengths, finite
    /// sums, non-negative squares, nothing summed for an arm without pulls, and
    /// `n · Σr² ≥ (Σr)²` (Cauchy–Schwarz: the variance is not negative).
    pub fn validate(&self) -> Result<(), BanditError> {
        let n = self.counts.len();
        for (field, len) in [("sums", self.sums.len()), ("sums_sq", self.sums_sq.len())] {
            if len != n {
                return Err(BanditError::state(
                    field,
                    format!("has {len} entries; `counts` has {n}"),
                ));
            }
        }
        for i in 0..n {
            let (c, s, q) = (self.counts[i], self.sums[i], self.sums_sq[i]);
            if !s.is_finite() {
                return Err(BanditError::state(
                    format!("sums[{i}]"),
                    format!("{s} is not finite"),
                ));
            }
            if !q.is_finite() || q < 0.0 {
                return Err(BanditError::state(
                    format!("sums_sq[{i}]"),
                    format!("{q} must be a finite number >= 0"),
                ));
            }
            if c == 0 && (s != 0.0 || q != 0.0) {
                return Err(BanditError::state(
                    format!("sums[{i}]"),
                    "an arm with no pulls must have zero sums",
                ));
            }
            let lhs = c as f64 * q;
            if lhs < s * s - REL_TOL * (s * s).max(lhs) {
                return Err(BanditError::state(
                    format!("sums_sq[{i}]"),
                    format!("{q} is below sums² / counts = {}", s * s / c as f64),
                ));
            }
        }
        Ok(())
    }

    /// The state of both sides' pulls: element-wise sums. Use it to apply a replica's delta to
    /// the stored state; it is commutative and associative (up to float rounding).
    pub fn merge(&self, other: &ArmsState) -> Result<ArmsState, BanditError> {
        check_same_arms(self, other)?;
        Ok(ArmsState {
            counts: zip(&self.counts, &other.counts, |a, b| a + b),
            sums: zip(&self.sums, &other.sums, |a, b| a + b),
            sums_sq: zip(&self.sums_sq, &other.sums_sq, |a, b| a + b),
        })
    }

    /// What this state has seen since `base` (a state it grew from): element-wise differences,
    /// which a replica sends so the store can [`merge`](Self::merge) it. Fails if some arm has
    /// fewer pulls than in `base`, i.e. `base` is not an ancestor.
    pub fn delta_since(&self, base: &ArmsState) -> Result<ArmsState, BanditError> {
        check_same_arms(base, self)?;
        if let Some(arm) = (0..self.n_arms()).find(|&i| self.counts[i] < base.counts[i]) {
            return Err(BanditError::NotASuccessor {
                arm,
                count: self.counts[arm],
                base: base.counts[arm],
            });
        }
        let mut delta = ArmsState {
            counts: zip(&self.counts, &base.counts, |a, b| a - b),
            sums: zip(&self.sums, &base.sums, |a, b| a - b),
            sums_sq: zip(&self.sums_sq, &base.sums_sq, |a, b| a - b),
        };
        // Arms untouched since `base` have identical sums, so their delta is exactly zero;
        // clear rounding residue anyway so the delta itself validates.
        for i in 0..delta.n_arms() {
            if delta.counts[i] == 0 {
                delta.sums[i] = 0.0;
                delta.sums_sq[i] = 0.0;
            }
        }
        Ok(delta)
    }

    /// Check that `arm` exists and `reward` is finite (the rule every policy shares).
    pub(crate) fn check_reward(&self, arm: usize, reward: f64) -> Result<(), BanditError> {
        if arm >= self.n_arms() {
            return Err(BanditError::ArmOutOfRange {
                arm,
                n_arms: self.n_arms(),
            });
        }
        if !reward.is_finite() {
            return Err(BanditError::InvalidReward {
                arm,
                reward,
                rule: "must be a finite number",
            });
        }
        Ok(())
    }

    /// Record a batch after checking every entry with `rule` (after the shared checks): all or
    /// nothing, so a bad outcome in a batch never leaves the state half-updated.
    pub(crate) fn record_batch(
        &mut self,
        batch: &[(usize, f64)],
        rule: impl Fn(usize, f64) -> Result<(), BanditError>,
    ) -> Result<(), BanditError> {
        for &(arm, reward) in batch {
            self.check_reward(arm, reward)?;
            rule(arm, reward)?;
        }
        for &(arm, reward) in batch {
            self.counts[arm] += 1;
            self.sums[arm] += reward;
            self.sums_sq[arm] += reward * reward;
        }
        Ok(())
    }

    /// Validate and check the state fits a policy of `n_arms` arms.
    pub(crate) fn validate_for(&self, n_arms: usize) -> Result<(), BanditError> {
        if self.n_arms() != n_arms {
            return Err(BanditError::ShapeMismatch {
                field: "n_arms",
                expected: n_arms,
                received: self.n_arms(),
            });
        }
        self.validate()
    }
}

fn check_same_arms(a: &ArmsState, b: &ArmsState) -> Result<(), BanditError> {
    a.validate()?;
    b.validate()?;
    if a.n_arms() == b.n_arms() {
        Ok(())
    } else {
        Err(BanditError::ShapeMismatch {
            field: "n_arms",
            expected: a.n_arms(),
            received: b.n_arms(),
        })
    }
}

fn zip<T: Copy>(a: &[T], b: &[T], f: impl Fn(T, T) -> T) -> Vec<T> {
    a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(counts: &[u64], sums: &[f64], sums_sq: &[f64]) -> ArmsState {
        ArmsState {
            counts: counts.to_vec(),
            sums: sums.to_vec(),
            sums_sq: sums_sq.to_vec(),
        }
    }

    #[test]
    fn recorded_state_validates_and_gives_means() {
        let mut s = ArmsState::new(3);
        s.record_batch(&[(0, 1.0), (0, 0.0), (2, 3.0)], |_, _| Ok(()))
            .unwrap();
        s.validate().unwrap();
        assert_eq!(s.counts, vec![2, 0, 1]);
        assert_eq!(s.mean(0), Some(0.5));
        assert_eq!(s.mean(1), None);
        assert_eq!(s.sums_sq[2], 9.0);
        assert_eq!(s.total(), 3);
    }

    #[test]
    fn a_batch_with_one_bad_entry_changes_nothing() {
        let mut s = ArmsState::new(2);
        let e = s.record_batch(&[(0, 1.0), (5, 1.0)], |_, _| Ok(()));
        assert_eq!(e, Err(BanditError::ArmOutOfRange { arm: 5, n_arms: 2 }));
        let e = s.record_batch(&[(0, 1.0), (1, f64::NAN)], |_, _| Ok(()));
        assert!(matches!(e, Err(BanditError::InvalidReward { arm: 1, .. })));
        assert_eq!(s, ArmsState::new(2));
    }

    #[test]
    fn lengths_must_agree() {
        let e = state(&[1, 1], &[1.0], &[1.0, 1.0]).validate().unwrap_err();
        assert!(matches!(e, BanditError::InvalidState { ref field, .. } if field == "sums"));
    }

    #[test]
    fn sums_must_be_finite() {
        let e = state(&[1], &[f64::INFINITY], &[1.0])
            .validate()
            .unwrap_err();
        assert!(matches!(e, BanditError::InvalidState { ref field, .. } if field == "sums[0]"));
    }

    #[test]
    fn squares_cannot_be_negative() {
        let e = state(&[1], &[0.0], &[-1.0]).validate().unwrap_err();
        assert!(matches!(e, BanditError::InvalidState { ref field, .. } if field == "sums_sq[0]"));
    }

    #[test]
    fn an_unpulled_arm_has_zero_sums() {
        let e = state(&[0, 1], &[0.5, 1.0], &[0.25, 1.0])
            .validate()
            .unwrap_err();
        assert!(matches!(e, BanditError::InvalidState { ref field, .. } if field == "sums[0]"));
    }

    #[test]
    fn variance_cannot_be_negative() {
        // Two rewards summing to 2 have Σr² >= 2.
        let e = state(&[2], &[2.0], &[1.0]).validate().unwrap_err();
        assert!(matches!(e, BanditError::InvalidState { ref field, .. } if field == "sums_sq[0]"));
    }

    #[test]
    fn replicas_merge_their_deltas_into_the_state_one_policy_would_have() {
        let mut base = ArmsState::new(2);
        base.record_batch(&[(0, 1.0), (1, 0.0)], |_, _| Ok(()))
            .unwrap();
        let (mut a, mut b, mut single) = (base.clone(), base.clone(), base.clone());
        a.record_batch(&[(0, 1.0), (0, 0.0)], |_, _| Ok(()))
            .unwrap();
        b.record_batch(&[(1, 1.0)], |_, _| Ok(())).unwrap();
        single
            .record_batch(&[(0, 1.0), (0, 0.0), (1, 1.0)], |_, _| Ok(()))
            .unwrap();
        let da = a.delta_since(&base).unwrap();
        let db = b.delta_since(&base).unwrap();
        assert_eq!(base.merge(&da).unwrap().merge(&db).unwrap(), single);
        assert_eq!(base.merge(&db).unwrap().merge(&da).unwrap(), single);
    }

    #[test]
    fn delta_against_a_newer_base_is_refused() {
        let mut newer = ArmsState::new(2);
        newer.record_batch(&[(1, 1.0)], |_, _| Ok(())).unwrap();
        let e = ArmsState::new(2).delta_since(&newer).unwrap_err();
        assert_eq!(
            e,
            BanditError::NotASuccessor {
                arm: 1,
                count: 0,
                base: 1
            }
        );
    }

    #[test]
    fn merging_different_arm_counts_is_refused() {
        let e = ArmsState::new(2).merge(&ArmsState::new(3)).unwrap_err();
        assert!(matches!(
            e,
            BanditError::ShapeMismatch {
                field: "n_arms",
                ..
            }
        ));
    }
}
