//! The algorithm factory: one text spec names an algorithm and its parameters, is checked once,
//! and fits any model from one [`TrainingSet`].
//!
//! A spec is `name` or `name:key=value,key=value`, e.g. `als:factors=64,reg=0.01,alpha=40`,
//! `ease:lambda=500`, `popularity`. Every parameter has a default (see [`Algorithm::params`]),
//! so a spec names only what differs. Parsing reports the first problem with the algorithm,
//! the parameter and what is allowed ([`SpecError`]); the values then go through the model's own
//! `check`, so a spec that parses can always [`fit`](Spec::fit).
//!
//! The canonical form ([`Spec`]'s `Display`) lists every parameter with its effective value, in
//! a fixed order, and parses back to the same spec: it is what evaluation reports and what a
//! model artifact records.
//!
//! ```
//! use attune_core::model::spec::{Spec, TrainingSet};
//! use attune_core::model::Scorer;
//! use attune_core::sparse::Csr;
//!
//! let spec: Spec = "ease:lambda=10".parse().unwrap();
//! assert_eq!(spec.to_string(), "ease:lambda=10");
//! let data = Csr::from_triplets(3, 4, [(0, 0, 1.0), (0, 1, 1.0), (1, 1, 1.0), (2, 3, 1.0)]).unwrap();
//! let model = spec.fit(&TrainingSet::new(data)).unwrap();
//! assert_eq!(model.n_items(), 4);
//!
//! let err = "als:factor=8".parse::<Spec>().unwrap_err().to_string();
//! assert!(err.contains("factor") && err.contains("factors"), "{err}");
//! ```

mod algorithm;
mod checked;
mod fit;
mod fitted;
mod parse;
mod training_set;

pub use algorithm::{Algorithm, Feedback, ParamDef, ParamKind, ParamValue};
pub use checked::CheckedParams;
pub use fit::SpecFitError;
pub use fitted::{Fitted, FittedModel, TrainedModel};
pub use parse::SpecError;
pub use training_set::{ItemContent, ItemSequences, TrainingSet, UserFeatureRows};

// `Spec` is the module's hub, so it lives here with its accessors; the rest of its methods sit
// with their purpose: `with`, `FromStr` and `Display` in `parse.rs`, `build` (values to
// checked parameters) in `checked.rs`, `fit` in `fit.rs`.

/// A parsed and checked algorithm spec. `Display` gives the canonical form.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    algorithm: Algorithm,
    /// One value per [`Algorithm::params`] entry, in that order.
    values: Vec<ParamValue>,
    checked: CheckedParams,
}

impl Spec {
    /// The algorithm with all parameters at their defaults.
    pub fn default_for(algorithm: Algorithm) -> Self {
        let values = algorithm.params().iter().map(|d| d.default).collect();
        Self::build(algorithm, values).expect("defaults are valid")
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Every parameter with its effective value, in canonical order.
    pub fn params(&self) -> Vec<(&'static str, ParamValue)> {
        self.algorithm
            .params()
            .iter()
            .zip(&self.values)
            .map(|(d, &v)| (d.name, v))
            .collect()
    }

    /// The value of parameter `name`, if the algorithm has it.
    pub fn param(&self, name: &str) -> Option<ParamValue> {
        self.algorithm
            .params()
            .iter()
            .position(|d| d.name == name)
            .map(|k| self.values[k])
    }

    /// The checked model parameters.
    pub fn checked(&self) -> &CheckedParams {
        &self.checked
    }
}

#[cfg(test)]
mod tests;
