//! The delta method for the relative lift `B/A − 1` of two independent estimates, shared by
//! proportions, means and ratio metrics so the rule is written once.
//!
//! First-order Taylor expansion of `g(a, b) = b/a` around the estimates:
//!
//! `Var(B̂/Â) ≈ Var(B̂)/A² + B²·Var(Â)/A⁴`
//!
//! (equivalently `(B/A)² (Var(B̂)/B² + Var(Â)/A²)`, written without dividing by `B` so that
//! `B = 0` is fine). Source: Deng, Knoblich, Lu (2018), "Applying the Delta Method in Metric
//! Analytics", KDD, §3.3; Kohavi, Tang, Xu (2020), *Trustworthy Online Controlled
//! Experiments*, ch. 18. The interval is the normal one, `lift ± z_{1−α/2}·se`.

use super::dist::z_two_sided;
use super::error::{undefined, Result};
use super::types::{Estimate, Interval};

/// `b/a − 1` with its delta-method standard error and normal interval at `confidence`.
/// `var_a`, `var_b` are the variances of the estimates `a`, `b` (not of the per-user values).
pub(crate) fn relative_lift(
    a: f64,
    var_a: f64,
    b: f64,
    var_b: f64,
    confidence: f64,
) -> Result<Estimate> {
    if a == 0.0 {
        return Err(undefined(
            "relative lift",
            "the control (A) estimate is 0, so B/A − 1 has no value",
        ));
    }
    let a2 = a * a;
    let std_error = (var_b / a2 + b * b * var_a / (a2 * a2)).sqrt();
    let estimate = b / a - 1.0;
    Ok(Estimate {
        estimate,
        std_error,
        interval: Interval::around(estimate, z_two_sided(confidence) * std_error),
    })
}

/// `b − a` with standard error `√(var_a + var_b)` and a normal interval.
pub(crate) fn difference(a: f64, var_a: f64, b: f64, var_b: f64, confidence: f64) -> Estimate {
    let std_error = (var_a + var_b).sqrt();
    Estimate {
        estimate: b - a,
        std_error,
        interval: Interval::around(b - a, z_two_sided(confidence) * std_error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lift_variance_is_the_first_order_expansion() {
        // a = 2 ± 0.1 (var 0.01), b = 3 ± 0.2 (var 0.04): var = 0.04/4 + 9·0.01/16.
        let e = relative_lift(2.0, 0.01, 3.0, 0.04, 0.95).unwrap();
        assert!((e.estimate - 0.5).abs() < 1e-15);
        assert!((e.std_error - (0.01f64 + 0.005625).sqrt()).abs() < 1e-15);
        let half = e.interval.high - e.estimate;
        assert!((half / e.std_error - 1.959_963_984_540_054).abs() < 1e-12);
    }

    #[test]
    fn lift_over_zero_is_undefined_but_zero_over_a_is_fine() {
        assert!(relative_lift(0.0, 0.01, 3.0, 0.04, 0.95).is_err());
        let e = relative_lift(2.0, 0.01, 0.0, 0.0, 0.95).unwrap();
        assert_eq!((e.estimate, e.std_error), (-1.0, 0.0));
    }
}
