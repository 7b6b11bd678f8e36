//! `attune similar ITEM [-n 10]`: "more like this" from the serving engine, the code `GET
//! /v1/items/{id}/similar` runs (item-item models' own similarity, the cosine of item factors
//! for factor models, unavailable items left out); the app's active version unless
//! `--version` or `--model`.

use std::io::Write as _;
use std::process::ExitCode;

use attune_serving::RecRequest;

use super::apps::require_app;
use super::serve::open_configured_store;
use crate::cli::SimilarArgs;
use crate::config::Settings;
use crate::models;

pub fn run(args: SimilarArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let app = args.app.app.as_str();
    let store = open_configured_store(settings)?;
    require_app(&*store, app)?;
    let engine = crate::serving::engine(settings, store)?;
    let served = models::serving_app(&engine, settings, app, &args.model)?;
    let req = RecRequest {
        n: args.n,
        ..RecRequest::default()
    };
    let list = engine.similar_on(&served, &args.item, &req)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let body = attune_server::api::ListBody::of(&list, None);
        serde_json::to_writer_pretty(&mut out, &body).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        for (r, item) in list.items.iter().enumerate() {
            writeln!(
                out,
                "{:>3}. {:<24} {:>10.4}",
                r + 1,
                item.item_id,
                item.score
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
