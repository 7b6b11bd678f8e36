//! The cold-start chain: an ordered list of recommendation sources, each used only when it has
//! something to say about the user, each pick carrying the reason it was made.
//!
//! The usual chain, and what each stage answers:
//! 1. [`Stage::NewItemsBySimilarity`]: a user with a history gets a few items new to the
//!    catalog (no interactions yet, so no collaborative model can rank them) by content
//!    similarity to what they engaged with. Reason: [`Reason::SimilarTo`] the history item
//!    closest to the new one.
//! 2. [`Stage::Personalized`]: the main model, once the user has enough history.
//!    Reason: [`Reason::ForYou`].
//! 3. [`Stage::PopularInCategories`]: a new user who chose categories at onboarding gets the
//!    most popular items of those categories (a user with a history but too little for the
//!    main model gets the categories they engaged with). Reason: [`Reason::PopularIn`] the
//!    preferred category that matched.
//! 4. [`Stage::Trending`]: anyone, including a user with nothing at all, gets what is trending.
//!    Reason: [`Reason::Trending`].
//!
//! Stages are tried in the order given; each adds its best items that are not already picked,
//! not in the user's history and not excluded by the caller, until `n` items are picked. Order
//! is priority: putting the new-items stage (with a small `max_items`) before the personalized
//! one reserves a few slots for new items, putting it after makes them fill-ins. The chain
//! scores through [`Scorer`] and [`FoldIn`] only, so any model can be a stage, and it holds
//! its models behind [`Arc`] so a serving snapshot can share them.

use std::sync::Arc;

use super::content::ContentModel;
use super::popularity::{CategoryPopularity, Popularity};
use super::topk::{top_k_into, top_k_of_into};
use super::{normalize_history, FitError, FoldIn, Recommender, Scorer, UserRepr};

/// Why an item was recommended. Indices are dense item and category indices; serving turns
/// them into names ("Because you liked *Dune*", "Popular in *Books*").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Ranked by the personalized model.
    ForYou,
    /// New to the catalog and similar in content to this item of the user's history.
    SimilarTo {
        /// The history item.
        item: u32,
    },
    /// Among the most popular items of this category, which the user prefers.
    PopularIn {
        /// The category.
        category: u32,
    },
    /// Trending across the catalog.
    Trending,
}

/// One recommended item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pick {
    /// Item index.
    pub item: u32,
    /// Score within its stage (stages' scores are not comparable with each other).
    pub score: f32,
    /// Why it was picked.
    pub reason: Reason,
}

/// What is known about the user asking.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ColdStartUser<'a> {
    /// `(item, weight)` interactions, any order (may be empty).
    pub history: &'a [(u32, f32)],
    /// Onboarding category choices, as category indices of the [`CategoryPopularity`] stage
    /// (may be empty).
    pub preferred_categories: &'a [u32],
}

/// One source of recommendations (see the module docs for when each is used).
#[derive(Clone)]
pub enum Stage {
    /// The main model, for users with at least `min_history` positive interactions.
    Personalized {
        /// Any trained model.
        model: Arc<dyn Recommender>,
        /// Fewest positive interactions for the model to be trusted.
        min_history: usize,
    },
    /// Items in `new_items` by cosine similarity of their content to the user's history.
    NewItemsBySimilarity {
        /// The content model (its items are the chain's items).
        content: Arc<ContentModel>,
        /// Items that count as new (typically: no training interactions), any order.
        new_items: Vec<u32>,
        /// Most items this stage adds.
        max_items: usize,
        /// Lowest similarity accepted (a weak match is no reason to show a new item).
        min_similarity: f32,
    },
    /// Most popular items in the preferred categories (onboarding choices first, else the
    /// categories of the history).
    PopularInCategories(Arc<CategoryPopularity>),
    /// Trending (or most popular) items; items with score 0 are never shown.
    Trending(Arc<Popularity>),
}

impl std::fmt::Debug for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Stage::Personalized { .. } => "Personalized",
            Stage::NewItemsBySimilarity { .. } => "NewItemsBySimilarity",
            Stage::PopularInCategories(_) => "PopularInCategories",
            Stage::Trending(_) => "Trending",
        };
        f.write_str(name)
    }
}

impl Stage {
    fn n_items(&self) -> usize {
        match self {
            Stage::Personalized { model, .. } => model.n_items(),
            Stage::NewItemsBySimilarity { content, .. } => content.n_items(),
            Stage::PopularInCategories(m) => m.n_items(),
            Stage::Trending(m) => m.n_items(),
        }
    }
}

/// An ordered chain of [`Stage`]s over one catalog.
#[derive(Debug, Clone)]
pub struct ColdStartChain {
    n_items: usize,
    stages: Vec<Stage>,
}

/// Per-request state: what is already taken, and the scratch buffers.
struct Request<'a> {
    taken: Vec<bool>,
    history: &'a [(u32, f32)],
    out: &'a mut Vec<Pick>,
    n: usize,
}

impl Request<'_> {
    fn room(&self) -> usize {
        self.n - self.out.len()
    }

    /// Offer ranked `(item, score)` candidates; take free ones until full or `limit` taken.
    fn take(&mut self, ranked: &[(u32, f32)], limit: usize, reason: impl Fn(u32) -> Reason) {
        let mut added = 0;
        for &(item, score) in ranked {
            if self.room() == 0 || added == limit {
                break;
            }
            if !std::mem::replace(&mut self.taken[item as usize], true) {
                self.out.push(Pick {
                    item,
                    score,
                    reason: reason(item),
                });
                added += 1;
            }
        }
    }

    /// Items a stage must not rank, sorted (for the top-k exclusion lists).
    fn blocked(&self) -> Vec<u32> {
        self.taken
            .iter()
            .enumerate()
            .filter(|e| *e.1)
            .map(|e| e.0 as u32)
            .collect()
    }
}

impl ColdStartChain {
    /// An empty chain over `n_items` items (recommends nothing until stages are added).
    pub fn new(n_items: usize) -> Self {
        Self {
            n_items,
            stages: Vec::new(),
        }
    }

    /// Append a stage. Its model must know exactly the chain's items.
    pub fn then(mut self, stage: Stage) -> Result<Self, FitError> {
        if stage.n_items() != self.n_items {
            return Err(FitError::ShapeMismatch {
                what: "cold-start stage items",
                expected: self.n_items,
                got: stage.n_items(),
            });
        }
        self.stages.push(stage);
        Ok(self)
    }

    /// The stages, in order.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// Up to `n` picks for `user`, best stage first, into `out` (cleared first). Items in the
    /// user's history and in `exclude` (any order; unknown items ignored) are never picked.
    pub fn recommend_into(
        &self,
        user: &ColdStartUser<'_>,
        n: usize,
        exclude: &[u32],
        out: &mut Vec<Pick>,
    ) {
        out.clear();
        let history = normalize_history(user.history, self.n_items);
        let positive: Vec<(u32, f32)> = history.iter().copied().filter(|e| e.1 > 0.0).collect();
        let mut req = Request {
            taken: vec![false; self.n_items],
            history: &positive,
            out,
            n,
        };
        for &(i, _) in &history {
            req.taken[i as usize] = true;
        }
        for &i in exclude {
            if let Some(t) = req.taken.get_mut(i as usize) {
                *t = true;
            }
        }
        let mut scores = Vec::new();
        let mut ranked = Vec::new();
        for stage in &self.stages {
            if req.room() == 0 {
                break;
            }
            match stage {
                Stage::Personalized { model, min_history } => {
                    if req.history.len() < *min_history || req.history.is_empty() {
                        continue;
                    }
                    let repr = model.fold_in(req.history);
                    scores.resize(self.n_items, 0.0);
                    model.score_all_into(&repr, &mut scores);
                    top_k_into(&scores, req.room(), &req.blocked(), &mut ranked);
                    req.take(&ranked, usize::MAX, |_| Reason::ForYou);
                }
                Stage::NewItemsBySimilarity {
                    content,
                    new_items,
                    max_items,
                    min_similarity,
                } => {
                    if req.history.is_empty() {
                        continue;
                    }
                    let repr = content.fold_in(req.history);
                    scores.resize(new_items.len(), 0.0);
                    content.score_into(&repr, new_items, &mut scores);
                    for s in scores.iter_mut() {
                        if !(*s >= *min_similarity && *s > 0.0) {
                            *s = f32::NAN; // never picked
                        }
                    }
                    let limit = (*max_items).min(req.room());
                    top_k_of_into(new_items, &scores, limit, &req.blocked(), &mut ranked);
                    let history = req.history;
                    req.take(&ranked, limit, |item| {
                        content
                            .most_similar_in(history, item)
                            .map_or(Reason::ForYou, |(j, _)| Reason::SimilarTo { item: j })
                    });
                }
                Stage::PopularInCategories(model) => {
                    let repr = if user.preferred_categories.is_empty() {
                        model.fold_in(req.history)
                    } else {
                        model.for_categories(user.preferred_categories)
                    };
                    let UserRepr::Dense(affinity) = &repr else {
                        continue;
                    };
                    scores.resize(self.n_items, 0.0);
                    model.score_all_into(&repr, &mut scores);
                    for s in scores.iter_mut() {
                        if *s <= 0.0 {
                            *s = f32::NAN;
                        }
                    }
                    top_k_into(&scores, req.room(), &req.blocked(), &mut ranked);
                    req.take(&ranked, usize::MAX, |item| {
                        // The item's category the user likes most (ties: lowest index).
                        let cats = model.item_categories(item);
                        let best = cats
                            .iter()
                            .copied()
                            .fold(None, |b: Option<u32>, c| match b {
                                Some(b) if affinity[b as usize] >= affinity[c as usize] => Some(b),
                                _ => Some(c),
                            });
                        best.map_or(Reason::Trending, |category| Reason::PopularIn { category })
                    });
                }
                Stage::Trending(model) => {
                    scores.clear();
                    scores.extend(
                        model
                            .scores()
                            .iter()
                            .map(|&s| if s > 0.0 { s } else { f32::NAN }),
                    );
                    top_k_into(&scores, req.room(), &req.blocked(), &mut ranked);
                    req.take(&ranked, usize::MAX, |_| Reason::Trending);
                }
            }
        }
    }

    /// Allocating form of [`ColdStartChain::recommend_into`].
    pub fn recommend(&self, user: &ColdStartUser<'_>, n: usize, exclude: &[u32]) -> Vec<Pick> {
        let mut out = Vec::new();
        self.recommend_into(user, n, exclude, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{ItemDoc, ItemTextParams, StopWords};
    use crate::model::{ContentParams, ItemKnnParams};
    use crate::sparse::Csr;

    /// Items 0-3 are tea (0, 1 green tea; 2, 3 black tea), 4-7 coffee; 3 and 7 are new (no
    /// interactions). Popularity: 0 > 1 > 2 (tea), 4 > 5 > 6 (coffee), with item 4 the most
    /// popular overall. Trending: item 6, then item 1.
    struct Fixture {
        chain: ColdStartChain,
        categories: Csr,
    }

    fn fixture(personalized: bool) -> Fixture {
        let docs: Vec<ItemDoc> = [
            ("green tea", "tea"),
            ("green tea gift", "tea"),
            ("black tea", "tea"),
            ("black tea loose", "tea"),
            ("espresso", "coffee"),
            ("espresso beans", "coffee"),
            ("filter coffee", "coffee"),
            ("filter coffee beans", "coffee"),
        ]
        .iter()
        .map(|(t, c)| ItemDoc {
            title: t.to_string(),
            categories: vec![c.to_string()],
            ..ItemDoc::default()
        })
        .collect();
        let features = ItemTextParams::new()
            .min_df(1)
            .max_df(1.0)
            .stop_words(StopWords::None);
        let content = ContentParams::new()
            .features(features)
            .check()
            .unwrap()
            .fit(&docs);
        let categories = content.features().category_matrix(); // coffee = 0, tea = 1
        let mut t = Vec::new();
        for (item, users) in [(0u32, 4u32), (1, 3), (2, 2), (4, 6), (5, 3), (6, 1)] {
            for u in 0..users {
                t.push((u, item, 1.0));
            }
        }
        let data = Csr::from_triplets(6, 8, t).unwrap();
        let catpop = CategoryPopularity::fit(&data, &categories).unwrap();
        let mut trending = vec![0f32; 8];
        trending[6] = 5.0;
        trending[1] = 2.0;
        let mut chain = ColdStartChain::new(8)
            .then(Stage::NewItemsBySimilarity {
                content: Arc::new(content),
                new_items: vec![7, 3],
                max_items: 1,
                min_similarity: 0.1,
            })
            .unwrap();
        if personalized {
            let knn = ItemKnnParams::default().check().unwrap().fit(&data);
            chain = chain
                .then(Stage::Personalized {
                    model: Arc::new(knn),
                    min_history: 2,
                })
                .unwrap();
        }
        let chain = chain
            .then(Stage::PopularInCategories(Arc::new(catpop)))
            .unwrap()
            .then(Stage::Trending(Arc::new(Popularity::from_scores(trending))))
            .unwrap();
        Fixture { chain, categories }
    }

    fn items(picks: &[Pick]) -> Vec<u32> {
        picks.iter().map(|p| p.item).collect()
    }

    #[test]
    fn a_user_with_nothing_gets_trending_items_only() {
        let f = fixture(false);
        let picks = f.chain.recommend(&ColdStartUser::default(), 5, &[]);
        // Only two items trend; nothing else has a reason to be shown.
        assert_eq!(items(&picks), vec![6, 1]);
        assert!(picks.iter().all(|p| p.reason == Reason::Trending));
    }

    #[test]
    fn onboarding_categories_come_before_trending() {
        let f = fixture(false);
        let tea = 1;
        assert_eq!(f.categories.row(0).0, &[tea]);
        let user = ColdStartUser {
            history: &[],
            preferred_categories: &[tea],
        };
        let picks = f.chain.recommend(&user, 5, &[1]);
        // Tea by popularity (0, then 2: item 1 is excluded; 3 is new, popularity 0), then the
        // trending item 6. Excluded item 1 never appears.
        assert_eq!(items(&picks), vec![0, 2, 6]);
        assert_eq!(picks[0].reason, Reason::PopularIn { category: tea });
        assert_eq!(picks[1].reason, Reason::PopularIn { category: tea });
        assert_eq!(picks[2].reason, Reason::Trending);
    }

    #[test]
    fn a_history_brings_similar_new_items_first() {
        let f = fixture(false);
        let user = ColdStartUser {
            history: &[(5, 1.0)], // espresso beans
            preferred_categories: &[],
        };
        let picks = f.chain.recommend(&user, 4, &[]);
        // The new coffee item (7, "filter coffee beans"), similar to item 5; then coffee by
        // popularity (4, 6; 5 is in the history), then trending tea item 1.
        assert_eq!(items(&picks), vec![7, 4, 6, 1]);
        assert_eq!(picks[0].reason, Reason::SimilarTo { item: 5 });
        assert_eq!(picks[1].reason, Reason::PopularIn { category: 0 });
        assert_eq!(picks[3].reason, Reason::Trending);
        // Fewer slots: the chain stops early.
        assert_eq!(items(&f.chain.recommend(&user, 2, &[])), vec![7, 4]);
    }

    #[test]
    fn the_personalized_stage_needs_enough_history() {
        let f = fixture(true);
        let one = ColdStartUser {
            history: &[(0, 1.0)],
            preferred_categories: &[],
        };
        let picks = f.chain.recommend(&one, 3, &[]);
        assert!(picks.iter().all(|p| p.reason != Reason::ForYou));
        let two = ColdStartUser {
            history: &[(0, 1.0), (2, 1.0)],
            preferred_categories: &[],
        };
        let picks = f.chain.recommend(&two, 3, &[]);
        assert_eq!(picks[0].reason, Reason::SimilarTo { item: 2 }); // black tea loose
        assert_eq!(picks[0].item, 3);
        assert_eq!(picks[1].reason, Reason::ForYou);
        let mut seen = items(&picks);
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), picks.len());
        assert!(picks.iter().all(|p| p.item != 0 && p.item != 2));
    }

    #[test]
    fn stages_must_cover_the_same_items() {
        let err = ColdStartChain::new(3)
            .then(Stage::Trending(Arc::new(Popularity::from_scores(vec![
                1.0;
                4
            ]))))
            .unwrap_err();
        assert!(matches!(
            err,
            FitError::ShapeMismatch {
                expected: 3,
                got: 4,
                ..
            }
        ));
    }
}
