//! The Tree-structured Parzen Estimator, after Optuna's `TPESampler`.
//!
//! After `n_startup_trials` finished trials drawn at random, each proposal splits the history
//! into the best `gamma(n)` trials ("below") and the rest ("above"), fits a Parzen estimator
//! `l(x)` to the first and `g(x)` to the second, draws `n_ei_candidates` points from `l` and
//! keeps the one maximizing `l(x)/g(x)` (which maximizes expected improvement under the TPE
//! model). Pruned trials count after complete ones, ranked by how far they got and then by
//! their last intermediate value; failed trials are ignored.
//!
//! - `multivariate`: one joint estimator over all parameters (kernels are products), so
//!   interactions such as "a large learning rate needs strong regularization" are kept;
//!   otherwise each parameter is modelled and chosen on its own.
//! - `constant_liar`: trials still running count as "above" (as if they had turned out bad), so
//!   parallel workers asking before anyone tells do not all pile onto the same point.

use rand::Rng;

use super::parzen::Parzen;
use super::random::sample_uniform;
use super::space::{Distribution, ParamSet};
use super::study::{Study, Trial, TrialId, TrialState};
use super::{trial_rng, Sampler};

/// Optuna's default split: the best 10 %, rounded up, at most 25.
pub fn default_gamma(n: usize) -> usize {
    n.div_ceil(10).min(25)
}

/// TPE's settings; [`Default`] is Optuna's defaults (univariate, constant liar on).
#[derive(Debug, Clone, Copy)]
pub struct TpeConfig {
    /// Finished trials sampled at random before the model takes over.
    pub n_startup_trials: usize,
    /// Candidates drawn from `l(x)` per proposal.
    pub n_ei_candidates: usize,
    /// How many of `n` finished trials are "good".
    pub gamma: fn(usize) -> usize,
    /// Weight of the prior kernel relative to one observation.
    pub prior_weight: f64,
    /// Model the parameters jointly rather than one by one.
    pub multivariate: bool,
    /// Count running trials as bad (for parallel ask before tell).
    pub constant_liar: bool,
}

impl Default for TpeConfig {
    fn default() -> Self {
        Self {
            n_startup_trials: 10,
            n_ei_candidates: 24,
            gamma: default_gamma,
            prior_weight: 1.0,
            multivariate: false,
            constant_liar: true,
        }
    }
}

/// The TPE sampler; reproducible by seed (see [`trial_rng`]).
#[derive(Debug, Clone, Copy)]
pub struct TpeSampler {
    seed: u64,
    config: TpeConfig,
}

impl TpeSampler {
    /// A sampler with `config`.
    pub fn new(seed: u64, config: TpeConfig) -> Self {
        Self { seed, config }
    }
}

impl Sampler for TpeSampler {
    fn sample(&self, study: &Study, id: TrialId) -> Option<ParamSet> {
        let mut rng = trial_rng(self.seed, id);
        let space = study.space();
        let dists: Vec<&Distribution> = space.params().iter().map(|p| &p.dist).collect();
        let finished = study
            .trials()
            .iter()
            .filter(|t| matches!(t.state, TrialState::Complete | TrialState::Pruned))
            .count();
        if finished < self.config.n_startup_trials || finished == 0 {
            let x: Vec<f64> = dists.iter().map(|d| sample_uniform(d, &mut rng)).collect();
            return Some(space.from_internal(&x));
        }
        let (below, above) = split(
            study,
            (self.config.gamma)(finished),
            self.config.constant_liar,
        );
        let rows = |trials: &[&Trial]| -> Vec<Vec<f64>> {
            trials
                .iter()
                .filter_map(|t| space.to_internal(&t.params))
                .collect()
        };
        let (below, above) = (rows(&below), rows(&above));
        let x = if self.config.multivariate {
            self.choose(&below, &above, &dists, &mut rng)
        } else {
            (0..dists.len())
                .map(|d| {
                    let column = |rows: &[Vec<f64>]| -> Vec<Vec<f64>> {
                        rows.iter().map(|r| vec![r[d]]).collect()
                    };
                    self.choose(&column(&below), &column(&above), &[dists[d]], &mut rng)[0]
                })
                .collect()
        };
        Some(space.from_internal(&x))
    }
}

impl TpeSampler {
    /// The candidate from `l` with the largest `log l(x) − log g(x)`.
    fn choose<R: Rng + ?Sized>(
        &self,
        below: &[Vec<f64>],
        above: &[Vec<f64>],
        dists: &[&Distribution],
        rng: &mut R,
    ) -> Vec<f64> {
        let l = Parzen::new(below, dists, self.config.prior_weight);
        let g = Parzen::new(above, dists, self.config.prior_weight);
        let candidates = l.sample(rng, self.config.n_ei_candidates.max(1));
        let mut best = (f64::NEG_INFINITY, 0);
        for (i, c) in candidates.iter().enumerate() {
            let score = l.log_pdf(c) - g.log_pdf(c);
            if score > best.0 {
                best = (score, i);
            }
        }
        candidates[best.1].clone()
    }
}

/// The best `n_below` finished trials and the rest (plus running ones under the constant liar),
/// each in trial order so the weight ramp fades the oldest.
fn split(study: &Study, n_below: usize, constant_liar: bool) -> (Vec<&Trial>, Vec<&Trial>) {
    let direction = study.direction();
    let of = |state| study.trials().iter().filter(move |t| t.state == state);
    let mut complete: Vec<&Trial> = of(TrialState::Complete).collect();
    complete.sort_by(|a, b| {
        let loss = |t: &Trial| direction.as_loss(t.value.unwrap_or(f64::INFINITY));
        loss(a).total_cmp(&loss(b))
    });
    // Pruned: further along first, then better last intermediate value; none reported last.
    let pruned_key = |t: &Trial| match t.intermediate.iter().next_back() {
        Some((&step, &v)) => (-(step as f64), direction.as_loss(v)),
        None => (1.0, 0.0),
    };
    let mut pruned: Vec<&Trial> = of(TrialState::Pruned).collect();
    pruned.sort_by(|a, b| {
        let (ka, kb) = (pruned_key(a), pruned_key(b));
        ka.0.total_cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
    });
    let n_complete = n_below.min(complete.len());
    let n_pruned = (n_below - n_complete).min(pruned.len());
    let mut below: Vec<&Trial> = complete[..n_complete].to_vec();
    below.extend(&pruned[..n_pruned]);
    let mut above: Vec<&Trial> = complete[n_complete..].to_vec();
    above.extend(&pruned[n_pruned..]);
    if constant_liar {
        above.extend(of(TrialState::Running));
    }
    below.sort_by_key(|t| t.id);
    above.sort_by_key(|t| t.id);
    (below, above)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::space::{Param, SearchSpace};
    use crate::tune::study::{Direction, Outcome};
    use crate::tune::tests_support::{assert_in_bounds, mixed_space};
    use crate::tune::RandomSampler;

    #[test]
    fn gamma_matches_optuna() {
        assert_eq!(default_gamma(1), 1);
        assert_eq!(default_gamma(10), 1);
        assert_eq!(default_gamma(11), 2);
        assert_eq!(default_gamma(1000), 25);
    }

    fn run(seed: u64, config: TpeConfig, n: usize) -> Vec<ParamSet> {
        let mut study = Study::new(mixed_space(), Direction::Minimize);
        let sampler = TpeSampler::new(seed, config);
        (0..n)
            .map(|_| {
                let (id, p) = study.ask(&sampler).unwrap();
                let loss = p["x"].as_f64().unwrap().powi(2)
                    + (p["lr"].as_f64().unwrap().log10() + 3.0).powi(2)
                    + p["n"].as_f64().unwrap().abs()
                    + (p["k"].as_f64().unwrap().ln() - 4.0).abs();
                study.tell(id, Outcome::Complete(loss)).unwrap();
                p
            })
            .collect()
    }

    #[test]
    fn reproducible_and_in_bounds_in_both_modes() {
        for multivariate in [false, true] {
            let config = TpeConfig {
                multivariate,
                ..TpeConfig::default()
            };
            let a = run(5, config, 40);
            assert_eq!(a, run(5, config, 40));
            assert_ne!(a, run(6, config, 40));
            assert_in_bounds(&mixed_space(), &a);
        }
    }

    #[test]
    fn concentrates_near_the_minimum_of_a_quadratic() {
        let space = SearchSpace::new(vec![Param::float("x", -10.0, 10.0)]).unwrap();
        for multivariate in [false, true] {
            for seed in 1..=3 {
                let mut study = Study::new(space.clone(), Direction::Minimize);
                let config = TpeConfig {
                    multivariate,
                    ..TpeConfig::default()
                };
                let sampler = TpeSampler::new(seed, config);
                let mut xs = Vec::new();
                for _ in 0..80 {
                    let (id, p) = study.ask(&sampler).unwrap();
                    let x = p["x"].as_f64().unwrap();
                    xs.push(x);
                    study
                        .tell(id, Outcome::Complete((x - 2.0).powi(2)))
                        .unwrap();
                }
                // Uniform sampling puts 20 % of trials within 2 of the minimum (8 of 40).
                let near = xs[40..].iter().filter(|x| (*x - 2.0).abs() < 2.0).count();
                assert!(
                    near >= 20,
                    "seed {seed}: only {near}/40 late trials near the minimum"
                );
                assert!(study.best().unwrap().value.unwrap() < 0.01);
            }
        }
    }

    #[test]
    fn beats_random_on_a_quadratic_over_seeds() {
        let space = SearchSpace::new(vec![
            Param::float("x", -5.0, 5.0),
            Param::float("y", -5.0, 5.0),
        ])
        .unwrap();
        let best = |sampler: &dyn Sampler| {
            let mut study = Study::new(space.clone(), Direction::Minimize);
            for _ in 0..50 {
                let (id, p) = study.ask(sampler).unwrap();
                let v = p["x"].as_f64().unwrap().powi(2) + p["y"].as_f64().unwrap().powi(2);
                study.tell(id, Outcome::Complete(v)).unwrap();
            }
            study.best().unwrap().value.unwrap()
        };
        let (mut tpe, mut random, mut wins) = (0.0, 0.0, 0);
        for seed in 0..10 {
            let t = best(&TpeSampler::new(seed, TpeConfig::default()));
            let r = best(&RandomSampler::new(seed));
            (tpe, random) = (tpe + t, random + r);
            wins += usize::from(t < r);
        }
        assert!(
            tpe < 0.5 * random && wins >= 7,
            "TPE {tpe}, random {random}, wins {wins}"
        );
    }

    #[test]
    fn constant_liar_spreads_parallel_asks() {
        let space = SearchSpace::new(vec![Param::float("x", 0.0, 1.0)]).unwrap();
        let sampler = TpeSampler::new(3, TpeConfig::default());
        let mut study = Study::new(space, Direction::Minimize);
        for _ in 0..20 {
            let (id, p) = study.ask(&sampler).unwrap();
            let x = p["x"].as_f64().unwrap();
            study.tell(id, Outcome::Complete((x - 0.3).abs())).unwrap();
        }
        // Eight asks before any tell: the liar's running trials push later asks apart.
        let xs: Vec<f64> = (0..8)
            .map(|_| study.ask(&sampler).unwrap().1["x"].as_f64().unwrap())
            .collect();
        let mut sorted = xs.clone();
        sorted.sort_by(f64::total_cmp);
        sorted.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
        assert_eq!(sorted.len(), 8, "{xs:?}");
    }

    #[test]
    fn categorical_and_int_follow_the_good_trials() {
        let space = SearchSpace::new(vec![
            Param::categorical("c", &["bad", "good", "worse"]),
            Param::log_int("k", 1, 512),
        ])
        .unwrap();
        let mut study = Study::new(space, Direction::Maximize);
        let sampler = TpeSampler::new(9, TpeConfig::default());
        let mut picks = Vec::new();
        for _ in 0..60 {
            let (id, p) = study.ask(&sampler).unwrap();
            let good = p["c"] == crate::tune::Value::Categorical("good".into());
            let k = p["k"].as_f64().unwrap();
            let score = if good { 1.0 } else { 0.0 } - (k.log2() - 5.0).abs() / 10.0;
            picks.push((good, k));
            study.tell(id, Outcome::Complete(score)).unwrap();
        }
        let late_good = picks[30..].iter().filter(|(g, _)| *g).count();
        assert!(late_good >= 20, "{late_good}/30");
    }
}
