//! Numeric normalization: min-max and z-score.
//!
//! Features on different scales (a price in hundreds, a click rate below one) would otherwise
//! let the large one dominate every distance and every gradient step.

use super::FeatureError;

/// A fitted numeric transformation applied value by value.
pub trait NumericTransform {
    /// Transform one present value.
    fn transform_one(&self, x: f64) -> f64;

    /// Transform a column; missing values stay missing.
    fn transform(&self, values: &[Option<f64>]) -> Vec<Option<f64>> {
        values
            .iter()
            .map(|v| v.map(|x| self.transform_one(x)))
            .collect()
    }
}

/// Present values of a column, rejecting NaN and infinities by row.
fn present(values: &[Option<f64>]) -> Result<impl Iterator<Item = f64> + Clone + '_, FeatureError> {
    if let Some((row, value)) = values
        .iter()
        .enumerate()
        .find_map(|(i, v)| v.filter(|x| !x.is_finite()).map(|x| (i, x)))
    {
        return Err(FeatureError::NonFinite { row, value });
    }
    if values.iter().all(Option::is_none) {
        return Err(FeatureError::NoValues { rows: values.len() });
    }
    Ok(values.iter().filter_map(|v| *v))
}

/// Maps `[min, max]` of the training values onto `[0, 1]`.
///
/// Values outside the training range map outside `[0, 1]` (no clipping: an unusually expensive
/// new product should stay visibly unusual). A constant column maps every value to 0 instead of
/// dividing by zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinMaxScaler {
    /// Smallest training value.
    pub min: f64,
    /// Largest training value.
    pub max: f64,
}

impl MinMaxScaler {
    /// Fit on the present values of a column.
    pub fn fit(values: &[Option<f64>]) -> Result<Self, FeatureError> {
        let (min, max) = present(values)?
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
                (lo.min(x), hi.max(x))
            });
        Ok(Self { min, max })
    }

    /// Map a scaled value back to the original unit (a constant column maps back to `min`).
    pub fn inverse(&self, y: f64) -> f64 {
        self.min + y * (self.max - self.min)
    }
}

impl NumericTransform for MinMaxScaler {
    fn transform_one(&self, x: f64) -> f64 {
        let range = self.max - self.min;
        if range > 0.0 {
            (x - self.min) / range
        } else {
            0.0
        }
    }
}

/// Centers on the training mean and divides by the training standard deviation.
///
/// Uses the population standard deviation (divide by n), as the parameters describe the training
/// column itself rather than estimate a wider population. A constant column (all present values
/// equal, checked exactly rather than by a variance that rounding can make tiny but non-zero)
/// has `std = 0` and maps every value to 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZScoreScaler {
    /// Training mean.
    pub mean: f64,
    /// Training population standard deviation; 0 for a constant column.
    pub std: f64,
}

impl ZScoreScaler {
    /// Fit on the present values of a column (two passes, for accuracy with large offsets).
    pub fn fit(values: &[Option<f64>]) -> Result<Self, FeatureError> {
        let xs = present(values)?;
        let (mut n, mut sum, mut lo, mut hi) = (0usize, 0.0, f64::INFINITY, f64::NEG_INFINITY);
        for x in xs.clone() {
            n += 1;
            sum += x;
            lo = lo.min(x);
            hi = hi.max(x);
        }
        let mean = sum / n as f64;
        if lo == hi {
            return Ok(Self { mean: lo, std: 0.0 });
        }
        let var = xs.map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        Ok(Self {
            mean,
            std: var.sqrt(),
        })
    }

    /// Map a standardized value back to the original unit.
    pub fn inverse(&self, z: f64) -> f64 {
        self.mean + z * self.std
    }
}

impl NumericTransform for ZScoreScaler {
    fn transform_one(&self, x: f64) -> f64 {
        if self.std > 0.0 {
            (x - self.mean) / self.std
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Order totals in euros, with a missing one.
    fn totals() -> Vec<Option<f64>> {
        vec![Some(12.5), Some(40.0), None, Some(27.5), Some(100.0)]
    }

    #[test]
    fn min_max_maps_training_range_to_unit_interval() {
        let s = MinMaxScaler::fit(&totals()).unwrap();
        assert_eq!((s.min, s.max), (12.5, 100.0));
        assert_eq!(
            s.transform(&totals()),
            vec![
                Some(0.0),
                Some(27.5 / 87.5),
                None,
                Some(15.0 / 87.5),
                Some(1.0)
            ]
        );
        assert_eq!(
            s.transform_one(187.5),
            2.0,
            "no clipping outside the training range"
        );
        assert!((s.inverse(s.transform_one(40.0)) - 40.0).abs() < 1e-12);
    }

    #[test]
    fn z_score_matches_hand_computation() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, population std 2.
        let v: Vec<Option<f64>> = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]
            .into_iter()
            .map(Some)
            .collect();
        let z = ZScoreScaler::fit(&v).unwrap();
        assert_eq!((z.mean, z.std), (5.0, 2.0));
        assert_eq!(z.transform_one(9.0), 2.0);
        assert_eq!(z.inverse(-1.5), 2.0);
    }

    #[test]
    fn constant_columns_give_zero_not_nan() {
        // 0.1 ten times: the computed mean is off by an ulp, which a variance test would miss.
        let v = vec![Some(0.1); 10];
        let z = ZScoreScaler::fit(&v).unwrap();
        assert_eq!(z.std, 0.0);
        assert!(z.transform(&v).iter().all(|x| *x == Some(0.0)));
        let m = MinMaxScaler::fit(&v).unwrap();
        assert_eq!(m.transform_one(0.1), 0.0);
        assert_eq!(m.transform_one(5.0), 0.0);
    }

    #[test]
    fn large_offsets_keep_precision() {
        // Timestamps in seconds: a naive sum-of-squares variance loses every digit here.
        let v: Vec<Option<f64>> = [1.0, 2.0, 3.0].iter().map(|d| Some(1.8e9 + d)).collect();
        let z = ZScoreScaler::fit(&v).unwrap();
        assert!((z.std - (2.0f64 / 3.0).sqrt()).abs() < 1e-6, "{}", z.std);
    }

    #[test]
    fn bad_columns_are_rejected_by_row() {
        assert_eq!(
            MinMaxScaler::fit(&[None, None]),
            Err(FeatureError::NoValues { rows: 2 })
        );
        assert_eq!(
            ZScoreScaler::fit(&[]),
            Err(FeatureError::NoValues { rows: 0 })
        );
        let err = ZScoreScaler::fit(&[Some(1.0), Some(f64::NAN)]).unwrap_err();
        assert!(
            matches!(err, FeatureError::NonFinite { row: 1, .. }),
            "{err}"
        );
    }
}
