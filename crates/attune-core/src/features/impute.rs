//! Imputation: median for numbers, mode for categories.
//!
//! The median (not the mean) because profile attributes such as age or spend are skewed and
//! often carry a few absurd entries; the mode because it is the only "central" category.

use std::collections::HashMap;

use super::FeatureError;
use crate::clean::robust::median_in_place;

/// Fills missing numbers with the median of the present training values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MedianImputer {
    /// The fill value: the middle present value, or the mean of the two middle ones.
    pub median: f64,
}

impl MedianImputer {
    /// Fit on the present values of a column.
    pub fn fit(values: &[Option<f64>]) -> Result<Self, FeatureError> {
        let mut xs = Vec::with_capacity(values.len());
        for (row, v) in values.iter().enumerate() {
            match v {
                Some(x) if !x.is_finite() => {
                    return Err(FeatureError::NonFinite { row, value: *x })
                }
                Some(x) => xs.push(*x),
                None => {}
            }
        }
        let median =
            median_in_place(&mut xs).ok_or(FeatureError::NoValues { rows: values.len() })?;
        Ok(Self { median })
    }

    /// The column with every gap filled.
    pub fn transform(&self, values: &[Option<f64>]) -> Vec<f64> {
        values.iter().map(|v| v.unwrap_or(self.median)).collect()
    }
}

/// Fills missing categories with the most frequent training category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeImputer {
    /// The fill value. Ties go to the lexicographically smallest category, so the result does not
    /// depend on row order or hash seeds.
    pub mode: String,
}

impl ModeImputer {
    /// Fit on the present values of a column.
    pub fn fit(values: &[Option<&str>]) -> Result<Self, FeatureError> {
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for v in values.iter().flatten() {
            *counts.entry(v).or_insert(0) += 1;
        }
        let (mode, _) = counts
            .into_iter()
            .max_by(|(a, ca), (b, cb)| ca.cmp(cb).then_with(|| b.cmp(a)))
            .ok_or(FeatureError::NoValues { rows: values.len() })?;
        Ok(Self {
            mode: mode.to_string(),
        })
    }

    /// The column with every gap filled (borrowing, no string copies).
    pub fn transform<'a>(&'a self, values: &[Option<&'a str>]) -> Vec<&'a str> {
        values.iter().map(|v| v.unwrap_or(&self.mode)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_ignores_gaps_and_resists_junk() {
        // Ages with a typo (420) and two blanks: the mean would be 102, the median is 34.
        let ages = [
            Some(29.0),
            None,
            Some(34.0),
            Some(420.0),
            Some(31.0),
            None,
            Some(38.0),
        ];
        let imp = MedianImputer::fit(&ages).unwrap();
        assert_eq!(imp.median, 34.0);
        assert_eq!(
            imp.transform(&ages),
            vec![29.0, 34.0, 34.0, 420.0, 31.0, 34.0, 38.0]
        );
        assert_eq!(
            MedianImputer::fit(&[Some(1.0), Some(4.0)]).unwrap().median,
            2.5
        );
    }

    #[test]
    fn median_rejects_empty_and_non_finite() {
        assert_eq!(
            MedianImputer::fit(&[None]),
            Err(FeatureError::NoValues { rows: 1 })
        );
        assert!(matches!(
            MedianImputer::fit(&[Some(f64::INFINITY)]),
            Err(FeatureError::NonFinite { row: 0, .. })
        ));
    }

    #[test]
    fn mode_breaks_ties_by_name_whatever_the_row_order() {
        let col = [
            Some("DE"),
            Some("US"),
            None,
            Some("US"),
            Some("DE"),
            Some("FR"),
        ];
        assert_eq!(ModeImputer::fit(&col).unwrap().mode, "DE");
        let mut reversed = col;
        reversed.reverse();
        assert_eq!(ModeImputer::fit(&reversed).unwrap().mode, "DE");
        let imp = ModeImputer::fit(&[Some("US"), Some("US"), Some("DE")]).unwrap();
        assert_eq!(
            imp.transform(&col),
            vec!["DE", "US", "US", "US", "DE", "FR"]
        );
        assert_eq!(
            ModeImputer::fit(&[]),
            Err(FeatureError::NoValues { rows: 0 })
        );
    }
}
