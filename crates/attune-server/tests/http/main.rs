//! HTTP API tests: the real router, in-process (`oneshot`), over a temp SQLite store per test;
//! `serve` itself on a TCP port where the transport matters (metrics, graceful shutdown).

mod alerts;
mod apps;
mod auth;
mod common;
mod connections;
mod cors;
mod dismiss;
mod drift;
mod errors;
mod events;
mod experiments;
mod fairness;
mod fresh_items;
mod items;
mod limits;
mod metrics;
mod models;
mod openapi;
mod quality;
mod ratelimit;
mod readiness;
mod rollout;
mod shutdown;
mod system;
mod users;
mod web;
