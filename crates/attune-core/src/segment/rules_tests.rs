//! [`mod@super::rules`] on hand-made users whose segments are worked out in the comments.

use super::rules::{assign, heavy_threshold, RuleSegment, RuleSegments};
use super::SegmentError;
use crate::features::users::UserFeatures;

use RuleSegment::{Active, Dormant, Heavy, New};

/// `(user, recency_days, tenure_days, frequency)`.
type Row = (&'static str, Option<f64>, Option<f64>, f64);

fn table(rows: &[Row]) -> UserFeatures {
    UserFeatures {
        users: rows.iter().map(|r| r.0.to_string()).collect(),
        numeric: vec![
            ("recency_days".into(), rows.iter().map(|r| r.1).collect()),
            ("frequency".into(), rows.iter().map(|r| Some(r.3)).collect()),
            ("tenure_days".into(), rows.iter().map(|r| r.2).collect()),
        ],
        categorical: vec![],
    }
}

/// Four users decided by days, then twelve "remaining" users with frequencies 1, 1, 2, ..., 11.
fn users() -> Vec<Row> {
    let mut rows: Vec<Row> = vec![
        ("a-profile-only", None, None, 0.0),       // no actions: new
        ("b-newcomer", Some(2.0), Some(5.0), 3.0), // tenure 5 < 14: new
        ("c-lapsed-whale", Some(90.0), Some(400.0), 50.0), // recency 90 > 60: dormant, not heavy
        ("d-new-and-busy", Some(1.0), Some(10.0), 100.0), // tenure 10 < 14: new beats heavy
        // Both boundaries are exclusive: tenure 14 is not new, recency 60 not dormant.
        ("e-boundary", Some(60.0), Some(14.0), 1.0),
    ];
    const NAMES: [&str; 11] = [
        "f01", "f02", "f03", "f04", "f05", "f06", "f07", "f08", "f09", "f10", "f11",
    ];
    for (i, name) in NAMES.into_iter().enumerate() {
        rows.push((name, Some(1.0), Some(100.0), (i + 1) as f64));
    }
    rows
}

#[test]
fn precedence_and_the_quantile_bar() {
    let f = table(&users());
    let rules = RuleSegments::default().check().unwrap();
    // Remaining: e and f01..f11, frequencies 1, 1, 2, ..., 11 (12 values). The 0.9 quantile
    // sits at position 11 * 0.9 = 9.9 between the sorted values 9 and 10: 9.9. The lapsed
    // whale's 50 and the newcomers' 100 are not counted (with them the bar would be higher).
    let bar = heavy_threshold(&f, &rules).unwrap().unwrap();
    assert!((bar - 9.9).abs() < 1e-12, "{bar}");
    let got = assign(&f, &rules).unwrap();
    let mut want = vec![New, New, Dormant, New, Active];
    want.extend([Active; 9]); // f01..f09: 1..9 < 9.9
    want.extend([Heavy; 2]); // f10, f11
    assert_eq!(got, want);
}

#[test]
fn an_absolute_bar_replaces_the_quantile() {
    let f = table(&users());
    let rules = RuleSegments {
        heavy_min_actions: Some(5),
        ..RuleSegments::default()
    }
    .check()
    .unwrap();
    assert_eq!(heavy_threshold(&f, &rules).unwrap(), Some(5.0));
    let got = assign(&f, &rules).unwrap();
    assert_eq!(&got[..5], [New, New, Dormant, New, Active]);
    assert_eq!(&got[5..9], [Active; 4]); // 1..4
    assert_eq!(&got[9..], [Heavy; 7]); // 5..11
}

#[test]
fn the_quantile_interpolates_between_order_statistics() {
    // Remaining frequencies 1, 2, 3, 4; the median sits at 3 * 0.5 = 1.5: 2.5 (numpy linear).
    let rows: Vec<Row> = (1..=4)
        .map(|i| (["p", "q", "r", "s"][i - 1], Some(1.0), Some(30.0), i as f64))
        .collect();
    let rules = RuleSegments {
        heavy_quantile: 0.5,
        ..RuleSegments::default()
    }
    .check()
    .unwrap();
    let f = table(&rows);
    assert_eq!(heavy_threshold(&f, &rules).unwrap(), Some(2.5));
    assert_eq!(assign(&f, &rules).unwrap(), [Active, Active, Heavy, Heavy]);
}

#[test]
fn nobody_remaining_means_no_bar_and_an_empty_table_no_segments() {
    let rules = RuleSegments::default().check().unwrap();
    let f = table(&[("a", None, None, 0.0)]);
    assert_eq!(heavy_threshold(&f, &rules).unwrap(), None);
    assert_eq!(assign(&f, &rules).unwrap(), [New]);
    assert_eq!(assign(&table(&[]), &rules).unwrap(), []);
}

#[test]
fn a_missing_column_is_named() {
    let rules = RuleSegments::default().check().unwrap();
    for missing in ["recency_days", "tenure_days", "frequency"] {
        let mut f = table(&users());
        f.numeric.retain(|(n, _)| n != missing);
        let err = assign(&f, &rules).unwrap_err();
        assert!(matches!(
            err,
            SegmentError::Invalid {
                field: "features",
                ..
            }
        ));
        assert!(err.to_string().contains(&format!("`{missing}`")), "{err}");
    }
}

fn field_of(rules: RuleSegments) -> &'static str {
    match rules.check() {
        Err(SegmentError::Invalid { field, .. }) => field,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn bad_thresholds_are_refused_by_name() {
    let d = RuleSegments::default;
    let cases = [
        (
            RuleSegments {
                new_days: -1.0,
                ..d()
            },
            "new_days",
        ),
        (
            RuleSegments {
                new_days: f64::NAN,
                ..d()
            },
            "new_days",
        ),
        (
            RuleSegments {
                dormant_days: -5.0,
                ..d()
            },
            "dormant_days",
        ),
        (
            RuleSegments {
                dormant_days: f64::INFINITY,
                ..d()
            },
            "dormant_days",
        ),
        (
            RuleSegments {
                dormant_days: 14.0,
                ..d()
            },
            "dormant_days",
        ),
        (
            RuleSegments {
                new_days: 90.0,
                ..d()
            },
            "dormant_days",
        ),
        (
            RuleSegments {
                heavy_quantile: 0.0,
                ..d()
            },
            "heavy_quantile",
        ),
        (
            RuleSegments {
                heavy_quantile: 1.0,
                ..d()
            },
            "heavy_quantile",
        ),
        (
            RuleSegments {
                heavy_quantile: f64::NAN,
                ..d()
            },
            "heavy_quantile",
        ),
        (
            RuleSegments {
                heavy_min_actions: Some(0),
                ..d()
            },
            "heavy_min_actions",
        ),
    ];
    for (rules, field) in cases {
        assert_eq!(field_of(rules.clone()), field, "{rules:?}");
    }
    assert!(RuleSegments {
        new_days: 0.0,
        ..d()
    }
    .check()
    .is_ok());
}

#[test]
fn config_section_defaults_and_refuses_unknown_keys() {
    let r: RuleSegments = serde_json::from_str(r#"{"dormant_days": 30}"#).unwrap();
    assert_eq!(
        r,
        RuleSegments {
            dormant_days: 30.0,
            ..RuleSegments::default()
        }
    );
    let err = serde_json::from_str::<RuleSegments>(r#"{"heavy_quantil": 0.8}"#).unwrap_err();
    assert!(err.to_string().contains("heavy_quantil"), "{err}");
    assert_eq!(serde_json::to_string(&Heavy).unwrap(), r#""heavy""#);
    assert_eq!(Dormant.to_string(), "dormant");
}
