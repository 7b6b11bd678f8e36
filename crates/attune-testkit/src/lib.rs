//! Seeded synthetic data (to be written).
