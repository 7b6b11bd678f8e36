//! HTTP API tests: the real router, in-process (`oneshot`), over a temp SQLite store per test.

mod apps;
mod common;
mod errors;
mod events;
mod items;
mod system;
mod users;
