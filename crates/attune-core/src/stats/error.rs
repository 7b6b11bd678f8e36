//! The one error type of [`crate::stats`] and the checks every public function runs first.
//!
//! Each rule is one small function here, so "a probability is in [0, 1]" reads the same way in
//! every module and names the argument at fault.

use std::fmt::Display;

/// A statistics function refused its input or cannot give an answer for it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// User error: an argument breaks a rule (`field` names it, e.g. `a.successes`).
    #[error("{field}: {rule}")]
    Invalid {
        /// The argument at fault, as the caller spelled it (`b.variance`, `p_values[3]`).
        field: String,
        /// The rule that was broken, with the value that broke it.
        rule: String,
    },
    /// The inputs are valid but the quantity is undefined for them, e.g. a z-test when both
    /// groups have a conversion rate of 0 (standard error 0). scipy returns NaN here; we say why.
    #[error("{quantity} is undefined: {reason}")]
    Undefined {
        /// What could not be computed (`z statistic`, `relative lift`).
        quantity: &'static str,
        /// Why, in terms of the inputs.
        reason: String,
    },
}

/// Shorthand for results of this module.
pub type Result<T> = std::result::Result<T, StatsError>;

pub(crate) fn invalid(field: impl Display, rule: impl Display) -> StatsError {
    StatsError::Invalid {
        field: field.to_string(),
        rule: rule.to_string(),
    }
}

pub(crate) fn undefined(quantity: &'static str, reason: impl Display) -> StatsError {
    StatsError::Undefined {
        quantity,
        reason: reason.to_string(),
    }
}

/// `x` is not NaN and not infinite.
pub(crate) fn finite(field: impl Display, x: f64) -> Result<f64> {
    if x.is_finite() {
        Ok(x)
    } else {
        Err(invalid(field, format!("must be a finite number (got {x})")))
    }
}

/// `x` is not NaN (infinities are allowed, e.g. `cdf(+inf) = 1`).
pub(crate) fn not_nan(field: impl Display, x: f64) -> Result<f64> {
    if x.is_nan() {
        Err(invalid(field, "must be a number (got NaN)"))
    } else {
        Ok(x)
    }
}

/// `0 <= p <= 1`.
pub(crate) fn probability(field: impl Display, p: f64) -> Result<f64> {
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(invalid(
            field,
            format!("must be a probability in [0, 1] (got {p})"),
        ))
    }
}

/// `0 < p < 1`, e.g. a quantile level, a significance level or a target power.
pub(crate) fn open_unit(field: impl Display, p: f64) -> Result<f64> {
    if p > 0.0 && p < 1.0 {
        Ok(p)
    } else {
        Err(invalid(
            field,
            format!("must be strictly between 0 and 1 (got {p})"),
        ))
    }
}

/// `x > 0` and finite.
pub(crate) fn positive(field: impl Display, x: f64) -> Result<f64> {
    if x.is_finite() && x > 0.0 {
        Ok(x)
    } else {
        Err(invalid(
            field,
            format!("must be a finite number > 0 (got {x})"),
        ))
    }
}

/// `x >= 0` and finite (variances, sums of squares).
pub(crate) fn non_negative(field: impl Display, x: f64) -> Result<f64> {
    if x.is_finite() && x >= 0.0 {
        Ok(x)
    } else {
        Err(invalid(
            field,
            format!("must be a finite number >= 0 (got {x})"),
        ))
    }
}

/// `n >= min` for a count of observations.
pub(crate) fn at_least(field: impl Display, n: u64, min: u64) -> Result<u64> {
    if n >= min {
        Ok(n)
    } else {
        Err(invalid(field, format!("must be at least {min} (got {n})")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_field_and_the_rule() {
        let e = probability("a.rate", 1.5).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a.rate: must be a probability in [0, 1] (got 1.5)"
        );
        let e = at_least("b.n", 1, 2).unwrap_err();
        assert_eq!(e.to_string(), "b.n: must be at least 2 (got 1)");
        let e = undefined("z statistic", "both rates are 0");
        assert_eq!(e.to_string(), "z statistic is undefined: both rates are 0");
    }

    #[test]
    fn checks_accept_their_domain_and_refuse_the_rest() {
        assert!(finite("x", f64::INFINITY).is_err());
        assert!(not_nan("x", f64::NEG_INFINITY).is_ok());
        assert!(not_nan("x", f64::NAN).is_err());
        assert!(open_unit("alpha", 0.0).is_err());
        assert!(open_unit("alpha", 0.05).is_ok());
        assert!(positive("tau2", 0.0).is_err());
        assert!(non_negative("variance", 0.0).is_ok());
        assert!(non_negative("variance", -1e-300).is_err());
    }
}
