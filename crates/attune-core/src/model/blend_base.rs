//! The mean and spread of a user's scores over the whole catalog, which a blend
//! ([`super::transition_blend`]) standardises its base's scores by.
//!
//! Summing every score costs a pass over the catalog per user. For a factor model that pass
//! is avoidable: with item factors `y_i`, user `x`, scores `s_i = x · y_i`,
//! `mean(s) = x · ȳ` and `var(s) = xᵀ C x` with `C` the item factors' covariance, both fixed
//! per model. So ALS answers from `ȳ` and `C` (`k + k²` numbers computed once at load, O(k²)
//! per user) and the serving engine never needs ALS's full score vector: it ranks ALS's part
//! through its usual scan and adds the few items transitions reach. EASE has no such form
//! and sums its scores.

use super::als::AlsModel;
use super::ease::EaseModel;
use super::{FoldIn, Scorer, UserRepr};

/// What a blend needs of its base beyond scoring.
pub trait BlendBase: Scorer + FoldIn {
    /// Computed once per model to answer [`BlendBase::score_moments`].
    type Moments: std::fmt::Debug + Clone + PartialEq + Send + Sync;

    /// The per-model part.
    fn item_moments(&self) -> Self::Moments;

    /// Mean and population standard deviation over every item of the base's scores for
    /// `repr`. `scores` (those scores) is read only by bases without a closed form: a base
    /// that has one accepts an empty slice.
    fn score_moments(&self, m: &Self::Moments, repr: &UserRepr, scores: &[f32]) -> (f64, f64);
}

/// Mean and population standard deviation of `s`, accumulated in `f64` over eight lanes.
pub fn moments(s: &[f32]) -> (f64, f64) {
    let (mut sum, mut sq) = ([0f64; 8], [0f64; 8]);
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        for l in 0..8 {
            let v = f64::from(c[l]);
            sum[l] += v;
            sq[l] += v * v;
        }
    }
    let (mut total, mut total_sq) = (sum.iter().sum::<f64>(), sq.iter().sum::<f64>());
    for &v in chunks.remainder() {
        total += f64::from(v);
        total_sq += f64::from(v) * f64::from(v);
    }
    let n = s.len().max(1) as f64;
    let mean = total / n;
    (mean, (total_sq / n - mean * mean).max(0.0).sqrt())
}

impl BlendBase for EaseModel {
    type Moments = ();

    fn item_moments(&self) {}

    fn score_moments(&self, (): &(), _: &UserRepr, scores: &[f32]) -> (f64, f64) {
        moments(scores)
    }
}

/// The item factors' mean and covariance, in `f64`.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorMoments {
    /// `ȳ` (`k`).
    mean: Vec<f64>,
    /// `C = (1/n) Σ (y_i − ȳ)(y_i − ȳ)ᵀ`, row-major (`k · k`).
    cov: Vec<f64>,
}

impl FactorMoments {
    /// The moments of `n = rows.len() / k` rows of `k` factors.
    ///
    /// # Panics
    /// If `k == 0` or `rows` is not whole rows.
    pub fn of_rows(rows: &[f32], k: usize) -> Self {
        assert!(k > 0 && rows.len().is_multiple_of(k), "whole rows of k");
        let n = (rows.len() / k).max(1) as f64;
        let mut mean = vec![0f64; k];
        for r in rows.chunks_exact(k) {
            for (m, &v) in mean.iter_mut().zip(r) {
                *m += f64::from(v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        // Centred first: no cancellation between E[yyᵀ] and ȳȳᵀ.
        let mut cov = vec![0f64; k * k];
        let mut d = vec![0f64; k];
        for r in rows.chunks_exact(k) {
            for ((d, &v), m) in d.iter_mut().zip(r).zip(&mean) {
                *d = f64::from(v) - m;
            }
            for (a, &da) in d.iter().enumerate() {
                let row = &mut cov[a * k..a * k + k];
                for (c, &db) in row[a..].iter_mut().zip(&d[a..]) {
                    *c += da * db;
                }
            }
        }
        for a in 0..k {
            for b in a..k {
                let v = cov[a * k + b] / n;
                cov[a * k + b] = v;
                cov[b * k + a] = v;
            }
        }
        Self { mean, cov }
    }

    /// Mean and standard deviation of `x · y_i` over the rows.
    pub fn of_user(&self, x: &[f32]) -> (f64, f64) {
        let k = self.mean.len();
        assert_eq!(x.len(), k, "a user of the model's factors");
        let x: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        let mean = x.iter().zip(&self.mean).map(|(a, b)| a * b).sum::<f64>();
        let var = (0..k)
            .map(|a| {
                let row = &self.cov[a * k..a * k + k];
                x[a] * row.iter().zip(&x).map(|(c, v)| c * v).sum::<f64>()
            })
            .sum::<f64>();
        (mean, var.max(0.0).sqrt())
    }
}

impl BlendBase for AlsModel {
    type Moments = FactorMoments;

    fn item_moments(&self) -> FactorMoments {
        FactorMoments::of_rows(self.all_item_factors(), self.factors())
    }

    /// Closed form for a factor vector; anything else (never produced by ALS's fold-in) from
    /// the scores.
    fn score_moments(&self, m: &FactorMoments, repr: &UserRepr, scores: &[f32]) -> (f64, f64) {
        match repr {
            UserRepr::Dense(x) if x.len() == self.factors() => m.of_user(x),
            _ => moments(scores),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summed_moments_are_the_textbook_ones() {
        let s: Vec<f32> = (0..21).map(|i| (i % 7) as f32 * 0.5 - 1.0).collect();
        let (mean, sd) = moments(&s);
        let n = s.len() as f64;
        let want_mean = s.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let want_var = s
            .iter()
            .map(|&v| (f64::from(v) - want_mean).powi(2))
            .sum::<f64>()
            / n;
        assert!((mean - want_mean).abs() < 1e-12);
        assert!((sd - want_var.sqrt()).abs() < 1e-12);
        assert_eq!(moments(&[4.0; 3]).1, 0.0);
    }

    #[test]
    fn the_closed_form_equals_the_moments_of_the_scores() {
        let (n, k) = (503, 7);
        let rows: Vec<f32> = (0..n * k)
            .map(|v| ((v * 7919 % 2003) as f32 / 1000.0) - 0.7)
            .collect();
        let x: Vec<f32> = (0..k).map(|i| (i as f32 - 3.0) / 4.0).collect();
        let scores: Vec<f32> = rows
            .chunks_exact(k)
            .map(|r| r.iter().zip(&x).map(|(a, b)| a * b).sum())
            .collect();
        let (want_mean, want_sd) = moments(&scores);
        let (mean, sd) = FactorMoments::of_rows(&rows, k).of_user(&x);
        assert!((mean - want_mean).abs() < 1e-5, "{mean} vs {want_mean}");
        assert!((sd - want_sd).abs() < 1e-5 * want_sd, "{sd} vs {want_sd}");
    }
}
