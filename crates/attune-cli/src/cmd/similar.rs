//! `attune similar ITEM [-n 10]`: "more like this" from a trained model (the app's active
//! version unless `--version` or `--model`).
//!
//! Item-item models (item-kNN, EASE) answer with their stored neighbours, factor models (ALS,
//! BPR, MF) with the cosine of item factors (`attune_core::model::similar`); the others are an
//! error that names the algorithms that can.

use std::io::Write as _;
use std::process::ExitCode;

use attune_core::model::similar::similar_items;

use super::apps::{open_store, require_app};
use crate::cli::SimilarArgs;
use crate::config::Settings;
use crate::models;

pub fn run(args: SimilarArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let app = args.app.app.as_str();
    let store = open_store(settings)?;
    require_app(&*store, app)?;
    let resolved = models::resolve(
        settings,
        &*store,
        app,
        args.model.model.as_deref(),
        args.model.version.as_deref(),
    )?;
    let path = resolved.path.clone();
    let model = models::load(settings, app, &resolved)?;
    let Some(item) = model.items.get(&args.item) else {
        anyhow::bail!(
            "item {:?} is not in the model {} (it had no interactions when the model was trained)",
            args.item,
            path.display()
        );
    };
    let list = similar_items(model.fitted.model(), item, args.n)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let rows: Vec<serde_json::Value> = list
            .iter()
            .enumerate()
            .map(|(r, &(i, s))| {
                serde_json::json!({"rank": r + 1, "item_id": model.item_id(i), "similarity": s})
            })
            .collect();
        let doc = serde_json::json!({"item_id": args.item, "algorithm": model.header.meta.algorithm, "items": rows});
        serde_json::to_writer_pretty(&mut out, &doc).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        for (r, &(i, s)) in list.iter().enumerate() {
            writeln!(out, "{:>3}. {:<24} {s:>10.4}", r + 1, model.item_id(i))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
