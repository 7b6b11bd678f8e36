//! Exact scoring of requests that arrive together, in one pass over the item factors.
//!
//! Scoring one user against a 50,000 x 64 catalog streams 12.8 MB of factors from memory
//! (0.3–0.4 ms, memory-bound); under load, two cores running a dozen such passes at once
//! share the same bandwidth, so each takes longer and the tail grows with the queue. Here
//! concurrent requests are combined instead ([`gemv_batch`]: tile by tile, each tile read once
//! for the whole batch), with no timer and no extra thread: a request that finds a free
//! "leader" place scores everything queued so far, its own query included; the others wait
//! and are scored by it, or take over when it leaves. Alone, a request is scored at once, as
//! before; under load, batches form by themselves and a burst costs little more than one pass.
//!
//! **Invariant:** every queued request is eventually scored: a leader that finishes wakes the
//! first request still queued, which leads the next batch (a request only queues when every
//! leader place is taken, so some leader will finish after it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use attune_core::model::scan::gemv_batch;

/// A batched scoring kernel: fills `outs[q]` with the scores of `queries[q]`.
pub type BatchKernel<'a> = dyn Fn(&[&[f32]], &mut [&mut [f32]]) + 'a;

/// Queries scored in one pass at most (the batch's outputs are 200 KB each at 50,000 items).
const MAX_BATCH: usize = 32;

/// Combines concurrent `rows · query` passes over one matrix of item factors.
pub struct ScoreBatcher {
    state: Mutex<State>,
    max_leaders: usize,
    passes: AtomicU64,
    queries: AtomicU64,
}

#[derive(Default)]
struct State {
    queue: Vec<Arc<Slot>>,
    leaders: usize,
}

#[derive(Default)]
struct Slot {
    inner: Mutex<SlotInner>,
    ready: Condvar,
}

#[derive(Default)]
struct SlotInner {
    query: Vec<f32>,
    out: Vec<f32>,
    done: bool,
    /// A leader left while this request was first in the queue: it should lead.
    woken: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl std::fmt::Debug for ScoreBatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScoreBatcher")
            .field("max_leaders", &self.max_leaders)
            .finish_non_exhaustive()
    }
}

impl ScoreBatcher {
    /// At most `max_leaders` passes run at once (the number of cores: more passes would only
    /// share the same memory bandwidth).
    pub fn new(max_leaders: usize) -> Self {
        Self {
            state: Mutex::default(),
            max_leaders: max_leaders.max(1),
            passes: AtomicU64::new(0),
            queries: AtomicU64::new(0),
        }
    }

    /// Passes over the factors and queries scored so far (queries per pass is the batching).
    pub fn stats(&self) -> (u64, u64) {
        (
            self.passes.load(Ordering::Relaxed),
            self.queries.load(Ordering::Relaxed),
        )
    }

    /// `out = rows · query` (row-major `rows` of `query.len()` columns; `out` is resized to the
    /// number of rows). Blocks until computed, by this thread or by the leader of its batch.
    /// Every caller of one batcher must pass the same `rows`.
    ///
    /// # Panics
    /// If `rows` is not whole rows of `query.len()`.
    pub fn score(&self, rows: &[f32], query: &[f32], out: &mut Vec<f32>) {
        assert!(
            !query.is_empty() && rows.len().is_multiple_of(query.len()),
            "rows must be whole rows of the query's length"
        );
        let n = rows.len() / query.len();
        self.score_with(n, query, out, &|qs, os| gemv_batch(rows, qs, os));
    }

    /// [`ScoreBatcher::score`] with any batched kernel over `n` items (every caller of one
    /// batcher passes the same kernel): `kernel(queries, outs)` fills each output.
    pub fn score_with(
        &self,
        n: usize,
        query: &[f32],
        out: &mut Vec<f32>,
        kernel: &BatchKernel<'_>,
    ) {
        let mut buf = std::mem::take(out);
        buf.resize(n, 0.0);
        let slot = Arc::new(Slot {
            inner: Mutex::new(SlotInner {
                query: query.to_vec(),
                out: buf,
                done: false,
                woken: false,
            }),
            ready: Condvar::new(),
        });
        let mut state = lock(&self.state);
        state.queue.push(slot.clone());
        loop {
            let queued = state.queue.iter().any(|s| Arc::ptr_eq(s, &slot));
            if queued && state.leaders < self.max_leaders {
                state.leaders += 1;
                let take = state.queue.len().min(MAX_BATCH);
                let batch: Vec<Arc<Slot>> = state.queue.drain(..take).collect();
                drop(state);
                self.passes.fetch_add(1, Ordering::Relaxed);
                self.queries
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                run(kernel, &batch);
                state = lock(&self.state);
                state.leaders -= 1;
                if let Some(next) = state.queue.first() {
                    lock(&next.inner).woken = true;
                    next.ready.notify_one();
                }
            } else {
                drop(state);
                let mut inner = lock(&slot.inner);
                while !inner.done && !inner.woken {
                    inner = slot
                        .ready
                        .wait(inner)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                inner.woken = false;
                if inner.done {
                    *out = std::mem::take(&mut inner.out);
                    return;
                }
                drop(inner);
                state = lock(&self.state);
                continue;
            }
            let mut inner = lock(&slot.inner);
            if inner.done {
                *out = std::mem::take(&mut inner.out);
                return;
            }
            // This leader's batch was full before its own query: lead again or wait.
            inner.woken = false;
            drop(inner);
            state = lock(&self.state);
        }
    }
}

/// Score a batch and hand each query its scores.
fn run(kernel: &BatchKernel<'_>, batch: &[Arc<Slot>]) {
    let (queries, mut outs): (Vec<Vec<f32>>, Vec<Vec<f32>>) = batch
        .iter()
        .map(|s| {
            let mut i = lock(&s.inner);
            (std::mem::take(&mut i.query), std::mem::take(&mut i.out))
        })
        .unzip();
    {
        let qs: Vec<&[f32]> = queries.iter().map(Vec::as_slice).collect();
        let mut os: Vec<&mut [f32]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
        kernel(&qs, &mut os);
    }
    for (s, out) in batch.iter().zip(outs) {
        let mut i = lock(&s.inner);
        i.out = out;
        i.done = true;
        s.ready.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attune_core::model::scan::gemv;

    fn matrix(n: usize, k: usize) -> Vec<f32> {
        (0..n * k)
            .map(|v| ((v * 7919 % 2003) as f32 / 1000.0) - 1.0)
            .collect()
    }

    #[test]
    fn alone_a_request_gets_exactly_the_single_pass_scores() {
        let (n, k) = (1_200, 16);
        let rows = matrix(n, k);
        let q: Vec<f32> = (0..k).map(|i| i as f32 / 10.0 - 0.5).collect();
        let b = ScoreBatcher::new(2);
        let mut out = Vec::new();
        b.score(&rows, &q, &mut out);
        let mut want = vec![0f32; n];
        gemv(&rows, &q, &mut want);
        assert_eq!(out, want);
    }

    #[test]
    fn concurrent_requests_each_get_their_own_scores() {
        let (n, k) = (20_000, 32);
        let rows = Arc::new(matrix(n, k));
        // One leader place: requests must queue, batch and hand leadership on.
        let b = Arc::new(ScoreBatcher::new(1));
        let start = Arc::new(std::sync::Barrier::new(12));
        let handles: Vec<_> = (0..12)
            .map(|t| {
                let (rows, b, start) = (rows.clone(), b.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    for r in 0..10 {
                        let q: Vec<f32> = (0..k)
                            .map(|i| ((t * 31 + r * 7 + i) % 13) as f32 - 6.0)
                            .collect();
                        let mut out = Vec::new();
                        b.score(&rows, &q, &mut out);
                        let mut want = vec![0f32; n];
                        gemv(&rows, &q, &mut want);
                        assert_eq!(out, want, "thread {t}, round {r}");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let s = lock(&b.state);
        assert!(s.queue.is_empty() && s.leaders == 0);
        let (passes, queries) = b.stats();
        assert_eq!(queries, 120);
        assert!(passes < queries, "requests were batched: {passes} passes");
    }
}
