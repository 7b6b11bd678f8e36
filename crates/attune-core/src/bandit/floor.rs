//! The exploration floor: every arm keeps at least `floor` of the traffic.
//!
//! Why: a policy that has made up its mind stops sending traffic to the other arms, and then
//! cannot notice when they get better (a model retrained, a season turned), and an arm with no
//! traffic gives the analysts no data. The floor is a guarantee that holds whatever the policy
//! believes.
//!
//! How: the policy's allocation `π` is mixed with the uniform one,
//! `π'_i = (1 − K·f) · π_i + f`, with `K` arms and floor `f ∈ [0, 1/K]`. Every arm gets at
//! least `f`, the shares still sum to one, `f = 0` leaves the policy alone and `f = 1/K` is
//! uniform traffic. `choose` draws from the same mixture: with probability `K·f` it returns a
//! uniformly drawn arm, otherwise the policy's own choice.

use rand::{Rng, RngCore};

/// Share of the traffic the floor takes from the policy, `K·f` (at most 1).
fn uniform_mass(floor: f64, n_arms: usize) -> f64 {
    (floor * n_arms as f64).clamp(0.0, 1.0)
}

/// `out_i ← (1 − K·f) · out_i + f` in place (`out` sums to one before and after).
pub(crate) fn mix(floor: f64, out: &mut [f64]) {
    if floor <= 0.0 {
        return;
    }
    let keep = 1.0 - uniform_mass(floor, out.len());
    let each = (1.0 - keep) / out.len() as f64;
    for p in out {
        *p = keep * *p + each;
    }
}

/// The floor's side of `choose`: with probability `K·f` a uniformly drawn arm, else `None` (the
/// policy decides). Draws nothing from `rng` when the floor is zero, so a policy without a floor
/// consumes exactly the random numbers it did before floors existed.
pub(crate) fn explore(floor: f64, n_arms: usize, rng: &mut dyn RngCore) -> Option<usize> {
    if floor <= 0.0 {
        return None;
    }
    if rng.random::<f64>() < uniform_mass(floor, n_arms) {
        Some(rng.random_range(0..n_arms))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn mixing_gives_every_arm_the_floor_and_keeps_the_sum() {
        let mut p = vec![1.0, 0.0, 0.0, 0.0];
        mix(0.05, &mut p);
        assert!(p.iter().all(|&x| x >= 0.05 - 1e-15));
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((p[0] - (0.8 + 0.05)).abs() < 1e-12);
    }

    #[test]
    fn floor_of_one_over_k_is_uniform() {
        let mut p = vec![0.7, 0.2, 0.1];
        mix(1.0 / 3.0, &mut p);
        for x in p {
            assert!((x - 1.0 / 3.0).abs() < 1e-12);
        }
    }

    #[test]
    fn explore_fires_with_probability_k_times_floor() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 100_000;
        let hits = (0..n)
            .filter(|_| explore(0.02, 5, &mut rng).is_some())
            .count();
        let rate = hits as f64 / n as f64;
        assert!((rate - 0.10).abs() < 0.005, "rate {rate}");
    }

    #[test]
    fn zero_floor_draws_no_random_numbers() {
        let mut a = ChaCha8Rng::seed_from_u64(3);
        let b = a.clone();
        assert_eq!(explore(0.0, 3, &mut a), None);
        assert_eq!(a, b);
    }
}
