//! Batched top-k for factor models: many users against the whole catalog at matrix-multiply
//! speed, with lists identical to the single-user path ([`top_k_dot_exact`]: [`gemv`] +
//! [`top_k_into`]).
//!
//! Scoring one user at a time streams every item factor from memory per user and keeps one
//! user's vector in registers, so each loaded item value feeds one multiply-add. Here the work
//! is a GEMM `X Yᵀ` done in register tiles of [`MR`] users × [`NR`] items (12 of the 16 AVX2
//! registers accumulate; each loaded item vector feeds six multiply-adds), over items packed
//! once into feature-major panels of [`NR`] items. A group of users small enough to stay in L1
//! walks the panels in order, so each panel is read from memory once per group and then from
//! L1 for every tile of users. No score matrix is ever stored: the top-k is fused into the
//! tile.
//!
//! **Fused selection.** Each user keeps a bounded heap of its best `k` tile scores so far; its
//! k-th best `t` only grows. A tile score `g` becomes a *candidate* only when `g ≥ t − 2δ`
//! (one vector compare per eight scores; after the first few hundred items almost nothing
//! passes), where `δ` bounds the difference between any two fp32 evaluations of the same dot
//! product (`Slack`). Seen items are dropped when they pass, never before.
//!
//! **Why the lists are exact.** Tile scores are summed in another order than [`gemv`]'s, so they
//! differ from the exact scores `e` by at most `δ`. If `t*` is the final k-th best tile score,
//! `k` items have `e ≥ t* − δ`, so every item of the exact top-k has `e ≥ t* − δ` and therefore
//! `g ≥ t* − 2δ`: the candidates (kept against a running `t ≤ t*`) contain the exact top-k,
//! ties included. Candidates are then rescored with [`gemv_at`] (bit-identical to [`gemv`]) and
//! selected by [`top_k_of_into`] with the same order as [`top_k_into`] (higher score, then lower
//! index). A user whose bound is not finite is scored by the exact path.
//!
//! Groups (24 KB of user factors: 96 users at 64 factors) run in parallel with rayon; results
//! come back in input order. Without AVX2+FMA every user takes the exact path. No AVX-512 copy:
//! the development VM does not expose AVX-512, so it could not be tested.

use rayon::prelude::*;

use super::scan::{gemv, gemv_at};
use super::topk::{top_k_into, top_k_of_into, Heap};

/// Bytes of user factors per parallel task: the group's rows stay in L1 (with the current
/// 4 KB item panel) while every item panel passes over them once.
const GROUP_BYTES: usize = 24 * 1024;
/// Users per register tile.
pub const MR: usize = 6;
/// Items per register tile (two AVX2 vectors) and per packed panel.
pub const NR: usize = 16;

/// Top `k` items by `x_u · y_i (+ bias_i)` for every row `x_u` of `users` (row-major,
/// `n x dim`), excluding `exclude(r)` (sorted ascending) for user row `r`. NaN scores are never
/// returned; each list is best first. Equal, bit for bit, to [`top_k_dot_exact`].
///
/// # Panics
/// If `dim == 0`, a factor length is not a multiple of `dim`, or `bias` has the wrong length.
pub fn top_k_dot_batch<'a, E>(
    users: &[f32],
    items: &[f32],
    item_bias: Option<&[f32]>,
    dim: usize,
    k: usize,
    exclude: E,
) -> Vec<Vec<(u32, f32)>>
where
    E: Fn(usize) -> &'a [u32] + Sync,
{
    check_shapes(users, items, item_bias, dim);
    #[cfg(target_arch = "x86_64")]
    if k > 0 && super::linalg::has_avx2_fma() {
        return tiled(users, items, item_bias, dim, k, &exclude);
    }
    top_k_dot_exact(users, items, item_bias, dim, k, exclude)
}

/// The reference for [`top_k_dot_batch`]: per user, the single-user path — [`gemv`] over all
/// items, `+ bias_i`, then [`top_k_into`] — in parallel over users.
///
/// # Panics
/// As [`top_k_dot_batch`].
pub fn top_k_dot_exact<'a, E>(
    users: &[f32],
    items: &[f32],
    item_bias: Option<&[f32]>,
    dim: usize,
    k: usize,
    exclude: E,
) -> Vec<Vec<(u32, f32)>>
where
    E: Fn(usize) -> &'a [u32] + Sync,
{
    check_shapes(users, items, item_bias, dim);
    let n_items = items.len() / dim;
    users
        .par_chunks(dim)
        .enumerate()
        .map_init(
            || vec![0f32; n_items],
            |scores, (r, x)| {
                let mut out = Vec::new();
                if k > 0 {
                    exact_scores(items, x, item_bias, scores);
                    top_k_into(scores, k, exclude(r), &mut out);
                }
                out
            },
        )
        .collect()
}

fn check_shapes(users: &[f32], items: &[f32], item_bias: Option<&[f32]>, dim: usize) {
    assert!(
        dim > 0 && users.len().is_multiple_of(dim) && items.len().is_multiple_of(dim),
        "factor lengths must be multiples of dim"
    );
    if let Some(b) = item_bias {
        assert_eq!(b.len(), items.len() / dim, "one bias per item");
    }
}

/// The single-user path's scores: `gemv`, then the bias added item by item.
fn exact_scores(items: &[f32], x: &[f32], item_bias: Option<&[f32]>, out: &mut [f32]) {
    gemv(items, x, out);
    if let Some(b) = item_bias {
        for (s, b) in out.iter_mut().zip(b) {
            *s += b;
        }
    }
}

/// The single-user path's score of item `i` ([`exact_scores`]`[i]`).
fn exact_score(items: &[f32], x: &[f32], item_bias: Option<&[f32]>, i: u32) -> f32 {
    let s = gemv_at(items, x, i as usize);
    match item_bias {
        Some(b) => s + b[i as usize],
        None => s,
    }
}

/// A bound `δ` on `|g − e|` for two fp32 evaluations of `x · y_i (+ b_i)` in any summation
/// order, with or without fused multiply-adds: each is within `γ_{d+1} Σ|x_f y_f| + u|b_i + s|`
/// of the real value (Higham, Accuracy and Stability, §3.1), and `Σ|x_f y_f| ≤ ‖x‖ ‖y_i‖`.
/// So `δ = 2 γ_{d+2} (‖x‖ max‖y‖ + max|b|)`, computed in f64 with headroom, plus an absolute
/// term for subnormal products.
struct Slack {
    /// `2 γ_{d+2}` with headroom.
    rel: f64,
    max_y: f64,
    max_b: f64,
}

impl Slack {
    fn new(items: &[f32], item_bias: Option<&[f32]>, dim: usize) -> Self {
        let u = f64::from(f32::EPSILON) / 2.0;
        let nu = (dim + 2) as f64 * u;
        let max_y = items
            .chunks_exact(dim)
            .map(|y| y.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>())
            .fold(0f64, f64::max)
            .sqrt();
        let max_b = item_bias.map_or(0.0, |b| {
            b.iter().map(|v| f64::from(v.abs())).fold(0f64, f64::max)
        });
        Self {
            rel: 2.0 * nu / (1.0 - nu) * 1.01,
            max_y,
            max_b,
        }
    }

    /// `2δ` for user `x`, or `None` when the bound is not usable (non-finite or huge factors).
    fn two_delta(&self, x: &[f32]) -> Option<f64> {
        let nx = x
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            .sqrt();
        let m = nx * self.max_y + self.max_b;
        (m.is_finite() && m < 1e30).then_some(2.0 * (self.rel * m + 1e-40 * x.len() as f64))
    }
}

/// One user's selection state across the item walk.
struct UserState<'a> {
    /// Sorted items to skip, and how far the walk has passed through them.
    excl: &'a [u32],
    ex_pos: usize,
    /// `2δ` (see [`Slack`]), or `None`: this user takes the exact path.
    two_delta: Option<f64>,
    /// Tile scores `≥ admit` are candidates: `-∞` until `k` items were seen, then
    /// `t − 2δ` rounded down; NaN (nothing passes) for padding and exact-path users.
    admit: f32,
    /// The best `k` tile scores so far (root: the k-th best, `t`).
    heap: Vec<(u32, f32)>,
    /// Every tile score that passed (a superset of what passes at the end).
    cands: Vec<(u32, f32)>,
    /// `cands` is pruned to what passes now when it grows past this length, which then
    /// doubles what is left (amortized: a user whose scores all tie, such as a zero vector,
    /// keeps every item and must not prune per item).
    prune_at: usize,
}

impl<'a> UserState<'a> {
    fn new(excl: &'a [u32], two_delta: Option<f64>, k: usize) -> Self {
        Self {
            excl,
            ex_pos: 0,
            two_delta,
            admit: if two_delta.is_some() {
                f32::NEG_INFINITY
            } else {
                f32::NAN
            },
            heap: Vec::with_capacity(k),
            cands: Vec::new(),
            prune_at: 8 * k + 256,
        }
    }

    /// Item `i` scored `g ≥ admit` in its tile. Items arrive in increasing order.
    #[inline(never)]
    fn offer(&mut self, i: u32, g: f32, k: usize) {
        while self.ex_pos < self.excl.len() && self.excl[self.ex_pos] < i {
            self.ex_pos += 1;
        }
        if self.excl.get(self.ex_pos) == Some(&i) {
            return;
        }
        self.cands.push((i, g));
        Heap {
            v: &mut self.heap,
            k,
        }
        .offer((i, g));
        if self.heap.len() == k {
            let t = f64::from(self.heap[0].1);
            let two_delta = self.two_delta.unwrap_or(f64::NAN);
            // Rounded down: the f32 threshold must not exceed the real `t − 2δ`.
            self.admit = (t - two_delta - t.abs() * f64::from(f32::EPSILON) * 4.0) as f32;
            if self.cands.len() > self.prune_at {
                let admit = self.admit;
                self.cands.retain(|c| c.1 >= admit);
                self.prune_at = self.prune_at.max(2 * self.cands.len());
            }
        }
    }

    /// The exact list: candidates that still pass, rescored by the single-user path.
    fn finish(
        self,
        items: &[f32],
        x: &[f32],
        item_bias: Option<&[f32]>,
        k: usize,
    ) -> Vec<(u32, f32)> {
        let mut out = Vec::with_capacity(k);
        if self.two_delta.is_none() {
            let mut scores = vec![0f32; items.len() / x.len()];
            exact_scores(items, x, item_bias, &mut scores);
            top_k_into(&scores, k, self.excl, &mut out);
            return out;
        }
        let (ids, scores): (Vec<u32>, Vec<f32>) = self
            .cands
            .iter()
            .filter(|c| c.1 >= self.admit)
            .map(|&(i, _)| (i, exact_score(items, x, item_bias, i)))
            .unzip();
        top_k_of_into(&ids, &scores, k, &[], &mut out);
        out
    }
}

/// Item factors packed into panels of [`NR`] items, feature-major inside a panel:
/// `data[(p * dim + f) * NR + t]` = feature `f` of item `p * NR + t` (zero-padded at the end).
struct Panels {
    dim: usize,
    n_items: usize,
    n_panels: usize,
    data: Vec<f32>,
    bias: Option<Vec<f32>>,
}

impl Panels {
    fn new(items: &[f32], item_bias: Option<&[f32]>, dim: usize) -> Self {
        let n_items = items.len() / dim;
        let n_panels = n_items.div_ceil(NR);
        let mut data = vec![0f32; n_panels * dim * NR];
        data.par_chunks_mut(dim * NR)
            .enumerate()
            .for_each(|(p, panel)| {
                for t in 0..NR.min(n_items - p * NR) {
                    let row = &items[(p * NR + t) * dim..(p * NR + t + 1) * dim];
                    for (f, &v) in row.iter().enumerate() {
                        panel[f * NR + t] = v;
                    }
                }
            });
        let bias = item_bias.map(|b| {
            let mut v = vec![0f32; n_panels * NR];
            v[..n_items].copy_from_slice(b);
            v
        });
        Self {
            dim,
            n_items,
            n_panels,
            data,
            bias,
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn tiled<'a, E>(
    users: &[f32],
    items: &[f32],
    item_bias: Option<&[f32]>,
    dim: usize,
    k: usize,
    exclude: &E,
) -> Vec<Vec<(u32, f32)>>
where
    E: Fn(usize) -> &'a [u32] + Sync,
{
    let panels = Panels::new(items, item_bias, dim);
    let slack = Slack::new(items, item_bias, dim);
    let group = (GROUP_BYTES / (4 * dim) / MR).max(1) * MR;
    let groups: Vec<Vec<Vec<(u32, f32)>>> = users
        .par_chunks(group * dim)
        .enumerate()
        .map(|(g, xs)| {
            let first = g * group;
            let n = xs.len() / dim;
            let n_pad = n.div_ceil(MR) * MR;
            let mut padded = vec![0f32; n_pad * dim];
            padded[..xs.len()].copy_from_slice(xs);
            let mut states: Vec<UserState<'a>> = (0..n_pad)
                .map(|r| {
                    if r < n {
                        let x = &xs[r * dim..(r + 1) * dim];
                        UserState::new(exclude(first + r), slack.two_delta(x), k)
                    } else {
                        UserState::new(&[], None, k)
                    }
                })
                .collect();
            // SAFETY: `tiled` is only called when the CPU has AVX2 and FMA.
            unsafe { walk_avx2(&panels, &padded, &mut states, k) };
            states
                .into_iter()
                .take(n)
                .enumerate()
                .map(|(r, s)| s.finish(items, &xs[r * dim..(r + 1) * dim], item_bias, k))
                .collect()
        })
        .collect();
    groups.into_iter().flatten().collect()
}

/// Walks every item panel for one group of users (`xs`: `states.len()` rows, a multiple of
/// [`MR`]), offering the tile scores that pass each user's threshold.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn walk_avx2(panels: &Panels, xs: &[f32], states: &mut [UserState<'_>], k: usize) {
    use std::arch::x86_64::*;
    let dim = panels.dim;
    assert!(
        xs.len() == states.len() * dim && states.len().is_multiple_of(MR),
        "walk: whole register tiles of users"
    );
    assert_eq!(
        panels.data.len(),
        panels.n_panels * dim * NR,
        "walk: panel shapes"
    );
    let mut tile = [0f32; NR];
    for p in 0..panels.n_panels {
        for (b, block) in states.chunks_exact_mut(MR).enumerate() {
            let xb = xs[b * MR * dim..(b + 1) * MR * dim].as_ptr();
            // SAFETY: panel `p < n_panels` spans `dim * NR` floats of `data` (checked above);
            // the user rows of this block span `MR * dim` floats of `xs`; the bias (when
            // present) has `n_panels * NR` floats. Every load stays inside those ranges; the
            // caller guarantees AVX2 and FMA.
            unsafe {
                let pp = panels.data.as_ptr().add(p * dim * NR);
                let mut acc = [[_mm256_setzero_ps(); 2]; MR];
                for f in 0..dim {
                    let y0 = _mm256_loadu_ps(pp.add(f * NR));
                    let y1 = _mm256_loadu_ps(pp.add(f * NR + 8));
                    for (r, a) in acc.iter_mut().enumerate() {
                        let xv = _mm256_broadcast_ss(&*xb.add(r * dim + f));
                        a[0] = _mm256_fmadd_ps(xv, y0, a[0]);
                        a[1] = _mm256_fmadd_ps(xv, y1, a[1]);
                    }
                }
                if let Some(bias) = &panels.bias {
                    let bp = bias.as_ptr().add(p * NR);
                    let (b0, b1) = (_mm256_loadu_ps(bp), _mm256_loadu_ps(bp.add(8)));
                    for a in &mut acc {
                        a[0] = _mm256_add_ps(a[0], b0);
                        a[1] = _mm256_add_ps(a[1], b1);
                    }
                }
                for (a, s) in acc.iter().zip(block.iter_mut()) {
                    let t = _mm256_set1_ps(s.admit);
                    let m0 = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(a[0], t));
                    let m1 = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(a[1], t));
                    let mut mask = (m0 as u32) | ((m1 as u32) << 8);
                    if mask == 0 {
                        continue;
                    }
                    _mm256_storeu_ps(tile.as_mut_ptr(), a[0]);
                    _mm256_storeu_ps(tile.as_mut_ptr().add(8), a[1]);
                    while mask != 0 {
                        let lane = mask.trailing_zeros() as usize;
                        mask &= mask - 1;
                        let i = p * NR + lane;
                        // The threshold may have risen within this tile: recheck.
                        if i < panels.n_items && tile[lane] >= s.admit {
                            s.offer(i as u32, tile[lane], k);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::topk::top_k;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Small integers keep every sum exact, so any summation order gives the same scores.
    fn int_factors(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n * dim)
            .map(|_| rng.random_range(-3i32..4) as f32)
            .collect()
    }

    /// ALS-like factors that stress the rounding: rows with norms over four orders of
    /// magnitude, and groups of near-duplicate rows (a base row plus 1e-7-relative noise) and
    /// exact duplicates, so many scores tie or differ only in the last bits.
    fn rough_factors(n: usize, dim: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
        let mut out = Vec::with_capacity(n * dim);
        let mut base: Vec<f32> = Vec::new();
        for r in 0..n {
            if r % 5 == 0 || base.is_empty() {
                let scale = 10f32.powf(rng.random_range(-2.0..2.0));
                base = (0..dim)
                    .map(|_| rng.random_range(-1.0f32..1.0) * scale)
                    .collect();
            }
            match rng.random_range(0..3) {
                0 => out.extend_from_slice(&base),
                1 => out.extend(
                    base.iter()
                        .map(|&v| v * (1.0 + rng.random_range(-1e-7f32..1e-7))),
                ),
                _ => out.extend(base.iter().map(|&v| v * rng.random_range(0.5f32..1.5))),
            }
        }
        out
    }

    /// Sort-and-truncate over the single-user path's scores: the oracle.
    fn oracle(scores: &[f32], k: usize, excl: &[u32]) -> Vec<(u32, f32)> {
        let mut all: Vec<(u32, f32)> = scores
            .iter()
            .enumerate()
            .map(|(i, &s)| (i as u32, s))
            .filter(|(i, s)| !s.is_nan() && excl.binary_search(i).is_err())
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(k);
        all
    }

    fn bits(l: &[Vec<(u32, f32)>]) -> Vec<Vec<(u32, u32)>> {
        l.iter()
            .map(|v| v.iter().map(|e| (e.0, e.1.to_bits())).collect())
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn equals_the_single_user_path_bit_for_bit(
            n_users in 1usize..140,
            n_items in 0usize..1300,
            dim in prop::sample::select(vec![1usize, 3, 8, 16, 24, 64, 72]),
            k in prop_oneof![0usize..15, Just(2000usize)],
            with_bias in any::<bool>(),
            seed in 0u64..10_000,
        ) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let users = rough_factors(n_users, dim, &mut rng);
            let items = rough_factors(n_items, dim, &mut rng);
            let bias: Vec<f32> = (0..n_items).map(|_| rng.random_range(-0.5f32..0.5)).collect();
            let bias = with_bias.then_some(&bias[..]);
            // Seen items: a random sorted subset per user, plus the user's tile-best items.
            let excl: Vec<Vec<u32>> = (0..n_users)
                .map(|_| (0..n_items as u32).filter(|_| rng.random_range(0..10) == 0).collect())
                .collect();
            let got = top_k_dot_batch(&users, &items, bias, dim, k, |r| &excl[r]);
            let want = top_k_dot_exact(&users, &items, bias, dim, k, |r| &excl[r]);
            prop_assert_eq!(bits(&got), bits(&want));
            let mut scores = vec![0f32; n_items];
            for (u, x) in users.chunks_exact(dim).enumerate() {
                gemv(&items, x, &mut scores);
                if let Some(b) = bias {
                    scores.iter_mut().zip(b).for_each(|(s, b)| *s += b);
                }
                prop_assert_eq!(bits(&got[u..=u]), bits(&[oracle(&scores, k, &excl[u])]));
            }
        }

        #[test]
        fn exact_integer_scores_equal_naive_sums(
            n_users in 1usize..150,
            n_items in 1usize..1300,
            dim in 1usize..12,
            k in 0usize..15,
            with_bias in any::<bool>(),
            seed in 0u64..1000,
        ) {
            let users = int_factors(n_users, dim, seed);
            let items = int_factors(n_items, dim, seed + 1);
            let bias: Vec<f32> = int_factors(n_items, 1, seed + 2);
            let excl: Vec<Vec<u32>> = (0..n_users)
                .map(|u| (0..n_items as u32).filter(|i| (i + u as u32).is_multiple_of(7)).collect())
                .collect();
            let got = top_k_dot_batch(&users, &items, with_bias.then_some(&bias[..]), dim, k, |r| &excl[r]);
            prop_assert_eq!(got.len(), n_users);
            for u in 0..n_users {
                let x = &users[u * dim..(u + 1) * dim];
                let scores: Vec<f32> = (0..n_items)
                    .map(|i| {
                        let s: f32 = (0..dim).map(|f| x[f] * items[i * dim + f]).sum();
                        s + if with_bias { bias[i] } else { 0.0 }
                    })
                    .collect();
                prop_assert_eq!(&got[u], &top_k(&scores, k, &excl[u]));
            }
        }
    }

    /// A zero user (no history) ties every item at 0: the list is the first `k` items, and the
    /// candidate list is pruned without going quadratic.
    #[test]
    fn a_zero_user_ties_everything_and_gets_the_lowest_indices() {
        let dim = 16;
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let items = rough_factors(5000, dim, &mut rng);
        let users = vec![0f32; 7 * dim];
        let excl = vec![1u32, 4];
        let got = top_k_dot_batch(&users, &items, None, dim, 4, |_| &excl);
        for list in &got {
            assert_eq!(list, &vec![(0, 0.0), (2, 0.0), (3, 0.0), (5, 0.0)]);
        }
    }

    /// A user with non-finite factors has no usable bound and takes the exact path; its
    /// neighbours in the same register tile are unaffected.
    #[test]
    fn non_finite_users_take_the_exact_path() {
        let dim = 8;
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut users = rough_factors(13, dim, &mut rng);
        users[2 * dim] = f32::INFINITY;
        users[5 * dim + 1] = f32::NAN;
        let items = rough_factors(300, dim, &mut rng);
        let none: Vec<u32> = Vec::new();
        let got = top_k_dot_batch(&users, &items, None, dim, 10, |_| &none);
        let want = top_k_dot_exact(&users, &items, None, dim, 10, |_| &none);
        assert_eq!(bits(&got), bits(&want));
    }
}
