//! Damaged files: every flipped byte, every truncation, random overwrites, and well-sealed but
//! inconsistent headers are errors with a clear message; nothing panics.

use attune_artifact::{Artifact, ArtifactError};
use attune_core::model::AlsModel;
use proptest::prelude::*;

use crate::common::{als_bytes, reseal, with_header};

/// Opening and fully loading must either succeed or fail with an error; a panic fails the test.
fn load(bytes: Vec<u8>) -> Result<(), ArtifactError> {
    let a = Artifact::from_bytes("mem", bytes)?;
    a.model::<AlsModel>()?;
    a.user_ids()?;
    a.item_ids()?;
    a.history()?;
    Ok(())
}

#[test]
fn every_flipped_byte_is_detected() {
    let good = als_bytes();
    load(good.clone()).unwrap();
    for at in 0..good.len() {
        let mut bad = good.clone();
        bad[at] ^= 0x5a;
        let err = load(bad).expect_err(&format!("flip at {at} went unnoticed"));
        let ok = match at {
            0..=7 => matches!(err, ArtifactError::NotAnArtifact { .. }),
            8..=11 => matches!(err, ArtifactError::UnsupportedVersion { .. }),
            // The header length: the layout no longer fits, or the checksum is read elsewhere.
            12..=15 => matches!(
                err,
                ArtifactError::Truncated { .. } | ArtifactError::ChecksumMismatch { .. }
            ),
            _ => matches!(err, ArtifactError::ChecksumMismatch { .. }),
        };
        assert!(ok, "flip at {at}: {err}");
    }
}

#[test]
fn every_truncation_is_detected() {
    let good = als_bytes();
    for len in 0..good.len() {
        let err = load(good[..len].to_vec()).expect_err(&format!("cut at {len} went unnoticed"));
        assert!(
            matches!(
                err,
                ArtifactError::Truncated { .. } | ArtifactError::ChecksumMismatch { .. }
            ),
            "cut at {len}: {err}"
        );
        assert!(err.to_string().contains("corrupt") || err.to_string().contains("truncated"));
    }
}

#[test]
fn foreign_and_future_files_are_named_as_such() {
    let err = load(b"PK\x03\x04 this is a zip file, not a model".to_vec()).unwrap_err();
    assert!(matches!(err, ArtifactError::NotAnArtifact { .. }), "{err}");
    assert!(
        err.to_string().contains("not an attune model file"),
        "{err}"
    );

    let mut future = als_bytes();
    future[8..12].copy_from_slice(&2u32.to_le_bytes());
    let err = load(reseal(future)).unwrap_err();
    assert!(
        matches!(
            err,
            ArtifactError::UnsupportedVersion {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("retrain"), "{err}");
}

#[test]
fn sealed_but_inconsistent_headers_are_corrupt() {
    let good = als_bytes();
    // The helper itself keeps a valid file valid.
    load(with_header(&good, |_| {})).unwrap();

    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit); 10] = [
        ("offset past the end", |h| {
            h["arrays"][0]["offset"] = 1u64.wrapping_shl(40).into()
        }),
        ("misaligned offset", |h| h["arrays"][0]["offset"] = 8.into()),
        ("shape disagrees with bytes", |h| {
            h["arrays"][0]["shape"] = serde_json::json!([3, 3])
        }),
        ("shape overflows", |h| {
            h["arrays"][0]["shape"] = serde_json::json!([u64::MAX, u64::MAX])
        }),
        ("unknown dtype", |h| h["arrays"][0]["dtype"] = "f16".into()),
        ("duplicate name", |h| {
            let first = h["arrays"][0].clone();
            h["arrays"].as_array_mut().unwrap().push(first)
        }),
        ("overlapping arrays", |h| {
            let off = h["arrays"][0]["offset"].clone();
            h["arrays"][1]["offset"] = off
        }),
        ("id table length", |h| {
            h["id_maps"]["users"]["len"] = 29.into()
        }),
        ("id table missing", |h| {
            h["id_maps"]["items"]["offsets"] = "nope".into()
        }),
        ("version mismatch", |h| h["format_version"] = 7.into()),
    ];
    for (what, edit) in cases {
        let err = load(with_header(&good, edit)).expect_err(what);
        assert!(
            matches!(err, ArtifactError::Corrupt { .. }),
            "{what}: {err}"
        );
    }
    // Not JSON at all.
    let mut garbage = good.clone();
    garbage[16] = b'#';
    assert!(matches!(
        load(reseal(garbage)).unwrap_err(),
        ArtifactError::Corrupt { .. }
    ));
    // Valid layout, but the model's parameters are wrong: rejected by the model.
    let err = load(with_header(&good, |h| {
        h["model"]["params"]["factors"] = 5.into()
    }))
    .unwrap_err();
    assert!(matches!(err, ArtifactError::Parts { .. }), "{err}");
}

#[test]
fn files_on_disk_report_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v0001.attune");
    let mut bytes = als_bytes();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let err = Artifact::open(&path).unwrap_err();
    assert!(err.to_string().contains("v0001.attune"), "{err}");
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
    std::fs::write(&path, b"").unwrap();
    assert!(matches!(
        Artifact::open(&path).unwrap_err(),
        ArtifactError::Truncated { .. }
    ));
    let missing = Artifact::open(&dir.path().join("none.attune")).unwrap_err();
    assert!(matches!(missing, ArtifactError::Io { .. }), "{missing}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Random overwrites of random lengths anywhere: always an error, never a panic.
    #[test]
    fn random_corruption_is_refused(at in 0usize..4096, len in 1usize..64, fill in any::<u8>()) {
        let good = als_bytes();
        let at = at % good.len();
        let mut bad = good.clone();
        let end = (at + len).min(bad.len());
        bad[at..end].fill(fill);
        prop_assume!(bad != good);
        prop_assert!(load(bad).is_err());
    }

    /// Random header edits that keep the checksum valid: error or success, never a panic.
    #[test]
    fn resealed_random_bytes_never_panic(at in 16usize..4096, fill in any::<u8>()) {
        let good = als_bytes();
        let at = at % (good.len() - 8);
        let mut bad = good;
        bad[at] = fill;
        let _ = load(reseal(bad));
    }
}
