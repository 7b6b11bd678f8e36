//! placeholder, filled in by the recommender work.
