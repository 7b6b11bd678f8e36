//! [`mod@super::pca`] against `sklearn.decomposition.PCA(svd_solver="full")`.

use super::pca::pca;
use super::reference::{assert_rel, cases, fixture, matrix, nums};
use super::{Dense, SegmentError};

#[test]
fn matches_sklearn_full_svd() {
    for case in cases("pca") {
        let x = fixture(case);
        let name = &case["fixture"];
        let p = pca(&x, None).unwrap();
        assert_rel(&format!("pca mean {name}"), &p.mean, &nums(&case["mean"]));
        let pairs = [
            ("explained_variance", &p.explained_variance),
            ("explained_variance_ratio", &p.explained_variance_ratio),
            ("singular_values", &p.singular_values),
        ];
        for (key, got) in pairs {
            assert_rel(&format!("pca {key} {name}"), got, &nums(&case[key]));
        }
        let want = matrix(&case["components"]);
        assert_rel(
            &format!("pca components {name}"),
            p.components.data(),
            want.data(),
        );
        let head = Dense::new(5, x.cols(), x.data()[..5 * x.cols()].to_vec()).unwrap();
        assert_rel(
            &format!("pca transformed {name}"),
            p.transform(&head).unwrap().data(),
            matrix(&case["transformed_head"]).data(),
        );

        // Truncation keeps the leading components and the full-rank ratio.
        let two = pca(&x, Some(2)).unwrap();
        assert_eq!(two.components.rows(), 2);
        assert_eq!(
            two.explained_variance_ratio,
            p.explained_variance_ratio[..2]
        );
    }
}

#[test]
fn refuses_bad_input() {
    let one = Dense::from_rows(&[vec![1.0, 2.0]]).unwrap();
    assert!(matches!(pca(&one, None), Err(SegmentError::Invalid { .. })));
    let x = Dense::from_rows(&[vec![1.0, 2.0], vec![3.0, 5.0], vec![0.0, 1.0]]).unwrap();
    assert!(pca(&x, Some(0)).is_err());
    assert!(pca(&x, Some(3)).is_err());
    let p = pca(&x, None).unwrap();
    assert!(p
        .transform(&Dense::from_rows(&[vec![1.0]]).unwrap())
        .is_err());
}

#[test]
fn constant_and_wide_data() {
    // A constant column has variance 0; more columns than rows keeps min(rows, cols).
    let x = Dense::from_rows(&[vec![1.0, 7.0, 0.0], vec![3.0, 7.0, 1.0]]).unwrap();
    let p = pca(&x, None).unwrap();
    assert_eq!(p.components.rows(), 2);
    assert!((p.explained_variance_ratio[0] - 1.0).abs() < 1e-12);
    assert!(p.explained_variance[1].abs() < 1e-12);
    assert!(p.explained_variance.iter().all(|v| *v >= 0.0));
}
