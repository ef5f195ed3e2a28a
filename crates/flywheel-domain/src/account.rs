//! Accounts: who a person is and what they may do.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Timestamp, ValidationError};

uuid_id!(
    /// The stable identifier of a user account (a UUID, shown in its hyphenated form).
    UserId,
    "user"
);

/// An email address, as typed (surrounding whitespace removed).
///
/// Two addresses that differ only in letter case are the same account:
/// [`Email::key`] is the lower-cased form that uniqueness is checked on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// The longest address accepted, in characters (RFC 5321's path limit).
    pub const MAX_LEN: usize = 254;

    /// Parses an address of the form `local@domain`.
    ///
    /// # Errors
    /// [`ValidationError`] on `email` when it is empty, too long, contains
    /// whitespace, or is not exactly one `@` between two non-empty parts.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim();
        let err = |m: &str| Err(ValidationError::new("email", m));
        if s.is_empty() {
            return err("is required");
        }
        if s.chars().count() > Self::MAX_LEN {
            return err("is longer than 254 characters");
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return err("must not contain spaces");
        }
        match s.split_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@') => {
                if domain.starts_with('.') || domain.ends_with('.') {
                    return err("has an invalid domain");
                }
                Ok(Self(s.to_owned()))
            }
            _ => err("must look like name@example.org"),
        }
    }

    /// The address as typed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive key that accounts are unique on.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> Self {
        e.0
    }
}

/// The name shown for a person: 1 to 80 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

impl DisplayName {
    /// The longest name accepted, in characters.
    pub const MAX_LEN: usize = 80;

    /// Parses a display name (surrounding whitespace removed).
    ///
    /// # Errors
    /// [`ValidationError`] on `name` when it is empty, longer than
    /// [`Self::MAX_LEN`] characters, or holds control characters.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(ValidationError::new("name", "is required"));
        }
        if s.chars().count() > Self::MAX_LEN {
            return Err(ValidationError::new("name", "is longer than 80 characters"));
        }
        if s.chars().any(char::is_control) {
            return Err(ValidationError::new("name", "must not contain control characters"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for DisplayName {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<DisplayName> for String {
    fn from(n: DisplayName) -> Self {
        n.0
    }
}

/// A new password that meets the policy: 8 to 1024 characters, not only
/// whitespace. Its `Debug` output never shows the password.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// The shortest password accepted, in characters (NIST SP 800-63B's minimum).
    pub const MIN_LEN: usize = 8;
    /// The longest password accepted, in characters (bounds the hashing work).
    pub const MAX_LEN: usize = 1024;

    /// Checks a new password against the policy. Leading and trailing
    /// whitespace is kept: it is part of the password.
    ///
    /// # Errors
    /// [`ValidationError`] on `password` when it is too short, too long or blank.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let n = raw.chars().count();
        if n < Self::MIN_LEN {
            return Err(ValidationError::new("password", "must be at least 8 characters"));
        }
        if n > Self::MAX_LEN {
            return Err(ValidationError::new("password", "is longer than 1024 characters"));
        }
        if raw.trim().is_empty() {
            return Err(ValidationError::new("password", "must not be only spaces"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The password itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// What a person may do. Checked on every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Works on labs, alone or in a team.
    Participant,
    /// Runs workshops, forms teams and grades them.
    Instructor,
    /// Operates the installation: users, quotas, settings.
    Admin,
}

impl Role {
    /// Every role, in order of growing rights.
    pub const ALL: [Role; 3] = [Role::Participant, Role::Instructor, Role::Admin];

    /// The role's name as stored and as written on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Participant => "participant",
            Role::Instructor => "instructor",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may run workshops (instructors and admins).
    pub fn can_teach(self) -> bool {
        matches!(self, Role::Instructor | Role::Admin)
    }

    /// Whether this role operates the installation.
    pub fn is_admin(self) -> bool {
        self == Role::Admin
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| ValidationError::new("role", format!("`{s}` is not one of participant, instructor, admin")))
    }
}

/// A user account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Stable id.
    pub id: UserId,
    /// Login address.
    pub email: Email,
    /// Name shown to others.
    pub name: DisplayName,
    /// What the user may do.
    pub role: Role,
    /// When the account was created.
    pub created_at: Timestamp,
    /// When the account was disabled; a disabled account cannot log in.
    pub disabled_at: Option<Timestamp>,
}

impl User {
    /// Whether the account may log in and use the API.
    pub fn is_active(&self) -> bool {
        self.disabled_at.is_none()
    }
}

/// What is needed to create an account. The password arrives already hashed
/// (argon2id PHC string), so this crate never sees a hash function.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login address.
    pub email: Email,
    /// Name shown to others.
    pub name: DisplayName,
    /// Initial role.
    pub role: Role,
    /// PHC string of the password hash.
    pub password_hash: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_keyed_case_insensitively() {
        let e = Email::parse("  Ada.Lovelace@Example.ORG ").unwrap();
        assert_eq!(e.as_str(), "Ada.Lovelace@Example.ORG");
        assert_eq!(e.key(), "ada.lovelace@example.org");
    }

    #[test]
    fn malformed_emails_are_refused_with_a_reason() {
        for (raw, why) in [
            ("", "is required"),
            ("no-at-sign", "must look like name@example.org"),
            ("@example.org", "must look like name@example.org"),
            ("a@b@c", "must look like name@example.org"),
            ("a b@example.org", "must not contain spaces"),
            ("a@.example", "has an invalid domain"),
        ] {
            let err = Email::parse(raw).unwrap_err();
            assert_eq!((err.field, err.message.as_str()), ("email", why), "input {raw:?}");
        }
        assert!(Email::parse(&format!("{}@x.org", "a".repeat(250))).is_err());
    }

    #[test]
    fn display_name_bounds() {
        assert_eq!(DisplayName::parse("  Ada ").unwrap().as_str(), "Ada");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"x".repeat(81)).is_err());
        assert!(DisplayName::parse(&"é".repeat(80)).is_ok(), "limit counts characters, not bytes");
        assert!(DisplayName::parse("a\u{7}b").is_err());
    }

    #[test]
    fn password_policy_and_redaction() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("        ").is_err());
        assert!(Password::parse(&"p".repeat(1025)).is_err());
        let p = Password::parse(" correct horse ").unwrap();
        assert_eq!(p.expose(), " correct horse ");
        assert_eq!(format!("{p:?}"), "Password(<redacted>)");
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
        assert!(Role::Admin.can_teach() && Role::Instructor.can_teach() && !Role::Participant.can_teach());
    }
}
