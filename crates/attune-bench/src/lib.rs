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
    fn process_measurements_are_positive_on_linux() {
        let v: Vec<u64> = (0..2_000_000u64).collect();
        assert!(v.iter().sum::<u64>() > 0);
        if cfg!(target_os = "linux") {
            assert!(peak_rss_mib() > 1.0);
            assert!(cpu_seconds() >= 0.0);
        }
    }
}
