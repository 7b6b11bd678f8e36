//! Segmentation: grouping users by their feature vectors (issue 15).
//!
//! Pure and I/O-free like the rest of the core. Every clustering algorithm takes a checked
//! [`Dense`] matrix (one row per user) and is pinned to scikit-learn 1.9 by
//! `testdata/segment/reference.json` (`scripts/segment-reference.sh`); docs/segments.md has
//! what each one does, how it matches sklearn and the measured errors.
//!
//! - [`mod@kmeans`]: Lloyd's k-means with greedy k-means++ seeding (`KMeans(algorithm="lloyd")`).
//! - [`mod@choose_k`]: k-means over a range of k, choosing by the elbow ([`mod@knee`]) or
//!   [`mod@silhouette`].
//! - [`mod@dbscan`]: density clusters with noise (`DBSCAN`) and an eps from the k-distance knee.
//! - [`mod@pca`]: principal components (`PCA(svd_solver="full")`) by a Jacobi eigen-decomposition.
//! - [`mod@rules`]: new / dormant / heavy / active users from thresholds on the raw user
//!   feature table, for the segments a business already names.
//! - [`mod@describe`]: each segment in numbers (size, means against everyone as standardized
//!   differences, top categories) and in words.
//!
//! ```
//! use attune_core::segment::{choose_k, dbscan, kmeans, pca, DbscanParams, Dense, KMeansParams};
//!
//! // Two groups of users, two features each.
//! let users = Dense::from_rows(&[
//!     vec![1.0, 1.1], vec![0.9, 1.0], vec![1.1, 0.9],
//!     vec![5.0, 5.2], vec![5.1, 4.9], vec![4.9, 5.0],
//! ])?;
//! let fit = kmeans(&users, &KMeansParams { seed: 7, ..KMeansParams::new(2) })?;
//! assert_eq!(fit.labels[0], fit.labels[2]);
//! assert_ne!(fit.labels[0], fit.labels[3]);
//! let choice = choose_k(&users, 1..=4, &KMeansParams::new(1))?;
//! assert_eq!(choice.table.len(), 4);
//! let density = dbscan(&users, &DbscanParams { eps: 0.5, min_samples: 2 })?;
//! assert_eq!(density.n_clusters, 2);
//! let components = pca(&users, Some(1))?;
//! assert!(components.explained_variance_ratio[0] > 0.99);
//! # Ok::<(), attune_core::segment::SegmentError>(())
//! ```

mod dense;
mod eigen;
mod error;
mod kmeans_pp;

pub mod choose_k;
pub mod dbscan;
pub mod describe;
pub mod kmeans;
pub mod knee;
pub mod pca;
pub mod rules;
pub mod silhouette;

pub use choose_k::{choose_k, KChoice, KScore};
pub use dbscan::{dbscan, eps_from_knee, k_distances, DbscanFit, DbscanParams, NOISE};
pub use dense::Dense;
pub use describe::{
    cluster_labels, dbscan_labels, describe, CategoricalContrast, Description, NumericContrast,
    SegmentDescription,
};
pub use error::{Result, SegmentError};
pub use kmeans::{kmeans, Init, KMeansFit, KMeansParams};
pub use knee::{knee_index, Direction};
pub use pca::{pca, Pca};
pub use rules::{RuleSegment, RuleSegments, ValidRuleSegments};
pub use silhouette::{silhouette_samples, silhouette_score};

#[cfg(test)]
mod choose_k_tests;
#[cfg(test)]
mod dbscan_tests;
#[cfg(test)]
mod describe_tests;
#[cfg(test)]
mod kmeans_tests;
#[cfg(test)]
mod pca_tests;
#[cfg(test)]
mod reference;
#[cfg(test)]
mod rules_tests;
