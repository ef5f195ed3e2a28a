//! Who is making a request, and may they?
//!
//! - [`login_sessions`]: server-side web sessions (tower-sessions) kept in the [`Database`](flywheel_store::Database).
//! - [`csrf`]: the synchronizer token every state-changing web request must carry.
//! - [`limits`]: log-in limits: failures per account and per address, successes per address.
//! - [`extract`]: extractors that enforce roles on every route.
//! - [`log_in`]: a log-in attempt, checked against the limits and counted.
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

/// Checks an email and password from `ip` against the log-in limits
/// ([`limits`]): a locked account or address is refused before the
/// password is checked; a wrong one counts as a failure, a right one
/// against the address's ceiling of log-ins.
///
/// # Errors
/// 429 past the limits; 401 "Wrong email or password." for an unknown email
/// or a wrong password alike; 403 for a disabled account.
pub async fn log_in(state: &AppState, email: &str, password: &str, ip: IpAddr) -> Result<User, AppError> {
    let key = email.trim().to_lowercase();
    state.login_limits.before(&key, ip)?;
    match accounts::check_credentials(state, email, password).await {
        Ok(user) => {
            state.login_limits.succeeded(ip)?;
            Ok(user)
        }
        Err(e) => {
            if matches!(e, accounts::AccountError::WrongCredentials) {
                state.login_limits.failed(&key, ip);
            }
            Err(e.into())
        }
    }
}
