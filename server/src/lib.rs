//! The Flywheel web server: accounts, pages and the REST API over the
//! storage crate. `main.rs` is a thin wrapper around [`cli::run`]; tests
//! build an [`Application`] on an ephemeral port.
//!
//! Architecture invariant: this is the only crate that knows axum, askama
//! and htmx.

pub mod accounts;
pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod curriculum;
pub mod datasets;
pub mod error;
pub mod labs;
pub mod metrics;
pub mod notebooks;
pub mod state;
pub mod web;
pub mod workshops;

pub use app::Application;
pub use config::Config;

use flywheel_domain::Timestamp;

/// The current time.
pub fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
}

/// `N` bytes from the operating system's random source.
///
/// # Errors
/// When the random source fails.
pub fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("random source: {e}"))?;
    Ok(buf)
}

/// `N` random bytes as lower-case hex.
///
/// # Errors
/// When the random source fails.
pub fn random_hex<const N: usize>() -> anyhow::Result<String> {
    random_bytes::<N>().map(hex::encode)
}
