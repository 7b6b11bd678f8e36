//! Offline evaluation: splits, ranking and rating metrics, beyond-accuracy metrics, and a
//! full-ranking harness.
//!
//! - [`split`]: per-user random holdout, global temporal cut, per-user leave-last-n, whole users
//!   or items held out (new users fold in the start of their history), k-fold; each returns
//!   positions into the caller's interaction list.
//! - [`metrics`]: precision, recall, NDCG, MAP, hit rate, MRR at `k`; RMSE and MAE. The exact
//!   definitions (ideal DCG, the MAP normalization) are in that module's docs.
//! - [`beyond`]: catalog coverage, intra-list diversity, novelty, average popularity.
//! - [`cold`]: cold-start protocols: held-out items ranked among themselves, items with few
//!   training interactions.
//! - [`evaluate_ranking`]: fold every test user in from their training row, rank all items,
//!   average the metrics ([`evaluate_ranking_with`] for sampled candidates, when asked).
//!
//! ```
//! use attune_core::eval::{evaluate_ranking, split};
//! use attune_core::model::Popularity;
//!
//! let log: Vec<(u32, u32, f32)> = (0..40u32).map(|p| (p % 8, p % 5, 1.0)).collect();
//! let users: Vec<u32> = log.iter().map(|t| t.0).collect();
//! let s = split::random_holdout(&users, 0.25, 7).unwrap();
//! let (train, test) = s.to_csr(&log, 8, 5).unwrap();
//! let report = evaluate_ranking(&Popularity::most_popular(&train), &train, &test, 3);
//! assert!(report.users > 0 && (0.0..=1.0).contains(&report.ndcg));
//! ```

pub mod beyond;
pub mod cold;
mod harness;
pub mod metrics;
pub mod split;

pub use harness::{
    evaluate_lists, evaluate_ranking, evaluate_ranking_with, evaluate_ratings, mean_std,
    rank_users, rank_users_scored, test_users, Candidates, RankInput, RankingReport, RatingReport,
};
pub use split::Split;
