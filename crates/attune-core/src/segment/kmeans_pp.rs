//! Greedy k-means++ seeding, step for step as scikit-learn's `_kmeans_plusplus`.
//!
//! The first centre is a uniformly drawn row. Each further centre: draw `2 + floor(ln k)`
//! candidates with probability proportional to their squared distance to the nearest centre so
//! far (inverse-CDF search over the running sum, as `np.searchsorted(cumsum, u * pot)`), and keep
//! the candidate that leaves the smallest total squared distance (the "potential"). The greedy
//! trials are why sklearn's seeding beats plain k-means++ on clustered data.
//!
//! The random numbers come from a seeded ChaCha generator, not numpy's Mersenne Twister, so the
//! same seed does not give sklearn's centres; the algorithm and every tie rule are the same:
//! replaying numpy's draws (`seed_rows`) picks exactly the rows `sklearn.cluster.kmeans_plusplus`
//! picks (12 cases, k = 3..8, testdata/segment/reference.json).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::dense::{sq_dist, Dense};

/// Number of greedy candidates per centre after the first, sklearn's default.
pub(crate) fn local_trials(k: usize) -> usize {
    2 + (k as f64).ln().floor() as usize
}

/// `k` initial centres (row-major, `k * x.cols()` values) chosen among the rows of `x`, with
/// uniform draws in [0, 1) from the seeded generator.
pub(crate) fn seed_centres(x: &Dense, k: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    seed_rows(x, k, &mut || rng.random::<f64>())
        .into_iter()
        .flat_map(|i| x.row(i).iter().copied())
        .collect()
}

/// The rows k-means++ picks, given the uniform draws in [0, 1) in the order sklearn consumes
/// them from its `RandomState`: one for the first row, then `local_trials(k)` per further
/// centre. Tests replay numpy's draws through this to get sklearn's exact choice.
pub(crate) fn seed_rows(x: &Dense, k: usize, uniform: &mut dyn FnMut() -> f64) -> Vec<usize> {
    let n = x.rows();
    let trials = local_trials(k);
    // `random_state.choice(n, p=w / w.sum())` with unit weights: the first index whose
    // normalised running sum exceeds the draw (searchsorted side="right").
    let mut cdf: Vec<f64> = (0..n)
        .scan(0.0, |acc, _| {
            *acc += 1.0 / n as f64;
            Some(*acc)
        })
        .collect();
    let last = cdf[n - 1];
    cdf.iter_mut().for_each(|c| *c /= last);
    let u = uniform();
    let first = cdf.partition_point(|&c| c <= u).min(n - 1);
    let mut picked = vec![first];
    let mut closest: Vec<f64> = x.iter_rows().map(|r| sq_dist(r, x.row(first))).collect();
    let mut pot: f64 = closest.iter().sum();
    let mut cumsum = vec![0.0; n];
    let mut trial_dist = vec![0.0; n];
    let mut best_dist = vec![0.0; n];
    for _ in 1..k {
        let mut acc = 0.0;
        for (c, d) in cumsum.iter_mut().zip(&closest) {
            acc += d;
            *c = acc;
        }
        // sklearn draws all the trial values first, then scores the candidates in draw order.
        let draws: Vec<f64> = (0..trials).map(|_| uniform() * pot).collect();
        let mut best: Option<(f64, usize)> = None;
        for u in draws {
            // First index whose running sum reaches u (searchsorted side="left"), clipped.
            let cand = cumsum.partition_point(|&c| c < u).min(n - 1);
            let row = x.row(cand);
            let mut cand_pot = 0.0;
            for ((t, &c), r) in trial_dist.iter_mut().zip(&closest).zip(x.iter_rows()) {
                *t = c.min(sq_dist(r, row));
                cand_pot += *t;
            }
            // argmin keeps the first of equal potentials.
            if best.is_none_or(|(p, _)| cand_pot < p) {
                best = Some((cand_pot, cand));
                best_dist.copy_from_slice(&trial_dist);
            }
        }
        let (best_pot, cand) = best.expect("at least two trials");
        pot = best_pot;
        closest.copy_from_slice(&best_dist);
        picked.push(cand);
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn trials_follow_sklearn() {
        assert_eq!(local_trials(1), 2);
        assert_eq!(local_trials(2), 2);
        assert_eq!(local_trials(3), 3);
        assert_eq!(local_trials(8), 4);
        assert_eq!(local_trials(20), 4);
        assert_eq!(local_trials(21), 5);
    }

    #[test]
    fn seeds_are_distinct_rows_of_separated_groups() {
        // Three far-apart pairs: greedy k-means++ puts one centre in each.
        let x = Dense::from_rows(&[
            vec![0.0, 0.0],
            vec![0.1, 0.0],
            vec![10.0, 10.0],
            vec![10.1, 10.0],
            vec![-10.0, 10.0],
            vec![-10.0, 10.1],
        ])
        .unwrap();
        for seed in 0..20 {
            let c = seed_centres(&x, 3, &mut ChaCha8Rng::seed_from_u64(seed));
            let mut groups: Vec<i64> = c.chunks(2).map(|p| (p[0] / 10.0).round() as i64).collect();
            groups.sort_unstable();
            assert_eq!(groups, vec![-1, 0, 1], "seed {seed}: {c:?}");
        }
    }

    #[test]
    fn replaying_numpys_draws_picks_sklearns_rows() {
        use crate::segment::reference::{cases, count, fixture, ints, nums};
        for case in cases("seeding") {
            let x = fixture(case);
            let k = count(&case["k"]);
            let mut draws = nums(&case["draws"]).into_iter();
            let rows = seed_rows(&x, k, &mut || draws.next().expect("enough draws"));
            assert_eq!(draws.next(), None, "every draw used");
            let want: Vec<usize> = ints(&case["indices"]).iter().map(|&i| i as usize).collect();
            assert_eq!(rows, want, "{} k={k}", case["fixture"]);
        }
    }
}
