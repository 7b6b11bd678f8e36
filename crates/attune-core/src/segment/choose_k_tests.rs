//! [`mod@super::silhouette`] against `sklearn.metrics.silhouette_score`, and
//! [`mod@super::choose_k`]'s elbow against the Kneedle rule evaluated with numpy on sklearn's
//! inertias.

use super::choose_k::choose_k;
use super::kmeans::{Init, KMeansParams};
use super::knee::{knee_index, Direction};
use super::reference::{assert_rel, cases, count, fixture, ints, matrix, nums};
use super::silhouette::{silhouette_samples, silhouette_score};
use super::{Dense, SegmentError};

#[test]
fn silhouette_matches_sklearn() {
    for case in cases("kmeans") {
        let x = fixture(case);
        let mut labels: Vec<usize> = ints(&case["labels"]).iter().map(|&l| l as usize).collect();
        let what = format!("silhouette {} k={}", case["fixture"], case["k"]);
        let s = silhouette_score(&x, &labels).unwrap();
        assert_rel(&what, &[s], &[case["silhouette"].as_f64().unwrap()]);
        // Row 0 alone in a new cluster: it scores 0 and the others see one more cluster.
        labels[0] = count(&case["k"]);
        let s = silhouette_score(&x, &labels).unwrap();
        let want = case["silhouette_singleton"].as_f64().unwrap();
        assert_rel(&format!("{what} singleton"), &[s], &[want]);
        assert_eq!(silhouette_samples(&x, &labels).unwrap()[0], 0.0);
    }
}

#[test]
fn silhouette_refuses_one_cluster_or_one_per_row() {
    let x = Dense::from_rows(&[vec![0.0], vec![1.0], vec![5.0]]).unwrap();
    assert!(silhouette_score(&x, &[0, 0, 0]).is_err());
    assert!(silhouette_score(&x, &[0, 1, 2]).is_err());
    assert!(silhouette_score(&x, &[0, 1]).is_err());
    // Non-contiguous labels are fine; duplicates at distance 0 score 0, not NaN.
    assert!(silhouette_score(&x, &[7, 7, 3]).unwrap() > 0.0);
    let d = Dense::from_rows(&[vec![1.0], vec![1.0], vec![1.0]]).unwrap();
    assert_eq!(silhouette_score(&d, &[0, 0, 1]).unwrap(), 0.0);
}

#[test]
fn elbow_matches_kneedle_on_sklearn_inertias_and_on_our_own() {
    for case in cases("elbow") {
        let inertia = nums(&case["inertia"]);
        let ks: Vec<usize> = ints(&case["ks"]).iter().map(|&k| k as usize).collect();
        let want = count(&case["knee_k"]);
        let i = knee_index(&inertia, Direction::Decreasing).unwrap();
        assert_eq!(
            ks[i], want,
            "{}: knee of sklearn's inertias",
            case["fixture"]
        );

        let params = KMeansParams {
            n_init: 10,
            seed: 3,
            ..KMeansParams::new(1)
        };
        let choice = choose_k(&fixture(case), ks[0]..=ks[ks.len() - 1], &params).unwrap();
        assert_eq!(
            choice.elbow_k,
            Some(want),
            "{}: {choice:?}",
            case["fixture"]
        );
        assert_eq!(choice.k, want);
        assert_eq!(choice.table.len(), ks.len());
        assert_eq!(choice.table[0].silhouette, None);
        // Up to the elbow the best-of-10 optimum is unambiguous: same inertia as sklearn.
        for (row, &w) in choice.table.iter().zip(&inertia).take(want) {
            assert_rel(
                &format!("choose_k inertia {} k={}", case["fixture"], row.k),
                &[row.inertia],
                &[w],
            );
        }
    }
}

#[test]
fn choose_k_refuses_bad_ranges_and_falls_back_to_silhouette() {
    let x = fixture(&cases("elbow")[0]);
    let p = KMeansParams::new(1);
    assert!(matches!(
        choose_k(&x, 0..=3, &p),
        Err(SegmentError::Invalid { .. })
    ));
    #[allow(clippy::reversed_empty_ranges)]
    let empty = 3..=2;
    assert!(choose_k(&x, empty, &p).is_err());
    assert!(matches!(
        choose_k(&x, 2..=301, &p),
        Err(SegmentError::TooManyClusters { k: 301, users: 300 })
    ));
    let given = KMeansParams {
        init: Init::Given(matrix(&cases("kmeans")[0]["init"])),
        ..p.clone()
    };
    assert!(choose_k(&x, 2..=4, &given).is_err());
    // Two ks: no elbow, so the better silhouette decides.
    let c = choose_k(&x, 3..=4, &p).unwrap();
    assert_eq!(c.elbow_k, None);
    assert_eq!(Some(c.k), c.best_silhouette_k);
}
