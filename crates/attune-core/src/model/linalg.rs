//! Small dense kernels the models share: dot/axpy on factor rows, Cholesky on `k x k` systems,
//! and a blocked, multi-threaded inverse of a symmetric positive-definite matrix (EASE).
//!
//! Why hand-written: the systems of ALS are tiny (`k <= 128`) and there are hundreds of thousands
//! of them per iteration; the call overhead and workspace queries of a general library cost more
//! than the arithmetic. The loops below are written so LLVM vectorizes them: fixed-width lane
//! accumulators (`[f32; 8]`) instead of one scalar accumulator, because floating-point addition
//! is not associative and LLVM will not reorder a scalar reduction by itself.
//!
//! All matrices are row-major. "Lower" means the lower triangle including the diagonal.

const LANES: usize = 8;
const WIDE: usize = 4 * LANES;

/// How the `f32` kernels compute: a multiply-add, a dot product and an axpy.
///
/// The kernels are generic over it so one source compiles twice: [`Plain`] (`a·b + c`, portable,
/// SSE2 on baseline x86-64) and [`Fused`] (FMA instructions and explicit AVX2 dot/axpy) for the
/// copies built with `#[target_feature(enable = "avx2,fma")]` and picked at run time
/// ([`has_avx2_fma`]). Crate-private because `Fused` is only sound inside such functions.
pub(crate) trait MulAdd: Copy {
    /// `a·b + c`.
    fn madd(a: f32, b: f32, c: f32) -> f32;

    /// `a · b`.
    #[inline(always)]
    fn dot(a: &[f32], b: &[f32]) -> f32 {
        dot_lanes::<Self>(a, b)
    }

    /// `y += alpha · x`.
    #[inline(always)]
    fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
        for (yi, xi) in y.iter_mut().zip(x) {
            *yi = Self::madd(alpha, *xi, *yi);
        }
    }

    /// `out += (a + b · (y·v)) · y`: the per-interaction step of CG (one dot, one axpy on the
    /// same row).
    #[inline(always)]
    fn dot_axpy(y: &[f32], v: &[f32], a: f32, b: f32, out: &mut [f32]) {
        let d = Self::dot(y, v);
        Self::axpy(a + b * d, y, out);
    }

    /// Hint that `row` will be read soon (no-op unless the kernel set has a prefetch).
    #[inline(always)]
    fn prefetch(_row: &[f32]) {}

    /// `a · b` of two `i8` vectors, exact in `i32` (lengths up to 2^16 cannot overflow:
    /// every product is at most 2^14). The HNSW build measures with it
    /// ([`super::ann`]'s quantized rows).
    #[inline(always)]
    fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
        let mut acc = [0i32; LANES];
        let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        let (ra, rb) = (ca.remainder(), cb.remainder());
        for (x, y) in ca.zip(cb) {
            for ((s, &xl), &yl) in acc.iter_mut().zip(x).zip(y) {
                *s += i32::from(xl) * i32::from(yl);
            }
        }
        let mut r: i32 = acc.iter().sum();
        for (x, y) in ra.iter().zip(rb) {
            r += i32::from(*x) * i32::from(*y);
        }
        r
    }

    /// Hint that the bytes of `row` will be read soon.
    #[inline(always)]
    fn prefetch_i8(_row: &[i8]) {}

    /// `out = A x` for a full symmetric `k x k` matrix: `Σ_j x_j · A[j, :]` (row `j` of a
    /// symmetric matrix is its column `j`), `k` contiguous axpys and no horizontal reductions.
    #[inline(always)]
    fn symv(a: &[f32], x: &[f32], out: &mut [f32]) {
        let k = x.len();
        out.fill(0.0);
        for (j, &xj) in x.iter().enumerate() {
            Self::axpy(xj, &a[j * k..(j + 1) * k], out);
        }
    }
}

/// Separate multiply and add (portable).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plain;

/// Fused multiply-add and AVX2 intrinsics: only inside `avx2,fma` functions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fused;

impl MulAdd for Plain {
    #[inline(always)]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

impl MulAdd for Fused {
    #[inline(always)]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }

    /// Four independent 8-wide FMA chains, then one horizontal sum.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn dot(a: &[f32], b: &[f32]) -> f32 {
        use std::arch::x86_64::*;
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        // SAFETY: loads stay below `n`, the length of both slices; `Fused` is only instantiated
        // inside `#[target_feature(enable = "avx2,fma")]` functions called after
        // `has_avx2_fma()`, so the instructions exist.
        unsafe {
            let mut acc = [_mm256_setzero_ps(); 4];
            let mut i = 0;
            while i + 32 <= n {
                for (j, a_j) in acc.iter_mut().enumerate() {
                    *a_j = _mm256_fmadd_ps(
                        _mm256_loadu_ps(pa.add(i + 8 * j)),
                        _mm256_loadu_ps(pb.add(i + 8 * j)),
                        *a_j,
                    );
                }
                i += 32;
            }
            while i + 8 <= n {
                acc[0] = _mm256_fmadd_ps(
                    _mm256_loadu_ps(pa.add(i)),
                    _mm256_loadu_ps(pb.add(i)),
                    acc[0],
                );
                i += 8;
            }
            let v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
            let q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
            let q = _mm_add_ps(q, _mm_movehl_ps(q, q));
            let q = _mm_add_ss(q, _mm_shuffle_ps(q, q, 1));
            let mut r = _mm_cvtss_f32(q);
            while i < n {
                r = (*pa.add(i)).mul_add(*pb.add(i), r);
                i += 1;
            }
            r
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
        use std::arch::x86_64::*;
        let n = x.len().min(y.len());
        let (px, py) = (x.as_ptr(), y.as_mut_ptr());
        // SAFETY: as in `dot`: every access is below `n`, and the CPU has AVX2 and FMA.
        unsafe {
            let av = _mm256_set1_ps(alpha);
            let mut i = 0;
            while i + 8 <= n {
                let r = _mm256_fmadd_ps(av, _mm256_loadu_ps(px.add(i)), _mm256_loadu_ps(py.add(i)));
                _mm256_storeu_ps(py.add(i), r);
                i += 8;
            }
            while i < n {
                *py.add(i) = alpha.mul_add(*px.add(i), *py.add(i));
                i += 1;
            }
        }
    }

    /// For 64 factors the row is loaded once into eight registers and reused by the axpy.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn dot_axpy(y: &[f32], v: &[f32], a: f32, b: f32, out: &mut [f32]) {
        use std::arch::x86_64::*;
        if y.len() != 64 || v.len() < 64 || out.len() < 64 {
            let d = Self::dot(y, v);
            Self::axpy(a + b * d, y, out);
            return;
        }
        // SAFETY: all three slices hold at least 64 values (checked above); AVX2+FMA as for
        // `dot`.
        unsafe {
            let (py, pv, po) = (y.as_ptr(), v.as_ptr(), out.as_mut_ptr());
            let yr = [
                _mm256_loadu_ps(py),
                _mm256_loadu_ps(py.add(8)),
                _mm256_loadu_ps(py.add(16)),
                _mm256_loadu_ps(py.add(24)),
                _mm256_loadu_ps(py.add(32)),
                _mm256_loadu_ps(py.add(40)),
                _mm256_loadu_ps(py.add(48)),
                _mm256_loadu_ps(py.add(56)),
            ];
            let mut acc = [_mm256_setzero_ps(); 4];
            for j in 0..8 {
                acc[j % 4] = _mm256_fmadd_ps(yr[j], _mm256_loadu_ps(pv.add(8 * j)), acc[j % 4]);
            }
            let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
            let q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
            let q = _mm_add_ps(q, _mm_movehl_ps(q, q));
            let q = _mm_add_ss(q, _mm_shuffle_ps(q, q, 1));
            let coef = _mm256_set1_ps(b.mul_add(_mm_cvtss_f32(q), a));
            for (j, yj) in yr.iter().enumerate() {
                let o = po.add(8 * j);
                _mm256_storeu_ps(o, _mm256_fmadd_ps(coef, *yj, _mm256_loadu_ps(o)));
            }
        }
    }

    /// Sixteen bytes at a time: sign-extended to `i16`, multiplied and summed in pairs into
    /// eight `i32` lanes (`vpmaddwd`), which is exact.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
        use std::arch::x86_64::*;
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        // SAFETY: loads of 16 bytes stay below `n`, the length of both slices; AVX2 as for
        // `dot`.
        unsafe {
            let mut acc = [_mm256_setzero_si256(); 2];
            let mut i = 0;
            while i + 32 <= n {
                for (j, a_j) in acc.iter_mut().enumerate() {
                    let x = _mm256_cvtepi8_epi16(_mm_loadu_si128(pa.add(i + 16 * j).cast()));
                    let y = _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(i + 16 * j).cast()));
                    *a_j = _mm256_add_epi32(*a_j, _mm256_madd_epi16(x, y));
                }
                i += 32;
            }
            while i + 16 <= n {
                let x = _mm256_cvtepi8_epi16(_mm_loadu_si128(pa.add(i).cast()));
                let y = _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(i).cast()));
                acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(x, y));
                i += 16;
            }
            let v = _mm256_add_epi32(acc[0], acc[1]);
            let q = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
            let q = _mm_add_epi32(q, _mm_shuffle_epi32(q, 0b01_00_11_10));
            let q = _mm_add_epi32(q, _mm_shuffle_epi32(q, 0b10_11_00_01));
            let mut r = _mm_cvtsi128_si32(q);
            while i < n {
                r += i32::from(*pa.add(i)) * i32::from(*pb.add(i));
                i += 1;
            }
            r
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn prefetch_i8(row: &[i8]) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        for line in row.chunks(64) {
            // SAFETY: prefetching is a hint and never faults; the pointer is in bounds anyway.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
        }
    }

    /// One prefetch per 64-byte line of the row into L1.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn prefetch(row: &[f32]) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        for line in row.chunks(16) {
            // SAFETY: prefetching is a hint and never faults; the pointer is in bounds anyway.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
        }
    }

    /// Register-tiled: each block of 64 output entries lives in eight AVX2 registers for the
    /// whole pass over `j`, so the inner loop is loads and FMAs only (the axpy form reloads and
    /// stores `out` for every `j`). Columns past the last full block use the axpy form.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn symv(a: &[f32], x: &[f32], out: &mut [f32]) {
        use std::arch::x86_64::*;
        let k = x.len();
        assert!(a.len() >= k * k && out.len() >= k, "symv shapes");
        let full = k - k % 64;
        for c0 in (0..full).step_by(64) {
            // SAFETY: reads `a[j * k + c0..][..64]` with `j < k` and `c0 + 64 <= k`, writes
            // `out[c0..c0 + 64]`; lengths checked above. AVX2+FMA as for `dot`.
            unsafe {
                let mut acc = [_mm256_setzero_ps(); 8];
                for (j, &xj) in x.iter().enumerate() {
                    let xv = _mm256_set1_ps(xj);
                    let r = a.as_ptr().add(j * k + c0);
                    acc[0] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(r), acc[0]);
                    acc[1] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(r.add(8)), acc[1]);
                    acc[2] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(r.add(16)), acc[2]);
                    acc[3] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(r.add(24)), acc[3]);
                    acc[4] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(r.add(32)), acc[4]);
                    acc[5] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(r.add(40)), acc[5]);
                    acc[6] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(r.add(48)), acc[6]);
                    acc[7] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(r.add(56)), acc[7]);
                }
                let o = out.as_mut_ptr().add(c0);
                for (t, v) in acc.iter().enumerate() {
                    _mm256_storeu_ps(o.add(8 * t), *v);
                }
            }
        }
        if full < k {
            out[full..k].fill(0.0);
            for (j, &xj) in x.iter().enumerate() {
                Self::axpy(xj, &a[j * k + full..(j + 1) * k], &mut out[full..k]);
            }
        }
    }
}

/// Whether this CPU runs the AVX2+FMA kernel copies (checked once, then cached by std).
#[inline]
pub fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `a · b` generic over [`MulAdd`], with 32 independent accumulators: four AVX2 registers, so
/// four multiply-add chains are in flight (one chain would wait on the FMA latency, about four
/// cycles, every step). Lengths that are not a multiple of 32 finish with 8-wide then scalar
/// steps.
#[inline(always)]
pub(crate) fn dot_lanes<M: MulAdd>(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; WIDE];
    let n_wide = n - n % WIDE;
    for (x, y) in a[..n_wide]
        .chunks_exact(WIDE)
        .zip(b[..n_wide].chunks_exact(WIDE))
    {
        for l in 0..WIDE {
            acc[l] = M::madd(x[l], y[l], acc[l]);
        }
    }
    let n_lanes = n - n % LANES;
    for (x, y) in a[n_wide..n_lanes]
        .chunks_exact(LANES)
        .zip(b[n_wide..n_lanes].chunks_exact(LANES))
    {
        for l in 0..LANES {
            acc[l] = M::madd(x[l], y[l], acc[l]);
        }
    }
    let mut tail = 0f32;
    for (x, y) in a[n_lanes..].iter().zip(&b[n_lanes..]) {
        tail = M::madd(*x, *y, tail);
    }
    let mut lanes = [0f32; LANES];
    for l in 0..LANES {
        lanes[l] = (acc[l] + acc[l + LANES]) + (acc[l + 2 * LANES] + acc[l + 3 * LANES]);
    }
    let s = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
    s + tail
}

/// `a · b` with the kernel set `M`.
#[inline(always)]
pub(crate) fn dot_with<M: MulAdd>(a: &[f32], b: &[f32]) -> f32 {
    M::dot(a, b)
}

/// `y += alpha · x` with the kernel set `M`.
#[inline(always)]
pub(crate) fn axpy_with<M: MulAdd>(alpha: f32, x: &[f32], y: &mut [f32]) {
    M::axpy(alpha, x, y);
}

/// `out = A x` for a full symmetric `k x k` matrix, generic over [`MulAdd`].
///
/// Computed as `Σ_j x_j · A[j, :]` (row `j` of a symmetric matrix is its column `j`): `k`
/// contiguous axpys and no horizontal reductions, which beats `k` dot products for `k <= 128`.
#[inline(always)]
pub(crate) fn symv_with<M: MulAdd>(a: &[f32], x: &[f32], out: &mut [f32]) {
    M::symv(a, x, out);
}

/// `a · b` for equal-length `f32` slices, with 8 independent accumulators (vectorizable).
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    dot_with::<Plain>(a, b)
}

/// `a · b` for `f64` slices (EASE and the exact solves), 16 accumulators (four AVX2 registers
/// in the AVX2 copies, so four add chains are in flight).
#[inline(always)]
pub fn dot64(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    const W: usize = 16;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f64; W];
    let n_wide = n - n % W;
    for (x, y) in a[..n_wide].chunks_exact(W).zip(b[..n_wide].chunks_exact(W)) {
        for l in 0..W {
            acc[l] += x[l] * y[l];
        }
    }
    let n4 = n - n % 4;
    for (x, y) in a[n_wide..n4]
        .chunks_exact(4)
        .zip(b[n_wide..n4].chunks_exact(4))
    {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0f64;
    for (x, y) in a[n4..].iter().zip(&b[n4..]) {
        tail += x * y;
    }
    let mut lanes = [0f64; 4];
    for l in 0..4 {
        lanes[l] = (acc[l] + acc[l + 4]) + (acc[l + 8] + acc[l + 12]);
    }
    ((lanes[0] + lanes[2]) + (lanes[1] + lanes[3])) + tail
}

/// `y += alpha * x` (vectorizes as written: no reduction).
#[inline(always)]
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    debug_assert_eq!(x.len(), y.len());
    axpy_with::<Plain>(alpha, x, y);
}

/// `y += alpha * x` in `f64`.
#[inline(always)]
pub fn axpy64(alpha: f64, x: &[f64], y: &mut [f64]) {
    debug_assert_eq!(x.len(), y.len());
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// `out = A x` for a full (both triangles stored) symmetric `k x k` matrix `a`.
#[inline(always)]
pub fn symv(a: &[f32], x: &[f32], out: &mut [f32]) {
    symv_with::<Plain>(a, x, out);
}

/// The matrix is not positive definite: the pivot of row `row` was not positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotPositiveDefinite {
    /// Row whose pivot failed.
    pub row: usize,
}

/// In-place Cholesky factorization `A = L Lᵀ` of the lower triangle of the `n x n` matrix `a`.
/// On success the lower triangle holds `L`; the strict upper triangle is left untouched.
///
/// Row-oriented (Cholesky–Crout): every inner product is between two contiguous row prefixes.
/// Inlined so the AVX2 copies of its callers (the ALS exact solve) vectorize it too.
#[inline(always)]
pub fn cholesky(a: &mut [f64], n: usize) -> Result<(), NotPositiveDefinite> {
    debug_assert_eq!(a.len(), n * n);
    for i in 0..n {
        let (done, rest) = a.split_at_mut(i * n);
        let row_i = &mut rest[..n];
        for j in 0..i {
            let row_j = &done[j * n..j * n + j + 1];
            let s = row_i[j] - dot64(&row_i[..j], &row_j[..j]);
            row_i[j] = s / row_j[j];
        }
        let d = row_i[i] - dot64(&row_i[..i], &row_i[..i]);
        if d <= 0.0 || !d.is_finite() {
            return Err(NotPositiveDefinite { row: i });
        }
        row_i[i] = d.sqrt();
    }
    Ok(())
}

/// Solve `L Lᵀ x = b` in place given the factor from [`cholesky`].
#[inline(always)]
pub fn cholesky_solve(l: &[f64], n: usize, b: &mut [f64]) {
    // Forward: L z = b (row-oriented, contiguous row prefixes).
    for i in 0..n {
        let s = b[i] - dot64(&l[i * n..i * n + i], &b[..i]);
        b[i] = s / l[i * n + i];
    }
    // Backward: Lᵀ x = z (column-oriented over Lᵀ = row-oriented over L: axpy with row i).
    for i in (0..n).rev() {
        b[i] /= l[i * n + i];
        let xi = b[i];
        let (head, _) = b.split_at_mut(i);
        axpy64(-xi, &l[i * n..i * n + i], head);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Naive Gauss–Jordan inverse with partial pivoting: the oracle for EASE's inverse.
    pub(crate) fn gauss_jordan_inverse(a: &[f64], n: usize) -> Vec<f64> {
        let mut m = a.to_vec();
        let mut inv = vec![0f64; n * n];
        for i in 0..n {
            inv[i * n + i] = 1.0;
        }
        for c in 0..n {
            let p = (c..n)
                .max_by(|&x, &y| m[x * n + c].abs().total_cmp(&m[y * n + c].abs()))
                .unwrap();
            for j in 0..n {
                m.swap(c * n + j, p * n + j);
                inv.swap(c * n + j, p * n + j);
            }
            let d = m[c * n + c];
            for j in 0..n {
                m[c * n + j] /= d;
                inv[c * n + j] /= d;
            }
            for r in 0..n {
                if r != c {
                    let f = m[r * n + c];
                    for j in 0..n {
                        m[r * n + j] -= f * m[c * n + j];
                        inv[r * n + j] -= f * inv[c * n + j];
                    }
                }
            }
        }
        inv
    }

    /// The `Fused` kernels, compiled with the features they need.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fused_dot(a: &[f32], b: &[f32]) -> f32 {
        dot_with::<Fused>(a, b)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fused_axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
        axpy_with::<Fused>(alpha, x, y);
    }

    pub(crate) fn random_spd(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let g: Vec<f64> = (0..n * n).map(|_| rng.random::<f64>() - 0.5).collect();
        let mut a = vec![0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|t| g[i * n + t] * g[j * n + t]).sum::<f64>();
            }
            a[i * n + i] += 0.5;
        }
        a
    }

    #[test]
    fn dot_and_axpy_handle_tails() {
        let a: Vec<f32> = (0..19).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..19).map(|i| (i % 3) as f32).collect();
        let want: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert_eq!(dot(&a, &b), want);
        let mut y = b.clone();
        axpy(2.0, &a, &mut y);
        assert_eq!(y[18], 36.0);
        assert_eq!(dot64(&[1.0, 2.0, 3.0, 4.0, 5.0], &[1.0; 5]), 15.0);
        // The fused form agrees up to rounding (exactly, on these small integers).
        #[cfg(target_arch = "x86_64")]
        if has_avx2_fma() {
            // SAFETY: guarded by the feature check.
            assert_eq!(unsafe { fused_dot(&a, &b) }, want);
        }
        // Every split between the 32-wide, 8-wide and scalar parts.
        for n in 0..100 {
            let a: Vec<f32> = (0..n).map(|i| (i % 7) as f32 - 3.0).collect();
            let b: Vec<f32> = (0..n).map(|i| (i % 5) as f32).collect();
            let want: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert_eq!(dot_with::<Plain>(&a, &b), want, "n = {n}");
            #[cfg(target_arch = "x86_64")]
            if has_avx2_fma() {
                // SAFETY: guarded by the feature check.
                assert_eq!(unsafe { fused_dot(&a, &b) }, want, "n = {n}");
                let (mut y1, mut y2) = (b.clone(), b.clone());
                axpy_with::<Plain>(0.5, &a, &mut y1);
                // SAFETY: guarded by the feature check.
                unsafe { fused_axpy(0.5, &a, &mut y2) };
                assert_eq!(y1, y2, "n = {n}");
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fused_symv(a: &[f32], x: &[f32], out: &mut [f32]) {
        symv_with::<Fused>(a, x, out);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fused_dot_axpy(y: &[f32], v: &[f32], a: f32, b: f32, out: &mut [f32]) {
        Fused::dot_axpy(y, v, a, b, out);
    }

    #[test]
    fn dot_axpy_matches_naive_including_the_64_factor_fast_path() {
        for k in [5, 63, 64, 65] {
            // Small integers: exact in any order.
            let y: Vec<f32> = (0..k).map(|i| (i % 5) as f32 - 2.0).collect();
            let v: Vec<f32> = (0..k).map(|i| (i % 3) as f32).collect();
            let d: f32 = y.iter().zip(&v).map(|(a, b)| a * b).sum();
            let want: Vec<f32> = y.iter().map(|&yi| 1.0 + (3.0 - 0.5 * d) * yi).collect();
            let mut out = vec![1f32; k];
            Plain::dot_axpy(&y, &v, 3.0, -0.5, &mut out);
            assert_eq!(out, want, "portable k = {k}");
            #[cfg(target_arch = "x86_64")]
            if has_avx2_fma() {
                let mut out = vec![1f32; k];
                // SAFETY: guarded by the feature check.
                unsafe { fused_dot_axpy(&y, &v, 3.0, -0.5, &mut out) };
                assert_eq!(out, want, "fused k = {k}");
            }
        }
    }

    #[test]
    fn symv_matches_naive_for_tiled_and_ragged_sizes() {
        for k in [1, 7, 8, 63, 64, 65, 100, 128, 130] {
            // Small integers: every order of summation is exact.
            let mut a = vec![0f32; k * k];
            for i in 0..k {
                for j in 0..=i {
                    let v = ((i * 7 + j * 3) % 5) as f32 - 2.0;
                    a[i * k + j] = v;
                    a[j * k + i] = v;
                }
            }
            let x: Vec<f32> = (0..k).map(|i| (i % 3) as f32 - 1.0).collect();
            let want: Vec<f32> = (0..k)
                .map(|i| (0..k).map(|j| a[i * k + j] * x[j]).sum())
                .collect();
            let mut out = vec![9f32; k];
            symv(&a, &x, &mut out);
            assert_eq!(out, want, "portable k = {k}");
            #[cfg(target_arch = "x86_64")]
            if has_avx2_fma() {
                let mut out = vec![9f32; k];
                // SAFETY: guarded by the feature check.
                unsafe { fused_symv(&a, &x, &mut out) };
                assert_eq!(out, want, "fused k = {k}");
            }
        }
    }

    #[test]
    fn cholesky_solves_and_rejects_indefinite() {
        let n = 5;
        let a = random_spd(n, 1);
        let mut l = a.clone();
        cholesky(&mut l, n).unwrap();
        let mut b: Vec<f64> = (0..n).map(|i| i as f64 - 2.0).collect();
        let rhs = b.clone();
        cholesky_solve(&l, n, &mut b);
        for i in 0..n {
            let ax: f64 = (0..n).map(|j| a[i * n + j] * b[j]).sum();
            assert!((ax - rhs[i]).abs() < 1e-9);
        }
        let mut bad = vec![1.0, 2.0, 2.0, 1.0];
        assert_eq!(cholesky(&mut bad, 2), Err(NotPositiveDefinite { row: 1 }));
    }
}
