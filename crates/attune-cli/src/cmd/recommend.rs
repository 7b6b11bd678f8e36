//! `attune recommend USER` and `attune recommend --all-users`: lists from the serving engine,
//! the code `GET /v1/users/{id}/recommendations` runs, so the CLI and HTTP give one answer:
//! consent, availability, live events since training, the cold-start chain, filters and
//! explanations included. The app's active version by default; `--version V` or `--model FILE`
//! pin another one (served the same way, without activating it).
//!
//! `--json` prints the list in the API's response format. `--all-users` lists every user the
//! model was trained on (in blocks whose ALS candidates the batch kernel scores at once, then
//! the per-user pipeline in parallel: [`attune_serving::Serving::recommend_many`]) as
//! `user_id,rank,item_id,score,explanation` rows (CSV with a header, or JSON lines), reporting
//! throughput on stderr.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use attune_serving::{RecList, RecRequest};
use serde::Serialize;

use super::apps::require_app;
use super::serve::open_configured_store;
use crate::cli::{FileFormat, RecommendArgs};
use crate::config::Settings;
use crate::models;

pub fn run(args: RecommendArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let app = args.app.app.as_str();
    let store = open_configured_store(settings)?;
    require_app(&*store, app)?;
    let engine = crate::serving::engine(settings, store.clone())?;
    let served = models::serving_app(&engine, settings, app, &args.model)?;
    let req = RecRequest {
        n: args.n,
        exclude_seen: args.exclude_seen,
        categories: args.category.clone(),
        diversity: args.diversity,
        strength: args.strength,
        ..RecRequest::default()
    };
    if args.all_users {
        return all_users(&args, &engine, &served, &req);
    }
    let user = args
        .user
        .as_deref()
        .context("name a USER, or pass --all-users")?;
    let list = engine.recommend_on(&served, user, &req)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let body = attune_server::api::ListBody::of(&list, Some(user));
        serde_json::to_writer_pretty(&mut out, &body).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    match list.source {
        attune_serving::Source::ColdStart => eprintln!(
            "note: user {user:?} has no history the model can use; showing the cold-start list \
             (popular in their preferred categories, then trending, then the most popular)"
        ),
        attune_serving::Source::NonPersonalized => eprintln!(
            "note: user {user:?} turned personalization off; showing the most popular items"
        ),
        _ => {}
    }
    for (r, item) in list.items.iter().enumerate() {
        let title = item
            .title
            .as_deref()
            .map(|t| format!("  {t}"))
            .unwrap_or_default();
        writeln!(
            out,
            "{:>3}. {:<24} {:>10.4}{title}  ({})",
            r + 1,
            item.item_id,
            item.score,
            item.explanation
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct Row<'a> {
    user_id: &'a str,
    rank: usize,
    item_id: &'a str,
    score: f32,
    explanation: &'a str,
}

fn all_users(
    args: &RecommendArgs,
    engine: &attune_serving::Serving,
    served: &attune_serving::AppServing,
    req: &RecRequest,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let snap = served
        .snapshot()
        .context("the app has no model to recommend from")?;
    let users: Vec<String> = snap.model.users.names().map(str::to_string).collect();
    drop(snap);
    let lists: Vec<RecList> = engine.recommend_many(served, &users, req)?;
    let scored = started.elapsed().as_secs_f64();

    let mut sink: Box<dyn std::io::Write> = match &args.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let rows = users.iter().zip(&lists).flat_map(|(u, l)| {
        l.items.iter().enumerate().map(move |(r, i)| Row {
            user_id: u,
            rank: r + 1,
            item_id: &i.item_id,
            score: i.score,
            explanation: &i.explanation,
        })
    });
    let mut n_rows = 0usize;
    match args.format {
        FileFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut sink);
            for row in rows {
                w.serialize(row)?;
                n_rows += 1;
            }
            w.flush()?;
        }
        FileFormat::Jsonl => {
            for row in rows {
                serde_json::to_writer(&mut sink, &row).map_err(std::io::Error::from)?;
                sink.write_all(b"\n")?;
                n_rows += 1;
            }
        }
    }
    sink.flush()?;
    let total = started.elapsed().as_secs_f64();
    let n_users = users.len();
    eprintln!(
        "recommended for {n_users} users ({n_rows} rows) in {total:.2}s: {:.0} users/s scoring, {:.0} users/s end to end",
        n_users as f64 / scored.max(1e-9),
        n_users as f64 / total.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}
