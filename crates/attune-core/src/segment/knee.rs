//! The knee of a curve, Kneedle-style (Satopää et al., "Finding a 'Kneedle' in a Haystack",
//! 2011), used for the k-means elbow ([`mod@super::choose_k`]) and DBSCAN's eps
//! ([`super::dbscan::eps_from_knee`]).
//!
//! Both axes are scaled to [0, 1] (x by position, y by its min and max); the knee is the point
//! furthest below the chord joining the curve's ends: for a decreasing convex curve (inertia
//! against k) the chord is `1 - x` and the distance `(1 - x) - y`; for an increasing convex one
//! (sorted k-distances) the chord is `x` and the distance `x - y`. The largest distance wins
//! (the first on ties). This is Kneedle's difference curve and its global maximum, without the
//! sensitivity threshold: with one curve and no streaming there is nothing to be sensitive to.

/// Which way a convex curve runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Falls towards a floor (inertia against k).
    Decreasing,
    /// Rises from a floor (sorted k-distances).
    Increasing,
}

/// Index of the knee of `y` (points at equal x spacing), or `None` when there is none: fewer
/// than three points, a flat curve, or no point strictly below the chord.
pub fn knee_index(y: &[f64], direction: Direction) -> Option<usize> {
    if y.len() < 3 {
        return None;
    }
    let (lo, hi) = y
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if hi <= lo || !(hi - lo).is_finite() {
        return None;
    }
    let last = (y.len() - 1) as f64;
    let mut best: Option<(f64, usize)> = None;
    for (i, v) in y.iter().enumerate() {
        let x = i as f64 / last;
        let yn = (v - lo) / (hi - lo);
        let d = match direction {
            Direction::Decreasing => (1.0 - x) - yn,
            Direction::Increasing => x - yn,
        };
        if d > 0.0 && best.is_none_or(|(b, _)| d > b) {
            best = Some((d, i));
        }
    }
    best.map(|(_, i)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_bend_and_refuses_curves_without_one() {
        let elbow = [100.0, 40.0, 12.0, 10.0, 9.0, 8.5];
        assert_eq!(knee_index(&elbow, Direction::Decreasing), Some(2));
        let rising = [0.1, 0.11, 0.12, 0.13, 1.0, 2.0];
        assert_eq!(knee_index(&rising, Direction::Increasing), Some(3));
        assert_eq!(knee_index(&[3.0, 2.0, 1.0], Direction::Decreasing), None);
        assert_eq!(knee_index(&[1.0, 1.0, 1.0], Direction::Decreasing), None);
        assert_eq!(knee_index(&[2.0, 1.0], Direction::Decreasing), None);
    }
}
