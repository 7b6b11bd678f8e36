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

use std::any::Any;
use std::fmt;
use std::str::FromStr;

use super::{
    AlsModel, AlsParams, AlsSolver, AlsValidParams, BiasedMfModel, BiasedMfParams,
    BiasedMfValidParams, BprModel, BprParams, BprValidParams, CategoryPopularity, Confidence,
    ContentModel, ContentParams, ContentValidParams, EaseModel, EaseParams, EaseValidParams,
    FitError, FoldIn, HybridLoss, HybridModel, HybridParams, HybridValidParams, ItemKnnModel,
    ItemKnnParams, ItemKnnValidParams, MfSolver, ParamError, Popularity, Recommender, Scorer,
    TrendingParams, TrendingValidParams, UserKnnModel, UserKnnParams, UserKnnValidParams, UserRepr,
    Weighting,
};
use crate::features::{ItemDoc, ItemTextParams, ItemTextValidParams};
use crate::sparse::Csr;
use crate::time::MICROS_PER_DAY;

/// Everything any algorithm may train from. Only `interactions` is always required; each
/// algorithm names what else it needs ([`SpecFitError::MissingData`]).
///
/// Build with [`TrainingSet::new`] and set the optional parts, so adding a part later does not
/// break callers.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingSet {
    /// Implicit-feedback weights, users x items (values >= 0).
    pub interactions: Csr,
    /// Explicit ratings, users x items, same shape (for [`Algorithm::Mf`]).
    pub ratings: Option<Csr>,
    /// Category membership, items x categories (for [`Algorithm::CategoryPopularity`]).
    pub item_categories: Option<Csr>,
    /// `(item, time_micros, weight)` of each interaction, for [`Algorithm::Trending`].
    pub item_events: Vec<(u32, i64, f32)>,
    /// The reference time of the data (trending decays towards it), UTC microseconds.
    pub now_micros: i64,
    /// Item text and tags, for content-based models.
    pub item_content: Option<ItemContent>,
}

impl TrainingSet {
    /// A set with only the implicit matrix; `now_micros` 0.
    pub fn new(interactions: Csr) -> Self {
        Self {
            interactions,
            ratings: None,
            item_categories: None,
            item_events: Vec::new(),
            now_micros: 0,
            item_content: None,
        }
    }

    /// Users (rows of the matrices).
    pub fn n_users(&self) -> usize {
        self.interactions.n_rows()
    }

    /// Items (columns of the matrices).
    pub fn n_items(&self) -> usize {
        self.interactions.n_cols()
    }
}

/// Per-item text, indexed by item (every vector has one entry per item; empty when unknown).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ItemContent {
    /// Titles.
    pub titles: Vec<String>,
    /// Descriptions.
    pub descriptions: Vec<String>,
    /// Free tags.
    pub tags: Vec<Vec<String>>,
}

/// The algorithms the factory knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Most popular by distinct users ([`Popularity::most_popular`]).
    Popularity,
    /// Time-decayed popularity ([`TrendingParams`]).
    Trending,
    /// Popular within the user's categories ([`CategoryPopularity`]).
    CategoryPopularity,
    /// Item-kNN ([`ItemKnnParams`]).
    ItemKnn,
    /// User-kNN ([`UserKnnParams`]).
    UserKnn,
    /// Implicit ALS ([`AlsParams`]).
    Als,
    /// EASE ([`EaseParams`]).
    Ease,
    /// BPR ([`BprParams`]).
    Bpr,
    /// Biased MF on explicit ratings ([`BiasedMfParams`]).
    Mf,
    /// Content-based cosine to the user's history ([`ContentParams`]); needs item content or
    /// categories.
    Content,
    /// LightFM-style hybrid of interactions and item features ([`HybridParams`]); needs item
    /// content or categories.
    Hybrid,
}

/// What values a parameter takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamKind {
    /// A non-negative integer.
    Int,
    /// A real number.
    Float,
    /// One of these names.
    Choice(&'static [&'static str]),
}

impl ParamKind {
    fn expected(self) -> String {
        match self {
            ParamKind::Int => "a non-negative integer".into(),
            ParamKind::Float => "a number".into(),
            ParamKind::Choice(names) => format!("one of {}", names.join(", ")),
        }
    }
}

/// A parameter's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamValue {
    /// An integer.
    Int(u64),
    /// A real number.
    Float(f64),
    /// A name from a [`ParamKind::Choice`].
    Choice(&'static str),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Int(v) => write!(f, "{v}"),
            ParamValue::Float(v) => write!(f, "{v}"),
            ParamValue::Choice(v) => f.write_str(v),
        }
    }
}

impl ParamValue {
    fn int(self) -> u64 {
        match self {
            ParamValue::Int(v) => v,
            _ => unreachable!("parameter table and builder disagree"),
        }
    }

    fn usize(self) -> usize {
        usize::try_from(self.int()).unwrap_or(usize::MAX)
    }

    fn f32(self) -> f32 {
        match self {
            ParamValue::Float(v) => v as f32,
            _ => unreachable!("parameter table and builder disagree"),
        }
    }

    fn choice(self) -> &'static str {
        match self {
            ParamValue::Choice(v) => v,
            _ => unreachable!("parameter table and builder disagree"),
        }
    }
}

/// One parameter of an algorithm: name, kind, default, meaning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamDef {
    /// Name in specs.
    pub name: &'static str,
    /// Accepted values.
    pub kind: ParamKind,
    /// Value when the spec does not name it.
    pub default: ParamValue,
    /// One line for help texts.
    pub doc: &'static str,
}

const fn int(name: &'static str, default: u64, doc: &'static str) -> ParamDef {
    ParamDef {
        name,
        kind: ParamKind::Int,
        default: ParamValue::Int(default),
        doc,
    }
}

const fn float(name: &'static str, default: f64, doc: &'static str) -> ParamDef {
    ParamDef {
        name,
        kind: ParamKind::Float,
        default: ParamValue::Float(default),
        doc,
    }
}

const fn choice(
    name: &'static str,
    names: &'static [&'static str],
    default: &'static str,
    doc: &'static str,
) -> ParamDef {
    ParamDef {
        name,
        kind: ParamKind::Choice(names),
        default: ParamValue::Choice(default),
        doc,
    }
}

const WEIGHTINGS: &[&str] = &["none", "bm25", "tfidf"];

const KNN_PARAMS: &[ParamDef] = &[
    int("neighbours", 20, "neighbours kept per item"),
    float("shrink", 0.0, "added to the cosine denominator"),
    choice("weighting", WEIGHTINGS, "none", "interaction weighting"),
    float("bm25_k1", 100.0, "BM25 term-frequency saturation"),
    float("bm25_b", 0.8, "BM25 length normalization, 0..1"),
];

const USER_KNN_PARAMS: &[ParamDef] = &[
    int("neighbours", 50, "similar users who vote"),
    float("shrink", 0.0, "added to the cosine denominator"),
    choice("weighting", WEIGHTINGS, "none", "interaction weighting"),
    float("bm25_k1", 100.0, "BM25 term-frequency saturation"),
    float("bm25_b", 0.8, "BM25 length normalization, 0..1"),
];

const ALS_PARAMS: &[ParamDef] = &[
    int("factors", 64, "latent dimensions"),
    float("reg", 0.01, "L2 regularization"),
    float("alpha", 40.0, "confidence slope"),
    int("iterations", 15, "alternations"),
    int("seed", 0, "initialization seed"),
    choice("solver", &["cg", "cholesky"], "cg", "row solver"),
    int("cg_steps", 3, "conjugate-gradient steps per row"),
    choice(
        "confidence",
        &["linear", "proportional", "log"],
        "linear",
        "c = 1 + alpha w, alpha w (the implicit library), or 1 + alpha ln(1 + w/epsilon)",
    ),
    float("epsilon", 1.0, "scale of the log confidence"),
];

const EASE_PARAMS: &[ParamDef] = &[float("lambda", 500.0, "L2 penalty on the item weights")];

const BPR_PARAMS: &[ParamDef] = &[
    int("factors", 64, "latent dimensions"),
    float("learning_rate", 0.01, "SGD step size"),
    float("reg", 0.01, "L2 regularization"),
    int("epochs", 100, "passes of nnz sampled triples"),
    int("seed", 0, "initialization and sampling seed"),
];

const MF_PARAMS: &[ParamDef] = &[
    int("factors", 100, "latent dimensions"),
    choice(
        "solver",
        &["sgd", "als"],
        "sgd",
        "SGD (Surprise SVD rules) or ALS-WR",
    ),
    float("learning_rate", 0.005, "SGD step size"),
    float(
        "reg",
        0.02,
        "L2 penalty on factors (scaled by rating count under als)",
    ),
    float(
        "reg_bias",
        0.02,
        "L2 penalty on biases (scaled by rating count under als)",
    ),
    int("epochs", 20, "SGD passes or ALS alternations"),
    float(
        "lr_decay",
        1.0,
        "SGD learning rate multiplier per epoch, (0, 1]",
    ),
    float("init_std", 0.1, "standard deviation of the initial factors"),
    int("seed", 0, "initialization and shuffling seed"),
];

const CONTENT_PARAMS: &[ParamDef] = &[
    int("min_df", 2, "fewest items a term appears in"),
    float(
        "max_df",
        0.5,
        "largest share of items a term appears in, (0, 1]",
    ),
    float(
        "title_weight",
        2.0,
        "term-frequency multiplier of title words",
    ),
    float("tag_weight", 2.0, "term-frequency multiplier of tag words"),
    float(
        "category_weight",
        1.0,
        "weight of the category block against the text",
    ),
];

const HYBRID_PARAMS: &[ParamDef] = &[
    int("factors", 32, "latent dimensions"),
    choice("loss", &["warp", "bpr"], "warp", "ranking loss"),
    float("learning_rate", 0.05, "Adagrad step size"),
    float(
        "item_reg",
        0.0,
        "L2 regularization of item feature embeddings",
    ),
    float("user_reg", 0.0, "L2 regularization of user embeddings"),
    int("epochs", 30, "passes over the positives"),
    int("max_sampled", 10, "WARP negatives drawn per positive"),
    float(
        "identity_weight",
        0.5,
        "share of an item's weight on its identity, 0..1",
    ),
    int(
        "fold_in_epochs",
        20,
        "Adagrad epochs when folding a user in",
    ),
    int("seed", 0, "initialization and sampling seed"),
    int("min_df", 2, "fewest items a term appears in"),
    float(
        "max_df",
        0.5,
        "largest share of items a term appears in, (0, 1]",
    ),
    float(
        "category_weight",
        1.0,
        "weight of the category block against the text",
    ),
];

const TRENDING_PARAMS: &[ParamDef] = &[float(
    "half_life_days",
    7.0,
    "an interaction loses half its weight in this many days",
)];

impl Algorithm {
    /// Every algorithm, in documentation order.
    pub const ALL: [Algorithm; 11] = [
        Algorithm::Popularity,
        Algorithm::Trending,
        Algorithm::CategoryPopularity,
        Algorithm::ItemKnn,
        Algorithm::UserKnn,
        Algorithm::Als,
        Algorithm::Ease,
        Algorithm::Bpr,
        Algorithm::Mf,
        Algorithm::Content,
        Algorithm::Hybrid,
    ];

    /// The name in specs.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Popularity => "popularity",
            Algorithm::Trending => "trending",
            Algorithm::CategoryPopularity => "category-popularity",
            Algorithm::ItemKnn => "item-knn",
            Algorithm::UserKnn => "user-knn",
            Algorithm::Als => "als",
            Algorithm::Ease => "ease",
            Algorithm::Bpr => "bpr",
            Algorithm::Mf => "mf",
            Algorithm::Content => "content",
            Algorithm::Hybrid => "hybrid",
        }
    }

    /// The algorithm called `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Its parameters, in canonical order.
    pub fn params(self) -> &'static [ParamDef] {
        match self {
            Algorithm::Popularity | Algorithm::CategoryPopularity => &[],
            Algorithm::Trending => TRENDING_PARAMS,
            Algorithm::ItemKnn => KNN_PARAMS,
            Algorithm::UserKnn => USER_KNN_PARAMS,
            Algorithm::Als => ALS_PARAMS,
            Algorithm::Ease => EASE_PARAMS,
            Algorithm::Bpr => BPR_PARAMS,
            Algorithm::Mf => MF_PARAMS,
            Algorithm::Content => CONTENT_PARAMS,
            Algorithm::Hybrid => HYBRID_PARAMS,
        }
    }

    /// Which matrix the model reads: a user's history for [`FoldIn`] must come from it.
    pub fn feedback(self) -> Feedback {
        match self {
            Algorithm::Mf => Feedback::Explicit,
            _ => Feedback::Implicit,
        }
    }

    /// One line for help texts.
    pub fn doc(self) -> &'static str {
        match self {
            Algorithm::Popularity => "most popular items (distinct users)",
            Algorithm::Trending => "popularity decayed by age (needs event times)",
            Algorithm::CategoryPopularity => "popular within the user's categories",
            Algorithm::ItemKnn => "item-item cosine kNN",
            Algorithm::UserKnn => "user-user cosine kNN",
            Algorithm::Als => "implicit-feedback matrix factorization (alternating least squares)",
            Algorithm::Ease => "EASE linear autoencoder (closed form)",
            Algorithm::Bpr => "Bayesian personalized ranking (SGD)",
            Algorithm::Mf => "biased matrix factorization of explicit ratings",
            Algorithm::Content => "content-based: item text and categories like the history",
            Algorithm::Hybrid => "hybrid factorization of interactions and item features (LightFM)",
        }
    }

    fn names() -> String {
        Self::ALL.map(Algorithm::name).join(", ")
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The kind of feedback a model is trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// [`TrainingSet::interactions`].
    Implicit,
    /// [`TrainingSet::ratings`]: the model also predicts ratings.
    Explicit,
}

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

    /// This spec with one parameter replaced (grid searches, seeds per fold).
    pub fn with(&self, name: &str, value: &str) -> Result<Self, SpecError> {
        let (k, def) = find_param(self.algorithm, name)?;
        let mut values = self.values.clone();
        values[k] = parse_value(self.algorithm, def, value)?;
        Self::build(self.algorithm, values)
    }

    fn build(algorithm: Algorithm, values: Vec<ParamValue>) -> Result<Self, SpecError> {
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
            Algorithm::UserKnn => CheckedParams::UserKnn(
                UserKnnParams::default()
                    .neighbours(v("neighbours").usize())
                    .shrink(v("shrink").f32())
                    .weighting(weighting())
                    .check()?,
            ),
            Algorithm::Als => {
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
                CheckedParams::Als(
                    AlsParams::new(v("factors").usize())
                        .reg(v("reg").f32())
                        .alpha(v("alpha").f32())
                        .iterations(v("iterations").usize())
                        .seed(v("seed").int())
                        .solver(solver)
                        .confidence(confidence)
                        .check()?,
                )
            }
            Algorithm::Ease => {
                CheckedParams::Ease(EaseParams::default().reg(v("lambda").f32()).check()?)
            }
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
                    .features(
                        ItemTextParams::new()
                            .min_df(v("min_df").usize())
                            .max_df(f64::from(v("max_df").f32()))
                            .title_weight(v("title_weight").f32())
                            .tag_weight(v("tag_weight").f32())
                            .category_weight(v("category_weight").f32()),
                    )
                    .check()?,
            ),
            Algorithm::Hybrid => CheckedParams::Hybrid {
                features: ItemTextParams::new()
                    .min_df(v("min_df").usize())
                    .max_df(f64::from(v("max_df").f32()))
                    .category_weight(v("category_weight").f32())
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

    /// Train on `data`.
    pub fn fit(&self, data: &TrainingSet) -> Result<Fitted, SpecFitError> {
        let x = &data.interactions;
        let model = match &self.checked {
            CheckedParams::Popularity => FittedModel::Popularity(Popularity::most_popular(x)),
            CheckedParams::Trending(p) => {
                if data.item_events.is_empty() && x.nnz() > 0 {
                    return Err(self.missing("interaction times (item_events)"));
                }
                FittedModel::Trending(p.fit(x.n_cols(), &data.item_events, data.now_micros))
            }
            CheckedParams::CategoryPopularity => {
                let Some(cats) = &data.item_categories else {
                    return Err(self.missing("item categories"));
                };
                FittedModel::CategoryPopularity(CategoryPopularity::fit(x, cats)?)
            }
            CheckedParams::ItemKnn(p) => FittedModel::ItemKnn(p.fit(x)),
            CheckedParams::UserKnn(p) => FittedModel::UserKnn(p.fit(x)),
            CheckedParams::Als(p) => FittedModel::Als(p.fit(x)?),
            CheckedParams::Ease(p) => FittedModel::Ease(p.fit(x)?),
            CheckedParams::Bpr(p) => FittedModel::Bpr(p.fit(x)?),
            CheckedParams::Mf(p) => {
                let Some(r) = &data.ratings else {
                    return Err(self.missing("explicit ratings"));
                };
                if (r.n_rows(), r.n_cols()) != (x.n_rows(), x.n_cols()) {
                    return Err(FitError::ShapeMismatch {
                        what: "ratings matrix items",
                        expected: x.n_cols(),
                        got: r.n_cols(),
                    }
                    .into());
                }
                if r.nnz() == 0 {
                    return Err(self.missing("explicit ratings"));
                }
                FittedModel::Mf(p.fit(r))
            }
            CheckedParams::Content(p) => FittedModel::Content(p.fit(&self.item_docs(data)?)),
            CheckedParams::Hybrid { features, model } => {
                let f = features.fit(&self.item_docs(data)?);
                FittedModel::Hybrid(model.fit(x, f.matrix(), None)?)
            }
        };
        Ok(Fitted {
            spec: self.clone(),
            model,
        })
    }

    /// The content of every item for the content-based models: titles, descriptions and tags
    /// from [`TrainingSet::item_content`] (missing entries are empty) and the category indices
    /// of [`TrainingSet::item_categories`] as labels. Either part may be absent, not both.
    fn item_docs(&self, data: &TrainingSet) -> Result<Vec<ItemDoc>, SpecFitError> {
        let (content, cats) = (data.item_content.as_ref(), data.item_categories.as_ref());
        if content.is_none() && cats.is_none() {
            return Err(self.missing("item content or item categories"));
        }
        if let Some(m) = cats.filter(|m| m.n_rows() != data.n_items()) {
            return Err(FitError::ShapeMismatch {
                what: "item_categories rows",
                expected: data.n_items(),
                got: m.n_rows(),
            }
            .into());
        }
        let text = |v: Option<&Vec<String>>, i: usize| {
            v.and_then(|v| v.get(i)).cloned().unwrap_or_default()
        };
        Ok((0..data.n_items())
            .map(|i| ItemDoc {
                title: text(content.map(|c| &c.titles), i),
                description: text(content.map(|c| &c.descriptions), i),
                tags: content
                    .and_then(|c| c.tags.get(i))
                    .cloned()
                    .unwrap_or_default(),
                categories: cats.map_or_else(Vec::new, |m| {
                    m.row(i).0.iter().map(|c| format!("category-{c}")).collect()
                }),
                attributes: Vec::new(),
            })
            .collect())
    }

    fn missing(&self, what: &'static str) -> SpecFitError {
        SpecFitError::MissingData {
            algorithm: self.algorithm.name(),
            what,
        }
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
        for (k, (name, value)) in self.params().into_iter().enumerate() {
            let sep = if k == 0 { ':' } else { ',' };
            write!(f, "{sep}{name}={value}")?;
        }
        Ok(())
    }
}

/// Training failed. User error: the data does not suit the algorithm.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecFitError {
    /// The algorithm needs a part of the [`TrainingSet`] that is absent or empty.
    #[error("{algorithm} needs {what}, and the training data has none")]
    MissingData {
        /// The algorithm.
        algorithm: &'static str,
        /// The missing part.
        what: &'static str,
    },
    /// The model rejected the data.
    #[error(transparent)]
    Fit(#[from] FitError),
}

/// A fitted model of any algorithm. Concrete types stay reachable (serialization, model-specific
/// calls such as similar items).
#[derive(Debug, Clone)]
pub enum FittedModel {
    /// Most popular.
    Popularity(Popularity),
    /// Trending scores.
    Trending(Popularity),
    /// Popular within categories.
    CategoryPopularity(CategoryPopularity),
    /// Item-kNN.
    ItemKnn(ItemKnnModel),
    /// User-kNN.
    UserKnn(UserKnnModel),
    /// ALS.
    Als(AlsModel),
    /// EASE.
    Ease(EaseModel),
    /// BPR.
    Bpr(BprModel),
    /// Biased MF.
    Mf(BiasedMfModel),
    /// Content-based.
    Content(ContentModel),
    /// Hybrid factorization.
    Hybrid(HybridModel),
}

impl FittedModel {
    /// The model as a [`Recommender`].
    pub fn as_recommender(&self) -> &(dyn Recommender + Send + Sync) {
        match self {
            FittedModel::Popularity(m) | FittedModel::Trending(m) => m,
            FittedModel::CategoryPopularity(m) => m,
            FittedModel::ItemKnn(m) => m,
            FittedModel::UserKnn(m) => m,
            FittedModel::Als(m) => m,
            FittedModel::Ease(m) => m,
            FittedModel::Bpr(m) => m,
            FittedModel::Mf(m) => m,
            FittedModel::Content(m) => m,
            FittedModel::Hybrid(m) => m,
        }
    }
}

/// What every fitted model offers beyond scoring: its spec, the feedback it reads, rating
/// prediction for explicit models, and a downcast to the concrete type.
pub trait TrainedModel: Recommender + Send + Sync {
    /// The spec it was trained with (canonical, with every parameter).
    fn spec(&self) -> &Spec;

    /// The algorithm.
    fn algorithm(&self) -> Algorithm {
        self.spec().algorithm()
    }

    /// Every parameter with its value.
    fn params(&self) -> Vec<(&'static str, ParamValue)> {
        self.spec().params()
    }

    /// Which matrix a user's history for [`FoldIn`] comes from.
    fn feedback(&self) -> Feedback {
        self.algorithm().feedback()
    }

    /// Predicted rating of training user `user` for `item`, for explicit-feedback models
    /// (`None` otherwise). Users or items unseen in training get the baseline.
    fn predict_rating(&self, user: u32, item: u32) -> Option<f32>;

    /// For downcasting to the concrete type.
    fn as_any(&self) -> &dyn Any;
}

/// A model fitted by [`Spec::fit`].
#[derive(Debug, Clone)]
pub struct Fitted {
    spec: Spec,
    model: FittedModel,
}

impl Fitted {
    /// Pair a spec with a model built elsewhere (for example loaded from an artifact). The
    /// caller guarantees the model was trained with this spec.
    pub fn from_parts(spec: Spec, model: FittedModel) -> Self {
        Self { spec, model }
    }

    /// The concrete model.
    pub fn model(&self) -> &FittedModel {
        &self.model
    }

    /// Take the spec and the concrete model.
    pub fn into_parts(self) -> (Spec, FittedModel) {
        (self.spec, self.model)
    }
}

impl Scorer for Fitted {
    fn n_items(&self) -> usize {
        self.model.as_recommender().n_items()
    }

    fn score_into(&self, user: &UserRepr, items: &[u32], out: &mut [f32]) {
        self.model.as_recommender().score_into(user, items, out);
    }

    fn score_all_into(&self, user: &UserRepr, out: &mut [f32]) {
        self.model.as_recommender().score_all_into(user, out);
    }
}

impl FoldIn for Fitted {
    fn fold_in(&self, interactions: &[(u32, f32)]) -> UserRepr {
        self.model.as_recommender().fold_in(interactions)
    }
}

impl TrainedModel for Fitted {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn predict_rating(&self, user: u32, item: u32) -> Option<f32> {
        match &self.model {
            FittedModel::Mf(m) => Some(m.predict(user, item)),
            _ => None,
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Spec, SpecError> {
        s.parse()
    }

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
    }

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
        assert!(matches!(
            parse("trending:half_life_days=0").unwrap_err(),
            SpecError::Param(_)
        ));
        assert!(matches!(
            parse("item-knn:weighting=bm25,bm25_b=2").unwrap_err(),
            SpecError::Param(_)
        ));
    }

    fn data() -> TrainingSet {
        let x = Csr::from_triplets(
            4,
            5,
            [
                (0, 0, 1.0),
                (0, 1, 1.0),
                (1, 1, 1.0),
                (1, 2, 1.0),
                (2, 3, 1.0),
                (3, 0, 1.0),
                (3, 4, 1.0),
            ],
        )
        .unwrap();
        let mut t = TrainingSet::new(x);
        t.ratings = Some(
            t.interactions
                .map_values(|r, c, _| 1.0 + ((r + c as usize) % 5) as f32),
        );
        t.item_categories =
            Some(Csr::from_triplets(5, 2, [(0, 0, 1.0), (1, 0, 1.0), (4, 1, 1.0)]).unwrap());
        t.item_events = vec![(0, 10, 1.0), (3, 20, 1.0)];
        t.now_micros = 20;
        t
    }

    #[test]
    fn every_algorithm_fits_and_scores_every_item() {
        let d = data();
        for a in Algorithm::ALL {
            let spec = match a {
                Algorithm::Als | Algorithm::Bpr | Algorithm::Mf => {
                    parse(&format!("{}:factors=2,seed=1", a.name())).unwrap()
                }
                _ => Spec::default_for(a),
            };
            let m = spec.fit(&d).unwrap();
            assert_eq!(m.algorithm(), a);
            assert_eq!(m.n_items(), 5);
            let repr = m.fold_in(&[(0, 1.0)]);
            let mut s = vec![f32::NAN; 5];
            m.score_all_into(&repr, &mut s);
            assert!(s.iter().all(|v| v.is_finite()), "{a}: {s:?}");
            assert_eq!(m.predict_rating(0, 1).is_some(), a == Algorithm::Mf);
            assert!(m.as_any().downcast_ref::<Fitted>().is_some());
        }
    }

    #[test]
    fn missing_parts_are_named() {
        let bare = TrainingSet::new(data().interactions);
        for (s, what) in [
            ("content", "categories"),
            ("hybrid", "content"),
            ("mf", "ratings"),
            ("category-popularity", "categories"),
            ("trending", "times"),
        ] {
            let e = parse(s).unwrap().fit(&bare).unwrap_err();
            assert!(e.to_string().contains(what), "{s}: {e}");
        }
    }

    #[test]
    fn fitted_model_exposes_the_concrete_type() {
        let m = parse("ease:lambda=1").unwrap().fit(&data()).unwrap();
        assert!(matches!(m.model(), FittedModel::Ease(_)));
        let (spec, _model) = m.into_parts();
        assert_eq!(spec.algorithm(), Algorithm::Ease);
    }
}
