//! The experiment lifecycle's rules, written once for both backends (as `registry.rs` is for
//! models): what a valid record is, how a layer's buckets are allocated, and what start and
//! stop do. A backend implements [`ExperimentTx`] over one open transaction in which the app's
//! experiment writes are serialized, and calls [`start`] / [`stop`].

use crate::codec::now_micros;
use crate::{
    ExperimentPhase, ExperimentRecord, ExperimentStatus, Result, StoreError, LAYER_BUCKETS,
};

/// Longest experiment or layer name, bytes.
pub(crate) const MAX_NAME_LEN: usize = 128;

/// The experiment operations a backend provides inside one transaction of one app.
pub(crate) trait ExperimentTx {
    /// Serialize with every other experiment write of the app until the transaction ends.
    fn lock(&mut self) -> Result<()>;
    /// One experiment.
    fn get(&mut self, name: &str) -> Result<Option<ExperimentRecord>>;
    /// Bucket ranges held by the experiments running in `layer`.
    fn running_in(&mut self, layer: &str) -> Result<Vec<(u32, u32)>>;
    /// Write back a changed record (same name).
    fn put(&mut self, rec: &ExperimentRecord) -> Result<()>;
    /// Insert or replace a phase.
    fn put_phase(&mut self, name: &str, phase: &ExperimentPhase) -> Result<()>;
}

fn invalid(field: &str, reason: impl Into<String>) -> StoreError {
    StoreError::InvalidExperiment {
        field: field.to_string(),
        reason: reason.into(),
    }
}

/// Check a new experiment's name, layer and definition.
pub(crate) fn check_new(name: &str, layer: &str, definition: &str) -> Result<()> {
    for (field, v) in [("name", name), ("layer", layer)] {
        if v.is_empty() || v.len() > MAX_NAME_LEN || v.chars().any(char::is_control) {
            return Err(invalid(
                field,
                format!("must be 1 to {MAX_NAME_LEN} bytes without control characters"),
            ));
        }
    }
    check_definition(definition)
}

/// A definition must be a JSON object.
pub(crate) fn check_definition(definition: &str) -> Result<()> {
    match serde_json::from_str::<serde_json::Value>(definition) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) => Err(invalid("definition", "must be a JSON object")),
        Err(e) => Err(invalid("definition", format!("is not JSON: {e}"))),
    }
}

/// The first range of `wanted` buckets free of every range in `taken`, lowest first.
pub(crate) fn allocate(taken: &[(u32, u32)], wanted: u32) -> Option<(u32, u32)> {
    if wanted == 0 || wanted > LAYER_BUCKETS {
        return None;
    }
    let mut taken = taken.to_vec();
    taken.sort_unstable();
    let mut start = 0u32;
    for &(a, b) in &taken {
        if a >= start && a - start >= wanted {
            break;
        }
        start = start.max(b);
    }
    (LAYER_BUCKETS - start.min(LAYER_BUCKETS) >= wanted).then_some((start, start + wanted))
}

fn unknown(app: &str, name: &str) -> StoreError {
    StoreError::UnknownExperiment {
        app: app.to_string(),
        name: name.to_string(),
    }
}

/// [`ExperimentStore::start_experiment`](crate::ExperimentStore::start_experiment).
pub(crate) fn start(
    tx: &mut impl ExperimentTx,
    app: &str,
    name: &str,
    wanted: u32,
) -> Result<ExperimentRecord> {
    if wanted == 0 || wanted > LAYER_BUCKETS {
        return Err(invalid(
            "traffic_buckets",
            format!("must be from 1 to {LAYER_BUCKETS}, got {wanted}"),
        ));
    }
    tx.lock()?;
    let mut rec = tx.get(name)?.ok_or_else(|| unknown(app, name))?;
    if rec.status == ExperimentStatus::Running {
        return Err(StoreError::Conflict(format!(
            "experiment {name:?} is running already (phase {})",
            rec.phase
        )));
    }
    let taken = tx.running_in(&rec.layer)?;
    let buckets = allocate(&taken, wanted).ok_or_else(|| StoreError::LayerFull {
        name: name.to_string(),
        layer: rec.layer.clone(),
        wanted,
        total: LAYER_BUCKETS,
    })?;
    let now = now_micros();
    rec.status = ExperimentStatus::Running;
    rec.phase += 1;
    rec.buckets = Some(buckets);
    rec.started_micros = Some(now);
    rec.stopped_micros = None;
    tx.put(&rec)?;
    tx.put_phase(
        name,
        &ExperimentPhase {
            phase: rec.phase,
            definition: rec.definition.clone(),
            buckets,
            started_micros: now,
            stopped_micros: None,
        },
    )?;
    Ok(rec)
}

/// [`ExperimentStore::stop_experiment`](crate::ExperimentStore::stop_experiment).
pub(crate) fn stop(tx: &mut impl ExperimentTx, app: &str, name: &str) -> Result<ExperimentRecord> {
    tx.lock()?;
    let mut rec = tx.get(name)?.ok_or_else(|| unknown(app, name))?;
    match rec.status {
        ExperimentStatus::Stopped => return Ok(rec),
        ExperimentStatus::Draft => {
            return Err(StoreError::Conflict(format!(
                "experiment {name:?} was never started"
            )))
        }
        ExperimentStatus::Running => {}
    }
    let now = now_micros();
    let buckets = rec.buckets.take().ok_or_else(|| StoreError::Corrupt {
        table: "experiments",
        detail: format!("running experiment {name:?} holds no buckets"),
    })?;
    rec.status = ExperimentStatus::Stopped;
    rec.stopped_micros = Some(now);
    tx.put(&rec)?;
    tx.put_phase(
        name,
        &ExperimentPhase {
            phase: rec.phase,
            definition: rec.definition.clone(),
            buckets,
            started_micros: rec.started_micros.unwrap_or(now),
            stopped_micros: Some(now),
        },
    )?;
    Ok(rec)
}

/// [`ExperimentStore::update_experiment`](crate::ExperimentStore::update_experiment).
pub(crate) fn update(
    tx: &mut impl ExperimentTx,
    app: &str,
    name: &str,
    definition: &str,
) -> Result<ExperimentRecord> {
    check_definition(definition)?;
    tx.lock()?;
    let mut rec = tx.get(name)?.ok_or_else(|| unknown(app, name))?;
    if rec.status == ExperimentStatus::Running {
        return Err(StoreError::Conflict(format!(
            "experiment {name:?} is running: stop it, change it, and start a new phase (a running \
             phase never changes, so its results never mix two definitions)"
        )));
    }
    rec.definition = definition.to_string();
    tx.put(&rec)?;
    Ok(rec)
}

/// A phase number from a stored integer.
pub(crate) fn u32_from_i64(table: &'static str, field: &str, v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt {
        table,
        detail: format!("{field} out of range: {v}"),
    })
}

/// The status column.
pub(crate) fn status_from_str(s: &str) -> Result<ExperimentStatus> {
    ExperimentStatus::parse(s).ok_or_else(|| StoreError::Corrupt {
        table: "experiments",
        detail: format!("unknown status {s:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_go_to_the_first_gap_that_fits() {
        assert_eq!(allocate(&[], 2_500), Some((0, 2_500)));
        assert_eq!(allocate(&[(0, 2_500)], 5_000), Some((2_500, 7_500)));
        // A gap left by a stopped experiment is reused when it fits.
        assert_eq!(
            allocate(&[(2_000, 4_000), (6_000, 8_000)], 2_000),
            Some((0, 2_000))
        );
        assert_eq!(
            allocate(&[(0, 2_000), (6_000, 8_000)], 4_000),
            Some((2_000, 6_000))
        );
        assert_eq!(allocate(&[(0, 2_000), (6_000, 8_000)], 4_001), None);
        assert_eq!(
            allocate(&[(0, 2_000), (6_000, 8_000)], 2_000),
            Some((2_000, 4_000))
        );
        assert_eq!(allocate(&[(0, 10_000)], 1), None);
        assert_eq!(allocate(&[], 10_000), Some((0, 10_000)));
        assert_eq!(allocate(&[], 10_001), None);
        assert_eq!(allocate(&[], 0), None);
    }

    #[test]
    fn names_and_definitions_are_checked() {
        assert!(check_new("homepage-recs", "homepage", "{\"variants\": []}").is_ok());
        for (name, layer, def, field) in [
            ("", "l", "{}", "name"),
            ("n", "", "{}", "layer"),
            ("n\u{7}", "l", "{}", "name"),
            ("n", "l", "[1]", "definition"),
            ("n", "l", "{", "definition"),
        ] {
            match check_new(name, layer, def) {
                Err(StoreError::InvalidExperiment { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{name:?}/{layer:?}/{def:?}: {other:?}"),
            }
        }
    }
}
