//! `attune precompute`: every user's list computed in batch through the serving engine — the
//! off-peak path. The same pipeline as `GET /v1/users/{id}/recommendations` (consent, history
//! since training, cold start, filters, explanations), so a precomputed list is exactly what
//! the API would answer; with a shared cache configured the lists land there for every
//! replica. Users go in blocks whose ALS candidates are scored at once by the batch kernel
//! ([`attune_serving::Serving::recommend_many`]), with the same lists. Reports users per
//! second.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use attune_serving::RecRequest;

use super::apps::require_app;
use super::serve::open_configured_store;
use crate::cli::PrecomputeArgs;
use crate::config::Settings;

pub fn run(args: PrecomputeArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let store = open_configured_store(settings)?;
    let app = args.app.app.as_str();
    require_app(&*store, app)?;
    let engine = crate::serving::engine(settings, store.clone())?;
    let a = engine.app(app)?;
    let snap = a.snapshot().with_context(|| {
        format!("app {app:?} has no active model; run `attune train --app {app}` first")
    })?;
    // Every user the model knows, plus profiles it does not (they get the cold-start chain).
    let mut users: Vec<String> = snap.model.users.names().map(str::to_string).collect();
    store.scan_users(app, &mut |u| {
        users.push(u.user_id);
        true
    })?;
    users.sort_unstable();
    users.dedup();
    drop(snap);
    let req = RecRequest {
        n: args.n,
        ..RecRequest::default()
    };
    let started = Instant::now();
    let lists = engine.recommend_many(&a, &users, &req)?;
    let secs = started.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    if let Some(path) = &args.output {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let mut w = std::io::BufWriter::new(file);
        for (u, l) in users.iter().zip(&lists) {
            let body = attune_server::api::ListBody::of(l, Some(u));
            serde_json::to_writer(&mut w, &body)?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
        writeln!(out, "wrote {} lists to {}", lists.len(), path.display())?;
    }
    writeln!(
        out,
        "precomputed {} lists of {} items for app {app:?} in {secs:.2} s: {:.0} users/s ({} threads)",
        lists.len(),
        args.n,
        lists.len() as f64 / secs.max(1e-9),
        rayon::current_num_threads()
    )?;
    Ok(ExitCode::SUCCESS)
}
