use super::*;
use crate::eval::cold::{evaluate_among, item_holdout};
use crate::eval::{evaluate_ranking, split::random_holdout};
use crate::features::{ItemFeatures, ItemTextParams};
use crate::model::testdata::{taste_docs, taste_matrix};
use crate::model::{CategoryPopularity, ContentModel, Popularity};

fn field(p: HybridParams) -> &'static str {
    p.check().unwrap_err().field
}

#[test]
fn factors_must_be_between_1_and_1024() {
    assert_eq!(field(HybridParams::new(0)), "factors");
    assert_eq!(field(HybridParams::new(1025)), "factors");
}

#[test]
fn learning_rate_must_be_positive() {
    assert_eq!(
        field(HybridParams::new(8).learning_rate(0.0)),
        "learning_rate"
    );
}

#[test]
fn regularization_must_be_non_negative() {
    assert_eq!(field(HybridParams::new(8).item_reg(-1.0)), "item_reg");
    assert_eq!(field(HybridParams::new(8).user_reg(f32::NAN)), "user_reg");
}

#[test]
fn epochs_and_draws_must_be_at_least_one() {
    assert_eq!(field(HybridParams::new(8).epochs(0)), "epochs");
    assert_eq!(field(HybridParams::new(8).max_sampled(0)), "max_sampled");
    assert_eq!(
        field(HybridParams::new(8).fold_in_epochs(0)),
        "fold_in_epochs"
    );
}

#[test]
fn identity_weight_must_be_a_share() {
    assert_eq!(
        field(HybridParams::new(8).identity_weight(1.5)),
        "identity_weight"
    );
    assert_eq!(
        field(HybridParams::new(8).identity_weight(-0.1)),
        "identity_weight"
    );
    assert!(HybridParams::new(8).identity_weight(1.0).check().is_ok());
}

#[test]
fn feature_matrices_must_match_the_data() {
    let data = Csr::from_triplets(2, 3, [(0, 0, 1.0), (1, 2, 1.0)]).unwrap();
    let p = HybridParams::new(2).epochs(1).check().unwrap();
    let err = p.fit(&data, &Csr::empty(4, 5), None).unwrap_err();
    assert_eq!(
        err,
        FitError::ShapeMismatch {
            what: "item_features rows",
            expected: 3,
            got: 4
        }
    );
    let err = p
        .fit(&data, &Csr::empty(3, 5), Some(&Csr::empty(1, 2)))
        .unwrap_err();
    assert!(matches!(
        err,
        FitError::ShapeMismatch {
            what: "user_features rows",
            ..
        }
    ));
    let neg = Csr::from_triplets(1, 3, [(0, 0, -1.0)]).unwrap();
    assert!(matches!(
        p.fit(&neg, &Csr::empty(3, 1), None),
        Err(FitError::NegativeWeight { .. })
    ));
}

#[test]
fn composite_rows_split_weight_between_identity_and_features() {
    let ext = Csr::from_triplets(3, 2, [(0, 0, 1.0), (0, 1, 3.0), (1, 1, 2.0)]).unwrap();
    let rows = train::compose(3, Some(&ext), &[true, false, true], 0.25);
    // Row 0: identity 0.25, features 0.75 · (1/4, 3/4). Row 1 is cold: features only, at
    // the same 0.75 scale. Row 2 has no features: identity 1.
    assert_eq!(
        rows.row(0),
        (&[0u32, 3, 4][..], &[0.25f32, 0.1875, 0.5625][..])
    );
    assert_eq!(rows.row(1), (&[4u32][..], &[0.75f32][..]));
    assert_eq!(rows.row(2), (&[2u32][..], &[1.0f32][..]));
    assert_eq!(rows.n_cols(), 5);
}

struct Setup {
    train: Csr,
    test: Csr,
    cold: Vec<u32>,
    features: ItemFeatures,
}

/// 400 users in 10 taste groups over 300 items; 30% of the items held out entirely.
fn cold_setup() -> Setup {
    let full = taste_matrix(400, 300, 10, 20, 11);
    let mut t = Vec::new();
    for u in 0..full.n_rows() {
        let (cols, vals) = full.row(u);
        t.extend(cols.iter().zip(vals).map(|(&i, &v)| (u as u32, i, v)));
    }
    let items: Vec<u32> = t.iter().map(|e| e.1).collect();
    let (split, cold) = item_holdout(&items, 0.3, 3).unwrap();
    let (train, test) = split.to_csr(&t, full.n_rows(), full.n_cols()).unwrap();
    let features = ItemTextParams::new()
        .check()
        .unwrap()
        .fit(&taste_docs(300, 10, 7));
    Setup {
        train,
        test,
        cold,
        features,
    }
}

fn params() -> HybridParams {
    HybridParams::new(16).epochs(10).seed(5)
}

#[test]
fn same_seed_same_model_other_seed_other_model() {
    let s = cold_setup();
    let p = params().check().unwrap();
    let a = p.fit(&s.train, s.features.matrix(), None).unwrap();
    assert_eq!(a, p.fit(&s.train, s.features.matrix(), None).unwrap());
    let b = params()
        .seed(6)
        .check()
        .unwrap()
        .fit(&s.train, s.features.matrix(), None)
        .unwrap();
    assert_ne!(a.item_factors(0), b.item_factors(0));
    assert_eq!(
        a.fold_in(&[(1, 1.0), (7, 2.0)]),
        a.fold_in(&[(7, 2.0), (1, 1.0)])
    );
}

#[test]
fn training_loss_decreases_for_both_losses() {
    let s = cold_setup();
    for loss in [HybridLoss::Bpr, HybridLoss::Warp] {
        let m = params()
            .loss(loss)
            .epochs(20)
            .check()
            .unwrap()
            .fit(&s.train, s.features.matrix(), None)
            .unwrap();
        let l = m.epoch_losses();
        assert_eq!(l.len(), 20);
        assert!(
            l[19] < 0.75 * l[0],
            "{loss:?}: loss went from {} to {}",
            l[0],
            l[19]
        );
        assert!(l[0] > 0.6, "{loss:?}: starts near ln 2, got {}", l[0]);
    }
}

#[test]
fn ranks_cold_items_from_their_features() {
    let s = cold_setup();
    let hybrid = params()
        .check()
        .unwrap()
        .fit(&s.train, s.features.matrix(), None)
        .unwrap();
    let content = ContentModel::from_features(s.features.clone());
    let catpop = CategoryPopularity::fit(&s.train, &s.features.category_matrix()).unwrap();
    let k = 10;
    let h = evaluate_among(&hybrid, &s.train, &s.test, &s.cold, k);
    let c = evaluate_among(&content, &s.train, &s.test, &s.cold, k);
    let cp = evaluate_among(&catpop, &s.train, &s.test, &s.cold, k);
    assert!(h.users > 300);
    // Category popularity knows no popularity for a cold item: its ranking is arbitrary.
    assert!(
        h.recall > 2.0 * cp.recall && c.recall > 2.0 * cp.recall,
        "recall@{k}: hybrid {}, content {}, category popularity {}",
        h.recall,
        c.recall,
        cp.recall
    );
    // A pure collaborative model (identity only) cannot rank them at all.
    let cf = params()
        .identity_weight(1.0)
        .check()
        .unwrap()
        .fit(&s.train, s.features.matrix(), None)
        .unwrap();
    let mut scores = vec![0f32; s.cold.len()];
    cf.score_into(&cf.fold_in(&[(0, 1.0)]), &s.cold, &mut scores);
    assert!(scores.iter().all(|&v| v == 0.0));
}

#[test]
fn learns_warm_items_better_than_popularity() {
    let full = taste_matrix(500, 200, 5, 20, 23);
    let mut users = Vec::new();
    let mut t = Vec::new();
    for u in 0..full.n_rows() {
        let (cols, vals) = full.row(u);
        for (&i, &v) in cols.iter().zip(vals) {
            users.push(u as u32);
            t.push((u as u32, i, v));
        }
    }
    let (train, test) = random_holdout(&users, 0.2, 2)
        .unwrap()
        .to_csr(&t, full.n_rows(), full.n_cols())
        .unwrap();
    let features = ItemTextParams::new()
        .check()
        .unwrap()
        .fit(&taste_docs(200, 5, 7));
    let m = params().fit_checked(&train, features.matrix());
    let pop = evaluate_ranking(&Popularity::most_popular(&train), &train, &test, 10);
    let folded = evaluate_ranking(&m, &train, &test, 10);
    assert!(
        folded.ndcg > 1.5 * pop.ndcg,
        "hybrid ndcg {} vs popularity {}",
        folded.ndcg,
        pop.ndcg
    );
    // Folding a training user in ranks about as well as the trained vector.
    let mut trained_hits = 0usize;
    let mut scores = vec![0f32; m.n_items()];
    for u in 0..train.n_rows() {
        m.score_all_into(&m.user(u as u32), &mut scores);
        let top = crate::model::topk::top_k(&scores, 10, train.row(u).0);
        trained_hits += top
            .iter()
            .filter(|e| test.row(u).0.binary_search(&e.0).is_ok())
            .count();
    }
    let trained_precision = trained_hits as f64 / (10 * folded.users) as f64;
    assert!(
        folded.precision > 0.8 * trained_precision,
        "folded {} vs trained {}",
        folded.precision,
        trained_precision
    );
}

impl HybridParams {
    fn fit_checked(self, data: &Csr, features: &Csr) -> HybridModel {
        self.check().unwrap().fit(data, features, None).unwrap()
    }
}

#[test]
fn a_new_item_is_represented_like_a_cold_one() {
    let s = cold_setup();
    let m = params().fit_checked(&s.train, s.features.matrix());
    let cold = s.cold[0];
    let (cols, vals) = s.features.matrix().row(cold as usize);
    let row: Vec<(u32, f32)> = cols.iter().copied().zip(vals.iter().copied()).collect();
    let (v, b) = m.item_representation(&row);
    assert_eq!(v, m.item_factors(cold));
    assert_eq!(b, m.item_bias(cold));
    // Unknown feature columns are ignored, not a panic.
    let (v2, _) = m.item_representation(&[(u32::MAX, 1.0)]);
    assert!(v2.iter().all(|&x| x == 0.0));
}

#[test]
fn user_features_give_new_users_a_starting_point() {
    // Users 0..3 have feature 0 and like items 0, 1; users 3..6 have feature 1 and like 2, 3.
    let mut t = Vec::new();
    for u in 0..6u32 {
        let base = if u < 3 { 0 } else { 2 };
        t.push((u, base, 1.0));
        t.push((u, base + 1, 1.0));
    }
    let data = Csr::from_triplets(6, 4, t).unwrap();
    let user_features = Csr::from_triplets(6, 2, (0..6u32).map(|u| (u, u / 3, 1.0))).unwrap();
    let items = Csr::empty(4, 0);
    let m = HybridParams::new(4)
        .epochs(200)
        .seed(1)
        .check()
        .unwrap()
        .fit(&data, &items, Some(&user_features))
        .unwrap();
    let mut scores = vec![0f32; 4];
    m.score_all_into(&m.fold_in_with_features(&[], &[(1, 1.0)]), &mut scores);
    assert!(
        scores[2].min(scores[3]) > scores[0].max(scores[1]),
        "{scores:?}"
    );
    m.score_all_into(&m.fold_in_with_features(&[], &[(0, 1.0)]), &mut scores);
    assert!(
        scores[0].min(scores[1]) > scores[2].max(scores[3]),
        "{scores:?}"
    );
}

#[test]
fn parts_round_trip_scores_identically() {
    use crate::model::ModelParts;
    let s = cold_setup();
    let m = params()
        .epochs(2)
        .fit_checked(&s.train, s.features.matrix());
    let back = HybridModel::from_parts(m.to_parts()).unwrap();
    assert_eq!(back.to_parts(), m.to_parts());
    assert!(back.epoch_losses().is_empty());
    let history = [(1, 1.0), (5, 1.0)];
    assert_eq!(back.fold_in(&history), m.fold_in(&history));
    let mut bad = m.to_parts();
    bad.params
        .insert("loss".into(), crate::model::Param::Text("hinge".into()));
    assert!(HybridModel::from_parts(bad).is_err());
}

mod profiles {
    //! User features from profile attributes, end to end through the core: profiles →
    //! `user_features` → `prepare` → [`UserFeatureEncoding`] → [`Spec::fit`] → a new user
    //! scored from their profile alone.
    use std::collections::BTreeMap;

    use super::*;
    use crate::catalog::{AttrValue, User};
    use crate::features::{prepare, user_features, UserFeatureParams};
    use crate::model::spec::{ItemContent, Spec, TrainingSet, UserFeatureRows};
    use crate::model::FittedModel;
    use crate::time::Timestamp;

    const N_USERS: usize = 80;
    const N_ITEMS: usize = 40;

    /// Two taste groups (even and odd items); a user's group shows in their profile as
    /// `club` (text) and, noisily, in `age` (number).
    fn profile(u: usize) -> BTreeMap<String, AttrValue> {
        let g = u % 2;
        BTreeMap::from([
            ("club".to_string(), AttrValue::Text(format!("club{g}"))),
            (
                "age".to_string(),
                AttrValue::Number(25.0 + 20.0 * g as f64 + (u % 7) as f64),
            ),
        ])
    }

    fn users() -> Vec<User> {
        (0..N_USERS)
            .map(|u| User {
                user_id: format!("u{u:03}"),
                attributes: profile(u),
                ..User::default()
            })
            .collect()
    }

    fn fit(with_features: bool) -> HybridModel {
        let x = taste_matrix(N_USERS, N_ITEMS, 2, 6, 7);
        let mut t = TrainingSet::new(x);
        t.item_content = Some(ItemContent {
            titles: vec![String::new(); N_ITEMS],
            descriptions: vec![String::new(); N_ITEMS],
            tags: vec![Vec::new(); N_ITEMS],
            vectors: Vec::new(),
        });
        if with_features {
            let raw = user_features(
                std::iter::empty(),
                &users(),
                |_| None,
                Timestamp::from_utc_micros(0),
                &UserFeatureParams::default(),
            )
            .select(&["attr.age", "attr.club"])
            .unwrap();
            let prepared = prepare(&raw, 1).unwrap();
            // Ids sort like their indices, so rows are the matrix's users.
            assert_eq!(prepared.users[5], "u005");
            let (encoding, matrix) = UserFeatureEncoding::from_prepared(&prepared).unwrap();
            t.user_features = Some(UserFeatureRows { encoding, matrix });
        }
        let spec: Spec = "hybrid:factors=16,epochs=40,seed=3".parse().unwrap();
        match spec.fit(&t).unwrap().into_parts().1 {
            FittedModel::Hybrid(m) => m,
            other => panic!("{other:?}"),
        }
    }

    /// How many of the top 10 items of a new user with `profile` (and no history) are in
    /// taste group `g`.
    fn group_hits(m: &HybridModel, profile: &BTreeMap<String, AttrValue>, g: u32) -> usize {
        let mut scores = vec![0f32; N_ITEMS];
        m.score_all_into(&m.fold_in_profile(&[], profile), &mut scores);
        let mut order: Vec<u32> = (0..N_ITEMS as u32).collect();
        order.sort_by(|&a, &b| scores[b as usize].total_cmp(&scores[a as usize]));
        order[..10].iter().filter(|&&i| i % 2 == g).count()
    }

    #[test]
    fn a_new_user_gets_the_items_of_the_group_their_profile_resembles() {
        let m = fit(true);
        assert!(m.uses_profiles());
        for g in 0..2u32 {
            // A new user: the group's club and an age typical of it.
            let p = profile(N_USERS + g as usize);
            let hits = group_hits(&m, &p, g);
            assert!(hits >= 8, "group {g}: {hits} of 10 from the group");
        }
    }

    #[test]
    fn without_user_features_the_profile_changes_nothing() {
        let m = fit(false);
        assert!(!m.uses_profiles());
        let (a, b) = (profile(N_USERS), profile(N_USERS + 1));
        // The same list for both groups: at most one of them can be well served.
        assert_eq!(
            group_hits(&m, &a, 0) + group_hits(&m, &b, 0),
            2 * group_hits(&m, &a, 0)
        );
    }

    #[test]
    fn the_encoding_reproduces_the_prepared_rows_and_survives_the_model_file() {
        use crate::model::ModelParts;
        let m = fit(true);
        let names = m.user_encoding().names();
        assert_eq!(names, ["attr.age", "attr.club=club0", "attr.club=club1"]);
        // A training user's profile encodes to the row `prepare` gave them.
        let raw = user_features(
            std::iter::empty(),
            &users(),
            |_| None,
            Timestamp::from_utc_micros(0),
            &UserFeatureParams::default(),
        )
        .select(&["attr.age", "attr.club"])
        .unwrap();
        let (_, matrix) = UserFeatureEncoding::from_prepared(&prepare(&raw, 1).unwrap()).unwrap();
        for u in [0, 1, 13] {
            let (cols, vals) = matrix.row(u);
            let want: Vec<(u32, f32)> = cols.iter().copied().zip(vals.iter().copied()).collect();
            assert_eq!(m.user_encoding().encode(&profile(u)), want);
        }
        let back = HybridModel::from_parts(m.to_parts()).unwrap();
        assert_eq!(back.user_encoding(), m.user_encoding());
        let p = profile(N_USERS);
        assert_eq!(back.fold_in_profile(&[], &p), m.fold_in_profile(&[], &p));
        // Unseen category and missing age: all zeros for the club, the median age.
        let odd = BTreeMap::from([("club".to_string(), AttrValue::Text("chess".into()))]);
        let row = m.user_encoding().encode(&odd);
        assert!(row.iter().all(|&(j, _)| j == 0), "{row:?}");
    }

    #[test]
    fn behaviour_columns_are_refused_by_name() {
        let raw = user_features(
            std::iter::empty(),
            &users(),
            |_| None,
            Timestamp::from_utc_micros(0),
            &UserFeatureParams::default(),
        )
        .select(&["frequency", "attr.club"])
        .unwrap();
        let err = UserFeatureEncoding::from_prepared(&prepare(&raw, 1).unwrap()).unwrap_err();
        assert!(err.to_string().contains("frequency"), "{err}");
    }
}
