//! Group commit for event ingestion.
//!
//! Every store write is one durable transaction, and on SQLite a transaction has a large fixed
//! cost (fsync of the WAL, checkpoints): measured on the 2-core dev machine, 1,000 events cost
//! ~45 ms in one transaction but 5,000 cost ~60 ms, and a 10-event batch costs as much as
//! ~3 ms of fsync. So validated batches from concurrent requests are handed to one writer thread,
//! which drains whatever has queued up while the previous transaction ran, merges the batches
//! of each app into one `insert_events` call, and answers each request with its own slice of
//! the statuses. Under light load a batch is written alone, immediately; under heavy load many
//! small tracker requests share one commit.
//!
//! **Invariant kept:** a request is answered only after the transaction holding its events
//! returned `Ok`. Merging does not change duplicate semantics: the store reports an event id
//! seen earlier in the merged batch as a duplicate, exactly as if the requests had been written
//! one after the other in queue order.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use attune_core::event::Event;
use attune_store::{InsertStatus, Store};
use tokio::sync::{mpsc, oneshot};

use crate::problem::Problem;

/// Stop merging once a transaction holds this many events.
const MAX_GROUP_EVENTS: usize = 20_000;
/// Batches waiting for the writer before senders wait (backpressure to clients).
const QUEUE_DEPTH: usize = 64;

type Reply = Result<(Vec<Event>, Vec<InsertStatus>), Problem>;

struct Job {
    app: String,
    events: Vec<Event>,
    reply: oneshot::Sender<Reply>,
}

/// Handle to the writer thread; cheap to clone. The thread ends when the last handle is dropped
/// and the queue is empty.
#[derive(Clone)]
pub(crate) struct Ingester {
    tx: mpsc::Sender<Job>,
}

impl Ingester {
    /// Start the writer thread for `store`.
    pub(crate) fn start(store: Arc<dyn Store>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        std::thread::Builder::new()
            .name("attune-ingest".into())
            .spawn(move || writer_loop(store.as_ref(), rx))
            .expect("spawn the ingest writer thread");
        Self { tx }
    }

    /// Store `events` durably in `app`; returns them with their statuses, in order.
    pub(crate) async fn insert(&self, app: String, events: Vec<Event>) -> Reply {
        let gone = || Problem::internal("the ingest writer stopped", &"its thread has exited");
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job { app, events, reply })
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

fn writer_loop(store: &dyn Store, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.blocking_recv() {
        let mut n_events = first.events.len();
        let mut jobs = vec![first];
        while n_events < MAX_GROUP_EVENTS {
            match rx.try_recv() {
                Ok(job) => {
                    n_events += job.events.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        // One transaction per app, apps in order of first appearance, jobs in queue order.
        while !jobs.is_empty() {
            let app = jobs[0].app.clone();
            let (group, rest): (Vec<Job>, Vec<Job>) = jobs.into_iter().partition(|j| j.app == app);
            jobs = rest;
            write_group(store, &app, group);
        }
    }
}

fn write_group(store: &dyn Store, app: &str, mut group: Vec<Job>) {
    if group.len() == 1 {
        let job = group.pop().expect("one job");
        let result = insert(store, app, &job.events).map(|statuses| (job.events, statuses));
        let _ = job.reply.send(result);
        return;
    }
    let n_events = group.iter().map(|j| j.events.len()).sum();
    let mut all = Vec::with_capacity(n_events);
    let mut parts = Vec::with_capacity(group.len());
    for job in group {
        let n = job.events.len();
        all.extend(job.events);
        parts.push((n, job.reply));
    }
    tracing::trace!(app, n_requests = parts.len(), n_events, "group commit");
    match insert(store, app, &all) {
        Ok(mut statuses) => {
            for (n, reply) in parts.into_iter().rev() {
                let events = all.split_off(all.len() - n);
                let st = statuses.split_off(statuses.len() - n);
                let _ = reply.send(Ok((events, st)));
            }
        }
        Err(problem) => {
            for (_, reply) in parts {
                let _ = reply.send(Err(problem.clone()));
            }
        }
    }
}

/// One `insert_events` call; a panic in the store becomes a 500 instead of killing the writer.
fn insert(store: &dyn Store, app: &str, events: &[Event]) -> Result<Vec<InsertStatus>, Problem> {
    let statuses = match catch_unwind(AssertUnwindSafe(|| store.insert_events(app, events))) {
        Ok(result) => result?,
        Err(_) => {
            return Err(Problem::internal(
                "the store panicked while inserting events",
                &app,
            ))
        }
    };
    if statuses.len() != events.len() {
        return Err(Problem::internal(
            "the store answered for a different number of events",
            &format!("{} statuses for {} events", statuses.len(), events.len()),
        ));
    }
    Ok(statuses)
}
