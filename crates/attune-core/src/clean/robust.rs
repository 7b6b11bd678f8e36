//! Robust outlier thresholds: `median + k · MAD`.
//!
//! Interaction counts are heavy-tailed, so mean and standard deviation are dragged up by the very
//! outliers we want to find (one bot with 50 000 clicks moves the mean of a thousand users by 50).
//! The median and the median absolute deviation (MAD) ignore up to half of the population being
//! extreme, which makes the rule stable on exactly the data it is meant to clean.

/// The median of `values` (the mean of the two middle values for an even count); `None` when empty.
///
/// Sorts `values` in place (the caller owns the scratch buffer). NaN must not be present: callers
/// pass counts and rates, which are always finite.
pub fn median_in_place(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// A fitted `median + k · scale` rule over one measure (events per actor, peak rate, ...).
///
/// Kept in the clean report so a user can see *why* an actor or item was flagged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RobustRule {
    /// How many values the rule was fitted on.
    pub n: u64,
    /// Median of the measure.
    pub median: f64,
    /// Median absolute deviation from the median (unscaled, i.e. not multiplied by 1.4826).
    pub mad: f64,
    /// The spread actually used: `max(mad, 1.0)`. Counts are whole numbers, so a MAD below one
    /// event is below the resolution of the data; without the floor a population where most
    /// actors have exactly the same count (MAD = 0) would flag everyone one event above it.
    pub scale: f64,
    /// `k` from the configuration.
    pub k: f64,
    /// `median + k · scale`: values strictly above it are outliers.
    pub threshold: f64,
}

impl RobustRule {
    /// Fit the rule on `values` (counts or rates, all finite), using `scratch` as sort space.
    ///
    /// An empty population gives an infinite threshold: with nothing to compare against, nothing
    /// is an outlier.
    pub fn fit(values: impl IntoIterator<Item = f64>, k: f64, scratch: &mut Vec<f64>) -> Self {
        scratch.clear();
        scratch.extend(values);
        let n = scratch.len() as u64;
        let Some(median) = median_in_place(scratch) else {
            return Self {
                n: 0,
                median: 0.0,
                mad: 0.0,
                scale: 1.0,
                k,
                threshold: f64::INFINITY,
            };
        };
        for v in scratch.iter_mut() {
            *v = (*v - median).abs();
        }
        let mad = median_in_place(scratch).unwrap_or(0.0);
        let scale = mad.max(1.0);
        Self {
            n,
            median,
            mad,
            scale,
            k,
            threshold: median + k * scale,
        }
    }

    /// Whether `value` lies strictly above the threshold.
    pub fn is_outlier(&self, value: f64) -> bool {
        value > self.threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even_empty() {
        assert_eq!(median_in_place(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median_in_place(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median_in_place(&mut []), None);
    }

    #[test]
    fn rule_matches_hand_computation() {
        // counts 10, 12, 14, 15, 200: median 14, deviations 4, 2, 0, 1, 186 -> MAD 2.
        let mut scratch = Vec::new();
        let r = RobustRule::fit([10.0, 12.0, 14.0, 15.0, 200.0], 6.0, &mut scratch);
        assert_eq!(
            (r.median, r.mad, r.scale, r.threshold),
            (14.0, 2.0, 2.0, 26.0)
        );
        assert!(r.is_outlier(200.0));
        assert!(
            !r.is_outlier(26.0),
            "the threshold itself is not an outlier"
        );
    }

    #[test]
    fn zero_mad_is_floored_to_one_event() {
        // 99 users with exactly 3 events and one with 4: MAD is 0, but 4 is not a bot.
        let mut scratch = Vec::new();
        let values = std::iter::repeat_n(3.0, 99).chain([4.0, 40.0]);
        let r = RobustRule::fit(values, 6.0, &mut scratch);
        assert_eq!((r.mad, r.scale, r.threshold), (0.0, 1.0, 9.0));
        assert!(!r.is_outlier(4.0));
        assert!(r.is_outlier(40.0));
    }

    #[test]
    fn empty_population_flags_nothing() {
        let r = RobustRule::fit(std::iter::empty(), 6.0, &mut Vec::new());
        assert_eq!(r.n, 0);
        assert!(!r.is_outlier(1e12));
    }
}
