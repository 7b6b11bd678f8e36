//! Shared pieces of attune's benchmarks: the standard synthetic matrices and process
//! measurements (CPU seconds, peak memory) that the scale harnesses report.
//!
//! The benchmarks themselves live in `benches/` (criterion: `cargo bench -p attune-bench`) and
//! `examples/` (scale harnesses run by `scripts/bench-als-vs-implicit.sh`). Nothing here is a
//! dependency of the product.

use attune_core::sparse::{Csr, CsrBuilder};

/// Seed of every benchmark data set, so runs on different days measure the same matrix.
pub const SEED: u64 = 42;

/// The synthetic implicit-feedback matrix of the scale benchmarks: exactly `nnz` distinct
/// `(user, item)` cells with Zipf-like item popularity, latent taste clusters and log-normal
/// user activity ([`attune_testkit::interactions`]), deterministic in [`SEED`].
///
/// # Panics
/// If the shape cannot hold `nnz` cells (see [`attune_testkit::interactions`]).
pub fn matrix(n_users: u32, n_items: u32, nnz: usize) -> Csr {
    let triples = attune_testkit::interactions(n_users, n_items, nnz, SEED);
    let mut b = CsrBuilder::with_capacity(triples.len());
    for (u, i, w) in triples {
        b.push(u, i, w).expect("generator emits valid cells");
    }
    b.build(n_users as usize, n_items as usize)
        .expect("generator emits valid cells")
}

/// Item factors shaped like a trained factor model's, for the ANN benchmarks: `n` rows of
/// `dim`, deterministic in `seed`.
///
/// Why not isotropic Gaussian vectors: inner-product search is hard exactly when norms vary
/// (large-norm items win most queries, and a graph must lead to them from the small-norm
/// bulk), and trained factors are clustered by taste around a shared "popularity" direction.
/// Each row is a taste centre (one of 256, shared with [`user_factors`], so queries live in the
/// items' space) plus noise of 0.8 times the centre's scale, plus the shared direction with a
/// weight near the row's own norm, rescaled to a log-normal norm with `sigma = 0.5`.
///
/// Calibrated on ALS factors of the standard matrix (100k users x 50k items x 5M, 64 factors,
/// attune's defaults; `ann_recall --source als --stats`): their item norms are
/// p10/p90/p99/max = 0.64/1.69/3.03/5.2 x the median, the mean item direction has length 0.69
/// (mean cosine to it) and the first principal direction carries 51% of the energy; these have
/// 0.53/1.9/3.2/6.7 (max ~11 at a million items), 0.69 and 48%. Even so they are slightly
/// easier for the index than real ALS factors (recall@10 at `ef = 40` on 50,000 items: 0.9994
/// against 0.9939), which is why docs/benchmarks.md reports trained ALS factors next to them.
pub fn item_factors(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    factor_rows(n, dim, seed, 0.5, 1.0)
}

/// User (query) factors in the same space as [`item_factors`] (same centres and shared
/// direction, weight 0.28), norms log-normal with `sigma = 0.35` (ALS users: norms
/// p10/p90/p99 = 0.61/1.57/2.12 x the median, mean direction length 0.27; these: 0.65/1.54/2.35
/// and 0.27).
pub fn user_factors(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    factor_rows(n, dim, seed, 0.35, 0.28)
}

fn factor_rows(n: usize, dim: usize, seed: u64, norm_sigma: f64, shared: f64) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    const N_CENTRES: usize = 256;
    let gauss = |rng: &mut ChaCha8Rng| {
        let (u, v): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random::<f64>());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ 0xFAC7);
    let centres: Vec<f64> = (0..N_CENTRES * dim).map(|_| gauss(&mut rng)).collect();
    let mut common: Vec<f64> = (0..dim).map(|_| gauss(&mut rng)).collect();
    let len = common.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-9);
    common.iter_mut().for_each(|v| *v /= len);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n * dim);
    let mut row = vec![0f64; dim];
    for _ in 0..n {
        let c = rng.random_range(0..N_CENTRES);
        for (f, r) in row.iter_mut().enumerate() {
            *r = centres[c * dim + f] + 0.8 * gauss(&mut rng);
        }
        let own = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        let weight = shared * own * (1.0 + 0.25 * gauss(&mut rng));
        for (r, u) in row.iter_mut().zip(&common) {
            *r += weight * u;
        }
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-9);
        let scale = (norm_sigma * gauss(&mut rng)).exp() * 0.1 / norm;
        out.extend(row.iter().map(|v| (v * scale) as f32));
    }
    out
}

/// Process CPU seconds (user + system) from `/proc/self/stat` (Linux; 0 elsewhere). On a
/// shared machine wall time depends on the neighbours, CPU time much less, so both are
/// reported.
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some(rest) = stat.rsplit(')').next() else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command name: state is field 3; utime and stime are fields 14 and 15.
    let ticks = |i: usize| {
        f.get(i - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(14) + ticks(15)) / clock_ticks_per_second()
}

/// `sysconf(_SC_CLK_TCK)` is 100 on every Linux this runs on; reading it would need libc.
fn clock_ticks_per_second() -> f64 {
    100.0
}

/// Peak resident set size of this process in MiB (`VmHWM` from `/proc/self/status`; 0 where
/// unavailable).
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Write `m` as little-endian `(u32 user, u32 item, f32 value)` records, the format the
/// comparison scripts load with `numpy.fromfile`, so another library trains on exactly the same
/// cells.
pub fn write_triples(m: &Csr, path: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for u in 0..m.n_rows() {
        let (cols, vals) = m.row(u);
        for (&i, &v) in cols.iter().zip(vals) {
            out.write_all(&(u as u32).to_le_bytes())?;
            out.write_all(&i.to_le_bytes())?;
            out.write_all(&v.to_le_bytes())?;
        }
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_has_exactly_the_requested_cells_and_is_deterministic() {
        let a = matrix(300, 200, 5_000);
        let b = matrix(300, 200, 5_000);
        assert_eq!(a.nnz(), 5_000);
        assert_eq!((a.n_rows(), a.n_cols()), (300, 200));
        assert_eq!(a.indices(), b.indices());
        assert_eq!(a.data(), b.data());
    }

    #[test]
    fn triples_round_trip_through_the_dump_format() {
        let m = matrix(50, 40, 300);
        let dir = std::env::temp_dir().join(format!("attune-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.bin");
        write_triples(&m, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(bytes.len(), m.nnz() * 12);
        let mut b = CsrBuilder::new();
        for rec in bytes.chunks_exact(12) {
            let u = u32::from_le_bytes(rec[0..4].try_into().unwrap());
            let i = u32::from_le_bytes(rec[4..8].try_into().unwrap());
            let v = f32::from_le_bytes(rec[8..12].try_into().unwrap());
            b.push(u, i, v).unwrap();
        }
        let back = b.build(50, 40).unwrap();
        assert_eq!(back.indices(), m.indices());
        assert_eq!(back.data(), m.data());
    }

    #[test]
    fn factor_generators_are_deterministic_and_spread_norms() {
        let a = item_factors(2_000, 16, 3);
        assert_eq!(a, item_factors(2_000, 16, 3));
        assert_ne!(a, item_factors(2_000, 16, 4));
        let mut norms: Vec<f32> = a
            .chunks_exact(16)
            .map(|r| r.iter().map(|v| v * v).sum::<f32>().sqrt())
            .collect();
        norms.sort_by(f32::total_cmp);
        let ratio = norms[1_979] / norms[1_000]; // p99 / median
        assert!((2.5..4.5).contains(&ratio), "p99/median = {ratio}");
        assert_eq!(user_factors(10, 16, 1).len(), 160);
    }

    #[test]
    fn process_measurements_see_memory_and_cpu_being_used() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let v: Vec<u64> = (0..2_000_000u64).collect();
        assert!(v.iter().sum::<u64>() > 0);
        // 16 MB were just touched.
        assert!(peak_rss_mib() > 16.0, "{}", peak_rss_mib());
        // Busy work must show up as CPU time (a reader stuck at 0 never gets there).
        let start = cpu_seconds();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut x = 0u64;
        while cpu_seconds() - start < 0.05 {
            for i in 0..100_000u64 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "cpu_seconds never advanced: {start} -> {}",
                cpu_seconds()
            );
        }
        assert!(std::hint::black_box(x) != 1);
    }
}
