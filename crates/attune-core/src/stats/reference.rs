//! Test helper: the scipy/statsmodels reference values of `testdata/stats/reference.json`
//! (written by `scripts/stats_reference.py`) and the tolerance every module asserts.

use std::sync::OnceLock;

use serde_json::Value;

const JSON: &str = include_str!("../../../../testdata/stats/reference.json");

/// Relative tolerance against the reference.
const REL_TOL: f64 = 1e-6;
/// Absolute tolerance for values near zero (p-values of 1e-300, differences of exactly 0).
const ABS_TOL: f64 = 1e-12;

fn root() -> &'static Value {
    static ROOT: OnceLock<Value> = OnceLock::new();
    ROOT.get_or_init(|| serde_json::from_str(JSON).expect("reference.json parses"))
}

/// The cases of `section.name` (an array of objects).
pub(crate) fn cases(section: &str, name: &str) -> &'static [Value] {
    root()[section][name]
        .as_array()
        .unwrap_or_else(|| panic!("reference.json has no array {section}.{name}"))
}

/// A number field of a case.
pub(crate) fn num(case: &Value, key: &str) -> f64 {
    case[key]
        .as_f64()
        .unwrap_or_else(|| panic!("case {} has no number {key:?}", case["name"]))
}

/// A whole-number field of a case.
pub(crate) fn int(case: &Value, key: &str) -> u64 {
    case[key]
        .as_u64()
        .unwrap_or_else(|| panic!("case {} has no integer {key:?}", case["name"]))
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

/// An array of whole numbers.
pub(crate) fn ints(case: &Value, key: &str) -> Vec<u64> {
    case[key]
        .as_array()
        .unwrap_or_else(|| panic!("case {} has no array {key:?}", case["name"]))
        .iter()
        .map(|v| v.as_u64().expect("a whole number"))
        .collect()
}

/// The case's name, for messages.
pub(crate) fn name(case: &Value) -> String {
    case["name"].as_str().unwrap_or("?").to_string()
}

/// `actual` equals `expected` to 1e-6 relative, or 1e-12 absolute near zero.
///
/// With `ATTUNE_STATS_REPORT=1` (and `--nocapture`) every comparison prints its relative
/// error, which is how docs/experiments.md's "max relative error" is measured.
pub(crate) fn assert_close(actual: f64, expected: f64, what: &str) {
    let diff = (actual - expected).abs();
    let rel = if expected == 0.0 {
        diff
    } else {
        diff / expected.abs()
    };
    if std::env::var_os("ATTUNE_STATS_REPORT").is_some() {
        eprintln!("stats-reference rel={rel:.3e} abs={diff:.3e} {what}");
    }
    assert!(
        diff <= ABS_TOL || rel <= REL_TOL,
        "{what}: got {actual:e}, scipy/statsmodels say {expected:e} (relative error {rel:.2e})"
    );
}
