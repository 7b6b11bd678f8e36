//! From parameter values to each model's own checked parameters ([`CheckedParams`]): the one
//! place that maps the parameter tables onto the models' builders and runs their `check`, so
//! every [`Spec`] that exists can be fitted.

use super::{Algorithm, ParamValue, Spec, SpecError};
use crate::features::{ItemTextParams, ItemTextValidParams};
use crate::model::{
    check_unit_interval, AlsParams, AlsSolver, AlsValidParams, BiasedMfParams, BiasedMfValidParams,
    BprParams, BprValidParams, Confidence, ContentParams, ContentValidParams, EaseParams,
    EaseValidParams, HybridLoss, HybridParams, HybridValidParams, ItemKnnParams,
    ItemKnnValidParams, MfSolver, ParamError, SeqKnnParams, SeqKnnValidParams, TransitionParams,
    TransitionValidParams, TrendingParams, TrendingValidParams, UserKnnParams, UserKnnValidParams,
    Weighting,
};
use crate::time::MICROS_PER_DAY;

/// Checked model parameters, one variant per algorithm.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckedParams {
    /// [`Algorithm::Popularity`].
    Popularity,
    /// [`Algorithm::Trending`].
    Trending(TrendingValidParams),
    /// [`Algorithm::CategoryPopularity`].
    CategoryPopularity,
    /// [`Algorithm::ItemKnn`].
    ItemKnn(ItemKnnValidParams),
    /// [`Algorithm::Transition`].
    Transition(TransitionValidParams),
    /// [`Algorithm::EaseTransition`].
    EaseTransition {
        /// The EASE part.
        ease: EaseValidParams,
        /// The transition part.
        transition: TransitionValidParams,
        /// Weight of the transition part.
        mix: f32,
    },
    /// [`Algorithm::AlsTransition`].
    AlsTransition {
        /// The ALS part.
        als: AlsValidParams,
        /// The transition part.
        transition: TransitionValidParams,
        /// Weight of the transition part.
        mix: f32,
    },
    /// [`Algorithm::SeqKnn`].
    SeqKnn(SeqKnnValidParams),
    /// [`Algorithm::UserKnn`].
    UserKnn(UserKnnValidParams),
    /// [`Algorithm::Als`].
    Als(AlsValidParams),
    /// [`Algorithm::Ease`].
    Ease(EaseValidParams),
    /// [`Algorithm::Bpr`].
    Bpr(BprValidParams),
    /// [`Algorithm::Mf`].
    Mf(BiasedMfValidParams),
    /// [`Algorithm::Content`].
    Content(ContentValidParams),
    /// [`Algorithm::Hybrid`].
    Hybrid {
        /// How item content becomes feature rows.
        features: ItemTextValidParams,
        /// The factorization.
        model: HybridValidParams,
    },
}

impl Spec {
    /// Check `values` (one per [`Algorithm::params`] entry, in that order) against the model's
    /// rules and keep the checked parameters.
    pub(super) fn build(algorithm: Algorithm, values: Vec<ParamValue>) -> Result<Self, SpecError> {
        let v = |name: &str| {
            let k = algorithm
                .params()
                .iter()
                .position(|d| d.name == name)
                .expect("parameter table and builder disagree");
            values[k]
        };
        let weighting = || match v("weighting").choice() {
            "bm25" => Weighting::Bm25 {
                k1: v("bm25_k1").f32(),
                b: v("bm25_b").f32(),
            },
            "tfidf" => Weighting::TfIdf,
            _ => Weighting::None,
        };
        let transition = || {
            TransitionParams::default()
                .window(v("window").usize())
                .decay(v("decay").f32())
                .neighbours(v("neighbours").usize())
                .check()
        };
        let mix =
            || check_unit_interval(algorithm.name(), "mix", v("mix").f32(), "must be in [0, 1]");
        let als = || {
            let solver = match v("solver").choice() {
                "cholesky" => AlsSolver::Cholesky,
                _ => AlsSolver::Cg {
                    steps: v("cg_steps").usize(),
                },
            };
            let confidence = match v("confidence").choice() {
                "proportional" => Confidence::Proportional,
                "log" => Confidence::Log {
                    epsilon: v("epsilon").f32(),
                },
                _ => Confidence::Linear,
            };
            AlsParams::new(v("factors").usize())
                .reg(v("reg").f32())
                .alpha(v("alpha").f32())
                .iterations(v("iterations").usize())
                .seed(v("seed").int())
                .solver(solver)
                .confidence(confidence)
                .check()
        };
        let checked = match algorithm {
            Algorithm::Popularity => CheckedParams::Popularity,
            Algorithm::CategoryPopularity => CheckedParams::CategoryPopularity,
            Algorithm::Trending => {
                let days = f64::from(v("half_life_days").f32());
                let micros = days * MICROS_PER_DAY as f64;
                if !(micros.is_finite() && micros >= 1.0) {
                    return Err(ParamError::new(
                        "trending",
                        "half_life_days",
                        days,
                        "must be a finite number of days > 0",
                    )
                    .into());
                }
                CheckedParams::Trending(TrendingParams::new(micros as i64).check()?)
            }
            Algorithm::ItemKnn => CheckedParams::ItemKnn(
                ItemKnnParams::default()
                    .neighbours(v("neighbours").usize())
                    .shrink(v("shrink").f32())
                    .weighting(weighting())
                    .check()?,
            ),
            Algorithm::Transition => CheckedParams::Transition(transition()?),
            Algorithm::EaseTransition => CheckedParams::EaseTransition {
                ease: EaseParams::default().reg(v("lambda").f32()).check()?,
                transition: transition()?,
                mix: mix()?,
            },
            Algorithm::AlsTransition => CheckedParams::AlsTransition {
                als: als()?,
                transition: transition()?,
                mix: mix()?,
            },
            Algorithm::UserKnn => CheckedParams::UserKnn(
                UserKnnParams::default()
                    .neighbours(v("neighbours").usize())
                    .shrink(v("shrink").f32())
                    .weighting(weighting())
                    .check()?,
            ),
            Algorithm::Als => CheckedParams::Als(als()?),
            Algorithm::SeqKnn => CheckedParams::SeqKnn(
                SeqKnnParams::default()
                    .neighbours(v("neighbours").usize())
                    .sample(v("sample").usize())
                    .budget(v("budget").usize())
                    .position_decay(v("position_decay").f32())
                    .shrink(v("shrink").f32())
                    .check()?,
            ),
            Algorithm::Ease => CheckedParams::Ease(
                EaseParams::default()
                    .reg(v("lambda").f32())
                    .popularity_exponent(v("popularity_exponent").f32())
                    .activity_exponent(v("activity_exponent").f32())
                    .two_hop(v("two_hop").f32())
                    .rating_exponent(v("rating_exponent").f32())
                    .check()?,
            ),
            Algorithm::Bpr => CheckedParams::Bpr(
                BprParams::new(v("factors").usize())
                    .learning_rate(v("learning_rate").f32())
                    .reg(v("reg").f32())
                    .epochs(v("epochs").usize())
                    .seed(v("seed").int())
                    .check()?,
            ),
            Algorithm::Mf => CheckedParams::Mf(
                BiasedMfParams::new(v("factors").usize())
                    .solver(match v("solver").choice() {
                        "als" => MfSolver::Als,
                        _ => MfSolver::Sgd,
                    })
                    .learning_rate(v("learning_rate").f32())
                    .reg(v("reg").f32())
                    .reg_bias(v("reg_bias").f32())
                    .epochs(v("epochs").usize())
                    .lr_decay(v("lr_decay").f32())
                    .init_std(v("init_std").f32())
                    .seed(v("seed").int())
                    .check()?,
            ),
            Algorithm::Content => CheckedParams::Content(
                ContentParams::new()
                    .features(feature_source(
                        v("features").choice(),
                        v("vector_weight").f32(),
                        ItemTextParams::new()
                            .min_df(v("min_df").usize())
                            .max_df(f64::from(v("max_df").f32()))
                            .title_weight(v("title_weight").f32())
                            .tag_weight(v("tag_weight").f32())
                            .category_weight(v("category_weight").f32()),
                    ))
                    .check()?,
            ),
            Algorithm::Hybrid => CheckedParams::Hybrid {
                features: feature_source(
                    v("features").choice(),
                    v("vector_weight").f32(),
                    ItemTextParams::new()
                        .min_df(v("min_df").usize())
                        .max_df(f64::from(v("max_df").f32()))
                        .category_weight(v("category_weight").f32()),
                )
                .check()?,
                model: HybridParams::new(v("factors").usize())
                    .loss(match v("loss").choice() {
                        "bpr" => HybridLoss::Bpr,
                        _ => HybridLoss::Warp,
                    })
                    .learning_rate(v("learning_rate").f32())
                    .item_reg(v("item_reg").f32())
                    .user_reg(v("user_reg").f32())
                    .epochs(v("epochs").usize())
                    .max_sampled(v("max_sampled").usize())
                    .identity_weight(v("identity_weight").f32())
                    .fold_in_epochs(v("fold_in_epochs").usize())
                    .seed(v("seed").int())
                    .check()?,
            },
        };
        Ok(Self {
            algorithm,
            values,
            checked,
        })
    }
}

/// The `features` choice of the content-based specs as block weights: `tfidf` is text and
/// categories without vectors, `vector` the dense vectors alone (text and categories weighted
/// 0), `both` text and categories plus vectors at `vector_weight`.
fn feature_source(choice: &str, vector_weight: f32, text: ItemTextParams) -> ItemTextParams {
    match choice {
        "vector" => text
            .text_weight(0.0)
            .category_weight(0.0)
            .attribute_weight(0.0)
            .vector_weight(1.0),
        "both" => text.vector_weight(vector_weight),
        _ => text.vector_weight(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::tests::parse;

    #[test]
    fn given_values_override_defaults_and_reach_the_model() {
        let spec = parse(" als: factors=8 , reg=0.5,alpha=2,iterations=3,seed=7 ").unwrap();
        assert_eq!(spec.param("factors"), Some(ParamValue::Int(8)));
        assert_eq!(spec.param("solver"), Some(ParamValue::Choice("cg")));
        let CheckedParams::Als(p) = spec.checked() else {
            panic!("not als")
        };
        assert_eq!(
            (p.factors(), p.reg(), p.alpha(), p.iterations(), p.seed()),
            (8, 0.5, 2.0, 3, 7)
        );
        assert!(spec
            .to_string()
            .starts_with("als:factors=8,reg=0.5,alpha=2,"));
        let again = spec.with("seed", "9").unwrap();
        assert_eq!(again.param("seed"), Some(ParamValue::Int(9)));
    }

    #[test]
    fn model_rules_are_checked_at_parse_time() {
        let e = parse("als:factors=0").unwrap_err();
        let SpecError::Param(p) = e else {
            panic!("{e:?}")
        };
        assert_eq!((p.algorithm, p.field), ("als", "factors"));
        assert!(matches!(
            parse("ease:lambda=0").unwrap_err(),
            SpecError::Param(_)
        ));
        // A subnormal penalty parsed but could not fit (the spec fuzz target, stop 26).
        for spec in ["ease:lambda=7.665e-45", "ease-transition:lambda=0.0001"] {
            assert!(
                matches!(parse(spec).unwrap_err(), SpecError::Param(_)),
                "{spec}"
            );
        }
        assert!(matches!(
            parse("trending:half_life_days=0").unwrap_err(),
            SpecError::Param(_)
        ));
        assert!(matches!(
            parse("item-knn:weighting=bm25,bm25_b=2").unwrap_err(),
            SpecError::Param(_)
        ));
    }
}
