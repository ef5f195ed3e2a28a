//! Personal API tokens, `Authorization: Bearer fw_…`, and endpoint keys,
//! `Authorization: Bearer fwk_…` (good for one endpoint's invocations only).
//!
//! A token's secret is shown once, when it is created; the store keeps only
//! its SHA-256 digest, so a leaked database does not leak usable tokens.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::{Timestamp, UserId, ValidationError};

uuid_id!(
    /// The identifier of an API token (not secret).
    ApiTokenId,
    "token"
);

/// The secret part of an API token (`fw_`) or an endpoint key (`fwk_`),
/// followed by 64 lower-case hex digits (32 random bytes). Its `Debug`
/// output never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret(String);

impl TokenSecret {
    const PREFIX: &'static str = "fw_";
    const KEY_PREFIX: &'static str = "fwk_";

    /// Makes a personal token's secret from 32 random bytes supplied by the caller.
    pub fn from_random_bytes(bytes: [u8; 32]) -> Self {
        Self(format!("{}{}", Self::PREFIX, hex::encode(bytes)))
    }

    /// Makes an endpoint key's secret from 32 random bytes supplied by the caller.
    pub fn endpoint_key_from_random_bytes(bytes: [u8; 32]) -> Self {
        Self(format!("{}{}", Self::KEY_PREFIX, hex::encode(bytes)))
    }

    /// Parses a secret as presented in an `Authorization` header.
    ///
    /// # Errors
    /// [`ValidationError`] on `token` when it is not `fw_` or `fwk_` + 64 hex digits.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let hexpart = raw.strip_prefix(Self::KEY_PREFIX).or_else(|| raw.strip_prefix(Self::PREFIX));
        match hexpart {
            Some(hexpart) if hexpart.len() == 64 && hexpart.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(Self(raw.to_ascii_lowercase()))
            }
            _ => Err(ValidationError::new("token", "is not a Flywheel API token or endpoint key")),
        }
    }

    /// Whether it is an endpoint key (`fwk_…`) rather than a personal token.
    pub fn is_endpoint_key(&self) -> bool {
        self.0.starts_with(Self::KEY_PREFIX)
    }

    /// The secret, to show to its owner once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 digest (hex) under which the token is stored and looked up.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(<redacted>)")
    }
}

/// An API token or an endpoint key as stored (without its secret); for a
/// key, `user_id` is who made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Stable id, used to revoke it.
    pub id: ApiTokenId,
    /// Owner.
    pub user_id: UserId,
    /// A label the owner chose ("laptop", "CI").
    pub name: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last authenticated a request, if ever.
    pub last_used_at: Option<Timestamp>,
    /// When it was revoked; a revoked token authenticates nothing.
    pub revoked_at: Option<Timestamp>,
}

impl ApiToken {
    /// The longest token label, in characters.
    pub const MAX_NAME_LEN: usize = 80;

    /// Checks a token label: 1 to 80 characters after trimming; an empty
    /// label becomes `"token"`.
    ///
    /// # Errors
    /// [`ValidationError`] on `name` when it is too long or has control characters.
    pub fn parse_name(raw: &str) -> Result<String, ValidationError> {
        let s = raw.trim();
        if s.chars().count() > Self::MAX_NAME_LEN {
            return Err(ValidationError::new("name", "is longer than 80 characters"));
        }
        if s.chars().any(char::is_control) {
            return Err(ValidationError::new("name", "must not contain control characters"));
        }
        Ok(if s.is_empty() { "token".to_owned() } else { s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_and_hash_stably() {
        let s = TokenSecret::from_random_bytes([0xab; 32]);
        assert_eq!(s.expose().len(), 3 + 64);
        let parsed = TokenSecret::parse(s.expose()).unwrap();
        assert_eq!(parsed, s);
        assert_eq!(parsed.digest(), s.digest());
        assert_ne!(TokenSecret::from_random_bytes([1; 32]).digest(), s.digest());
        assert_eq!(format!("{s:?}"), "TokenSecret(<redacted>)");
    }

    #[test]
    fn malformed_secrets_are_refused() {
        for raw in ["", "fw_", "fw_xyz", "gh_0000000000000000000000000000000000000000000000000000000000000000"] {
            assert!(TokenSecret::parse(raw).is_err(), "{raw:?}");
        }
        assert!(TokenSecret::parse(&format!("fw_{}", "g".repeat(64))).is_err());
    }

    #[test]
    fn endpoint_keys_are_told_apart_from_personal_tokens() {
        let key = TokenSecret::endpoint_key_from_random_bytes([7; 32]);
        assert!(key.expose().starts_with("fwk_") && key.is_endpoint_key());
        assert_eq!(TokenSecret::parse(key.expose()).unwrap(), key);
        assert!(!TokenSecret::from_random_bytes([7; 32]).is_endpoint_key());
        assert_ne!(key.digest(), TokenSecret::from_random_bytes([7; 32]).digest());
    }

    #[test]
    fn token_names() {
        assert_eq!(ApiToken::parse_name("  ").unwrap(), "token");
        assert_eq!(ApiToken::parse_name(" laptop ").unwrap(), "laptop");
        assert!(ApiToken::parse_name(&"x".repeat(81)).is_err());
    }
}
