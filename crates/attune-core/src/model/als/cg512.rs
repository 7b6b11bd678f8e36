//! The AVX-512 conjugate-gradient row solver (picked at run time, `k <= 128`).
//!
//! Same recurrences as [`super::solve::cg_row_with`] (and the `implicit` library), same number
//! of steps, same warm start; what changes is how the work is laid out:
//!
//! - **Vectors live in registers.** `x`, `r`, `p` and `A p` are `NV = ⌈k/16⌉` zmm registers each
//!   for the whole solve (the tail lanes past `k` are kept at zero by masked loads), instead of
//!   being loaded and stored for every interaction.
//! - **Four item rows per block.** The pass `out += Σ_i (a_i + b_i·(y_i·v)) y_i` over the row's
//!   items takes them four at a time: four dot products in four independent accumulators, one
//!   joint horizontal reduction of the four (a `hadd` tree: about a quarter of four separate
//!   reductions), then four axpys into two alternating accumulator sets so the adds into `out`
//!   do not wait on each other.
//! - **`G p` from a padded, 64-byte aligned copy of `G`** (rows padded to `16·NV` floats with
//!   zeros): aligned full-width loads, two independent accumulator sets.
//! - The confidences `c` and `c − 1` of the row's positive entries are computed once per row
//!   (not once per pass), and the first pass (the only one that touches cold item rows) and any
//!   pass over a long row prefetch rows a block ahead.
//!
//! Summation order differs from the AVX2 and portable kernels, so results agree to rounding,
//! not bit for bit; for a given `k` the kernel is deterministic (no dependence on threads).

// Register arrays are walked in lockstep by index (`acc[t] = fma(y[t], v[t], acc[t])`): the
// index form is the clearest and unrolls the same.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;

use super::solve::{Block, Conf, Scratch};

/// Largest `k` this kernel takes (`NV <= 8` registers per vector).
pub(crate) const MAX_K: usize = 128;

/// Item rows prefetched ahead of the one being read (the first pass's rows come from anywhere
/// in the other side's factors: L3 or memory).
const AHEAD: usize = 16;

/// Rows longer than this prefetch in every pass, not only the first (their items no longer fit
/// in L2 between passes).
const LONG_ROW: usize = 1024;

/// Whether the CPU runs this kernel (AVX-512 Foundation, plus the AVX2/FMA forms it uses for
/// the four-way reduction).
pub(crate) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
}

/// Mask of the valid lanes of the last register of a `k`-vector.
#[inline(always)]
fn tail_mask(k: usize, nv: usize) -> __mmask16 {
    let rem = k - 16 * (nv - 1);
    if rem >= 16 {
        0xFFFF
    } else {
        (1u16 << rem) - 1
    }
}

/// Load a `k`-vector (`k` floats at `p`) into `NV` registers, zeros past `k`.
///
/// # Safety
/// `p` must be valid for reading the lanes `tail` selects; AVX-512F must be available.
#[inline(always)]
unsafe fn load_vec<const NV: usize>(p: *const f32, tail: __mmask16) -> [__m512; NV] {
    // SAFETY: the caller guarantees `16·(NV−1)` full lanes plus the masked tail are readable;
    // masked-off lanes are never accessed.
    unsafe {
        let mut v = [_mm512_setzero_ps(); NV];
        for (t, vt) in v.iter_mut().enumerate().take(NV - 1) {
            *vt = _mm512_loadu_ps(p.add(16 * t));
        }
        v[NV - 1] = _mm512_maskz_loadu_ps(tail, p.add(16 * (NV - 1)));
        v
    }
}

/// `a · b` over `NV` registers.
///
/// # Safety
/// AVX-512F must be available.
#[inline(always)]
unsafe fn dot<const NV: usize>(a: &[__m512; NV], b: &[__m512; NV]) -> f32 {
    // SAFETY: register arithmetic only; the caller guarantees AVX-512F.
    unsafe {
        let mut acc = _mm512_mul_ps(a[0], b[0]);
        for t in 1..NV {
            acc = _mm512_fmadd_ps(a[t], b[t], acc);
        }
        _mm512_reduce_add_ps(acc)
    }
}

/// The two 256-bit halves of `z`, added.
///
/// # Safety
/// AVX-512F and AVX must be available.
#[inline(always)]
unsafe fn fold_half(z: __m512) -> __m256 {
    // SAFETY: register arithmetic only; the caller guarantees the features.
    unsafe {
        _mm256_add_ps(
            _mm512_castps512_ps256(z),
            _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(z))),
        )
    }
}

/// The four horizontal sums of four registers, in one `__m128` (lane `q` = sum of `a[q]`).
///
/// # Safety
/// AVX-512F and AVX must be available.
#[inline(always)]
unsafe fn reduce4(a: &[__m512; 4]) -> __m128 {
    // SAFETY: register arithmetic only; the caller guarantees the features.
    unsafe {
        let (h0, h1, h2, h3) = (
            fold_half(a[0]),
            fold_half(a[1]),
            fold_half(a[2]),
            fold_half(a[3]),
        );
        // hadd(hadd(h0, h1), hadd(h2, h3)) = [Σlo h0, Σlo h1, Σlo h2, Σlo h3 | Σhi h0, …].
        let s = _mm256_hadd_ps(_mm256_hadd_ps(h0, h1), _mm256_hadd_ps(h2, h3));
        _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps::<1>(s))
    }
}

/// Prefetch one `k`-row at `p` into L1.
///
/// # Safety
/// SSE must be available (always on x86-64); prefetches never fault.
#[inline(always)]
unsafe fn prefetch_row(p: *const f32, k: usize) {
    let bytes = k * 4;
    let mut off = 0;
    while off < bytes {
        // SAFETY: a prefetch is a hint and never faults.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>().wrapping_add(off)) };
        off += 64;
    }
    // The last line, in case the row straddles one more line than its length suggests.
    // SAFETY: as above.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>().wrapping_add(bytes - 1)) };
}

/// `out += Σ_i coef_i · y_i` with `d_i = y_i · v` and `coef_i = ca_i − cb_i·d_i` (`FIRST`) or
/// `cb_i·d_i`, over the rows `idx` of `y` (row-major, `k` floats per row).
///
/// # Safety
/// Every `idx[i]` must name a whole row of `y` (`(idx+1)·k` floats readable from `y`);
/// `ca` and `cb` at least as long as `idx`; AVX-512F, AVX2 and FMA available.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn pass<const NV: usize, const FIRST: bool>(
    y: *const f32,
    k: usize,
    idx: &[u32],
    ca: &[f32],
    cb: &[f32],
    v: &[__m512; NV],
    out: &mut [__m512; NV],
    tail: __mmask16,
    prefetch: bool,
) {
    let n = idx.len();
    debug_assert!(ca.len() >= n && cb.len() >= n);
    // SAFETY: rows are in bounds by the caller's contract, `ca`/`cb` reads stay below `n`;
    // features as promised by the caller.
    unsafe {
        let row = |i: usize| y.add(*idx.get_unchecked(i) as usize * k);
        let mut o2 = [_mm512_setzero_ps(); NV];
        let mut i = 0;
        while i + 4 <= n {
            if prefetch {
                for q in i + AHEAD..(i + AHEAD + 4).min(n) {
                    prefetch_row(row(q), k);
                }
            }
            let rows = [row(i), row(i + 1), row(i + 2), row(i + 3)];
            let mut acc = [_mm512_setzero_ps(); 4];
            for q in 0..4 {
                let yq = load_vec::<NV>(rows[q], tail);
                for t in 0..NV {
                    acc[q] = _mm512_fmadd_ps(yq[t], v[t], acc[q]);
                }
            }
            let d = reduce4(&acc);
            let cbv = _mm_loadu_ps(cb.as_ptr().add(i));
            let coef = if FIRST {
                _mm_fnmadd_ps(cbv, d, _mm_loadu_ps(ca.as_ptr().add(i)))
            } else {
                _mm_mul_ps(cbv, d)
            };
            let cs = [
                _mm512_broadcastss_ps(coef),
                _mm512_broadcastss_ps(_mm_shuffle_ps::<0b01_01_01_01>(coef, coef)),
                _mm512_broadcastss_ps(_mm_shuffle_ps::<0b10_10_10_10>(coef, coef)),
                _mm512_broadcastss_ps(_mm_shuffle_ps::<0b11_11_11_11>(coef, coef)),
            ];
            for q in 0..4 {
                let yq = load_vec::<NV>(rows[q], tail);
                let o = if q % 2 == 0 { &mut *out } else { &mut o2 };
                for t in 0..NV {
                    o[t] = _mm512_fmadd_ps(cs[q], yq[t], o[t]);
                }
            }
            i += 4;
        }
        while i < n {
            let yq = load_vec::<NV>(row(i), tail);
            let d = dot::<NV>(&yq, v);
            let (a, b) = (*ca.get_unchecked(i), *cb.get_unchecked(i));
            let c = _mm512_set1_ps(if FIRST { (-b).mul_add(d, a) } else { b * d });
            for t in 0..NV {
                out[t] = _mm512_fmadd_ps(c, yq[t], out[t]);
            }
            i += 1;
        }
        for t in 0..NV {
            out[t] = _mm512_add_ps(out[t], o2[t]);
        }
    }
}

/// `Σ_i cb_i · (y_i · v)²` over the rows `idx` of `y`: `pᵀ (A − G) p` for the last CG step,
/// which needs only the step length `pᵀAp`, not the vector `A p` (no axpys).
///
/// # Safety
/// As for [`pass`].
#[inline(always)]
unsafe fn pass_quad<const NV: usize>(
    y: *const f32,
    k: usize,
    idx: &[u32],
    cb: &[f32],
    v: &[__m512; NV],
    tail: __mmask16,
    prefetch: bool,
) -> f32 {
    let n = idx.len();
    debug_assert!(cb.len() >= n);
    // SAFETY: as in `pass`.
    unsafe {
        let row = |i: usize| y.add(*idx.get_unchecked(i) as usize * k);
        let mut sum4 = _mm_setzero_ps();
        let mut i = 0;
        while i + 4 <= n {
            if prefetch {
                for q in i + AHEAD..(i + AHEAD + 4).min(n) {
                    prefetch_row(row(q), k);
                }
            }
            let mut acc = [_mm512_setzero_ps(); 4];
            for (q, a) in acc.iter_mut().enumerate() {
                let yq = load_vec::<NV>(row(i + q), tail);
                for t in 0..NV {
                    *a = _mm512_fmadd_ps(yq[t], v[t], *a);
                }
            }
            let d = reduce4(&acc);
            let cbv = _mm_loadu_ps(cb.as_ptr().add(i));
            sum4 = _mm_fmadd_ps(_mm_mul_ps(cbv, d), d, sum4);
            i += 4;
        }
        let q = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
        let mut total = _mm_cvtss_f32(_mm_add_ss(q, _mm_shuffle_ps::<1>(q, q)));
        while i < n {
            let yq = load_vec::<NV>(row(i), tail);
            let d = dot::<NV>(&yq, v);
            total += *cb.get_unchecked(i) * d * d;
            i += 1;
        }
        total
    }
}

/// `G x` for the padded Gram matrix (`k` rows of `NV` aligned blocks), `x` read as scalars.
///
/// # Safety
/// `g` must hold `k·NV` blocks, `x` at least `k` floats; AVX-512F available.
#[inline(always)]
unsafe fn symv<const NV: usize>(g: &[Block], k: usize, x: *const f32) -> [__m512; NV] {
    debug_assert!(g.len() >= k * NV);
    // SAFETY: block `j·NV + t` exists for `j < k`, `t < NV`; `x` reads stay below `k`. Blocks
    // are 64-byte aligned, as the aligned load needs.
    unsafe {
        let gp = g.as_ptr().cast::<f32>();
        let stride = 16 * NV;
        let mut a0 = [_mm512_setzero_ps(); NV];
        let mut a1 = [_mm512_setzero_ps(); NV];
        let mut j = 0;
        while j + 2 <= k {
            let x0 = _mm512_set1_ps(*x.add(j));
            let x1 = _mm512_set1_ps(*x.add(j + 1));
            let r0 = gp.add(j * stride);
            let r1 = r0.add(stride);
            for t in 0..NV {
                a0[t] = _mm512_fmadd_ps(x0, _mm512_load_ps(r0.add(16 * t)), a0[t]);
                a1[t] = _mm512_fmadd_ps(x1, _mm512_load_ps(r1.add(16 * t)), a1[t]);
            }
            j += 2;
        }
        if j < k {
            let x0 = _mm512_set1_ps(*x.add(j));
            let r0 = gp.add(j * stride);
            for t in 0..NV {
                a0[t] = _mm512_fmadd_ps(x0, _mm512_load_ps(r0.add(16 * t)), a0[t]);
            }
        }
        for t in 0..NV {
            a0[t] = _mm512_add_ps(a0[t], a1[t]);
        }
        a0
    }
}

/// A few conjugate-gradient steps on one row's system, starting from the current `x`: the
/// AVX-512 form of [`super::solve::cg_row_with`]. `gpad` is `G` padded by
/// [`super::solve::pad_gram`].
///
/// # Safety
/// The CPU must support AVX-512F, AVX2 and FMA ([`available`]).
///
/// # Panics
/// If `k` does not match `NV`, the shapes of `gpad`, `x` or `y` do not match `k`, or an item
/// index is out of range of `y`.
#[target_feature(enable = "avx512f,avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn cg_row<const NV: usize>(
    gpad: &[Block],
    y: &[f32],
    k: usize,
    cols: &[u32],
    vals: &[f32],
    conf: Conf,
    steps: usize,
    x: &mut [f32],
    s: &mut Scratch,
) {
    assert!(
        NV >= 1 && k.div_ceil(16) == NV && gpad.len() == k * NV && x.len() == k,
        "cg_row shapes"
    );
    let n_y = y.len() / k;
    let (idx, ca, cb) = (&mut s.idx, &mut s.ca, &mut s.cb);
    idx.clear();
    ca.clear();
    cb.clear();
    for (&i, &w) in cols.iter().zip(vals) {
        if w <= 0.0 {
            continue;
        }
        assert!((i as usize) < n_y, "item index out of range");
        let c = conf.c(w);
        idx.push(i);
        ca.push(c);
        cb.push(c - 1.0);
    }
    let tail = tail_mask(k, NV);
    let long = idx.len() > LONG_ROW;
    // SAFETY: the features are enabled on this function (the caller checked `available`);
    // `x` holds `k` floats (asserted), every index in `idx` names a row of `y` (asserted
    // above), `gpad` has `k·NV` blocks (asserted).
    unsafe {
        let yp = y.as_ptr();
        // The first rows' fetches overlap `G x`; `pass` keeps `AHEAD` rows in flight after that.
        for &i in idx.iter().take(AHEAD) {
            prefetch_row(yp.add(i as usize * k), k);
        }
        let mut xv = load_vec::<NV>(x.as_ptr(), tail);
        // r = b − A x
        let mut r = symv::<NV>(gpad, k, x.as_ptr());
        for rt in r.iter_mut() {
            *rt = _mm512_sub_ps(_mm512_setzero_ps(), *rt);
        }
        pass::<NV, true>(yp, k, idx, ca, cb, &xv, &mut r, tail, true);
        let mut p = r;
        let mut rs_old = dot::<NV>(&r, &r);
        if rs_old < 1e-20 {
            return;
        }
        for step in 0..steps {
            // `p` in memory, for the scalar broadcasts of `G p`.
            let pm = p;
            let mut ap = symv::<NV>(gpad, k, pm.as_ptr().cast::<f32>());
            if step + 1 == steps {
                // The last step only moves `x`: `pᵀAp = pᵀGp + Σ (c − 1)(y_i·p)²`.
                let pap = dot::<NV>(&p, &ap) + pass_quad::<NV>(yp, k, idx, cb, &p, tail, long);
                if pap > 0.0 && pap.is_finite() {
                    let av = _mm512_set1_ps(rs_old / pap);
                    for t in 0..NV {
                        xv[t] = _mm512_fmadd_ps(av, p[t], xv[t]);
                    }
                }
                break;
            }
            pass::<NV, false>(yp, k, idx, ca, cb, &p, &mut ap, tail, long);
            let pap = dot::<NV>(&p, &ap);
            if pap <= 0.0 || !pap.is_finite() {
                break;
            }
            let a = rs_old / pap;
            let (av, nav) = (_mm512_set1_ps(a), _mm512_set1_ps(-a));
            for t in 0..NV {
                xv[t] = _mm512_fmadd_ps(av, p[t], xv[t]);
                r[t] = _mm512_fmadd_ps(nav, ap[t], r[t]);
            }
            let rs_new = dot::<NV>(&r, &r);
            if rs_new < 1e-20 {
                break;
            }
            let beta = _mm512_set1_ps(rs_new / rs_old);
            for t in 0..NV {
                p[t] = _mm512_fmadd_ps(beta, p[t], r[t]);
            }
            rs_old = rs_new;
        }
        let xp = x.as_mut_ptr();
        for (t, v) in xv.iter().enumerate().take(NV - 1) {
            _mm512_storeu_ps(xp.add(16 * t), *v);
        }
        _mm512_mask_storeu_ps(xp.add(16 * (NV - 1)), tail, xv[NV - 1]);
    }
}

/// The lower triangle of `FᵀF` for one chunk of rows (`k` floats each), in `f64`, from 8 x 8
/// register tiles: each tile's 64 sums stay in eight zmm registers over a block of rows
/// converted to `f64` once, instead of a load and a store of the Gram row for every product.
///
/// **Bit-identical to the portable [`super::solve`] chunk:** every entry adds the same `f64`
/// products (`f[a]·f[b]`, multiplied then added: no fused multiply-add) in the same row order.
/// The diagonal tiles also fill some entries above the diagonal, which the caller overwrites
/// when it mirrors the lower triangle.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn gram_chunk(chunk: &[f32], k: usize) -> Vec<f64> {
    /// Rows converted per block (128 KiB of `f64` at `k = 64`: stays in L2).
    const SUB: usize = 256;
    let kp = k.div_ceil(8) * 8;
    let mut acc_buf = vec![0f64; kp * kp];
    let mut rows = vec![0f64; SUB * kp];
    for sub in chunk.chunks(SUB * k) {
        let n = sub.len() / k;
        for (r, f) in sub.chunks_exact(k).enumerate() {
            for (d, &v) in rows[r * kp..r * kp + k].iter_mut().zip(f) {
                *d = f64::from(v);
            }
        }
        // SAFETY: tile reads stay inside `rows` (`n <= SUB` rows of `kp`) and `acc_buf`
        // (`kp x kp`): `a0 + 8 <= kp`, `b0 + 8 <= kp`. AVX-512F is enabled on this function.
        unsafe {
            for a0 in (0..kp).step_by(8) {
                for b0 in (0..=a0).step_by(8) {
                    let ap = acc_buf.as_mut_ptr();
                    let mut acc = [_mm512_setzero_pd(); 8];
                    for (i, a) in acc.iter_mut().enumerate() {
                        *a = _mm512_loadu_pd(ap.add((a0 + i) * kp + b0));
                    }
                    for r in 0..n {
                        let row = rows.as_ptr().add(r * kp);
                        let fb = _mm512_loadu_pd(row.add(b0));
                        for (i, a) in acc.iter_mut().enumerate() {
                            let fa = _mm512_set1_pd(*row.add(a0 + i));
                            *a = _mm512_add_pd(*a, _mm512_mul_pd(fa, fb));
                        }
                    }
                    for (i, a) in acc.iter().enumerate() {
                        _mm512_storeu_pd(ap.add((a0 + i) * kp + b0), *a);
                    }
                }
            }
        }
    }
    let mut g = vec![0f64; k * k];
    for a in 0..k {
        g[a * k..a * k + a + 1].copy_from_slice(&acc_buf[a * kp..a * kp + a + 1]);
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::als::solve::{cg_row, gram, CgKernel};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| rng.random::<f32>() - 0.4).collect()
    }

    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn pass_512<const NV: usize, const FIRST: bool>(
        y: &[f32],
        k: usize,
        idx: &[u32],
        ca: &[f32],
        cb: &[f32],
        v: &[f32],
        out: &mut [f32],
    ) {
        let tail = tail_mask(k, NV);
        // SAFETY: the test only calls this after `available()`; indices are in range of `y`,
        // `v` and `out` hold `k` floats.
        unsafe {
            let vv = load_vec::<NV>(v.as_ptr(), tail);
            let mut o = load_vec::<NV>(out.as_ptr(), tail);
            pass::<NV, FIRST>(y.as_ptr(), k, idx, ca, cb, &vv, &mut o, tail, true);
            let mut buf = [0f32; 16 * 8];
            for (t, r) in o.iter().enumerate() {
                _mm512_storeu_ps(buf.as_mut_ptr().add(16 * t), *r);
            }
            out.copy_from_slice(&buf[..k]);
            // The lanes past `k` stay zero: nothing leaks into them.
            assert!(buf[k..16 * NV].iter().all(|&v| v == 0.0));
        }
    }

    type PassArgs<'a> = (
        &'a [f32],
        usize,
        &'a [u32],
        &'a [f32],
        &'a [f32],
        &'a [f32],
        &'a mut [f32],
    );

    fn run<const NV: usize>(first: bool, (y, k, idx, ca, cb, v, out): PassArgs<'_>) {
        assert!(available());
        // SAFETY: the features are checked just above; the shapes are the test's.
        unsafe {
            if first {
                pass_512::<NV, true>(y, k, idx, ca, cb, v, out);
            } else {
                pass_512::<NV, false>(y, k, idx, ca, cb, v, out);
            }
        }
    }

    /// The item pass against a scalar `f64` reference, for row counts that are and are not
    /// multiples of the block of four and `k` that is and is not a multiple of 16.
    #[test]
    fn pass_matches_scalar_reference() {
        if !available() {
            return;
        }
        for (k, n_rows) in [
            (64usize, 37usize),
            (16, 8),
            (17, 5),
            (5, 3),
            (33, 13),
            (64, 2000),
        ] {
            let y = random(n_rows * 3 * k, k as u64);
            let mut rng = ChaCha8Rng::seed_from_u64(n_rows as u64);
            let idx: Vec<u32> = (0..n_rows)
                .map(|_| rng.random_range(0..3 * n_rows) as u32)
                .collect();
            let ca: Vec<f32> = idx.iter().map(|_| rng.random_range(1.0..5.0)).collect();
            let cb: Vec<f32> = ca.iter().map(|c| c - 1.0).collect();
            let v = random(k, 7);
            let start = random(k, 8);
            for first in [true, false] {
                let mut want: Vec<f64> = start.iter().map(|&s| f64::from(s)).collect();
                for (n, &i) in idx.iter().enumerate() {
                    let row = &y[i as usize * k..(i as usize + 1) * k];
                    let d: f64 = row
                        .iter()
                        .zip(&v)
                        .map(|(&a, &b)| f64::from(a) * f64::from(b))
                        .sum();
                    let coef = if first {
                        f64::from(ca[n]) - f64::from(cb[n]) * d
                    } else {
                        f64::from(cb[n]) * d
                    };
                    for (w, &r) in want.iter_mut().zip(row) {
                        *w += coef * f64::from(r);
                    }
                }
                let mut got = start.clone();
                let args = (&y[..], k, &idx[..], &ca[..], &cb[..], &v[..], &mut got[..]);
                match k.div_ceil(16) {
                    1 => run::<1>(first, args),
                    2 => run::<2>(first, args),
                    3 => run::<3>(first, args),
                    4 => run::<4>(first, args),
                    other => unreachable!("{other}"),
                }
                let scale = want.iter().fold(1f64, |m, w| m.max(w.abs()));
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (f64::from(*g) - w).abs() <= 1e-4 * scale,
                        "k = {k}, rows = {n_rows}, first = {first}: {g} vs {w}"
                    );
                }
            }
        }
    }

    /// The whole AVX-512 row solve against the portable kernel (same recurrences, different
    /// summation order), warm-started, for every register count and ragged `k`, rows of every
    /// length mod 4, zero weights skipped, and rows long enough to prefetch in every pass.
    #[test]
    fn cg_row_matches_the_portable_kernel() {
        if !CgKernel::Avx512.runs(64) {
            return;
        }
        for k in [
            1usize, 5, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 80, 100, 112, 127, 128,
        ] {
            for n_items in [1usize, 2, 3, 4, 7, 40, 1500] {
                let y = random(n_items * k, (k * 1000 + n_items) as u64);
                let g = gram(&y, k, 0.5);
                let mut rng = ChaCha8Rng::seed_from_u64(k as u64 + 3);
                let cols: Vec<u32> = (0..n_items as u32)
                    .filter(|_| rng.random::<f64>() < 0.7)
                    .collect();
                let vals: Vec<f32> = cols
                    .iter()
                    .map(|_| [0.0, 1.0, 2.0, 3.5][rng.random_range(0..4)])
                    .collect();
                let x0 = random(k, 99);
                let conf = Conf {
                    base: 1.0,
                    alpha: 2.0,
                };
                let mut s = Scratch::new(k);
                let mut want = x0.clone();
                cg_row(
                    CgKernel::Plain,
                    &g,
                    &y,
                    k,
                    &cols,
                    &vals,
                    conf,
                    3,
                    &mut want,
                    &mut s,
                );
                let mut got = x0.clone();
                cg_row(
                    CgKernel::Avx512,
                    &g,
                    &y,
                    k,
                    &cols,
                    &vals,
                    conf,
                    3,
                    &mut got,
                    &mut s,
                );
                let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
                for (a, b) in got.iter().zip(&want) {
                    assert!(
                        (a - b).abs() <= 2e-3 * scale,
                        "k = {k}, items = {n_items}: {got:?} vs {want:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn gram_tiles_are_bit_identical_to_the_portable_chunk() {
        if !available() {
            return;
        }
        for (k, n) in [
            (64usize, 3000usize),
            (5, 7),
            (13, 600),
            (16, 1),
            (65, 300),
            (128, 257),
        ] {
            let f = random(n * k, k as u64 + 11);
            let want = crate::model::als::solve::gram_chunk_portable(&f, k);
            // SAFETY: `available()` checked above.
            let got = unsafe { gram_chunk(&f, k) };
            for a in 0..k {
                for b in 0..=a {
                    assert_eq!(
                        got[a * k + b].to_bits(),
                        want[a * k + b].to_bits(),
                        "k = {k}, n = {n}, ({a}, {b})"
                    );
                }
            }
        }
    }

    #[test]
    fn tail_masks() {
        assert_eq!(tail_mask(64, 4), 0xFFFF);
        assert_eq!(tail_mask(65, 5), 0x1);
        assert_eq!(tail_mask(5, 1), 0b1_1111);
        assert_eq!(tail_mask(16, 1), 0xFFFF);
    }
}
