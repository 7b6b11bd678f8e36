//! Parameter rules shared by every policy's `check`, so a rule (and its message) is written once.

use crate::model::ParamError;

/// `n_arms >= 2`: with one arm there is nothing to allocate.
pub(crate) fn n_arms(policy: &'static str, n_arms: usize) -> Result<(), ParamError> {
    if n_arms >= 2 {
        Ok(())
    } else {
        Err(ParamError::new(
            policy,
            "n_arms",
            n_arms,
            "must be at least 2",
        ))
    }
}

/// `0 <= floor <= 1 / n_arms`: the floor is a share each arm is guaranteed, so `K` of them must
/// fit in the whole traffic.
pub(crate) fn floor(policy: &'static str, floor: f64, n_arms: usize) -> Result<(), ParamError> {
    // 1e-12 slack so that `1.0 / k as f64` itself passes for every k.
    if floor.is_finite() && floor >= 0.0 && floor * n_arms as f64 <= 1.0 + 1e-12 {
        Ok(())
    } else {
        Err(ParamError::new(
            policy,
            "floor",
            floor,
            "must be between 0 and 1 / n_arms",
        ))
    }
}

/// A finite number `> 0`.
pub(crate) fn positive(
    policy: &'static str,
    field: &'static str,
    v: f64,
) -> Result<(), ParamError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(ParamError::new(
            policy,
            field,
            v,
            "must be a finite number > 0",
        ))
    }
}

/// A finite number `>= 0`.
pub(crate) fn non_negative(
    policy: &'static str,
    field: &'static str,
    v: f64,
) -> Result<(), ParamError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(ParamError::new(
            policy,
            field,
            v,
            "must be a finite number >= 0",
        ))
    }
}

/// Any finite number.
pub(crate) fn finite(policy: &'static str, field: &'static str, v: f64) -> Result<(), ParamError> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(ParamError::new(policy, field, v, "must be a finite number"))
    }
}

/// A probability in `[0, 1]`.
pub(crate) fn unit(policy: &'static str, field: &'static str, v: f64) -> Result<(), ParamError> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(ParamError::new(policy, field, v, "must be between 0 and 1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_of_exactly_one_over_k_passes_for_every_k() {
        for k in 2..200 {
            assert!(floor("t", 1.0 / k as f64, k).is_ok(), "k = {k}");
        }
    }

    #[test]
    fn floor_above_one_over_k_is_named() {
        let e = floor("t", 0.34, 3).unwrap_err();
        assert_eq!((e.field, e.value.as_str()), ("floor", "0.34"));
    }

    #[test]
    fn nan_fails_every_numeric_rule() {
        assert!(positive("t", "x", f64::NAN).is_err());
        assert!(non_negative("t", "x", f64::NAN).is_err());
        assert!(finite("t", "x", f64::NAN).is_err());
        assert!(unit("t", "x", f64::NAN).is_err());
    }
}
