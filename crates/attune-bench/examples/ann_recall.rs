//! Recall@10 and latency of the HNSW index against exact top-k, per beam width.
//!
//! ```text
//! cargo run --release -p attune-bench --example ann_recall -- \
//!     [--source synthetic|als] [--items N] [--users N] [--nnz N] [--factors F] \
//!     [--m M] [--ef-construction E] [--ef 10,20,40] [--queries Q] [--k K] [--stats] \
//!     [--unit] [--dump DIR | --load DIR] [--json]
//! ```
//!
//! `--dump DIR` writes the factors and the exact top-k of every query to `DIR` and exits
//! (`items.f32`, `queries.f32`: little-endian row-major `f32`; `truth.u32`: `k` ids per
//! query, best first; `meta.json`), so a peer library indexes the very same data
//! (`scripts/bench-ann-vs-hnswlib.sh`). `--load DIR` reads them instead of generating.
//! `--json` prints one JSON line (build wall and CPU time, peak RSS, and per `ef` the recall
//! and latency) instead of the table.
//!
//! `synthetic` (default) is [`attune_bench::item_factors`] / [`attune_bench::user_factors`];
//! `als` trains implicit ALS (attune's defaults, 64 factors) on the standard synthetic matrix
//! and indexes its item factors, with a seeded sample of its user factors as queries. `--unit`
//! scales every item to length 1 before anything else (the cosine case, where inner-product
//! search has no norm spread to overcome and graphs wired by inner product, like hnswlib's,
//! reach high recall: the case for comparing query latency at equal recall). Prints
//! the norm spread of the factors (`--stats`: also their mean direction and principal
//! directions), the build time and exact latency, and one table row per `ef`: mean and worst
//! recall@k and single-thread latency (mean and p99 over the queries; timed with `Instant`,
//! so the p99 includes the scheduler's preemptions on a shared machine).

use std::time::Instant;

use attune_bench::{cpu_seconds, item_factors, matrix, peak_rss_mib, user_factors, SEED};
use attune_core::model::ann::{Exact, HnswGraph, HnswParams};
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
    dump: Option<String>,
    load: Option<String>,
    json: bool,
    unit: bool,
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
        dump: None,
        load: None,
        json: false,
        unit: false,
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
            "--json" => a.json = true,
            "--unit" => a.unit = true,
            "--dump" => a.dump = Some(value()?),
            "--load" => a.load = Some(value()?),
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
    let (items, queries) = if let Some(dir) = &a.load {
        (
            read_f32(&format!("{dir}/items.f32")),
            read_f32(&format!("{dir}/queries.f32")),
        )
    } else if a.source == "als" {
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
    let mut items = items;
    if a.unit {
        for row in items.chunks_exact_mut(dim) {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            if norm > 0.0 {
                row.iter_mut().for_each(|v| *v /= norm);
            }
        }
    }
    eprintln!("{} factors in {:.1?}", a.source, t.elapsed());
    describe("items", &items, dim, a.stats);
    describe("queries", &queries, dim, a.stats);
    if let Some(dir) = &a.dump {
        dump(dir, &items, &queries, dim, a.k);
        return;
    }

    let params = HnswParams::default()
        .m(a.m)
        .ef_construction(a.ef_construction)
        .seed(SEED)
        .check()
        .expect("valid parameters");
    let rss_before = peak_rss_mib();
    let (t, cpu0) = (Instant::now(), cpu_seconds());
    let graph = HnswGraph::build(&items, dim, &params).expect("build");
    let build = t.elapsed();
    let build_cpu = cpu_seconds() - cpu0;
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
    let nq = queries.len() / dim;
    // Exact top-k once per query: read from the dump when loading, else computed here.
    let truth: Vec<u32> = match &a.load {
        Some(dir) => read_u32(&format!("{dir}/truth.u32")),
        None => exact_top(&exact, &queries, dim, a.k),
    };
    assert_eq!(
        truth.len(),
        nq * a.k,
        "truth.u32 does not match the queries and k"
    );

    // Exact latency on the same queries (single thread).
    let t = Instant::now();
    let (mut scores, mut out) = (Vec::new(), Vec::new());
    for q in queries.chunks_exact(dim).take(nq.min(100)) {
        exact.top_k_into(q, a.k, &[], &mut scores, &mut out);
    }
    let exact_ms = t.elapsed().as_secs_f64() * 1e3 / nq.min(100) as f64;
    eprintln!("exact: {exact_ms:.3} ms/query");
    if !a.json {
        println!(
            "| ef | recall@{k} mean | worst query | recall@{k} by score | worst by score | ms/query mean | p99 |",
            k = a.k
        );
        println!("|---|---|---|---|---|---|---|");
    }
    // Score of every query's k-th exact item: a result scoring at least this much (within
    // rounding) is as good as an exact one. Recall by id counts a tie with another item as a
    // miss; recall by score (ann-benchmarks' rule) does not.
    let kth: Vec<f32> = queries
        .chunks_exact(dim)
        .enumerate()
        .map(|(i, q)| {
            let id = truth[i * a.k + a.k - 1] as usize;
            attune_core::model::linalg::dot(q, &items[id * dim..(id + 1) * dim])
        })
        .collect();
    let mut rows = Vec::new();
    let mut shown = 0;
    for &ef in &a.ef {
        let mut recalls = Vec::with_capacity(nq);
        let mut by_score = Vec::with_capacity(nq);
        let mut lat: Vec<f64> = queries
            .chunks_exact(dim)
            .enumerate()
            .map(|(i, q)| {
                let t = Instant::now();
                let got = std::hint::black_box(index.search(q, a.k, &[], ef));
                let ms = t.elapsed().as_secs_f64() * 1e3;
                let want = &truth[i * a.k..(i + 1) * a.k];
                let hit = got.iter().filter(|(id, _)| want.contains(id)).count();
                recalls.push(hit as f64 / a.k as f64);
                let tol = 1e-5 * kth[i].abs() + 1e-30;
                let good = got.iter().filter(|(_, s)| *s >= kth[i] - tol).count();
                by_score.push(good.min(a.k) as f64 / a.k as f64);
                if hit == 0 && shown < 5 {
                    shown += 1;
                    let first = truth[i * a.k] as usize;
                    let top = attune_core::model::linalg::dot(q, &items[first * dim..(first + 1) * dim]);
                    let qn = q.iter().map(|v| v * v).sum::<f32>().sqrt();
                    let ties = items
                        .chunks_exact(dim)
                        .filter(|r| attune_core::model::linalg::dot(q, r) >= kth[i] - tol)
                        .count();
                    eprintln!(
                        "ef {ef}: query {i} recall 0 by id: |q| {qn:.4}, exact top {top:.5} / {}th {:.5} ({ties} items score >= the {}th), found {:.5} .. {:.5}",
                        a.k, kth[i], a.k,
                        got.first().map_or(f32::NAN, |g| g.1),
                        got.last().map_or(f32::NAN, |g| g.1)
                    );
                }
                ms
            })
            .collect();
        lat.sort_by(f64::total_cmp);
        let mean = lat.iter().sum::<f64>() / lat.len() as f64;
        let p99 = lat[((lat.len() - 1) as f64 * 0.99) as usize];
        let r_mean = recalls.iter().sum::<f64>() / nq as f64;
        let r_min = recalls.iter().copied().fold(1.0, f64::min);
        let zero = recalls.iter().filter(|&&r| r == 0.0).count();
        let s_mean = by_score.iter().sum::<f64>() / nq as f64;
        let s_min = by_score.iter().copied().fold(1.0, f64::min);
        if a.json {
            rows.push(format!(
                "{{\"ef\": {ef}, \"recall\": {r_mean:.5}, \"worst\": {r_min:.2}, \"zero_recall_queries\": {zero}, \"recall_by_score\": {s_mean:.5}, \"worst_by_score\": {s_min:.2}, \"ms_mean\": {mean:.5}, \"ms_p99\": {p99:.5}}}"
            ));
        } else {
            println!(
                "| {ef} | {r_mean:.4} | {r_min:.2} | {s_mean:.4} | {s_min:.2} | {mean:.3} | {p99:.3} |"
            );
        }
    }
    if a.json {
        println!(
            "{{\"library\": \"attune\", \"items\": {}, \"dim\": {dim}, \"queries\": {nq}, \"m\": {}, \"ef_construction\": {}, \"threads\": {}, \"build_wall_s\": {:.3}, \"build_cpu_s\": {build_cpu:.2}, \"peak_rss_mib\": {:.1}, \"rss_before_build_mib\": {rss_before:.1}, \"exact_ms\": {exact_ms:.3}, \"per_ef\": [{}]}}",
            items.len() / dim,
            a.m,
            a.ef_construction,
            rayon::current_num_threads(),
            build.as_secs_f64(),
            peak_rss_mib(),
            rows.join(", ")
        );
    }
}

/// Exact top-`k` ids of every query, `k` per query, best first.
fn exact_top(exact: &Exact<'_>, queries: &[f32], dim: usize, k: usize) -> Vec<u32> {
    let (mut scores, mut out) = (Vec::new(), Vec::new());
    let mut ids = Vec::with_capacity(queries.len() / dim * k);
    for q in queries.chunks_exact(dim) {
        exact.top_k_into(q, k, &[], &mut scores, &mut out);
        assert_eq!(out.len(), k, "fewer items than k");
        ids.extend(out.iter().map(|&(id, _)| id));
    }
    ids
}

fn dump(dir: &str, items: &[f32], queries: &[f32], dim: usize, k: usize) {
    std::fs::create_dir_all(dir).expect("create the dump directory");
    let exact = Exact::new(items, dim).expect("shape");
    let truth = exact_top(&exact, queries, dim, k);
    let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    std::fs::write(format!("{dir}/items.f32"), bytes(items)).expect("write items");
    std::fs::write(format!("{dir}/queries.f32"), bytes(queries)).expect("write queries");
    let t: Vec<u8> = truth.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(format!("{dir}/truth.u32"), t).expect("write truth");
    std::fs::write(
        format!("{dir}/meta.json"),
        format!(
            "{{\"items\": {}, \"queries\": {}, \"dim\": {dim}, \"k\": {k}}}\n",
            items.len() / dim,
            queries.len() / dim
        ),
    )
    .expect("write meta");
    eprintln!("dumped to {dir}");
}

fn read_f32(path: &str) -> Vec<f32> {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn read_u32(path: &str) -> Vec<u32> {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    b.chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
