//! The on-disk header (JSON) and the layout constants.

use std::collections::BTreeMap;

use attune_core::model::Param;
use serde::{Deserialize, Serialize};

/// The first eight bytes of every artifact.
pub const MAGIC: [u8; 8] = *b"ATTUNEMD";

/// The format this crate writes and reads. A reader refuses any other version (the layout
/// after the first 16 bytes may differ), so bump it for any change a version-1 reader would
/// misread.
pub const FORMAT_VERSION: u32 = 1;

/// Alignment of the data region and of every array in it: a cache line, and a multiple of
/// every element size, so arrays can be viewed in place from a page-aligned map.
pub const ALIGN: usize = 64;

/// Magic, version and header length.
pub(crate) const PREFIX_LEN: usize = 16;

/// The trailing checksum.
pub(crate) const TRAILER_LEN: usize = 8;

/// Prefix for model arrays in the file, so they cannot collide with the id tables.
pub(crate) const MODEL_PREFIX: &str = "model.";

/// Array prefix of the stored training interactions (`history.indptr`, `.indices`, `.data`).
pub(crate) const HISTORY: &str = "history";

/// `n` rounded up to a multiple of [`ALIGN`].
pub(crate) fn align_up(n: usize) -> Option<usize> {
    n.checked_add(ALIGN - 1).map(|v| v / ALIGN * ALIGN)
}

/// What the caller knows about a model beyond its arrays: how it was made and from what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Algorithm name as given to training, e.g. `als` (the model kind may differ: `trending`
    /// trains a `popularity` model).
    pub algorithm: String,
    /// Training parameters as given (after defaults), by name.
    pub parameters: BTreeMap<String, String>,
    /// RFC 3339 time of training.
    pub created_at: String,
    /// The data the model was trained on.
    pub data: DataSnapshot,
    /// Offline metrics (for example validation `ndcg@10`), by name; empty when not evaluated.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
}

/// A summary of the training data.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DataSnapshot {
    /// App (tenant).
    pub app: String,
    /// Users (rows of the interaction matrix).
    pub users: u64,
    /// Items (columns).
    pub items: u64,
    /// Interactions used for training (non-zero cells).
    pub interactions: u64,
    /// Earliest event used, RFC 3339.
    pub first_event: Option<String>,
    /// Latest event used, RFC 3339.
    pub last_event: Option<String>,
    /// What cleaning removed before training.
    pub cleaning: Option<CleaningSummary>,
}

/// The totals of a cleaning report.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CleaningSummary {
    /// Events read.
    pub input_events: u64,
    /// Events kept.
    pub kept: u64,
    /// Events removed per reason.
    pub removed_by_reason: BTreeMap<String, u64>,
}

/// A scalar model parameter in JSON: integers stay integers, reals are written with enough
/// digits to read back the same `f64` (and so the same `f32`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// An integer.
    Int(i64),
    /// A real number.
    Float(f64),
    /// Text.
    Text(String),
}

impl From<&Param> for ParamValue {
    fn from(p: &Param) -> Self {
        match p {
            Param::Int(v) => ParamValue::Int(*v),
            Param::Float(v) => ParamValue::Float(*v),
            Param::Text(v) => ParamValue::Text(v.clone()),
        }
    }
}

impl From<&ParamValue> for Param {
    fn from(p: &ParamValue) -> Self {
        match p {
            ParamValue::Int(v) => Param::Int(*v),
            ParamValue::Float(v) => Param::Float(*v),
            ParamValue::Text(v) => Param::Text(v.clone()),
        }
    }
}

/// The model's kind and scalar parameters (its arrays are listed in [`Header::arrays`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelHeader {
    /// `ModelParts::KIND` of the stored model.
    pub kind: String,
    /// Scalar parameters needed to rebuild it.
    pub params: BTreeMap<String, ParamValue>,
}

/// Where one id table lives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdTable {
    /// Number of ids.
    pub len: u64,
    /// Name of the `u64` array of `len + 1` offsets.
    pub offsets: String,
    /// Name of the `u8` array of UTF-8 bytes.
    pub bytes: String,
}

/// Where the user and item id tables live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdMaps {
    /// Training users, in model index order.
    pub users: IdTable,
    /// Items, in model index order.
    pub items: IdTable,
}

/// One array in the data region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArrayEntry {
    /// Unique name.
    pub name: String,
    /// Element type (`u8`, `u32`, `u64`, `f32`, `f64`).
    pub dtype: String,
    /// Shape; multiplies out to the number of elements.
    pub shape: Vec<u64>,
    /// Byte offset from the start of the data region; a multiple of [`ALIGN`].
    pub offset: u64,
    /// Length in bytes (elements × element size).
    pub bytes: u64,
}

/// The JSON header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Repeats the version of the binary prefix.
    pub format_version: u32,
    /// How the model was made.
    #[serde(flatten)]
    pub meta: Metadata,
    /// The stored model.
    pub model: ModelHeader,
    /// The id tables.
    pub id_maps: IdMaps,
    /// Whether the training interactions are stored (arrays `history.indptr`, `.indices`,
    /// `.data`: users x items CSR).
    #[serde(default)]
    pub history: bool,
    /// Every array in the data region, model arrays and id tables alike.
    pub arrays: Vec<ArrayEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align_up_rounds_to_cache_lines() {
        assert_eq!(align_up(0), Some(0));
        assert_eq!(align_up(1), Some(64));
        assert_eq!(align_up(64), Some(64));
        assert_eq!(align_up(65), Some(128));
        assert_eq!(align_up(usize::MAX), None);
    }

    #[test]
    fn float_params_survive_json_exactly() {
        for v in [0.1f32, 40.0, 1e-7, f32::MAX, -3.25] {
            let p = ParamValue::from(&Param::Float(f64::from(v)));
            let back: ParamValue =
                serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
            // Whole reals are written as `40.0`, so they read back as reals, not integers.
            let ParamValue::Float(x) = back else {
                panic!("{v} read back as {back:?}")
            };
            assert_eq!((x as f32).to_bits(), v.to_bits());
        }
    }
}
