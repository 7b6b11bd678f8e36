//! Parameter grids in an algorithm text (`attune train`, `attune evaluate`, `POST
//! /v1/models/train`): `ease:lambda=100|500|1000` or
//! `als:factors=32|64,reg=0.01|0.1` stand for every combination, in order (the last parameter
//! varies fastest). Each combination is parsed by the algorithm factory, so a bad name or value
//! is reported exactly as for a single spec.

use attune_core::model::spec::Spec;

use crate::error::{PipelineError, Result};

/// Largest number of combinations one `--algorithm` may expand to.
pub const MAX_COMBINATIONS: usize = 1000;

/// One expanded spec: the text as the user would have written it, and the parsed spec.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// `als:factors=32,reg=0.1`.
    pub label: String,
    /// The parsed spec.
    pub spec: Spec,
}

/// Expand one algorithm text.
pub fn expand(text: &str) -> Result<Vec<Candidate>> {
    let (name, params) = match text.split_once(':') {
        Some((n, p)) => (n.trim(), p),
        None => (text.trim(), ""),
    };
    let mut axes: Vec<(String, Vec<String>)> = Vec::new();
    for pair in params.split(',').filter(|p| !p.trim().is_empty()) {
        let Some((key, values)) = pair.split_once('=') else {
            // Let the factory word the error.
            return Ok(vec![parse(text, text)?]);
        };
        let values: Vec<String> = values.split('|').map(|v| v.trim().to_string()).collect();
        if values.iter().any(String::is_empty) {
            return Err(PipelineError::Invalid {
                field: "algorithm",
                rule: format!(
                    "invalid algorithm {text:?}: empty value in the list for {}",
                    key.trim()
                ),
            });
        }
        axes.push((key.trim().to_string(), values));
    }
    let total = axes
        .iter()
        .try_fold(1usize, |n, (_, v)| n.checked_mul(v.len()))
        .unwrap_or(usize::MAX);
    if total > MAX_COMBINATIONS {
        return Err(PipelineError::Invalid {
            field: "algorithm",
            rule: format!(
                "invalid algorithm {text:?}: {total} combinations (at most {MAX_COMBINATIONS})"
            ),
        });
    }
    let mut out = Vec::with_capacity(total);
    for n in 0..total {
        let mut rest = n;
        let mut chosen = vec![""; axes.len()];
        for (a, (_, values)) in axes.iter().enumerate().rev() {
            chosen[a] = &values[rest % values.len()];
            rest /= values.len();
        }
        let label = if axes.is_empty() {
            name.to_string()
        } else {
            let parts: Vec<String> = axes
                .iter()
                .zip(&chosen)
                .map(|((k, _), v)| format!("{k}={v}"))
                .collect();
            format!("{name}:{}", parts.join(","))
        };
        out.push(parse(&label, text)?);
    }
    Ok(out)
}

fn parse(label: &str, given: &str) -> Result<Candidate> {
    let spec = label
        .parse::<Spec>()
        .map_err(|source| PipelineError::Algorithm {
            text: given.to_string(),
            source,
        })?;
    Ok(Candidate {
        label: label.to_string(),
        spec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(text: &str) -> Vec<String> {
        expand(text).unwrap().into_iter().map(|c| c.label).collect()
    }

    #[test]
    fn expands_in_order_with_the_last_parameter_fastest() {
        assert_eq!(labels("ease"), ["ease"]);
        assert_eq!(labels("ease:lambda=10"), ["ease:lambda=10"]);
        assert_eq!(
            labels("als:factors=8|16,reg=0.1|1"),
            [
                "als:factors=8,reg=0.1",
                "als:factors=8,reg=1",
                "als:factors=16,reg=0.1",
                "als:factors=16,reg=1"
            ]
        );
        let c = &expand("als:factors=8|16").unwrap()[1];
        assert_eq!(
            c.spec.param("factors"),
            Some(attune_core::model::spec::ParamValue::Int(16))
        );
    }

    #[test]
    fn bad_grids_are_errors_naming_what_is_wrong() {
        let err = |t: &str| expand(t).unwrap_err().to_string();
        assert!(err("als:factors=8|").contains("empty value"));
        assert!(err("als:factor=8|16").contains("factors"));
        assert!(err("als:factors=8|x").contains("factors"));
        assert!(err("nope").contains("nope"));
        let big = format!("ease:lambda={}", vec!["1"; 1001].join("|"));
        assert!(err(&big).contains("1001 combinations"));
    }
}
