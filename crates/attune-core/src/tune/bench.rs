//! Standard test functions for comparing samplers, with their known global minima.
//!
//! Branin (2-D, three global minima) and Hartmann-6 (6-D, one narrow basin among local ones)
//! are the usual small benchmarks in the TPE and Bayesian-optimization literature; their
//! minima are known exactly, so a sampler's result is a distance to the optimum rather than an
//! opinion. `attune bench tune` runs them; [`best_so_far`] is the pure part it uses.

use super::space::{Param, SearchSpace};
use super::study::{Direction, Outcome, Study};
use super::Sampler;

/// A test function over a box.
#[derive(Debug, Clone, Copy)]
pub struct Objective {
    /// Its name in reports.
    pub name: &'static str,
    /// The global minimum value.
    pub minimum: f64,
    /// The bounds of each coordinate.
    pub bounds: &'static [(f64, f64)],
    /// The function.
    pub f: fn(&[f64]) -> f64,
}

impl Objective {
    /// A search space with float parameters `x0`, `x1`, ... over the bounds.
    pub fn space(&self) -> SearchSpace {
        let params = self
            .bounds
            .iter()
            .enumerate()
            .map(|(i, (lo, hi))| Param::float(&format!("x{i}"), *lo, *hi))
            .collect();
        SearchSpace::new(params).expect("benchmark bounds are valid")
    }
}

/// Branin on `[-5, 10] × [0, 15]`; minimum 0.397887 at (−π, 12.275), (π, 2.275), (9.42478, 2.475).
pub const BRANIN: Objective = Objective {
    name: "branin",
    minimum: 0.397_887_357_729_738,
    bounds: &[(-5.0, 10.0), (0.0, 15.0)],
    f: |x| branin(x[0], x[1]),
};

/// Hartmann-6 on `[0, 1]^6`; minimum −3.32237.
pub const HARTMANN6: Objective = Objective {
    name: "hartmann6",
    minimum: -3.322_368_011_415_51,
    bounds: &[(0.0, 1.0); 6],
    f: hartmann6,
};

/// The Branin–Hoo function.
pub fn branin(x1: f64, x2: f64) -> f64 {
    use std::f64::consts::PI;
    let b = 5.1 / (4.0 * PI * PI);
    let c = 5.0 / PI;
    let t = 1.0 / (8.0 * PI);
    (x2 - b * x1 * x1 + c * x1 - 6.0).powi(2) + 10.0 * (1.0 - t) * x1.cos() + 10.0
}

const H6_ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
const H6_A: [[f64; 6]; 4] = [
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
];
const H6_P: [[f64; 6]; 4] = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
];

/// The 6-D Hartmann function (`x` has 6 coordinates in [0, 1]).
pub fn hartmann6(x: &[f64]) -> f64 {
    -(0..4)
        .map(|i| {
            let inner: f64 = (0..6)
                .map(|j| H6_A[i][j] * (x[j] - H6_P[i][j]).powi(2))
                .sum();
            H6_ALPHA[i] * (-inner).exp()
        })
        .sum::<f64>()
}

/// Runs `budget` trials of `sampler` on `objective` and returns the best value after each.
pub fn best_so_far(objective: &Objective, sampler: &dyn Sampler, budget: usize) -> Vec<f64> {
    let space = objective.space();
    let mut study = Study::new(space.clone(), Direction::Minimize);
    let mut best = f64::INFINITY;
    let mut curve = Vec::with_capacity(budget);
    for _ in 0..budget {
        let Ok((id, params)) = study.ask(sampler) else {
            break;
        };
        let x = space
            .to_internal(&params)
            .expect("sampler proposes the space's parameters");
        let v = (objective.f)(&x);
        study
            .tell(id, Outcome::Complete(v))
            .expect("a running trial");
        best = best.min(v);
        curve.push(best);
    }
    curve
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::{RandomSampler, TpeConfig, TpeSampler};
    use std::f64::consts::PI;

    #[test]
    fn branin_minima() {
        for (x1, x2) in [(-PI, 12.275), (PI, 2.275), (9.424_78, 2.475)] {
            assert!((branin(x1, x2) - 0.397_887).abs() < 1e-5, "{x1},{x2}");
        }
        assert!((BRANIN.f)(&[0.0, 0.0]) > 0.397_887);
    }

    #[test]
    fn hartmann6_minimum() {
        let x = [
            0.201_69, 0.150_011, 0.476_874, 0.275_332, 0.311_652, 0.657_3,
        ];
        assert!(
            (hartmann6(&x) - -3.322_37).abs() < 1e-4,
            "{}",
            hartmann6(&x)
        );
        assert!((HARTMANN6.minimum - -3.322_37).abs() < 1e-5);
        assert!(hartmann6(&[0.5; 6]) > HARTMANN6.minimum);
    }

    #[test]
    fn best_so_far_is_monotone_and_above_the_minimum() {
        for objective in [BRANIN, HARTMANN6] {
            for curve in [
                best_so_far(&objective, &RandomSampler::new(0), 30),
                best_so_far(&objective, &TpeSampler::new(0, TpeConfig::default()), 30),
            ] {
                assert_eq!(curve.len(), 30);
                assert!(curve.windows(2).all(|w| w[1] <= w[0]));
                assert!(curve[29] >= objective.minimum - 1e-9);
            }
        }
    }
}
