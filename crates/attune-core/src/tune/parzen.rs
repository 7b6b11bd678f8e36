//! Optuna-style Parzen estimators: the `l(x)` (good trials) and `g(x)` (the rest) densities
//! that TPE compares.
//!
//! Each estimator is a mixture with one kernel per observation plus a *prior* kernel (the whole
//! range, centred; uniform over choices) so unexplored regions keep some density however few
//! observations there are. Following Optuna's `_ParzenEstimator`:
//! - numeric kernels are truncated normals in the (log-)transformed range, ints widened by
//!   half a step on each side and scored by the mass of their unit interval;
//! - a kernel's bandwidth is the larger gap to its sorted neighbours (the range ends count as
//!   neighbours, except that the outermost observations use their inner gap), clipped to
//!   `[range / min(100, n_kernels + 1), range]` (the "magic clip", which keeps early,
//!   sparse estimators from collapsing onto single points);
//! - categorical kernels put `prior_weight / n_kernels` on every choice and 1 more on the
//!   observed one, renormalized;
//! - mixture weights are 1 per observation, older ones ramped down once there are more than 25
//!   (observations come in trial order), plus `prior_weight` for the prior, normalized.

use rand::Rng;

use super::space::Distribution;
use super::truncnorm;

/// The kernels of one dimension.
enum Kernels {
    Numeric {
        mus: Vec<f64>,
        sigmas: Vec<f64>,
        /// Bounds in the transformed space (log, widened by half a step for ints).
        low: f64,
        high: f64,
        log: bool,
        /// The original integer bounds; `None` for floats.
        int: Option<(f64, f64)>,
    },
    /// One row of choice probabilities per kernel.
    Categorical { rows: Vec<Vec<f64>> },
}

/// A mixture of product kernels over some dimensions of the space.
pub(crate) struct Parzen {
    weights: Vec<f64>,
    dims: Vec<Kernels>,
}

/// Optuna's default observation weights: flat for up to 25, then a linear ramp from `1/n` for
/// all but the newest 25, so old trials from an early, different region fade.
pub(crate) fn default_weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let ramp = n - 25;
    let start = 1.0 / n as f64;
    (0..ramp)
        .map(|i| {
            if ramp == 1 {
                start
            } else {
                start + (1.0 - start) * i as f64 / (ramp - 1) as f64
            }
        })
        .chain(std::iter::repeat_n(1.0, 25))
        .collect()
}

impl Parzen {
    /// An estimator over `dists` from `observations` (one row per trial, in trial order; each
    /// row holds the internal values of `dists`, in order).
    pub(crate) fn new(
        observations: &[Vec<f64>],
        dists: &[&Distribution],
        prior_weight: f64,
    ) -> Self {
        let n = observations.len();
        let mut weights = default_weights(n);
        weights.push(if n == 0 { 1.0 } else { prior_weight });
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        let dims = dists
            .iter()
            .enumerate()
            .map(|(d, dist)| {
                let column: Vec<f64> = observations.iter().map(|row| row[d]).collect();
                kernels(&column, dist, prior_weight)
            })
            .collect();
        Self { weights, dims }
    }

    /// `size` draws (internal values, one row per draw).
    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R, size: usize) -> Vec<Vec<f64>> {
        (0..size)
            .map(|_| {
                let k = pick(&self.weights, rng.random());
                self.dims
                    .iter()
                    .map(|dim| sample_dim(dim, k, rng))
                    .collect()
            })
            .collect()
    }

    /// The log density (log mass for ints and categoricals) of `x`.
    pub(crate) fn log_pdf(&self, x: &[f64]) -> f64 {
        let per_kernel: Vec<f64> = self
            .weights
            .iter()
            .enumerate()
            .map(|(k, w)| {
                w.ln()
                    + self
                        .dims
                        .iter()
                        .zip(x)
                        .map(|(dim, &xi)| log_kernel(dim, k, xi))
                        .sum::<f64>()
            })
            .collect();
        let max = per_kernel.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if max == f64::NEG_INFINITY {
            return max;
        }
        max + per_kernel.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
    }
}

fn kernels(obs: &[f64], dist: &Distribution, prior_weight: f64) -> Kernels {
    let (low, high, log, int) = match dist {
        Distribution::Categorical { choices } => {
            return categorical_kernels(obs, choices.len(), prior_weight)
        }
        Distribution::Float { low, high, log } => (*low, *high, *log, None),
        Distribution::Int { low, high, log } => (
            *low as f64 - 0.5,
            *high as f64 + 0.5,
            *log,
            Some((*low as f64, *high as f64)),
        ),
    };
    let t = |x: f64| if log { x.ln() } else { x };
    let (low, high) = (t(low), t(high));
    let mut mus: Vec<f64> = obs.iter().map(|&x| t(x)).collect();
    let mut sigmas = bandwidths(&mus, low, high);
    mus.push(0.5 * (low + high));
    sigmas.push(high - low);
    Kernels::Numeric {
        mus,
        sigmas,
        low,
        high,
        log,
        int,
    }
}

/// Optuna's neighbour-gap bandwidths with the magic clip (`consider_endpoints = false`).
fn bandwidths(mus: &[f64], low: f64, high: f64) -> Vec<f64> {
    let n = mus.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| mus[a].total_cmp(&mus[b]));
    let mut padded = Vec::with_capacity(n + 2);
    padded.push(low);
    padded.extend(order.iter().map(|&i| mus[i]));
    padded.push(high);
    let mut sorted_sigmas: Vec<f64> = (1..=n)
        .map(|i| (padded[i] - padded[i - 1]).max(padded[i + 1] - padded[i]))
        .collect();
    if n >= 2 {
        sorted_sigmas[0] = padded[2] - padded[1];
        sorted_sigmas[n - 1] = padded[n] - padded[n - 1];
    }
    let range = high - low;
    let min_sigma = range / 100f64.min(1.0 + (n + 1) as f64);
    let mut sigmas = vec![0.0; n];
    for (rank, &i) in order.iter().enumerate() {
        sigmas[i] = sorted_sigmas[rank].clamp(min_sigma, range);
    }
    sigmas
}

fn categorical_kernels(obs: &[f64], n_choices: usize, prior_weight: f64) -> Kernels {
    if obs.is_empty() {
        return Kernels::Categorical {
            rows: vec![vec![1.0 / n_choices as f64; n_choices]],
        };
    }
    let n_kernels = obs.len() + 1;
    let base = prior_weight / n_kernels as f64;
    let rows = obs
        .iter()
        .map(|&x| Some(x as usize))
        .chain(std::iter::once(None))
        .map(|observed| {
            let mut row = vec![base; n_choices];
            if let Some(i) = observed {
                row[i] += 1.0;
            }
            let sum: f64 = row.iter().sum();
            if sum > 0.0 {
                row.iter_mut().for_each(|p| *p /= sum);
            } else {
                row.iter_mut().for_each(|p| *p = 1.0 / n_choices as f64);
            }
            row
        })
        .collect();
    Kernels::Categorical { rows }
}

/// The index whose cumulative weight first exceeds `u` (weights sum to 1).
fn pick(weights: &[f64], u: f64) -> usize {
    let mut acc = 0.0;
    for (i, w) in weights.iter().enumerate() {
        acc += w;
        if u < acc {
            return i;
        }
    }
    weights.len() - 1
}

fn sample_dim<R: Rng + ?Sized>(dim: &Kernels, k: usize, rng: &mut R) -> f64 {
    match dim {
        Kernels::Categorical { rows } => pick(&rows[k], rng.random()) as f64,
        Kernels::Numeric {
            mus,
            sigmas,
            low,
            high,
            log,
            int,
        } => {
            let x = truncnorm::sample(rng.random(), mus[k], sigmas[k], *low, *high);
            let x = if *log { x.exp() } else { x };
            match int {
                Some((l, h)) => x.round().clamp(*l, *h),
                None => x,
            }
        }
    }
}

fn log_kernel(dim: &Kernels, k: usize, x: f64) -> f64 {
    match dim {
        Kernels::Categorical { rows } => rows[k][x as usize].ln(),
        Kernels::Numeric {
            mus,
            sigmas,
            low,
            high,
            log,
            int,
        } => {
            let t = |v: f64| if *log { v.ln() } else { v };
            let (mu, sigma) = (mus[k], sigmas[k]);
            match int {
                None => truncnorm::log_pdf(t(x), mu, sigma, *low, *high),
                Some(_) => {
                    let (a, b) = ((t(x - 0.5) - mu) / sigma, (t(x + 0.5) - mu) / sigma);
                    truncnorm::log_gauss_mass(a, b)
                        - truncnorm::log_gauss_mass((low - mu) / sigma, (high - mu) / sigma)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_ramp_only_past_25() {
        assert_eq!(default_weights(3), vec![1.0; 3]);
        let w = default_weights(30);
        assert_eq!(w.len(), 30);
        assert!((w[0] - 1.0 / 30.0).abs() < 1e-12 && w[4] == 1.0 && w[29] == 1.0);
        assert!(w.windows(2).all(|p| p[0] <= p[1]));
    }

    #[test]
    fn bandwidths_follow_neighbour_gaps_and_clip() {
        // Sorted 0.1, 0.2, 0.6 in [0, 1]: inner gaps, outer ones use the inner neighbour.
        let s = bandwidths(&[0.6, 0.1, 0.2], 0.0, 1.0);
        let min = 1.0 / 5.0; // range / (1 + n_kernels), n_kernels = 3 + 1
        let expected = [0.4, min, 0.4];
        assert!(
            s.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-12),
            "{s:?}"
        );
        let s = bandwidths(&[0.5], 0.0, 1.0);
        assert_eq!(s, vec![0.5]);
    }

    #[test]
    fn categorical_mass_follows_observations() {
        let dist = Distribution::Categorical {
            choices: vec!["a".into(), "b".into(), "c".into()],
        };
        let p = Parzen::new(&[vec![1.0], vec![1.0], vec![1.0]], &[&dist], 1.0);
        let mass: Vec<f64> = (0..3).map(|i| p.log_pdf(&[i as f64]).exp()).collect();
        assert!((mass.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // 3/4 of the mixture is observation kernels with 1.25 of 1.75 on "b", 1/4 the uniform prior.
        assert!(
            (mass[1] - (0.75 * 1.25 / 1.75 + 0.25 / 3.0)).abs() < 1e-12,
            "{mass:?}"
        );
    }

    #[test]
    fn int_mass_sums_to_one() {
        let dist = Distribution::Int {
            low: 1,
            high: 20,
            log: true,
        };
        let p = Parzen::new(&[vec![3.0], vec![15.0]], &[&dist], 1.0);
        let total: f64 = (1..=20).map(|i| p.log_pdf(&[i as f64]).exp()).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
    }
}
