//! Exposure-aware re-ranking in the serving path (`[serving.fairness]`, docs/fairness.md): the
//! same `attune_core::fairness::ExposureReranker` the offline audit measures, over item groups
//! resolved once per loaded model version, so `GET /v1/users/{id}/recommendations` and
//! `attune recommend` re-rank alike.

use attune_core::catalog::Item;
use attune_core::fairness::{
    resolve, ExposureReranker, FairnessError, Groups, ItemGroupSpec, TargetSpec,
};

use crate::model::LoadedModel;

/// `[serving.fairness]`, checked: which item groups, the target share of each, λ, and how many
/// of the model's candidates the re-ranker chooses from.
#[derive(Debug, Clone, PartialEq)]
pub struct FairnessConfig {
    /// How items are grouped.
    pub item_groups: ItemGroupSpec,
    /// Target exposure share per group.
    pub targets: TargetSpec,
    /// Relevance given up per unit of over-exposure (0: the model's order).
    pub lambda: f64,
    /// Candidates per list (at least the list length is always taken).
    pub candidates: usize,
}

/// One model version's re-ranker: its item groups and the checked re-ranker.
#[derive(Debug, Clone)]
pub(crate) struct FairRanker {
    pub(crate) groups: Groups,
    pub(crate) reranker: ExposureReranker,
    pub(crate) candidates: usize,
}

impl FairRanker {
    /// Groups over the model's items: popularity from its training interactions, attributes
    /// and publication times from `catalog`, "now" the model's latest training event.
    pub(crate) fn build(
        config: &FairnessConfig,
        model: &LoadedModel,
        catalog: &[Item],
        now_micros: i64,
    ) -> Result<Self, FairnessError> {
        let groups = resolve::item_groups(
            &config.item_groups,
            &model.items,
            catalog,
            &resolve::popularity(&model.history),
            now_micros,
        )?;
        let targets = config.targets.resolve(&groups)?;
        Ok(Self {
            reranker: ExposureReranker::new(config.lambda, targets)?,
            groups,
            candidates: config.candidates,
        })
    }

    /// The first `n` of `top` (best first) re-ranked.
    pub(crate) fn rerank(&self, top: &[(u32, f32)], n: usize) -> Vec<(u32, f32)> {
        self.reranker.rerank(top, n, |i| self.groups.group_of(i))
    }
}
