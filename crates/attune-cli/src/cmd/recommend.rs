//! `attune recommend USER` and `attune recommend --all-users`: serve a trained model from its
//! artifact: the app's active version by default (`crate::models::resolve`).
//!
//! How a user is represented, in order:
//! 1. a user in the model's training data: their stored factors (ALS, BPR, MF) or their
//!    training history folded in (item-item models); seen items are the training history;
//! 2. a user the model has not seen but who has events in the store: those events are weighted
//!    as training weights them (`crate::dataset`, `[train]`), mapped to the model's items and
//!    folded in; seen items are those events' items;
//! 3. nobody known: the most popular items of the training data, with a note on stderr.
//!
//! `--all-users` scores every training user in parallel (rayon, one score buffer per thread)
//! and writes `user_id,rank,item_id,score` rows (CSV with a header, or JSON lines) in user
//! order, reporting throughput on stderr.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use attune_core::catalog::Item;
use attune_core::model::spec::Feedback;
use attune_core::model::UserRepr;
use attune_store::{EventFilter, Store};
use rayon::prelude::*;
use serde::Serialize;

use super::apps::{open_store, require_app};
use crate::cli::{FileFormat, RecommendArgs};
use crate::config::Settings;
use crate::dataset::{Dataset, TrainOptions};
use crate::models::{self, LoadedModel};

pub fn run(args: RecommendArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
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
    let version = resolved.record.as_ref().map(|r| r.version);
    tracing::info!(path = %path.display(), ?version, model = %model.header.meta.algorithm, "loaded model");
    if args.all_users {
        return all_users(&args, &model);
    }
    let user = args
        .user
        .as_deref()
        .context("name a USER, or pass --all-users")?;
    // Store lookups (history of unseen users, titles) use the app the model was trained on.
    let model_app = model.header.meta.data.app.clone();
    require_app(&*store, &model_app)?;
    let (list, how) = one_user(&*store, &model_app, settings, &model, user, &args)?;

    let mut out = std::io::stdout().lock();
    let titles = titles(&*store, &model_app, &model, &list)?;
    if args.json {
        let rows: Vec<Row> = list
            .iter()
            .enumerate()
            .map(|(r, &(i, s))| Row {
                user_id: user,
                rank: r + 1,
                item_id: model.item_id(i),
                score: s,
                title: titles[r].as_deref(),
            })
            .collect();
        let doc = serde_json::json!({
            "user_id": user,
            "model": path.display().to_string(),
            "version": version.map(models::version_name),
            "algorithm": model.header.meta.algorithm,
            "source": how.as_str(),
            "items": rows,
        });
        serde_json::to_writer_pretty(&mut out, &doc).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        if let Source::Popular = how {
            eprintln!(
                "note: user {user:?} has no history the model can use; showing the most popular items"
            );
        }
        for (r, &(i, s)) in list.iter().enumerate() {
            let title = titles[r]
                .as_deref()
                .map(|t| format!("  {t}"))
                .unwrap_or_default();
            writeln!(
                out,
                "{:>3}. {:<24} {s:>10.4}{title}",
                r + 1,
                model.item_id(i)
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Where a user's list came from.
enum Source {
    Trained,
    FoldedIn,
    Popular,
}

impl Source {
    fn as_str(&self) -> &'static str {
        match self {
            Source::Trained => "trained",
            Source::FoldedIn => "folded_in",
            Source::Popular => "popular",
        }
    }
}

#[derive(Serialize)]
struct Row<'a> {
    user_id: &'a str,
    rank: usize,
    item_id: &'a str,
    score: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
}

fn one_user(
    store: &dyn Store,
    app: &str,
    settings: &Settings,
    model: &LoadedModel,
    user: &str,
    args: &RecommendArgs,
) -> anyhow::Result<(Vec<(u32, f32)>, Source)> {
    let mut scores = vec![0f32; model.items.len()];
    let mut list = Vec::new();
    if let Some(u) = model.users.get(user) {
        if let Some(repr) = model.training_repr(u) {
            let seen = if args.exclude_seen {
                model.history.row(u as usize).0
            } else {
                &[]
            };
            model.top_n(&repr, args.n, seen, &mut scores, &mut list);
            return Ok((list, Source::Trained));
        }
    }
    let history = store_history(store, app, settings, model, user)?;
    if history.is_empty() {
        return Ok((model.popular(args.n, &[]), Source::Popular));
    }
    let repr = model.recommender().fold_in(&history);
    let seen: Vec<u32> = if args.exclude_seen {
        history.iter().map(|e| e.0).collect()
    } else {
        Vec::new()
    };
    if matches!(repr, UserRepr::Anonymous) {
        // A non-personalized model: its scores are popularity anyway.
        return Ok((model.popular(args.n, &seen), Source::Popular));
    }
    model.top_n(&repr, args.n, &seen, &mut scores, &mut list);
    Ok((list, Source::FoldedIn))
}

/// `user`'s stored events as `(model item, weight)`, sorted by item: weighted by the same code
/// as training data, ratings for explicit models; items the model does not know are dropped.
fn store_history(
    store: &dyn Store,
    app: &str,
    settings: &Settings,
    model: &LoadedModel,
    user: &str,
) -> anyhow::Result<Vec<(u32, f32)>> {
    let mut events = Vec::new();
    let filter = EventFilter {
        user_id: Some(user.to_string()),
        ..EventFilter::default()
    };
    store
        .scan_events(app, &filter, &mut |e| {
            events.push(e);
            true
        })
        .context("reading the user's events")?;
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let opts = TrainOptions::from_settings(&settings.train)?;
    let d = Dataset::build(&events, &[], &[], None, &opts)?;
    let set = d.training_set(None)?;
    let m = match model.feedback() {
        Feedback::Implicit => Some(&set.interactions),
        Feedback::Explicit => set.ratings.as_ref(),
    };
    let mut out = Vec::new();
    if let Some(m) = m {
        // Rows: the user and any device ids stitched to them.
        for r in 0..m.n_rows() {
            let (cols, vals) = m.row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                let id = d.items.name(c).expect("dataset item");
                if let (Some(i), true) = (
                    model.items.get(id),
                    v > 0.0 || model.feedback() == Feedback::Explicit,
                ) {
                    out.push((i, v));
                }
            }
        }
    }
    out.sort_by_key(|e| e.0);
    out.dedup_by(|next, kept| {
        if next.0 == kept.0 {
            kept.1 += next.1;
            true
        } else {
            false
        }
    });
    Ok(out)
}

/// Catalog titles of the listed items (`None` where absent).
fn titles(
    store: &dyn Store,
    app: &str,
    model: &LoadedModel,
    list: &[(u32, f32)],
) -> anyhow::Result<Vec<Option<String>>> {
    list.iter()
        .map(|&(i, _)| {
            let item: Option<Item> = store
                .get_item(app, model.item_id(i))
                .context("reading the catalog")?;
            Ok(item.and_then(|it| it.title))
        })
        .collect()
}

fn all_users(args: &RecommendArgs, model: &LoadedModel) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let n_users = model.users.len();
    let n_items = model.items.len();
    let lists: Vec<Vec<(u32, f32)>> = (0..n_users as u32)
        .into_par_iter()
        .map_init(
            || (vec![0f32; n_items], Vec::new()),
            |(scores, top), u| {
                let seen = if args.exclude_seen {
                    model.history.row(u as usize).0
                } else {
                    &[]
                };
                match model.training_repr(u) {
                    Some(repr) => {
                        model.top_n(&repr, args.n, seen, scores, top);
                        top.clone()
                    }
                    None => model.popular(args.n, seen),
                }
            },
        )
        .collect();
    let scored = started.elapsed().as_secs_f64();

    let mut sink: Box<dyn std::io::Write> = match &args.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut rows = 0usize;
    match args.format {
        FileFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut sink);
            w.write_record(["user_id", "rank", "item_id", "score"])?;
            for (u, list) in lists.iter().enumerate() {
                let user = model.users.name(u as u32).expect("user index");
                for (r, &(i, s)) in list.iter().enumerate() {
                    w.write_record([user, &(r + 1).to_string(), model.item_id(i), &s.to_string()])?;
                    rows += 1;
                }
            }
            w.flush()?;
        }
        FileFormat::Jsonl => {
            for (u, list) in lists.iter().enumerate() {
                let user = model.users.name(u as u32).expect("user index");
                for (r, &(i, s)) in list.iter().enumerate() {
                    let row = Row {
                        user_id: user,
                        rank: r + 1,
                        item_id: model.item_id(i),
                        score: s,
                        title: None,
                    };
                    serde_json::to_writer(&mut sink, &row).map_err(std::io::Error::from)?;
                    sink.write_all(b"\n")?;
                    rows += 1;
                }
            }
        }
    }
    sink.flush()?;
    let total = started.elapsed().as_secs_f64();
    eprintln!(
        "recommended for {n_users} users ({rows} rows) in {total:.2}s: {:.0} users/s scoring, {:.0} users/s end to end",
        n_users as f64 / scored.max(1e-9),
        n_users as f64 / total.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}
