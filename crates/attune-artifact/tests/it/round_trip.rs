//! Every model type: fit → write a file → open → rebuild → identical scores; header and id
//! tables come back as written.

use attune_artifact::{to_bytes, write_file, Artifact, ArtifactError, Contents, Overwrite};
use attune_core::model::{
    AlsModel, AlsParams, BiasedMfModel, BiasedMfParams, BprModel, BprParams, CategoryPopularity,
    EaseModel, EaseParams, ItemKnnModel, ItemKnnParams, ModelParts, Popularity, Recommender,
    UserKnnModel, UserKnnParams, UserRepr,
};
use attune_core::sparse::Csr;

use crate::common::{data, ids, meta};

fn scores(m: &dyn Recommender, user: &UserRepr) -> Vec<u32> {
    let mut s = vec![0f32; m.n_items()];
    m.score_all_into(user, &mut s);
    s.iter().map(|x| x.to_bits()).collect()
}

/// Write `m`, read it back as `M`, and compare scores for every training user's history.
fn check<M: ModelParts + Recommender + PartialEq + std::fmt::Debug>(m: &M) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.attune");
    let (users, items, d) = (ids("u", 30), ids("i", 12), data());
    let (meta, parts) = (meta(), m.to_parts());
    let contents = Contents {
        meta: &meta,
        model: &parts,
        users: &users,
        items: &items,
        history: Some(&d),
    };
    write_file(&path, &contents, Overwrite::Refuse).unwrap();
    let a = Artifact::open(&path).unwrap();
    assert_eq!(a.header().meta, meta);
    assert_eq!(a.header().model.kind, M::KIND);
    assert_eq!(a.user_ids().unwrap(), users);
    assert_eq!(a.item_ids().unwrap(), items);
    assert_eq!(a.history().unwrap().as_ref(), Some(&d));
    let back: M = a.model().unwrap();
    assert_eq!(&back, m);
    for u in 0..d.n_rows() {
        let (c, v) = d.row(u);
        let h: Vec<(u32, f32)> = c.iter().copied().zip(v.iter().copied()).collect();
        let (ra, rb) = (m.fold_in(&h), back.fold_in(&h));
        assert_eq!(scores(m, &ra), scores(&back, &rb), "user {u}");
    }
    assert_eq!(
        scores(m, &UserRepr::Anonymous),
        scores(&back, &UserRepr::Anonymous)
    );
    // Refusing to overwrite leaves the first file alone.
    let again = write_file(&path, &contents, Overwrite::Refuse);
    assert!(
        matches!(again, Err(ArtifactError::Exists { .. })),
        "{again:?}"
    );
    // Another model type cannot be read from it.
    let wrong = if M::KIND == "ease" {
        a.model::<Popularity>().map(drop)
    } else {
        a.model::<EaseModel>().map(drop)
    };
    assert!(
        matches!(wrong, Err(ArtifactError::Parts { .. })),
        "{wrong:?}"
    );
}

#[test]
fn popularity() {
    check(&Popularity::most_popular(&data()));
}

#[test]
fn category_popularity() {
    let cats = Csr::from_triplets(12, 3, (0..12u32).map(|i| (i, i % 3, 1.0))).unwrap();
    check(&CategoryPopularity::fit(&data(), &cats).unwrap());
}

#[test]
fn item_knn() {
    let m: ItemKnnModel = ItemKnnParams::default()
        .neighbours(5)
        .check()
        .unwrap()
        .fit(&data());
    check(&m);
}

#[test]
fn user_knn() {
    let m: UserKnnModel = UserKnnParams::default()
        .neighbours(5)
        .check()
        .unwrap()
        .fit(&data());
    check(&m);
}

#[test]
fn als() {
    let m: AlsModel = AlsParams::new(4)
        .iterations(3)
        .seed(2)
        .check()
        .unwrap()
        .fit(&data())
        .unwrap();
    check(&m);
}

#[test]
fn ease() {
    let m: EaseModel = EaseParams::default()
        .reg(5.0)
        .check()
        .unwrap()
        .fit(&data())
        .unwrap();
    check(&m);
}

#[test]
fn bpr() {
    let m: BprModel = BprParams::new(4)
        .epochs(3)
        .seed(2)
        .check()
        .unwrap()
        .fit(&data())
        .unwrap();
    check(&m);
}

#[test]
fn biased_mf() {
    let m: BiasedMfModel = BiasedMfParams::new(3)
        .epochs(3)
        .seed(2)
        .check()
        .unwrap()
        .fit(&data());
    check(&m);
}

#[test]
fn arrays_are_aligned_and_the_header_is_json() {
    let bytes = crate::common::als_bytes();
    assert_eq!(&bytes[..8], b"ATTUNEMD");
    let trailer = u64::from_le_bytes(bytes[bytes.len() - 8..].try_into().unwrap());
    let a = Artifact::from_bytes("mem", bytes).unwrap();
    // The checksum a registry records is the file's own trailer.
    assert_eq!(a.checksum(), trailer);
    assert_ne!(a.checksum(), 0);
    for e in &a.header().arrays {
        assert_eq!(e.offset % 64, 0, "{}", e.name);
    }
    let names: Vec<&str> = a.header().arrays.iter().map(|e| e.name.as_str()).collect();
    for n in [
        "model.user_factors",
        "model.item_factors",
        "ids.users.offsets",
        "ids.items.bytes",
    ] {
        assert!(names.contains(&n), "{names:?}");
    }
}

#[test]
fn history_is_optional_and_must_match_the_id_tables() {
    let m = Popularity::most_popular(&data());
    let (meta, parts, users, items) = (meta(), m.to_parts(), ids("u", 30), ids("i", 12));
    let mut c = Contents {
        meta: &meta,
        model: &parts,
        users: &users,
        items: &items,
        history: None,
    };
    let a = Artifact::from_bytes("mem", to_bytes(&c).unwrap()).unwrap();
    assert_eq!(a.history().unwrap(), None);
    let wrong = Csr::empty(30, 11);
    c.history = Some(&wrong);
    let err = to_bytes(&c).unwrap_err();
    assert!(matches!(err, ArtifactError::InvalidInput { .. }), "{err}");
}
