//! Approximate versus exact top-10 on a large catalog: per-query latency of the HNSW index
//! (`model::ann`) at several beam widths next to exact scoring, with recall@10 printed.
//!
//! `cargo bench -p attune-bench --bench ann` (1,000,000 items x 64 factors). The graph is built
//! once per run, before anything is measured, and its build time and the recall@10 of every
//! measured `ef` over 1,000 queries are printed to stderr first. `ATTUNE_BENCH_ANN_ITEMS=N`
//! runs on `N` items instead (quick checks). Results are in docs/benchmarks.md.
//!
//! Data: [`attune_bench::item_factors`] / [`attune_bench::user_factors`] (seeded, clustered,
//! log-normal norms and a shared direction calibrated on trained ALS factors; see their docs
//! for why not isotropic Gaussians). Every query excludes 50 "seen" items, as serving does.
//! Queries are cycled, so a sample averages over many users rather than timing one warm
//! path.

use std::hint::black_box;
use std::time::Instant;

use attune_bench::{item_factors, user_factors, SEED};
use attune_core::model::ann::{recall_at_k, Exact, HnswGraph, HnswParams, SearchScratch};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

const DIM: usize = 64;
const N_QUERIES: usize = 1_000;
const K: usize = 10;
/// Beam widths measured (the table in docs/benchmarks.md).
const EFS: [usize; 5] = [10, 20, 40, 80, 160];

/// 1,000,000, or `ATTUNE_BENCH_ANN_ITEMS`; 20,000 when run by `cargo test` (no `--bench`
/// flag: criterion then runs every benchmark once as a smoke test, which must not spend minutes
/// building a million-item graph).
fn n_items() -> usize {
    if !std::env::args().any(|a| a == "--bench") {
        return 20_000;
    }
    std::env::var("ATTUNE_BENCH_ANN_ITEMS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(1_000_000)
}

/// 50 seen items per query, sorted (spread over the catalog like a real history).
fn seen(q: usize, n: usize) -> Vec<u32> {
    let mut s: Vec<u32> = (0..50u64)
        .map(|i| ((q as u64 * 7_919 + i * 104_729) % n as u64) as u32)
        .collect();
    s.sort_unstable();
    s.dedup();
    s
}

fn ann(c: &mut Criterion) {
    let n = n_items();
    let label = if n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else {
        format!("{}k", n / 1_000)
    };
    let items = item_factors(n, DIM, SEED);
    let queries = user_factors(N_QUERIES, DIM, SEED + 1);
    let params = HnswParams::default().seed(SEED).check().expect("defaults");
    let t = Instant::now();
    let graph = HnswGraph::build(&items, DIM, &params).expect("build");
    eprintln!(
        "ann: built {n} x {DIM} (m {}, ef_construction {}) in {:.1?} on {} threads",
        params.m(),
        params.ef_construction(),
        t.elapsed(),
        rayon::current_num_threads()
    );
    let index = graph.index(&items).expect("shape");
    let exact = Exact::new(&items, DIM).expect("shape");
    for ef in EFS {
        let r = recall_at_k(&index, &exact, &queries, K, ef);
        eprintln!(
            "ann: ef={ef}: recall@{K} {:.4} (worst query {:.2}) over {} queries",
            r.mean, r.min, r.n_queries
        );
    }

    let seen: Vec<Vec<u32>> = (0..N_QUERIES).map(|q| seen(q, n)).collect();
    let mut group = c.benchmark_group("ann");
    let (mut scratch, mut out) = (SearchScratch::default(), Vec::with_capacity(K));
    for ef in EFS {
        let mut q = 0;
        group.bench_with_input(
            BenchmarkId::new(format!("hnsw_top10_{label}_items_64f"), format!("ef={ef}")),
            &ef,
            |b, &ef| {
                b.iter(|| {
                    let i = q % N_QUERIES;
                    q += 1;
                    let query = &queries[i * DIM..(i + 1) * DIM];
                    index.search_with(&mut scratch, black_box(query), K, &seen[i], ef, &mut out);
                    black_box(&out);
                })
            },
        );
    }
    group.sample_size(20);
    let (mut scores, mut q) = (Vec::new(), 0);
    group.bench_function(format!("exact_top10_{label}_items_64f"), |b| {
        b.iter(|| {
            let i = q % N_QUERIES;
            q += 1;
            let query = &queries[i * DIM..(i + 1) * DIM];
            exact.top_k_into(black_box(query), K, &seen[i], &mut scores, &mut out);
            black_box(&out);
        })
    });
    group.finish();
}

criterion_group!(benches, ann);
criterion_main!(benches);
