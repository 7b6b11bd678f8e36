//! [`LinearState`]: what a disjoint linear contextual policy knows, as plain numbers.
//!
//! Per arm `a`: the pulls, the Gram matrix `Σ x xᵀ` of the contexts it was played in and
//! `Σ r x`. These are the sufficient statistics of ridge regression; the ridge `λ` is *not*
//! in them (it is a parameter, added at factorization time), so states merge by addition
//! exactly like [`ArmsState`](super::ArmsState): a replica sends `local.delta_since(&base)` and
//! the store applies `stored.merge(&delta)`.

use super::BanditError;

/// Per-arm ridge-regression statistics of a disjoint linear bandit with `K` arms and context
/// dimension `d`. Matrices are row-major, arm after arm.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LinearState {
    /// Context dimension `d`.
    pub dim: usize,
    /// Rewards recorded per arm (length `K`).
    pub counts: Vec<u64>,
    /// `Σ x xᵀ` per arm, full symmetric storage (length `K·d·d`).
    pub gram: Vec<f64>,
    /// `Σ r x` per arm (length `K·d`).
    pub xty: Vec<f64>,
}

impl LinearState {
    /// The state of `n_arms` arms over `dim` features that have seen nothing.
    pub fn new(n_arms: usize, dim: usize) -> Self {
        Self {
            dim,
            counts: vec![0; n_arms],
            gram: vec![0.0; n_arms * dim * dim],
            xty: vec![0.0; n_arms * dim],
        }
    }

    /// Number of arms (the length of `counts`).
    pub fn n_arms(&self) -> usize {
        self.counts.len()
    }

    /// Rewards recorded over all arms.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// `arm`'s Gram matrix (`d·d`, row-major).
    pub fn gram_of(&self, arm: usize) -> &[f64] {
        let dd = self.dim * self.dim;
        &self.gram[arm * dd..(arm + 1) * dd]
    }

    /// `arm`'s `Σ r x` (length `d`).
    pub fn xty_of(&self, arm: usize) -> &[f64] {
        &self.xty[arm * self.dim..(arm + 1) * self.dim]
    }

    /// Check that these numbers could have been written by a policy: lengths agree with `K`
    /// and `d`, everything is finite, each Gram matrix is symmetric with a non-negative
    /// diagonal, and arms without pulls have zero statistics. (Positive semi-definiteness is
    /// checked when a policy factorizes the state.)
    pub fn validate(&self) -> Result<(), BanditError> {
        let (k, d) = (self.n_arms(), self.dim);
        for (field, len, want) in [
            ("gram", self.gram.len(), k * d * d),
            ("xty", self.xty.len(), k * d),
        ] {
            if len != want {
                return Err(BanditError::state(
                    field,
                    format!("has {len} entries; {k} arms x dim {d} need {want}"),
                ));
            }
        }
        for a in 0..k {
            let g = self.gram_of(a);
            let b = self.xty_of(a);
            if let Some(i) = g.iter().position(|v| !v.is_finite()) {
                return Err(BanditError::state(
                    format!("gram[{a}]"),
                    format!("entry {i} is not finite"),
                ));
            }
            if let Some(i) = b.iter().position(|v| !v.is_finite()) {
                return Err(BanditError::state(
                    format!("xty[{a}]"),
                    format!("entry {i} is not finite"),
                ));
            }
            if self.counts[a] == 0 && (g.iter().any(|&v| v != 0.0) || b.iter().any(|&v| v != 0.0)) {
                return Err(BanditError::state(
                    format!("gram[{a}]"),
                    "an arm with no pulls must have zero statistics",
                ));
            }
            for i in 0..d {
                if g[i * d + i] < 0.0 {
                    return Err(BanditError::state(
                        format!("gram[{a}]"),
                        format!("diagonal entry {i} is negative"),
                    ));
                }
                for j in 0..i {
                    let (x, y) = (g[i * d + j], g[j * d + i]);
                    if (x - y).abs() > 1e-9 * (x.abs().max(y.abs()).max(1.0)) {
                        return Err(BanditError::state(
                            format!("gram[{a}]"),
                            format!("not symmetric at ({i}, {j}): {x} vs {y}"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The state of both sides' pulls: element-wise sums (see the module docs).
    pub fn merge(&self, other: &LinearState) -> Result<LinearState, BanditError> {
        check_same_shape(self, other)?;
        Ok(LinearState {
            dim: self.dim,
            counts: zip(&self.counts, &other.counts, |a, b| a + b),
            gram: zip(&self.gram, &other.gram, |a, b| a + b),
            xty: zip(&self.xty, &other.xty, |a, b| a + b),
        })
    }

    /// What this state has seen since `base`, for [`merge`](Self::merge). Fails if some arm has
    /// fewer pulls than in `base`.
    pub fn delta_since(&self, base: &LinearState) -> Result<LinearState, BanditError> {
        check_same_shape(base, self)?;
        if let Some(arm) = (0..self.n_arms()).find(|&i| self.counts[i] < base.counts[i]) {
            return Err(BanditError::NotASuccessor {
                arm,
                count: self.counts[arm],
                base: base.counts[arm],
            });
        }
        let mut delta = LinearState {
            dim: self.dim,
            counts: zip(&self.counts, &base.counts, |a, b| a - b),
            gram: zip(&self.gram, &base.gram, |a, b| a - b),
            xty: zip(&self.xty, &base.xty, |a, b| a - b),
        };
        let (d, dd) = (self.dim, self.dim * self.dim);
        for a in 0..delta.n_arms() {
            if delta.counts[a] == 0 {
                delta.gram[a * dd..(a + 1) * dd].fill(0.0);
                delta.xty[a * d..(a + 1) * d].fill(0.0);
            }
        }
        Ok(delta)
    }

    /// Validate and check the shape fits a policy of `n_arms` arms over `dim` features.
    pub(crate) fn validate_for(&self, n_arms: usize, dim: usize) -> Result<(), BanditError> {
        for (field, expected, received) in
            [("n_arms", n_arms, self.n_arms()), ("dim", dim, self.dim)]
        {
            if expected != received {
                return Err(BanditError::ShapeMismatch {
                    field,
                    expected,
                    received,
                });
            }
        }
        self.validate()
    }

    /// Add one outcome (already checked) to `arm`'s statistics.
    pub(crate) fn record(&mut self, arm: usize, x: &[f64], reward: f64) {
        let d = self.dim;
        self.counts[arm] += 1;
        let g = &mut self.gram[arm * d * d..(arm + 1) * d * d];
        for (i, &xi) in x.iter().enumerate() {
            if xi != 0.0 {
                for (gij, &xj) in g[i * d..(i + 1) * d].iter_mut().zip(x) {
                    *gij += xi * xj;
                }
            }
        }
        for (bi, &xi) in self.xty[arm * d..(arm + 1) * d].iter_mut().zip(x) {
            *bi += reward * xi;
        }
    }
}

fn check_same_shape(a: &LinearState, b: &LinearState) -> Result<(), BanditError> {
    a.validate()?;
    b.validate()?;
    a.validate_for(b.n_arms(), b.dim)
}

fn zip<T: Copy>(a: &[T], b: &[T], f: impl Fn(T, T) -> T) -> Vec<T> {
    a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_accumulates_outer_products() {
        let mut s = LinearState::new(2, 2);
        s.record(1, &[1.0, 2.0], 3.0);
        s.record(1, &[0.0, 1.0], -1.0);
        assert_eq!(s.gram_of(1), &[1.0, 2.0, 2.0, 5.0]);
        assert_eq!(s.xty_of(1), &[3.0, 5.0]);
        assert_eq!(s.gram_of(0), &[0.0; 4]);
        s.validate().unwrap();
    }

    #[test]
    fn lengths_must_match_arms_and_dim() {
        let mut s = LinearState::new(2, 3);
        s.xty.pop();
        let e = s.validate().unwrap_err();
        assert!(matches!(e, BanditError::InvalidState { ref field, .. } if field == "xty"));
    }

    #[test]
    fn gram_must_be_finite_and_symmetric() {
        let mut s = LinearState::new(1, 2);
        s.record(0, &[1.0, 1.0], 1.0);
        let mut t = s.clone();
        t.gram[1] = 7.0;
        let e = t.validate().unwrap_err();
        assert!(
            matches!(e, BanditError::InvalidState { ref reason, .. } if reason.contains("symmetric"))
        );
        s.gram[0] = f64::NAN;
        assert!(s.validate().is_err());
    }

    #[test]
    fn gram_diagonal_cannot_be_negative() {
        let mut s = LinearState::new(1, 2);
        s.counts[0] = 1;
        s.gram[3] = -1.0;
        assert!(s.validate().is_err());
    }

    #[test]
    fn an_unpulled_arm_has_zero_statistics() {
        let mut s = LinearState::new(2, 1);
        s.xty[0] = 1.0;
        let e = s.validate().unwrap_err();
        assert!(matches!(e, BanditError::InvalidState { ref field, .. } if field == "gram[0]"));
    }

    #[test]
    fn deltas_of_two_replicas_merge_into_one_history() {
        let mut base = LinearState::new(2, 2);
        base.record(0, &[1.0, 0.0], 1.0);
        let (mut a, mut b, mut single) = (base.clone(), base.clone(), base.clone());
        a.record(0, &[0.5, 1.0], 0.0);
        b.record(1, &[1.0, 1.0], 1.0);
        single.record(0, &[0.5, 1.0], 0.0);
        single.record(1, &[1.0, 1.0], 1.0);
        let merged = base
            .merge(&a.delta_since(&base).unwrap())
            .unwrap()
            .merge(&b.delta_since(&base).unwrap())
            .unwrap();
        assert_eq!(merged, single);
    }

    #[test]
    fn shapes_must_agree_to_merge() {
        let e = LinearState::new(2, 2)
            .merge(&LinearState::new(2, 3))
            .unwrap_err();
        assert!(matches!(e, BanditError::ShapeMismatch { field: "dim", .. }));
        let e = LinearState::new(2, 2)
            .delta_since(&LinearState::new(3, 2))
            .unwrap_err();
        assert!(matches!(
            e,
            BanditError::ShapeMismatch {
                field: "n_arms",
                ..
            }
        ));
    }
}
