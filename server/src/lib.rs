//! The Flywheel web server: accounts, pages and the REST API over the
//! storage crate. `main.rs` is a thin wrapper around [`cli::run`]; tests
//! build an [`Application`] on an ephemeral port.
//!
//! Architecture invariant: this is the only crate that knows axum, askama
//! and htmx.

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod metrics;
pub mod state;
pub mod web;

pub use app::Application;
pub use config::Config;

pub use flywheel_app::{now, random_bytes, random_hex};
