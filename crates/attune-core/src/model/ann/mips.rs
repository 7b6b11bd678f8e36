//! How a graph for maximum inner product search is built: the Möbius transform
//! `z = y / ‖y‖²` (Zhou, Tan, Xu and Li 2019, "Möbius Transformation for Fast Inner Product
//! Search on Graph", NeurIPS), and the similarities the graph is built and searched with.
//!
//! Factor models score `q · y`, which is not a distance: an item is not its own best match,
//! and a graph wired by `a · b` links almost everything to the few largest-norm items (on ALS
//! factors of 50,000 items, 87% of the nodes were left with no in-edge, unreachable).
//!
//! Why inversion: for `c > 0` the half-space `{y : q·y ≥ c}` maps under `z = y / ‖y‖²` onto
//! the ball `‖z − q/(2c)‖ ≤ ‖q‖/(2c)`, a ball through the origin (substitute `y = z / ‖z‖²`:
//! `q·z ≥ c‖z‖²`). So "the items with the largest `q · y`" become "the transformed points in the
//! smallest ball through the origin in direction `q`": an empty-ball, that is Euclidean
//! Delaunay, relation between the transformed points. HNSW's neighbour heuristic approximates
//! exactly that Delaunay graph, so the graph is built with Euclidean distances between the `z`s,
//! and searched greedily with the query's own `q · y` on the original factors. Nothing about
//! the scores is approximated: search computes only exact dot products, fewer of them.
//!
//! Why not the textbook Euclidean reduction (append `sqrt(M² − ‖y‖²)` to every item, 0 to the
//! query; Bachrach et al. 2014), which is exact too: with real ALS norm spreads it puts the
//! small-norm bulk in a dense clump and the large-norm items, the usual answers, far away, and
//! searches got stuck in the clump. Measured on ALS factors (50,000 items x 64, the same graph
//! parameters): recall@10 0.959 at `ef = 80` for the reduction, 0.994 for the transform
//! (docs/benchmarks.md).
//!
//! The Euclidean distance is computed from the original rows, `‖z_a − z_b‖² = 1/‖a‖² +
//! 1/‖b‖² − 2 a·b / (‖a‖²‖b‖²)`, so construction reads the same rows as search and needs no
//! transformed copy; the scalar part is in `f64`.

use std::marker::PhantomData;

use super::search::Sim;
use crate::model::linalg::MulAdd;

/// `max_i ‖y_i‖²`, summed in `f64` in item and factor order: a fingerprint of the factors a
/// graph was built from (checked bit for bit on load).
pub(crate) fn max_sq_norm(items: &[f32], dim: usize) -> f64 {
    items.chunks_exact(dim).map(sq_norm).fold(0.0, f64::max)
}

/// The `count` items with the largest norms, largest first (ties: lower id).
pub(crate) fn largest_norms(items: &[f32], dim: usize, count: usize) -> Vec<u32> {
    let mut by: Vec<(f64, u32)> = items
        .chunks_exact(dim)
        .enumerate()
        .map(|(i, r)| (sq_norm(r), i as u32))
        .collect();
    let order = |a: &(f64, u32), b: &(f64, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    if by.len() > count && count > 0 {
        by.select_nth_unstable_by(count - 1, order);
    }
    by.truncate(count);
    by.sort_unstable_by(order);
    by.into_iter().map(|e| e.1).collect()
}

/// Seed of the directions [`entry_seeds`] draws: fixed, so the seeds are a function of the
/// factors alone and a loaded graph recomputes the very same ones.
const DIRECTION_SEED: u64 = 0x5eed_d1ec;

/// The level-0 entry points every query starts from besides the entry point: the
/// `count / 2` largest-norm items (largest first), then, for `count − count / 2` random
/// directions (isotropic Gaussian, fixed seed), the item with the largest inner product in that
/// direction, i.e. the answer of a query pointing there, in direction order, without repeats.
/// A function of the factors only (recomputed on load).
///
/// Why both: the largest norms are the usual answers and sit next to the origin of the
/// transformed space, where Zhou et al. start; but on ALS factors they all lean the same way,
/// and the queries of the most active users (norms 2–3× the median), whose exact top 10 are
/// items of norm rank ~2,000–9,000 at cosines 0.3–0.6, walked from them into a local optimum
/// and got none of their top 10 at small beam widths. Winners of random directions are points
/// of the convex hull of the items all around it: a start near any such query's answers.
pub(crate) fn entry_seeds(items: &[f32], dim: usize, count: usize) -> Vec<u32> {
    let mut seeds = largest_norms(items, dim, count / 2);
    for id in direction_winners(items, dim, count - count / 2) {
        if !seeds.contains(&id) {
            seeds.push(id);
        }
    }
    seeds
}

/// For each of `n_dirs` random directions (fixed seed), the item with the largest inner
/// product with it (ties: the lower id), in direction order; repeats included.
fn direction_winners(items: &[f32], dim: usize, n_dirs: usize) -> Vec<u32> {
    use rand::SeedableRng;
    use rand_distr::Distribution;
    use rayon::prelude::*;
    let n_dirs = if items.is_empty() { 0 } else { n_dirs };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(DIRECTION_SEED);
    let dirs: Vec<f32> = (0..n_dirs * dim)
        .map(|_| rand_distr::StandardNormal.sample(&mut rng))
        .collect();
    if n_dirs == 0 {
        return Vec::new();
    }
    // Blocks of rows that stay in L2 while every direction passes over them.
    const CHUNK: usize = 2048;
    let none = || vec![(f32::NEG_INFINITY, u32::MAX); n_dirs];
    // Larger score, then the lower id: the same winners for any split into blocks.
    let pick = |a: (f32, u32), b: (f32, u32)| match b.0.total_cmp(&a.0) {
        std::cmp::Ordering::Greater => b,
        std::cmp::Ordering::Less => a,
        std::cmp::Ordering::Equal => (a.0, a.1.min(b.1)),
    };
    let best = items
        .par_chunks(CHUNK * dim)
        .enumerate()
        .map(|(c, rows)| {
            let mut best = none();
            for (b, d) in best.iter_mut().zip(dirs.chunks_exact(dim)) {
                for (r, row) in rows.chunks_exact(dim).enumerate() {
                    let s = crate::model::linalg::dot(d, row);
                    if s > b.0 {
                        *b = (s, (c * CHUNK + r) as u32);
                    }
                }
            }
            best
        })
        .reduce(none, |a, b| {
            a.into_iter().zip(b).map(|(x, y)| pick(x, y)).collect()
        });
    best.into_iter()
        .map(|(_, id)| id)
        .filter(|&id| id != u32::MAX)
        .collect()
}

fn sq_norm(r: &[f32]) -> f64 {
    r.iter().map(|&v| f64::from(v) * f64::from(v)).sum()
}

/// Squared norms are floored at this fraction of the largest, so a zero (or denormal) item
/// maps to a far but finite point instead of infinity.
const MIN_RELATIVE_SQ_NORM: f64 = 1e-12;

/// Item factors seen through the transform: what construction measures.
///
/// Construction only ranks candidates against each other, so it measures on a compact copy:
/// per item its transformed norm `r = ‖z‖ = 1/‖y‖` (`f32`) and its direction `y/‖y‖` quantized
/// to `i8` with one scale per item (`s`, the largest absolute component / 127). Then
/// `‖z_a − z_b‖² = (r_a − r_b)² + 2·r_a·r_b·(1 − cos)`, with `cos ≈ s_a·s_b·(c_a · c_b)` from an
/// exact integer dot product. At a million items the build is memory-bound (random reads of
/// rows): a 64-factor row is one cache line instead of four. Written this way, the norm part
/// is exact and only the angle is approximated, so the huge spread of ALS norms costs no
/// precision; queries never see this copy (they score the original `f32` factors).
pub(crate) struct Transformed<'a> {
    items: &'a [f32],
    /// `n x dim` quantized unit directions (empty in the exact form).
    codes: Vec<i8>,
    /// Per item `[r, s]`: `1/‖y‖` (floored as below) and the direction's scale.
    meta: Vec<[f32; 2]>,
    /// `1 / ‖y_i‖²` = `‖z_i‖²` (exact form only).
    inv_sq: Vec<f64>,
    dim: usize,
}

impl<'a> Transformed<'a> {
    /// The quantized form construction uses.
    pub(crate) fn new(items: &'a [f32], dim: usize, max_sq_norm: f64) -> Self {
        let floor = (max_sq_norm * MIN_RELATIVE_SQ_NORM).max(f64::MIN_POSITIVE);
        let n = items.len() / dim.max(1);
        let mut codes = Vec::with_capacity(n * dim);
        let mut meta = Vec::with_capacity(n);
        for r in items.chunks_exact(dim) {
            let sq = sq_norm(r);
            let inv = 1.0 / sq.sqrt().max(f64::MIN_POSITIVE);
            let big = r
                .iter()
                .fold(0f64, |m, &v| m.max((f64::from(v) * inv).abs()));
            let (scale, to_code) = if sq > 0.0 && big > 0.0 {
                (big / 127.0, 127.0 / big * inv)
            } else {
                (0.0, 0.0)
            };
            codes.extend(
                r.iter()
                    .map(|&v| (f64::from(v) * to_code).round().clamp(-127.0, 127.0) as i8),
            );
            meta.push([(1.0 / sq.max(floor)).sqrt() as f32, scale as f32]);
        }
        Self {
            items,
            codes,
            meta,
            inv_sq: Vec::new(),
            dim,
        }
    }

    /// The exact form (`f32` rows, `f64` norms): the reference the quantized one is tested
    /// against.
    #[cfg(test)]
    pub(crate) fn exact(items: &'a [f32], dim: usize, max_sq_norm: f64) -> Self {
        let floor = (max_sq_norm * MIN_RELATIVE_SQ_NORM).max(f64::MIN_POSITIVE);
        let inv_sq = items
            .chunks_exact(dim)
            .map(|r| 1.0 / sq_norm(r).max(floor))
            .collect();
        Self {
            items,
            codes: Vec::new(),
            meta: Vec::new(),
            inv_sq,
            dim,
        }
    }

    #[inline(always)]
    pub(crate) fn row(&self, i: u32) -> &[f32] {
        let d = self.dim;
        &self.items[i as usize * d..(i as usize + 1) * d]
    }

    #[inline(always)]
    fn code(&self, i: u32) -> &[i8] {
        let d = self.dim;
        &self.codes[i as usize * d..(i as usize + 1) * d]
    }

    /// Hint that item `i` will be measured soon: its code row and its `[r, s]`.
    #[inline(always)]
    fn prefetch<M: MulAdd>(&self, i: u32) {
        if self.codes.is_empty() {
            M::prefetch(self.row(i));
            prefetch_value(self.inv_sq.get(i as usize));
        } else {
            M::prefetch_i8(self.code(i));
            prefetch_value(self.meta.get(i as usize));
        }
    }

    /// `−‖z_a − z_b‖²` (larger is closer).
    #[inline(always)]
    pub(crate) fn sim<M: MulAdd>(&self, a: u32, b: u32) -> f32 {
        if self.codes.is_empty() {
            let (ia, ib) = (self.inv_sq[a as usize], self.inv_sq[b as usize]);
            let d = f64::from(M::dot(self.row(a), self.row(b)));
            return (2.0 * d * ia * ib - ia - ib) as f32;
        }
        let ([ra, sa], [rb, sb]) = (self.meta[a as usize], self.meta[b as usize]);
        let cos = M::dot_i8(self.code(a), self.code(b)) as f32 * sa * sb;
        let (ra, rb) = (f64::from(ra), f64::from(rb));
        let gap = ra - rb;
        (-(gap * gap) - 2.0 * ra * rb * (1.0 - f64::from(cos))) as f32
    }
}

/// Hint that `v` will be read soon (a random access next to the row's).
#[inline(always)]
fn prefetch_value<T>(v: Option<&T>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(v) = v {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: prefetching is a hint and never faults; the pointer is in bounds anyway.
        // SSE is part of the x86-64 baseline.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((v as *const T).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

/// Similarity to item `target` in the transformed space (construction).
pub(crate) struct ItemSim<'a, 'b, M> {
    pub(crate) space: &'b Transformed<'a>,
    pub(crate) target: u32,
    pub(crate) _m: PhantomData<M>,
}

impl<M: MulAdd> Sim for ItemSim<'_, '_, M> {
    #[inline(always)]
    fn sim(&self, node: u32) -> f32 {
        self.space.sim::<M>(self.target, node)
    }

    #[inline(always)]
    fn prefetch(&self, node: u32) {
        self.space.prefetch::<M>(node);
    }
}

/// Similarity to a query: its score `q · y`.
pub(crate) struct QuerySim<'a, M> {
    pub(crate) items: &'a [f32],
    pub(crate) query: &'a [f32],
    pub(crate) _m: PhantomData<M>,
}

impl<M: MulAdd> QuerySim<'_, M> {
    #[inline(always)]
    fn row(&self, i: u32) -> &[f32] {
        let d = self.query.len();
        &self.items[i as usize * d..(i as usize + 1) * d]
    }
}

impl<M: MulAdd> Sim for QuerySim<'_, M> {
    #[inline(always)]
    fn sim(&self, node: u32) -> f32 {
        M::dot(self.row(node), self.query)
    }

    #[inline(always)]
    fn prefetch(&self, node: u32) {
        M::prefetch(self.row(node));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::linalg::Plain;
    use proptest::prelude::*;

    fn invert(y: &[f64]) -> Vec<f64> {
        let s: f64 = y.iter().map(|v| v * v).sum();
        y.iter().map(|v| v / s).collect()
    }

    #[test]
    fn similarity_is_minus_the_squared_distance_of_the_inverted_points() {
        let items = [3.0f32, 4.0, 1.0, -2.0, 0.5, 0.25];
        let t = Transformed::exact(&items, 2, max_sq_norm(&items, 2));
        for a in 0..3u32 {
            for b in 0..3u32 {
                let za = invert(&[
                    f64::from(items[2 * a as usize]),
                    f64::from(items[2 * a as usize + 1]),
                ]);
                let zb = invert(&[
                    f64::from(items[2 * b as usize]),
                    f64::from(items[2 * b as usize + 1]),
                ]);
                let d: f64 = za.iter().zip(&zb).map(|(x, y)| (x - y) * (x - y)).sum();
                let got = f64::from(t.sim::<Plain>(a, b));
                assert!(
                    (got + d).abs() <= 1e-5 * (1.0 + d),
                    "{a} {b}: {got} vs {}",
                    -d
                );
            }
        }
    }

    #[test]
    fn entry_seeds_are_the_largest_norms_then_direction_winners_without_repeats() {
        // Item 0 is huge; items 1..=4 point along the axes; item 5 is inside their hull.
        let items = [
            9.0f32, 9.0, 2.0, 0.0, -2.0, 0.0, 0.0, 2.0, 0.0, -2.0, 0.1, 0.1,
        ];
        let winners = direction_winners(&items, 2, 2000);
        assert_eq!(winners.len(), 2000);
        assert_eq!(direction_winners(&items, 2, 2000), winners, "deterministic");
        for id in 0..5u32 {
            assert!(
                winners.contains(&id),
                "{id} is a hull vertex and wins some direction"
            );
        }
        assert!(
            !winners.contains(&5),
            "an interior point never wins a direction"
        );
        let seeds = entry_seeds(&items, 2, 2000);
        assert_eq!(seeds[..6], largest_norms(&items, 2, 6)[..]);
        assert_eq!(seeds.len(), 6, "no repeats: {seeds:?}");
        let few = entry_seeds(&items, 2, 2);
        assert_eq!(few[0], 0);
        assert!(few.len() <= 2);
        assert!(entry_seeds(&[], 2, 8).is_empty());
    }

    #[test]
    fn largest_norms_are_sorted_with_ties_by_id() {
        let items = [1.0f32, 3.0, -3.0, 2.0, 0.0, 2.0];
        assert_eq!(largest_norms(&items, 1, 4), vec![1, 2, 3, 5]);
        assert_eq!(largest_norms(&items, 1, 10).len(), 6);
        assert!(largest_norms(&items, 1, 0).is_empty());
    }

    #[test]
    fn zero_items_are_far_but_finite() {
        let items = [0.0f32, 0.0, 1.0, 1.0, 0.0, 0.0];
        let m2 = max_sq_norm(&items, 2);
        for t in [
            Transformed::new(&items, 2, m2),
            Transformed::exact(&items, 2, m2),
        ] {
            for (a, b) in [(0, 1), (0, 2), (1, 1)] {
                assert!(t.sim::<Plain>(a, b).is_finite());
            }
            assert!(t.sim::<Plain>(0, 2) < t.sim::<Plain>(0, 1));
        }
    }

    /// Largest error of the quantized similarity: only the angle is quantized, each code off by
    /// at most half a step, so `|Δcos| ≤ (s_a·‖c_b‖₁ + s_b·‖c_a‖₁)/2 + dim·s_a·s_b/4`, and the
    /// similarity is off by `2·r_a·r_b·|Δcos|` at most.
    fn quantized_error_bound(t: &Transformed<'_>, a: u32, b: u32) -> f64 {
        let ([ra, sa], [rb, sb]) = (t.meta[a as usize], t.meta[b as usize]);
        let (sa, sb) = (f64::from(sa), f64::from(sb));
        let l1 = |i: u32| t.code(i).iter().map(|&c| f64::from(c).abs()).sum::<f64>();
        let dcos = (sa * l1(b) * sb + sb * l1(a) * sa) / 2.0 + t.dim as f64 * sa * sb / 4.0;
        2.0 * f64::from(ra) * f64::from(rb) * dcos * (1.0 + 1e-5) + 1e-6
    }

    proptest! {
        /// The quantized similarity stays within its error bound of the exact one, for norms
        /// spread over five orders of magnitude (ALS's long tail), and the AVX2 kernel agrees
        /// with the portable one exactly (integer dot products). Items below the norm floor
        /// (`MIN_RELATIVE_SQ_NORM`) are left out: both forms only keep them finite and far.
        #[test]
        fn quantized_similarity_is_within_its_bound_of_the_exact_one(
            rows in prop::collection::vec(
                (prop::collection::vec(-1.0f32..1.0, 37), -2.5f32..2.5), 2..6),
        ) {
            let dim = 37;
            let items: Vec<f32> = rows
                .iter()
                .flat_map(|(r, e)| r.iter().map(move |v| v * 10f32.powf(*e)))
                .collect();
            let m2 = max_sq_norm(&items, dim);
            prop_assume!(items.chunks_exact(dim).all(|r| sq_norm(r) > m2 * 1e-11));
            let (q, x) = (Transformed::new(&items, dim, m2), Transformed::exact(&items, dim, m2));
            let n = rows.len() as u32;
            for a in 0..n {
                for b in 0..n {
                    let (got, want) = (f64::from(q.sim::<Plain>(a, b)), f64::from(x.sim::<Plain>(a, b)));
                    let bound = quantized_error_bound(&q, a, b) + 1e-6 * want.abs();
                    prop_assert!((got - want).abs() <= bound, "{a} {b}: {got} vs {want} (bound {bound})");
                    #[cfg(target_arch = "x86_64")]
                    if crate::model::linalg::has_avx2_fma() {
                        let (ca, cb) = (q.code(a), q.code(b));
                        prop_assert_eq!(
                            crate::model::linalg::Plain::dot_i8(ca, cb),
                            // SAFETY: AVX2 and FMA checked just above.
                            unsafe { fused_dot_i8(ca, cb) }
                        );
                    }
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fused_dot_i8(a: &[i8], b: &[i8]) -> i32 {
        crate::model::linalg::Fused::dot_i8(a, b)
    }

    proptest! {
        /// The argument the graph rests on: `q·y ≥ c` (c > 0) exactly when the inverted point
        /// lies in the ball through the origin centred at `q / 2c` with radius `‖q‖ / 2c`.
        #[test]
        fn inversion_maps_half_spaces_to_balls_through_the_origin(
            y in prop::collection::vec(-4.0f64..4.0, 3),
            q in prop::collection::vec(-4.0f64..4.0, 3),
            c in 0.05f64..4.0,
        ) {
            let s: f64 = y.iter().map(|v| v * v).sum();
            prop_assume!(s > 1e-3);
            let ip: f64 = q.iter().zip(&y).map(|(a, b)| a * b).sum();
            prop_assume!((ip - c).abs() > 1e-6);
            let z = invert(&y);
            let r2: f64 = q.iter().map(|v| v * v).sum::<f64>() / (4.0 * c * c);
            let d2: f64 = z.iter().zip(&q).map(|(zi, qi)| (zi - qi / (2.0 * c)).powi(2)).sum();
            prop_assert_eq!(ip >= c, d2 <= r2);
        }
    }
}
