//! The SGD machinery of the hybrid model: composite feature rows, feature embeddings with
//! Adagrad state, and one ranking update (BPR or WARP) over a (user, positive, negative) triple.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::HybridLoss;
use crate::model::linalg::dot;
use crate::sparse::Csr;

/// LightFM's cap on the WARP rank weight, so an early, badly ranked positive cannot blow up a
/// step.
const MAX_WARP_WEIGHT: f32 = 10.0;

/// Draws tried for a BPR negative before the positive is skipped (only a user who has seen
/// nearly every item runs out).
const BPR_NEGATIVE_TRIES: usize = 16;

/// The feature rows of one side (users or items): column `r` is row `r`'s identity feature,
/// columns `n_rows + c` are the external feature columns.
///
/// A row gets its identity feature only when `has_identity[r]` (it occurred in training:
/// an identity embedding that never received a gradient is noise, so cold rows are described by
/// their features alone). Weights follow LightFM's normalized rows: the identity carries
/// `identity_weight`, the external features (L1-normalized) carry `1 − identity_weight`; a row
/// with no external features gives its identity weight 1. A cold row keeps the `1 −
/// identity_weight` scale, so it is what a warm row would be with a zero identity embedding.
pub(super) fn compose(
    n_rows: usize,
    external: Option<&Csr>,
    has_identity: &[bool],
    identity_weight: f32,
) -> Csr {
    debug_assert_eq!(has_identity.len(), n_rows);
    let n_ext = external.map_or(0, Csr::n_cols);
    let mut indptr = Vec::with_capacity(n_rows + 1);
    indptr.push(0);
    let (mut indices, mut data) = (Vec::new(), Vec::new());
    for (r, &identity) in has_identity.iter().enumerate().take(n_rows) {
        let (cols, vals) = external.map_or((&[][..], &[][..]), |m| m.row(r));
        let l1: f64 = vals.iter().map(|&v| f64::from(v.abs())).sum();
        let has_ext = l1 > 0.0;
        if identity {
            let w = if has_ext { identity_weight } else { 1.0 };
            if w > 0.0 {
                indices.push(r as u32);
                data.push(w);
            }
        }
        if has_ext {
            let s = f64::from(1.0 - identity_weight) / l1;
            for (&c, &v) in cols.iter().zip(vals) {
                let x = (f64::from(v) * s) as f32;
                if x != 0.0 {
                    indices.push(n_rows as u32 + c);
                    data.push(x);
                }
            }
        }
        indptr.push(indices.len());
    }
    Csr::from_parts(n_rows, n_rows + n_ext, indptr, indices, data)
        .expect("composite rows are sorted, in range and finite")
}

/// Embeddings and biases of every feature of one side, with their Adagrad accumulators
/// (started at 1, as in LightFM, so the first steps are at most `learning_rate` long).
#[derive(Debug, Clone)]
pub(super) struct Embeddings {
    pub k: usize,
    pub emb: Vec<f32>,
    pub bias: Vec<f32>,
    acc_emb: Vec<f32>,
    acc_bias: Vec<f32>,
}

impl Embeddings {
    /// Uniform `(−0.5, 0.5) / k` embeddings (LightFM's initialization) for the columns marked
    /// `used`, zero for the others; zero biases.
    pub fn new(k: usize, used: &[bool], rng: &mut ChaCha8Rng) -> Self {
        let mut emb = vec![0f32; used.len() * k];
        for (row, &u) in emb.chunks_exact_mut(k).zip(used) {
            for x in row.iter_mut() {
                let v = (rng.random::<f32>() - 0.5) / k as f32;
                if u {
                    *x = v;
                }
            }
        }
        Self {
            k,
            emb,
            bias: vec![0.0; used.len()],
            acc_emb: vec![1.0; used.len() * k],
            acc_bias: vec![1.0; used.len()],
        }
    }

    /// `out = Σ x_f e_f`; returns `Σ x_f b_f`.
    pub fn repr(&self, (cols, vals): (&[u32], &[f32]), out: &mut [f32]) -> f32 {
        out.fill(0.0);
        let mut b = 0f32;
        for (&c, &x) in cols.iter().zip(vals) {
            let c = c as usize;
            let e = &self.emb[c * self.k..(c + 1) * self.k];
            for (o, &v) in out.iter_mut().zip(e) {
                *o += x * v;
            }
            b += x * self.bias[c];
        }
        b
    }

    /// One Adagrad step on every feature of a row, given the loss gradient with respect to
    /// the row's representation (`grad`) and bias (`grad_bias`, ignored when `with_bias` is
    /// false); L2 regularization `reg` on the touched embeddings and biases.
    pub fn step(
        &mut self,
        (cols, vals): (&[u32], &[f32]),
        grad: &[f32],
        grad_bias: f32,
        with_bias: bool,
        lr: f32,
        reg: f32,
    ) {
        let k = self.k;
        for (&c, &x) in cols.iter().zip(vals) {
            let c = c as usize;
            let e = &mut self.emb[c * k..(c + 1) * k];
            let acc = &mut self.acc_emb[c * k..(c + 1) * k];
            for ((ed, ad), &gd) in e.iter_mut().zip(acc.iter_mut()).zip(grad) {
                let g = x * gd + reg * *ed;
                *ad += g * g;
                *ed -= lr * g / ad.sqrt();
            }
            if with_bias {
                let g = x * grad_bias + reg * self.bias[c];
                self.acc_bias[c] += g * g;
                self.bias[c] -= lr * g / self.acc_bias[c].sqrt();
            }
        }
    }
}

/// `ln(1 + e^(−x))` without overflow: the BPR loss of a score margin `x`.
pub(super) fn softplus_neg(x: f32) -> f64 {
    let x = f64::from(x);
    if x > 0.0 {
        (-x).exp().ln_1p()
    } else {
        -x + x.exp().ln_1p()
    }
}

/// A sampled negative for one positive and the weight of its update: `coef` is `−∂loss/∂x`
/// for the margin `x = s_i − s_j` (BPR: `σ(−x)`; WARP: the rank weight, when the margin is
/// violated). `first_margin` is the margin against the first valid draw, for the monitoring
/// loss.
pub(super) struct Draw {
    pub j: usize,
    pub coef: f32,
    pub first_margin: Option<f32>,
}

/// Sample a negative for a user whose sorted positives are `seen`, given the positive's score
/// and a scorer of any item. `None` when no valid negative was found.
#[allow(clippy::too_many_arguments)]
pub(super) fn draw_negative(
    loss: HybridLoss,
    max_sampled: usize,
    n_items: usize,
    seen: &[u32],
    pos: u32,
    s_i: f32,
    rng: &mut ChaCha8Rng,
    mut score: impl FnMut(usize) -> f32,
) -> Option<Draw> {
    let valid = |j: usize| j as u32 != pos && seen.binary_search(&(j as u32)).is_err();
    match loss {
        HybridLoss::Bpr => {
            for _ in 0..BPR_NEGATIVE_TRIES {
                let j = rng.random_range(0..n_items);
                if valid(j) {
                    let x = s_i - score(j);
                    return Some(Draw {
                        j,
                        coef: 1.0 / (1.0 + x.exp()),
                        first_margin: Some(x),
                    });
                }
            }
            None
        }
        HybridLoss::Warp => {
            let mut first_margin = None;
            for sampled in 1..=max_sampled {
                let j = rng.random_range(0..n_items);
                if !valid(j) {
                    continue;
                }
                let x = s_i - score(j);
                first_margin.get_or_insert(x);
                if x < 1.0 {
                    let rank = ((n_items - 1) / sampled).max(1) as f32;
                    return Some(Draw {
                        j,
                        coef: rank.ln().min(MAX_WARP_WEIGHT),
                        first_margin,
                    });
                }
            }
            // No violation found: nothing to update, but the margin still counts as loss.
            first_margin.map(|x| Draw {
                j: usize::MAX,
                coef: 0.0,
                first_margin: Some(x),
            })
        }
    }
}

/// Scratch vectors of one update.
pub(super) struct Scratch {
    pub p: Vec<f32>,
    pub qi: Vec<f32>,
    pub qj: Vec<f32>,
    pub grad: Vec<f32>,
}

impl Scratch {
    pub fn new(k: usize) -> Self {
        Self {
            p: vec![0.0; k],
            qi: vec![0.0; k],
            qj: vec![0.0; k],
            grad: vec![0.0; k],
        }
    }
}

/// Score of a representation pair.
#[inline]
pub(super) fn score(p: &[f32], q: &[f32], b: f32) -> f32 {
    dot(p, q) + b
}
