use proptest::prelude::*;

use super::*;
use crate::model::testdata::{random_matrix, taste_matrix};
use crate::model::topk::top_k;

fn fit(data: &Csr, params: AlsParams) -> AlsModel {
    params.check().unwrap().fit(data).unwrap()
}

#[test]
fn factors_must_be_between_1_and_1024() {
    assert_eq!(AlsParams::new(0).check().unwrap_err().field, "factors");
    assert_eq!(
        AlsParams::new(MAX_FACTORS + 1).check().unwrap_err().field,
        "factors"
    );
    assert!(AlsParams::new(MAX_FACTORS).check().is_ok());
}

#[test]
fn alpha_must_be_finite_and_non_negative() {
    assert_eq!(
        AlsParams::new(8).alpha(-1.0).check().unwrap_err().field,
        "alpha"
    );
    assert_eq!(
        AlsParams::new(8).alpha(f32::NAN).check().unwrap_err().field,
        "alpha"
    );
    assert!(AlsParams::new(8).alpha(0.0).check().is_ok());
}

#[test]
fn reg_must_be_positive() {
    assert_eq!(AlsParams::new(8).reg(0.0).check().unwrap_err().field, "reg");
    assert_eq!(
        AlsParams::new(8)
            .reg(f32::INFINITY)
            .check()
            .unwrap_err()
            .field,
        "reg"
    );
}

#[test]
fn iterations_must_be_at_least_one() {
    let err = AlsParams::new(8).iterations(0).check().unwrap_err();
    assert_eq!(err.field, "iterations");
    assert_eq!(
        err.to_string(),
        "als: `iterations` = 0 is invalid: must be at least 1"
    );
}

#[test]
fn cg_steps_must_be_at_least_one() {
    assert_eq!(
        AlsParams::new(8)
            .solver(AlsSolver::Cg { steps: 0 })
            .check()
            .unwrap_err()
            .field,
        "cg_steps"
    );
}

#[test]
fn log_confidence_epsilon_must_be_positive() {
    let err = AlsParams::new(8)
        .confidence(Confidence::Log { epsilon: 0.0 })
        .check()
        .unwrap_err();
    assert_eq!(err.field, "confidence.epsilon");
}

#[test]
fn log_confidence_equals_linear_on_transformed_weights() {
    let data = random_matrix(20, 15, 0.3, 9, 2);
    let eps = 2.0f32;
    let logged = data.map_values(|_, _, w| (w / eps).ln_1p());
    let base = AlsParams::new(4).iterations(3).alpha(3.0).seed(5);
    let a = fit(
        &data,
        base.clone().confidence(Confidence::Log { epsilon: eps }),
    );
    let b = fit(&logged, base);
    assert_eq!(a.all_user_factors(), b.all_user_factors());
    assert_eq!(a.loss(&data), b.loss(&logged));
    assert_eq!(
        a.fold_in(&[(1, 3.0)]),
        b.fold_in(&[(1, (3.0f32 / eps).ln_1p())])
    );
}

#[test]
fn proportional_confidence_is_implicits_convention() {
    // c = alpha·w with alpha·w = 1 + alpha'·w for binary data when alpha = 1 + alpha'.
    let data = random_matrix(25, 18, 0.3, 1, 8);
    let base = AlsParams::new(5)
        .iterations(4)
        .seed(2)
        .solver(AlsSolver::Cholesky);
    let implicit_like = fit(
        &data,
        base.clone().alpha(6.0).confidence(Confidence::Proportional),
    );
    let paper = fit(&data, base.alpha(5.0));
    let diff = implicit_like
        .all_user_factors()
        .iter()
        .zip(paper.all_user_factors())
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(diff < 1e-4, "factors differ by {diff}");
    assert!((implicit_like.loss(&data) - paper.loss(&data)).abs() < 1e-6 * paper.loss(&data));
}

#[test]
fn similar_items_are_the_nearest_by_cosine() {
    let data = taste_matrix(200, 80, 4, 10, 6);
    let model = fit(&data, AlsParams::new(8).iterations(5).alpha(5.0));
    let got = model.similar_items(&[3, 10], 5);
    for (&i, list) in [3u32, 10].iter().zip(&got) {
        let yi = model.item_factors(i);
        let mut all: Vec<(u32, f32)> = (0..80u32)
            .filter(|&j| j != i)
            .map(|j| {
                let yj = model.item_factors(j);
                (j, dot(yi, yj) / (dot(yi, yi).sqrt() * dot(yj, yj).sqrt()))
            })
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1));
        assert_eq!(list.len(), 5);
        assert!(list.iter().all(|e| e.0 != i));
        assert!((list[0].1 - all[0].1).abs() < 1e-4 && (list[4].1 - all[4].1).abs() < 1e-4);
        // Items of the same taste group are the most similar.
        assert!(
            list.iter().filter(|e| e.0 % 4 == i % 4).count() >= 4,
            "{list:?}"
        );
    }
}

#[test]
fn users_and_items_without_interactions_get_zero_factors() {
    let data =
        Csr::from_triplets(4, 5, [(0, 0, 1.0), (0, 1, 1.0), (2, 1, 2.0), (2, 3, 1.0)]).unwrap();
    for solver in [AlsSolver::Cg { steps: 3 }, AlsSolver::Cholesky] {
        let m = fit(&data, AlsParams::new(3).iterations(2).solver(solver));
        assert!(m.user_factors(1).iter().all(|&v| v == 0.0), "{solver:?}");
        assert!(m.item_factors(4).iter().all(|&v| v == 0.0), "{solver:?}");
    }
}

#[test]
fn negative_weights_are_rejected() {
    let data = Csr::from_triplets(2, 2, [(0, 0, 1.0), (1, 1, -2.0)]).unwrap();
    let err = AlsParams::new(2).check().unwrap().fit(&data).unwrap_err();
    assert_eq!(
        err,
        FitError::NegativeWeight {
            row: 1,
            col: 1,
            value: -2.0
        }
    );
}

#[test]
fn same_seed_same_model_for_any_thread_count() {
    let data = taste_matrix(300, 120, 4, 12, 3);
    let params = AlsParams::new(8).iterations(3).seed(11);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| fit(&data, params.clone()));
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(|| fit(&data, params.clone()));
    assert_eq!(one, two);
    assert_ne!(one, fit(&data, params.seed(12)));
}

#[test]
fn recommends_from_the_users_taste_group() {
    let n_groups = 4;
    let data = taste_matrix(400, 200, n_groups, 15, 7);
    let model = fit(
        &data,
        AlsParams::new(16).iterations(10).alpha(10.0).reg(0.1),
    );
    let mut scores = vec![0f32; model.n_items()];
    let (mut in_group, mut total) = (0, 0);
    for u in 0..data.n_rows() {
        model.score_all_into(&model.user(u as u32), &mut scores);
        for (i, _) in top_k(&scores, 10, data.row(u).0) {
            total += 1;
            in_group += usize::from(i as usize % n_groups == u % n_groups);
        }
    }
    // About 89% of each user's items are in their group (85% drawn there plus a quarter of the
    // uniform rest); popularity alone would put about a quarter there.
    let share = in_group as f64 / total as f64;
    assert!(
        share > 0.85,
        "only {share:.3} of recommendations in the user's group"
    );
}

#[test]
fn batch_recommendations_match_single_user_ranking() {
    let data = taste_matrix(150, 700, 5, 12, 5);
    let model = fit(&data, AlsParams::new(8).iterations(3));
    let users: Vec<u32> = (0..150).rev().step_by(3).collect();
    let batch = model.recommend_batch(&users, 10, &data);
    let mut scores = vec![0f32; model.n_items()];
    for (&u, got) in users.iter().zip(&batch) {
        model.score_all_into(&model.user(u), &mut scores);
        let want = top_k(&scores, 10, data.row(u as usize).0);
        // The batch path rescores its candidates with the single-user kernel: the same list,
        // bit for bit.
        let bits = |l: &[(u32, f32)]| l.iter().map(|e| (e.0, e.1.to_bits())).collect::<Vec<_>>();
        assert_eq!(bits(got), bits(&want), "user {u}");
    }
}

#[test]
fn cg_and_cholesky_reach_close_losses() {
    let data = taste_matrix(200, 100, 4, 10, 21);
    let base = AlsParams::new(10).iterations(15).alpha(5.0).reg(0.5);
    let cg = fit(&data, base.clone());
    let exact = fit(&data, base.clone().solver(AlsSolver::Cholesky));
    let (lc, le) = (cg.loss(&data), exact.loss(&data));
    assert!(
        (lc - le).abs() <= 0.05 * le,
        "cg loss {lc} vs cholesky {le}"
    );
    // With as many CG steps as factors, the solves are exact up to rounding: same predictions.
    let cg_full = fit(&data, base.solver(AlsSolver::Cg { steps: 10 }));
    let mut max_diff = 0f32;
    for u in 0..data.n_rows() as u32 {
        for i in 0..data.n_cols() as u32 {
            let a = dot(cg_full.user_factors(u), cg_full.item_factors(i));
            let b = dot(exact.user_factors(u), exact.item_factors(i));
            max_diff = max_diff.max((a - b).abs());
        }
    }
    assert!(max_diff < 2e-2, "predictions differ by {max_diff}");
}

#[test]
fn fold_in_solves_the_user_normal_equations() {
    let data = taste_matrix(100, 60, 3, 8, 4);
    let model = fit(&data, AlsParams::new(6).iterations(4).alpha(3.0).reg(0.2));
    let history = [(3u32, 1.0f32), (17, 2.0), (40, 1.0), (3, 1.0)];
    let UserRepr::Dense(x) = model.fold_in(&history) else {
        panic!("ALS folds into factors")
    };
    // Naive oracle: gradient of Σ_i c_i (p_i − x·y_i)² + λ‖x‖² over all items is zero.
    let k = model.factors();
    let weights = [(3u32, 2.0f64), (17, 2.0), (40, 1.0)];
    let mut grad = vec![0f64; k];
    for i in 0..model.n_items() as u32 {
        let w = weights.iter().find(|e| e.0 == i).map_or(0.0, |e| e.1);
        let (c, p) = if w > 0.0 {
            (1.0 + 3.0 * w, 1.0)
        } else {
            (1.0, 0.0)
        };
        let y = model.item_factors(i);
        let s: f64 = (0..k).map(|f| f64::from(x[f]) * f64::from(y[f])).sum();
        for f in 0..k {
            grad[f] += -2.0 * c * (p - s) * f64::from(y[f]);
        }
    }
    for f in 0..k {
        grad[f] += 2.0 * 0.2 * f64::from(x[f]);
        assert!(grad[f].abs() < 1e-3, "gradient {grad:?}");
    }
    // Unknown items are ignored; an empty history folds to zero factors.
    assert_eq!(
        model.fold_in(&[(10_000, 1.0)]),
        UserRepr::Dense(vec![0.0; k])
    );
    let mut a = vec![0f32; 2];
    model.score_into(&UserRepr::Sparse(history.to_vec()), &[3, 17], &mut a);
    let mut b = vec![0f32; 2];
    model.score_into(&model.fold_in(&history), &[3, 17], &mut b);
    assert_eq!(a, b);
    model.score_into(&UserRepr::Anonymous, &[3, 17], &mut b);
    assert_eq!(b, vec![0.0, 0.0]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Each exact half-step minimizes the loss over one side, so the loss never rises.
    #[test]
    fn cholesky_loss_never_rises(
        n_users in 1usize..25,
        n_items in 1usize..25,
        k in 1usize..7,
        density in 0.05f64..0.6,
        alpha in 0.0f32..30.0,
        reg in 0.01f32..2.0,
        seed in 0u64..1000,
    ) {
        let data = random_matrix(n_users, n_items, density, 4, seed);
        let params = AlsParams::new(k).alpha(alpha).reg(reg).seed(seed).solver(AlsSolver::Cholesky).check().unwrap();
        let mut t = params.trainer(&data).unwrap();
        let mut prev = t.loss();
        for it in 0..6 {
            t.step();
            let l = t.loss();
            prop_assert!(l <= prev * (1.0 + 1e-6) + 1e-9, "iteration {}: loss rose from {} to {}", it, prev, l);
            prev = l;
        }
    }

    /// With as many CG steps as factors every solve is exact up to rounding, so whole CG and
    /// Cholesky runs reach the same loss. (With the default 3 steps CG is an inexact method
    /// whose gap depends on the data; `cg_and_cholesky_reach_close_losses` bounds it on
    /// structured data.)
    #[test]
    fn cg_with_k_steps_matches_cholesky(seed in 0u64..500, k in 1usize..8, alpha in 0.5f32..10.0) {
        let data = random_matrix(30, 20, 0.25, 3, seed);
        let base = AlsParams::new(k).alpha(alpha).reg(0.3).seed(seed).iterations(8);
        let cg = fit(&data, base.clone().solver(AlsSolver::Cg { steps: 2 * k })).loss(&data);
        let exact = fit(&data, base.solver(AlsSolver::Cholesky)).loss(&data);
        prop_assert!((cg - exact).abs() <= 1e-2 * exact, "cg {} vs exact {}", cg, exact);
    }
}
