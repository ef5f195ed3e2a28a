//! Account operations shared by the web pages, the API and the command line:
//! sign up, log in, issue API tokens. Each checks its input through the
//! domain types and answers with an [`AppError`] a person can act on.

use std::net::IpAddr;

use flywheel_domain::workshop::Workshop;
use flywheel_domain::{ApiToken, DisplayName, Email, NewUser, Password, Role, TokenSecret, User, ValidationError};
use flywheel_store::Database;

use crate::auth::password;
use crate::error::AppError;
use crate::state::AppState;

/// A checked sign-up request.
#[derive(Debug)]
pub struct SignUp {
    /// Login address.
    pub email: Email,
    /// Display name.
    pub name: DisplayName,
    /// The new password.
    pub password: Password,
}

impl SignUp {
    /// Checks all three fields, collecting every problem (for forms that
    /// show each error beside its field).
    ///
    /// # Errors
    /// One [`ValidationError`] per invalid field.
    pub fn parse(email: &str, name: &str, password: &str) -> Result<Self, Vec<ValidationError>> {
        let (email, name, password) = (Email::parse(email), DisplayName::parse(name), Password::parse(password));
        match (email, name, password) {
            (Ok(email), Ok(name), Ok(password)) => Ok(Self { email, name, password }),
            (e, n, p) => Err([e.err(), n.err(), p.err()].into_iter().flatten().collect()),
        }
    }
}

/// Creates an account with `role`, hashing the password.
///
/// # Errors
/// 409 when the email (ignoring case) is taken; internal errors otherwise.
pub async fn create_account(db: &dyn Database, sign_up: SignUp, role: Role) -> Result<User, AppError> {
    let password_hash = password::hash(&sign_up.password).await?;
    let new = NewUser { email: sign_up.email, name: sign_up.name, role, password_hash };
    Ok(db.create_user(&new, crate::now()).await?)
}

/// Self-service sign-up as a participant: when the configuration allows
/// it, or with a workshop's join code (also when sign-up is off: a room
/// of participants signs up with the code on the screen). With a code, the
/// new account joins that workshop; the code is checked before anything is
/// written.
///
/// # Errors
/// 403 when sign-up is off and no code is given, or the code has expired;
/// 404/422 for a code no workshop has or that cannot be one; as
/// [`create_account`] otherwise.
pub async fn sign_up(
    state: &AppState,
    sign_up: SignUp,
    join_code: Option<&str>,
) -> Result<(User, Option<Workshop>), AppError> {
    let join_code = join_code.map(str::trim).filter(|c| !c.is_empty());
    let workshop = match join_code {
        Some(code) => Some(crate::workshops::joinable(state, code).await?),
        None if !state.config.signup_enabled => return Err(AppError::forbidden(SIGNUP_CLOSED)),
        None => None,
    };
    let user = create_account(state.db.as_ref(), sign_up, Role::Participant).await?;
    if let Some(w) = &workshop {
        state.db.add_member(w.id, user.id, flywheel_domain::workshop::MemberRole::Participant, crate::now()).await?;
        tracing::info!(workshop = %w.id, user = %user.id, "signed up with a join code");
    }
    Ok((user, workshop))
}

/// What a person reads when sign-up is switched off.
pub const SIGNUP_CLOSED: &str = "Sign-up is closed on this server. Sign up with your workshop's join code, or ask your instructor or administrator for an account.";

/// Checks an email and password, counting the attempt against the rate limits.
///
/// # Errors
/// 429 past the limits; 401 "Wrong email or password." for an unknown email
/// or a wrong password alike; 403 for a disabled account.
pub async fn log_in(state: &AppState, email: &str, password: &str, ip: IpAddr) -> Result<User, AppError> {
    let wrong = || AppError::unauthorized("Wrong email or password.");
    let key = email.trim().to_lowercase();
    state.login_limits.check(&key, ip)?;
    let found = state.db.user_credentials(&key).await?;
    let (user, stored) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    if !password::verify(stored, password).await? {
        return Err(wrong());
    }
    let user = user.ok_or_else(wrong)?;
    if !user.is_active() {
        return Err(AppError::forbidden("This account is disabled. Ask your administrator."));
    }
    Ok(user)
}

/// Issues a new API token for `user`; the secret is returned once and only
/// its digest is stored.
///
/// # Errors
/// 422 for a bad label; internal errors otherwise.
pub async fn issue_token(state: &AppState, user: &User, name: &str) -> Result<(ApiToken, TokenSecret), AppError> {
    let name = ApiToken::parse_name(name)?;
    let secret = TokenSecret::from_random_bytes(crate::random_bytes()?);
    let token = state.db.create_api_token(user.id, &name, &secret.digest(), crate::now()).await?;
    Ok((token, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_up_reports_every_bad_field() {
        let errs = SignUp::parse("nope", "", "short").unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["email", "name", "password"]);
        assert!(SignUp::parse("a@b.org", "Ada", "long enough").is_ok());
    }
}
