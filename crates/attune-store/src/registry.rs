//! The model registry's rules, written once for both backends.
//!
//! The backends own the SQL; this module owns what it means: how a record is checked and
//! encoded, how a status is derived, and the activation history walk behind
//! [`Store::activate_model`](crate::Store::activate_model) and
//! [`Store::rollback_model`](crate::Store::rollback_model). A backend implements
//! [`RegistryTx`] over one open transaction and calls [`activate`] / [`rollback`], so the
//! two backends cannot drift apart on semantics.
//!
//! The history is a linked list: every entry (an activation or a rollback) names the entry a
//! rollback from it returns to (`back_seq`). Activating version V appends `{V, back: current}`;
//! rolling back from the current entry C appends `{T.version, back: T.back}` where T is the
//! entry C points back to. So rollbacks walk back one activation at a time, and an activation
//! made after a rollback is what the next rollback undoes. The newest entry is always the one
//! in effect, so the app's activation seq is also the seq of its active entry.

use std::collections::BTreeMap;

use serde_json::{Map, Number, Value};

use crate::codec::{now_micros, to_i64};
use crate::{
    Activation, ActivationKind, ActivationOutcome, ModelInfo, ModelStatus, Result, StoreError,
};

/// The app's registry row, locked for the rest of the transaction.
pub(crate) struct State {
    /// Seq of the newest activation entry (the one in effect); 0 = never activated.
    pub seq: u64,
    /// The active version (`None` iff `seq == 0`).
    pub active: Option<u32>,
}

/// One stored activation entry.
pub(crate) struct Entry {
    pub activation: Activation,
    /// The entry a rollback from this one returns to.
    pub back_seq: Option<u64>,
}

/// The registry operations a backend provides inside one transaction of one app.
pub(crate) trait RegistryTx {
    /// Create the app's registry row if absent and lock it until the transaction ends.
    fn lock_state(&mut self) -> Result<State>;
    /// Whether `version` is registered.
    fn is_registered(&mut self, version: u32) -> Result<bool>;
    /// The entry with this seq (it must exist: seqs come from the state and from entries).
    fn entry(&mut self, seq: u64) -> Result<Entry>;
    /// Store `entry` and make it the one in effect (state seq and active version).
    fn append(&mut self, entry: &Entry) -> Result<()>;
}

fn check_expected(app: &str, state: &State, expected: Option<u64>) -> Result<()> {
    match expected {
        Some(e) if e != state.seq => Err(StoreError::StaleActivation {
            app: app.to_string(),
            expected: e,
            current: state.seq,
        }),
        _ => Ok(()),
    }
}

/// [`Store::activate_model`](crate::Store::activate_model) over a backend transaction.
pub(crate) fn activate(
    tx: &mut impl RegistryTx,
    app: &str,
    version: u32,
    expected_seq: Option<u64>,
) -> Result<ActivationOutcome> {
    let state = tx.lock_state()?;
    if !tx.is_registered(version)? {
        return Err(StoreError::UnknownModel {
            app: app.to_string(),
            version,
        });
    }
    check_expected(app, &state, expected_seq)?;
    if state.active == Some(version) {
        // Re-activating is a no-op: no new seq, so replicas do not reload for nothing and the
        // history keeps one entry per real change (rollback stays one step per change).
        return Ok(ActivationOutcome {
            activation: tx.entry(state.seq)?.activation,
            changed: false,
        });
    }
    let entry = Entry {
        activation: Activation {
            seq: state.seq + 1,
            version,
            previous: state.active,
            kind: ActivationKind::Activate,
            at_micros: now_micros(),
        },
        back_seq: (state.seq > 0).then_some(state.seq),
    };
    tx.append(&entry)?;
    Ok(ActivationOutcome {
        activation: entry.activation,
        changed: true,
    })
}

/// [`Store::rollback_model`](crate::Store::rollback_model) over a backend transaction.
pub(crate) fn rollback(
    tx: &mut impl RegistryTx,
    app: &str,
    expected_seq: Option<u64>,
) -> Result<ActivationOutcome> {
    let state = tx.lock_state()?;
    check_expected(app, &state, expected_seq)?;
    let none = || StoreError::NoRollbackTarget {
        app: app.to_string(),
    };
    if state.seq == 0 {
        return Err(none());
    }
    let current = tx.entry(state.seq)?;
    let target = tx.entry(current.back_seq.ok_or_else(none)?)?;
    let entry = Entry {
        activation: Activation {
            seq: state.seq + 1,
            version: target.activation.version,
            previous: state.active,
            kind: ActivationKind::Rollback,
            at_micros: now_micros(),
        },
        back_seq: target.back_seq,
    };
    tx.append(&entry)?;
    Ok(ActivationOutcome {
        activation: entry.activation,
        changed: true,
    })
}

/// The columns of a checked record that need encoding (the rest are stored as given).
pub(crate) struct ModelRow {
    pub metrics: String,
    pub checksum: String,
    pub size_bytes: i64,
}

/// Check a record to register and encode the columns that need it.
pub(crate) fn encode(info: &ModelInfo) -> Result<ModelRow> {
    let invalid = |field: &str, reason: String| StoreError::InvalidModel {
        field: field.to_string(),
        reason,
    };
    if info.algorithm.trim().is_empty() {
        return Err(invalid("algorithm", "must not be empty".into()));
    }
    if info.artifact.location.trim().is_empty() {
        return Err(invalid("artifact.location", "must not be empty".into()));
    }
    match serde_json::from_str::<Value>(&info.params) {
        Ok(Value::Object(_)) => {}
        Ok(other) => {
            return Err(invalid(
                "params",
                format!("must be a JSON object, got {other}"),
            ))
        }
        Err(e) => return Err(invalid("params", format!("not JSON: {e}"))),
    }
    if let Err(e) = serde_json::from_str::<Value>(&info.data_snapshot) {
        return Err(invalid("data_snapshot", format!("not JSON: {e}")));
    }
    let mut metrics = Map::new();
    for (name, &v) in &info.metrics {
        let n = Number::from_f64(v).ok_or_else(|| {
            invalid(
                &format!("metrics.{name}"),
                format!("{v} is not a finite number"),
            )
        })?;
        metrics.insert(name.clone(), Value::Number(n));
    }
    Ok(ModelRow {
        metrics: Value::Object(metrics).to_string(),
        checksum: checksum_to_text(info.artifact.checksum),
        size_bytes: to_i64("model_versions", "artifact_bytes", info.artifact.size_bytes)?,
    })
}

/// Checksums are stored as 16 lowercase hex digits: readable in SQL and in the same form the
/// artifact reader prints in its errors.
pub(crate) fn checksum_to_text(c: u64) -> String {
    format!("{c:016x}")
}

pub(crate) fn corrupt(detail: String) -> StoreError {
    StoreError::Corrupt {
        table: "model_versions",
        detail,
    }
}

pub(crate) fn checksum_from_text(text: &str) -> Result<u64> {
    u64::from_str_radix(text, 16)
        .ok()
        .filter(|_| text.len() == 16)
        .ok_or_else(|| corrupt(format!("bad artifact checksum {text:?}")))
}

/// Decode the metrics column.
pub(crate) fn metrics_from_json(text: &str) -> Result<BTreeMap<String, f64>> {
    let bad = || corrupt(format!("bad metrics {text:?}"));
    match serde_json::from_str::<Value>(text).map_err(|_| bad())? {
        Value::Object(obj) => obj
            .into_iter()
            .map(|(k, v)| v.as_f64().map(|x| (k, x)).ok_or_else(bad))
            .collect(),
        _ => Err(bad()),
    }
}

/// A stored status name (computed by the queries' `CASE`) back to the status.
pub(crate) fn status_from_str(s: &str) -> Result<ModelStatus> {
    match s {
        "active" => Ok(ModelStatus::Active),
        "inactive" => Ok(ModelStatus::Inactive),
        "candidate" => Ok(ModelStatus::Candidate),
        other => Err(corrupt(format!("unknown status {other:?}"))),
    }
}

/// A stored activation kind back to the kind.
pub(crate) fn kind_from_str(s: &str) -> Result<ActivationKind> {
    match s {
        "activate" => Ok(ActivationKind::Activate),
        "rollback" => Ok(ActivationKind::Rollback),
        other => Err(StoreError::Corrupt {
            table: "model_activations",
            detail: format!("unknown activation kind {other:?}"),
        }),
    }
}

/// A stored version number back to `u32`.
pub(crate) fn version_from_i64(table: &'static str, v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt {
        table,
        detail: format!("version {v} out of range"),
    })
}

/// A stored seq back to `u64`.
pub(crate) fn seq_from_i64(table: &'static str, v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt {
        table,
        detail: format!("negative activation seq {v}"),
    })
}

/// The `Conflict` for registering a version nobody reserved.
pub(crate) fn not_reserved(app: &str, version: u32) -> StoreError {
    StoreError::Conflict(format!(
        "model version {version} of app {app:?} was not reserved; reserve a version first (reserve_model_version)"
    ))
}

/// The `Conflict` for registering a version twice.
pub(crate) fn already_registered(app: &str, version: u32) -> StoreError {
    StoreError::Conflict(format!(
        "model version {version} of app {app:?} is already registered"
    ))
}

/// The SQL `CASE` that derives a version's status; `m` is the model_versions row, `r` the
/// app's registry row (LEFT JOIN), parameter-free so both dialects share it.
pub(crate) const STATUS_CASE: &str = "CASE WHEN r.active_version = m.version THEN 'active' \
     WHEN EXISTS (SELECT 1 FROM model_activations a WHERE a.app_id = m.app_id AND a.version = m.version) \
     THEN 'inactive' ELSE 'candidate' END";

/// Columns of a model_versions row, in the order the backends decode them, then the status.
pub(crate) const MODEL_COLUMNS: &str = "m.version, m.algorithm, m.params, m.data_snapshot, m.metrics, \
     m.artifact_location, m.artifact_checksum, m.artifact_bytes, m.created_micros, m.registered_micros";

/// Columns of a model_activations row, in the order the backends decode them.
pub(crate) const ACTIVATION_COLUMNS: &str =
    "seq, version, previous_version, kind, back_seq, at_micros";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ArtifactRef;

    fn info() -> ModelInfo {
        ModelInfo {
            algorithm: "als".into(),
            params: r#"{"factors":"8"}"#.into(),
            data_snapshot: r#"{"users":3}"#.into(),
            metrics: BTreeMap::from([("ndcg".to_string(), 0.1 + 0.2)]),
            artifact: ArtifactRef {
                location: "models/default/v0001.attune".into(),
                checksum: u64::MAX - 5,
                size_bytes: 4096,
            },
            created_micros: 1,
        }
    }

    #[test]
    fn a_valid_record_encodes_and_decodes() {
        let i = info();
        let row = encode(&i).unwrap();
        assert_eq!(row.checksum.len(), 16);
        assert_eq!(checksum_from_text(&row.checksum).unwrap(), u64::MAX - 5);
        assert_eq!(metrics_from_json(&row.metrics).unwrap(), i.metrics);
        assert_eq!(
            metrics_from_json(&row.metrics).unwrap()["ndcg"].to_bits(),
            (0.1f64 + 0.2).to_bits()
        );
    }

    #[test]
    fn each_rule_names_its_field() {
        type Break = Box<dyn Fn(&mut ModelInfo)>;
        let cases: Vec<(&str, Break)> = vec![
            ("algorithm", Box::new(|i| i.algorithm = " ".into())),
            (
                "artifact.location",
                Box::new(|i| i.artifact.location.clear()),
            ),
            ("params", Box::new(|i| i.params = "[1]".into())),
            ("params", Box::new(|i| i.params = "{".into())),
            (
                "data_snapshot",
                Box::new(|i| i.data_snapshot = "nope".into()),
            ),
            (
                "metrics.bad",
                Box::new(|i| {
                    i.metrics.insert("bad".into(), f64::NAN);
                }),
            ),
        ];
        for (field, break_it) in cases {
            let mut i = info();
            break_it(&mut i);
            match encode(&i) {
                Err(StoreError::InvalidModel { field: f, .. }) => assert_eq!(f, field),
                Err(other) => panic!("{field}: {other:?}"),
                Ok(_) => panic!("{field}: accepted"),
            }
        }
    }

    #[test]
    fn bad_stored_values_are_corrupt() {
        assert!(checksum_from_text("xyz").is_err());
        assert!(checksum_from_text("0123").is_err());
        assert!(metrics_from_json("[1]").is_err());
        assert!(metrics_from_json(r#"{"a":"b"}"#).is_err());
        assert!(status_from_str("gone").is_err());
        assert!(kind_from_str("undo").is_err());
        assert!(version_from_i64("t", -1).is_err());
        assert!(version_from_i64("t", i64::from(u32::MAX) + 1).is_err());
    }
}
