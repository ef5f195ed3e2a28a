//! Who is making a request, and may they?
//!
//! - [`login_sessions`]: server-side web sessions (tower-sessions) kept in the [`Database`](flywheel_store::Database).
//! - [`csrf`]: the synchronizer token every state-changing web request must carry.
//! - [`limits`]: log-in rate limits per account and per IP address.
//! - [`extract`]: extractors that enforce roles on every route.
//! - [`log_in`]: a log-in attempt, counted against the limits.
//!
//! Password hashing and the account rules are the application services'
//! (`flywheel_app::accounts`).

use std::net::IpAddr;

use flywheel_app::accounts;
use flywheel_domain::User;

use crate::error::AppError;
use crate::state::AppState;

pub mod csrf;
pub mod extract;
pub mod limits;
pub mod login_sessions;

/// Checks an email and password from `ip`, counting the attempt against
/// the log-in rate limits first.
///
/// # Errors
/// 429 past the limits; 401 "Wrong email or password." for an unknown email
/// or a wrong password alike; 403 for a disabled account.
pub async fn log_in(state: &AppState, email: &str, password: &str, ip: IpAddr) -> Result<User, AppError> {
    state.login_limits.check(&email.trim().to_lowercase(), ip)?;
    Ok(accounts::check_credentials(state, email, password).await?)
}
