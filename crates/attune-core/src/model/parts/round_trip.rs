//! Every model type: fit on small data → parts (deep-copied, as after a file round trip) →
//! model → identical scores; and inconsistent parts are errors, not panics.

use std::borrow::Cow;

use super::*;
use crate::model::testdata::taste_matrix;
use crate::model::{
    AlsParams, BiasedMfParams, BprParams, CategoryPopularity, Confidence, EaseParams,
    ItemKnnParams, Popularity, Recommender, UserKnnParams, UserRepr, Weighting,
};

/// Parts that own every array (no borrow of the source model survives).
fn owned(p: Parts<'_>) -> Parts<'static> {
    let arrays = p
        .arrays
        .into_iter()
        .map(|(name, a)| {
            let shape = a.shape().to_vec();
            let data = match a.into_data() {
                ArrayData::U8(v) => ArrayData::U8(Cow::Owned(v.into_owned())),
                ArrayData::U32(v) => ArrayData::U32(Cow::Owned(v.into_owned())),
                ArrayData::U64(v) => ArrayData::U64(Cow::Owned(v.into_owned())),
                ArrayData::F32(v) => ArrayData::F32(Cow::Owned(v.into_owned())),
                ArrayData::F64(v) => ArrayData::F64(Cow::Owned(v.into_owned())),
            };
            (name, Array::new(shape, data).unwrap())
        })
        .collect();
    Parts {
        kind: p.kind,
        params: p.params,
        arrays,
    }
}

/// Scores of both models agree bit for bit for folded-in histories of a few training users and
/// for an anonymous user.
fn assert_same_scores(a: &dyn Recommender, b: &dyn Recommender, data: &Csr) {
    assert_eq!(a.n_items(), b.n_items());
    let n = a.n_items();
    let mut users: Vec<UserRepr> = (0..5)
        .map(|u| {
            let (c, v) = data.row(u);
            let h: Vec<(u32, f32)> = c.iter().copied().zip(v.iter().copied()).collect();
            a.fold_in(&h)
        })
        .collect();
    users.push(UserRepr::Anonymous);
    for (t, user) in users.iter().enumerate() {
        let (mut sa, mut sb) = (vec![0f32; n], vec![0f32; n]);
        a.score_all_into(user, &mut sa);
        b.score_all_into(user, &mut sb);
        let bits = |s: &[f32]| s.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&sa), bits(&sb), "user {t}");
        // Fold-in must agree too (it uses the rebuilt caches).
        if t < 5 {
            let (c, v) = data.row(t);
            let h: Vec<(u32, f32)> = c.iter().copied().zip(v.iter().copied()).collect();
            assert_eq!(a.fold_in(&h), b.fold_in(&h), "fold-in of user {t}");
        }
    }
}

fn round_trip<M: ModelParts + Recommender + std::fmt::Debug + PartialEq>(m: &M, data: &Csr) {
    let parts = owned(m.to_parts());
    assert_eq!(parts.kind, M::KIND);
    let back = M::from_parts(parts).unwrap();
    assert_eq!(&back, m);
    assert_same_scores(m, &back, data);
}

fn data() -> Csr {
    taste_matrix(60, 40, 4, 8, 3)
}

#[test]
fn popularity_round_trips() {
    round_trip(&Popularity::most_popular(&data()), &data());
}

#[test]
fn category_popularity_round_trips() {
    let cats = Csr::from_triplets(40, 3, (0..40u32).map(|i| (i, i % 3, 1.0))).unwrap();
    let m = CategoryPopularity::fit(&data(), &cats).unwrap();
    round_trip(&m, &data());
    // A category matrix with the wrong number of rows is refused.
    let mut p = owned(m.to_parts());
    p.arrays.insert(
        "popularity".into(),
        Array::vector(ArrayData::F32(Cow::Owned(vec![1.0; 39]))),
    );
    assert!(matches!(
        CategoryPopularity::from_parts(p),
        Err(PartsError::WrongShape { .. })
    ));
}

#[test]
fn item_knn_round_trips() {
    let m = ItemKnnParams::default()
        .neighbours(10)
        .check()
        .unwrap()
        .fit(&data());
    round_trip(&m, &data());
}

#[test]
fn user_knn_round_trips_with_every_weighting() {
    for w in [
        Weighting::None,
        Weighting::TfIdf,
        Weighting::Bm25 { k1: 1.2, b: 0.75 },
    ] {
        let m = UserKnnParams::default()
            .neighbours(7)
            .shrink(0.5)
            .weighting(w)
            .check()
            .unwrap()
            .fit(&data());
        round_trip(&m, &data());
    }
}

#[test]
fn als_round_trips_with_every_confidence() {
    for c in [
        Confidence::Linear,
        Confidence::Proportional,
        Confidence::Log { epsilon: 0.5 },
    ] {
        let m = AlsParams::new(6)
            .iterations(3)
            .confidence(c)
            .seed(5)
            .check()
            .unwrap()
            .fit(&data())
            .unwrap();
        round_trip(&m, &data());
    }
}

#[test]
fn ease_round_trips() {
    let m = EaseParams::default()
        .reg(10.0)
        .check()
        .unwrap()
        .fit(&data())
        .unwrap();
    round_trip(&m, &data());
}

#[test]
fn bpr_round_trips() {
    let m = BprParams::new(5)
        .epochs(3)
        .seed(2)
        .check()
        .unwrap()
        .fit(&data())
        .unwrap();
    round_trip(&m, &data());
}

#[test]
fn biased_mf_round_trips() {
    let m = BiasedMfParams::new(4)
        .epochs(3)
        .seed(2)
        .check()
        .unwrap()
        .fit(&data());
    round_trip(&m, &data());
}

#[test]
fn inconsistent_factor_shapes_are_errors() {
    let m = AlsParams::new(4)
        .iterations(1)
        .check()
        .unwrap()
        .fit(&data())
        .unwrap();
    // Item factors with the wrong width.
    let mut p = owned(m.to_parts());
    p.arrays.insert(
        "item_factors".into(),
        Array::new(vec![8, 5], ArrayData::F32(Cow::Owned(vec![0.0; 40]))).unwrap(),
    );
    assert!(matches!(
        crate::model::AlsModel::from_parts(p),
        Err(PartsError::WrongShape { .. })
    ));
    // Factors stored as f64.
    let mut p = owned(m.to_parts());
    p.arrays.insert(
        "user_factors".into(),
        Array::new(vec![60, 4], ArrayData::F64(Cow::Owned(vec![0.0; 240]))).unwrap(),
    );
    assert!(matches!(
        crate::model::AlsModel::from_parts(p),
        Err(PartsError::WrongDType { .. })
    ));
    // Zero factors, a missing array, another kind.
    let p = owned(m.to_parts()).param("factors", Param::Int(0));
    assert!(crate::model::AlsModel::from_parts(p).is_err());
    let mut p = owned(m.to_parts());
    p.arrays.remove("user_factors");
    assert!(matches!(
        crate::model::AlsModel::from_parts(p),
        Err(PartsError::MissingArray { .. })
    ));
    assert!(matches!(
        crate::model::EaseModel::from_parts(owned(m.to_parts())),
        Err(PartsError::WrongKind { .. })
    ));
}

#[test]
fn bpr_bias_must_match_items_and_ease_must_be_square() {
    let m = BprParams::new(3)
        .epochs(1)
        .check()
        .unwrap()
        .fit(&data())
        .unwrap();
    let mut p = owned(m.to_parts());
    p.arrays.insert(
        "item_bias".into(),
        Array::vector(ArrayData::F32(Cow::Owned(vec![0.0; 3]))),
    );
    assert!(crate::model::BprModel::from_parts(p).is_err());

    let mut p = Parts::new("ease");
    p.arrays.insert(
        "weights".into(),
        Array::new(vec![2, 3], ArrayData::F32(Cow::Owned(vec![0.0; 6]))).unwrap(),
    );
    assert!(matches!(
        crate::model::EaseModel::from_parts(p),
        Err(PartsError::WrongShape { .. })
    ));
}

#[test]
fn item_knn_neighbours_must_be_square_and_valid() {
    let rect = Csr::from_triplets(3, 4, [(0, 1, 1.0)]).unwrap();
    let p = Parts::new("item-knn").csr("neighbours", &rect);
    assert!(crate::model::ItemKnnModel::from_parts(owned(p)).is_err());
    // A column index beyond n_cols.
    let sq = Csr::from_triplets(3, 3, [(0, 1, 1.0)]).unwrap();
    let mut p = owned(Parts::new("item-knn").csr("neighbours", &sq));
    p.arrays.insert(
        "neighbours.indices".into(),
        Array::vector(ArrayData::U32(Cow::Owned(vec![7]))),
    );
    assert!(matches!(
        crate::model::ItemKnnModel::from_parts(p),
        Err(PartsError::Matrix { .. })
    ));
}

#[test]
fn user_knn_parameters_are_rechecked() {
    let m = UserKnnParams::default().check().unwrap().fit(&data());
    let p = owned(m.to_parts()).param("shrink", Param::Float(-1.0));
    assert!(matches!(
        crate::model::UserKnnModel::from_parts(p),
        Err(PartsError::BadParam { name: "shrink", .. })
    ));
    let p = owned(m.to_parts()).param("weighting", Param::Text("magic".into()));
    assert!(crate::model::UserKnnModel::from_parts(p).is_err());
}

#[test]
fn biased_mf_needs_positive_reg() {
    let m = BiasedMfParams::new(2)
        .epochs(1)
        .check()
        .unwrap()
        .fit(&data());
    let p = owned(m.to_parts()).param("reg", Param::Float(0.0));
    assert!(crate::model::BiasedMfModel::from_parts(p).is_err());
}
