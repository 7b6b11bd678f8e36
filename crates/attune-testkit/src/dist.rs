//! The few distributions the generators need, on a seeded ChaCha stream.
//!
//! Written out here rather than taken from `rand_distr` so the exact draws (and so every
//! generated data set) depend only on `rand_chacha`'s stream, which is stable across versions.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// An independent random stream `stream` of `seed`: changing how many draws one part of the
/// generator makes (say, more events) does not change another part (the catalog).
pub fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Uniform in `[0, 1)`.
pub fn unit(rng: &mut ChaCha8Rng) -> f64 {
    rng.random::<f64>()
}

/// Standard normal (Box-Muller).
pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - unit(rng); // (0, 1]: ln is finite
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Log-normal with the given median and log-space spread `sigma`.
pub fn log_normal(rng: &mut ChaCha8Rng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// Exponential with the given mean.
pub fn exponential(rng: &mut ChaCha8Rng, mean: f64) -> f64 {
    -mean * (1.0 - unit(rng)).ln()
}

/// Uniform index in `0..n` (`n > 0`).
pub fn index(rng: &mut ChaCha8Rng, n: usize) -> usize {
    rng.random_range(0..n)
}

/// Fisher-Yates shuffle.
pub fn shuffle<T>(rng: &mut ChaCha8Rng, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        v.swap(i, rng.random_range(0..=i));
    }
}

/// `k` distinct indices from `0..n` (`k <= n`), in draw order.
pub fn distinct(rng: &mut ChaCha8Rng, n: usize, k: usize) -> Vec<usize> {
    assert!(k <= n, "cannot draw {k} distinct values from {n}");
    if k > 32 {
        // Partial Fisher-Yates: O(n), for the large draws.
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..k {
            all.swap(i, rng.random_range(i..n));
        }
        all.truncate(k);
        return all;
    }
    let mut out: Vec<usize> = Vec::with_capacity(k);
    while out.len() < k {
        let i = index(rng, n);
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// Draws from a fixed discrete distribution in O(log n) by binary search on its CDF.
#[derive(Debug, Clone)]
pub struct Discrete {
    cdf: Vec<f64>,
}

impl Discrete {
    /// From non-negative weights with a positive sum.
    pub fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let cdf: Vec<f64> = weights
            .into_iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        assert!(
            total > 0.0,
            "a discrete distribution needs a positive total weight"
        );
        Self { cdf }
    }

    /// One draw: an index into the weights.
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> usize {
        let total = self.cdf[self.cdf.len() - 1];
        let x = unit(rng) * total;
        self.cdf
            .partition_point(|&c| c <= x)
            .min(self.cdf.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_head_gets_its_share() {
        // Zipf(1) over 100 ranks: rank 0 holds 1/H_100 ≈ 19.3% of the mass.
        let z = Discrete::new((0..100).map(|r| 1.0 / f64::from(r + 1)));
        let mut rng = stream(7, 0);
        let n = 200_000;
        let mut counts = vec![0u32; 100];
        for _ in 0..n {
            counts[z.sample(&mut rng)] += 1;
        }
        let head = f64::from(counts[0]) / n as f64;
        assert!((head - 0.1928).abs() < 0.005, "{head}");
        assert!(counts[0] > counts[1] && counts[1] > counts[9] && counts[9] > counts[99]);
    }

    #[test]
    fn zero_weights_are_never_drawn() {
        let d = Discrete::new([0.0, 1.0, 0.0, 3.0, 0.0]);
        let mut rng = stream(1, 0);
        for _ in 0..10_000 {
            let i = d.sample(&mut rng);
            assert!(i == 1 || i == 3, "{i}");
        }
    }

    #[test]
    fn log_normal_median_holds() {
        let mut rng = stream(3, 0);
        let mut xs: Vec<f64> = (0..20_001)
            .map(|_| log_normal(&mut rng, 25_000.0, 0.9))
            .collect();
        xs.sort_by(f64::total_cmp);
        let median = xs[10_000];
        assert!((median / 25_000.0 - 1.0).abs() < 0.05, "{median}");
    }
}
