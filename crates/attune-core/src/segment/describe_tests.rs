//! [`mod@super::describe`] on a five-user table whose numbers are worked out in the comments.

use super::describe::{cluster_labels, dbscan_labels, describe, SUMMARY_AVERAGE};
use super::rules::RuleSegment;
use super::SegmentError;
use crate::features::users::UserFeatures;

fn close(got: f64, want: f64) {
    assert!((got - want).abs() < 1e-12, "got {got}, want {want}");
}

fn text(v: Option<&str>) -> Option<String> {
    v.map(str::to_string)
}

/// Users u1..u5; u1 and u2 are "heavy", u3..u5 "active".
fn table() -> UserFeatures {
    UserFeatures {
        users: ["u1", "u2", "u3", "u4", "u5"].map(String::from).to_vec(),
        numeric: vec![
            // Present 1, 1, 3, 3: mean 2, sd 1. heavy 1 (−1 sd), active 3 (+1 sd; u5 ignored).
            (
                "recency_days".into(),
                vec![Some(1.0), Some(1.0), Some(3.0), Some(3.0), None],
            ),
            // Mean 4, squared deviations 36 + 4 + 4 + 4 + 16 = 64, sd sqrt(12.8).
            // heavy 8: +4 / sd = +1.118; active 4/3: −(8/3) / sd = −0.745.
            (
                "frequency".into(),
                vec![Some(10.0), Some(6.0), Some(2.0), Some(2.0), Some(0.0)],
            ),
            // One value everywhere: skipped.
            ("evening_share".into(), vec![Some(0.5); 5]),
            // No value at all: skipped.
            ("attr.nothing".into(), vec![None; 5]),
            // Present 20, 40, 40, 60: mean 40, sd sqrt(200). heavy 20: −sqrt(2) = −1.414;
            // active 140/3: (20/3) / sqrt(200) = 0.471, below 0.5, not in the summary.
            (
                "attr.age".into(),
                vec![Some(20.0), None, Some(40.0), Some(40.0), Some(60.0)],
            ),
            // Only active users have one: heavy's mean is unknown. Mean 2, active 2: 0 sd.
            (
                "attr.score".into(),
                vec![None, None, Some(1.0), Some(2.0), Some(3.0)],
            ),
        ],
        categorical: vec![(
            "attr.tier".into(),
            // Present gold 3, free 1. heavy: gold 2/2. active: free 1, gold 1 of 2 present,
            // a tie won by "free" (first by name), overall 1/4.
            vec![
                text(Some("gold")),
                text(Some("gold")),
                text(Some("free")),
                None,
                text(Some("gold")),
            ],
        )],
    }
}

#[test]
fn segments_against_everyone() {
    use RuleSegment::{Active, Heavy};
    let d = describe(&table(), &[Heavy, Heavy, Active, Active, Active]).unwrap();
    assert_eq!(d.users, 5);
    let names: Vec<&str> = d.segments.iter().map(|s| s.segment.as_str()).collect();
    assert_eq!(names, ["active", "heavy"]); // 3 before 2
    let (active, heavy) = (&d.segments[0], &d.segments[1]);
    assert_eq!((active.size, heavy.size), (3, 2));
    close(active.share, 0.6);
    close(heavy.share, 0.4);

    let cols: Vec<&str> = heavy.numeric.iter().map(|c| c.column.as_str()).collect();
    assert_eq!(
        cols,
        ["recency_days", "frequency", "attr.age", "attr.score"]
    );
    let sd_f = 12.8f64.sqrt();
    let want_heavy = [
        (Some(1.0), 2.0, Some(-1.0)),
        (Some(8.0), 4.0, Some(4.0 / sd_f)),
        (Some(20.0), 40.0, Some(-(2f64.sqrt()))),
        (None, 2.0, None),
    ];
    let want_active = [
        (Some(3.0), 2.0, Some(1.0)),
        (Some(4.0 / 3.0), 4.0, Some(-(8.0 / 3.0) / sd_f)),
        (Some(140.0 / 3.0), 40.0, Some((20.0 / 3.0) / 200f64.sqrt())),
        (Some(2.0), 2.0, Some(0.0)),
    ];
    for (seg, want) in [(heavy, want_heavy), (active, want_active)] {
        for (c, (mean, overall, diff)) in seg.numeric.iter().zip(want) {
            assert_eq!(c.mean.is_some(), mean.is_some(), "{}", c.column);
            if let (Some(got), Some(want)) = (c.mean, mean) {
                close(got, want);
            }
            close(c.overall_mean, overall);
            assert_eq!(c.std_diff.is_some(), diff.is_some(), "{}", c.column);
            if let (Some(got), Some(want)) = (c.std_diff, diff) {
                close(got, want);
            }
        }
    }

    let (h, a) = (&heavy.categorical[0], &active.categorical[0]);
    assert_eq!((h.column.as_str(), h.value.as_str()), ("attr.tier", "gold"));
    close(h.share, 1.0);
    close(h.overall_share, 0.75);
    assert_eq!(a.value, "free");
    close(a.share, 0.5);
    close(a.overall_share, 0.25);

    // Largest first: age −1.41, frequency +1.12, recency −1.00.
    assert_eq!(
        heavy.summary,
        "lower age (attr.age −1.4 sd), more actions (frequency +1.1 sd), \
         more recent (recency_days −1.0 sd)"
    );
    assert_eq!(
        active.summary,
        "less recent (recency_days +1.0 sd), fewer actions (frequency −0.7 sd)"
    );
}

#[test]
fn everyone_in_one_segment_is_average() {
    let d = describe(&table(), &["all"; 5]).unwrap();
    let s = &d.segments[0];
    assert_eq!((s.size, s.share), (5, 1.0));
    assert!(s.numeric.iter().all(|c| c.std_diff.unwrap().abs() < 1e-12));
    assert_eq!(s.summary, SUMMARY_AVERAGE);
}

#[test]
fn equal_sizes_are_ordered_by_name_and_the_summary_keeps_three() {
    let mut f = table();
    // A fourth large difference (u1 high), so only the top three are named.
    f.numeric.push((
        "night_share".into(),
        vec![Some(1.0), Some(0.0), Some(0.0), Some(0.0), Some(0.0)],
    ));
    let d = describe(&f, &["b", "z", "z", "a", "a"]).unwrap();
    let names: Vec<&str> = d.segments.iter().map(|s| s.segment.as_str()).collect();
    assert_eq!(names, ["a", "z", "b"]);
    let b = &d.segments[2];
    // u1 alone: night +2.0 (mean 0.2, sd 0.4), frequency +1.68, recency −1.0, age −1.41.
    assert_eq!(
        b.summary,
        "more night activity (night_share +2.0 sd), more actions (frequency +1.7 sd), \
         lower age (attr.age −1.4 sd)"
    );
}

#[test]
fn clusters_and_noise_get_names() {
    assert_eq!(cluster_labels(&[1, 0]), ["cluster 1", "cluster 0"]);
    assert_eq!(
        dbscan_labels(&[0, -1, 2]),
        ["cluster 0", "noise", "cluster 2"]
    );
    let d = describe(&table(), &cluster_labels(&[0, 0, 1, 1, 1])).unwrap();
    assert_eq!(d.segments[0].segment, "cluster 1");
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["segments"][1]["categorical"][0]["value"], "gold");
}

#[test]
fn labels_must_match_users() {
    let err = describe(&table(), &["a"; 4]).unwrap_err();
    assert!(matches!(
        err,
        SegmentError::Invalid {
            field: "labels",
            ..
        }
    ));
    assert!(err.to_string().contains("4 labels for 5 users"), "{err}");
    let empty = UserFeatures {
        users: vec![],
        numeric: vec![],
        categorical: vec![],
    };
    let err = describe::<&str>(&empty, &[]).unwrap_err();
    assert!(matches!(
        err,
        SegmentError::Invalid {
            field: "labels",
            ..
        }
    ));
}
