//! [`mod@super::kmeans`] against sklearn's `KMeans(algorithm="lloyd")`, plus its error and seed
//! rules.

use super::kmeans::{kmeans, Init, KMeansParams};
use super::reference::{assert_rel, cases, count, fixture, ints, matrix};
use super::{Dense, SegmentError};

#[test]
fn lloyd_from_given_centroids_matches_sklearn() {
    for case in cases("kmeans") {
        let x = fixture(case);
        let k = count(&case["k"]);
        let what = format!("{} k={k} tol={}", case["fixture"], case["tol"]);
        let params = KMeansParams {
            init: Init::Given(matrix(&case["init"])),
            tol: case["tol"].as_f64().unwrap(),
            max_iter: count(&case["max_iter"]),
            ..KMeansParams::new(k)
        };
        let fit = kmeans(&x, &params).unwrap();
        let labels: Vec<i64> = fit.labels.iter().map(|&l| l as i64).collect();
        assert_eq!(labels, ints(&case["labels"]), "{what}: labels");
        assert_eq!(fit.n_iter, count(&case["n_iter"]), "{what}: n_iter");
        assert_rel(
            &format!("kmeans inertia {what}"),
            &[fit.inertia],
            &[case["inertia"].as_f64().unwrap()],
        );
        assert_rel(
            &format!("kmeans centroids {what}"),
            fit.centroids.data(),
            matrix(&case["centroids"]).data(),
        );
    }
}

#[test]
fn seeded_kmeans_plus_plus_reaches_sklearns_best_of_ten() {
    for case in cases("kmeanspp") {
        let params = KMeansParams {
            n_init: 10,
            seed: 7,
            ..KMeansParams::new(count(&case["k"]))
        };
        let fit = kmeans(&fixture(case), &params).unwrap();
        assert_rel(
            &format!("kmeans++ n_init=10 inertia {}", case["fixture"]),
            &[fit.inertia],
            &[case["inertia"].as_f64().unwrap()],
        );
    }
}

#[test]
fn same_seed_same_result_other_seed_other_start() {
    let x = fixture(&cases("kmeanspp")[1]);
    let p = KMeansParams {
        n_init: 3,
        seed: 42,
        ..KMeansParams::new(5)
    };
    assert_eq!(kmeans(&x, &p).unwrap(), kmeans(&x, &p).unwrap());
    let fits: Vec<_> = (0..6)
        .map(|seed| {
            kmeans(
                &x,
                &KMeansParams {
                    seed,
                    n_init: 1,
                    ..p.clone()
                },
            )
            .unwrap()
        })
        .collect();
    assert!(
        fits.iter().any(|f| f.centroids != fits[0].centroids),
        "different seeds should not all start alike"
    );
}

#[test]
fn refuses_bad_k_and_parameters() {
    let x = Dense::from_rows(&[vec![0.0, 1.0], vec![2.0, 3.0], vec![4.0, 5.0]]).unwrap();
    let err = kmeans(&x, &KMeansParams::new(4)).unwrap_err();
    assert_eq!(err, SegmentError::TooManyClusters { k: 4, users: 3 });
    assert!(err
        .to_string()
        .contains("k larger than the number of users"));
    assert!(matches!(
        kmeans(&x, &KMeansParams::new(0)),
        Err(SegmentError::Invalid { field: "k", .. })
    ));
    for bad in [
        KMeansParams {
            n_init: 0,
            ..KMeansParams::new(2)
        },
        KMeansParams {
            max_iter: 0,
            ..KMeansParams::new(2)
        },
        KMeansParams {
            tol: -1.0,
            ..KMeansParams::new(2)
        },
        KMeansParams {
            tol: f64::NAN,
            ..KMeansParams::new(2)
        },
        KMeansParams {
            init: Init::Given(Dense::from_rows(&[vec![0.0, 0.0]]).unwrap()),
            ..KMeansParams::new(2)
        },
    ] {
        assert!(
            matches!(kmeans(&x, &bad), Err(SegmentError::Invalid { .. })),
            "{bad:?}"
        );
    }
    // Empty and NaN input are refused before k-means can see them.
    assert!(matches!(
        Dense::new(0, 2, vec![]),
        Err(SegmentError::Empty { .. })
    ));
    assert!(matches!(
        Dense::new(1, 2, vec![0.0, f64::NAN]),
        Err(SegmentError::NonFinite { .. })
    ));
}

#[test]
fn k_equal_to_rows_and_duplicate_rows() {
    let x = Dense::from_rows(&[vec![1.0], vec![1.0], vec![1.0], vec![5.0]]).unwrap();
    // Four clusters over two distinct values: inertia 0, nothing panics.
    let fit = kmeans(&x, &KMeansParams::new(4)).unwrap();
    assert_eq!(fit.inertia, 0.0);
    let fit = kmeans(&x, &KMeansParams::new(1)).unwrap();
    assert_eq!(fit.centroids.data(), &[2.0]);
    assert_eq!(fit.labels, vec![0; 4]);
}
