//! `--by ATTR`: each `--algorithm` group measured per user segment, twice — with the one
//! candidate chosen for everyone, and with a candidate chosen on each segment's own
//! validation users. The question it answers is whether a model (or parameter set) per
//! segment beats one global model, segment by segment, without ever choosing on test.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::io::Write;

use attune_pipeline::train::grid;
use serde_json::{json, Value};

use super::plan::Fold;
use super::run::{self, FittedCandidate, FoldData, Measure, Phase};
use super::source::EvalData;
use super::HistoryGrid;

/// One segment's result for one `--algorithm` group.
#[derive(Debug, Clone)]
pub struct SegmentRow {
    pub column: String,
    pub segment: String,
    /// Test users of the segment (with a relevant held-out pair).
    pub users: usize,
    pub global_spec: String,
    pub global: f64,
    pub own_spec: String,
    pub own: f64,
    /// The segment's own choice on validation (and the global choice's there).
    pub own_validation: f64,
    pub global_validation: f64,
}

/// Everything the comparison needs from the run.
pub struct Inputs<'a> {
    pub fold: &'a Fold,
    pub fds: &'a [FoldData],
    pub grid: &'a HistoryGrid<'a>,
    pub measure: &'a Measure,
    pub select_by: &'a str,
    pub refit: bool,
}

/// Per segment of `masks`: the global choice (`global`: history-grid index and candidate
/// index) and the segment's own, both measured on the segment's test users.
pub fn compare(
    data: &mut dyn EvalData,
    inp: &Inputs,
    column: &str,
    cands: &[grid::Candidate],
    global: (usize, usize),
    masks: &[(String, Vec<bool>)],
) -> anyhow::Result<Vec<SegmentRow>> {
    let metric = inp.select_by;
    let lower_is_better = matches!(metric, "rmse" | "mae");
    let better = |a: f64, b: f64| if lower_is_better { a < b } else { a > b };
    // Validation score of every (history point, candidate) on every segment; one model at a
    // time.
    let mut scores: Vec<Vec<((usize, usize), f64)>> = vec![Vec::new(); masks.len()];
    // The training part is the same at every point of the history grid: one fit per candidate.
    for (c, cand) in cands.iter().enumerate() {
        let fitted = run::fit(&cand.spec, &inp.fds[0])?;
        for (r, fd) in inp.fds.iter().enumerate() {
            for (s, (_, mask)) in masks.iter().enumerate() {
                let v =
                    run::measure_users(&fitted, fd, inp.measure, Phase::Validation, Some(mask))?;
                // A segment without validation users has nothing to choose on.
                let users = v.get("users").copied().unwrap_or(0.0);
                if let Some(&x) = v.get(metric).filter(|x| x.is_finite() && users > 0.0) {
                    scores[s].push(((r, c), x));
                }
            }
        }
    }
    // Test models, fitted once per (history point, candidate) that some segment or everyone
    // chose.
    let mut refits: HashMap<usize, FoldData> = HashMap::new();
    let mut models: HashMap<(usize, usize), FittedCandidate> = HashMap::new();
    let label = |(r, c): (usize, usize)| inp.grid.label(&cands[c].spec.to_string(), r);
    let mut rows = Vec::new();
    for (s, (segment, mask)) in masks.iter().enumerate() {
        let Some(&(own, own_validation)) =
            scores[s]
                .iter()
                .fold(None, |best: Option<&((usize, usize), f64)>, x| match best {
                    Some(b) if !better(x.1, b.1) => Some(b),
                    _ => Some(x),
                })
        else {
            rows.push(SegmentRow {
                column: column.to_string(),
                segment: segment.clone(),
                users: 0,
                global_spec: label(global),
                global: f64::NAN,
                own_spec: String::new(),
                own: f64::NAN,
                own_validation: f64::NAN,
                global_validation: f64::NAN,
            });
            continue;
        };
        let global_validation = scores[s]
            .iter()
            .find(|x| x.0 == global)
            .map_or(f64::NAN, |x| x.1);
        let mut test = |key: (usize, usize)| -> anyhow::Result<(f64, usize)> {
            let (r, c) = key;
            let fd = if inp.refit {
                if let Entry::Vacant(e) = refits.entry(r) {
                    data.set_history_weights(inp.grid.values[r]);
                    let refit = inp.fold.with_validation_in_training();
                    e.insert(FoldData::new(&*data, &refit, inp.measure)?);
                }
                &refits[&r]
            } else {
                &inp.fds[r]
            };
            if let Entry::Vacant(e) = models.entry(key) {
                e.insert(run::fit(&cands[c].spec, fd)?);
            }
            let v = run::measure_users(&models[&key], fd, inp.measure, Phase::Test, Some(mask))?;
            Ok((
                v.get(metric).copied().unwrap_or(f64::NAN),
                v.get("users").copied().unwrap_or(0.0) as usize,
            ))
        };
        let (global_score, users) = test(global)?;
        let (own_score, _) = test(own)?;
        rows.push(SegmentRow {
            column: column.to_string(),
            segment: segment.clone(),
            users,
            global_spec: label(global),
            global: global_score,
            own_spec: label(own),
            own: own_score,
            own_validation,
            global_validation,
        });
    }
    Ok(rows)
}

/// The comparison as a table.
pub fn write_table(
    out: &mut dyn Write,
    attr: &str,
    metric: &str,
    rows: &[SegmentRow],
) -> std::io::Result<()> {
    let mut column = "";
    for r in rows {
        if r.column != column {
            column = &r.column;
            writeln!(
                out,
                "\n{column} by {attr} ({metric} on test; per-segment candidates chosen on each segment's validation users)"
            )?;
            writeln!(out, "global choice: {}", r.global_spec)?;
            writeln!(
                out,
                "{:<16} {:>6} {:>9} {:>12} {:>8}  chosen for the segment",
                attr, "users", "global", "per-segment", "change"
            )?;
        }
        if r.users == 0 {
            writeln!(
                out,
                "{:<16} {:>6}  no validation users: nothing to choose on, skipped",
                r.segment, 0
            )?;
            continue;
        }
        writeln!(
            out,
            "{:<16} {:>6} {:>9.4} {:>12.4} {:>+8.4}  {}",
            r.segment,
            r.users,
            r.global,
            r.own,
            r.own - r.global,
            r.own_spec
        )?;
    }
    Ok(())
}

/// The comparison as JSON rows.
pub fn to_json(rows: &[SegmentRow]) -> Value {
    Value::Array(
        rows.iter()
            .map(|r| {
                json!({
                    "column": r.column, "segment": r.segment, "users": r.users,
                    "global_spec": r.global_spec, "global": finite(r.global),
                    "global_validation": finite(r.global_validation),
                    "segment_spec": r.own_spec, "per_segment": finite(r.own),
                    "segment_validation": finite(r.own_validation),
                })
            })
            .collect(),
    )
}

fn finite(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}
