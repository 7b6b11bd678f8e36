//! [`mod@super::dbscan`] against `sklearn.cluster.DBSCAN` labels and the numpy k-distance knee.

use super::dbscan::{dbscan, eps_from_knee, k_distances, DbscanParams, NOISE};
use super::reference::{assert_rel, cases, count, ints, matrix};
use super::{Dense, SegmentError};

#[test]
fn labels_match_sklearn() {
    for case in cases("dbscan") {
        let x = matrix(&case["data"]);
        let params = DbscanParams {
            eps: case["eps"].as_f64().unwrap(),
            min_samples: count(&case["min_samples"]),
        };
        let fit = dbscan(&x, &params).unwrap();
        let got: Vec<i64> = fit.labels.iter().map(|&l| i64::from(l)).collect();
        let want = ints(&case["labels"]);
        assert_eq!(got, want, "{}", case["name"]);
        assert_eq!(fit.n_clusters as i64, want.iter().max().unwrap() + 1);
        // Every core row is in a cluster; noise rows are never core.
        assert!(fit.core.iter().all(|&i| fit.labels[i] != NOISE));
    }
}

#[test]
fn eps_from_knee_matches_numpy() {
    for case in cases("dbscan") {
        let x = matrix(&case["data"]);
        let eps = eps_from_knee(&x, count(&case["knee_k"])).unwrap();
        let want = case["knee_eps"].as_f64().unwrap();
        assert_rel(&format!("eps_from_knee {}", case["name"]), &[eps], &[want]);
    }
}

#[test]
fn refuses_bad_parameters() {
    let x = Dense::from_rows(&[vec![0.0], vec![1.0], vec![2.0]]).unwrap();
    for eps in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let p = DbscanParams {
            eps,
            min_samples: 2,
        };
        assert!(matches!(
            dbscan(&x, &p),
            Err(SegmentError::Invalid { field: "eps", .. })
        ));
    }
    let p = DbscanParams {
        eps: 1.0,
        min_samples: 0,
    };
    assert!(dbscan(&x, &p).is_err());
    assert!(k_distances(&x, 0).is_err());
    assert!(k_distances(&x, 3).is_err());
    assert_eq!(k_distances(&x, 2).unwrap(), vec![1.0, 2.0, 2.0]);
    // Evenly spaced rows: a straight k-distance curve has no knee.
    let line = Dense::from_rows(&(0..10).map(|i| vec![f64::from(i)]).collect::<Vec<_>>()).unwrap();
    assert!(eps_from_knee(&line, 1).is_err());
}

#[test]
fn border_row_joins_the_first_cluster_and_isolated_rows_are_noise() {
    // Two dense groups of four with a border row (index 4) within eps of both; a far row is
    // noise. The border row is not core (3 rows within eps < 4) and goes to cluster 0.
    let x: Vec<Vec<f64>> = [0.0, 0.1, 0.2, 0.3, 1.0, 1.7, 1.8, 1.9, 2.0, 10.0]
        .iter()
        .map(|&v| vec![v])
        .collect();
    let x = Dense::from_rows(&x).unwrap();
    let fit = dbscan(
        &x,
        &DbscanParams {
            eps: 0.75,
            min_samples: 4,
        },
    )
    .unwrap();
    assert_eq!(fit.labels, vec![0, 0, 0, 0, 0, 1, 1, 1, 1, NOISE]);
    assert_eq!(fit.core, vec![0, 1, 2, 3, 5, 6, 7, 8]);
    assert_eq!(fit.n_clusters, 2);
}
