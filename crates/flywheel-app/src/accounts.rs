//! Account operations shared by the web pages, the API and the command line:
//! sign up, check credentials, issue API tokens. Each checks its input
//! through the domain types and answers with an [`AccountError`] a person
//! can act on. (Log-in rate limits are the web layer's: `server/src/auth`.)

use flywheel_domain::workshop::Workshop;
use flywheel_domain::{ApiToken, DisplayName, Email, NewUser, Password, Role, TokenSecret, User, ValidationError};
use flywheel_store::{Database, StoreError};

use crate::App;
use crate::password;
use crate::workshops::WorkshopError;

/// Why an account operation did not happen. Nothing is written on any of them.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Sign-up without a join code while the configuration does not allow it.
    #[error("{}", SIGNUP_CLOSED)]
    SignUpClosed,
    /// An unknown email or a wrong password (the same answer for both).
    #[error("Wrong email or password.")]
    WrongCredentials,
    /// The account is disabled.
    #[error("This account is disabled. Ask your administrator.")]
    Disabled,
    /// A field does not validate.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The join code given at sign-up does not let anyone in.
    #[error(transparent)]
    Workshop(#[from] WorkshopError),
    /// Storage failed, or the email is taken ([`StoreError::Conflict`]).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing or the random source failed; logged, not shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

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
/// [`StoreError::Conflict`] when the email (ignoring case) is taken;
/// internal errors otherwise.
pub async fn create_account(db: &dyn Database, sign_up: SignUp, role: Role) -> Result<User, AccountError> {
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
/// [`AccountError::SignUpClosed`] when sign-up is off and no code is given;
/// [`AccountError::Workshop`] for a code no workshop has, that cannot be
/// one or that has expired; as [`create_account`] otherwise.
pub async fn sign_up(
    app: &App,
    sign_up: SignUp,
    join_code: Option<&str>,
) -> Result<(User, Option<Workshop>), AccountError> {
    let join_code = join_code.map(str::trim).filter(|c| !c.is_empty());
    let workshop = match join_code {
        Some(code) => Some(crate::workshops::joinable(app, code).await?),
        None if !app.settings.signup_enabled => return Err(AccountError::SignUpClosed),
        None => None,
    };
    let user = create_account(app.db.as_ref(), sign_up, Role::Participant).await?;
    if let Some(w) = &workshop {
        app.db.add_member(w.id, user.id, flywheel_domain::workshop::MemberRole::Participant, crate::now()).await?;
        tracing::info!(workshop = %w.id, user = %user.id, "signed up with a join code");
    }
    Ok((user, workshop))
}

/// What a person reads when sign-up is switched off.
pub const SIGNUP_CLOSED: &str = "Sign-up is closed on this server. Sign up with your workshop's join code, or ask your instructor or administrator for an account.";

/// The active account whose email and password these are. Callers count
/// the attempt against their rate limits first.
///
/// # Errors
/// [`AccountError::WrongCredentials`] for an unknown email or a wrong
/// password alike; [`AccountError::Disabled`] for a disabled account.
pub async fn check_credentials(app: &App, email: &str, password: &str) -> Result<User, AccountError> {
    let found = app.db.user_credentials(&email.trim().to_lowercase()).await?;
    let (user, stored) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    if !password::verify(stored, password).await? {
        return Err(AccountError::WrongCredentials);
    }
    let user = user.ok_or(AccountError::WrongCredentials)?;
    if !user.is_active() {
        return Err(AccountError::Disabled);
    }
    Ok(user)
}

/// Issues a new API token for `user`; the secret is returned once and only
/// its digest is stored.
///
/// # Errors
/// [`AccountError::Invalid`] for a bad label; internal errors otherwise.
pub async fn issue_token(app: &App, user: &User, name: &str) -> Result<(ApiToken, TokenSecret), AccountError> {
    let name = ApiToken::parse_name(name)?;
    let secret = TokenSecret::from_random_bytes(crate::random_bytes()?);
    let token = app.db.create_api_token(user.id, &name, &secret.digest(), crate::now()).await?;
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
