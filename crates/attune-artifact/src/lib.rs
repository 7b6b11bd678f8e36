//! attune-artifact: trained models on disk.
//!
//! An artifact is one file holding a trained model, the id tables that map its dense indices
//! back to the app's user and item ids, and a JSON header that says what it is (algorithm,
//! parameters, when it was made, a snapshot of the data it was trained on, offline metrics).
//! The models themselves are turned into plain arrays by `attune_core::model::ModelParts`; this
//! crate only does the I/O.
//!
//! # Layout (format version 1)
//! ```text
//! offset 0   "ATTUNEMD"                         magic, 8 bytes
//!        8   format version                     u32 LE
//!       12   header length H                    u32 LE
//!       16   header                             H bytes of UTF-8 JSON (see `Header`)
//!            zero padding to a multiple of 64   (the data region starts here: D)
//!        D   arrays, each at D + offset          offsets are multiples of 64, little-endian
//!            elements, zero padding between
//!   len - 8  xxHash64 (seed 0) of bytes 0..len-8 u64 LE
//! ```
//! Arrays are named and typed (`u8`, `u32`, `u64`, `f32`, `f64`) with a shape; the header lists
//! each one's offset (relative to `D`) and byte length. Model arrays are named `model.<name>`;
//! the id tables are `ids.users.offsets` / `ids.users.bytes` (and `items`): UTF-8 bytes of all
//! ids back to back plus `n + 1` offsets into them; the optional training interactions are the
//! CSR arrays `history.indptr` (`u64`), `history.indices` (`u32`), `history.data` (`f32`).
//!
//! # Invariants
//! - **The checksum is verified before anything else is read**: [`Artifact::open`] checks the
//!   magic, the version and the length, hashes the whole file, and only then parses the header
//!   and checks every array's type, shape and bounds. A corrupt, truncated or incompatible file
//!   is an [`ArtifactError`], never a panic, and never a model with garbage in it.
//! - **Files are immutable once written**: [`write_file`] writes a temporary file in the target
//!   directory, syncs it and renames it into place (optionally refusing to replace a file), so a
//!   reader sees either no file or a complete one, and a mapped file is never changed under a
//!   reader by attune itself.
//! - **Loading copies**: [`Artifact::parts`] hands out arrays that borrow the map where the
//!   platform allows (little-endian, aligned) and models copy them into their own vectors in
//!   `from_parts` (one `memcpy` per array). Zero-copy serving would need models generic over
//!   their storage; the copy costs well under a second for the model sizes attune targets.

mod error;
mod format;
mod read;
mod write;

pub use error::ArtifactError;
pub use format::{
    ArrayEntry, CleaningSummary, DataSnapshot, Header, IdTable, Metadata, ModelHeader, ParamValue,
    ALIGN, FORMAT_VERSION, MAGIC,
};
pub use read::Artifact;
pub use write::{to_bytes, write_file, Contents, Overwrite};
