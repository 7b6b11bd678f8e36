//! Exhaustive search over given points per parameter (their Cartesian product).
//!
//! Trial `n` gets combination `n` in a fixed order (the first parameter varies slowest), so
//! parallel workers asking in turn never evaluate the same point twice and a resumed study
//! picks up where it stopped. Once every combination has been asked, `ask` reports
//! [`StudyError::Exhausted`](super::StudyError::Exhausted).

use std::collections::BTreeMap;

use thiserror::Error;

use super::space::{Distribution, ParamSet, SearchSpace, Value};
use super::study::{Study, TrialId};
use super::Sampler;

/// Why a grid does not fit its space.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum GridError {
    /// A space parameter has no points.
    #[error("the grid has no points for parameter {0:?}")]
    MissingParam(String),
    /// The grid names a parameter the space does not have.
    #[error("the grid names {0:?}, which is not in the search space")]
    UnknownParam(String),
    /// A point is of the wrong kind, outside the bounds or not a choice.
    #[error("grid point {value:?} does not fit parameter {name:?}")]
    BadPoint {
        /// The parameter.
        name: String,
        /// The point.
        value: Value,
    },
    /// The product overflows `u64` (no one can evaluate that many trials anyway).
    #[error("the grid has too many combinations")]
    TooLarge,
}

/// Proposes the combinations of the given points in order.
#[derive(Debug, Clone)]
pub struct GridSampler {
    /// Points per parameter, in the space's parameter order.
    axes: Vec<(String, Vec<Value>)>,
    total: u64,
}

impl GridSampler {
    /// A grid over `points` (every parameter of `space` needs at least one point, each valid).
    pub fn new(
        space: &SearchSpace,
        mut points: BTreeMap<String, Vec<Value>>,
    ) -> Result<Self, GridError> {
        let mut axes = Vec::with_capacity(space.len());
        for p in space.params() {
            let values = points
                .remove(&p.name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| GridError::MissingParam(p.name.clone()))?;
            if let Some(bad) = values.iter().find(|v| !fits(&p.dist, v)) {
                return Err(GridError::BadPoint {
                    name: p.name.clone(),
                    value: bad.clone(),
                });
            }
            axes.push((p.name.clone(), values));
        }
        if let Some(name) = points.into_keys().next() {
            return Err(GridError::UnknownParam(name));
        }
        let total = axes
            .iter()
            .try_fold(1u64, |acc, (_, v)| acc.checked_mul(v.len() as u64))
            .ok_or(GridError::TooLarge)?;
        Ok(Self { axes, total })
    }

    /// `n` evenly spaced points per numeric parameter (log-spaced on log scales, ints
    /// deduplicated after rounding) and every choice of each categorical.
    pub fn even(space: &SearchSpace, n: usize) -> Result<Self, GridError> {
        let n = n.max(2);
        let points = space
            .params()
            .iter()
            .map(|p| (p.name.clone(), even_points(&p.dist, n)))
            .collect();
        Self::new(space, points)
    }

    /// Number of combinations.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Never true (every axis has a point); here for clippy's sake.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Combination `n` (first parameter slowest), or `None` past the end.
    pub fn combination(&self, n: u64) -> Option<ParamSet> {
        if n >= self.total {
            return None;
        }
        let mut rest = n;
        let mut set = ParamSet::new();
        for (name, values) in self.axes.iter().rev() {
            let k = values.len() as u64;
            set.insert(name.clone(), values[(rest % k) as usize].clone());
            rest /= k;
        }
        Some(set)
    }
}

impl Sampler for GridSampler {
    fn sample(&self, _study: &Study, id: TrialId) -> Option<ParamSet> {
        self.combination(id)
    }
}

fn fits(dist: &Distribution, v: &Value) -> bool {
    match (dist, v) {
        (Distribution::Float { low, high, .. }, Value::Float(x)) => (*low..=*high).contains(x),
        (Distribution::Int { low, high, .. }, Value::Int(x)) => (*low..=*high).contains(x),
        (Distribution::Categorical { choices }, Value::Categorical(c)) => choices.contains(c),
        _ => false,
    }
}

fn even_points(dist: &Distribution, n: usize) -> Vec<Value> {
    let spaced = |low: f64, high: f64, log: bool| -> Vec<f64> {
        let (a, b) = if log {
            (low.ln(), high.ln())
        } else {
            (low, high)
        };
        (0..n)
            .map(|i| a + (b - a) * i as f64 / (n - 1) as f64)
            .map(|x| if log { x.exp() } else { x }.clamp(low, high))
            .collect()
    };
    match dist {
        Distribution::Float { low, high, log } => spaced(*low, *high, *log)
            .into_iter()
            .map(Value::Float)
            .collect(),
        Distribution::Int { low, high, log } => {
            let mut ints: Vec<i64> = spaced(*low as f64, *high as f64, *log)
                .into_iter()
                .map(|x| (x.round() as i64).clamp(*low, *high))
                .collect();
            ints.dedup();
            ints.into_iter().map(Value::Int).collect()
        }
        Distribution::Categorical { choices } => {
            choices.iter().cloned().map(Value::Categorical).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::space::Param;
    use crate::tune::study::{Direction, Outcome, StudyError};

    fn space() -> SearchSpace {
        SearchSpace::new(vec![
            Param::float("x", 0.0, 1.0),
            Param::int("n", 1, 10),
            Param::categorical("c", &["a", "b"]),
        ])
        .unwrap()
    }

    #[test]
    fn enumerates_the_cartesian_product_then_stops() {
        let points = BTreeMap::from([
            (
                "x".into(),
                vec![Value::Float(0.0), Value::Float(0.5), Value::Float(1.0)],
            ),
            ("n".into(), vec![Value::Int(1), Value::Int(10)]),
            (
                "c".into(),
                vec![
                    Value::Categorical("a".into()),
                    Value::Categorical("b".into()),
                ],
            ),
        ]);
        let grid = GridSampler::new(&space(), points).unwrap();
        assert_eq!(grid.len(), 12);
        let mut study = Study::new(space(), Direction::Minimize);
        let mut seen = Vec::new();
        for _ in 0..12 {
            let (id, p) = study.ask(&grid).unwrap();
            study.tell(id, Outcome::Complete(0.0)).unwrap();
            seen.push(p);
        }
        assert_eq!(study.ask(&grid), Err(StudyError::Exhausted));
        let mut keys: Vec<String> = seen.iter().map(|p| format!("{p:?}")).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 12, "every combination exactly once");
        assert_eq!(seen[0]["x"], Value::Float(0.0));
        assert_eq!(seen[11]["x"], Value::Float(1.0));
        assert_eq!(seen[1]["c"], Value::Categorical("b".into()));
    }

    #[test]
    fn even_grid_and_errors() {
        let grid = GridSampler::even(&space(), 4).unwrap();
        assert_eq!(grid.len(), 4 * 4 * 2);
        let log = SearchSpace::new(vec![Param::log_float("lr", 1e-4, 1e-1)]).unwrap();
        let g = GridSampler::even(&log, 4).unwrap();
        let lr: Vec<f64> = (0..4)
            .map(|i| g.combination(i).unwrap()["lr"].as_f64().unwrap())
            .collect();
        assert!(
            (lr[1] - 1e-3).abs() < 1e-12 && (lr[2] - 1e-2).abs() < 1e-12,
            "{lr:?}"
        );

        let missing = BTreeMap::from([("x".into(), vec![Value::Float(0.5)])]);
        assert_eq!(
            GridSampler::new(&space(), missing).unwrap_err(),
            GridError::MissingParam("n".into())
        );
        let out = BTreeMap::from([("lr".into(), vec![Value::Float(2.0)])]);
        assert!(matches!(
            GridSampler::new(&log, out).unwrap_err(),
            GridError::BadPoint { .. }
        ));
    }
}
