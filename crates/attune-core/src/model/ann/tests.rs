//! The index against the exact oracle: recall, exclusion, determinism across thread counts,
//! edge sizes, and loading corrupt or mismatched parts.

use std::borrow::Cow;

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::model::parts::{Array, ArrayData, Param, Parts, PartsError};

/// Clustered factors with strongly varying norms, the shape that makes MIPS hard: `n` rows of
/// `dim` around 40 cluster centres (the same centres for every `seed`, so items and queries
/// share one space, as ALS items and users do), each row scaled by a log-normal norm (sigma
/// 0.6: the largest norms are ~10x the median).
fn clustered(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let gauss = |rng: &mut ChaCha8Rng| {
        let (u, v): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random::<f64>());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(0xC1A5);
    let centres: Vec<f64> = (0..40 * dim).map(|_| gauss(&mut rng)).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let c = rng.random_range(0..40);
        let row: Vec<f64> = (0..dim)
            .map(|f| centres[c * dim + f] + 0.6 * gauss(&mut rng))
            .collect();
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-9);
        let scale = (0.6 * gauss(&mut rng)).exp() * 0.1 / norm;
        out.extend(row.iter().map(|v| (v * scale) as f32));
    }
    out
}

fn params(m: usize, ef_construction: usize, seed: u64) -> HnswValidParams {
    HnswParams::default()
        .m(m)
        .ef_construction(ef_construction)
        .seed(seed)
        .check()
        .unwrap()
}

fn ids(v: &[(u32, f32)]) -> Vec<u32> {
    v.iter().map(|e| e.0).collect()
}

#[test]
fn recall_at_10_is_at_least_095_on_20k_items() {
    let (n, dim) = (20_000, 32);
    let items = clustered(n, dim, 1);
    let queries = clustered(200, dim, 2);
    let g = HnswGraph::build(&items, dim, &params(12, 64, 7)).unwrap();
    let index = g.index(&items).unwrap();
    let exact = Exact::new(&items, dim).unwrap();
    let r = recall_at_k(&index, &exact, &queries, 10, 64);
    assert_eq!(r.n_queries, 200);
    assert!(
        r.mean >= 0.95,
        "recall@10 = {:.4} (min {:.2})",
        r.mean,
        r.min
    );
    // A wider beam never hurts on average.
    let wide = recall_at_k(&index, &exact, &queries, 10, 256);
    assert!(wide.mean >= r.mean, "{} < {}", wide.mean, r.mean);
}

#[test]
fn a_graph_attached_to_model_parts_detaches_intact() {
    let items = clustered(1_500, 8, 21);
    let g = HnswGraph::build(&items, 8, &params(6, 30, 5)).unwrap();
    let model = Parts::new("als")
        .param("factors", Param::Int(8))
        .f32_matrix("item_factors", 1_500, 8, &items);
    let mut both = g.attach_to(model);
    assert_eq!(both.kind, "als");
    assert!(both.params.contains_key("ann.m") && both.arrays.contains_key("ann.neighbours"));
    let graph = HnswGraph::detach_from(&mut both).expect("the graph is there");
    // The model's own names are untouched and the graph's are gone from it.
    assert_eq!(
        both.params.keys().collect::<Vec<_>>(),
        vec!["factors"],
        "only the model's parameters remain"
    );
    assert_eq!(both.arrays.keys().collect::<Vec<_>>(), vec!["item_factors"]);
    assert_eq!(HnswGraph::from_parts(graph, &items).unwrap(), g);
    assert!(HnswGraph::detach_from(&mut both).is_none());
}

#[test]
fn a_filter_predicate_returns_only_kept_items_in_exact_order() {
    let (n, dim) = (3_000, 16);
    let items = clustered(n, dim, 13);
    let g = HnswGraph::build(&items, dim, &params(12, 80, 2)).unwrap();
    let index = g.index(&items).unwrap();
    let exact = Exact::new(&items, dim).unwrap();
    // Keep two items in three (an availability filter); exclude the rest for the oracle.
    let dropped: Vec<u32> = (0..n as u32).filter(|i| i % 3 == 0).collect();
    let mut scratch = SearchScratch::default();
    let mut out = Vec::new();
    for q in clustered(20, dim, 14).chunks(dim) {
        index.search_where(&mut scratch, q, 10, |i| i % 3 != 0, 400, &mut out);
        assert_eq!(out.len(), 10);
        assert!(out.iter().all(|e| e.0 % 3 != 0));
        assert_eq!(ids(&out), ids(&exact.top_k(q, 10, &dropped)));
    }
}

#[test]
fn seen_items_are_never_returned_and_the_rest_is_exact() {
    let (n, dim) = (3_000, 16);
    let items = clustered(n, dim, 3);
    let g = HnswGraph::build(&items, dim, &params(12, 80, 1)).unwrap();
    let index = g.index(&items).unwrap();
    let exact = Exact::new(&items, dim).unwrap();
    for q in clustered(20, dim, 4).chunks(dim) {
        // Exclude the user's exact top 5 plus every 7th item.
        let mut seen: Vec<u32> = ids(&exact.top_k(q, 5, &[]));
        seen.extend((0..n as u32).step_by(7));
        seen.sort_unstable();
        seen.dedup();
        let got = index.search(q, 10, &seen, 400);
        assert_eq!(got.len(), 10);
        assert!(got.iter().all(|e| seen.binary_search(&e.0).is_err()));
        assert_eq!(ids(&got), ids(&exact.top_k(q, 10, &seen)));
        assert!(
            got.windows(2).all(|w| w[0].1 >= w[1].1),
            "sorted best first"
        );
    }
}

#[test]
fn same_seed_gives_the_same_graph_for_any_thread_count() {
    let (n, dim) = (4_000, 16);
    let items = clustered(n, dim, 5);
    let p = params(8, 40, 99);
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| HnswGraph::build(&items, dim, &p).unwrap())
    };
    let one = on(1);
    let three = on(3);
    assert_eq!(one, three);
    assert_eq!(
        one.to_parts(),
        HnswGraph::build(&items, dim, &p).unwrap().to_parts()
    );
    let q = &clustered(1, dim, 6);
    let (a, b) = (one.index(&items).unwrap(), three.index(&items).unwrap());
    assert_eq!(a.search(q, 10, &[], 50), b.search(q, 10, &[], 50));
    // Another seed gives another graph (the seed is used).
    assert_ne!(
        one,
        HnswGraph::build(&items, dim, &params(8, 40, 100)).unwrap()
    );
}

#[test]
fn k_larger_than_n_returns_every_item_once() {
    let items = clustered(30, 4, 7);
    let g = HnswGraph::build(&items, 4, &params(4, 8, 0)).unwrap();
    let index = g.index(&items).unwrap();
    let q = [0.1f32, -0.4, 0.3, 0.2];
    let got = index.search(&q, 100, &[2, 5], 1);
    assert_eq!(got.len(), 28);
    assert_eq!(
        ids(&got),
        ids(&Exact::new(&items, 4).unwrap().top_k(&q, 100, &[2, 5]))
    );
    assert!(index.search(&q, 0, &[], 10).is_empty());
}

#[test]
fn empty_and_single_item_indexes() {
    let empty = HnswGraph::build(&[], 8, &params(16, 100, 0)).unwrap();
    assert_eq!(empty.n_items(), 0);
    assert!(empty
        .index(&[])
        .unwrap()
        .search(&[0.0; 8], 10, &[], 10)
        .is_empty());
    let back = HnswGraph::from_parts(empty.to_parts(), &[]).unwrap();
    assert_eq!(back, empty);

    let one = [0.5f32, -1.0];
    let g = HnswGraph::build(&one, 2, &params(16, 100, 0)).unwrap();
    let index = g.index(&one).unwrap();
    assert_eq!(index.search(&[2.0, 1.0], 5, &[], 10), vec![(0, 0.0)]);
    assert!(index.search(&[2.0, 1.0], 5, &[0], 10).is_empty());
}

#[test]
fn a_non_finite_query_finds_nothing() {
    let items = clustered(50, 4, 8);
    let g = HnswGraph::build(&items, 4, &params(4, 8, 0)).unwrap();
    let index = g.index(&items).unwrap();
    assert!(index
        .search(&[f32::NAN, 0.0, 0.0, 0.0], 5, &[], 10)
        .is_empty());
}

#[test]
fn bad_factors_are_build_errors() {
    let p = params(4, 8, 0);
    assert_eq!(
        HnswGraph::build(&[1.0; 6], 4, &p).unwrap_err(),
        AnnError::Shape { len: 6, dim: 4 }
    );
    assert!(matches!(
        HnswGraph::build(&[1.0; 6], 0, &p),
        Err(AnnError::Shape { dim: 0, .. })
    ));
    let mut items = vec![1.0f32; 8];
    items[5] = f32::INFINITY;
    assert_eq!(
        HnswGraph::build(&items, 4, &p).unwrap_err(),
        AnnError::NonFinite {
            item: 1,
            factor: 1,
            value: f32::INFINITY
        }
    );
    let g = HnswGraph::build(&[1.0; 8], 4, &p).unwrap();
    assert!(matches!(
        g.index(&[1.0; 12]),
        Err(AnnError::Mismatch { n_items: 2, .. })
    ));
}

#[test]
fn parts_round_trip_to_the_same_graph() {
    let items = clustered(2_000, 8, 9);
    let g = HnswGraph::build(&items, 8, &params(6, 30, 3)).unwrap();
    assert!(g.top_level() >= 1, "the test should cover upper levels");
    let parts = g.to_parts();
    assert_eq!(parts.kind, "hnsw");
    let back = HnswGraph::from_parts(parts, &items).unwrap();
    assert_eq!(back, g);
    let q = clustered(1, 8, 10);
    assert_eq!(
        back.index(&items).unwrap().search(&q, 10, &[], 40),
        g.index(&items).unwrap().search(&q, 10, &[], 40)
    );
}

fn set_u32(p: &mut Parts<'_>, name: &str, v: Vec<u32>) {
    p.arrays.insert(
        name.to_string(),
        Array::vector(ArrayData::U32(Cow::Owned(v))),
    );
}

fn u32s(p: &Parts<'_>, name: &str) -> Vec<u32> {
    match p.arrays[name].data() {
        ArrayData::U32(v) => v.to_vec(),
        other => panic!("{name} is {:?}", other.dtype()),
    }
}

fn u64s(p: &Parts<'_>, name: &str) -> Vec<u64> {
    match p.arrays[name].data() {
        ArrayData::U64(v) => v.to_vec(),
        other => panic!("{name} is {:?}", other.dtype()),
    }
}

#[test]
fn corrupt_parts_are_errors_never_panics() {
    let items = clustered(300, 4, 11);
    let g = HnswGraph::build(&items, 4, &params(4, 16, 1)).unwrap();
    let good = g.to_parts();
    let load = |p: Parts<'_>| HnswGraph::from_parts(p, &items);
    assert!(load(good.clone()).is_ok());

    let nb = u32s(&good, "neighbours");
    let off = u64s(&good, "offsets");
    let levels = u32s(&good, "levels");
    let entry = g.entry;
    let first_list_node_0 = &nb[off[0] as usize..off[1] as usize];
    assert!(!first_list_node_0.is_empty());

    let bad_value = |p: Parts<'_>, name: &str| match load(p) {
        Err(PartsError::BadValue { name: got, .. }) => assert_eq!(got, name),
        other => panic!("expected BadValue({name}), got {other:?}"),
    };
    // A neighbour out of bounds, a self-loop, a repeat.
    let mut p = good.clone();
    let mut v = nb.clone();
    v[0] = 300;
    set_u32(&mut p, "neighbours", v);
    bad_value(p, "neighbours");
    let mut p = good.clone();
    let mut v = nb.clone();
    v[0] = 0;
    set_u32(&mut p, "neighbours", v);
    bad_value(p, "neighbours");
    if first_list_node_0.len() >= 2 {
        let mut p = good.clone();
        let mut v = nb.clone();
        v[1] = v[0];
        set_u32(&mut p, "neighbours", v);
        bad_value(p, "neighbours");
    }
    // A neighbour listed on a level it is not on.
    if let Some(upper) = (0..300u32).find(|&i| levels[i as usize] >= 1) {
        let low = (0..300u32)
            .find(|&i| levels[i as usize] == 0 && i != upper)
            .unwrap();
        // Node `upper`'s level-1 list is list index base + 1.
        let base: usize = levels[..upper as usize]
            .iter()
            .map(|&l| l as usize + 1)
            .sum();
        let (a, b) = (off[base + 1] as usize, off[base + 2] as usize);
        if a < b {
            let mut p = good.clone();
            let mut v = nb.clone();
            v[a] = low;
            set_u32(&mut p, "neighbours", v);
            bad_value(p, "neighbours");
        }
    }
    // Offsets that decrease, do not start at 0, or do not end at the neighbour count.
    for (i, val) in [
        (1usize, off[2] + 1),
        (0, 1),
        (off.len() - 1, off[off.len() - 1] - 1),
    ] {
        let mut p = good.clone();
        let mut o = off.clone();
        o[i] = val;
        p = p.u64_vector("offsets", Cow::Owned(o));
        bad_value(p, "offsets");
    }
    // A list over capacity (level 0 holds 2m = 8 plus one repair edge): give node 0 ten.
    let mut p = good.clone();
    let mut o = off.clone();
    let extra = 10 - (o[1] - o[0]) as usize;
    for x in &mut o[1..] {
        *x += extra as u64;
    }
    let mut v: Vec<u32> = (1..11).collect();
    v.extend_from_slice(&nb[off[1] as usize..]);
    set_u32(&mut p, "neighbours", v);
    p = p.u64_vector("offsets", Cow::Owned(o));
    bad_value(p, "offsets");
    // A level above the cap.
    let mut p = good.clone();
    let mut l = levels.clone();
    l[0] = 99;
    set_u32(&mut p, "levels", l);
    bad_value(p, "levels");
    // Wrong shapes and types.
    let mut p = good.clone();
    set_u32(&mut p, "levels", levels[..299].to_vec());
    assert!(matches!(load(p), Err(PartsError::WrongShape { .. })));
    let mut p = good.clone();
    p = p.u64_vector("levels", Cow::Owned(vec![0; 300]));
    assert!(matches!(load(p), Err(PartsError::WrongDType { .. })));
    let mut p = good.clone();
    p.arrays.remove("neighbours");
    assert!(matches!(load(p), Err(PartsError::MissingArray { .. })));
    // The entry point off the top level or out of bounds.
    let low = (0..300u32)
        .find(|&i| levels[i as usize] < g.top_level() as u32)
        .unwrap();
    for e in [i64::from(low), 300, -1] {
        let p = good.clone().param("entry_point", Param::Int(e));
        assert!(
            matches!(load(p), Err(PartsError::BadParam { .. })),
            "entry {e}"
        );
    }
    let _ = entry;
    // Bad parameters name the field.
    let p = good.clone().param("m", Param::Int(1));
    assert!(matches!(
        load(p),
        Err(PartsError::BadParam { name: "m", .. })
    ));
    let p = good.clone().param("dim", Param::Int(0));
    assert!(matches!(
        load(p),
        Err(PartsError::BadParam { name: "dim", .. })
    ));
    let mut p = good.clone();
    p.kind = "als".into();
    assert!(matches!(load(p), Err(PartsError::WrongKind { .. })));
    // Other factors than the graph was built from, or another shape.
    let other = clustered(300, 4, 12);
    assert!(matches!(
        HnswGraph::from_parts(good.clone(), &other),
        Err(PartsError::BadParam {
            name: "max_sq_norm",
            ..
        })
    ));
    assert!(matches!(
        HnswGraph::from_parts(good.clone(), &items[..296]),
        Err(PartsError::WrongShape { .. })
    ));

    // Random corruption of the neighbour ids: an error or a graph that searches safely.
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    for _ in 0..200 {
        let mut v = nb.clone();
        let at = rng.random_range(0..v.len());
        v[at] = rng.random_range(0..310);
        let mut p = good.clone();
        set_u32(&mut p, "neighbours", v);
        if let Ok(g) = load(p) {
            let r = g
                .index(&items)
                .unwrap()
                .search(&[0.1, 0.2, 0.3, 0.4], 5, &[], 20);
            assert!(r.len() <= 5);
        }
    }
}

#[test]
fn strategy_follows_the_catalog_size() {
    let p = TopKParams::default().ann_min_items(1_000).check().unwrap();
    assert_eq!(p.strategy(999), TopKStrategy::Exact);
    assert_eq!(p.strategy(1_000), TopKStrategy::Ann);
    let bad = TopKParams::default()
        .hnsw(HnswParams::default().m(0))
        .check();
    assert_eq!(bad.unwrap_err().field, "m");

    let (dim, q) = (8, clustered(1, 8, 14));
    let small = clustered(500, dim, 15);
    let idx = TopKIndex::build(&small, dim, &p).unwrap();
    assert_eq!(idx.strategy(), TopKStrategy::Exact);
    let mut out = Vec::new();
    idx.top_k_into(&small, &q, 10, &[1, 2], &mut out).unwrap();
    assert_eq!(out, Exact::new(&small, dim).unwrap().top_k(&q, 10, &[1, 2]));
    assert!(idx.top_k_into(&small[..8], &q, 10, &[], &mut out).is_err());

    let large = clustered(2_000, dim, 16);
    let wide = TopKParams::default()
        .ann_min_items(1_000)
        .hnsw(HnswParams::default().ef_search(2_000))
        .check()
        .unwrap();
    let idx = TopKIndex::build(&large, dim, &wide).unwrap();
    assert_eq!(idx.strategy(), TopKStrategy::Ann);
    idx.top_k_into(&large, &q, 10, &[], &mut out).unwrap();
    assert_eq!(
        ids(&out),
        ids(&Exact::new(&large, dim).unwrap().top_k(&q, 10, &[]))
    );
}

#[test]
fn recall_is_one_when_the_whole_graph_is_searched() {
    let items = clustered(400, 6, 17);
    let g = HnswGraph::build(&items, 6, &params(6, 20, 2)).unwrap();
    let r = recall_at_k(
        &g.index(&items).unwrap(),
        &Exact::new(&items, 6).unwrap(),
        &clustered(30, 6, 18),
        10,
        400,
    );
    assert_eq!((r.mean, r.min, r.n_queries), (1.0, 1.0, 30));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// With `ef >= n` the search is exhaustive over the reachable graph, so it must equal the
    /// exact top-k: this fails if construction ever leaves a node unreachable. Small integer
    /// factors keep every dot product exact, so scores must match bit for bit, and create ties
    /// and duplicate vectors.
    #[test]
    fn exhaustive_search_equals_exact_top_k(
        n in 1usize..80,
        dim in 1usize..6,
        m in 2usize..8,
        k in 0usize..12,
        seed in 0u64..1000,
        ex in prop::collection::btree_set(0u32..80, 0..10),
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let items: Vec<f32> = (0..n * dim).map(|_| rng.random_range(-3i32..4) as f32).collect();
        let q: Vec<f32> = (0..dim).map(|_| rng.random_range(-3i32..4) as f32).collect();
        let ex: Vec<u32> = ex.into_iter().collect();
        let g = HnswGraph::build(&items, dim, &params(m, m.max(4), seed)).unwrap();
        let got = g.index(&items).unwrap().search(&q, k, &ex, n);
        let want = Exact::new(&items, dim).unwrap().top_k(&q, k, &ex);
        prop_assert_eq!(got, want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Cutting the level-0 starts to the best up to the `ef`-th kept one
    /// ([`super::best_starts`]) returns exactly what the beam returns from every start: the same
    /// nodes, scores and order, for any width and any filter.
    #[test]
    fn the_cut_starts_find_what_every_start_finds(
        query_seed in 0u64..1_000,
        ef in 1usize..80,
        drop_every in 1u32..6,
    ) {
        use super::search::SearchScratch;
        let (n, dim) = (3_000, 8);
        let items = clustered(n, dim, 11);
        let g = HnswGraph::build(&items, dim, &params(8, 32, 3)).unwrap();
        let query = clustered(1, dim, 1_000 + query_seed);
        let sim = QuerySim::<Plain> { items: &items, query: &query, _m: PhantomData };
        let keep = |i: u32| drop_every == 1 || !i.is_multiple_of(drop_every);
        let mut every = vec![descend(&g, &sim, 0)];
        every.extend(std::iter::once(&g.entry).chain(&g.seeds).map(|&id| Cand { sim: sim.sim(id), id }));
        let mut cut = every.clone();
        super::best_starts(&mut cut, ef, keep);
        prop_assert!(cut.len() <= every.len());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut scratch = SearchScratch::default();
        search_layer(&g, &sim, &every, Beam { ef, level: 0 }, keep, &mut scratch, &mut a);
        search_layer(&g, &sim, &cut, Beam { ef, level: 0 }, keep, &mut scratch, &mut b);
        prop_assert_eq!(a, b);
    }
}

#[test]
fn the_packed_seed_rows_are_the_seeds_rows() {
    let (n, dim) = (2_000, 6);
    let items = clustered(n, dim, 5);
    let g = HnswGraph::build(&items, dim, &params(8, 32, 3)).unwrap();
    assert_eq!(g.seed_rows.len(), g.seeds.len() * dim);
    for (k, &id) in g.seeds.iter().enumerate() {
        assert_eq!(
            g.seed_rows[k * dim..(k + 1) * dim],
            items[id as usize * dim..(id as usize + 1) * dim]
        );
    }
}
