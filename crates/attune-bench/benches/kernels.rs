//! Criterion micro-benchmarks of the numeric kernels on the standard synthetic matrices.
//!
//! `cargo bench -p attune-bench --bench kernels` (all), or with a filter such as `-- topk`.
//! Results and the machine they were taken on are in docs/benchmarks.md. Threads: rayon's
//! default pool (all cores) unless `RAYON_NUM_THREADS` is set.

use std::hint::black_box;

use attune_bench::matrix;
use attune_core::model::half_scan::{exact_top_k_from_scan, HalfFactors};
use attune_core::model::{
    batch, topk, AlsModel, AlsParams, Confidence, EaseParams, FoldIn, ItemKnnParams, Scorer,
    UserRepr,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Random factors in the range trained models have (|x| ≲ 0.3).
fn factors(n: usize, k: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n * k)
        .map(|_| rng.random::<f32>() * 0.6 - 0.3)
        .collect()
}

/// Exact top-10 of one user over 50,000 items x 64 factors: score all, select with a bounded
/// heap, excluding ~50 seen items. The serving path's per-request cost without a cache.
fn topk_one_user(c: &mut Criterion) {
    let (n_items, k) = (50_000, 64);
    let model = AlsModel::new(k, 1.0, 0.01, factors(1, k, 1), factors(n_items, k, 2));
    let user = model.user(0);
    let mut seen: Vec<u32> = (0..50u32).map(|i| i * 997 % n_items as u32).collect();
    seen.sort_unstable();
    let mut scores = vec![0f32; n_items];
    let mut out = Vec::with_capacity(10);
    c.bench_function("topk/exact_top10_one_user_50k_items_64f", |b| {
        b.iter(|| {
            model.score_all_into(black_box(&user), &mut scores);
            topk::top_k_into(&scores, 10, &seen, &mut out);
            black_box(&out);
        })
    });
    // The serving path: the f16 scan and the exactly rescored candidates (same answer).
    let half = HalfFactors::new(model.all_item_factors(), k).expect("factors fit f16");
    let UserRepr::Dense(x) = &user else {
        unreachable!("ALS users are dense")
    };
    let admit = vec![true; n_items];
    let mut scratch = Vec::new();
    let top10_half = |scores: &mut Vec<f32>, scratch: &mut Vec<f32>, out: &mut Vec<(u32, f32)>| {
        half.scan(black_box(x), scores);
        exact_top_k_from_scan(
            &half,
            model.all_item_factors(),
            x,
            scores,
            &admit,
            10,
            &seen,
            scratch,
            out,
        );
    };
    c.bench_function("topk/half_scan_top10_one_user_50k_items_64f", |b| {
        b.iter(|| {
            top10_half(&mut scores, &mut scratch, &mut out);
            black_box(&out);
        })
    });
    // Both again with the factors evicted from the caches before each query (a 64 MB sweep,
    // not timed): what an uncached request meets on a loaded server.
    let mut sweep = vec![0u8; 64 << 20];
    let mut evict = move || {
        for b in sweep.iter_mut().step_by(64) {
            *b = b.wrapping_add(1);
        }
        black_box(&sweep);
    };
    c.bench_function("topk/exact_top10_cold_cache_50k_items_64f", |b| {
        b.iter_batched(
            &mut evict,
            |()| {
                model.score_all_into(black_box(&user), &mut scores);
                topk::top_k_into(&scores, 10, &seen, &mut out);
                black_box(&out);
            },
            BatchSize::PerIteration,
        )
    });
    c.bench_function("topk/half_scan_top10_cold_cache_50k_items_64f", |b| {
        b.iter_batched(
            &mut evict,
            |()| {
                top10_half(&mut scores, &mut scratch, &mut out);
                black_box(&out);
            },
            BatchSize::PerIteration,
        )
    });
}

/// Top-10 for 1,000 users over 50,000 items x 64 factors, ~50 seen items each: the batch path
/// (`model::batch`: register-tiled GEMM, fused selection, exact rescoring) against the
/// single-user path it equals (gemv + top-k per user), both over rayon's pool.
fn topk_batch(c: &mut Criterion) {
    let (n_users, n_items, k) = (1_000, 50_000, 64);
    let users = factors(n_users, k, 3);
    let items = factors(n_items, k, 2);
    let seen: Vec<Vec<u32>> = (0..n_users as u32)
        .map(|u| {
            let mut s: Vec<u32> = (0..50u32)
                .map(|i| (i * 997 + u * 31) % n_items as u32)
                .collect();
            s.sort_unstable();
            s.dedup();
            s
        })
        .collect();
    let mut group = c.benchmark_group("topk");
    group.sample_size(10);
    group.bench_function("batch_top10_1k_users_50k_items_64f", |b| {
        b.iter(|| {
            black_box(batch::top_k_dot_batch(&users, &items, None, k, 10, |r| {
                &seen[r]
            }))
        })
    });
    group.bench_function("exact_top10_1k_users_50k_items_64f", |b| {
        b.iter(|| {
            black_box(batch::top_k_dot_exact(&users, &items, None, k, 10, |r| {
                &seen[r]
            }))
        })
    });
    group.finish();
}

/// Folding a new user in from 20 interactions (one k x k solve): the real-time update path.
fn als_fold_in(c: &mut Criterion) {
    let (n_items, k) = (50_000, 64);
    let model = AlsModel::new(k, 10.0, 0.01, factors(1, k, 1), factors(n_items, k, 2))
        .with_confidence(Confidence::Linear);
    let history: Vec<(u32, f32)> = (0..20u32).map(|i| (i * 2_411 % 50_000, 1.0)).collect();
    c.bench_function("als/fold_in_20_interactions_64f", |b| {
        b.iter(|| black_box(model.fold_in(black_box(&history))))
    });
}

/// One full ALS iteration (users then items, CG with 3 steps) on 20k x 10k x 1M, 64 factors.
fn als_iteration(c: &mut Criterion) {
    let data = matrix(20_000, 10_000, 1_000_000);
    let params = AlsParams::new(64).alpha(1.0).reg(0.01).check().unwrap();
    let mut group = c.benchmark_group("als");
    group.sample_size(10);
    group.bench_function("one_iteration_20k_users_10k_items_1M_64f", |b| {
        b.iter_batched(
            || params.trainer(&data).unwrap(),
            |mut t| {
                t.step();
                t
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// EASE on a MovieLens-sized catalog (2,000 items): Gram matrix and one dense inverse.
fn ease_fit(c: &mut Criterion) {
    let data = matrix(6_000, 2_000, 200_000);
    let params = EaseParams::default().check().unwrap();
    let mut group = c.benchmark_group("ease");
    group.sample_size(10);
    group.bench_function("fit_6k_users_2k_items_200k", |b| {
        b.iter(|| black_box(params.fit(&data).unwrap()))
    });
    group.finish();
}

/// Item-kNN similarity (cosine with shrinkage, top-100 neighbours) on 20k x 10k x 1M.
fn item_knn_fit(c: &mut Criterion) {
    let data = matrix(20_000, 10_000, 1_000_000);
    let params = ItemKnnParams::default().check().unwrap();
    let mut group = c.benchmark_group("item_knn");
    group.sample_size(10);
    group.bench_function("fit_20k_users_10k_items_1M", |b| {
        b.iter(|| black_box(params.fit(&data)))
    });
    group.finish();
}

criterion_group!(
    kernels,
    topk_one_user,
    topk_batch,
    als_fold_in,
    als_iteration,
    ease_fit,
    item_knn_fit
);
criterion_main!(kernels);
