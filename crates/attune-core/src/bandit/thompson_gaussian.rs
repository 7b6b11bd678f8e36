//! Thompson sampling with a Gaussian reward model of unknown mean and unknown variance, for
//! continuous rewards (revenue, dwell time).
//!
//! Each arm's rewards are modelled as `N(μ, σ²)` with the conjugate normal–inverse-gamma prior
//! `σ² ~ InvGamma(a₀, b₀)`, `μ | σ² ~ N(μ₀, σ²/κ₀)`. After `n` rewards with mean `x̄` and
//! centred sum of squares `S = Σ(r − x̄)²` the posterior is normal–inverse-gamma with
//!
//! ```text
//! κₙ = κ₀ + n                 μₙ = (κ₀ μ₀ + n x̄) / κₙ
//! aₙ = a₀ + n/2               bₙ = b₀ + S/2 + κ₀ n (x̄ − μ₀)² / (2 κₙ)
//! ```
//!
//! (Murphy 2007, "Conjugate Bayesian analysis of the Gaussian distribution", §6). To choose,
//! draw `σ²` then `μ` from every arm's posterior and play the largest `μ` (Thompson sampling;
//! Honda & Takemura 2014 analyse this model). Unknown variance rather than a known one, because
//! revenue per impression is mostly zeros with a long tail and its variance differs by arm.
//!
//! The prior sits on the reward's scale, which the caller knows and the policy does not. So
//! that a prior on the wrong scale cannot starve an arm, every arm is first played `warmup`
//! times (default 2: the sample variance needs two rewards), untried arms tied at random; after
//! that the posterior decides.
//!
//! `S` is computed as `Σr² − (Σr)²/n` from the stored sums (clamped at 0). That loses precision
//! when the mean is huge relative to the spread (over 10⁶ times the standard deviation), which
//! no revenue or dwell reward comes near; in exchange the state merges by addition.

use rand::RngCore;
use rand_distr::{Distribution, Gamma, StandardNormal};

use super::{check, floor, select, ArmsState, BanditError, Policy};
use crate::model::ParamError;

const NAME: &str = "thompson_gaussian";

/// Gaussian (normal–inverse-gamma) Thompson sampling hyperparameters (unchecked).
#[derive(Debug, Clone, PartialEq)]
pub struct ThompsonGaussianParams {
    n_arms: usize,
    prior_mean: f64,
    prior_strength: f64,
    prior_shape: f64,
    prior_rate: f64,
    warmup: u64,
    floor: f64,
}

/// Checked Gaussian Thompson sampling hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ThompsonGaussianValidParams(ThompsonGaussianParams);

impl ThompsonGaussianParams {
    /// `n_arms` arms; prior `μ₀ = 0`, `κ₀ = 1`, `a₀ = 1`, `b₀ = 1` (set them to the reward's
    /// scale), 2 warm-up plays per arm, no floor.
    pub fn new(n_arms: usize) -> Self {
        Self {
            n_arms,
            prior_mean: 0.0,
            prior_strength: 1.0,
            prior_shape: 1.0,
            prior_rate: 1.0,
            warmup: 2,
            floor: 0.0,
        }
    }

    /// Prior mean reward `μ₀` and its weight `κ₀` in pseudo-observations (`> 0`).
    pub fn prior_mean(mut self, mean: f64, strength: f64) -> Self {
        self.prior_mean = mean;
        self.prior_strength = strength;
        self
    }

    /// Inverse-gamma prior on the reward variance: shape `a₀ > 0` and rate `b₀ > 0`. Its mean,
    /// `b₀ / (a₀ − 1)` for `a₀ > 1`, is a prior guess of the variance.
    pub fn prior_variance(mut self, shape: f64, rate: f64) -> Self {
        self.prior_shape = shape;
        self.prior_rate = rate;
        self
    }

    /// Plays each arm gets before the posterior decides (0 lets the prior decide at once).
    pub fn warmup(mut self, warmup: u64) -> Self {
        self.warmup = warmup;
        self
    }

    /// Minimum traffic share of every arm, in `[0, 1/K]`.
    pub fn floor(mut self, floor: f64) -> Self {
        self.floor = floor;
        self
    }

    /// Validate every field.
    pub fn check(self) -> Result<ThompsonGaussianValidParams, ParamError> {
        check::n_arms(NAME, self.n_arms)?;
        check::finite(NAME, "prior_mean", self.prior_mean)?;
        check::positive(NAME, "prior_strength", self.prior_strength)?;
        check::positive(NAME, "prior_shape", self.prior_shape)?;
        check::positive(NAME, "prior_rate", self.prior_rate)?;
        check::floor(NAME, self.floor, self.n_arms)?;
        Ok(ThompsonGaussianValidParams(self))
    }
}

impl ThompsonGaussianValidParams {
    /// Number of arms.
    pub fn n_arms(&self) -> usize {
        self.0.n_arms
    }

    /// A policy that has seen nothing.
    pub fn build(&self) -> ThompsonGaussian {
        self.from_state(ArmsState::new(self.0.n_arms))
            .expect("an empty state is valid")
    }

    /// The policy with a stored state.
    pub fn from_state(&self, state: ArmsState) -> Result<ThompsonGaussian, BanditError> {
        state.validate_for(self.0.n_arms)?;
        let mut policy = ThompsonGaussian {
            params: self.clone(),
            state,
            posteriors: Vec::new(),
        };
        policy.refresh();
        Ok(policy)
    }
}

/// One arm's normal–inverse-gamma posterior, ready to sample.
#[derive(Debug, Clone, PartialEq)]
struct Nig {
    mean: f64,
    strength: f64,
    /// Precision `1/σ² ~ Gamma(aₙ, 1/bₙ)`.
    precision: Gamma<f64>,
}

/// The posterior parameters `(μₙ, κₙ, aₙ, bₙ)` of one arm.
fn posterior(p: &ThompsonGaussianParams, n: u64, sum: f64, sum_sq: f64) -> (f64, f64, f64, f64) {
    let nf = n as f64;
    let kn = p.prior_strength + nf;
    let mn = (p.prior_strength * p.prior_mean + sum) / kn;
    let an = p.prior_shape + nf / 2.0;
    let bn = if n == 0 {
        p.prior_rate
    } else {
        let mean = sum / nf;
        let centred = (sum_sq - sum * sum / nf).max(0.0);
        let shift = mean - p.prior_mean;
        p.prior_rate + centred / 2.0 + p.prior_strength * nf * shift * shift / (2.0 * kn)
    };
    (mn, kn, an, bn)
}

/// Gaussian Thompson sampling (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct ThompsonGaussian {
    params: ThompsonGaussianValidParams,
    state: ArmsState,
    posteriors: Vec<Nig>,
}

impl ThompsonGaussian {
    /// The checked parameters the policy was built with.
    pub fn params(&self) -> &ThompsonGaussianValidParams {
        &self.params
    }

    /// Posterior `(μₙ, κₙ, aₙ, bₙ)` of `arm`; `None` if there is no such arm. The posterior
    /// mean of the arm's mean reward is `μₙ`.
    pub fn posterior(&self, arm: usize) -> Option<(f64, f64, f64, f64)> {
        let s = &self.state;
        let n = *s.counts.get(arm)?;
        Some(posterior(&self.params.0, n, s.sums[arm], s.sums_sq[arm]))
    }

    fn refresh(&mut self) {
        self.posteriors = (0..self.state.n_arms())
            .map(|i| {
                let (mean, strength, shape, rate) = self.posterior(i).expect("arm in range");
                Nig {
                    mean,
                    strength,
                    precision: Gamma::new(shape, 1.0 / rate).expect("positive shape and rate"),
                }
            })
            .collect();
    }

    /// Arms still in warm-up score `+∞` (so they are tried first, ties at random); the others
    /// score a draw of their mean.
    fn sample_into(&self, rng: &mut dyn RngCore, out: &mut [f64]) {
        let warmup = self.params.0.warmup;
        for ((o, d), &n) in out.iter_mut().zip(&self.posteriors).zip(&self.state.counts) {
            *o = if n < warmup {
                f64::INFINITY
            } else {
                let variance = 1.0 / d.precision.sample(rng);
                let z: f64 = StandardNormal.sample(rng);
                d.mean + (variance / d.strength).sqrt() * z
            };
        }
    }
}

impl Policy for ThompsonGaussian {
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
        let mut draws = vec![0.0; self.n_arms()];
        self.sample_into(rng, &mut draws);
        select::argmax(&draws, rng)
    }

    fn allocation_into(&self, rng: &mut dyn RngCore, draws: usize, out: &mut [f64]) {
        assert_eq!(
            out.len(),
            self.n_arms(),
            "allocation needs one slot per arm"
        );
        select::best_frequencies_into(draws, rng, out, |rng, s| self.sample_into(rng, s));
        floor::mix(self.floor(), out);
    }

    fn update_batch(&mut self, batch: &[(usize, f64)]) -> Result<(), BanditError> {
        self.state.record_batch(batch, |_, _| Ok(()))?;
        self.refresh();
        Ok(())
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

    fn field_of(p: ThompsonGaussianParams) -> &'static str {
        p.check().unwrap_err().field
    }

    #[test]
    fn n_arms_must_be_at_least_two() {
        assert_eq!(field_of(ThompsonGaussianParams::new(0)), "n_arms");
    }

    #[test]
    fn prior_mean_must_be_finite_and_strength_positive() {
        let p = ThompsonGaussianParams::new(2);
        assert_eq!(field_of(p.clone().prior_mean(f64::NAN, 1.0)), "prior_mean");
        assert_eq!(field_of(p.prior_mean(0.0, 0.0)), "prior_strength");
    }

    #[test]
    fn prior_variance_must_be_positive() {
        let p = ThompsonGaussianParams::new(2);
        assert_eq!(field_of(p.clone().prior_variance(0.0, 1.0)), "prior_shape");
        assert_eq!(field_of(p.prior_variance(1.0, -1.0)), "prior_rate");
    }

    #[test]
    fn floor_must_fit_k_arms() {
        assert_eq!(field_of(ThompsonGaussianParams::new(2).floor(0.6)), "floor");
    }

    #[test]
    fn posterior_matches_the_sequential_conjugate_update() {
        // Oracle: apply the one-observation update n times; the batch formula must agree.
        let p = ThompsonGaussianParams::new(2)
            .prior_mean(1.0, 0.5)
            .prior_variance(2.0, 3.0)
            .check()
            .unwrap();
        let rewards = [3.0, -1.0, 4.5, 0.25, 2.0];
        let (mut m, mut k, mut a, mut b) = (1.0, 0.5, 2.0, 3.0);
        for r in rewards {
            let k1 = k + 1.0;
            b += k * (r - m) * (r - m) / (2.0 * k1);
            m = (k * m + r) / k1;
            k = k1;
            a += 0.5;
        }
        let mut policy = p.build();
        let batch: Vec<_> = rewards.iter().map(|&r| (1, r)).collect();
        policy.update_batch(&batch).unwrap();
        let (mn, kn, an, bn) = policy.posterior(1).unwrap();
        for (got, want) in [(mn, m), (kn, k), (an, a), (bn, b)] {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        assert_eq!(policy.posterior(0), Some((1.0, 0.5, 2.0, 3.0)));
    }

    #[test]
    fn warmup_tries_every_arm_before_the_prior_decides() {
        // A prior far below the rewards would make an untried arm look hopeless.
        let mut p = ThompsonGaussianParams::new(3)
            .prior_mean(-100.0, 10.0)
            .check()
            .unwrap()
            .build();
        p.update_batch(&[(0, 50.0), (0, 52.0)]).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let shares = p.allocation(&mut rng, 1_000);
        assert_eq!(shares[0], 0.0);
        assert!((shares[1] - 0.5).abs() < 0.06 && (shares[2] - 0.5).abs() < 0.06);
    }

    #[test]
    fn learns_the_higher_mean_of_noisy_continuous_rewards() {
        let mut p = ThompsonGaussianParams::new(2)
            .prior_mean(10.0, 1.0)
            .check()
            .unwrap()
            .build();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..20 {
            let mut batch = Vec::new();
            for _ in 0..50 {
                let arm = p.choose(&mut rng);
                let z: f64 = StandardNormal.sample(&mut rng);
                batch.push((arm, [10.0, 11.0][arm] + 3.0 * z));
            }
            p.update_batch(&batch).unwrap();
        }
        assert!(p.allocation(&mut rng, 2_000)[1] > 0.95);
        assert!(p.state().counts[1] > p.state().counts[0]);
    }

    #[test]
    fn non_finite_rewards_are_refused() {
        let mut p = ThompsonGaussianParams::new(2).check().unwrap().build();
        assert!(p.update(0, f64::INFINITY).is_err());
        assert_eq!(p.state().total(), 0);
    }

    #[test]
    fn autotraits() {
        fn is<T: Send + Sync + Clone + std::fmt::Debug>() {}
        is::<ThompsonGaussian>();
    }
}
