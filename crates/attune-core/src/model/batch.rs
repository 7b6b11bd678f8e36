//! Batched top-k for factor models: many users against the whole catalog, cache-blocked.
//!
//! Scoring one user at a time streams every item factor from memory per user (12.8 MB at 50k
//! items x 64 factors), which makes batch inference memory-bound. Here item factors are
//! transposed once into blocks of [`ITEM_BLOCK`] items stored feature-major (128 KB per block at
//! 64 factors: it stays in L2), and a group of [`USER_GROUP`] users walks the blocks together:
//! each block is loaded once per group instead of once per user. Inside a block a user's scores
//! are `Σ_f x_f · Yᵀ[f, block]`, computed in register tiles of 64 items with no horizontal
//! reductions, which vectorizes fully (AVX2+FMA copy picked at run time). Every user keeps a bounded heap
//! across blocks, so no `n_users x n_items` score matrix is ever materialized.
//!
//! Groups run in parallel with rayon; results come back in input order. Scores are summed in
//! feature order, so they can differ from [`crate::model::linalg::dot`] in the last bits; ties
//! are broken by item index as everywhere ([`crate::model::topk`]).

use rayon::prelude::*;

use super::linalg::{has_avx2_fma, MulAdd, Plain};
use super::topk::Heap;

/// Items per block.
pub const ITEM_BLOCK: usize = 512;
/// Users per parallel task (sharing each loaded item block).
pub const USER_GROUP: usize = 64;

/// Items transposed into feature-major blocks: block `b` holds `dim x ITEM_BLOCK` values,
/// `[f * ITEM_BLOCK + t]` = feature `f` of item `b * ITEM_BLOCK + t` (zero-padded at the end).
struct Blocks {
    dim: usize,
    n_items: usize,
    data: Vec<f32>,
    bias: Vec<f32>,
}

impl Blocks {
    fn new(items: &[f32], bias: Option<&[f32]>, dim: usize) -> Self {
        let n_items = items.len() / dim;
        let n_blocks = n_items.div_ceil(ITEM_BLOCK);
        let mut data = vec![0f32; n_blocks * dim * ITEM_BLOCK];
        data.par_chunks_mut(dim * ITEM_BLOCK)
            .enumerate()
            .for_each(|(b, block)| {
                for t in 0..ITEM_BLOCK.min(n_items - b * ITEM_BLOCK) {
                    let row = &items[(b * ITEM_BLOCK + t) * dim..(b * ITEM_BLOCK + t + 1) * dim];
                    for (f, &v) in row.iter().enumerate() {
                        block[f * ITEM_BLOCK + t] = v;
                    }
                }
            });
        let mut b = vec![0f32; n_blocks * ITEM_BLOCK];
        if let Some(bias) = bias {
            b[..n_items].copy_from_slice(bias);
        }
        Self {
            dim,
            n_items,
            data,
            bias: b,
        }
    }
}

/// Top `k` items by `x_u · y_i (+ bias_i)` for every row `x_u` of `users` (row-major,
/// `n x dim`), excluding `exclude(r)` (sorted ascending) for user row `r`. NaN scores are never
/// returned; each list is best first.
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
    batch_impl(has_avx2_fma(), users, items, item_bias, dim, k, exclude)
}

fn batch_impl<'a, E>(
    fast: bool,
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
    assert!(
        dim > 0 && users.len().is_multiple_of(dim) && items.len().is_multiple_of(dim),
        "factor lengths must be multiples of dim"
    );
    if let Some(b) = item_bias {
        assert_eq!(b.len(), items.len() / dim, "one bias per item");
    }
    let blocks = Blocks::new(items, item_bias, dim);
    let groups: Vec<Vec<Vec<(u32, f32)>>> = users
        .par_chunks(USER_GROUP * dim)
        .enumerate()
        .map(|(g, xs)| {
            let first = g * USER_GROUP;
            let ex = |r: usize| exclude(first + r);
            #[cfg(target_arch = "x86_64")]
            if fast {
                // SAFETY: `fast` is only true when the CPU has AVX2 and FMA.
                return unsafe { group_avx2(&blocks, xs, k, &ex) };
            }
            let _ = fast;
            group::<Portable>(&blocks, xs, k, &ex)
        })
        .collect();
    groups.into_iter().flatten().collect()
}

/// [`group`] compiled for AVX2 with fused multiply-adds.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn group_avx2<'a>(
    blocks: &Blocks,
    xs: &[f32],
    k: usize,
    exclude: &dyn Fn(usize) -> &'a [u32],
) -> Vec<Vec<(u32, f32)>> {
    group::<Avx2>(blocks, xs, k, exclude)
}

/// Items per register tile: 64 `f32` accumulators = 8 AVX2 registers.
const TILE: usize = 64;

/// Computes one user's scores over one item block.
trait BlockKernel {
    /// `scores[t] = bias[t] + Σ_f x_f · block[f * ITEM_BLOCK + t]`.
    fn scores(block: &[f32], bias: &[f32], x: &[f32], scores: &mut [f32; ITEM_BLOCK]);
}

/// Portable kernel (whatever the compiler makes of [`block_scores`]).
struct Portable;

impl BlockKernel for Portable {
    #[inline(always)]
    fn scores(block: &[f32], bias: &[f32], x: &[f32], scores: &mut [f32; ITEM_BLOCK]) {
        block_scores::<Plain>(block, bias, x, scores);
    }
}

/// AVX2+FMA kernel with explicit intrinsics: LLVM spilled the portable tile's accumulators to
/// the stack, which halved its throughput. Only used inside [`group_avx2`].
#[cfg(target_arch = "x86_64")]
struct Avx2;

#[cfg(target_arch = "x86_64")]
impl BlockKernel for Avx2 {
    #[inline(always)]
    fn scores(block: &[f32], bias: &[f32], x: &[f32], scores: &mut [f32; ITEM_BLOCK]) {
        use std::arch::x86_64::{
            _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_storeu_ps,
        };
        assert!(
            block.len() >= x.len() * ITEM_BLOCK && bias.len() >= ITEM_BLOCK,
            "block shapes"
        );
        for t0 in (0..ITEM_BLOCK).step_by(TILE) {
            // SAFETY: every pointer below stays inside `bias[t0..t0 + 64]`,
            // `block[f * ITEM_BLOCK + t0..][..64]` (f < x.len(), checked above) or
            // `scores[t0..t0 + 64]`; unaligned loads and stores are used throughout. The
            // caller guarantees AVX2 and FMA (this impl is only reached from `group_avx2`).
            unsafe {
                let b = bias.as_ptr().add(t0);
                let mut a = [
                    _mm256_loadu_ps(b),
                    _mm256_loadu_ps(b.add(8)),
                    _mm256_loadu_ps(b.add(16)),
                    _mm256_loadu_ps(b.add(24)),
                    _mm256_loadu_ps(b.add(32)),
                    _mm256_loadu_ps(b.add(40)),
                    _mm256_loadu_ps(b.add(48)),
                    _mm256_loadu_ps(b.add(56)),
                ];
                for (f, &xf) in x.iter().enumerate() {
                    let xv = _mm256_set1_ps(xf);
                    let r = block.as_ptr().add(f * ITEM_BLOCK + t0);
                    a[0] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(r), a[0]);
                    a[1] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(r.add(8)), a[1]);
                    a[2] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(r.add(16)), a[2]);
                    a[3] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(r.add(24)), a[3]);
                    a[4] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(r.add(32)), a[4]);
                    a[5] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(r.add(40)), a[5]);
                    a[6] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(r.add(48)), a[6]);
                    a[7] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(r.add(56)), a[7]);
                }
                let o = scores.as_mut_ptr().add(t0);
                for (j, v) in a.iter().enumerate() {
                    _mm256_storeu_ps(o.add(8 * j), *v);
                }
            }
        }
    }
}

/// `scores[t] = bias[t] + Σ_f x_f · block[f][t]` for one user and one item block.
///
/// Register-tiled: for each tile of [`TILE`] items the accumulators are meant to stay in
/// registers for the whole loop over features, so the inner loop is one load and one
/// multiply-add per 8 items (an axpy per feature would also load and store the scores).
#[inline(always)]
fn block_scores<M: MulAdd>(block: &[f32], bias: &[f32], x: &[f32], scores: &mut [f32; ITEM_BLOCK]) {
    for t0 in (0..ITEM_BLOCK).step_by(TILE) {
        let mut acc = [0f32; TILE];
        acc.copy_from_slice(&bias[t0..t0 + TILE]);
        for (f, &xf) in x.iter().enumerate() {
            let row = &block[f * ITEM_BLOCK + t0..f * ITEM_BLOCK + t0 + TILE];
            for t in 0..TILE {
                acc[t] = M::madd(xf, row[t], acc[t]);
            }
        }
        scores[t0..t0 + TILE].copy_from_slice(&acc);
    }
}

/// One group of users over every item block.
#[inline(always)]
fn group<'a, K: BlockKernel>(
    blocks: &Blocks,
    xs: &[f32],
    k: usize,
    exclude: &dyn Fn(usize) -> &'a [u32],
) -> Vec<Vec<(u32, f32)>> {
    let dim = blocks.dim;
    let n_users = xs.len() / dim;
    let mut lists: Vec<Vec<(u32, f32)>> = (0..n_users).map(|_| Vec::with_capacity(k)).collect();
    let excl: Vec<&[u32]> = (0..n_users).map(exclude).collect();
    let mut ex_pos = vec![0usize; n_users];
    let mut scores = [0f32; ITEM_BLOCK];
    if k == 0 {
        return lists;
    }
    for (b, block) in blocks.data.chunks_exact(dim * ITEM_BLOCK).enumerate() {
        let base = b * ITEM_BLOCK;
        let len = ITEM_BLOCK.min(blocks.n_items - base);
        for u in 0..n_users {
            let x = &xs[u * dim..(u + 1) * dim];
            K::scores(block, &blocks.bias[base..base + ITEM_BLOCK], x, &mut scores);
            let mut heap = Heap {
                v: &mut lists[u],
                k,
            };
            // Excluded items become NaN, which never enters a heap.
            let ex = excl[u];
            let mut p = ex_pos[u];
            while p < ex.len() && (ex[p] as usize) < base + len {
                if ex[p] as usize >= base {
                    scores[ex[p] as usize - base] = f32::NAN;
                }
                p += 1;
            }
            // Until the heap is full every score is offered; after that only scores above the
            // current k-th best (equal scores lose: earlier items have lower indices). The
            // common case is one compare per item.
            let mut t = 0;
            while t < len && heap.v.len() < k {
                if !scores[t].is_nan() {
                    heap.offer(((base + t) as u32, scores[t]));
                }
                t += 1;
            }
            if t < len {
                let mut threshold = heap.v[0].1;
                // Plain indexing: iterator adapters here were not inlined into the AVX2 copy.
                while t < len {
                    let s = scores[t];
                    if s > threshold {
                        heap.offer(((base + t) as u32, s));
                        threshold = heap.v[0].1;
                    }
                    t += 1;
                }
            }
            ex_pos[u] = p;
        }
    }
    for list in &mut lists {
        Heap { v: list, k }.finish();
    }
    lists
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::topk::top_k;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Small integers keep every sum exact, so the batched and naive orders agree bit for bit.
    fn int_factors(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n * dim)
            .map(|_| rng.random_range(-3i32..4) as f32)
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn equals_per_user_sort_and_truncate(
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
            let portable = batch_impl(false, &users, &items, with_bias.then_some(&bias[..]), dim, k, |r| &excl[r]);
            prop_assert_eq!(&got, &portable);
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
}
