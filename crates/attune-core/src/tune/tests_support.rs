//! Shared test helpers: a space with every kind of parameter, and a bounds check.

use super::space::{Distribution, Param, ParamSet, SearchSpace, Value};

/// Float, log-float, int, log-int and categorical parameters.
pub(crate) fn mixed_space() -> SearchSpace {
    SearchSpace::new(vec![
        Param::float("x", -2.0, 3.0),
        Param::log_float("lr", 1e-5, 1e-1),
        Param::int("n", -3, 4),
        Param::log_int("k", 1, 1000),
        Param::categorical("c", &["a", "b", "c"]),
    ])
    .unwrap()
}

/// Every set has every parameter, of the right kind, within its bounds.
pub(crate) fn assert_in_bounds(space: &SearchSpace, sets: &[ParamSet]) {
    for set in sets {
        assert_eq!(set.len(), space.len());
        for p in space.params() {
            match (&p.dist, &set[&p.name]) {
                (Distribution::Float { low, high, .. }, Value::Float(v)) => {
                    assert!((*low..=*high).contains(v), "{} = {v}", p.name)
                }
                (Distribution::Int { low, high, .. }, Value::Int(v)) => {
                    assert!((*low..=*high).contains(v), "{} = {v}", p.name)
                }
                (Distribution::Categorical { choices }, Value::Categorical(c)) => {
                    assert!(choices.contains(c))
                }
                (d, v) => panic!("{}: {v:?} does not fit {d:?}", p.name),
            }
        }
    }
}
