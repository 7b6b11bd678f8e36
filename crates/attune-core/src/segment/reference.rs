//! Test helper: the scikit-learn values of `testdata/segment/reference.json` (written by
//! `scripts/segment_reference.py`) for [`mod@super::kmeans`], [`mod@super::choose_k`],
//! [`mod@super::dbscan`] and [`mod@super::pca`].

use std::sync::OnceLock;

use serde_json::Value;

use super::Dense;

const JSON: &str = include_str!("../../../../testdata/segment/reference.json");

/// Every comparison with sklearn must be within this relative error.
pub(crate) const TOL: f64 = 1e-6;

fn root() -> &'static Value {
    static ROOT: OnceLock<Value> = OnceLock::new();
    ROOT.get_or_init(|| serde_json::from_str(JSON).expect("segment reference.json parses"))
}

/// The cases of `section` (an array of objects).
pub(crate) fn cases(section: &str) -> &'static [Value] {
    root()[section]
        .as_array()
        .unwrap_or_else(|| panic!("segment reference.json has no array {section}"))
}

/// A matrix field (an array of equal-length rows).
pub(crate) fn matrix(v: &Value) -> Dense {
    let rows: Vec<Vec<f64>> = v
        .as_array()
        .expect("an array of rows")
        .iter()
        .map(nums)
        .collect();
    Dense::from_rows(&rows).expect("a valid matrix")
}

/// The named data set of `fixtures`.
pub(crate) fn fixture(case: &Value) -> Dense {
    let name = case["fixture"].as_str().expect("a fixture name");
    matrix(&root()["fixtures"][name])
}

/// An array of numbers.
pub(crate) fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

/// An array of integers (labels may be -1).
pub(crate) fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_i64().expect("an integer"))
        .collect()
}

/// A non-negative integer field.
pub(crate) fn count(v: &Value) -> usize {
    v.as_u64().expect("a count") as usize
}

/// Largest `|got - want| / |want|` (an exact zero compares absolutely), asserted `<= TOL`.
/// With `ATTUNE_SEGMENT_REPORT=1` (and `--nocapture`) each comparison prints its error, which is
/// how docs/segments.md's measured errors are found.
pub(crate) fn assert_rel(what: &str, got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let worst = got
        .iter()
        .zip(want)
        .map(|(g, w)| {
            let d = (g - w).abs();
            if *w == 0.0 {
                d
            } else {
                d / w.abs()
            }
        })
        .fold(0.0, f64::max);
    if std::env::var_os("ATTUNE_SEGMENT_REPORT").is_some() {
        eprintln!("segment-reference rel={worst:.3e} {what}");
    }
    assert!(
        worst <= TOL,
        "{what}: max relative error {worst:.2e} > {TOL:.0e}\n got {got:?}\nwant {want:?}"
    );
    worst
}
