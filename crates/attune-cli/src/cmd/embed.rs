//! `attune embed items [--model-dir DIR] [--batch N] [--force]`: all-MiniLM-L6-v2 vectors of
//! every item's title, description and tags, written onto the items as their `embedding`
//! attribute (with `embedding_source`, the model and a hash of the text) through the store's
//! normal upsert, so `content:features=vector|both`, similar items, cold start and fresh items
//! use them. Items whose stored source matches their current text are skipped (the cache).
//!
//! The store is written directly: a running server sees the vectors after its next model
//! activation (training reads them; fresh items are re-read at load).

use std::process::ExitCode;

use crate::cli::EmbedCommand;
use crate::config::Settings;

#[cfg(not(feature = "embeddings"))]
pub fn run(_command: EmbedCommand, _settings: &Settings) -> anyhow::Result<ExitCode> {
    Err(anyhow::anyhow!(
        "this attune was built without text embeddings; build it with `cargo build --release \
         --features embeddings` (docs/evaluation.md, \"Text embeddings\")"
    ))
}

#[cfg(feature = "embeddings")]
pub fn run(command: EmbedCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    match command {
        EmbedCommand::Items(args) => items(args, settings),
    }
}

/// Items embedded per store transaction: progress survives an interruption, and memory stays
/// bounded on large catalogs.
#[cfg(feature = "embeddings")]
const CHUNK: usize = 1024;

#[cfg(feature = "embeddings")]
fn items(args: crate::cli::EmbedItemsArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    use std::time::Instant;

    use anyhow::Context as _;
    use attune_embed::{item, EmbedParams, TextEmbedder};

    use super::apps::{open_store, require_app};

    let store = open_store(settings)?;
    let app = args.app.app.as_str();
    require_app(&*store, app)?;
    let dir = attune_embed::model_dir(
        args.model_dir
            .as_deref()
            .or(settings.embeddings.model_dir.as_deref()),
    )?;
    let batch = args.batch.unwrap_or(settings.embeddings.batch_size);
    let params = EmbedParams::default().batch_size(batch).check()?;
    let embedder = TextEmbedder::load(&dir, params)
        .with_context(|| format!("loading the text-embedding model from {}", dir.display()))?;
    eprintln!(
        "model {} loaded in {:.0} ms (dim {}, batch {})",
        dir.display(),
        embedder.load_time().as_secs_f64() * 1e3,
        embedder.dim(),
        batch,
    );

    let mut todo = Vec::new();
    let mut n_items = 0usize;
    store.scan_items(app, &mut |it| {
        n_items += 1;
        let text = item::text(&it);
        let source = item::source(&text);
        if args.force || !item::is_current(&it, &source) {
            todo.push((it, text, source));
        }
        true
    })?;
    let limits = settings.limits.to_core();
    let start = Instant::now();
    let mut done = 0usize;
    for chunk in todo.chunks_mut(CHUNK) {
        let texts: Vec<&str> = chunk.iter().map(|c| c.1.as_str()).collect();
        let vectors = embedder.embed_all(&texts)?;
        let mut items = Vec::with_capacity(chunk.len());
        for ((it, _, source), v) in chunk.iter_mut().zip(vectors) {
            let mut it = std::mem::take(it);
            item::set(&mut it, v, std::mem::take(source));
            it.validate(&limits)
                .with_context(|| format!("item {} with its vector", it.item_id))?;
            items.push(it);
        }
        store.upsert_items(app, &items)?;
        done += items.len();
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "embedded {done} of {n_items} items ({} unchanged, skipped) in {secs:.1} s: {:.1} items/s",
        n_items - done,
        if secs > 0.0 { done as f64 / secs } else { 0.0 },
    );
    Ok(ExitCode::SUCCESS)
}
