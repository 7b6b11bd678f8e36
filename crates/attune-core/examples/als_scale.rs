//! Times implicit ALS (CG and optionally Cholesky) and batched top-10 on synthetic power-law
//! data. A stopgap until the criterion benches and the side-by-side run against `implicit`
//! (docs/benchmarks.md) land.
//!
//! ```text
//! cargo run --release -p attune-core --example als_scale -- USERS ITEMS NNZ FACTORS ITERATIONS [THREADS]
//! ```
//!
//! With `ALS_SCALE_DUMP=path` the matrix is also written as little-endian `(u32 user, u32 item,
//! f32 value)` records, so another library can be timed on exactly the same data. Confidence is
//! `c = alpha·w` with `alpha = 1` (the `implicit` library's convention and default), and the loss
//! is printed both raw and normalized as `implicit` reports it.

use std::time::Instant;

use attune_core::model::{AlsParams, AlsSolver, Confidence};
use attune_core::sparse::CsrBuilder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Zipf(0.9) item popularity over a shuffled id space, log-normal-ish user activity.
fn synthetic(n_users: usize, n_items: usize, nnz: usize, seed: u64) -> attune_core::sparse::Csr {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ids: Vec<u32> = (0..n_items as u32).collect();
    for i in (1..ids.len()).rev() {
        ids.swap(i, rng.random_range(0..=i));
    }
    let mut cdf: Vec<f64> = (0..n_items)
        .map(|r| 1.0 / ((r + 1) as f64).powf(0.9))
        .collect();
    for r in 1..n_items {
        cdf[r] += cdf[r - 1];
    }
    let total = cdf[n_items - 1];
    let activity: Vec<f64> = (0..n_users)
        .map(|_| (rng.random::<f64>() * 2.0 - 1.0).exp())
        .collect();
    let act_total: f64 = activity.iter().sum();
    let mut b = CsrBuilder::with_capacity(nnz);
    for (u, a) in activity.iter().enumerate() {
        let d = ((nnz as f64 * a / act_total).round() as usize).clamp(1, n_items / 2);
        for _ in 0..d {
            let x = rng.random::<f64>() * total;
            let r = cdf.partition_point(|&c| c < x).min(n_items - 1);
            b.push(u as u32, ids[r], 1.0).unwrap();
        }
    }
    b.build(n_users, n_items).unwrap()
}

/// Process CPU seconds (user + system) from `/proc/self/stat` (Linux; 0 elsewhere), so the
/// comparison can report CPU time on a shared machine.
fn cpu_seconds() -> f64 {
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
    (ticks(14) + ticks(15)) / 100.0
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numeric arguments"))
        .collect();
    let arg = |i: usize, d: usize| args.get(i).copied().unwrap_or(d);
    let (n_users, n_items, nnz, factors, iterations) = (
        arg(0, 20_000),
        arg(1, 10_000),
        arg(2, 1_000_000),
        arg(3, 64),
        arg(4, 5),
    );
    let threads = arg(5, 2);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .unwrap();
    let t = Instant::now();
    let data = synthetic(n_users, n_items, nnz, 42);
    eprintln!(
        "data: {} x {} nnz={} in {:.2?}",
        data.n_rows(),
        data.n_cols(),
        data.nnz(),
        t.elapsed()
    );
    if let Ok(path) = std::env::var("ALS_SCALE_DUMP") {
        let mut bytes = Vec::with_capacity(data.nnz() * 12);
        for u in 0..data.n_rows() {
            let (cols, vals) = data.row(u);
            for (&i, &v) in cols.iter().zip(vals) {
                bytes.extend_from_slice(&(u as u32).to_le_bytes());
                bytes.extend_from_slice(&i.to_le_bytes());
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
        std::fs::write(&path, bytes).expect("write the dump");
        eprintln!("wrote {path}");
    }
    // implicit's normalizer: total confidence of observed cells plus one per unobserved cell.
    let normalizer = data.data().iter().map(|&v| f64::from(v)).sum::<f64>()
        + (data.n_rows() * data.n_cols() - data.nnz()) as f64;
    let solvers: &[AlsSolver] = if factors <= 64 && nnz <= 1_000_000 {
        &[AlsSolver::Cg { steps: 3 }, AlsSolver::Cholesky]
    } else {
        &[AlsSolver::Cg { steps: 3 }]
    };
    for &solver in solvers {
        let params = AlsParams::new(factors)
            .alpha(1.0)
            .confidence(Confidence::Proportional)
            .reg(0.01)
            .iterations(iterations)
            .solver(solver)
            .check()
            .unwrap();
        let (t, cpu0) = (Instant::now(), cpu_seconds());
        let model = params.fit(&data).unwrap();
        let secs = t.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu0;
        let loss = model.loss(&data);
        eprintln!(
            "als {solver:?} factors={factors} iterations={iterations} threads={threads}: {secs:.2} s wall ({:.3} s/iteration), {cpu:.2} s cpu, loss {loss:.6e} (implicit-normalized {:.6})",
            secs / iterations as f64,
            loss / normalizer
        );
        let users: Vec<u32> = (0..n_users.min(10_000) as u32).collect();
        let t = Instant::now();
        let lists = model.recommend_batch(&users, 10, &data);
        eprintln!(
            "top-10 for {} users: {:.2?} ({} lists)",
            users.len(),
            t.elapsed(),
            lists.len()
        );
    }
}
