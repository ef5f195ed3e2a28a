//! Who is making a request, and may they?
//!
//! - [`password`]: argon2id hashing.
//! - [`sessions`]: server-side web sessions (tower-sessions) kept in the [`Database`](flywheel_store::Database).
//! - [`csrf`]: the synchronizer token every state-changing web request must carry.
//! - [`limits`]: log-in rate limits per account and per IP address.
//! - [`extract`]: extractors that enforce roles on every route.

pub mod csrf;
pub mod extract;
pub mod limits;
pub mod password;
pub mod sessions;
