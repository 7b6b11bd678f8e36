//! attune-pipeline's integration tests: one binary, a module per feature.

mod drift;
mod hybrid_profiles;
mod resegment;
