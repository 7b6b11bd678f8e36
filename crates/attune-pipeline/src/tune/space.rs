//! What a study of one algorithm family searches: the family's default search space, the
//! `--space` text that replaces it, and a trial's parameters as a spec of the algorithm factory.
//!
//! Space text: comma-separated `name=KIND:LOW..HIGH` (KIND `float`, `log`, `int` or `logint`)
//! or `name=cat:a|b|c`, e.g. `reg=log:1e-4..1,factors=int:16..256`. Every name must be a
//! parameter of the family (the factory's table) and every kind must fit the parameter
//! (an integer parameter needs `int`/`logint`, a choice parameter `cat` with its own names).
//! The bounds are then checked by `attune_core::tune::SearchSpace` (low < high, log scales
//! positive), and each trial's values by the factory (`ease:lambda=0` is refused there).

use attune_core::model::spec::{Algorithm, ParamDef, ParamKind, Spec};
use attune_core::tune::{Distribution, Param, ParamSet, SearchSpace, Value};

use super::TuneError;

/// The family called `name`, or [`TuneError::UnknownAlgorithm`] listing the known ones.
pub fn family(name: &str) -> Result<Algorithm, TuneError> {
    let name = name.trim();
    // A spec with parameters names one model, not a family to tune.
    if name.contains(':') {
        return Err(TuneError::UnknownAlgorithm {
            name: name.to_string(),
            allowed: known(),
        });
    }
    let algorithm = Algorithm::from_name(name).ok_or_else(|| TuneError::UnknownAlgorithm {
        name: name.to_string(),
        allowed: known(),
    })?;
    if algorithm.params().is_empty() {
        return Err(TuneError::NothingToTune(algorithm.name()));
    }
    Ok(algorithm)
}

fn known() -> String {
    Algorithm::ALL
        .iter()
        .filter(|a| !a.params().is_empty())
        .map(|a| a.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The default search space of a family: the parameters that matter most, over ranges that
/// cover what works on data from MovieLens-100K to catalogs of tens of thousands of items.
pub fn default_space(algorithm: Algorithm) -> SearchSpace {
    let params = match algorithm {
        Algorithm::Ease => vec![Param::log_float("lambda", 1.0, 10_000.0)],
        Algorithm::Als => vec![
            Param::log_int("factors", 8, 256),
            Param::log_float("reg", 1e-3, 100.0),
            Param::log_float("alpha", 0.1, 100.0),
            Param::int("iterations", 5, 30),
        ],
        Algorithm::ItemKnn | Algorithm::UserKnn => vec![
            Param::log_int("neighbours", 5, 500),
            Param::float("shrink", 0.0, 100.0),
            Param::categorical("weighting", &["none", "bm25", "tfidf"]),
        ],
        Algorithm::Bpr => vec![
            Param::log_int("factors", 8, 256),
            Param::log_float("learning_rate", 1e-3, 0.1),
            Param::log_float("reg", 1e-5, 0.1),
            Param::int("epochs", 20, 200),
        ],
        Algorithm::Mf => vec![
            Param::log_int("factors", 8, 256),
            Param::log_float("learning_rate", 1e-3, 0.05),
            Param::log_float("reg", 1e-3, 0.5),
            Param::int("epochs", 10, 60),
        ],
        Algorithm::Trending => vec![Param::log_float("half_life_days", 0.5, 60.0)],
        Algorithm::EaseTransition => vec![
            Param::log_float("lambda", 1.0, 10_000.0),
            Param::int("window", 1, 20),
            Param::float("mix", 0.0, 1.0),
        ],
        Algorithm::AlsTransition => vec![
            Param::log_int("factors", 8, 256),
            Param::log_float("reg", 1e-3, 100.0),
            Param::log_float("alpha", 0.1, 100.0),
            Param::int("window", 1, 20),
            Param::float("mix", 0.0, 1.0),
        ],
        Algorithm::SeqKnn => vec![
            Param::log_int("neighbours", 10, 1000),
            Param::float("position_decay", 0.0, 20.0),
            Param::float("shrink", 0.0, 100.0),
        ],
        Algorithm::Transition => vec![
            Param::int("window", 1, 20),
            Param::float("decay", 0.1, 1.0),
            Param::log_int("neighbours", 10, 1000),
        ],
        Algorithm::Content => vec![
            Param::int("min_df", 1, 10),
            Param::float("max_df", 0.1, 1.0),
            Param::float("category_weight", 0.0, 4.0),
        ],
        Algorithm::Hybrid => vec![
            Param::log_int("factors", 8, 128),
            Param::log_float("learning_rate", 1e-3, 0.2),
            Param::int("epochs", 5, 60),
            Param::float("identity_weight", 0.0, 1.0),
        ],
        Algorithm::Popularity | Algorithm::CategoryPopularity => Vec::new(),
    };
    SearchSpace::new(params).expect("default spaces are valid")
}

/// Parse `--space` text for `algorithm`; see the module docs for the grammar.
pub fn parse_space(algorithm: Algorithm, text: &str) -> Result<SearchSpace, TuneError> {
    let bad = |part: &str, reason: String| TuneError::Space {
        part: part.to_string(),
        reason,
    };
    let mut params = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, rest) = part
            .split_once('=')
            .ok_or_else(|| bad(part, "expected NAME=KIND:LOW..HIGH or NAME=cat:A|B".into()))?;
        let name = name.trim();
        let def = param_def(algorithm, name)?;
        let (kind, range) = rest.split_once(':').ok_or_else(|| {
            bad(
                part,
                "expected KIND:LOW..HIGH (KIND float, log, int or logint) or cat:A|B".into(),
            )
        })?;
        let kind = kind.trim();
        let param = if kind == "cat" {
            let ParamKind::Choice(allowed) = def.kind else {
                return Err(bad(
                    part,
                    format!("{name} is numeric; use float, log, int or logint"),
                ));
            };
            let choices: Vec<&str> = range.split('|').map(str::trim).collect();
            if let Some(c) = choices.iter().find(|c| !allowed.contains(c)) {
                return Err(bad(
                    part,
                    format!("{c:?} is not a {name}; one of {}", allowed.join(", ")),
                ));
            }
            Param::categorical(name, &choices)
        } else {
            let (low, high) = range
                .split_once("..")
                .ok_or_else(|| bad(part, format!("expected LOW..HIGH, got {range:?}")))?;
            let (low, high) = (low.trim(), high.trim());
            match (kind, def.kind) {
                ("int" | "logint", ParamKind::Int) => {
                    let int = |s: &str| {
                        s.parse::<i64>()
                            .map_err(|_| bad(part, format!("{s:?} is not an integer")))
                    };
                    let (low, high) = (int(low)?, int(high)?);
                    if kind == "int" {
                        Param::int(name, low, high)
                    } else {
                        Param::log_int(name, low, high)
                    }
                }
                ("float" | "log", ParamKind::Float) => {
                    let num = |s: &str| {
                        s.parse::<f64>()
                            .ok()
                            .filter(|v| v.is_finite())
                            .ok_or_else(|| bad(part, format!("{s:?} is not a number")))
                    };
                    let (low, high) = (num(low)?, num(high)?);
                    if kind == "float" {
                        Param::float(name, low, high)
                    } else {
                        Param::log_float(name, low, high)
                    }
                }
                ("int" | "logint", _) | ("float" | "log", _) => {
                    return Err(bad(
                        part,
                        format!(
                            "{name} takes {}; use {}",
                            def.kind.describe(),
                            def.kind.kinds()
                        ),
                    ))
                }
                _ => {
                    return Err(bad(
                        part,
                        format!("unknown kind {kind:?}; one of float, log, int, logint, cat"),
                    ))
                }
            }
        };
        params.push(param);
    }
    SearchSpace::new(params).map_err(|e| TuneError::Space {
        part: text.to_string(),
        reason: e.to_string(),
    })
}

trait KindText {
    fn describe(&self) -> &'static str;
    fn kinds(&self) -> &'static str;
}

impl KindText for ParamKind {
    fn describe(&self) -> &'static str {
        match self {
            ParamKind::Int => "integers",
            ParamKind::Float => "real numbers",
            ParamKind::Choice(_) => "names",
        }
    }
    fn kinds(&self) -> &'static str {
        match self {
            ParamKind::Int => "int or logint",
            ParamKind::Float => "float or log",
            ParamKind::Choice(_) => "cat",
        }
    }
}

fn param_def(algorithm: Algorithm, name: &str) -> Result<&'static ParamDef, TuneError> {
    algorithm
        .params()
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| TuneError::UnknownParam {
            algorithm: algorithm.name(),
            name: name.to_string(),
            allowed: algorithm
                .params()
                .iter()
                .map(|d| d.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// A space in `--space` text: [`parse_space`] reads it back to the same space, so what
/// `attune tune show` prints can be pasted into `--space`.
pub fn space_text(space: &SearchSpace) -> String {
    space
        .params()
        .iter()
        .map(|p| match &p.dist {
            Distribution::Float { low, high, log } => {
                let kind = if *log { "log" } else { "float" };
                format!("{}={kind}:{low:?}..{high:?}", p.name)
            }
            Distribution::Int { low, high, log } => {
                let kind = if *log { "logint" } else { "int" };
                format!("{}={kind}:{low}..{high}", p.name)
            }
            Distribution::Categorical { choices } => {
                format!("{}=cat:{}", p.name, choices.join("|"))
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The spec of a trial: the family's defaults with the trial's values.
pub fn spec_of(algorithm: Algorithm, params: &ParamSet) -> Result<Spec, TuneError> {
    let mut spec = Spec::default_for(algorithm);
    for (name, value) in params {
        let text = match value {
            Value::Int(v) => v.to_string(),
            Value::Float(v) => v.to_string(),
            Value::Categorical(c) => c.clone(),
        };
        spec = spec
            .with(name, &text)
            .map_err(|source| TuneError::Spec { source })?;
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn als() -> Algorithm {
        family("als").unwrap()
    }

    #[test]
    fn every_tunable_family_has_a_valid_default_space_whose_trials_are_specs() {
        use attune_core::tune::{RandomSampler, Sampler as _, Study};
        for algorithm in Algorithm::ALL {
            if algorithm.params().is_empty() {
                assert!(matches!(
                    family(algorithm.name()),
                    Err(TuneError::NothingToTune(_))
                ));
                continue;
            }
            let space = default_space(algorithm);
            let study = Study::new(space, attune_core::tune::Direction::Maximize);
            for id in 0..20 {
                let params = RandomSampler::new(3).sample(&study, id).unwrap();
                let spec = spec_of(algorithm, &params).unwrap();
                assert_eq!(spec.algorithm(), algorithm);
            }
        }
    }

    #[test]
    fn space_text_parses_every_kind() {
        let s = parse_space(
            als(),
            "reg=log:1e-4..1, factors=int:16..256,iterations=logint:2..40",
        )
        .unwrap();
        assert_eq!(
            s,
            SearchSpace::new(vec![
                Param::log_float("reg", 1e-4, 1.0),
                Param::int("factors", 16, 256),
                Param::log_int("iterations", 2, 40),
            ])
            .unwrap()
        );
        let s = parse_space(family("item-knn").unwrap(), "weighting=cat:none|bm25").unwrap();
        assert_eq!(
            s.params()[0],
            Param::categorical("weighting", &["none", "bm25"])
        );
    }

    #[test]
    fn bad_space_text_is_a_clear_error() {
        let err = |algorithm: &str, text: &str| {
            parse_space(family(algorithm).unwrap(), text)
                .unwrap_err()
                .to_string()
        };
        let e = err("als", "regularization=log:1e-4..1");
        assert!(
            e.contains("regularization") && e.contains("factors, reg"),
            "{e}"
        );
        let e = err("als", "reg=log:1e-4");
        assert!(e.contains("LOW..HIGH"), "{e}");
        let e = err("als", "reg=log:a..1");
        assert!(e.contains("\"a\" is not a number"), "{e}");
        let e = err("als", "reg=1..2");
        assert!(e.contains("KIND"), "{e}");
        let e = err("als", "reg=log:1..1");
        assert!(e.contains("low (1) must be below high (1)"), "{e}");
        let e = err("als", "reg=float:2..1");
        assert!(e.contains("must be below high"), "{e}");
        let e = err("als", "reg=log:0..1");
        assert!(e.contains("log scale needs low > 0"), "{e}");
        let e = err("als", "factors=float:8..64");
        assert!(e.contains("int or logint"), "{e}");
        let e = err("als", "factors=int:8.5..64");
        assert!(e.contains("not an integer"), "{e}");
        let e = err("als", "reg=weird:1..2");
        assert!(e.contains("unknown kind"), "{e}");
        let e = err("item-knn", "weighting=cat:none|cosine");
        assert!(e.contains("\"cosine\" is not a weighting"), "{e}");
        let e = err("ease", "");
        assert!(e.contains("no parameters"), "{e}");
    }

    #[test]
    fn space_text_reads_back_to_the_same_space() {
        for algorithm in Algorithm::ALL
            .into_iter()
            .filter(|a| !a.params().is_empty())
        {
            let space = default_space(algorithm);
            let text = space_text(&space);
            assert_eq!(parse_space(algorithm, &text).unwrap(), space, "{text}");
        }
        let odd = parse_space(als(), "reg=float:0.1..0.30000000000000004").unwrap();
        assert_eq!(parse_space(als(), &space_text(&odd)).unwrap(), odd);
        assert_eq!(
            space_text(&default_space(als())),
            "factors=logint:8..256,reg=log:0.001..100.0,alpha=log:0.1..100.0,iterations=int:5..30"
        );
    }

    #[test]
    fn unknown_families_are_named_with_the_known_ones() {
        let e = family("svd++").unwrap_err().to_string();
        assert!(
            e.contains("svd++") && e.contains("ease") && e.contains("als"),
            "{e}"
        );
        assert!(!e.contains("popularity,"), "{e}");
        assert!(family("als:factors=8").is_err());
    }

    #[test]
    fn a_trial_becomes_the_familys_spec() {
        let params: ParamSet = [
            ("factors".to_string(), Value::Int(32)),
            ("reg".to_string(), Value::Float(0.05)),
        ]
        .into_iter()
        .collect();
        let spec = spec_of(als(), &params).unwrap().to_string();
        assert!(
            spec.starts_with("als:") && spec.contains("factors=32") && spec.contains("reg=0.05"),
            "{spec}"
        );
        let zero: ParamSet = [("lambda".to_string(), Value::Float(0.0))]
            .into_iter()
            .collect();
        assert!(spec_of(family("ease").unwrap(), &zero).is_err());
    }
}
