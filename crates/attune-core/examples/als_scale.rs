//! Times implicit ALS (CG and optionally Cholesky) and batched top-10 on synthetic power-law
//! data. A stopgap until the criterion benches and the side-by-side run against `implicit`
//! (docs/benchmarks.md) land.
//!
//! ```text
//! cargo run --release -p attune-core --example als_scale -- USERS ITEMS NNZ FACTORS ITERATIONS [THREADS]
//! ```

use std::time::Instant;

use attune_core::model::{AlsParams, AlsSolver};
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
    let solvers: &[AlsSolver] = if factors <= 64 && nnz <= 1_000_000 {
        &[AlsSolver::Cg { steps: 3 }, AlsSolver::Cholesky]
    } else {
        &[AlsSolver::Cg { steps: 3 }]
    };
    for &solver in solvers {
        let params = AlsParams::new(factors)
            .alpha(1.0)
            .reg(0.01)
            .iterations(iterations)
            .solver(solver)
            .check()
            .unwrap();
        let t = Instant::now();
        let model = params.fit(&data).unwrap();
        let secs = t.elapsed().as_secs_f64();
        eprintln!(
            "als {solver:?} factors={factors} iterations={iterations} threads={threads}: {secs:.2} s ({:.3} s/iteration), loss {:.6e}",
            secs / iterations as f64,
            model.loss(&data)
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
