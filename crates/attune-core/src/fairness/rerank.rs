//! Exposure-aware re-ranking: the model's candidates re-ordered so item groups are seen closer
//! to target shares, at a price in relevance set by one knob λ.
//!
//! Greedy, one position at a time (like MMR in `attune-serving`'s `rerank`): at position `p`
//! (discount `d = 1 / log2(p + 2)`) each remaining candidate `c` of group `g` is valued
//!
//! `rel(c) − λ · max(0, s_g / target_g − 1)`, with `s_g = (E_g + d) / (E + d)`
//!
//! where `rel` is the model score min-max normalized over the candidates (so λ means the same
//! for every model), `E_g` the discounted exposure group `g` already has in this list and `E`
//! the list's total: a candidate is penalized by how far, relative to its target, its group's
//! share `s_g` would be above the target if it took this position (relative, so λ means the
//! same for 2 groups or 10; a group with target 0 is never chosen while another candidate is
//! left). λ = 0 keeps the model's order; larger λ moves the list toward the targets. Ties keep
//! the model's order, so the result is deterministic.

use super::{discount, FairnessError};

/// Re-ranks one candidate list toward target exposure shares per item group.
#[derive(Debug, Clone, PartialEq)]
pub struct ExposureReranker {
    lambda: f64,
    targets: Vec<f64>,
}

impl ExposureReranker {
    /// `lambda` must be finite and non-negative; `targets` (one per group) non-negative with a
    /// positive sum (they are normalized to sum to 1).
    pub fn new(lambda: f64, targets: Vec<f64>) -> Result<Self, FairnessError> {
        if !(lambda.is_finite() && lambda >= 0.0) {
            return Err(FairnessError::Param {
                field: "lambda",
                value: lambda,
                rule: "must be a finite number >= 0",
            });
        }
        if let Some(&bad) = targets.iter().find(|t| !(t.is_finite() && **t >= 0.0)) {
            return Err(FairnessError::Param {
                field: "targets",
                value: bad,
                rule: "every target share must be a finite number >= 0",
            });
        }
        let sum: f64 = targets.iter().sum();
        if sum <= 0.0 {
            return Err(FairnessError::Param {
                field: "targets",
                value: sum,
                rule: "the target shares must not all be 0",
            });
        }
        Ok(Self {
            lambda,
            targets: targets.into_iter().map(|t| t / sum).collect(),
        })
    }

    /// λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// Target share per group (sums to 1).
    pub fn targets(&self) -> &[f64] {
        &self.targets
    }

    /// The first `n` of `candidates` (`(item, score)`, best first) re-ranked; scores travel
    /// with their items. `group_of(item)` must be below the number of targets.
    ///
    /// # Panics
    /// If `group_of` returns a group without a target.
    pub fn rerank(
        &self,
        candidates: &[(u32, f32)],
        n: usize,
        group_of: impl Fn(u32) -> usize,
    ) -> Vec<(u32, f32)> {
        let n = n.min(candidates.len());
        if self.lambda == 0.0 {
            return candidates[..n].to_vec();
        }
        let (lo, hi) = candidates
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), c| {
                (lo.min(c.1), hi.max(c.1))
            });
        let span = if hi > lo { f64::from(hi - lo) } else { 1.0 };
        let mut left: Vec<(u32, f32, usize)> = candidates
            .iter()
            .map(|&(i, s)| (i, s, group_of(i)))
            .collect();
        let mut exposure = vec![0.0; self.targets.len()];
        let mut total = 0.0;
        let mut picked = Vec::with_capacity(n);
        for p in 0..n {
            let d = discount(p);
            let mut best = 0;
            let mut best_value = f64::NEG_INFINITY;
            for (c, &(_, score, g)) in left.iter().enumerate() {
                let rel = f64::from(score - lo) / span;
                let over = relative_over((exposure[g] + d) / (total + d), self.targets[g]);
                let value = rel - self.lambda * over;
                if value > best_value {
                    best_value = value;
                    best = c;
                }
            }
            let (item, score, g) = left.remove(best);
            exposure[g] += d;
            total += d;
            picked.push((item, score));
        }
        picked
    }
}

/// How far `share` is above `target`, relative to the target: `max(0, share / target − 1)`
/// (a group with target 0 is infinitely over as soon as it has any share).
#[inline]
fn relative_over(share: f64, target: f64) -> f64 {
    if share <= target {
        0.0
    } else if target > 0.0 {
        share / target - 1.0
    } else {
        f64::INFINITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items 0, 1 are head (group 0), 2, 3 tail (group 1); targets 1/2 each.
    fn order(lambda: f64) -> Vec<u32> {
        let c = [(0, 1.0), (1, 0.9), (2, 0.5), (3, 0.0)];
        ExposureReranker::new(lambda, vec![1.0, 1.0])
            .unwrap()
            .rerank(&c, 3, |i| usize::from(i >= 2))
            .iter()
            .map(|e| e.0)
            .collect()
    }

    #[test]
    fn hand_computed_greedy_steps() {
        // λ = 1, relevance 1, 0.9, 0.5, 0. d1 = 1, d2 = 1/log2(3) = 0.631, d3 = 0.5.
        // Position 1: any first pick puts its group at share 1, 1/0.5 − 1 = 1 over:
        //   values 0, −0.1, −0.5, −1 → item 0. E = (1, 0).
        // Position 2: item 1 → head share 1, over 1: −0.1; item 2 → tail share
        //   0.631/1.631 = 0.387, not over: 0.5 → item 2. E = (1, 0.631).
        // Position 3: item 1 → head (1 + 0.5)/2.131 = 0.704, over 0.408: 0.492; item 3 →
        //   tail 1.131/2.131 = 0.531, over 0.061: −0.061 → item 1.
        assert_eq!(order(1.0), vec![0, 2, 1]);
        // λ = 0 keeps the model's order.
        assert_eq!(order(0.0), vec![0, 1, 2]);
        // λ = 100: at position 3 the head's over-exposure (0.408 · 100) outweighs item 3's
        // (0.061 · 100) and its zero relevance.
        assert_eq!(order(100.0), vec![0, 2, 3]);
    }

    #[test]
    fn scores_travel_and_short_inputs_are_fine() {
        let r = ExposureReranker::new(10.0, vec![1.0, 1.0]).unwrap();
        let c = [(0, 1.0), (1, 0.9), (2, 0.5)];
        // Position 2: item 1 (relevance 0.8) would be 1 over: 0.8 − 10; item 2 (0) is not.
        assert_eq!(r.rerank(&c, 2, |i| usize::from(i >= 2))[1], (2, 0.5));
        assert!(r.rerank(&[], 3, |_| 0).is_empty());
        assert_eq!(r.rerank(&c, 10, |_| 0).len(), 3);
    }

    #[test]
    fn a_group_with_target_zero_comes_last() {
        let r = ExposureReranker::new(0.1, vec![1.0, 0.0]).unwrap();
        let c = [(2, 1.0), (0, 0.5), (1, 0.0)];
        let order: Vec<u32> = r
            .rerank(&c, 3, |i| usize::from(i >= 2))
            .iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(order, vec![0, 1, 2]);
        assert_eq!(relative_over(0.5, 0.25), 1.0);
        assert_eq!(relative_over(0.2, 0.25), 0.0);
    }

    #[test]
    fn parameters_are_checked() {
        for (lambda, targets, field) in [
            (-1.0, vec![1.0], "lambda"),
            (f64::NAN, vec![1.0], "lambda"),
            (1.0, vec![0.0, 0.0], "targets"),
            (1.0, vec![1.0, -0.5], "targets"),
        ] {
            let e = ExposureReranker::new(lambda, targets).unwrap_err();
            assert!(e.to_string().contains(field), "{e}");
        }
        assert_eq!(
            ExposureReranker::new(0.5, vec![1.0, 3.0])
                .unwrap()
                .targets(),
            [0.25, 0.75]
        );
    }
}
