//! Small fitted models and artifact helpers shared by the tests.

#![allow(dead_code)]

use std::collections::BTreeMap;

use attune_artifact::{CleaningSummary, Contents, DataSnapshot, Metadata, ALIGN};
use attune_core::model::{AlsParams, ModelParts};
use attune_core::sparse::{Csr, Interner};

/// 30 users x 12 items in two taste groups, deterministic.
pub fn data() -> Csr {
    let mut t = Vec::new();
    for u in 0..30u32 {
        for j in 0..6u32 {
            if (u * 7 + j * 3) % 5 != 0 {
                t.push((u, (u % 2) * 6 + j, 1.0 + (j % 3) as f32));
            }
        }
    }
    Csr::from_triplets(30, 12, t).unwrap()
}

pub fn ids(prefix: &str, n: usize) -> Interner {
    let mut ids = Interner::default();
    for i in 0..n {
        // Non-ASCII ids must survive too.
        ids.intern(&format!("{prefix}-{i}-é"));
    }
    ids
}

pub fn meta() -> Metadata {
    Metadata {
        algorithm: "als".into(),
        parameters: BTreeMap::from([("factors".into(), "4".into())]),
        created_at: "2026-01-02T03:04:05Z".into(),
        data: DataSnapshot {
            app: "shop".into(),
            users: 30,
            items: 12,
            interactions: data().nnz() as u64,
            first_event: Some("2026-01-01T00:00:00Z".into()),
            last_event: Some("2026-01-02T00:00:00Z".into()),
            cleaning: Some(CleaningSummary {
                input_events: 200,
                kept: 190,
                removed_by_reason: BTreeMap::from([("duplicate".into(), 10)]),
            }),
        },
        metrics: BTreeMap::from([("ndcg@10".into(), 0.25)]),
    }
}

/// A small ALS model written to bytes.
pub fn als_bytes() -> Vec<u8> {
    let m = AlsParams::new(4)
        .iterations(2)
        .seed(1)
        .check()
        .unwrap()
        .fit(&data())
        .unwrap();
    let d = data();
    attune_artifact::to_bytes(&Contents {
        meta: &meta(),
        model: &m.to_parts(),
        users: &ids("u", 30),
        items: &ids("i", 12),
        history: Some(&d),
    })
    .unwrap()
}

/// Replace the header of a valid artifact with `edit(header)` and fix the checksum, so the
/// layout checks (not the checksum) must catch what is wrong.
pub fn with_header(bytes: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let data_start = (16 + header_len).div_ceil(ALIGN) * ALIGN;
    let mut header: serde_json::Value =
        serde_json::from_slice(&bytes[16..16 + header_len]).unwrap();
    edit(&mut header);
    let json = serde_json::to_vec(&header).unwrap();
    let mut out = bytes[..8].to_vec();
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    out.resize((16 + json.len()).div_ceil(ALIGN) * ALIGN, 0);
    out.extend_from_slice(&bytes[data_start..bytes.len() - 8]);
    out.extend_from_slice(&[0; 8]);
    reseal(out)
}

/// Recompute the trailing checksum of `bytes` (whose last 8 bytes are the checksum slot).
pub fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
    let n = bytes.len() - 8;
    let sum = xxhash_rust::xxh64::xxh64(&bytes[..n], 0);
    bytes[n..].copy_from_slice(&sum.to_le_bytes());
    bytes
}
