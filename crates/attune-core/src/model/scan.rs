//! Exact scoring of one user against a whole catalog: `scores = Y x` for row-major item factors
//! `Y` (`n_items x k`). The serving path's per-request kernel when no cache answers.
//!
//! Why its own kernel: calling a dot product per item pays a dispatch and a horizontal
//! reduction per item. Here the user vector lives in registers for the whole pass, eight items
//! are scored at once (eight independent FMA chains, enough to hide the FMA latency), and the
//! eight sums are reduced together with three `hadd`s. The pass streams each item row once, so
//! for large catalogs its speed is the memory bandwidth (12.8 MB at 50,000 items x 64 factors).
//!
//! Sums run in a different order than [`super::linalg::dot`], so scores can differ from it in
//! the last bits; ranking ties are broken by item index downstream ([`super::topk`]).

use super::linalg::{dot, has_avx2_fma};

/// `out[i] = Y[i, :] · x` for every row `i` of the row-major `rows` (`out.len()` rows of
/// `x.len()` columns).
///
/// # Panics
/// If `rows.len() != out.len() * x.len()`.
pub fn gemv(rows: &[f32], x: &[f32], out: &mut [f32]) {
    let k = x.len();
    assert_eq!(
        rows.len(),
        out.len() * k,
        "gemv: rows must be out.len() x x.len()"
    );
    if k == 0 {
        out.fill(0.0);
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if k.is_multiple_of(8) && k <= MAX_REGISTER_K && has_avx2_fma() {
        // SAFETY: AVX2 and FMA are available (checked at run time); shapes checked above.
        unsafe { gemv_avx2(rows, x, out) };
        return;
    }
    for (o, r) in out.iter_mut().zip(rows.chunks_exact(k)) {
        *o = dot(r, x);
    }
}

/// `out[i]` of [`gemv`]`(rows, x, out)`, bit for bit, computed for row `i` alone: the same
/// kernel choice (the AVX2 path for the full 8-row groups, [`dot`] for the tail) and the same
/// order of sums. Batched scorers rescore their candidates with it, so their lists equal the
/// single-user path's exactly.
///
/// # Panics
/// If `x` is empty, `rows.len()` is not a multiple of `x.len()`, or row `i` does not exist.
pub fn gemv_at(rows: &[f32], x: &[f32], i: usize) -> f32 {
    let k = x.len();
    assert!(
        k > 0 && rows.len().is_multiple_of(k) && i < rows.len() / k,
        "gemv_at: row {i} of rows x {k}"
    );
    let row = &rows[i * k..(i + 1) * k];
    #[cfg(target_arch = "x86_64")]
    {
        let n = rows.len() / k;
        if k.is_multiple_of(8) && k <= MAX_REGISTER_K && i < n - n % 8 && has_avx2_fma() {
            // SAFETY: AVX2 and FMA are available (checked at run time); both slices have k
            // floats, a multiple of 8.
            return unsafe { row_avx2(row, x) };
        }
    }
    dot(row, x)
}

/// One row of [`gemv_avx2`]: the same multiply-add chain per lane and the same [`reduce8`]
/// (the other seven accumulators are zero and do not touch lane 0).
///
/// # Safety
/// The CPU must support AVX2 and FMA; `row.len() == x.len()`, a multiple of 8.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_avx2(row: &[f32], x: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_setzero_ps(); 8];
    for c in 0..x.len() / 8 {
        // SAFETY: c * 8 + 8 <= x.len() == row.len().
        unsafe {
            acc[0] = _mm256_fmadd_ps(
                _mm256_loadu_ps(row.as_ptr().add(c * 8)),
                _mm256_loadu_ps(x.as_ptr().add(c * 8)),
                acc[0],
            );
        }
    }
    // SAFETY: the caller guarantees AVX2.
    _mm256_cvtss_f32(unsafe { reduce8(&acc) })
}

/// Items per tile of [`gemv_batch`]: 512 rows of 64 factors are 128 KB, which stay in L2 while
/// every query of the batch is scored against them. A multiple of 8, so each tile splits into
/// the same 8-item groups as one whole pass and the scores are bit-identical to [`gemv`].
pub const BATCH_TILE_ROWS: usize = 512;

/// [`gemv`] for several queries in one pass over `rows`: `outs[q][i] = Y[i, :] · queries[q]`.
///
/// Why: exact scoring of a large catalog is memory-bound (each query streams all the item
/// factors from DRAM: 12.8 MB at 50,000 x 64), so queries that arrive together are scored tile
/// by tile, and each tile is read from memory once for all of them. The scores equal
/// [`gemv`]'s bit for bit.
///
/// # Panics
/// If `queries` and `outs` differ in length, or any pair does not fit `rows` as in [`gemv`].
pub fn gemv_batch(rows: &[f32], queries: &[&[f32]], outs: &mut [&mut [f32]]) {
    assert_eq!(
        queries.len(),
        outs.len(),
        "gemv_batch: one output per query"
    );
    let Some(k) = queries.first().map(|q| q.len()) else {
        return;
    };
    for (q, o) in queries.iter().zip(outs.iter()) {
        assert!(
            q.len() == k && rows.len() == o.len() * k,
            "gemv_batch: every query has the same length and rows are out.len() x k"
        );
    }
    if k == 0 {
        outs.iter_mut().for_each(|o| o.fill(0.0));
        return;
    }
    for_each_tile(rows.len() / k, |start, end| {
        let tile = &rows[start * k..end * k];
        for (q, o) in queries.iter().zip(outs.iter_mut()) {
            gemv(tile, q, &mut o[start..end]);
        }
    });
}

/// Call `f(start, end)` for the consecutive tiles of [`BATCH_TILE_ROWS`] rows covering `n`
/// rows (the last one shorter): the tiling of every batched scan.
pub(crate) fn for_each_tile(n: usize, mut f: impl FnMut(usize, usize)) {
    let mut start = 0;
    while start < n {
        let end = (start + BATCH_TILE_ROWS).min(n);
        f(start, end);
        start = end;
    }
}

/// Eight 8-lane sums reduced to eight floats, lane `r` holding the sum of `acc[r]` (three
/// `hadd`s and a 128-bit fold): the end of every 8-row block of the scan kernels.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) unsafe fn reduce8(acc: &[std::arch::x86_64::__m256; 8]) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    let s01 = _mm256_hadd_ps(acc[0], acc[1]);
    let s23 = _mm256_hadd_ps(acc[2], acc[3]);
    let s45 = _mm256_hadd_ps(acc[4], acc[5]);
    let s67 = _mm256_hadd_ps(acc[6], acc[7]);
    let s0123 = _mm256_hadd_ps(s01, s23);
    let s4567 = _mm256_hadd_ps(s45, s67);
    let lo = _mm256_permute2f128_ps(s0123, s4567, 0x20);
    let hi = _mm256_permute2f128_ps(s0123, s4567, 0x31);
    _mm256_add_ps(lo, hi)
}

/// The user vector is held in at most this many floats of registers (16 AVX2 registers minus
/// the eight accumulators and a scratch).
const MAX_REGISTER_K: usize = 128;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gemv_avx2(rows: &[f32], x: &[f32], out: &mut [f32]) {
    use std::arch::x86_64::*;
    let k = x.len();
    let chunks = k / 8;
    let n = out.len();
    let mut xv = [_mm256_setzero_ps(); MAX_REGISTER_K / 8];
    for (c, v) in xv.iter_mut().enumerate().take(chunks) {
        // SAFETY: c * 8 + 8 <= k = x.len().
        *v = unsafe { _mm256_loadu_ps(x.as_ptr().add(c * 8)) };
    }
    let base = rows.as_ptr();
    let full = n - n % 8;
    let mut i = 0;
    while i < full {
        // SAFETY: rows i..i+8 exist (i + 8 <= n and rows.len() == n * k); every load reads
        // 8 floats at column c * 8 < k of one of those rows; the store writes out[i..i + 8].
        unsafe {
            let p = base.add(i * k);
            let mut acc = [_mm256_setzero_ps(); 8];
            for (c, &xc) in xv.iter().enumerate().take(chunks) {
                let q = p.add(c * 8);
                for (r, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_fmadd_ps(_mm256_loadu_ps(q.add(r * k)), xc, *a);
                }
            }
            _mm256_storeu_ps(out.as_mut_ptr().add(i), reduce8(&acc));
        }
        i += 8;
    }
    for (o, r) in out[full..].iter_mut().zip(rows[full * k..].chunks_exact(k)) {
        *o = dot(r, x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(rows: &[f32], x: &[f32]) -> Vec<f64> {
        rows.chunks_exact(x.len())
            .map(|r| {
                r.iter()
                    .zip(x)
                    .map(|(a, b)| f64::from(*a) * f64::from(*b))
                    .sum()
            })
            .collect()
    }

    proptest! {
        /// Batched scoring is the same arithmetic as one pass per query, tile boundaries
        /// included (catalogs around and across several tiles).
        #[test]
        fn batches_equal_single_passes_bit_for_bit(
            n in prop::sample::select(vec![0usize, 7, 511, 512, 513, 1500]),
            k in prop::sample::select(vec![3usize, 16, 64]),
            batch in 1usize..5,
            seed in any::<u64>(),
        ) {
            let mut s = seed | 1;
            let mut next = || {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                (s % 2001) as f32 / 1000.0 - 1.0
            };
            let rows: Vec<f32> = (0..n * k).map(|_| next()).collect();
            let queries: Vec<Vec<f32>> = (0..batch).map(|_| (0..k).map(|_| next()).collect()).collect();
            let mut outs = vec![vec![f32::NAN; n]; batch];
            {
                let qs: Vec<&[f32]> = queries.iter().map(Vec::as_slice).collect();
                let mut os: Vec<&mut [f32]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
                gemv_batch(&rows, &qs, &mut os);
            }
            for (q, got) in queries.iter().zip(&outs) {
                let mut want = vec![0f32; n];
                gemv(&rows, q, &mut want);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                prop_assert_eq!(bits(got), bits(&want));
            }
        }

        /// Every shape (row counts that are not multiples of 8, k on and off the register
        /// path) matches an f64 reference to rounding.
        #[test]
        fn matches_the_f64_reference(
            n in 0usize..70,
            k in prop::sample::select(vec![1usize, 3, 8, 16, 24, 64, 72, 128, 136]),
            seed in any::<u64>(),
        ) {
            let mut s = seed | 1;
            let mut next = || {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                (s % 2001) as f32 / 1000.0 - 1.0
            };
            let rows: Vec<f32> = (0..n * k).map(|_| next()).collect();
            let x: Vec<f32> = (0..k).map(|_| next()).collect();
            let mut out = vec![f32::NAN; n];
            gemv(&rows, &x, &mut out);
            for (got, want) in out.iter().zip(reference(&rows, &x)) {
                prop_assert!((f64::from(*got) - want).abs() <= 1e-4 * (1.0 + want.abs()),
                    "got {got}, want {want}");
            }
        }
    }

    proptest! {
        /// Scoring one row alone gives exactly the whole pass's score, tail rows included.
        #[test]
        fn one_row_equals_the_whole_pass(
            n in 1usize..40,
            k in prop::sample::select(vec![1usize, 3, 8, 16, 64, 72, 136]),
            seed in any::<u64>(),
        ) {
            let mut s = seed | 1;
            let mut next = || {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                (s % 2001) as f32 / 1000.0 - 1.0
            };
            let rows: Vec<f32> = (0..n * k).map(|_| next()).collect();
            let x: Vec<f32> = (0..k).map(|_| next()).collect();
            let mut out = vec![0f32; n];
            gemv(&rows, &x, &mut out);
            for (i, o) in out.iter().enumerate() {
                prop_assert_eq!(gemv_at(&rows, &x, i).to_bits(), o.to_bits());
            }
        }
    }

    #[test]
    fn row_order_is_kept() {
        // Item r has a single 1 at column r % k, so item r scores x[r % k].
        let (n, k) = (37, 16);
        let mut rows = vec![0f32; n * k];
        for r in 0..n {
            rows[r * k + r % k] = 1.0;
        }
        let x: Vec<f32> = (0..k).map(|c| c as f32).collect();
        let mut out = vec![0f32; n];
        gemv(&rows, &x, &mut out);
        for (r, &o) in out.iter().enumerate() {
            assert_eq!(o, (r % k) as f32);
        }
    }

    #[test]
    #[should_panic(expected = "gemv: rows")]
    fn wrong_shape_panics() {
        gemv(&[1.0; 10], &[1.0; 3], &mut [0.0; 3]);
    }
}
