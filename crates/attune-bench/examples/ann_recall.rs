//! Recall@10 and latency of the HNSW index against exact top-k, per beam width.
//!
//! ```text
//! cargo run --release -p attune-bench --example ann_recall -- \
//!     [--source synthetic|als] [--items N] [--users N] [--nnz N] [--factors F] \
//!     [--m M] [--ef-construction E] [--ef 10,20,40] [--queries Q] [--k K] [--stats]
//! ```
//!
//! `synthetic` (default) is [`attune_bench::item_factors`] / [`attune_bench::user_factors`];
//! `als` trains implicit ALS (attune's defaults, 64 factors) on the standard synthetic matrix
//! and indexes its item factors, with a seeded sample of its user factors as queries. Prints
//! the norm spread of the factors (`--stats`: also their mean direction and principal
//! directions), the build time and exact latency, and one table row per `ef`: mean and worst
//! recall@k and single-thread latency (mean and p99 over the queries; timed with `Instant`,
//! so the p99 includes the scheduler's preemptions on a shared machine).

use std::time::Instant;

use attune_bench::{item_factors, matrix, user_factors, SEED};
use attune_core::model::ann::{recall_at_k, Exact, HnswGraph, HnswParams};
use attune_core::model::AlsParams;
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

struct Args {
    source: String,
    items: usize,
    users: usize,
    nnz: usize,
    factors: usize,
    m: usize,
    ef_construction: usize,
    ef: Vec<usize>,
    queries: usize,
    k: usize,
    stats: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        source: "synthetic".into(),
        items: 1_000_000,
        users: 100_000,
        nnz: 5_000_000,
        factors: 64,
        m: 16,
        ef_construction: 100,
        ef: vec![10, 20, 40, 80, 160],
        queries: 1_000,
        k: 10,
        stats: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String, f: &str| {
            v.replace('_', "")
                .parse::<usize>()
                .map_err(|e| format!("{f}: {e}"))
        };
        match flag.as_str() {
            "--source" => a.source = value()?,
            "--items" => a.items = num(value()?, "--items")?,
            "--users" => a.users = num(value()?, "--users")?,
            "--nnz" => a.nnz = num(value()?, "--nnz")?,
            "--factors" => a.factors = num(value()?, "--factors")?,
            "--m" => a.m = num(value()?, "--m")?,
            "--ef-construction" => a.ef_construction = num(value()?, "--ef-construction")?,
            "--queries" => a.queries = num(value()?, "--queries")?,
            "--k" => a.k = num(value()?, "--k")?,
            "--stats" => a.stats = true,
            "--ef" => {
                a.ef = value()?
                    .split(',')
                    .map(|v| num(v.to_string(), "--ef"))
                    .collect::<Result<_, _>>()?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.source != "synthetic" && a.source != "als" {
        return Err(format!(
            "--source must be synthetic or als, not {}",
            a.source
        ));
    }
    Ok(a)
}

/// How hard the factors are for inner-product search: norm quantiles relative to the median,
/// and with `stats`, the length of the mean direction (mean cosine to it) and the share of
/// the energy on the first principal directions (the numbers `attune_bench::item_factors` is
/// calibrated on).
fn describe(name: &str, rows: &[f32], dim: usize, stats: bool) {
    let mut n: Vec<f64> = rows
        .chunks_exact(dim)
        .map(|r| {
            r.iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    if stats {
        let count = n.len() as f64;
        let mut mean = vec![0f64; dim];
        let mut second = vec![0f64; dim * dim];
        for (r, &len) in rows.chunks_exact(dim).zip(&n) {
            for i in 0..dim {
                mean[i] += f64::from(r[i]) / len.max(1e-30) / count;
                for j in 0..dim {
                    second[i * dim + j] += f64::from(r[i]) * f64::from(r[j]);
                }
            }
        }
        let mean_len = mean.iter().map(|v| v * v).sum::<f64>().sqrt();
        let trace: f64 = (0..dim).map(|i| second[i * dim + i]).sum();
        let mut shares = Vec::new();
        for _ in 0..3 {
            // Power iteration, then deflate.
            let mut v = vec![1.0f64; dim];
            let mut lambda = 0.0;
            for _ in 0..200 {
                let w: Vec<f64> = (0..dim)
                    .map(|i| (0..dim).map(|j| second[i * dim + j] * v[j]).sum())
                    .collect();
                lambda = w.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-300);
                v = w.iter().map(|x| x / lambda).collect();
            }
            shares.push(format!("{:.3}", lambda / trace));
            for i in 0..dim {
                for j in 0..dim {
                    second[i * dim + j] -= lambda * v[i] * v[j];
                }
            }
        }
        eprintln!(
            "{name}: mean direction length {mean_len:.3}; energy on the first principal directions {}",
            shares.join(", ")
        );
    }
    n.sort_by(f64::total_cmp);
    let q = |p: f64| n[((n.len() - 1) as f64 * p) as usize];
    let med = q(0.5);
    eprintln!(
        "{name}: {} rows, norm median {med:.4}; p1 {:.2} p10 {:.2} p90 {:.2} p99 {:.2} max {:.2} (x median)",
        n.len(),
        q(0.01) / med,
        q(0.1) / med,
        q(0.9) / med,
        q(0.99) / med,
        q(1.0) / med
    );
}

fn main() {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ann_recall: {e}");
            std::process::exit(2);
        }
    };
    let dim = a.factors;
    let t = Instant::now();
    let (items, queries) = if a.source == "als" {
        let data = matrix(a.users as u32, a.items as u32, a.nnz);
        let model = AlsParams::new(dim)
            .iterations(10)
            .seed(SEED)
            .check()
            .expect("valid")
            .fit(&data)
            .expect("fit");
        let mut rng = ChaCha8Rng::seed_from_u64(SEED);
        let picked = sample(&mut rng, a.users, a.queries.min(a.users));
        let mut q = Vec::with_capacity(a.queries * dim);
        for u in picked.iter() {
            q.extend_from_slice(model.user_factors(u as u32));
        }
        (model.all_item_factors().to_vec(), q)
    } else {
        (
            item_factors(a.items, dim, SEED),
            user_factors(a.queries, dim, SEED + 1),
        )
    };
    eprintln!("{} factors in {:.1?}", a.source, t.elapsed());
    describe("items", &items, dim, a.stats);
    describe("queries", &queries, dim, a.stats);

    let params = HnswParams::default()
        .m(a.m)
        .ef_construction(a.ef_construction)
        .seed(SEED)
        .check()
        .expect("valid parameters");
    let t = Instant::now();
    let graph = HnswGraph::build(&items, dim, &params).expect("build");
    let build = t.elapsed();
    eprintln!(
        "build: {} items x {dim}, m {} ef_construction {}: {:.1?} on {} threads (top level {})",
        items.len() / dim,
        a.m,
        a.ef_construction,
        build,
        rayon::current_num_threads(),
        graph.top_level()
    );
    let index = graph.index(&items).expect("shape");
    let exact = Exact::new(&items, dim).expect("shape");

    // Exact latency on the same queries (single thread).
    let nq = queries.len() / dim;
    let t = Instant::now();
    let (mut scores, mut out) = (Vec::new(), Vec::new());
    for q in queries.chunks_exact(dim).take(nq.min(100)) {
        exact.top_k_into(q, a.k, &[], &mut scores, &mut out);
    }
    let exact_ms = t.elapsed().as_secs_f64() * 1e3 / nq.min(100) as f64;
    eprintln!("exact: {exact_ms:.3} ms/query");
    println!(
        "| ef | recall@{} mean | worst query | ms/query mean | p99 |",
        a.k
    );
    println!("|---|---|---|---|---|");
    for &ef in &a.ef {
        let r = recall_at_k(&index, &exact, &queries, a.k, ef);
        let mut lat: Vec<f64> = queries
            .chunks_exact(dim)
            .map(|q| {
                let t = Instant::now();
                std::hint::black_box(index.search(q, a.k, &[], ef));
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        lat.sort_by(f64::total_cmp);
        let mean = lat.iter().sum::<f64>() / lat.len() as f64;
        let p99 = lat[((lat.len() - 1) as f64 * 0.99) as usize];
        println!(
            "| {ef} | {:.4} | {:.2} | {mean:.3} | {p99:.3} |",
            r.mean, r.min
        );
    }
}
