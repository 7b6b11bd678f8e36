//! Segmentation: grouping users by their feature vectors (issue 15).
//!
//! Pure and I/O-free like the rest of the core. Every algorithm takes a checked [`Dense`]
//! matrix (one row per user) and is pinned to scikit-learn 1.9 by
//! `testdata/segment/reference.json` (`scripts/segment-reference.sh`); docs/segments.md has
//! what each one does, how it matches sklearn and the measured errors.
//!
//! - [`kmeans`]: Lloyd's k-means with greedy k-means++ seeding (`KMeans(algorithm="lloyd")`).
//! - [`choose_k`]: silhouette score and the Kneedle elbow over inertia, for picking k.
//! - [`dbscan`]: density clusters with noise (`DBSCAN`) and an eps from the k-distance knee.
//! - [`pca`]: principal components (`PCA(svd_solver="full")`) by a Jacobi eigen-decomposition.

mod dense;
mod error;
mod kmeans_pp;

pub mod kmeans;

pub use dense::Dense;
pub use error::{Result, SegmentError};
pub use kmeans::{kmeans, Init, KMeansFit, KMeansParams};

#[cfg(test)]
mod kmeans_tests;
#[cfg(test)]
mod reference;
