//! ALS kernels: Gram matrices, the per-row conjugate-gradient and Cholesky solves, the loss.
//!
//! For one user `u` with items `i` (weights `w`, confidence `c = 1 + alpha·w` (or `alpha·w`, see
//! [`super::Confidence`]), preference
//! `p = [w > 0]`) and fixed item factors `Y`, the exact update solves
//!
//! ```text
//! (YᵀY + λI + Σ_i (c_i − 1) y_i y_iᵀ) x = Σ_i c_i p_i y_i
//! ```
//!
//! `YᵀY + λI` is shared by all users and computed once per half-iteration; the sum over the
//! user's items is the only per-user part (Hu, Koren and Volinsky 2008). Items work the same way
//! with the roles swapped.
//!
//! **Precision, deliberately:** Gram matrices are accumulated in `f64` (a sum over up to millions
//! of rows; `f32` would lose digits exactly where the small eigenvalues live) and cost only
//! `n·k²/2` per half-iteration. The conjugate-gradient path then runs in `f32`: it only needs an
//! approximate solve (3 steps, warm-started from the previous factors, Takács et al. 2011), and
//! `f32` doubles the SIMD width and halves the memory traffic of the `y_i` rows it streams. The
//! exact Cholesky path builds its `k x k` system in `f64`, since its point is to be exact (it is
//! the reference the CG path is tested against and what fold-in uses).
//!
//! **Kernels:** the CG row solve runs in the fastest form the CPU has, detected at run time
//! ([`CgKernel::best`]): AVX-512 for `k <= 128` ([`super::cg512`]: vectors in registers, item
//! rows four at a time, a dot-only last pass), else AVX2 with FMA, else portable code. The
//! Gram matrix uses 8 x 8 AVX-512 register tiles where available, bit-identical to the
//! portable loop.
//!
//! **No allocation per row:** every solve gets a per-task [`Scratch`] from rayon's
//! `for_each_init`.

use rayon::prelude::*;

use crate::model::linalg::{
    axpy64, axpy_with, cholesky, cholesky_solve, dot_with, has_avx2_fma, symv_with, MulAdd, Plain,
};
use crate::sparse::Csr;

/// `FᵀF + reg·I` for row-major factors `F` (`n x k`), in `f64` and as an `f32` copy for CG
/// (plus that copy padded for the AVX-512 kernel, see [`pad_gram`]).
pub(crate) struct Gram {
    pub(crate) g64: Vec<f64>,
    pub(crate) g32: Vec<f32>,
    pub(crate) gpad: Vec<Block>,
}

/// Sixteen floats, 64-byte aligned: one AVX-512 register's worth.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(64))]
pub(crate) struct Block(pub(crate) [f32; 16]);

/// Row-major factors in 64-byte aligned storage: with `k` a multiple of 16 every row starts on
/// a cache line, so the solvers' gathered rows span `k/16` lines instead of one more.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Aligned {
    blocks: Vec<Block>,
    len: usize,
}

impl Aligned {
    pub(crate) fn from_slice(v: &[f32]) -> Self {
        let mut blocks = vec![Block([0.0; 16]); v.len().div_ceil(16)];
        for (b, c) in blocks.iter_mut().zip(v.chunks(16)) {
            b.0[..c.len()].copy_from_slice(c);
        }
        Self {
            blocks,
            len: v.len(),
        }
    }

    pub(crate) fn as_slice(&self) -> &[f32] {
        // SAFETY: `Block` is `repr(C)` around `[f32; 16]` (size 64, no padding), so the blocks
        // are `16·blocks.len() >= len` contiguous initialized floats.
        unsafe { std::slice::from_raw_parts(self.blocks.as_ptr().cast::<f32>(), self.len) }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [f32] {
        // SAFETY: as in `as_slice`, with the unique borrow of `self`.
        unsafe { std::slice::from_raw_parts_mut(self.blocks.as_mut_ptr().cast::<f32>(), self.len) }
    }
}

/// A `k x k` row-major matrix with each row padded with zeros to `16·⌈k/16⌉` floats, in aligned
/// blocks: row `j` is blocks `j·nv .. (j+1)·nv`. Empty above the AVX-512 kernel's largest `k`.
pub(crate) fn pad_gram(g: &[f32], k: usize) -> Vec<Block> {
    let nv = k.div_ceil(16);
    if k > MAX_PAD_K {
        return Vec::new();
    }
    let mut out = vec![Block([0.0; 16]); k * nv];
    for j in 0..k {
        for c in 0..k {
            out[j * nv + c / 16].0[c % 16] = g[j * k + c];
        }
    }
    out
}

/// Largest `k` the padded copy is built for (the AVX-512 kernel's limit).
const MAX_PAD_K: usize = 128;

/// Rows per chunk of the Gram and loss reductions: chunks are summed in order, so the result
/// does not depend on how rayon splits the work (bit-identical across thread counts).
const REDUCE_CHUNK: usize = 2048;

pub(crate) fn gram(factors: &[f32], k: usize, reg: f32) -> Gram {
    let fast = has_avx2_fma();
    #[cfg(target_arch = "x86_64")]
    let tiles = super::cg512::available();
    let partials: Vec<Vec<f64>> = factors
        .par_chunks(REDUCE_CHUNK * k)
        .map(|chunk| {
            #[cfg(target_arch = "x86_64")]
            if tiles {
                // SAFETY: `tiles` is only true when the CPU has AVX-512F.
                return unsafe { super::cg512::gram_chunk(chunk, k) };
            }
            #[cfg(target_arch = "x86_64")]
            if fast {
                // SAFETY: `fast` is only true when the CPU has AVX2 and FMA.
                return unsafe { gram_chunk_avx2(chunk, k) };
            }
            let _ = fast;
            gram_chunk(chunk, k)
        })
        .collect();
    let mut g64 = vec![0f64; k * k];
    for p in partials {
        for (a, b) in g64.iter_mut().zip(p) {
            *a += b;
        }
    }
    for a in 0..k {
        for b in 0..a {
            g64[b * k + a] = g64[a * k + b];
        }
        g64[a * k + a] += f64::from(reg);
    }
    let g32: Vec<f32> = g64.iter().map(|&v| v as f32).collect();
    let gpad = pad_gram(&g32, k);
    Gram { g64, g32, gpad }
}

/// Lower triangle of `FᵀF` for one chunk of rows, in `f64`.
#[inline(always)]
fn gram_chunk(chunk: &[f32], k: usize) -> Vec<f64> {
    let mut g = vec![0f64; k * k];
    let mut row = vec![0f64; k];
    for f in chunk.chunks_exact(k) {
        for (r, &v) in row.iter_mut().zip(f) {
            *r = f64::from(v);
        }
        for a in 0..k {
            let s = row[a];
            axpy64(s, &row[..=a], &mut g[a * k..a * k + a + 1]);
        }
    }
    g
}

/// [`gram_chunk`], the reference the AVX-512 tiles are tested against.
#[cfg(test)]
pub(crate) fn gram_chunk_portable(chunk: &[f32], k: usize) -> Vec<f64> {
    gram_chunk(chunk, k)
}

/// [`gram_chunk`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gram_chunk_avx2(chunk: &[f32], k: usize) -> Vec<f64> {
    gram_chunk(chunk, k)
}

/// Confidence of a stored weight: `c = base + alpha·w` for `w > 0` (`base` is 1 for the
/// paper's form, 0 for the `implicit` library's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Conf {
    pub(crate) base: f32,
    pub(crate) alpha: f32,
}

impl Conf {
    /// The paper's `1 + alpha·w`.
    #[cfg(test)]
    pub(crate) fn linear(alpha: f32) -> Self {
        Self { base: 1.0, alpha }
    }

    #[inline(always)]
    pub(crate) fn c(self, w: f32) -> f32 {
        self.base + self.alpha * w
    }

    #[inline(always)]
    pub(crate) fn c64(self, w: f32) -> f64 {
        f64::from(self.base) + f64::from(self.alpha) * f64::from(w)
    }
}

/// Per-task buffers: nothing is allocated per solved row (the AVX-512 kernel's per-row lists
/// only grow).
pub(crate) struct Scratch {
    /// The AVX-512 kernel's positive entries of the row: item, `c`, `c − 1`.
    pub(crate) idx: Vec<u32>,
    pub(crate) ca: Vec<f32>,
    pub(crate) cb: Vec<f32>,
    r: Vec<f32>,
    p: Vec<f32>,
    ap: Vec<f32>,
    a: Vec<f64>,
    b: Vec<f64>,
    y: Vec<f64>,
}

impl Scratch {
    pub(crate) fn new(k: usize) -> Self {
        Self {
            idx: Vec::new(),
            ca: Vec::new(),
            cb: Vec::new(),
            r: vec![0.0; k],
            p: vec![0.0; k],
            ap: vec![0.0; k],
            a: vec![0.0; k * k],
            b: vec![0.0; k],
            y: vec![0.0; k],
        }
    }
}

/// How each row is solved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowSolver {
    Cg(usize),
    Cholesky,
}

/// Solve every row of `data` (rows = the side being updated) against `other` factors,
/// updating `out` in place (CG warm-starts from its current content).
#[allow(clippy::too_many_arguments)]
pub(crate) fn solve_side(
    data: &Csr,
    other: &[f32],
    k: usize,
    g: &Gram,
    conf: Conf,
    solver: RowSolver,
    out: &mut [f32],
) {
    let kernel = CgKernel::best(k);
    out.par_chunks_mut(k)
        .enumerate()
        .with_min_len(16)
        .for_each_init(
            || Scratch::new(k),
            |s, (r, x)| {
                let (cols, vals) = data.row(r);
                // A row without interactions has the exact solution 0 (as in `implicit`);
                // warm-started CG would only approach it.
                if cols.is_empty() {
                    x.fill(0.0);
                    return;
                }
                match solver {
                    RowSolver::Cg(steps) => {
                        cg_row(kernel, g, other, k, cols, vals, conf, steps, x, s)
                    }
                    RowSolver::Cholesky => cholesky_row(&g.g64, other, k, cols, vals, conf, x, s),
                }
            },
        );
}

/// Which compiled form of the CG row solve runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CgKernel {
    /// [`cg_row_with`] with separate multiplies and adds (any CPU).
    Plain,
    /// [`cg_row_with`] compiled for AVX2 with FMA.
    Avx2,
    /// [`super::cg512::cg_row`]: vectors in AVX-512 registers, item rows four at a time.
    Avx512,
}

impl CgKernel {
    /// The fastest kernel this CPU runs for `k` factors (detected at run time).
    pub(crate) fn best(k: usize) -> Self {
        #[cfg(target_arch = "x86_64")]
        if k <= super::cg512::MAX_K && super::cg512::available() {
            return CgKernel::Avx512;
        }
        if has_avx2_fma() {
            CgKernel::Avx2
        } else {
            CgKernel::Plain
        }
    }

    /// Whether this CPU runs `self` for `k` factors.
    #[cfg(test)]
    pub(crate) fn runs(self, k: usize) -> bool {
        match self {
            CgKernel::Plain => true,
            CgKernel::Avx2 => has_avx2_fma(),
            #[cfg(target_arch = "x86_64")]
            CgKernel::Avx512 => k <= super::cg512::MAX_K && super::cg512::available(),
            #[cfg(not(target_arch = "x86_64"))]
            CgKernel::Avx512 => {
                let _ = k;
                false
            }
        }
    }
}

/// One CG row solve with `kernel`, which must be one this CPU runs for `k` ([`CgKernel::best`]
/// or lower; an unavailable kernel falls back to the portable one).
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn cg_row(
    kernel: CgKernel,
    g: &Gram,
    y: &[f32],
    k: usize,
    cols: &[u32],
    vals: &[f32],
    conf: Conf,
    steps: usize,
    x: &mut [f32],
    s: &mut Scratch,
) {
    #[cfg(target_arch = "x86_64")]
    match kernel {
        CgKernel::Avx512 if k <= super::cg512::MAX_K && super::cg512::available() => {
            use super::cg512::cg_row as c;
            let gp = &g.gpad;
            // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked just above; std caches it).
            unsafe {
                match k.div_ceil(16) {
                    1 => c::<1>(gp, y, k, cols, vals, conf, steps, x, s),
                    2 => c::<2>(gp, y, k, cols, vals, conf, steps, x, s),
                    3 => c::<3>(gp, y, k, cols, vals, conf, steps, x, s),
                    4 => c::<4>(gp, y, k, cols, vals, conf, steps, x, s),
                    5 => c::<5>(gp, y, k, cols, vals, conf, steps, x, s),
                    6 => c::<6>(gp, y, k, cols, vals, conf, steps, x, s),
                    7 => c::<7>(gp, y, k, cols, vals, conf, steps, x, s),
                    _ => c::<8>(gp, y, k, cols, vals, conf, steps, x, s),
                }
            }
            return;
        }
        CgKernel::Avx2 | CgKernel::Avx512 if has_avx2_fma() => {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            unsafe { cg_row_avx2(&g.g32, y, k, cols, vals, conf, steps, x, s) };
            return;
        }
        _ => {}
    }
    let _ = kernel;
    cg_row_with::<Plain>(&g.g32, y, k, cols, vals, conf, steps, x, s);
}

/// The CG kernel compiled for AVX2 with fused multiply-adds.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn cg_row_avx2(
    g: &[f32],
    y: &[f32],
    k: usize,
    cols: &[u32],
    vals: &[f32],
    conf: Conf,
    steps: usize,
    x: &mut [f32],
    s: &mut Scratch,
) {
    cg_row_with::<crate::model::linalg::Fused>(g, y, k, cols, vals, conf, steps, x, s);
}

/// Rows prefetched ahead in the first CG pass.
const PREFETCH_AHEAD: usize = 4;

/// A few conjugate-gradient steps on one row's system, starting from the current `x`
/// (Takács, Pilászy and Tikk 2011; the same recurrences as the `implicit` library). The
/// matrix is never formed: `A p = G p + Σ (c − 1)(y_i·p) y_i`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn cg_row_with<M: MulAdd>(
    g: &[f32],
    y: &[f32],
    k: usize,
    cols: &[u32],
    vals: &[f32],
    conf: Conf,
    steps: usize,
    x: &mut [f32],
    s: &mut Scratch,
) {
    let Scratch { r, p, ap, .. } = s;
    // r = b − A x
    symv_with::<M>(g, x, r);
    for v in r.iter_mut() {
        *v = -*v;
    }
    // First pass over the user's item rows: they come from anywhere in `Y` (cache misses),
    // so fetch a few rows ahead; later passes find them in L1/L2.
    for (n, (&i, &w)) in cols.iter().zip(vals).enumerate() {
        if let Some(&ahead) = cols.get(n + PREFETCH_AHEAD) {
            M::prefetch(&y[ahead as usize * k..(ahead as usize + 1) * k]);
        }
        if w <= 0.0 {
            continue;
        }
        let c = conf.c(w);
        let yi = &y[i as usize * k..(i as usize + 1) * k];
        M::dot_axpy(yi, x, c, -(c - 1.0), r);
    }
    p.copy_from_slice(r);
    let mut rs_old = dot_with::<M>(r, r);
    if rs_old < 1e-20 {
        return;
    }
    for _ in 0..steps {
        symv_with::<M>(g, p, ap);
        for (&i, &w) in cols.iter().zip(vals) {
            if w <= 0.0 {
                continue;
            }
            let c = conf.c(w);
            let yi = &y[i as usize * k..(i as usize + 1) * k];
            M::dot_axpy(yi, p, 0.0, c - 1.0, ap);
        }
        let pap = dot_with::<M>(p, ap);
        if pap <= 0.0 || !pap.is_finite() {
            break;
        }
        let a = rs_old / pap;
        axpy_with::<M>(a, p, x);
        axpy_with::<M>(-a, ap, r);
        let rs_new = dot_with::<M>(r, r);
        if rs_new < 1e-20 {
            break;
        }
        let beta = rs_new / rs_old;
        for (pi, &ri) in p.iter_mut().zip(r.iter()) {
            *pi = ri + beta * *pi;
        }
        rs_old = rs_new;
    }
}

/// [`cholesky_row_with`] in the fastest form this CPU runs.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn cholesky_row(
    g: &[f64],
    y: &[f32],
    k: usize,
    cols: &[u32],
    vals: &[f32],
    conf: Conf,
    x: &mut [f32],
    s: &mut Scratch,
) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: only taken when the CPU has AVX2 and FMA.
        unsafe { cholesky_row_avx2(g, y, k, cols, vals, conf, x, s) };
        return;
    }
    cholesky_row_with(g, y, k, cols, vals, conf, x, s);
}

/// [`cholesky_row_with`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn cholesky_row_avx2(
    g: &[f64],
    y: &[f32],
    k: usize,
    cols: &[u32],
    vals: &[f32],
    conf: Conf,
    x: &mut [f32],
    s: &mut Scratch,
) {
    cholesky_row_with(g, y, k, cols, vals, conf, x, s);
}

/// The exact solve of one row's system by Cholesky, built and solved in `f64`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn cholesky_row_with(
    g: &[f64],
    y: &[f32],
    k: usize,
    cols: &[u32],
    vals: &[f32],
    conf: Conf,
    x: &mut [f32],
    s: &mut Scratch,
) {
    let Scratch { a, b, y: yv, .. } = s;
    a.copy_from_slice(g);
    b.iter_mut().for_each(|v| *v = 0.0);
    for (&i, &w) in cols.iter().zip(vals) {
        if w <= 0.0 {
            continue;
        }
        let c = conf.c64(w);
        for (d, &v) in yv.iter_mut().zip(&y[i as usize * k..(i as usize + 1) * k]) {
            *d = f64::from(v);
        }
        for row in 0..k {
            let sc = (c - 1.0) * yv[row];
            axpy64(sc, &yv[..=row], &mut a[row * k..row * k + row + 1]);
        }
        axpy64(c, yv, b);
    }
    // A ⪰ λI with λ > 0 (checked), so the factorization cannot fail in exact arithmetic; if
    // rounding ever breaks it, keep the previous factors rather than write garbage.
    if cholesky(a, k).is_ok() {
        cholesky_solve(a, k, b);
        for (xi, &bi) in x.iter_mut().zip(b.iter()) {
            *xi = bi as f32;
        }
    }
}

/// The training objective, in `f64`:
///
/// ```text
/// L = Σ_{u,i} c_ui (p_ui − x_u·y_i)² + λ (Σ_u ‖x_u‖² + Σ_i ‖y_i‖²)
/// ```
///
/// over **all** user-item cells (unobserved cells have `c = 1`, `p = 0`). Computed in
/// O(nnz·k + n_users·k²) with the identity `Σ_i (x·y_i)² = xᵀ(YᵀY)x`, then a correction for the
/// observed cells. Not normalized: the `implicit` library's `calculate_loss` reports
/// `L / (Σ_observed c + n_users·n_items − nnz)`, the loss per unit of confidence.
pub(crate) fn loss(data: &Csr, x: &[f32], y: &[f32], k: usize, conf: Conf, reg: f32) -> f64 {
    let g = gram(y, k, 0.0).g64;
    let n_users = data.n_rows();
    let partials: Vec<f64> = (0..n_users.div_ceil(REDUCE_CHUNK))
        .into_par_iter()
        .map(|chunk| {
            let mut xu = vec![0f64; k];
            let mut total = 0f64;
            for u in chunk * REDUCE_CHUNK..((chunk + 1) * REDUCE_CHUNK).min(n_users) {
                let xf = &x[u * k..(u + 1) * k];
                for (d, &v) in xu.iter_mut().zip(xf) {
                    *d = f64::from(v);
                }
                let mut quad = 0f64;
                for a in 0..k {
                    let row = &g[a * k..(a + 1) * k];
                    quad += xu[a] * row.iter().zip(&xu).map(|(g, x)| g * x).sum::<f64>();
                }
                total += quad;
                let (cols, vals) = data.row(u);
                for (&i, &w) in cols.iter().zip(vals) {
                    if w <= 0.0 {
                        continue;
                    }
                    let c = conf.c64(w);
                    let yi = &y[i as usize * k..(i as usize + 1) * k];
                    let s: f64 = yi.iter().zip(&xu).map(|(&a, &b)| f64::from(a) * b).sum();
                    total += c * (1.0 - s) * (1.0 - s) - s * s;
                }
                total += f64::from(reg) * xu.iter().map(|v| v * v).sum::<f64>();
            }
            total
        })
        .collect();
    let item_reg: f64 =
        y.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() * f64::from(reg);
    partials.into_iter().sum::<f64>() + item_reg
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random_factors(n: usize, k: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n * k).map(|_| rng.random::<f32>() - 0.3).collect()
    }

    /// Naive loss over the dense matrix: the oracle for `loss`.
    fn dense_loss(data: &Csr, x: &[f32], y: &[f32], k: usize, alpha: f32, reg: f32) -> f64 {
        let d = data.to_dense();
        let mut l = 0f64;
        for u in 0..data.n_rows() {
            for i in 0..data.n_cols() {
                let w = f64::from(d[u * data.n_cols() + i]);
                let (c, p) = if w > 0.0 {
                    (1.0 + f64::from(alpha) * w, 1.0)
                } else {
                    (1.0, 0.0)
                };
                let s: f64 = (0..k)
                    .map(|f| f64::from(x[u * k + f]) * f64::from(y[i * k + f]))
                    .sum();
                l += c * (p - s) * (p - s);
            }
        }
        let norm = |v: &[f32]| v.iter().map(|&a| f64::from(a) * f64::from(a)).sum::<f64>();
        l + f64::from(reg) * (norm(x) + norm(y))
    }

    #[test]
    fn loss_matches_dense_oracle() {
        let data = crate::model::testdata::random_matrix(13, 9, 0.3, 3, 5);
        let k = 5;
        let x = random_factors(13, k, 1);
        let y = random_factors(9, k, 2);
        let got = loss(&data, &x, &y, k, Conf::linear(2.5), 0.3);
        let want = dense_loss(&data, &x, &y, k, 2.5, 0.3);
        assert!((got - want).abs() <= 1e-9 * want.abs(), "{got} vs {want}");
    }

    #[test]
    fn gram_is_bit_identical_with_and_without_avx2() {
        let f = random_factors(3000, 13, 4);
        #[cfg(target_arch = "x86_64")]
        if has_avx2_fma() {
            // SAFETY: guarded by the feature check above.
            assert_eq!(gram_chunk(&f, 13), unsafe { gram_chunk_avx2(&f, 13) });
        }
    }

    #[test]
    fn gram_is_symmetric_with_reg_on_diagonal() {
        let f = random_factors(5000, 3, 9);
        let g = gram(&f, 3, 0.5).g64;
        for a in 0..3 {
            for b in 0..3 {
                let want: f64 = (0..5000)
                    .map(|r| f64::from(f[r * 3 + a]) * f64::from(f[r * 3 + b]))
                    .sum::<f64>()
                    + if a == b { 0.5 } else { 0.0 };
                assert!((g[a * 3 + b] - want).abs() < 1e-9 * want.abs().max(1.0));
            }
        }
    }

    proptest! {
        /// CG with k steps from zero reaches the exact Cholesky solution of the same system.
        #[test]
        fn cg_row_converges_to_cholesky_row(
            k in 1usize..10,
            seed in 0u64..500,
            n_items in 1usize..30,
            alpha in 0.0f32..20.0,
        ) {
            let y = random_factors(n_items, k, seed);
            let g = gram(&y, k, 0.1);
            let mut rng = ChaCha8Rng::seed_from_u64(seed + 1);
            let cols: Vec<u32> = (0..n_items as u32).filter(|_| rng.random::<f64>() < 0.5).collect();
            let vals: Vec<f32> = cols.iter().map(|_| rng.random_range(1..4) as f32).collect();
            let mut s = Scratch::new(k);
            let mut exact = vec![0f32; k];
            cholesky_row(&g.g64, &y, k, &cols, &vals, Conf::linear(alpha), &mut exact, &mut s);
            // Every kernel this CPU runs: portable, AVX2+FMA, AVX-512.
            for kernel in [CgKernel::Plain, CgKernel::Avx2, CgKernel::Avx512] {
                if !kernel.runs(k) {
                    continue;
                }
                let mut approx = vec![0f32; k];
                cg_row(kernel, &g, &y, k, &cols, &vals, Conf::linear(alpha), 3 * k, &mut approx, &mut s);
                let scale = exact.iter().fold(1f32, |m, v| m.max(v.abs()));
                for (a, e) in approx.iter().zip(&exact) {
                    prop_assert!((a - e).abs() <= 2e-3 * scale, "cg ({:?}) {:?} vs exact {:?}", kernel, approx, exact);
                }
            }
        }
    }
}
