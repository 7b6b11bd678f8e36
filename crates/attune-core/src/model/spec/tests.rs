//! Tests that cross the files of `spec`: every algorithm from text through fitting to scoring.
//! Also holds the helpers the per-file tests share (a parse shorthand and a small training set
//! with every optional part filled in).

use super::*;
use crate::model::{FitError, FoldIn, Scorer};
use crate::sparse::Csr;

pub(super) fn parse(s: &str) -> Result<Spec, SpecError> {
    s.parse()
}

pub(super) fn data() -> TrainingSet {
    let x = Csr::from_triplets(
        4,
        5,
        [
            (0, 0, 1.0),
            (0, 1, 1.0),
            (1, 1, 1.0),
            (1, 2, 1.0),
            (2, 3, 1.0),
            (3, 0, 1.0),
            (3, 4, 1.0),
        ],
    )
    .unwrap();
    let mut t = TrainingSet::new(x);
    t.ratings = Some(
        t.interactions
            .map_values(|r, c, _| 1.0 + ((r + c as usize) % 5) as f32),
    );
    t.item_categories =
        Some(Csr::from_triplets(5, 2, [(0, 0, 1.0), (1, 0, 1.0), (4, 1, 1.0)]).unwrap());
    t.item_events = vec![(0, 10, 1.0), (3, 20, 1.0)];
    t.now_micros = 20;
    t.sequences = Some(ItemSequences::from_timed(
        4,
        vec![
            (0, 1, 0),
            (0, 2, 1),
            (1, 1, 1),
            (1, 2, 2),
            (2, 1, 3),
            (3, 1, 0),
            (3, 2, 4),
        ],
    ));
    t
}

#[test]
fn every_algorithm_fits_and_scores_every_item() {
    let d = data();
    for a in Algorithm::ALL {
        let spec = match a {
            Algorithm::Als | Algorithm::Bpr | Algorithm::Mf => {
                parse(&format!("{}:factors=2,seed=1", a.name())).unwrap()
            }
            _ => Spec::default_for(a),
        };
        let m = spec.fit(&d).unwrap();
        assert_eq!(m.algorithm(), a);
        assert_eq!(m.n_items(), 5);
        let repr = m.fold_in(&[(0, 1.0)]);
        let mut s = vec![f32::NAN; 5];
        m.score_all_into(&repr, &mut s);
        assert!(s.iter().all(|v| v.is_finite()), "{a}: {s:?}");
        assert_eq!(m.predict_rating(0, 1).is_some(), a == Algorithm::Mf);
        // `as_any` must expose the `Fitted` itself, not the model inside or anything else.
        assert!(m.as_any().downcast_ref::<FittedModel>().is_none());
        assert!(m.as_any().downcast_ref::<Spec>().is_none());
        let fitted = m
            .as_any()
            .downcast_ref::<Fitted>()
            .expect("downcast to Fitted");
        assert_eq!(fitted.spec().algorithm(), a);
        assert_eq!(fitted.spec(), &spec);
    }
}

#[test]
fn ease_reads_the_training_ratings_only_when_its_rating_exponent_is_set() {
    let rated_data = data();
    let mut unrated_data = rated_data.clone();
    unrated_data.ratings = None;
    let scores = |spec: &str, t: &TrainingSet| {
        let m = parse(spec).unwrap().fit(t).unwrap();
        let mut s = vec![0f32; 5];
        m.score_all_into(&m.fold_in(&[(1, 1.0)]), &mut s);
        s
    };
    let plain = scores("ease:lambda=1", &rated_data);
    assert_eq!(plain, scores("ease:lambda=1", &unrated_data));
    assert_ne!(
        scores("ease:lambda=1,rating_exponent=1", &rated_data),
        plain
    );
    // Without ratings the exponent has nothing to weigh.
    assert_eq!(
        scores("ease:lambda=1,rating_exponent=1", &unrated_data),
        plain
    );
    // Quiet: left out of the canonical form at its default, printed when set.
    assert_eq!(
        parse("ease:lambda=1,rating_exponent=0")
            .unwrap()
            .to_string(),
        "ease:lambda=1"
    );
    assert_eq!(
        parse("ease:lambda=1,rating_exponent=2")
            .unwrap()
            .to_string(),
        "ease:lambda=1,rating_exponent=2"
    );
    let err = parse("ease:rating_exponent=5").unwrap_err().to_string();
    assert!(err.contains("rating_exponent"), "{err}");
}

#[test]
fn ratings_of_another_shape_name_the_dimension_that_differs() {
    let mut d = data();
    d.ratings = Some(Csr::from_triplets(3, 5, [(0, 0, 4.0)]).unwrap());
    for spec in ["mf:factors=2,seed=1", "ease:rating_exponent=1"] {
        let err = parse(spec).unwrap().fit(&d).unwrap_err();
        assert_eq!(
            err,
            SpecFitError::Fit(FitError::ShapeMismatch {
                what: "ratings matrix users",
                expected: 4,
                got: 3,
            }),
            "{spec}"
        );
    }
}
