//! The reader: map, verify (magic, version, length, checksum, then layout), hand out arrays.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use attune_core::model::parts::{Array, ArrayData, DType};
use attune_core::model::{ModelParts, Param, Parts};
use attune_core::sparse::{Csr, Interner};
use memmap2::Mmap;

use crate::error::ArtifactError;
use crate::format::{
    align_up, Header, IdTable, FORMAT_VERSION, HISTORY, MAGIC, MODEL_PREFIX, PREFIX_LEN,
    TRAILER_LEN,
};

/// The bytes of an artifact: a read-only map of the file, or a buffer.
enum Bytes {
    Map(Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Map(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// Array name → (element type, shape, byte range in the file).
type Layout = HashMap<String, (DType, Vec<usize>, Range<usize>)>;

/// A verified artifact: the header, and arrays whose type, shape and bounds were checked.
pub struct Artifact {
    path: PathBuf,
    bytes: Bytes,
    header: Header,
    arrays: Layout,
    checksum: u64,
}

impl std::fmt::Debug for Artifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Artifact")
            .field("path", &self.path)
            .field("len", &self.bytes.len())
            .field("header", &self.header)
            .finish()
    }
}

impl Artifact {
    /// Map and verify the file at `path`.
    ///
    /// The map is read-only. attune never modifies an artifact after writing it (writes go
    /// through a rename), so the contents cannot change under the map; another process
    /// truncating the file while it is mapped would fault on access, as with any mapped file.
    pub fn open(path: &Path) -> Result<Self, ArtifactError> {
        let io = |source| ArtifactError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let needed = (PREFIX_LEN + TRAILER_LEN) as u64;
        if len < needed {
            // Too short to map meaningfully (and an empty map is an error on some systems);
            // still tell a foreign file from a truncated one.
            let bytes = std::fs::read(path).map_err(io)?;
            return Self::verify(path.to_path_buf(), Bytes::Owned(bytes));
        }
        // SAFETY: the map is read-only and artifacts are never modified in place (see above);
        // every access below is bounds-checked against the mapped length.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        Self::verify(path.to_path_buf(), Bytes::Map(map))
    }

    /// Verify an artifact held in memory (`name` is used in error messages).
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<Self, ArtifactError> {
        Self::verify(PathBuf::from(name), Bytes::Owned(bytes))
    }

    fn verify(path: PathBuf, bytes: Bytes) -> Result<Self, ArtifactError> {
        let len = bytes.len();
        let corrupt = |reason: String| ArtifactError::Corrupt {
            path: path.clone(),
            reason,
        };
        let truncated = |needed: usize| ArtifactError::Truncated {
            path: path.clone(),
            len: len as u64,
            needed: needed as u64,
        };
        if len < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
            // A prefix of the magic is a truncated artifact, anything else a foreign file.
            return Err(if len < MAGIC.len() && MAGIC.starts_with(&bytes) {
                truncated(PREFIX_LEN + TRAILER_LEN)
            } else {
                ArtifactError::NotAnArtifact { path }
            });
        }
        if len < PREFIX_LEN {
            return Err(truncated(PREFIX_LEN + TRAILER_LEN));
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let version = u32_at(8);
        if version != FORMAT_VERSION {
            return Err(ArtifactError::UnsupportedVersion {
                path,
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let header_len = u32_at(12) as usize;
        let data_start = align_up(PREFIX_LEN + header_len).expect("u32 + 16 fits in usize");
        if len < data_start + TRAILER_LEN {
            return Err(truncated(data_start + TRAILER_LEN));
        }

        // The checksum covers everything before the trailer; nothing else is read before it
        // matches.
        let body_end = len - TRAILER_LEN;
        let stored = u64::from_le_bytes(bytes[body_end..].try_into().expect("8 bytes"));
        let computed = xxhash_rust::xxh64::xxh64(&bytes[..body_end], 0);
        if stored != computed {
            return Err(ArtifactError::ChecksumMismatch {
                path,
                stored,
                computed,
            });
        }

        let header: Header = serde_json::from_slice(&bytes[PREFIX_LEN..PREFIX_LEN + header_len])
            .map_err(|e| corrupt(format!("unreadable header: {e}")))?;
        if header.format_version != version {
            return Err(corrupt(format!(
                "header says format version {}, prefix says {version}",
                header.format_version
            )));
        }
        let arrays = check_layout(&header, data_start, body_end).map_err(corrupt)?;
        let artifact = Self {
            path,
            bytes,
            header,
            arrays,
            checksum: stored,
        };
        for t in [
            &artifact.header.id_maps.users,
            &artifact.header.id_maps.items,
        ] {
            artifact
                .id_table_parts(t)
                .map_err(|reason| ArtifactError::Corrupt {
                    path: artifact.path.clone(),
                    reason,
                })?;
        }
        Ok(artifact)
    }

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The verified header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The verified xxHash64 of the file (its trailer). Two files with the same checksum hold
    /// the same bytes for all practical purposes, so a registry can record it to recognise the
    /// file it registered (a valid artifact put in its place is not the same model).
    pub fn checksum(&self) -> u64 {
        self.checksum
    }

    /// Total size in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false for a verified artifact (it has at least a prefix and a checksum).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The elements of array `name` (already checked to exist with a valid range): borrowed
    /// from the map when the host is little-endian and the slice is aligned, else decoded.
    fn array_data(&self, name: &str) -> Option<(Vec<usize>, ArrayData<'_>)> {
        let (dtype, shape, range) = self.arrays.get(name)?;
        let raw = &self.bytes[range.clone()];
        macro_rules! view {
            ($t:ty, $variant:ident) => {{
                let borrowed = if cfg!(target_endian = "little") {
                    bytemuck::try_cast_slice::<u8, $t>(raw).ok()
                } else {
                    None
                };
                ArrayData::$variant(match borrowed {
                    Some(s) => Cow::Borrowed(s),
                    None => Cow::Owned(
                        raw.chunks_exact(std::mem::size_of::<$t>())
                            .map(|c| <$t>::from_le_bytes(c.try_into().expect("element size")))
                            .collect(),
                    ),
                })
            }};
        }
        let data = match dtype {
            DType::U8 => ArrayData::U8(Cow::Borrowed(raw)),
            DType::U32 => view!(u32, U32),
            DType::U64 => view!(u64, U64),
            DType::F32 => view!(f32, F32),
            DType::F64 => view!(f64, F64),
        };
        Some((shape.clone(), data))
    }

    /// The stored model as parts (arrays borrow the map where possible).
    pub fn parts(&self) -> Parts<'_> {
        let mut parts = Parts::new(&self.header.model.kind);
        parts.params = self
            .header
            .model
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.into()))
            .collect();
        for name in self.arrays.keys() {
            if let Some(short) = name.strip_prefix(MODEL_PREFIX) {
                let (shape, data) = self.array_data(name).expect("listed array");
                let a = Array::new(shape, data).expect("shape checked against length on open");
                parts.arrays.insert(short.to_string(), a);
            }
        }
        parts
    }

    /// Rebuild the stored model as `M` (its kind must match).
    pub fn model<M: ModelParts>(&self) -> Result<M, ArtifactError> {
        M::from_parts(self.parts()).map_err(|source| ArtifactError::Parts {
            path: self.path.clone(),
            source,
        })
    }

    /// The offsets and bytes of an id table, checked: offsets start at 0, never decrease, end
    /// at the byte count, and every id is UTF-8.
    fn id_table_parts(&self, t: &IdTable) -> Result<(Vec<u64>, &[u8]), String> {
        let offsets = match self.array_data(&t.offsets) {
            Some((_, ArrayData::U64(v))) => v.into_owned(),
            _ => return Err(format!("id table `{}` is missing or not u64", t.offsets)),
        };
        let bytes = match self.array_data(&t.bytes) {
            Some((_, ArrayData::U8(Cow::Borrowed(b)))) => b,
            _ => return Err(format!("id table `{}` is missing or not u8", t.bytes)),
        };
        if offsets.len() as u64 != t.len.saturating_add(1)
            || offsets.first() != Some(&0)
            || offsets.last() != Some(&(bytes.len() as u64))
            || offsets.windows(2).any(|w| w[0] > w[1])
        {
            return Err(format!("id table `{}` has invalid offsets", t.offsets));
        }
        for w in offsets.windows(2) {
            if std::str::from_utf8(&bytes[w[0] as usize..w[1] as usize]).is_err() {
                return Err(format!(
                    "id table `{}` holds an id that is not UTF-8",
                    t.bytes
                ));
            }
        }
        Ok((offsets, bytes))
    }

    fn interner(&self, t: &IdTable) -> Result<Interner, ArtifactError> {
        let corrupt = |reason: String| ArtifactError::Corrupt {
            path: self.path.clone(),
            reason,
        };
        let (offsets, bytes) = self.id_table_parts(t).map_err(corrupt)?;
        let mut ids = Interner::default();
        for w in offsets.windows(2) {
            let id =
                std::str::from_utf8(&bytes[w[0] as usize..w[1] as usize]).expect("checked on open");
            let before = ids.len();
            ids.intern(id);
            if ids.len() == before {
                return Err(corrupt(format!(
                    "id table `{}` repeats the id {id:?}",
                    t.bytes
                )));
            }
        }
        Ok(ids)
    }

    /// The stored training interactions (users x items), if the writer kept them; every CSR
    /// invariant is checked.
    pub fn history(&self) -> Result<Option<Csr>, ArtifactError> {
        if !self.header.history {
            return Ok(None);
        }
        let mut parts = Parts::new(HISTORY);
        parts.params.insert(
            format!("{HISTORY}.n_cols"),
            Param::Int(self.header.id_maps.items.len as i64),
        );
        for suffix in ["indptr", "indices", "data"] {
            let name = format!("{HISTORY}.{suffix}");
            if let Some((shape, data)) = self.array_data(&name) {
                let a = Array::new(shape, data).expect("shape checked against length on open");
                parts.arrays.insert(name, a);
            }
        }
        let m = parts
            .take_csr(
                "history",
                HISTORY,
                usize::try_from(self.header.id_maps.users.len).ok(),
            )
            .map_err(|source| ArtifactError::Parts {
                path: self.path.clone(),
                source,
            })?;
        Ok(Some(m))
    }

    /// Training users, in model index order.
    pub fn user_ids(&self) -> Result<Interner, ArtifactError> {
        self.interner(&self.header.id_maps.users)
    }

    /// Items, in model index order.
    pub fn item_ids(&self) -> Result<Interner, ArtifactError> {
        self.interner(&self.header.id_maps.items)
    }
}

/// Check every array entry against the data region `data_start..data_end`: known type, shape
/// that multiplies out to the byte length, aligned offset, in bounds, unique name, no overlap.
fn check_layout(header: &Header, data_start: usize, data_end: usize) -> Result<Layout, String> {
    let mut out = HashMap::new();
    let mut ranges = Vec::new();
    for a in &header.arrays {
        let dtype = DType::from_name(&a.dtype)
            .ok_or_else(|| format!("array `{}` has unknown type {:?}", a.name, a.dtype))?;
        let shape: Vec<usize> = a
            .shape
            .iter()
            .map(|&d| usize::try_from(d))
            .collect::<Result<_, _>>()
            .map_err(|_| format!("array `{}` has a dimension too large", a.name))?;
        let elems = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| format!("array `{}` shape {:?} overflows", a.name, a.shape))?;
        let expect_bytes = elems.checked_mul(dtype.size());
        if expect_bytes != usize::try_from(a.bytes).ok() {
            return Err(format!(
                "array `{}`: shape {:?} of {} needs {} bytes, header says {}",
                a.name,
                a.shape,
                a.dtype,
                expect_bytes.map_or("too many".to_string(), |b| b.to_string()),
                a.bytes
            ));
        }
        let start = usize::try_from(a.offset)
            .ok()
            .filter(|o| o % crate::format::ALIGN == 0)
            .and_then(|o| data_start.checked_add(o))
            .ok_or_else(|| format!("array `{}` has a misaligned offset {}", a.name, a.offset))?;
        let end = start
            .checked_add(a.bytes as usize)
            .filter(|&e| e <= data_end)
            .ok_or_else(|| {
                format!(
                    "array `{}` ({} bytes at offset {}) runs past the end of the data",
                    a.name, a.bytes, a.offset
                )
            })?;
        if out
            .insert(a.name.clone(), (dtype, shape, start..end))
            .is_some()
        {
            return Err(format!("two arrays are named `{}`", a.name));
        }
        ranges.push((start, end, &a.name));
    }
    ranges.sort();
    for w in ranges.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(format!("arrays `{}` and `{}` overlap", w[0].2, w[1].2));
        }
    }
    Ok(out)
}
