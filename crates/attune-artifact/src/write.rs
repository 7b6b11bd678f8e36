//! The writer: layout, little-endian encoding, checksum, atomic replace.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use attune_core::model::parts::{ArrayData, DType};
use attune_core::model::Parts;
use attune_core::sparse::{Csr, Interner};
use xxhash_rust::xxh64::Xxh64;

use crate::error::ArtifactError;
use crate::format::{
    align_up, ArrayEntry, Header, IdMaps, IdTable, Metadata, ModelHeader, ParamValue,
    FORMAT_VERSION, HISTORY, MAGIC, MODEL_PREFIX, PREFIX_LEN,
};

/// Whether [`write_file`] may replace an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Replace atomically.
    Allow,
    /// Fail with [`ArtifactError::Exists`] (for version numbers handed out by counting files:
    /// two trainings racing for `v0007` cannot both win).
    Refuse,
}

/// An array ready to be written: its entry and its bytes in file order.
struct Pending<'a> {
    entry: ArrayEntry,
    data: Bytes<'a>,
}

/// Elements as little-endian bytes; borrowed without copy on little-endian hosts.
enum Bytes<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
}

impl Bytes<'_> {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Borrowed(b) => b,
            Bytes::Owned(v) => v,
        }
    }
}

fn le_bytes<'a>(data: &'a ArrayData<'_>) -> Bytes<'a> {
    macro_rules! enc {
        ($v:expr) => {{
            if cfg!(target_endian = "little") {
                Bytes::Borrowed(bytemuck::cast_slice(&$v[..]))
            } else {
                Bytes::Owned($v.iter().flat_map(|x| x.to_le_bytes()).collect())
            }
        }};
    }
    match data {
        ArrayData::U8(v) => Bytes::Borrowed(v),
        ArrayData::U32(v) => enc!(v),
        ArrayData::U64(v) => enc!(v),
        ArrayData::F32(v) => enc!(v),
        ArrayData::F64(v) => enc!(v),
    }
}

/// The id table of `ids` as an offsets array and a bytes array.
fn id_arrays(ids: &Interner) -> (Vec<u64>, Vec<u8>) {
    let mut offsets = Vec::with_capacity(ids.len() + 1);
    let mut bytes = Vec::new();
    offsets.push(0);
    for name in ids.names() {
        bytes.extend_from_slice(name.as_bytes());
        offsets.push(bytes.len() as u64);
    }
    (offsets, bytes)
}

/// Everything one artifact holds.
#[derive(Debug, Clone, Copy)]
pub struct Contents<'a> {
    /// How the model was made.
    pub meta: &'a Metadata,
    /// The model.
    pub model: &'a Parts<'a>,
    /// User ids in model index order (the rows of `history`).
    pub users: &'a Interner,
    /// Item ids in model index order.
    pub items: &'a Interner,
    /// The training interactions (users x items), if kept: serving needs them to exclude what
    /// a user has seen and to fold in users whose model has no stored user vector.
    pub history: Option<&'a Csr>,
}

/// Serialize to artifact bytes (the whole file, checksum included).
pub fn to_bytes(contents: &Contents<'_>) -> Result<Vec<u8>, ArtifactError> {
    let mut out = Vec::new();
    encode(Path::new("<memory>"), contents, &mut out)?;
    Ok(out)
}

/// Write an artifact to `path`: a temporary file in the same directory, synced, then renamed
/// into place, so readers never see a partial file. The directory must exist.
pub fn write_file(
    path: &Path,
    contents: &Contents<'_>,
    overwrite: Overwrite,
) -> Result<(), ArtifactError> {
    let io = |source| ArtifactError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".attune-model-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(io)?;
    {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file());
        encode(path, contents, &mut w)?;
        w.flush().map_err(io)?;
    }
    // Model files are not secret: readable by a server running as another user, like any
    // data file (the temporary file starts out owner-only).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io)?;
    }
    tmp.as_file().sync_all().map_err(io)?;
    match overwrite {
        Overwrite::Allow => tmp.persist(path).map(drop).map_err(|e| io(e.error)),
        Overwrite::Refuse => tmp.persist_noclobber(path).map(drop).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                ArtifactError::Exists {
                    path: path.to_path_buf(),
                }
            } else {
                io(e.error)
            }
        }),
    }?;
    // Make the rename itself durable.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Xxh64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn encode(path: &Path, c: &Contents<'_>, out: &mut impl Write) -> Result<(), ArtifactError> {
    let (meta, parts, users, items) = (c.meta, c.model, c.users, c.items);
    let invalid = |reason: String| ArtifactError::InvalidInput {
        path: path.to_path_buf(),
        reason,
    };
    for (name, p) in &parts.params {
        if let attune_core::model::Param::Float(v) = p {
            if !v.is_finite() {
                return Err(invalid(format!(
                    "model parameter `{name}` = {v} is not finite"
                )));
            }
        }
    }
    if meta.metrics.values().any(|v| !v.is_finite()) {
        return Err(invalid("a metric is not a finite number".into()));
    }

    if let Some(h) = c.history {
        if (h.n_rows(), h.n_cols()) != (users.len(), items.len()) {
            return Err(invalid(format!(
                "history is {} x {}, but there are {} user and {} item ids",
                h.n_rows(),
                h.n_cols(),
                users.len(),
                items.len()
            )));
        }
    }
    let history = c.history.map(|h| Parts::new("history").csr(HISTORY, h));
    let (user_offsets, user_bytes) = id_arrays(users);
    let (item_offsets, item_bytes) = id_arrays(items);
    let id_data = [
        ("ids.users.offsets", ArrayData::U64(user_offsets.into())),
        ("ids.users.bytes", ArrayData::U8(user_bytes.into())),
        ("ids.items.offsets", ArrayData::U64(item_offsets.into())),
        ("ids.items.bytes", ArrayData::U8(item_bytes.into())),
    ];

    let mut pending = Vec::new();
    let mut offset = 0usize;
    let mut names = BTreeSet::new();
    let model_arrays = parts
        .arrays
        .iter()
        .map(|(n, a)| (format!("{MODEL_PREFIX}{n}"), a.shape().to_vec(), a.data()));
    let id_arrays = id_data
        .iter()
        .map(|(n, d)| (n.to_string(), vec![d.len()], d));
    let history_arrays = history
        .iter()
        .flat_map(|p| p.arrays.iter())
        .map(|(n, a)| (n.clone(), a.shape().to_vec(), a.data()));
    for (name, shape, data) in model_arrays.chain(id_arrays).chain(history_arrays) {
        if !names.insert(name.clone()) {
            return Err(invalid(format!("two arrays are named `{name}`")));
        }
        let dtype: DType = data.dtype();
        let bytes = le_bytes(data);
        let len = bytes.as_slice().len();
        pending.push(Pending {
            entry: ArrayEntry {
                name,
                dtype: dtype.name().to_string(),
                shape: shape.iter().map(|&d| d as u64).collect(),
                offset: offset as u64,
                bytes: len as u64,
            },
            data: bytes,
        });
        offset = offset
            .checked_add(len)
            .and_then(align_up)
            .ok_or_else(|| invalid("arrays too large".into()))?;
    }

    let table = |len: usize, prefix: &str| IdTable {
        len: len as u64,
        offsets: format!("{prefix}.offsets"),
        bytes: format!("{prefix}.bytes"),
    };
    let header = Header {
        format_version: FORMAT_VERSION,
        meta: meta.clone(),
        model: ModelHeader {
            kind: parts.kind.clone(),
            params: parts
                .params
                .iter()
                .map(|(k, v)| (k.clone(), ParamValue::from(v)))
                .collect(),
        },
        id_maps: IdMaps {
            users: table(users.len(), "ids.users"),
            items: table(items.len(), "ids.items"),
        },
        history: history.is_some(),
        arrays: pending.iter().map(|p| p.entry.clone()).collect(),
    };
    let json = serde_json::to_vec(&header).map_err(|e| invalid(e.to_string()))?;
    let header_len =
        u32::try_from(json.len()).map_err(|_| invalid("header longer than 4 GiB".into()))?;

    let io = |source| ArtifactError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut w = Hashing {
        inner: out,
        hasher: Xxh64::new(0),
    };
    w.write_all(&MAGIC).map_err(io)?;
    w.write_all(&FORMAT_VERSION.to_le_bytes()).map_err(io)?;
    w.write_all(&header_len.to_le_bytes()).map_err(io)?;
    w.write_all(&json).map_err(io)?;
    let data_start = align_up(PREFIX_LEN + json.len()).expect("header length fits in u32");
    let zeros = [0u8; crate::format::ALIGN];
    w.write_all(&zeros[..data_start - PREFIX_LEN - json.len()])
        .map_err(io)?;
    let mut at = 0usize;
    for p in &pending {
        let gap = p.entry.offset as usize - at;
        w.write_all(&zeros[..gap]).map_err(io)?;
        w.write_all(p.data.as_slice()).map_err(io)?;
        at = p.entry.offset as usize + p.data.as_slice().len();
    }
    let checksum = w.hasher.digest();
    w.inner.write_all(&checksum.to_le_bytes()).map_err(io)?;
    Ok(())
}
