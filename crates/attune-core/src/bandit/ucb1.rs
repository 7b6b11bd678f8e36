//! UCB1: play the arm with the highest upper confidence bound on its mean.
//!
//! Index of arm `i` after `n` pulls in all, `nᵢ` of them on `i`, with mean reward `x̄ᵢ`:
//! `x̄ᵢ + c · √(2 ln n / nᵢ)`; arms never pulled have index `+∞`, so each is tried once first
//! (Auer, Cesa-Bianchi & Fischer 2002, "Finite-time Analysis of the Multiarmed Bandit Problem").
//! The bound assumes rewards in `[0, 1]` and `c = 1`; for rewards on another scale set `c` to
//! their range. No prior, no sampling: a useful baseline and a policy whose choices can be
//! explained by one number per arm.
//!
//! UCB1 is deterministic between updates: with batched updates every impression of a batch
//! goes to the same arm (ties aside). That is why it explores slowly in serving (a 500-impression
//! batch is one "pull" of information about one arm) and why the floor matters most here.

use rand::RngCore;

use super::{check, floor, select, ArmsState, BanditError, Policy};
use crate::model::ParamError;

const NAME: &str = "ucb1";

/// UCB1 hyperparameters (unchecked).
#[derive(Debug, Clone, PartialEq)]
pub struct Ucb1Params {
    n_arms: usize,
    exploration: f64,
    floor: f64,
}

/// Checked UCB1 hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Ucb1ValidParams(Ucb1Params);

impl Ucb1Params {
    /// `n_arms` arms, `c = 1` (rewards in `[0, 1]`), no floor.
    pub fn new(n_arms: usize) -> Self {
        Self {
            n_arms,
            exploration: 1.0,
            floor: 0.0,
        }
    }

    /// The bonus scale `c >= 0` (the reward range; 0 is greedy).
    pub fn exploration(mut self, c: f64) -> Self {
        self.exploration = c;
        self
    }

    /// Minimum traffic share of every arm, in `[0, 1/K]`.
    pub fn floor(mut self, floor: f64) -> Self {
        self.floor = floor;
        self
    }

    /// Validate every field.
    pub fn check(self) -> Result<Ucb1ValidParams, ParamError> {
        check::n_arms(NAME, self.n_arms)?;
        check::non_negative(NAME, "exploration", self.exploration)?;
        check::floor(NAME, self.floor, self.n_arms)?;
        Ok(Ucb1ValidParams(self))
    }
}

impl Ucb1ValidParams {
    /// Number of arms.
    pub fn n_arms(&self) -> usize {
        self.0.n_arms
    }

    /// A policy that has seen nothing.
    pub fn build(&self) -> Ucb1 {
        self.from_state(ArmsState::new(self.0.n_arms))
            .expect("an empty state is valid")
    }

    /// The policy with a stored state.
    pub fn from_state(&self, state: ArmsState) -> Result<Ucb1, BanditError> {
        state.validate_for(self.0.n_arms)?;
        Ok(Ucb1 {
            params: self.clone(),
            state,
        })
    }
}

/// UCB1 (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Ucb1 {
    params: Ucb1ValidParams,
    state: ArmsState,
}

impl Ucb1 {
    /// The checked parameters the policy was built with.
    pub fn params(&self) -> &Ucb1ValidParams {
        &self.params
    }

    /// Every arm's index (`+∞` for arms never pulled).
    pub fn indices(&self) -> Vec<f64> {
        let s = &self.state;
        let ln_n = (s.total().max(1) as f64).ln();
        (0..s.n_arms())
            .map(|i| match s.mean(i) {
                None => f64::INFINITY,
                Some(mean) => {
                    mean + self.params.0.exploration * (2.0 * ln_n / s.counts[i] as f64).sqrt()
                }
            })
            .collect()
    }
}

impl Policy for Ucb1 {
    fn n_arms(&self) -> usize {
        self.params.0.n_arms
    }

    fn floor(&self) -> f64 {
        self.params.0.floor
    }

    fn choose(&self, rng: &mut dyn RngCore) -> usize {
        if let Some(arm) = floor::explore(self.floor(), self.n_arms(), rng) {
            return arm;
        }
        select::argmax(&self.indices(), rng)
    }

    fn allocation_into(&self, _rng: &mut dyn RngCore, _draws: usize, out: &mut [f64]) {
        assert_eq!(
            out.len(),
            self.n_arms(),
            "allocation needs one slot per arm"
        );
        select::argmax_share_into(&self.indices(), out);
        floor::mix(self.floor(), out);
    }

    fn update_batch(&mut self, batch: &[(usize, f64)]) -> Result<(), BanditError> {
        self.state.record_batch(batch, |_, _| Ok(()))
    }

    fn state(&self) -> &ArmsState {
        &self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn n_arms_must_be_at_least_two() {
        assert_eq!(Ucb1Params::new(1).check().unwrap_err().field, "n_arms");
    }

    #[test]
    fn exploration_cannot_be_negative() {
        let e = Ucb1Params::new(2).exploration(-1.0).check().unwrap_err();
        assert_eq!(e.field, "exploration");
    }

    #[test]
    fn floor_must_fit_k_arms() {
        let e = Ucb1Params::new(3).floor(0.5).check().unwrap_err();
        assert_eq!(e.field, "floor");
    }

    #[test]
    fn index_is_mean_plus_the_auer_bonus() {
        let mut p = Ucb1Params::new(3).check().unwrap().build();
        p.update_batch(&[(0, 1.0), (0, 0.0), (1, 1.0)]).unwrap();
        let idx = p.indices();
        let ln3 = 3f64.ln();
        assert!((idx[0] - (0.5 + (2.0 * ln3 / 2.0).sqrt())).abs() < 1e-12);
        assert!((idx[1] - (1.0 + (2.0 * ln3).sqrt())).abs() < 1e-12);
        assert_eq!(idx[2], f64::INFINITY);
    }

    #[test]
    fn untried_arms_come_first_and_get_the_allocation() {
        let mut p = Ucb1Params::new(3).floor(0.1).check().unwrap().build();
        p.update(0, 1.0).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let shares = p.allocation(&mut rng, 0);
        let expect = [0.1, 0.1 + 0.35, 0.1 + 0.35];
        for (s, e) in shares.iter().zip(expect) {
            assert!((s - e).abs() < 1e-12, "{shares:?}");
        }
    }

    #[test]
    fn autotraits() {
        fn is<T: Send + Sync + Clone + std::fmt::Debug>() {}
        is::<Ucb1>();
    }
}
