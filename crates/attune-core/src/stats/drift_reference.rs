//! Test helper: the numpy/scipy values of `testdata/drift/reference.json` (written by
//! `scripts/drift_reference.py`) for the drift statistics ([`super::psi`], [`super::ks`]).

use std::sync::OnceLock;

use serde_json::Value;

const JSON: &str = include_str!("../../../../testdata/drift/reference.json");

fn root() -> &'static Value {
    static ROOT: OnceLock<Value> = OnceLock::new();
    ROOT.get_or_init(|| serde_json::from_str(JSON).expect("drift reference.json parses"))
}

/// The cases of `section` (an array of objects).
pub(crate) fn cases(section: &str) -> &'static [Value] {
    root()[section]
        .as_array()
        .unwrap_or_else(|| panic!("drift reference.json has no array {section}"))
}

/// A number field of a case.
pub(crate) fn num(case: &Value, key: &str) -> f64 {
    case[key]
        .as_f64()
        .unwrap_or_else(|| panic!("case {} has no number {key:?}", case["name"]))
}

/// An array of numbers.
pub(crate) fn nums(case: &Value, key: &str) -> Vec<f64> {
    case[key]
        .as_array()
        .unwrap_or_else(|| panic!("case {} has no array {key:?}", case["name"]))
        .iter()
        .map(|v| v.as_f64().expect("a number"))
        .collect()
}

/// `actual` is within `abs_tol` of `expected`. With `ATTUNE_STATS_REPORT=1` (and
/// `--nocapture`) every comparison prints its error, which is how docs/monitoring.md's "max
/// error" is measured.
pub(crate) fn assert_close(actual: f64, expected: f64, abs_tol: f64, what: &str) {
    let diff = (actual - expected).abs();
    if std::env::var_os("ATTUNE_STATS_REPORT").is_some() {
        eprintln!("drift-reference abs={diff:.3e} {what}");
    }
    assert!(
        diff <= abs_tol,
        "{what}: got {actual:e}, numpy/scipy say {expected:e} (error {diff:.2e} > {abs_tol:.0e})"
    );
}
