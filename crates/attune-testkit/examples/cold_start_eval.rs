//! Cold-start evaluation: how well content, hybrid, category popularity and pure collaborative
//! filtering (ALS) rank items nobody has interacted with, and items with only a few
//! interactions.
//!
//! ```text
//! cargo run --release -p attune-testkit --example cold_start_eval              # synthetic shop
//! cargo run --release -p attune-testkit --example cold_start_eval -- ml100k testdata/ml-100k
//! ```
//!
//! Protocols (see `attune_core::eval::cold`):
//! - **cold items**: 20% of the items are held out entirely; every test user with a training
//!   history gets a ranking of the held-out items only; recall@10 against the user's held-out
//!   interactions.
//! - **few interactions**: 20% of each user's interactions held out at random; the candidates
//!   are the items with 1 to 5 training interactions; recall@10 among them.
//!
//! Each protocol is averaged over three seeds. "category affinity" is category popularity with
//! every item's popularity raised by one, so cold items are ranked by the user's category
//! affinity alone: the fair category-level baseline (plain category popularity knows no
//! popularity for a cold item and ranks them arbitrarily).

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use attune_core::eval::cold::{evaluate_among, item_holdout, items_with_interactions};
use attune_core::eval::split::random_holdout;
use attune_core::features::{ItemDoc, ItemFeatures, ItemTextParams};
use attune_core::model::{
    AlsParams, CategoryPopularity, ContentModel, HybridModel, HybridParams, Recommender,
};
use attune_core::sparse::Csr;
use attune_testkit::{generate, model_input, ModelInput, SyntheticConfig};

const K: usize = 10;
const SEEDS: [u64; 3] = [1, 2, 3];

fn synthetic() -> ModelInput {
    model_input(&generate(&SyntheticConfig {
        n_users: 1000,
        n_items: 1000,
        n_events: 150_000,
        ..SyntheticConfig::default()
    }))
}

/// MovieLens-100K in the atomic format of `scripts/fetch-movielens.sh`: every rating is an
/// interaction of weight 1; titles are the text, genres the categories.
fn movielens(dir: &Path) -> ModelInput {
    let read = |name: &str| {
        fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
    };
    let mut items: HashMap<String, u32> = HashMap::new();
    let mut docs = Vec::new();
    for line in read("ml-100k.item").lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        items.insert(f[0].to_string(), docs.len() as u32);
        docs.push(ItemDoc {
            title: f.get(1).unwrap_or(&"").to_string(),
            categories: f
                .get(3)
                .unwrap_or(&"")
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            ..ItemDoc::default()
        });
    }
    let mut users: HashMap<String, u32> = HashMap::new();
    let mut interactions = Vec::new();
    for line in read("ml-100k.inter").lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let n = users.len() as u32;
        let u = *users.entry(f[0].to_string()).or_insert(n);
        if let Some(&i) = items.get(f[1]) {
            interactions.push((u, i, 1.0));
        }
    }
    interactions.sort_by_key(|e| (e.0, e.1));
    interactions.dedup_by_key(|e| (e.0, e.1));
    ModelInput {
        n_users: users.len(),
        n_items: docs.len(),
        interactions,
        docs,
    }
}

struct Models {
    content: ContentModel,
    hybrid: HybridModel,
    category_popularity: CategoryPopularity,
    category_affinity: CategoryPopularity,
    als: attune_core::model::AlsModel,
}

fn train(train: &Csr, features: &ItemFeatures, seed: u64) -> Models {
    let cats = features.category_matrix();
    // One extra "user" who touched every item: popularity + 1 everywhere.
    let mut plus_one: Vec<(u32, u32, f32)> = Vec::new();
    for u in 0..train.n_rows() {
        let (cols, vals) = train.row(u);
        plus_one.extend(cols.iter().zip(vals).map(|(&i, &v)| (u as u32, i, v)));
    }
    let extra = train.n_rows() as u32;
    plus_one.extend((0..train.n_cols() as u32).map(|i| (extra, i, 1.0)));
    let plus_one = Csr::from_triplets(train.n_rows() + 1, train.n_cols(), plus_one).unwrap();
    Models {
        content: ContentModel::from_features(features.clone()),
        hybrid: HybridParams::new(32)
            .epochs(30)
            .seed(seed)
            .check()
            .unwrap()
            .fit(train, features.matrix(), None)
            .unwrap(),
        category_popularity: CategoryPopularity::fit(train, &cats).unwrap(),
        category_affinity: CategoryPopularity::fit(&plus_one, &cats).unwrap(),
        als: AlsParams::new(32)
            .alpha(10.0)
            .reg(0.1)
            .iterations(15)
            .seed(seed)
            .check()
            .unwrap()
            .fit(train)
            .unwrap(),
    }
}

const NAMES: [&str; 5] = [
    "content",
    "hybrid",
    "category popularity",
    "category affinity",
    "ALS (collaborative)",
];

/// recall@K of every model among `candidates`, and the number of users evaluated.
fn recalls(m: &Models, train: &Csr, test: &Csr, candidates: &[u32]) -> ([f64; 5], usize) {
    let models: [&dyn Recommender; 5] = [
        &m.content,
        &m.hybrid,
        &m.category_popularity,
        &m.category_affinity,
        &m.als,
    ];
    let mut users = 0;
    let r = models.map(|model| {
        let report = evaluate_among(model, train, test, candidates, K);
        users = report.users;
        report.recall
    });
    (r, users)
}

fn print(title: &str, sums: [f64; 5], users: usize, candidates: usize) {
    println!(
        "\n{title} (mean of {} seeds; {users} users, {candidates} candidate items, chance ≈ {:.3})",
        SEEDS.len(),
        (K as f64 / candidates as f64).min(1.0)
    );
    for (name, s) in NAMES.iter().zip(sums) {
        println!("  {name:<22} recall@{K} = {:.4}", s / SEEDS.len() as f64);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let input = match args.first().map(String::as_str) {
        Some("ml100k") => movielens(Path::new(
            args.get(1).map_or("testdata/ml-100k", String::as_str),
        )),
        _ => synthetic(),
    };
    println!(
        "{} users, {} items, {} interactions",
        input.n_users,
        input.n_items,
        input.interactions.len()
    );
    let features = ItemTextParams::new().check().unwrap().fit(&input.docs);
    println!(
        "item features: {} terms, {} categories, {} attribute values",
        features.terms().len(),
        features.categories().len(),
        features.n_features() - features.terms().len() - features.categories().len()
    );
    let t = &input.interactions;
    let (nu, ni) = (input.n_users, input.n_items);

    let mut cold = [0f64; 5];
    let (mut cold_users, mut cold_items) = (0, 0);
    for seed in SEEDS {
        let items: Vec<u32> = t.iter().map(|e| e.1).collect();
        let (split, held) = item_holdout(&items, 0.2, seed).unwrap();
        let (tr, te) = split.to_csr(t, nu, ni).unwrap();
        let m = train(&tr, &features, seed);
        let (r, users) = recalls(&m, &tr, &te, &held);
        cold.iter_mut().zip(r).for_each(|(a, b)| *a += b);
        (cold_users, cold_items) = (users, held.len());
    }
    print("cold items", cold, cold_users, cold_items);

    let mut few = [0f64; 5];
    let (mut few_users, mut few_items) = (0, 0);
    for seed in SEEDS {
        let users: Vec<u32> = t.iter().map(|e| e.0).collect();
        let (tr, te) = random_holdout(&users, 0.2, seed)
            .unwrap()
            .to_csr(t, nu, ni)
            .unwrap();
        let candidates = items_with_interactions(&tr, 1, 5);
        let m = train(&tr, &features, seed);
        let (r, users) = recalls(&m, &tr, &te, &candidates);
        few.iter_mut().zip(r).for_each(|(a, b)| *a += b);
        (few_users, few_items) = (users, candidates.len());
    }
    print(
        "items with 1-5 training interactions",
        few,
        few_users,
        few_items,
    );
}
