//! Times implicit ALS training and batched top-10 on the standard synthetic matrix, and prints
//! one JSON line per solver for `scripts/bench-als-vs-implicit.sh`, which runs the `implicit`
//! library on exactly the same cells in the same run.
//!
//! ```text
//! cargo run --release -p attune-bench --example als_scale -- \
//!     [--users N] [--items N] [--nnz N] [--factors F] [--iterations I] [--threads T] \
//!     [--alpha A] [--reg R] [--cholesky] [--dump PATH]
//! ```
//!
//! Confidence is `c = alpha·w` ([`Confidence::Proportional`], the `implicit` library's
//! convention, whose default alpha is 1), so both libraries minimize the same loss; the loss is
//! reported normalized the way `implicit` reports it (divided by the total confidence of
//! observed cells plus one per unobserved cell).

use std::time::Instant;

use attune_bench::{cpu_seconds, matrix, peak_rss_mib, write_triples};
use attune_core::model::{AlsParams, AlsSolver, Confidence};

struct Args {
    users: u32,
    items: u32,
    nnz: usize,
    factors: usize,
    iterations: usize,
    threads: usize,
    alpha: f32,
    reg: f32,
    cholesky: bool,
    dump: Option<String>,
    score_users: usize,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        users: 100_000,
        items: 50_000,
        nnz: 5_000_000,
        factors: 64,
        iterations: 15,
        threads: 2,
        alpha: 1.0,
        reg: 0.01,
        cholesky: false,
        dump: None,
        score_users: 10_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.replace('_', "");
        match flag.as_str() {
            "--users" => a.users = num(value()?).parse().map_err(|e| format!("--users: {e}"))?,
            "--items" => a.items = num(value()?).parse().map_err(|e| format!("--items: {e}"))?,
            "--nnz" => a.nnz = num(value()?).parse().map_err(|e| format!("--nnz: {e}"))?,
            "--factors" => a.factors = value()?.parse().map_err(|e| format!("--factors: {e}"))?,
            "--iterations" => {
                a.iterations = value()?.parse().map_err(|e| format!("--iterations: {e}"))?
            }
            "--threads" => a.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--alpha" => a.alpha = value()?.parse().map_err(|e| format!("--alpha: {e}"))?,
            "--reg" => a.reg = value()?.parse().map_err(|e| format!("--reg: {e}"))?,
            "--score-users" => {
                a.score_users = value()?
                    .parse()
                    .map_err(|e| format!("--score-users: {e}"))?
            }
            "--cholesky" => a.cholesky = true,
            "--dump" => a.dump = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn main() {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("als_scale: {e}");
            std::process::exit(2);
        }
    };
    rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads)
        .build_global()
        .expect("first pool");
    let t = Instant::now();
    let data = matrix(a.users, a.items, a.nnz);
    eprintln!(
        "data: {} x {} nnz={} in {:.2?}",
        data.n_rows(),
        data.n_cols(),
        data.nnz(),
        t.elapsed()
    );
    if let Some(path) = &a.dump {
        write_triples(&data, std::path::Path::new(path)).expect("write the dump");
        eprintln!("wrote {path}");
    }
    let normalizer = data
        .data()
        .iter()
        .map(|&v| f64::from(a.alpha * v))
        .sum::<f64>()
        + (data.n_rows() * data.n_cols() - data.nnz()) as f64;
    let solver = if a.cholesky {
        AlsSolver::Cholesky
    } else {
        AlsSolver::Cg { steps: 3 }
    };
    let params = AlsParams::new(a.factors)
        .alpha(a.alpha)
        .confidence(Confidence::Proportional)
        .reg(a.reg)
        .iterations(a.iterations)
        .solver(solver)
        .check()
        .expect("valid parameters");
    let rss_before = peak_rss_mib();
    let (t, cpu0) = (Instant::now(), cpu_seconds());
    let model = params.fit(&data).expect("fit");
    let wall = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let loss = model.loss(&data) / normalizer;
    let users: Vec<u32> = (0..(a.score_users as u32).min(a.users)).collect();
    let (t, cpu0) = (Instant::now(), cpu_seconds());
    let lists = model.recommend_batch(&users, 10, &data);
    let score_secs = t.elapsed().as_secs_f64();
    let score_cpu = cpu_seconds() - cpu0;
    assert_eq!(lists.len(), users.len());
    // The single-user path (gemv + top-k per user) on the same users: the batch lists must
    // equal it bit for bit.
    let (t, cpu0) = (Instant::now(), cpu_seconds());
    let exact = attune_core::model::batch::top_k_dot_exact(
        &model.all_user_factors()[..users.len() * a.factors],
        model.all_item_factors(),
        None,
        a.factors,
        10,
        |r| data.row(users[r] as usize).0,
    );
    let exact_secs = t.elapsed().as_secs_f64();
    let exact_cpu = cpu_seconds() - cpu0;
    let identical = lists.iter().zip(&exact).all(|(a, b)| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.0 == y.0 && x.1.to_bits() == y.1.to_bits())
    });
    println!(
        "{}",
        serde_json::json!({
            "library": "attune",
            "solver": format!("{solver:?}"),
            "users": a.users, "items": a.items, "nnz": data.nnz(),
            "factors": a.factors, "iterations": a.iterations, "threads": a.threads,
            "alpha": a.alpha, "reg": a.reg,
            "train_wall_s": wall, "train_cpu_s": cpu, "loss": loss,
            "peak_rss_mib": peak_rss_mib(), "rss_before_fit_mib": rss_before,
            "top10_users": users.len(), "top10_wall_s": score_secs, "top10_cpu_s": score_cpu,
            "exact_top10_wall_s": exact_secs, "exact_top10_cpu_s": exact_cpu,
            "top10_identical_to_exact": identical,
        })
    );
}
