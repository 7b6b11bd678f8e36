//! Fairness of ranked lists: who gets seen (exposure of item groups) and who is served well
//! (quality by user group), plus a re-ranker that moves exposure toward target group shares.
//!
//! The definitions are written out in `docs/fairness.md`; in short:
//! - [`groups`]: items grouped by an attribute, by training popularity (`popularity:K`, K buckets
//!   of equal interaction mass) or by age (`new:DAYS`); users by an attribute or by activity.
//! - [`exposure`]: position-discounted exposure `1 / log2(rank + 1)` summed per item and per
//!   group, each group's share of it, the exposure gap (max − min share), the ratio gap
//!   (max − min of share ÷ catalogue share) and the Gini coefficient of item exposure.
//! - [`quality`]: NDCG, recall and hit rate per user group, the demographic-parity gap
//!   (max − min hit rate) and the equal-opportunity gap (max − min recall).
//! - [`rerank`]: [`ExposureReranker`], greedy re-ranking of one candidate list that trades
//!   relevance for exposure of under-served groups, with one knob λ.
//!
//! Everything here is pure and deterministic, so the offline audit (`attune fairness audit`),
//! serving and the online figures compute a number the same way.
//!
//! ```
//! use attune_core::fairness::{exposure::exposure_report, groups::popularity_buckets};
//!
//! // Item 0 carries half the interactions: the head bucket; items 1..4 share the rest.
//! let groups = popularity_buckets(&[4.0, 1.0, 1.0, 1.0, 1.0], 2).unwrap();
//! let report = exposure_report(&[vec![0, 1]], &groups, 2);
//! assert_eq!(groups.labels(), ["head", "tail"]);
//! assert!(report.groups[0].share > report.groups[1].share);
//! ```

pub mod audit;
pub mod exposure;
pub mod groups;
pub mod quality;
#[cfg(test)]
mod reference;
pub mod rerank;
pub mod resolve;
pub mod reweight;

pub use audit::{audit_lists, AuditInput, AuditRun};
pub use exposure::{exposure_report, gini, ExposureReport, GroupExposure};
pub use groups::{Groups, ItemGroupSpec, TargetSpec, UserGroupSpec};
pub use quality::{quality_by_group, GroupQuality, QualityReport};
pub use rerank::ExposureReranker;

/// A fairness parameter or group specification broke a rule. User error: the message names
/// the parameter, the value and what is allowed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FairnessError {
    /// A group specification could not be parsed.
    #[error("invalid {field} {value:?}: {rule}")]
    Spec {
        /// Which specification (`item_groups`, `user_groups`, `targets`).
        field: &'static str,
        /// What was given.
        value: String,
        /// The rule it broke and the accepted forms.
        rule: String,
    },
    /// A number out of range.
    #[error("invalid {field} = {value}: {rule}")]
    Param {
        /// The parameter, e.g. `lambda`.
        field: &'static str,
        /// What was given.
        value: f64,
        /// The allowed range.
        rule: &'static str,
    },
}

/// Position discount of a 0-based position: `1 / log2(position + 2)`, i.e. `1 / log2(rank + 1)`
/// for the 1-based rank, the same discount NDCG uses (rank 1 → 1, rank 3 → 0.5).
#[inline]
pub fn discount(position: usize) -> f64 {
    1.0 / ((position + 2) as f64).log2()
}
