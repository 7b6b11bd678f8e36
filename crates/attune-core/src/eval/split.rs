//! Train/test splits of an interaction list.
//!
//! A split is a partition of **positions** in the caller's interaction list (`users[p]`,
//! `items[p]`, `times[p]` describe interaction `p`), so it works for any column layout and can
//! be reused for several models or value columns; [`Split::to_csr`] builds the two matrices.
//! Both index lists are sorted ascending. Randomized splits draw from a `ChaCha8Rng` seeded by
//! the caller and visit users in ascending order, so a seed fixes the split for good.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::ParamError;
use crate::sparse::{Csr, CsrBuilder, SparseError};

/// A partition of interaction positions into training and test parts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Split {
    /// Positions used for training, ascending.
    pub train: Vec<usize>,
    /// Positions held out, ascending.
    pub test: Vec<usize>,
}

impl Split {
    fn from_mask(is_test: &[bool]) -> Self {
        let mut s = Split::default();
        for (p, &t) in is_test.iter().enumerate() {
            if t {
                s.test.push(p);
            } else {
                s.train.push(p);
            }
        }
        s
    }

    /// The train and test matrices (`n_users x n_items`, duplicates summed) of `triplets`
    /// (`(user, item, value)` at each position).
    pub fn to_csr(
        &self,
        triplets: &[(u32, u32, f32)],
        n_users: usize,
        n_items: usize,
    ) -> Result<(Csr, Csr), SparseError> {
        let build = |positions: &[usize]| {
            let mut b = CsrBuilder::with_capacity(positions.len());
            for &p in positions {
                let (u, i, v) = triplets[p];
                b.push(u, i, v)?;
            }
            b.build(n_users, n_items)
        };
        Ok((build(&self.train)?, build(&self.test)?))
    }
}

fn check_fraction(field: &'static str, f: f64) -> Result<(), ParamError> {
    if f.is_finite() && f > 0.0 && f < 1.0 {
        Ok(())
    } else {
        Err(ParamError::new(
            "split",
            field,
            f,
            "must be strictly between 0 and 1",
        ))
    }
}

/// Positions grouped by key (ascending key), each group in input order: a counting sort.
fn groups(keys: &[u32]) -> (Vec<usize>, Vec<usize>) {
    let n_keys = keys.iter().map(|&k| k as usize + 1).max().unwrap_or(0);
    let mut ptr = vec![0usize; n_keys + 1];
    for &k in keys {
        ptr[k as usize + 1] += 1;
    }
    for k in 0..n_keys {
        ptr[k + 1] += ptr[k];
    }
    let mut next = ptr.clone();
    let mut order = vec![0usize; keys.len()];
    for (p, &k) in keys.iter().enumerate() {
        order[next[k as usize]] = p;
        next[k as usize] += 1;
    }
    (ptr, order)
}

fn shuffle<T>(rng: &mut ChaCha8Rng, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}

/// Per-user random holdout: each user with `n` interactions sends `round(test_fraction · n)`
/// random ones to test, but always keeps at least one for training (a user with a single
/// interaction stays entirely in training, since nothing could be recommended from nothing).
pub fn random_holdout(users: &[u32], test_fraction: f64, seed: u64) -> Result<Split, ParamError> {
    check_fraction("test_fraction", test_fraction)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (ptr, mut order) = groups(users);
    let mut is_test = vec![false; users.len()];
    for u in 0..ptr.len().saturating_sub(1) {
        let g = &mut order[ptr[u]..ptr[u + 1]];
        let n = g.len();
        let n_test = ((test_fraction * n as f64).round() as usize).min(n.saturating_sub(1));
        shuffle(&mut rng, g);
        for &p in &g[..n_test] {
            is_test[p] = true;
        }
    }
    Ok(Split::from_mask(&is_test))
}

/// Global temporal cut: everything strictly before `cut` trains, everything at or after it is
/// tested (no information from the future leaks into training).
pub fn temporal_cut(times: &[i64], cut: i64) -> Split {
    let is_test: Vec<bool> = times.iter().map(|&t| t >= cut).collect();
    Split::from_mask(&is_test)
}

/// The cut time that sends the latest `test_fraction` of interactions to test: the timestamp at
/// sorted position `n − round(test_fraction · n)`. Interactions sharing that timestamp all go to
/// test, so the test part can be slightly larger than asked. `None` for no interactions.
pub fn temporal_cut_time(times: &[i64], test_fraction: f64) -> Result<Option<i64>, ParamError> {
    check_fraction("test_fraction", test_fraction)?;
    if times.is_empty() {
        return Ok(None);
    }
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let n_test = ((test_fraction * n as f64).round() as usize).clamp(1, n);
    Ok(Some(sorted[n - n_test]))
}

/// Per-user leave-last-`n`-out: each user's `n` latest interactions (ties broken by position)
/// go to test, keeping at least one for training.
pub fn leave_last_n(users: &[u32], times: &[i64], n: usize) -> Result<Split, ParamError> {
    if n == 0 {
        return Err(ParamError::new("split", "n", 0, "must be at least 1"));
    }
    assert_eq!(users.len(), times.len(), "one time per interaction");
    let (ptr, mut order) = groups(users);
    let mut is_test = vec![false; users.len()];
    for u in 0..ptr.len().saturating_sub(1) {
        let g = &mut order[ptr[u]..ptr[u + 1]];
        g.sort_by_key(|&p| (times[p], p));
        let n_test = n.min(g.len().saturating_sub(1));
        for &p in &g[g.len() - n_test..] {
            is_test[p] = true;
        }
    }
    Ok(Split::from_mask(&is_test))
}

/// Hold out whole groups: a random `test_fraction` of the distinct keys (users, for "new user"
/// evaluation with fold-in; items, for cold-start items) sends all its interactions to test.
/// The number of test keys is `round(test_fraction · distinct keys)`.
pub fn group_holdout(keys: &[u32], test_fraction: f64, seed: u64) -> Result<Split, ParamError> {
    check_fraction("test_fraction", test_fraction)?;
    let (ptr, _) = groups(keys);
    let mut present: Vec<u32> = (0..ptr.len().saturating_sub(1))
        .filter(|&k| ptr[k + 1] > ptr[k])
        .map(|k| k as u32)
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    shuffle(&mut rng, &mut present);
    let n_test = (test_fraction * present.len() as f64).round() as usize;
    let mut held = vec![false; ptr.len().saturating_sub(1)];
    for &k in &present[..n_test] {
        held[k as usize] = true;
    }
    let is_test: Vec<bool> = keys.iter().map(|&k| held[k as usize]).collect();
    Ok(Split::from_mask(&is_test))
}

/// New-user evaluation: a random `user_fraction` of users is held out of training entirely;
/// for each of them the earliest `fold_in_fraction` of their interactions (by time, ties by
/// position; at least one when they have two or more) is the history the model folds in, and
/// the rest is scored. Returns `(split, fold_in)`: `split.train` trains the model,
/// `fold_in` are the held-out users' history positions, `split.test` their scored positions.
/// Evaluate with the history matrix `train ∪ fold_in` and the test matrix.
pub fn new_user_holdout(
    users: &[u32],
    times: &[i64],
    user_fraction: f64,
    fold_in_fraction: f64,
    seed: u64,
) -> Result<(Split, Vec<usize>), ParamError> {
    check_fraction("user_fraction", user_fraction)?;
    check_fraction("fold_in_fraction", fold_in_fraction)?;
    assert_eq!(users.len(), times.len(), "one time per interaction");
    let held = group_holdout(users, user_fraction, seed)?;
    let mut by_user: Vec<usize> = held.test.clone();
    by_user.sort_by_key(|&p| (users[p], times[p], p));
    let mut fold_in = Vec::new();
    let mut test = Vec::new();
    let mut start = 0;
    while start < by_user.len() {
        let u = users[by_user[start]];
        let end = start
            + by_user[start..]
                .iter()
                .take_while(|&&p| users[p] == u)
                .count();
        let n = end - start;
        let n_hist = if n >= 2 {
            ((fold_in_fraction * n as f64).round() as usize).clamp(1, n - 1)
        } else {
            n
        };
        fold_in.extend_from_slice(&by_user[start..start + n_hist]);
        test.extend_from_slice(&by_user[start + n_hist..end]);
        start = end;
    }
    fold_in.sort_unstable();
    test.sort_unstable();
    Ok((
        Split {
            train: held.train,
            test,
        },
        fold_in,
    ))
}

/// k-fold cross-validation over interactions: shuffle the positions with `seed`, cut them into
/// `k` contiguous folds whose sizes differ by at most one (the first `n mod k` folds get one
/// more, as in Surprise's `KFold`); fold `f` is the test part of split `f`.
pub fn k_fold(n_interactions: usize, k: usize, seed: u64) -> Result<Vec<Split>, ParamError> {
    if k < 2 || k > n_interactions {
        return Err(ParamError::new(
            "split",
            "folds",
            k,
            "must be at least 2 and at most the number of interactions",
        ));
    }
    let mut order: Vec<usize> = (0..n_interactions).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    shuffle(&mut rng, &mut order);
    let mut fold_of = vec![0usize; n_interactions];
    let (base, extra) = (n_interactions / k, n_interactions % k);
    let mut start = 0;
    for f in 0..k {
        let len = base + usize::from(f < extra);
        for &p in &order[start..start + len] {
            fold_of[p] = f;
        }
        start += len;
    }
    Ok((0..k)
        .map(|f| {
            let is_test: Vec<bool> = fold_of.iter().map(|&g| g == f).collect();
            Split::from_mask(&is_test)
        })
        .collect())
}

/// Per-user ratio split into several parts (train, validation, test, ...), RecBole's `RS`
/// split with `group_by: user` (`Dataset.split_by_ratio`): each user's interactions are
/// shuffled with `seed`, then cut into consecutive parts whose sizes follow RecBole's
/// `_calcu_split_ids`: part `p > 0` gets `floor(ratio_p · n)`, part 0 the rest; then, from the
/// last part backwards, a part whose `ratio · n` is strictly between 0 and 1 gets one
/// interaction taken from part 0, while part 0 keeps more than one. Ratios are normalized to
/// sum to 1. Returns each part's positions, ascending.
///
/// The cut is RecBole's exactly; the shuffle is ours (RecBole's depends on numpy's generator),
/// so the same seed does not reproduce RecBole's assignment, only its protocol.
pub fn ratio_split(
    users: &[u32],
    ratios: &[f64],
    seed: u64,
) -> Result<Vec<Vec<usize>>, ParamError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    parts_by_ratio(users, ratios, |g| shuffle(&mut rng, g))
}

/// Per-user temporal ratio split: RecBole's `RS` split with `order: TO` and `group_by: user`.
/// Each user's interactions are ordered by time (ties by position) and cut as
/// [`ratio_split`] cuts them, so part 0 is each user's earliest history and the last part
/// their latest: with ratios `0.64, 0.16, 0.2` the latest 20% of every user is test and the
/// latest 20% of the rest validation, carved from training the same way. Deterministic.
pub fn user_temporal_split(
    users: &[u32],
    times: &[i64],
    ratios: &[f64],
) -> Result<Vec<Vec<usize>>, ParamError> {
    assert_eq!(users.len(), times.len(), "one time per interaction");
    parts_by_ratio(users, ratios, |g| g.sort_by_key(|&p| (times[p], p)))
}

/// Cut each user's interactions, in the order `arrange` leaves them, into parts of
/// [`ratio_counts`] sizes.
fn parts_by_ratio(
    users: &[u32],
    ratios: &[f64],
    mut arrange: impl FnMut(&mut [usize]),
) -> Result<Vec<Vec<usize>>, ParamError> {
    if ratios.len() < 2 {
        return Err(ParamError::new(
            "split",
            "ratios",
            ratios.len(),
            "needs at least two parts",
        ));
    }
    if let Some(r) = ratios.iter().find(|r| !(r.is_finite() && **r > 0.0)) {
        return Err(ParamError::new(
            "split",
            "ratios",
            r,
            "every ratio must be > 0",
        ));
    }
    let total: f64 = ratios.iter().sum();
    let ratios: Vec<f64> = ratios.iter().map(|r| r / total).collect();
    let (ptr, mut order) = groups(users);
    let mut part_of = vec![0usize; users.len()];
    for u in 0..ptr.len().saturating_sub(1) {
        let g = &mut order[ptr[u]..ptr[u + 1]];
        arrange(g);
        let counts = ratio_counts(g.len(), &ratios);
        let mut start = 0;
        for (part, &c) in counts.iter().enumerate() {
            for &p in &g[start..start + c] {
                part_of[p] = part;
            }
            start += c;
        }
    }
    let mut parts = vec![Vec::new(); ratios.len()];
    for (p, &part) in part_of.iter().enumerate() {
        parts[part].push(p);
    }
    Ok(parts)
}

/// RecBole's `_calcu_split_ids` as part sizes (they sum to `n`).
fn ratio_counts(n: usize, ratios: &[f64]) -> Vec<usize> {
    let mut cnt: Vec<usize> = ratios.iter().map(|r| (r * n as f64) as usize).collect();
    cnt[0] = n - cnt[1..].iter().sum::<usize>();
    for i in 1..ratios.len() {
        if cnt[0] <= 1 {
            break;
        }
        let last = ratios.len() - i;
        let share = ratios[last] * n as f64;
        if 0.0 < share && share < 1.0 {
            cnt[last] += 1;
            cnt[0] -= 1;
        }
    }
    cnt
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn is_partition(s: &Split, n: usize) -> bool {
        let mut all: Vec<usize> = s.train.iter().chain(&s.test).copied().collect();
        all.sort_unstable();
        all == (0..n).collect::<Vec<_>>()
            && s.train.windows(2).all(|w| w[0] < w[1])
            && s.test.windows(2).all(|w| w[0] < w[1])
    }

    #[test]
    fn random_holdout_per_user_counts() {
        // User 0: 10 interactions, user 1: 1, user 2: 3.
        let mut users = vec![0u32; 10];
        users.push(1);
        users.extend([2, 2, 2]);
        let s = random_holdout(&users, 0.2, 42).unwrap();
        assert!(is_partition(&s, users.len()));
        let count = |u: u32| s.test.iter().filter(|&&p| users[p] == u).count();
        assert_eq!((count(0), count(1), count(2)), (2, 0, 1)); // round(0.6) = 1
        assert_eq!(s, random_holdout(&users, 0.2, 42).unwrap());
        assert_ne!(s, random_holdout(&users, 0.2, 43).unwrap());
    }

    #[test]
    fn test_fraction_must_be_strictly_between_0_and_1() {
        for f in [0.0, 1.0, -0.1, f64::NAN] {
            assert_eq!(
                random_holdout(&[0], f, 1).unwrap_err().field,
                "test_fraction"
            );
            assert_eq!(
                group_holdout(&[0], f, 1).unwrap_err().field,
                "test_fraction"
            );
            assert_eq!(
                temporal_cut_time(&[0], f).unwrap_err().field,
                "test_fraction"
            );
        }
    }

    #[test]
    fn leave_last_n_must_be_at_least_one() {
        assert_eq!(leave_last_n(&[0], &[0], 0).unwrap_err().field, "n");
    }

    #[test]
    fn folds_must_be_between_2_and_the_interaction_count() {
        assert_eq!(k_fold(10, 1, 0).unwrap_err().field, "folds");
        assert_eq!(k_fold(3, 4, 0).unwrap_err().field, "folds");
    }

    #[test]
    fn temporal_cut_hand_computed() {
        let times = [5, 1, 9, 3, 9, 7];
        assert_eq!(
            temporal_cut(&times, 7),
            Split {
                train: vec![0, 1, 3],
                test: vec![2, 4, 5]
            }
        );
        // Latest third of 6 = 2 interactions: sorted [1,3,5,7,9,9], position 4 → cut 9.
        assert_eq!(temporal_cut_time(&times, 1.0 / 3.0).unwrap(), Some(9));
        assert_eq!(temporal_cut_time(&times, 0.5).unwrap(), Some(7));
        assert_eq!(temporal_cut_time(&[], 0.5).unwrap(), None);
    }

    #[test]
    fn leave_last_n_takes_latest_per_user() {
        let users = [0, 0, 0, 1, 1, 2];
        let times = [30, 10, 20, 5, 5, 1];
        let s = leave_last_n(&users, &times, 1).unwrap();
        // User 0: latest is position 0; user 1: tie at 5, later position 4; user 2 keeps its one.
        assert_eq!(s.test, vec![0, 4]);
        let s2 = leave_last_n(&users, &times, 5).unwrap();
        assert_eq!(s2.test, vec![0, 2, 4]);
    }

    #[test]
    fn new_user_holdout_folds_in_the_earliest_part() {
        // Users 0..5 with 4 interactions each at times 40, 30, 20, 10 (latest first).
        let users: Vec<u32> = (0..20).map(|p| p / 4).collect();
        let times: Vec<i64> = (0..20).map(|p| 40 - 10 * (p % 4) as i64).collect();
        let (split, fold_in) = new_user_holdout(&users, &times, 0.4, 0.5, 9).unwrap();
        let held: std::collections::BTreeSet<u32> = fold_in.iter().map(|&p| users[p]).collect();
        assert_eq!(held.len(), 2);
        for &u in &held {
            let hist: Vec<i64> = fold_in
                .iter()
                .filter(|&&p| users[p] == u)
                .map(|&p| times[p])
                .collect();
            let test: Vec<i64> = split
                .test
                .iter()
                .filter(|&&p| users[p] == u)
                .map(|&p| times[p])
                .collect();
            assert_eq!((hist.len(), test.len()), (2, 2));
            assert!(hist.iter().max() < test.iter().min());
        }
        assert!(split.train.iter().all(|&p| !held.contains(&users[p])));
        let mut all: Vec<usize> = split
            .train
            .iter()
            .chain(&split.test)
            .chain(&fold_in)
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..20).collect::<Vec<_>>());
        assert_eq!(
            new_user_holdout(&users, &times, 0.4, 1.0, 9)
                .unwrap_err()
                .field,
            "fold_in_fraction"
        );
    }

    #[test]
    fn group_holdout_moves_whole_users() {
        let users = [0, 1, 2, 3, 0, 1, 2, 3, 7];
        let s = group_holdout(&users, 0.4, 5).unwrap();
        assert!(is_partition(&s, users.len()));
        let held: std::collections::BTreeSet<u32> = s.test.iter().map(|&p| users[p]).collect();
        assert_eq!(held.len(), 2); // round(0.4 · 5 distinct users)
        for (p, &u) in users.iter().enumerate() {
            assert_eq!(s.test.contains(&p), held.contains(&u));
        }
    }

    #[test]
    fn split_builds_matrices() {
        let t = [(0, 0, 1.0), (0, 1, 1.0), (1, 1, 2.0)];
        let s = Split {
            train: vec![0, 2],
            test: vec![1],
        };
        let (train, test) = s.to_csr(&t, 2, 2).unwrap();
        assert_eq!(train.to_dense(), vec![1.0, 0.0, 0.0, 2.0]);
        assert_eq!(test.to_dense(), vec![0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn ratio_counts_follow_recbole() {
        let r = [0.8, 0.1, 0.1];
        // int(0.1 · 25) = 2 each, train the rest.
        assert_eq!(ratio_counts(25, &r), vec![21, 2, 2]);
        // n = 5: 0.5 is in (0, 1), so test then validation get one each.
        assert_eq!(ratio_counts(5, &r), vec![3, 1, 1]);
        // n = 2: test gets one, then train is down to 1 and validation gets none.
        assert_eq!(ratio_counts(2, &r), vec![1, 0, 1]);
        assert_eq!(ratio_counts(1, &r), vec![1, 0, 0]);
        assert_eq!(ratio_counts(10, &r), vec![8, 1, 1]);
    }

    #[test]
    fn ratio_split_is_per_user_seeded_and_checks_ratios() {
        let users: Vec<u32> = (0..300u32).map(|p| p % 3).collect();
        let parts = ratio_split(&users, &[8.0, 1.0, 1.0], 4).unwrap();
        assert_eq!(parts.len(), 3);
        for u in 0..3u32 {
            let sizes: Vec<usize> = parts
                .iter()
                .map(|p| p.iter().filter(|&&x| users[x] == u).count())
                .collect();
            assert_eq!(sizes, vec![80, 10, 10]);
        }
        let mut all: Vec<usize> = parts.concat();
        all.sort_unstable();
        assert_eq!(all, (0..300).collect::<Vec<_>>());
        assert_eq!(parts, ratio_split(&users, &[0.8, 0.1, 0.1], 4).unwrap());
        assert_ne!(parts, ratio_split(&users, &[0.8, 0.1, 0.1], 5).unwrap());
        assert_eq!(ratio_split(&users, &[1.0], 1).unwrap_err().field, "ratios");
        assert_eq!(
            ratio_split(&users, &[0.8, 0.0], 1).unwrap_err().field,
            "ratios"
        );
    }

    proptest! {
        #[test]
        fn k_fold_partitions_with_balanced_folds(n in 2usize..200, k in 2usize..10, seed in 0u64..100) {
            prop_assume!(k <= n);
            let folds = k_fold(n, k, seed).unwrap();
            prop_assert_eq!(folds.len(), k);
            let mut seen = vec![0; n];
            for f in &folds {
                prop_assert!(is_partition(f, n));
                prop_assert!(f.test.len() == n / k || f.test.len() == n / k + 1);
                for &p in &f.test {
                    seen[p] += 1;
                }
            }
            prop_assert!(seen.iter().all(|&c| c == 1));
        }

        #[test]
        fn holdouts_partition_and_keep_a_training_item(users in prop::collection::vec(0u32..12, 0..120), frac in 0.05f64..0.95, seed in 0u64..50) {
            let times: Vec<i64> = (0..users.len() as i64).map(|t| (t * 7919) % 101).collect();
            for s in [random_holdout(&users, frac, seed).unwrap(), leave_last_n(&users, &times, 2).unwrap()] {
                prop_assert!(is_partition(&s, users.len()));
                for u in 0..12u32 {
                    let total = users.iter().filter(|&&x| x == u).count();
                    let train = s.train.iter().filter(|&&p| users[p] == u).count();
                    prop_assert!(total == 0 || train >= 1);
                }
            }
        }
    }

    #[test]
    fn user_temporal_split_holds_out_each_users_latest_interactions() {
        // User 0: 10 interactions at times 9, 8, ..., 0 (positions 0..10); user 1: 5 at
        // times 0..5 interleaved after them; user 2: one interaction.
        let mut users = vec![0u32; 10];
        let mut times: Vec<i64> = (0..10).rev().collect();
        users.extend([1u32; 5]);
        times.extend(0..5);
        users.push(2);
        times.push(7);
        let parts = user_temporal_split(&users, &times, &[0.64, 0.16, 0.2]).unwrap();
        // User 0, n = 10: test floor(2.0) = 2, valid floor(1.6) = 1, train 7; the latest two
        // (times 9 and 8) are positions 0 and 1.
        // User 1, n = 5: test floor(1.0) = 1, valid floor(0.8) = 0 then +1 (0 < 0.8 < 1),
        // train 3: times 0, 1, 2 | 3 | 4.
        // User 2, n = 1: train only (part 0 keeps its single interaction).
        assert_eq!(parts[2], vec![0, 1, 14]);
        assert_eq!(parts[1], vec![2, 13]);
        assert_eq!(parts[0], vec![3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15]);
        // Same counts as the shuffled split, other members.
        let shuffled = ratio_split(&users, &[0.64, 0.16, 0.2], 1).unwrap();
        let sizes = |p: &Vec<Vec<usize>>| p.iter().map(Vec::len).collect::<Vec<_>>();
        assert_eq!(sizes(&shuffled), sizes(&parts));
        // Two parts: train and test only.
        let two = user_temporal_split(&users, &times, &[0.8, 0.2]).unwrap();
        assert_eq!(two[1], vec![0, 1, 14]);
        assert!(user_temporal_split(&users, &times, &[1.0]).is_err());
    }
}
