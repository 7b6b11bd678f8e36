//! One integration-test binary for attune-artifact: round trips of every model type through a
//! file, and corrupt, truncated or foreign files refused with an error, never a panic.

mod common;
mod corruption;
mod round_trip;
