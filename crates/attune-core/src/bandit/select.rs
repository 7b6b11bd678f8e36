//! Picking the best arm from scores, shared by every policy: ties are broken at random (a
//! fixed tie-break would send all of a fresh policy's first batch to arm 0), and Thompson
//! policies turn posterior draws into traffic shares by Monte Carlo.

use rand::{Rng, RngCore};

/// Index of the largest value; ties (e.g. several untried arms at `+∞`) are broken uniformly at
/// random by reservoir sampling. NaN never wins unless every value is NaN (then 0).
pub(crate) fn argmax(values: &[f64], rng: &mut dyn RngCore) -> usize {
    let mut best = 0;
    let mut best_v = f64::NEG_INFINITY;
    let mut ties = 0u32;
    for (i, &v) in values.iter().enumerate() {
        if v > best_v {
            best = i;
            best_v = v;
            ties = 1;
        } else if v == best_v {
            ties += 1;
            if rng.random_range(0..ties) == 0 {
                best = i;
            }
        }
    }
    best
}

/// The allocation of a deterministic rule that plays the argmax: share 1 split evenly over the
/// arms tied at the maximum, 0 elsewhere (before the floor is mixed in).
pub(crate) fn argmax_share_into(values: &[f64], out: &mut [f64]) {
    debug_assert_eq!(values.len(), out.len());
    let max = values
        .iter()
        .copied()
        .filter(|v| !v.is_nan())
        .fold(f64::NEG_INFINITY, f64::max);
    let n_max = values.iter().filter(|&&v| v == max).count();
    for (o, &v) in out.iter_mut().zip(values) {
        *o = if n_max > 0 && v == max {
            1.0 / n_max as f64
        } else {
            0.0
        };
    }
    if n_max == 0 {
        out.fill(1.0 / out.len() as f64);
    }
}

/// `P(arm is best)` estimated from `draws` (at least 1) joint posterior draws: `sample` fills
/// one draw of every arm's score, the argmax of each draw gets a vote.
///
/// This is the traffic share Thompson sampling would give each arm if the posterior stayed as
/// it is (probability matching), which is what serving needs to split a batch.
pub(crate) fn best_frequencies_into(
    draws: usize,
    rng: &mut dyn RngCore,
    out: &mut [f64],
    mut sample: impl FnMut(&mut dyn RngCore, &mut [f64]),
) {
    let draws = draws.max(1);
    let mut scores = vec![0.0; out.len()];
    out.fill(0.0);
    for _ in 0..draws {
        sample(rng, &mut scores);
        out[argmax(&scores, rng)] += 1.0;
    }
    for o in out.iter_mut() {
        *o /= draws as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn ties_are_broken_uniformly() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let values = [f64::INFINITY, 0.3, f64::INFINITY, f64::INFINITY];
        let mut counts = [0usize; 4];
        for _ in 0..30_000 {
            counts[argmax(&values, &mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        for c in [counts[0], counts[2], counts[3]] {
            assert!((c as f64 / 10_000.0 - 1.0).abs() < 0.05, "{counts:?}");
        }
    }

    #[test]
    fn nan_never_wins() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        assert_eq!(argmax(&[f64::NAN, -1.0, f64::NAN], &mut rng), 1);
    }

    #[test]
    fn argmax_share_splits_ties() {
        let mut out = [0.0; 3];
        argmax_share_into(&[2.0, 1.0, 2.0], &mut out);
        assert_eq!(out, [0.5, 0.0, 0.5]);
        argmax_share_into(&[f64::NAN; 3], &mut out);
        assert_eq!(out, [1.0 / 3.0; 3]);
    }

    #[test]
    fn best_frequencies_of_a_fixed_order_is_one_hot() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut out = [0.0; 3];
        best_frequencies_into(50, &mut rng, &mut out, |_, s| {
            s.copy_from_slice(&[0.0, 1.0, 0.5])
        });
        assert_eq!(out, [0.0, 1.0, 0.0]);
    }
}
