//! `attune demo`: a fresh data directory loaded with a deterministic synthetic shop, then the API.
//!
//! This is the README's first step, so it must work with nothing configured: SQLite under
//! `--data-dir`, data from `attune-testkit` (same seed ⇒ byte-identical data), written through
//! the [`Store`] trait in large batches (one durable transaction per batch, so loading 100,000
//! events takes a second or two, not minutes), then copy-pasteable `curl` requests against the
//! address actually bound.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use attune_store::{Store, DEFAULT_APP};
use attune_testkit::{SyntheticConfig, SyntheticData};

use super::serve;
use crate::cli::DemoArgs;
use crate::config::Settings;

/// The demo shop page served at `GET /demo` (`web/demo/index.html`): the catalog, item pages
/// and the visitor's list, tracked by `/v1/tracker.js`.
const DEMO_PAGE: &str = include_str!("../../../../web/demo/index.html");

/// The database file inside a data directory; its presence is what marks a directory as ours.
const DB_FILE: &str = "attune.db";
/// Events per insert transaction: large enough that fsyncs do not dominate, small enough that
/// one transaction stays well under a second.
const EVENT_BATCH: usize = 10_000;

/// The demo shop's size: big enough for recommendations to be meaningful, small enough to load
/// in seconds on a laptop.
pub fn demo_config(seed: u64) -> SyntheticConfig {
    SyntheticConfig {
        n_users: 2_000,
        n_items: 500,
        n_events: 100_000,
        n_categories: 10,
        seed,
        span_days: 90,
        bot_users: 3,
        bot_events_per_user: 500,
        anonymous_devices: 40,
        ..SyntheticConfig::default()
    }
}

pub fn run(args: DemoArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    prepare_data_dir(&args.data_dir)?;
    let db = args.data_dir.join(DB_FILE);
    let store: Arc<dyn Store> = Arc::new(
        attune_store::sqlite::SqliteStore::open(&db)
            .with_context(|| format!("cannot open store {}", db.display()))?,
    );

    let data = attune_testkit::generate(&demo_config(args.seed));
    let generated = started.elapsed();
    let identities = load(store.as_ref(), &data)?;
    let counts = store.counts(DEFAULT_APP)?;
    let elapsed = started.elapsed();

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "attune demo: loaded a synthetic shop (seed {}) into {} in {} (generate {}, write {})",
        args.seed,
        db.display(),
        secs(elapsed),
        secs(generated),
        secs(elapsed - generated),
    )?;
    writeln!(out, "  app         {DEFAULT_APP}")?;
    writeln!(out, "  items       {}", counts.items)?;
    writeln!(out, "  users       {}", counts.users)?;
    writeln!(
        out,
        "  events      {} ({} bots, {} double-submitted clicks, {} views of deleted items)",
        counts.events,
        data.truth.bot_actors.len(),
        data.truth.near_duplicates,
        data.truth.unknown_item_events
    )?;
    writeln!(out, "  identities  {identities} devices linked to users")?;
    let sample = Sample::pick(&data);

    // Serve what was loaded: settings point at the demo directory, and a first model is
    // trained and activated before the API starts, so the first request is personalized.
    let mut settings = settings.clone();
    settings.data_dir = args.data_dir.clone();
    settings.store.url = String::new();
    let mut config = crate::serving::pipeline_config(&settings)?;
    config.seed = args.seed;
    let engine = crate::serving::engine(&settings, store.clone())?;
    let pipeline = attune_pipeline::Pipeline::new(engine, config);
    let request = attune_pipeline::TrainRequest {
        algorithm: args.algorithm.clone(),
        // Validated (so it carries metrics) and activated whatever was active before.
        promote: attune_pipeline::Promote::IfNotWorse {
            metric: attune_pipeline::promote::DEFAULT_METRIC.into(),
            margin: f64::INFINITY,
        },
    };
    let trained = pipeline.run(DEFAULT_APP, &request, &|_| {})?;
    anyhow::ensure!(
        trained.activated,
        "the demo model was not activated: {}",
        trained.promotion
    );
    let version = trained.version;
    writeln!(
        out,
        "  model       v{version:04} ({}) trained and activated; validation NDCG@10 {:.3}",
        args.algorithm,
        trained
            .metrics
            .get("validation.ndcg@10")
            .copied()
            .unwrap_or(f64::NAN)
    )?;

    if args.no_serve {
        writeln!(out)?;
        writeln!(
            out,
            "Serve it with: ATTUNE_DATA_DIR={} attune serve --bind {}",
            shell_quote(&args.data_dir.display().to_string()),
            args.bind
        )?;
        write_examples(&mut out, &args.bind, &sample)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }

    let runtime = serve::runtime()?;
    runtime.block_on(async {
        let listener = serve::bind_listener(&args.bind).await?;
        let addr = listener.local_addr()?.to_string();
        write_examples(&mut out, &addr, &sample)?;
        writeln!(out)?;
        writeln!(
            out,
            "Serving on http://{addr} (the demo shop: http://{addr}/demo, the dashboard: http://{addr}/ui); press Ctrl-C to stop."
        )?;
        out.flush()?;
        drop(out);
        serve::serve_until_signal(listener, store, &settings, |state| {
            state.with_demo_page(DEMO_PAGE)
        })
        .await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Make `dir` an empty directory, wiping it only if it is an attune data directory (holds
/// `attune.db`) or already empty: `--data-dir .` by mistake must not delete a project.
fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| format!("cannot use data directory {}", dir.display()))
        }
        Ok(meta) => {
            anyhow::ensure!(
                meta.is_dir(),
                "refusing to use {} as the demo data directory: it is not a directory",
                dir.display()
            );
            let empty = std::fs::read_dir(dir)
                .with_context(|| format!("cannot read data directory {}", dir.display()))?
                .next()
                .is_none();
            anyhow::ensure!(
                empty || dir.join(DB_FILE).is_file(),
                "refusing to wipe {}: it is not empty and holds no {DB_FILE}, so it does not look like an \
                 attune data directory; pass another --data-dir",
                dir.display()
            );
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot wipe {}", dir.display()))?;
        }
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))
}

/// Write the data set into the default app; returns how many devices were linked to users.
fn load(store: &dyn Store, data: &SyntheticData) -> anyhow::Result<usize> {
    store.create_app(DEFAULT_APP)?;
    store
        .upsert_items(DEFAULT_APP, &data.items)
        .context("cannot write the demo items")?;
    store
        .upsert_users(DEFAULT_APP, &data.users)
        .context("cannot write the demo users")?;
    for batch in data.events.chunks(EVENT_BATCH) {
        store
            .insert_events(DEFAULT_APP, batch)
            .context("cannot write the demo events")?;
    }
    // The devices that later logged in: link them, as a site's login hook would via
    // POST /v1/identify, so their anonymous history counts for the user.
    for (anonymous_id, user_id) in &data.truth.identified_devices {
        store
            .identify(DEFAULT_APP, anonymous_id, user_id)
            .with_context(|| format!("cannot link device {anonymous_id} to {user_id}"))?;
    }
    Ok(data.truth.identified_devices.len())
}

/// Real ids from the data, so every example request returns something.
struct Sample {
    /// The most active user with a profile.
    user_id: String,
    /// The item that user touched last.
    item_id: String,
    /// That item's first category.
    category: String,
}

impl Sample {
    fn pick(data: &SyntheticData) -> Sample {
        let profiles: std::collections::HashSet<&str> =
            data.users.iter().map(|u| u.user_id.as_str()).collect();
        let mut activity: BTreeMap<&str, usize> = BTreeMap::new();
        for e in &data.events {
            if let Some(u) = e.user_id.as_deref().filter(|u| profiles.contains(u)) {
                *activity.entry(u).or_default() += 1;
            }
        }
        // Most events, ties to the smallest id: deterministic.
        let user_id = activity
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map_or_else(|| data.users[0].user_id.clone(), |(u, _)| (*u).to_string());
        let item_id = data
            .events
            .iter()
            .rev()
            .filter(|e| e.user_id.as_deref() == Some(user_id.as_str()))
            .find_map(|e| e.item_id.clone())
            .filter(|i| data.items.iter().any(|it| &it.item_id == i))
            .unwrap_or_else(|| data.items[0].item_id.clone());
        let category = data
            .items
            .iter()
            .find(|it| it.item_id == item_id)
            .and_then(|it| it.categories.first().cloned())
            .unwrap_or_default();
        Sample {
            user_id,
            item_id,
            category,
        }
    }
}

/// Example requests covering the main API, against `addr`.
fn write_examples(out: &mut dyn std::io::Write, addr: &str, s: &Sample) -> std::io::Result<()> {
    let base = format!("http://{addr}");
    let (user, item, category) = (&s.user_id, &s.item_id, &s.category);
    let examples = [
        (
            "Ingest one event (durably stored when the answer arrives):",
            format!(
                "curl -sS -X POST {base}/v1/events -H 'Content-Type: application/json' \\\n  \
                 -d '{{\"type\": \"view\", \"user_id\": \"{user}\", \"item_id\": \"{item}\"}}'"
            ),
        ),
        (
            "Ingest a batch as NDJSON (one event per line; ids make retries safe):",
            format!(
                "printf '%s\\n' \\\n  \
                 '{{\"event_id\": \"demo-1\", \"type\": \"click\", \"anonymous_id\": \"device-123\", \"item_id\": \"{item}\"}}' \\\n  \
                 '{{\"event_id\": \"demo-2\", \"type\": \"purchase\", \"anonymous_id\": \"device-123\", \"item_id\": \"{item}\", \"properties\": {{\"price\": 19.9, \"quantity\": 1}}}}' \\\n  \
                 | curl -sS -X POST {base}/v1/events -H 'Content-Type: application/x-ndjson' --data-binary @-"
            ),
        ),
        (
            "Identify: link the device to a user (its anonymous events move to the user):",
            format!(
                "curl -sS -X POST {base}/v1/identify -H 'Content-Type: application/json' \\\n  \
                 -d '{{\"anonymous_id\": \"device-123\", \"user_id\": \"{user}\"}}'"
            ),
        ),
        ("Get an item:", format!("curl -sS {base}/v1/items/{item}")),
        (
            "Create or replace a user profile:",
            format!(
                "curl -sS -X PUT {base}/v1/users/new-user-1 -H 'Content-Type: application/json' \\\n  \
                 -d '{{\"attributes\": {{\"age\": 31, \"location\": \"Berlin\"}}, \"preferred_categories\": [\"books\"]}}'"
            ),
        ),
        ("A user's latest events:", format!("curl -sS '{base}/v1/users/{user}/events?limit=5'")),
        (
            "Recommendations for a user, each item with its score and the reason:",
            format!("curl -sS '{base}/v1/users/{user}/recommendations?n=5'"),
        ),
        (
            "Diversified, only available items of one category, second page:",
            format!("curl -sS '{base}/v1/users/{user}/recommendations?n=5&offset=5&diversity=0.7&category={category}'"),
        ),
        (
            "A click changes the next list at once (no retraining):",
            format!(
                "curl -sS -X POST {base}/v1/events -H 'Content-Type: application/json' \\\n  \
                 -d '{{\"type\": \"click\", \"user_id\": \"{user}\", \"item_id\": \"{item}\", \"properties\": {{\"recommendation_id\": \"FROM-THE-LIST\"}}}}' \\\n  \
                 && curl -sS '{base}/v1/users/{user}/recommendations?n=5'"
            ),
        ),
        (
            "A new user with nothing gets the cold-start chain (trending, popular):",
            format!("curl -sS '{base}/v1/users/someone-new/recommendations?n=5'"),
        ),
        ("Items similar to an item:", format!("curl -sS '{base}/v1/items/{item}/similar?n=5'")),
        ("Popular and trending:", format!("curl -sS '{base}/v1/popular?n=5' && curl -sS '{base}/v1/trending?n=5'")),
        (
            "Personalization off for a user (consent):",
            format!(
                "curl -sS -X PUT {base}/v1/users/{user}/consent -H 'Content-Type: application/json' -d '{{\"personalization\": false}}'"
            ),
        ),
        (
            "Models: the registry, and retraining in the background (promoted if not worse); \
             POST /v1/models/VERSION/activate and /v1/models/rollback switch versions:",
            format!(
                "curl -sS {base}/v1/models\n\
                 curl -sS -X POST {base}/v1/models/train -H 'Content-Type: application/json' -d '{{\"algorithm\": \"auto\"}}'"
            ),
        ),
        ("Prometheus metrics:", format!("curl -sS {base}/metrics | grep attune_")),
        ("Liveness and readiness:", format!("curl -sS {base}/health && curl -sS {base}/ready")),
    ];
    writeln!(out)?;
    writeln!(out, "Try it:")?;
    for (what, cmd) in examples {
        writeln!(out)?;
        writeln!(out, "# {what}")?;
        writeln!(out, "{cmd}")?;
    }
    Ok(())
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Quote for a POSIX shell when needed (paths with spaces).
fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
