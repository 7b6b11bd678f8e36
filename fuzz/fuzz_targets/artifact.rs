//! Model artifacts (`<data_dir>/models/<app>/vNNNN.attune`) read from bytes: the reader's
//! checks (magic, version, length, checksum, header, layout, id tables), then the serving
//! loader's (spec, model arrays, history, index) and a scoring pass over the loaded model.
//!
//! The checksum would stop almost every mutation at the door, so each input is tried twice: as
//! is, and with its trailer set to the right xxHash64, which lets the fuzzer reach the header
//! and array checks behind it.
#![no_main]

use attune_artifact::Artifact;
use attune_core::model::UserRepr;
use attune_serving::model::LoadedModel;
use libfuzzer_sys::fuzz_target;

const TRAILER: usize = 8;

fn check(bytes: Vec<u8>) {
    let len = bytes.len();
    let Ok(artifact) = Artifact::from_bytes("fuzz.attune", bytes) else {
        return;
    };
    assert_eq!(artifact.len(), len);
    let _ = artifact.parts();
    let _ = artifact.history();
    let _ = artifact.user_ids();
    let _ = artifact.item_ids();
    let Ok(model) = LoadedModel::from_artifact(&artifact) else {
        return;
    };
    let n_items = model.items.len();
    assert_eq!(model.recommender().n_items(), n_items);
    let mut scores = vec![0f32; n_items];
    let mut out = Vec::new();
    for u in 0..model.users.len().min(4) as u32 {
        if let Some(repr) = model.training_repr(u) {
            model.top_n(&repr, 10, &[], &mut scores, &mut out);
            assert!(out.iter().all(|&(i, _)| (i as usize) < n_items));
        }
    }
    let anonymous = model.recommender().fold_in(&[(0, 1.0)]);
    model.top_n(&anonymous, 10, &[], &mut scores, &mut out);
    model.top_n(&UserRepr::Anonymous, 10, &[], &mut scores, &mut out);
    assert!(model
        .popular(10, &[])
        .iter()
        .all(|&(i, _)| (i as usize) < n_items));
}

fuzz_target!(|data: &[u8]| {
    check(data.to_vec());
    if data.len() > TRAILER {
        let mut fixed = data.to_vec();
        let body = fixed.len() - TRAILER;
        let sum = xxhash_rust::xxh64::xxh64(&fixed[..body], 0);
        fixed[body..].copy_from_slice(&sum.to_le_bytes());
        if fixed != data {
            check(fixed);
        }
    }
});
