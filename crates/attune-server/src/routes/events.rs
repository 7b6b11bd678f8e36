//! `POST /v1/events`: batch ingestion.
//!
//! The body (JSON array, one object, or NDJSON) is parsed once; each event is decoded with
//! [`event_from_json`] and validated with [`attune_core::event::validate`] independently, all
//! inside one blocking task; the valid events then go to the group-commit writer (`ingest.rs`).
//! Atomic by default: one invalid event fails the batch with 422 and nothing is stored. With
//! `?partial=true` the valid events are stored and the rejected ones listed. A body that is not
//! well-formed (including one bad NDJSON line) is a 400 either way: partial mode skips invalid
//! events, not unreadable bytes. The answer is sent only after `insert_events` returned `Ok`,
//! i.e. after the batch is durably committed; duplicates (by `event_id`, in the app or earlier
//! in the batch) are reported as such and stored once.

use attune_core::time::Timestamp;
use attune_store::InsertStatus;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;

use super::blocking;
use crate::api::{decode_event_batch, EventBatch, IngestResponse, IngestedEvent};
use crate::extract::{body_format, read_body, App, Params};
use crate::metrics::IngestOutcome;
use crate::problem::{Problem, MAX_LISTED_ERRORS};
use crate::streams::Published;
use crate::AppState;

/// The handler: extract, decode off the async workers, write through the group committer.
pub(super) async fn ingest(
    State(state): State<AppState>,
    App(app): App,
    params: Params,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestResponse>, Problem> {
    let partial = params.bool("partial")?;
    let format = body_format(&headers, true)?;
    let bytes = read_body(&headers, body, state.config.max_body_bytes).await?;
    let config = state.config.clone();
    let now = Timestamp::from_utc_micros(chrono::Utc::now().timestamp_micros());
    let batch = blocking(move || decode_event_batch(&config, &bytes, format, now)).await?;
    let EventBatch {
        events,
        event_idx,
        mut errors,
        n_rejected,
        n_records,
    } = batch;
    state
        .metrics
        .events_ingested(&app, IngestOutcome::Rejected, n_rejected);
    // Atomic mode fails here, before anything reaches the store.
    if n_rejected > 0 && !partial {
        let what = format!(
            "{n_rejected} of {n_records} events are invalid and nothing was stored (send ?partial=true to store the valid ones)"
        );
        return Err(Problem::invalid_batch(errors, &what));
    }
    let (events, statuses) = if events.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        state.ingester.insert(app.clone(), events).await?
    };
    // Committed: live state (real-time fold-in, trending) sees the new events before the
    // answer, so the client's next request reflects them. With a shared backend this writes
    // to it (blocking I/O), hence the blocking pool.
    if let Some(serving) = state.serving.clone() {
        let fresh: Vec<attune_core::event::Event> = events
            .iter()
            .zip(&statuses)
            .filter(|(_, s)| **s == InsertStatus::Accepted)
            .map(|(e, _)| e.clone())
            .collect();
        if let Some(p) = state.publisher.get() {
            let outcomes = crate::streams::attributed_outcomes(&fresh);
            crate::streams::publish_events(p.as_ref(), Published::Outcome, &app, outcomes);
        }
        if !fresh.is_empty() {
            let a = app.clone();
            blocking(move || {
                serving.observe(&a, &fresh);
                Ok(())
            })
            .await?;
        }
    }
    let mut accepted = 0;
    let mut duplicates = 0;
    let listed = events
        .into_iter()
        .zip(event_idx)
        .zip(statuses)
        .map(|((event, index), status)| {
            let status = match status {
                InsertStatus::Accepted => {
                    accepted += 1;
                    "accepted"
                }
                InsertStatus::Duplicate => {
                    duplicates += 1;
                    "duplicate"
                }
            };
            IngestedEvent {
                index,
                event_id: event.event_id,
                status,
            }
        })
        .collect();
    if n_rejected > 0 {
        tracing::debug!(app, n_rejected, "partial batch: invalid events skipped");
    }
    let metrics = &state.metrics;
    metrics.events_ingested(&app, IngestOutcome::Accepted, accepted);
    metrics.events_ingested(&app, IngestOutcome::Duplicate, duplicates);
    errors.truncate(MAX_LISTED_ERRORS);
    Ok(Json(IngestResponse {
        accepted,
        duplicates,
        rejected: n_rejected,
        events: listed,
        errors,
    }))
}
