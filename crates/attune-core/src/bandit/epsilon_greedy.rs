//! ε-greedy: play the arm with the best mean reward, except a share ε of the time, when a
//! uniformly drawn arm is played (Sutton & Barto 2018, "Reinforcement Learning", §2.2–2.3).
//!
//! With [`EpsilonDecay::InverseTime`] the share shrinks as evidence accumulates,
//! `ε_t = min(ε, c·K / t)` after `t` rewards: the εₙ-greedy of Auer, Cesa-Bianchi & Fischer
//! (2002), whose `cK/(d²n)` is folded into one constant here (each arm is then explored about
//! `c · ln t` times). Constant ε keeps paying for exploration forever; that is a feature when
//! arms drift and a cost when they do not. Arms never pulled count as best (each is tried
//! once); ties are broken at random.

use rand::{Rng, RngCore};

use super::{check, floor, select, ArmsState, BanditError, Policy};
use crate::model::ParamError;

const NAME: &str = "epsilon_greedy";

/// How ε changes with the number of rewards seen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EpsilonDecay {
    /// ε stays as set.
    Constant,
    /// `ε_t = min(ε, c·K / t)` after `t` rewards (`c > 0`).
    InverseTime {
        /// Exploration constant `c`.
        c: f64,
    },
}

/// ε-greedy hyperparameters (unchecked).
#[derive(Debug, Clone, PartialEq)]
pub struct EpsilonGreedyParams {
    n_arms: usize,
    epsilon: f64,
    decay: EpsilonDecay,
    floor: f64,
}

/// Checked ε-greedy hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct EpsilonGreedyValidParams(EpsilonGreedyParams);

impl EpsilonGreedyParams {
    /// `n_arms` arms, `ε = 0.1`, constant, no floor.
    pub fn new(n_arms: usize) -> Self {
        Self {
            n_arms,
            epsilon: 0.1,
            decay: EpsilonDecay::Constant,
            floor: 0.0,
        }
    }

    /// The exploration share ε in `[0, 1]` (the starting value when it decays).
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.epsilon = epsilon;
        self
    }

    /// How ε shrinks over time.
    pub fn decay(mut self, decay: EpsilonDecay) -> Self {
        self.decay = decay;
        self
    }

    /// Minimum traffic share of every arm, in `[0, 1/K]`.
    pub fn floor(mut self, floor: f64) -> Self {
        self.floor = floor;
        self
    }

    /// Validate every field.
    pub fn check(self) -> Result<EpsilonGreedyValidParams, ParamError> {
        check::n_arms(NAME, self.n_arms)?;
        check::unit(NAME, "epsilon", self.epsilon)?;
        if let EpsilonDecay::InverseTime { c } = self.decay {
            check::positive(NAME, "decay.c", c)?;
        }
        check::floor(NAME, self.floor, self.n_arms)?;
        Ok(EpsilonGreedyValidParams(self))
    }
}

impl EpsilonGreedyValidParams {
    /// Number of arms.
    pub fn n_arms(&self) -> usize {
        self.0.n_arms
    }

    /// A policy that has seen nothing.
    pub fn build(&self) -> EpsilonGreedy {
        self.from_state(ArmsState::new(self.0.n_arms))
            .expect("an empty state is valid")
    }

    /// The policy with a stored state.
    pub fn from_state(&self, state: ArmsState) -> Result<EpsilonGreedy, BanditError> {
        state.validate_for(self.0.n_arms)?;
        Ok(EpsilonGreedy {
            params: self.clone(),
            state,
        })
    }
}

/// ε-greedy (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct EpsilonGreedy {
    params: EpsilonGreedyValidParams,
    state: ArmsState,
}

impl EpsilonGreedy {
    /// The checked parameters the policy was built with.
    pub fn params(&self) -> &EpsilonGreedyValidParams {
        &self.params
    }

    /// The exploration share in force now.
    pub fn current_epsilon(&self) -> f64 {
        let p = &self.params.0;
        match p.decay {
            EpsilonDecay::Constant => p.epsilon,
            EpsilonDecay::InverseTime { c } => {
                let t = self.state.total();
                if t == 0 {
                    p.epsilon
                } else {
                    p.epsilon.min(c * p.n_arms as f64 / t as f64)
                }
            }
        }
    }

    /// The greedy scores: mean reward, `+∞` for arms never pulled.
    fn means(&self) -> Vec<f64> {
        (0..self.state.n_arms())
            .map(|i| self.state.mean(i).unwrap_or(f64::INFINITY))
            .collect()
    }
}

impl Policy for EpsilonGreedy {
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
        if rng.random::<f64>() < self.current_epsilon() {
            return rng.random_range(0..self.n_arms());
        }
        select::argmax(&self.means(), rng)
    }

    fn allocation_into(&self, _rng: &mut dyn RngCore, _draws: usize, out: &mut [f64]) {
        assert_eq!(
            out.len(),
            self.n_arms(),
            "allocation needs one slot per arm"
        );
        select::argmax_share_into(&self.means(), out);
        let eps = self.current_epsilon();
        let each = eps / out.len() as f64;
        for o in out.iter_mut() {
            *o = (1.0 - eps) * *o + each;
        }
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

    fn field_of(p: EpsilonGreedyParams) -> &'static str {
        p.check().unwrap_err().field
    }

    #[test]
    fn n_arms_must_be_at_least_two() {
        assert_eq!(field_of(EpsilonGreedyParams::new(1)), "n_arms");
    }

    #[test]
    fn epsilon_must_be_a_probability() {
        assert_eq!(
            field_of(EpsilonGreedyParams::new(2).epsilon(1.5)),
            "epsilon"
        );
        assert_eq!(
            field_of(EpsilonGreedyParams::new(2).epsilon(-0.1)),
            "epsilon"
        );
    }

    #[test]
    fn decay_constant_must_be_positive() {
        let p = EpsilonGreedyParams::new(2).decay(EpsilonDecay::InverseTime { c: 0.0 });
        assert_eq!(field_of(p), "decay.c");
    }

    #[test]
    fn floor_must_fit_k_arms() {
        assert_eq!(field_of(EpsilonGreedyParams::new(2).floor(0.51)), "floor");
    }

    #[test]
    fn epsilon_decays_as_c_k_over_t() {
        let mut p = EpsilonGreedyParams::new(2)
            .epsilon(0.5)
            .decay(EpsilonDecay::InverseTime { c: 5.0 })
            .check()
            .unwrap()
            .build();
        assert_eq!(p.current_epsilon(), 0.5);
        let batch: Vec<_> = (0..100).map(|i| (i % 2, 0.0)).collect();
        p.update_batch(&batch).unwrap();
        assert!((p.current_epsilon() - 0.1).abs() < 1e-12);
    }

    #[test]
    fn allocation_is_greedy_plus_epsilon_plus_floor_and_choose_agrees() {
        let mut p = EpsilonGreedyParams::new(4)
            .epsilon(0.2)
            .floor(0.05)
            .check()
            .unwrap()
            .build();
        p.update_batch(&[(0, 0.1), (1, 0.9), (2, 0.3), (3, 0.2)])
            .unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let shares = p.allocation(&mut rng, 0);
        // (1 − 4·0.05)·(0.8·onehot + 0.05) + 0.05
        let expect = [0.09, 0.09 + 0.8 * 0.8, 0.09, 0.09];
        for (s, e) in shares.iter().zip(expect) {
            assert!((s - e).abs() < 1e-12, "{shares:?}");
        }
        let mut counts = [0.0; 4];
        for _ in 0..40_000 {
            counts[p.choose(&mut rng)] += 1.0 / 40_000.0;
        }
        for i in 0..4 {
            assert!((counts[i] - shares[i]).abs() < 0.01, "{counts:?}");
        }
    }

    #[test]
    fn autotraits() {
        fn is<T: Send + Sync + Clone + std::fmt::Debug>() {}
        is::<EpsilonGreedy>();
    }
}
