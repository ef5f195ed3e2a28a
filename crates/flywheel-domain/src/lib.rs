//! Flywheel's domain types.
//!
//! Everything a request brings in from outside (an email, a display name, a
//! password, a role name, an API token) is parsed into one of these types at
//! the edge, so the rest of the code can rely on it being valid (the
//! "parse, don't validate" habit of zero-to-production).
//!
//! Architecture invariant: this crate does no I/O — no clock, no randomness,
//! no files, no network. Callers pass in the current time and random bytes.

/// Declares a UUID identifier type: `Display` as the hyphenated UUID,
/// `FromStr` with a [`ValidationError`] naming the kind of id, serialised as
/// the bare UUID. New ids are made by the caller (`WorkshopId(Uuid::new_v4())`
/// in the server or the store): randomness is I/O, which this crate does not do.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| $crate::ValidationError::new("id", concat!("is not a valid ", $what, " id")))
            }
        }
    };
}

mod account;
pub mod curriculum;
pub mod dataset;
pub mod endpoint;
mod lab;
pub mod notebook;
mod token;
pub mod training;
pub mod workshop;

pub use account::{DisplayName, Email, NewUser, Password, Role, User, UserId};
pub use dataset::{DatasetId, DatasetName, DatasetRecord};
pub use endpoint::{
    Capture, Endpoint, EndpointEvent, EndpointId, InferenceId, InvocationError, Monitor, MonitorState, ReviewBand,
    ShadowResult, Variant,
};
pub use lab::{CHECK_MIME, Lab, Step, StepDone, check_passed};
pub use notebook::{Cell, CellId, CellType, Notebook, NotebookError, NotebookId, NotebookRecord, NotebookSummary};
pub use token::{ApiToken, ApiTokenId, TokenSecret};
pub use training::{Artifact, JobEvent, JobEventKind, JobState, TrainingJob, TrainingJobId, TuningJob, TuningJobId};
pub use workshop::{SubmissionId, TeamId, WorkshopId};

/// A point in time, as milliseconds since the Unix epoch (UTC).
///
/// Stored as a plain integer so that SQLite and PostgreSQL hold it the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.0
    }
}

/// Why a value from outside was refused. The message is safe to show to the
/// person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    /// The input field the error is about (`email`, `name`, `password`, …).
    pub field: &'static str,
    /// What is wrong, in words for the user.
    pub message: String,
}

impl ValidationError {
    pub(crate) fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}
