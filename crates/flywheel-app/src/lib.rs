//! Flywheel's application services: what the server does, in the terms of
//! the domain (workshops, notebooks, kernels, and next the training pool and
//! endpoints), reusable by every binary (the web server, the command line,
//! and the training worker to come).
//!
//! Architecture invariant: no HTTP here. No axum, askama or utoipa, no
//! status codes: a service answers with domain types and its own
//! `thiserror` enum, and the server maps those to responses (checked by
//! `tests/tidy.rs`). The services of `server/src` move here one by one
//! (see `ARCHITECTURE.md`).

pub mod kernels;
