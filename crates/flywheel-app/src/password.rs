//! Password hashing with argon2id (RFC 9106), the `argon2` crate's default
//! parameters (m = 19 MiB, t = 2, p = 1: OWASP's recommendation), stored as
//! PHC strings. Hashing runs on the blocking pool: it takes tens of
//! milliseconds by design.

use std::sync::LazyLock;

use anyhow::Context;
use argon2::password_hash::SaltString;
use argon2::password_hash::rand_core::OsRng;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use flywheel_domain::Password;

/// Hashes a new password into a PHC string (`$argon2id$v=19$…`).
///
/// # Errors
/// Only if the operating system's random source or the blocking pool fails.
pub async fn hash(password: &Password) -> anyhow::Result<String> {
    let secret = password.expose().to_owned();
    tokio::task::spawn_blocking(move || hash_now(&secret)).await.context("password hashing task")?
}

fn hash_now(secret: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let phc = Argon2::default().hash_password(secret.as_bytes(), &salt).map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    Ok(phc.to_string())
}

/// Checks `candidate` against a stored PHC string. With no stored hash
/// (unknown account) it still does the same work, against a dummy hash, so
/// that response times do not reveal which emails have accounts.
///
/// # Errors
/// Only if the blocking pool fails; a malformed stored hash is a mismatch.
pub async fn verify(stored: Option<String>, candidate: &str) -> anyhow::Result<bool> {
    let candidate = candidate.to_owned();
    tokio::task::spawn_blocking(move || {
        let (phc, known) = match &stored {
            Some(s) => (s.as_str(), true),
            None => (DUMMY.as_str(), false),
        };
        let ok = PasswordHash::new(phc)
            .map(|parsed| Argon2::default().verify_password(candidate.as_bytes(), &parsed).is_ok())
            .unwrap_or(false);
        ok && known
    })
    .await
    .context("password verification task")
}

static DUMMY: LazyLock<String> =
    LazyLock::new(|| hash_now("flywheel dummy password").unwrap_or_else(|_| String::from("$argon2id$invalid")));

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_are_salted() {
        let p = Password::parse("correct horse battery").unwrap();
        let h1 = hash(&p).await.unwrap();
        let h2 = hash(&p).await.unwrap();
        assert!(h1.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h1}");
        assert_ne!(h1, h2, "each hash has its own salt");
        assert!(verify(Some(h1.clone()), "correct horse battery").await.unwrap());
        assert!(!verify(Some(h1), "correct horse batterY").await.unwrap());
        assert!(!verify(Some("not a hash".into()), "x").await.unwrap());
        assert!(!verify(None, "flywheel dummy password").await.unwrap(), "the dummy never logs anyone in");
    }
}
