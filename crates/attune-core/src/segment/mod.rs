//! Segmentation: grouping users by their feature vectors (issue 15).
//!
//! Pure and I/O-free like the rest of the core. Every algorithm takes a checked [`Dense`]
//! matrix (one row per user) and is pinned to scikit-learn 1.9 by
//! `testdata/segment/reference.json` (`scripts/segment-reference.sh`); docs/segments.md has
//! what each one does, how it matches sklearn and the measured errors.
//!
//! - [`mod@kmeans`]: Lloyd's k-means with greedy k-means++ seeding (`KMeans(algorithm="lloyd")`).
//! - [`mod@choose_k`]: k-means over a range of k, choosing by the elbow ([`mod@knee`]) or
//!   [`mod@silhouette`].
//! - [`mod@dbscan`]: density clusters with noise (`DBSCAN`) and an eps from the k-distance knee.
//! - [`mod@pca`]: principal components (`PCA(svd_solver="full")`) by a Jacobi eigen-decomposition.

mod dense;
mod eigen;
mod error;
mod kmeans_pp;

pub mod choose_k;
pub mod dbscan;
pub mod kmeans;
pub mod knee;
pub mod pca;
pub mod silhouette;

pub use choose_k::{choose_k, KChoice, KScore};
pub use dbscan::{dbscan, eps_from_knee, k_distances, DbscanFit, DbscanParams, NOISE};
pub use dense::Dense;
pub use error::{Result, SegmentError};
pub use kmeans::{kmeans, Init, KMeansFit, KMeansParams};
pub use knee::{knee_index, Direction};
pub use pca::{pca, Pca};
pub use silhouette::{silhouette_samples, silhouette_score};

#[cfg(test)]
mod choose_k_tests;
#[cfg(test)]
mod dbscan_tests;
#[cfg(test)]
mod kmeans_tests;
#[cfg(test)]
mod pca_tests;
#[cfg(test)]
mod reference;
