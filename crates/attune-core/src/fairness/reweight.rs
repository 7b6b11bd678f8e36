//! Re-weighting at training: interactions with items of under-exposed popularity buckets weigh
//! more, so the model itself leans less to the head (the training-side counterpart of
//! [`super::ExposureReranker`]).
//!
//! Items are grouped into `K` popularity buckets of equal interaction mass
//! ([`super::groups::popularity_buckets`], popularity = users per item in the training matrix).
//! Bucket `g` with mean item popularity `p̄_g` gets the multiplier `c · p̄_g^(−β)`, the constant
//! `c` chosen so the total interaction weight is unchanged (`Σ w' = Σ w`): β = 0 changes
//! nothing, β = 1 weighs each bucket inversely to its items' popularity.

use crate::sparse::Csr;

use super::groups::popularity_buckets;
use super::resolve::popularity;
use super::FairnessError;

/// Checked re-weighting parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reweight {
    buckets: usize,
    beta: f64,
}

impl Reweight {
    /// `buckets` at least 1; `beta` finite and at least 0.
    pub fn new(buckets: usize, beta: f64) -> Result<Self, FairnessError> {
        if buckets == 0 {
            return Err(FairnessError::Param {
                field: "buckets",
                value: 0.0,
                rule: "must be at least 1",
            });
        }
        if !(beta.is_finite() && beta >= 0.0) {
            return Err(FairnessError::Param {
                field: "beta",
                value: beta,
                rule: "must be a finite number >= 0",
            });
        }
        Ok(Self { buckets, beta })
    }

    /// β.
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// Popularity buckets.
    pub fn buckets(&self) -> usize {
        self.buckets
    }

    /// The multiplier of each item (column) of `training`.
    pub fn item_multipliers(&self, training: &Csr) -> Vec<f32> {
        let pop = popularity(training);
        let groups = popularity_buckets(&pop, self.buckets).expect("buckets >= 1");
        let n = groups.n_groups();
        let (mut mass, mut items) = (vec![0.0; n], vec![0usize; n]);
        for (i, &p) in pop.iter().enumerate() {
            let g = groups.group_of(i as u32);
            mass[g] += p;
            items[g] += 1;
        }
        let raw: Vec<f64> = (0..n)
            .map(|g| {
                if mass[g] > 0.0 {
                    (mass[g] / items[g] as f64).powf(-self.beta)
                } else {
                    1.0
                }
            })
            .collect();
        // Keep the total weight: Σ_i w_i m_i = Σ_i w_i.
        let mut weight = vec![0.0; n];
        for (&c, &w) in training.indices().iter().zip(training.data()) {
            weight[groups.group_of(c)] += f64::from(w);
        }
        let total: f64 = weight.iter().sum();
        let scaled: f64 = weight.iter().zip(&raw).map(|(w, r)| w * r).sum();
        let c = if scaled > 0.0 { total / scaled } else { 1.0 };
        (0..pop.len())
            .map(|i| (c * raw[groups.group_of(i as u32)]) as f32)
            .collect()
    }

    /// `training` with every value multiplied by its item's multiplier.
    pub fn apply(&self, training: &Csr) -> Csr {
        if self.beta == 0.0 {
            return training.clone();
        }
        let m = self.item_multipliers(training);
        training.map_values(|_, c, v| v * m[c as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipliers_hand_computed() {
        // Users per item: 3, 1, 0 (item 0 head, items 1 and 2 tail with K = 2: mass before
        // 0, 3, 4 of 4 → buckets 0, floor(2·3/4) = 1, 1 (clamped)). Mean popularity: head 3,
        // tail (1 + 0)/2 = 0.5. β = 1: raw 1/3 and 2. Weights (all 1): head 3, tail 1; total 4;
        // scaled 3·1/3 + 1·2 = 3 → c = 4/3: head 4/9, tail 8/3.
        let t =
            Csr::from_triplets(3, 3, [(0, 0, 1.0), (1, 0, 1.0), (2, 0, 1.0), (0, 1, 1.0)]).unwrap();
        let m = Reweight::new(2, 1.0).unwrap().item_multipliers(&t);
        let want = [4.0 / 9.0, 8.0 / 3.0, 8.0 / 3.0];
        for (a, b) in m.iter().zip(want) {
            assert!((f64::from(*a) - b).abs() < 1e-6, "{m:?}");
        }
        let r = Reweight::new(2, 1.0).unwrap().apply(&t);
        let total: f32 = r.data().iter().sum();
        assert!((total - 4.0).abs() < 1e-5);
        assert_eq!(Reweight::new(2, 0.0).unwrap().apply(&t), t);
    }

    #[test]
    fn parameters_are_checked() {
        assert!(Reweight::new(0, 1.0).is_err());
        assert!(Reweight::new(3, -0.5)
            .unwrap_err()
            .to_string()
            .contains("beta"));
        assert!(Reweight::new(3, f64::NAN).is_err());
    }
}
