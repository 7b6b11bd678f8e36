//! The algorithms the factory knows ([`Algorithm`]) and their parameter tables: for each
//! algorithm the name, kind, default and meaning of every parameter ([`ParamDef`]). Parsing,
//! the canonical form and the checked parameters are all driven by these tables, so a parameter
//! is declared once, here.

use std::fmt;

#[cfg(doc)]
use super::TrainingSet;
#[cfg(doc)]
use crate::model::{
    AlsParams, BiasedMfParams, BprParams, CategoryPopularity, ContentParams, EaseParams, FoldIn,
    HybridParams, ItemKnnParams, Popularity, TrendingParams, UserKnnParams,
};

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
    /// Item-to-item transitions ([`crate::model::TransitionParams`]); needs
    /// [`TrainingSet::sequences`].
    Transition,
    /// EASE blended with transitions ([`crate::model::EaseTransitionModel`]); needs
    /// [`TrainingSet::sequences`].
    EaseTransition,
    /// Sequence-aware user-kNN ([`crate::model::SeqKnnParams`]); needs
    /// [`TrainingSet::sequences`].
    SeqKnn,
    /// ALS blended with transitions ([`crate::model::AlsTransitionModel`]); needs
    /// [`TrainingSet::sequences`].
    AlsTransition,
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
    pub(super) fn expected(self) -> String {
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
    pub(super) fn int(self) -> u64 {
        match self {
            ParamValue::Int(v) => v,
            _ => unreachable!("parameter table and builder disagree"),
        }
    }

    pub(super) fn usize(self) -> usize {
        usize::try_from(self.int()).unwrap_or(usize::MAX)
    }

    pub(super) fn f32(self) -> f32 {
        match self {
            ParamValue::Float(v) => v as f32,
            _ => unreachable!("parameter table and builder disagree"),
        }
    }

    pub(super) fn choice(self) -> &'static str {
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
    /// Left out of the canonical form while at its default: a parameter added after models
    /// were saved under names without it, so those names (and what users typed) stay as they
    /// were.
    pub quiet: bool,
}

/// `def`, left out of the canonical form at its default ([`ParamDef::quiet`]).
const fn quiet(def: ParamDef) -> ParamDef {
    ParamDef { quiet: true, ..def }
}

const fn int(name: &'static str, default: u64, doc: &'static str) -> ParamDef {
    ParamDef {
        name,
        kind: ParamKind::Int,
        default: ParamValue::Int(default),
        doc,
        quiet: false,
    }
}

const fn float(name: &'static str, default: f64, doc: &'static str) -> ParamDef {
    ParamDef {
        name,
        kind: ParamKind::Float,
        default: ParamValue::Float(default),
        doc,
        quiet: false,
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
        quiet: false,
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

const ALS_PARAMS: &[ParamDef] = &ALS_DEFS;

const ALS_DEFS: [ParamDef; 9] = [
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

/// ALS's parameters, then the transition part's and the mix.
const ALS_TRANSITION_PARAMS: &[ParamDef] = &concat::<9, 4, 13>(ALS_DEFS, BLEND_DEFS);

/// What a blend with transitions adds to its base model's parameters.
const BLEND_DEFS: [ParamDef; 4] = [
    TRANSITION_DEFS[0],
    TRANSITION_DEFS[1],
    TRANSITION_DEFS[2],
    float(
        "mix",
        0.2,
        "weight of the standardised transition scores, [0, 1]",
    ),
];

/// `a` then `b`: parameter tables built from shared parts stay declared once.
const fn concat<const A: usize, const B: usize, const C: usize>(
    a: [ParamDef; A],
    b: [ParamDef; B],
) -> [ParamDef; C] {
    assert!(A + B == C, "C must be A + B");
    let mut out = [a[0]; C];
    let mut k = 0;
    while k < A {
        out[k] = a[k];
        k += 1;
    }
    while k < C {
        out[k] = b[k - A];
        k += 1;
    }
    out
}

const EASE_PARAMS: &[ParamDef] = &[
    float("lambda", 500.0, "L2 penalty on the item weights"),
    quiet(float(
        "popularity_exponent",
        0.0,
        "input columns weighted by (item's users)^-a, [0, 1]; 0 is plain EASE",
    )),
    quiet(float(
        "activity_exponent",
        0.0,
        "user rows weighted by (user's items)^-b in the fit, [0, 1]; 0 is plain EASE",
    )),
    quiet(float(
        "two_hop",
        0.0,
        "weight of two-step item paths, B + g*B^2, [0, 1]; 0 is plain EASE",
    )),
    quiet(float(
        "rating_exponent",
        0.0,
        "rated cells weighted by (rating / mean rating)^p in the fit, [0, 4]; 0 ignores ratings",
    )),
];

const EASE_TRANSITION_PARAMS: &[ParamDef] = &concat::<1, 4, 5>(
    [float(
        "lambda",
        500.0,
        "L2 penalty on the EASE item weights",
    )],
    BLEND_DEFS,
);

const TRANSITION_PARAMS: &[ParamDef] = &TRANSITION_DEFS;

const TRANSITION_DEFS: [ParamDef; 3] = [
    int("window", 5, "following items that count as a transition"),
    float(
        "decay",
        0.5,
        "weight of a transition d steps ahead: decay^(d-1), (0, 1]",
    ),
    int("neighbours", 200, "strongest successors kept per item"),
];

const SEQ_KNN_PARAMS: &[ParamDef] = &[
    int("neighbours", 100, "neighbours who vote"),
    int(
        "sample",
        500,
        "users per item considered as neighbours (a fixed pseudo-random subset)",
    ),
    int(
        "budget",
        crate::model::seqknn::DEFAULT_BUDGET as u64,
        "(user, position) entries one query reads at most; past it every item reads a smaller sample",
    ),
    float(
        "position_decay",
        5.0,
        "steps from the anchor in a neighbour's timeline over which a vote falls to 1/e; 0 = off",
    ),
    float("shrink", 0.0, "added to the similarity's denominator"),
];

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
    FEATURES_PARAM,
    VECTOR_WEIGHT_PARAM,
];

/// Which item features the content-based models read: TF-IDF text with categories, the
/// items' dense vectors (the `embedding` attribute) alone, or both.
const FEATURES_PARAM: ParamDef = choice(
    "features",
    &["tfidf", "vector", "both"],
    "tfidf",
    "item features: text and categories, dense vectors, or both",
);

const VECTOR_WEIGHT_PARAM: ParamDef = float(
    "vector_weight",
    1.0,
    "weight of the dense-vector block against the text (features=both)",
);

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
    FEATURES_PARAM,
    VECTOR_WEIGHT_PARAM,
];

const TRENDING_PARAMS: &[ParamDef] = &[float(
    "half_life_days",
    7.0,
    "an interaction loses half its weight in this many days",
)];

impl Algorithm {
    /// Every algorithm, in documentation order.
    pub const ALL: [Algorithm; 15] = [
        Algorithm::Popularity,
        Algorithm::Trending,
        Algorithm::CategoryPopularity,
        Algorithm::ItemKnn,
        Algorithm::UserKnn,
        Algorithm::Als,
        Algorithm::Ease,
        Algorithm::Transition,
        Algorithm::EaseTransition,
        Algorithm::AlsTransition,
        Algorithm::SeqKnn,
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
            Algorithm::Transition => "transition",
            Algorithm::EaseTransition => "ease-transition",
            Algorithm::AlsTransition => "als-transition",
            Algorithm::SeqKnn => "seq-knn",
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
            Algorithm::Transition => TRANSITION_PARAMS,
            Algorithm::EaseTransition => EASE_TRANSITION_PARAMS,
            Algorithm::AlsTransition => ALS_TRANSITION_PARAMS,
            Algorithm::SeqKnn => SEQ_KNN_PARAMS,
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
            Algorithm::Transition => {
                "what users go on to after their latest items (needs event times)"
            }
            Algorithm::EaseTransition => {
                "EASE and transitions, standardised and mixed (needs event times)"
            }
            Algorithm::AlsTransition => {
                "ALS and transitions, standardised and mixed (needs event times)"
            }
            Algorithm::SeqKnn => {
                "users whose timelines pass where the user is now (STAN-style kNN; needs event times)"
            }
            Algorithm::Bpr => "Bayesian personalized ranking (SGD)",
            Algorithm::Mf => "biased matrix factorization of explicit ratings",
            Algorithm::Content => "content-based: item text and categories like the history",
            Algorithm::Hybrid => "hybrid factorization of interactions and item features (LightFM)",
        }
    }

    pub(super) fn names() -> String {
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
