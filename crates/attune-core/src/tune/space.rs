//! Search spaces: the named parameters a study may set, and the values a trial gets.
//!
//! A space is validated once, when it is built (and again when it is deserialized), so samplers
//! can assume `low < high`, positive bounds on log scales and at least one choice per
//! categorical. Samplers work on an *internal* `f64` per parameter (the value itself for floats
//! and ints, the choice index for categoricals); [`SearchSpace::to_internal`] and
//! [`SearchSpace::from_internal`] convert, so every sampler shares one rounding and clamping rule.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a search space is invalid, or why a stored space is not the requested one.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SpaceError {
    /// A space with no parameters has nothing to tune.
    #[error("the search space has no parameters")]
    Empty,
    /// A parameter name is empty.
    #[error("a parameter has an empty name")]
    EmptyName,
    /// Two parameters share a name, so a parameter set could not tell them apart.
    #[error("parameter {0:?} is defined twice")]
    Duplicate(String),
    /// The range is empty or reversed (a fixed value is not a parameter to tune).
    #[error("parameter {name:?}: low ({low}) must be below high ({high})")]
    LowNotBelowHigh {
        /// The parameter.
        name: String,
        /// Its lower bound.
        low: f64,
        /// Its upper bound.
        high: f64,
    },
    /// A bound is NaN or infinite.
    #[error("parameter {0:?} has a non-finite bound")]
    NonFinite(String),
    /// A log scale needs a positive lower bound (the log of 0 or less is undefined).
    #[error("parameter {name:?}: a log scale needs low > 0, got {low}")]
    LogNotPositive {
        /// The parameter.
        name: String,
        /// Its lower bound.
        low: f64,
    },
    /// A categorical parameter needs at least two distinct choices to be worth tuning.
    #[error("categorical parameter {0:?} needs at least two distinct choices")]
    TooFewChoices(String),
    /// A stored study was made for a different space than the one requested.
    #[error("the stored search space differs from the requested one: {0}")]
    Different(String),
}

/// How a parameter's values are distributed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Distribution {
    /// A real number in `[low, high]`; `log` samples uniformly in `ln` space (for scales such
    /// as learning rates and regularization, where 1e-4..1e-3 matters as much as 0.1..1).
    Float {
        /// Lower bound (inclusive).
        low: f64,
        /// Upper bound (inclusive).
        high: f64,
        /// Log scale.
        #[serde(default)]
        log: bool,
    },
    /// An integer in `[low, high]`; `log` as for floats (e.g. factor counts 8..512).
    Int {
        /// Lower bound (inclusive).
        low: i64,
        /// Upper bound (inclusive).
        high: i64,
        /// Log scale.
        #[serde(default)]
        log: bool,
    },
    /// One of a set of unordered choices.
    Categorical {
        /// The choices, in a fixed order (the internal value is the index).
        choices: Vec<String>,
    },
}

/// One named parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// The name a trial's parameter set uses.
    pub name: String,
    /// Its distribution.
    #[serde(flatten)]
    pub dist: Distribution,
}

impl Param {
    /// A uniform float in `[low, high]`.
    pub fn float(name: &str, low: f64, high: f64) -> Self {
        Self::new(
            name,
            Distribution::Float {
                low,
                high,
                log: false,
            },
        )
    }
    /// A log-uniform float in `[low, high]` (`low > 0`).
    pub fn log_float(name: &str, low: f64, high: f64) -> Self {
        Self::new(
            name,
            Distribution::Float {
                low,
                high,
                log: true,
            },
        )
    }
    /// A uniform integer in `[low, high]`.
    pub fn int(name: &str, low: i64, high: i64) -> Self {
        Self::new(
            name,
            Distribution::Int {
                low,
                high,
                log: false,
            },
        )
    }
    /// A log-uniform integer in `[low, high]` (`low > 0`).
    pub fn log_int(name: &str, low: i64, high: i64) -> Self {
        Self::new(
            name,
            Distribution::Int {
                low,
                high,
                log: true,
            },
        )
    }
    /// A categorical choice.
    pub fn categorical<S: AsRef<str>>(name: &str, choices: &[S]) -> Self {
        let choices = choices.iter().map(|c| c.as_ref().to_string()).collect();
        Self::new(name, Distribution::Categorical { choices })
    }
    fn new(name: &str, dist: Distribution) -> Self {
        Self {
            name: name.to_string(),
            dist,
        }
    }

    fn validate(&self) -> Result<(), SpaceError> {
        let name = || self.name.clone();
        if self.name.is_empty() {
            return Err(SpaceError::EmptyName);
        }
        let (low, high, log) = match &self.dist {
            Distribution::Float { low, high, log } => (*low, *high, *log),
            Distribution::Int { low, high, log } => (*low as f64, *high as f64, *log),
            Distribution::Categorical { choices } => {
                let distinct: HashSet<&String> = choices.iter().collect();
                if distinct.len() < 2 || distinct.len() != choices.len() {
                    return Err(SpaceError::TooFewChoices(name()));
                }
                return Ok(());
            }
        };
        if !low.is_finite() || !high.is_finite() {
            return Err(SpaceError::NonFinite(name()));
        }
        if low >= high {
            return Err(SpaceError::LowNotBelowHigh {
                name: name(),
                low,
                high,
            });
        }
        if log && low <= 0.0 {
            return Err(SpaceError::LogNotPositive { name: name(), low });
        }
        Ok(())
    }
}

/// A value a trial gets for one parameter.
///
/// Untagged so a stored parameter set reads naturally (`{"lr": 0.01, "factors": 64}`); `Int`
/// is tried before `Float`, and serde_json writes floats with a decimal point, so both round-trip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// An integer parameter's value.
    Int(i64),
    /// A float parameter's value.
    Float(f64),
    /// A categorical parameter's choice.
    Categorical(String),
}

impl Value {
    /// The value as a float (ints widen; categoricals are `None`).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Categorical(_) => None,
        }
    }
}

/// The parameters of one trial, by name (sorted, so serialized sets compare and diff cleanly).
pub type ParamSet = BTreeMap<String, Value>;

/// A validated, ordered list of parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Param>", into = "Vec<Param>")]
pub struct SearchSpace {
    params: Vec<Param>,
}

impl TryFrom<Vec<Param>> for SearchSpace {
    type Error = SpaceError;
    fn try_from(params: Vec<Param>) -> Result<Self, SpaceError> {
        Self::new(params)
    }
}

impl From<SearchSpace> for Vec<Param> {
    fn from(space: SearchSpace) -> Self {
        space.params
    }
}

impl SearchSpace {
    /// Validates the parameters: at least one, unique non-empty names, `low < high`, finite
    /// bounds, `low > 0` on log scales, at least two distinct choices per categorical.
    pub fn new(params: Vec<Param>) -> Result<Self, SpaceError> {
        if params.is_empty() {
            return Err(SpaceError::Empty);
        }
        let mut seen = HashSet::new();
        for p in &params {
            p.validate()?;
            if !seen.insert(p.name.as_str()) {
                return Err(SpaceError::Duplicate(p.name.clone()));
            }
        }
        Ok(Self { params })
    }

    /// The parameters in definition order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Always false (a valid space has at least one parameter); here for clippy's sake.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Refuses a different space: resuming a study under other parameters would mix trials
    /// whose values mean different things, and the samplers would model nonsense.
    pub fn ensure_same(&self, requested: &SearchSpace) -> Result<(), SpaceError> {
        if self == requested {
            return Ok(());
        }
        let names = |s: &SearchSpace| s.params.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
        let detail = match (self.params.len(), requested.params.len()) {
            (a, b) if a != b => format!(
                "stored has {a} parameters {:?}, requested has {b} {:?}",
                names(self),
                names(requested)
            ),
            _ => self
                .params
                .iter()
                .zip(&requested.params)
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("stored {a:?}, requested {b:?}"))
                .unwrap_or_default(),
        };
        Err(SpaceError::Different(detail))
    }

    /// The internal `f64` of each parameter (choice index for categoricals), or `None` if the
    /// set lacks a parameter or holds a value of the wrong kind or an unknown choice.
    pub fn to_internal(&self, set: &ParamSet) -> Option<Vec<f64>> {
        self.params
            .iter()
            .map(|p| match (&p.dist, set.get(&p.name)?) {
                (Distribution::Float { .. }, v) => v.as_f64(),
                (Distribution::Int { .. }, Value::Int(i)) => Some(*i as f64),
                (Distribution::Categorical { choices }, Value::Categorical(c)) => {
                    choices.iter().position(|x| x == c).map(|i| i as f64)
                }
                _ => None,
            })
            .collect()
    }

    /// A parameter set from internal values: clamped to the bounds, ints rounded, categorical
    /// indices rounded and clamped to a valid choice.
    pub fn from_internal(&self, internal: &[f64]) -> ParamSet {
        self.params
            .iter()
            .zip(internal)
            .map(|(p, &x)| {
                let value = match &p.dist {
                    Distribution::Float { low, high, .. } => Value::Float(x.clamp(*low, *high)),
                    Distribution::Int { low, high, .. } => {
                        Value::Int((x.round() as i64).clamp(*low, *high))
                    }
                    Distribution::Categorical { choices } => {
                        let i = (x.round().max(0.0) as usize).min(choices.len() - 1);
                        Value::Categorical(choices[i].clone())
                    }
                };
                (p.name.clone(), value)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(params: Vec<Param>) -> SpaceError {
        SearchSpace::new(params).unwrap_err()
    }

    #[test]
    fn validation_errors() {
        assert_eq!(err(vec![]), SpaceError::Empty);
        assert!(matches!(
            err(vec![Param::float("x", 1.0, 1.0)]),
            SpaceError::LowNotBelowHigh { .. }
        ));
        assert!(matches!(
            err(vec![Param::int("n", 5, 2)]),
            SpaceError::LowNotBelowHigh { .. }
        ));
        assert!(matches!(
            err(vec![Param::log_float("lr", 0.0, 1.0)]),
            SpaceError::LogNotPositive { .. }
        ));
        assert!(matches!(
            err(vec![Param::log_int("k", -1, 10)]),
            SpaceError::LogNotPositive { .. }
        ));
        assert_eq!(
            err(vec![Param::float("x", 0.0, 1.0), Param::int("x", 0, 3)]),
            SpaceError::Duplicate("x".into())
        );
        assert_eq!(
            err(vec![Param::float("x", f64::NAN, 1.0)]),
            SpaceError::NonFinite("x".into())
        );
        assert_eq!(
            err(vec![Param::categorical("c", &["a"])]),
            SpaceError::TooFewChoices("c".into())
        );
        assert_eq!(
            err(vec![Param::categorical("c", &["a", "a"])]),
            SpaceError::TooFewChoices("c".into())
        );
        assert_eq!(err(vec![Param::float("", 0.0, 1.0)]), SpaceError::EmptyName);
    }

    #[test]
    fn serde_round_trip_validates() {
        let space = SearchSpace::new(vec![
            Param::log_float("lr", 1e-4, 1e-1),
            Param::int("factors", 8, 256),
            Param::categorical("loss", &["bpr", "warp"]),
        ])
        .unwrap();
        let json = serde_json::to_string(&space).unwrap();
        let back: SearchSpace = serde_json::from_str(&json).unwrap();
        assert_eq!(back, space);
        let bad = r#"[{"name":"x","kind":"float","low":2.0,"high":1.0}]"#;
        assert!(serde_json::from_str::<SearchSpace>(bad).is_err());
    }

    #[test]
    fn internal_round_trip_rounds_and_clamps() {
        let space = SearchSpace::new(vec![
            Param::float("x", 0.0, 1.0),
            Param::int("n", 1, 10),
            Param::categorical("c", &["a", "b", "c"]),
        ])
        .unwrap();
        let set = space.from_internal(&[1.5, 3.6, 7.0]);
        assert_eq!(set["x"], Value::Float(1.0));
        assert_eq!(set["n"], Value::Int(4));
        assert_eq!(set["c"], Value::Categorical("c".into()));
        assert_eq!(space.to_internal(&set), Some(vec![1.0, 4.0, 2.0]));
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(serde_json::from_str::<ParamSet>(&json).unwrap(), set);
    }

    #[test]
    fn ensure_same_names_the_difference() {
        let a = SearchSpace::new(vec![Param::float("x", 0.0, 1.0)]).unwrap();
        let b = SearchSpace::new(vec![Param::float("x", 0.0, 2.0)]).unwrap();
        assert!(a.ensure_same(&a.clone()).is_ok());
        let e = a.ensure_same(&b).unwrap_err().to_string();
        assert!(e.contains("differs") && e.contains("2.0"), "{e}");
    }
}
