//! Reading a spec from text ([`FromStr`] for [`Spec`], [`Spec::with`]), the errors that reports
//! ([`SpecError`]), and the canonical form ([`Display`](fmt::Display) for [`Spec`]) that parses
//! back to the same spec.

use std::fmt;
use std::str::FromStr;

use super::{Algorithm, ParamDef, ParamKind, ParamValue, Spec};
use crate::model::ParamError;

/// A spec that does not parse or whose values break a model rule. User error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// No algorithm has this name.
    #[error("unknown algorithm `{name}`; expected one of: {allowed}")]
    UnknownAlgorithm {
        /// The name given.
        name: String,
        /// Every algorithm name.
        allowed: String,
    },
    /// The algorithm has no such parameter.
    #[error("{algorithm}: unknown parameter `{param}`; expected one of: {allowed}")]
    UnknownParam {
        /// The algorithm.
        algorithm: &'static str,
        /// The name given.
        param: String,
        /// Its parameters (`none` when it takes none).
        allowed: String,
    },
    /// A value does not parse as the parameter's kind.
    #[error("{algorithm}: `{param}` = {value:?} is invalid: expected {expected}")]
    BadValue {
        /// The algorithm.
        algorithm: &'static str,
        /// The parameter.
        param: &'static str,
        /// The text given.
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// A parameter is given twice.
    #[error("{algorithm}: parameter `{param}` is given twice")]
    Duplicate {
        /// The algorithm.
        algorithm: &'static str,
        /// The parameter.
        param: &'static str,
    },
    /// A `key=value` pair is malformed.
    #[error("{algorithm}: `{text}` is not key=value")]
    Syntax {
        /// The algorithm.
        algorithm: &'static str,
        /// The offending text.
        text: String,
    },
    /// The values parse but break the model's rule.
    #[error(transparent)]
    Param(#[from] ParamError),
}

impl Spec {
    /// This spec with one parameter replaced (grid searches, seeds per fold).
    pub fn with(&self, name: &str, value: &str) -> Result<Self, SpecError> {
        let (k, def) = find_param(self.algorithm, name)?;
        let mut values = self.values.clone();
        values[k] = parse_value(self.algorithm, def, value)?;
        Self::build(self.algorithm, values)
    }
}

fn find_param(algorithm: Algorithm, name: &str) -> Result<(usize, &'static ParamDef), SpecError> {
    let defs = algorithm.params();
    defs.iter()
        .enumerate()
        .find(|(_, d)| d.name == name)
        .ok_or_else(|| SpecError::UnknownParam {
            algorithm: algorithm.name(),
            param: name.to_string(),
            allowed: if defs.is_empty() {
                "none (this algorithm takes no parameters)".into()
            } else {
                defs.iter().map(|d| d.name).collect::<Vec<_>>().join(", ")
            },
        })
}

fn parse_value(
    algorithm: Algorithm,
    def: &'static ParamDef,
    text: &str,
) -> Result<ParamValue, SpecError> {
    let bad = || SpecError::BadValue {
        algorithm: algorithm.name(),
        param: def.name,
        value: text.to_string(),
        expected: def.kind.expected(),
    };
    match def.kind {
        ParamKind::Int => text.parse::<u64>().map(ParamValue::Int).map_err(|_| bad()),
        ParamKind::Float => text
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(ParamValue::Float)
            .ok_or_else(bad),
        ParamKind::Choice(names) => names
            .iter()
            .find(|&&n| n == text)
            .map(|&n| ParamValue::Choice(n))
            .ok_or_else(bad),
    }
}

impl FromStr for Spec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let s = s.trim();
        let (name, rest) = match s.split_once(':') {
            Some((n, r)) => (n.trim(), Some(r)),
            None => (s, None),
        };
        let algorithm = Algorithm::from_name(name).ok_or_else(|| SpecError::UnknownAlgorithm {
            name: name.to_string(),
            allowed: Algorithm::names(),
        })?;
        let defs = algorithm.params();
        let mut values: Vec<ParamValue> = defs.iter().map(|d| d.default).collect();
        let mut given = vec![false; defs.len()];
        for pair in rest.into_iter().flat_map(|r| r.split(',')) {
            let pair = pair.trim();
            if pair.is_empty() {
                continue;
            }
            let Some((key, value)) = pair.split_once('=') else {
                return Err(SpecError::Syntax {
                    algorithm: algorithm.name(),
                    text: pair.to_string(),
                });
            };
            let (k, def) = find_param(algorithm, key.trim())?;
            if given[k] {
                return Err(SpecError::Duplicate {
                    algorithm: algorithm.name(),
                    param: def.name,
                });
            }
            given[k] = true;
            values[k] = parse_value(algorithm, def, value.trim())?;
        }
        Self::build(algorithm, values)
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.algorithm.name())?;
        let shown = (self.algorithm.params().iter().zip(&self.values))
            .filter(|(def, value)| !(def.quiet && **value == def.default));
        for (k, (def, value)) in shown.enumerate() {
            let sep = if k == 0 { ':' } else { ',' };
            write!(f, "{sep}{}={value}", def.name)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::tests::parse;

    #[test]
    fn defaults_round_trip_through_the_canonical_form() {
        for a in Algorithm::ALL {
            let spec = Spec::default_for(a);
            let text = spec.to_string();
            assert_eq!(parse(&text).unwrap(), spec, "{text}");
            assert_eq!(parse(a.name()).unwrap(), spec);
        }
        assert_eq!(
            Spec::default_for(Algorithm::Ease).to_string(),
            "ease:lambda=500"
        );
        // A quiet parameter shows once it differs from its default, and round-trips.
        let spec = parse("ease:popularity_exponent=0.25").unwrap();
        assert_eq!(spec.to_string(), "ease:lambda=500,popularity_exponent=0.25");
        assert_eq!(parse(&spec.to_string()).unwrap(), spec);
    }

    #[test]
    fn unknown_algorithm_lists_the_names() {
        let e = parse("svd:factors=3").unwrap_err();
        assert!(matches!(e, SpecError::UnknownAlgorithm { .. }));
        let msg = e.to_string();
        assert!(msg.contains("svd") && msg.contains("item-knn") && msg.contains("mf"));
    }

    #[test]
    fn unknown_parameter_names_it_and_the_allowed_ones() {
        let msg = parse("ease:reg=3").unwrap_err().to_string();
        assert!(msg.contains("`reg`") && msg.contains("lambda"), "{msg}");
        let msg = parse("popularity:x=1").unwrap_err().to_string();
        assert!(msg.contains("takes no parameters"), "{msg}");
    }

    #[test]
    fn bad_values_name_the_field_and_what_is_expected() {
        let e = parse("als:factors=many").unwrap_err();
        assert_eq!(
            e,
            SpecError::BadValue {
                algorithm: "als",
                param: "factors",
                value: "many".into(),
                expected: "a non-negative integer".into(),
            }
        );
        let msg = parse("als:solver=lu").unwrap_err().to_string();
        assert!(msg.contains("cg, cholesky"), "{msg}");
        assert!(matches!(
            parse("ease:lambda=nan").unwrap_err(),
            SpecError::BadValue { .. }
        ));
        assert!(matches!(
            parse("ease:lambda").unwrap_err(),
            SpecError::Syntax { .. }
        ));
        assert!(matches!(
            parse("ease:lambda=1,lambda=2").unwrap_err(),
            SpecError::Duplicate { .. }
        ));
    }
}
