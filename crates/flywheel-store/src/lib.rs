//! Flywheel's storage.
//!
//! One [`Database`] trait is what the rest of Flywheel sees; [`SqlDatabase`]
//! implements it once, with the same SQL for SQLite (the embedded default)
//! and PostgreSQL (for several servers), chosen by the URL scheme. Queries
//! are written once in the portable subset both engines share (`$1`
//! placeholders, `ON CONFLICT`, `BIGINT` times, `TEXT` ids), so there is no
//! per-backend business logic to keep in step; migrations are embedded in the
//! binary and applied on start.
//!
//! [`Database`] is one trait per area ([`AccountStore`], [`LoginSessionStore`],
//! [`NotebookStore`], [`ProgressStore`], [`DatasetStore`], [`WorkshopStore`], [`TrainingStore`], [`EndpointStore`]),
//! each implemented in its area's module. It is also the seam where tests
//! put a fault double: [`testing::Faulty`] (the `testing` feature) fails or
//! slows the areas a test names and passes the rest to a real database.
//!
//! # Design notes
//!
//! `Database` (async, object-safe, `Arc<dyn Database>`) is one trait per area
//! — `AccountStore`, `LoginSessionStore`, `NotebookStore`, `ProgressStore`,
//! `DatasetStore`, `WorkshopStore`, `TrainingStore`, `EndpointStore` — plus `backend` and `ping`; `SqlDatabase`
//! is its one implementation, on sqlx's `Any` driver, each area's trait in its
//! module (`accounts.rs`, `login_sessions.rs`, …; `sql.rs` holds the pool,
//! connection and migrations). The backend is chosen by URL scheme (`sqlite:`
//! / `postgres:`). Code that calls a `SqlDatabase` directly (tests) imports
//! the area's trait; code holding `Arc<dyn Database>` needs no import.
//!
//! `testing.rs` (the `testing` feature, on for the tests crate): `Faulty`, the
//! fault double at this seam — the calls of the areas a test names fail as a
//! down database's do, or wait first, and every other call reaches the real
//! database inside (`Faulty::over(db)`); `Faulty::down()` fails everything.
//! Written once here, one delegating method per trait method (the compiler
//! says when a trait gains a method it lacks), so a test no longer restates
//! the whole trait to break one part of it.
//!
//! The queries are written once, in the SQL both engines accept (`$1`
//! placeholders, `ON CONFLICT`, `RETURNING`), and the migrations in
//! `migrations/` are portable DDL (UUID text ids, `BIGINT` millisecond times,
//! nullable timestamps instead of booleans), embedded with `sqlx::migrate!` and
//! applied on start.
//!
//! *Where we chose otherwise than the model:* atuin keeps one implementation
//! per backend in sibling crates. Here the two backends differ in nothing our
//! queries use, so one implementation means no business logic to keep in step
//! and no duplicated SQL; the traits remain the seam (`testing::Faulty`). If a query ever needs engine-specific SQL, `SqlDatabase::backend`
//! says which engine it is talking to; prefer that over a second implementation.
//!
//! Notebooks (`notebooks.rs`): the cells are one JSON document per notebook
//! under a `revision`; a save names the revision it was made on and a stale one
//! is `StoreError::StaleRevision` (checked and bumped in one transaction). Each
//! cell's outputs are a row of `cell_outputs`, written by runs without touching
//! the revision (a run finishing while the participant types must not make
//! their next save stale); a save drops the rows of cells it removed.
//!
//! Progress (`progress.rs`): one `lab_progress` row per user, lab and step,
//! written once at the step's first pass (`ON CONFLICT DO NOTHING`).
//!
//! Datasets (`datasets.rs`): one `datasets` row per upload, the checked CSV
//! as `TEXT` beside its column summary; a name is unique per owner. In the
//! database rather than on disk so that any server of several can put it into
//! its kernels.
//!
//! Workshops (`workshops.rs`): `workshops` (settings, rubrics and the
//! scoring seed), `workshop_members` (role and team), `teams`,
//! `submissions` (immutable; an `idempotency_key` unique per team makes a
//! retried submit return the first), `grades` (one row per graded
//! submission, scores as JSON), `workshop_accounts` (room accounts, disabled
//! by `disable_ended_workshop_accounts` once their workshop closes); a
//! notebook's `team_id` shares it with a team. A team's size limit is checked
//! in the transaction that moves the member, after writing the team's row, so
//! two joins cannot both take the last place. A NULL score is written as a
//! literal: sqlx's `Any` driver binds `None::<f64>` with a non-float type,
//! which PostgreSQL then holds against the next float bound to the same
//! prepared statement.
//!
//! Training (`training.rs`): `training_jobs` (the queue: state, attempts,
//! the running worker and its heartbeat, final metrics), `training_job_events`
//! (per job, numbered: log lines, per-round metrics, state changes — what the
//! live curve and the SSE stream read) and `training_artifacts` (the model's
//! JSON, in the database like datasets so any server can hand it out). Each
//! state change is one conditional `UPDATE … WHERE state = …`: a claim is
//! `WHERE state = 'pending'` (a worker losing the race takes the next job;
//! this serves SQLite's single writer and PostgreSQL's row locks alike, where
//! `FOR UPDATE SKIP LOCKED` would only spare the loser a retry), a worker's
//! writes also name the worker, so one whose job was requeued cannot finish it.
//!
//! Endpoints (`endpoints.rs`): `endpoints` (name unique on the server,
//! `updated_at` bumped by every change of variants or weights, which servers
//! holding the models compare), `endpoint_variants` (weight and the model's
//! JSON, in the database like artifacts so any server can load it) and
//! `endpoint_captures` (one row per captured prediction, the ground truth
//! joined by `UPDATE`; `add_captures` keeps the newest `keep` per endpoint),
//! `endpoint_shadow_results` (production's and the shadow's answer to the
//! same row, bounded alike; the ground truth joined from the capture) and
//! `endpoint_events` (the audit trail, numbered as job events are) and
//! `endpoint_baselines` (the rows drift is measured against, as JSON) and
//! `endpoint_keys` (digests of the keys that open one endpoint's invocations).
//!
//! **Invariant:** no HTTP, no templates. Times come in as arguments.

mod accounts;
mod datasets;
mod endpoints;
mod login_sessions;
mod notebooks;
mod progress;
mod sql;
#[cfg(feature = "testing")]
pub mod testing;
mod training;
mod workshops;

use async_trait::async_trait;
use flywheel_domain::workshop::{Grade, JoinCode, Member, MemberRole, Submission, SubmissionKind, Team, Workshop};
use flywheel_domain::{
    ApiToken, ApiTokenId, Artifact, Capture, CellId, DatasetId, DatasetRecord, Endpoint, EndpointId, InferenceId,
    JobEvent, JobEventKind, JobState, NewUser, Notebook, NotebookId, NotebookRecord, NotebookSummary, StepDone,
    SubmissionId, TeamId, Timestamp, TrainingJob, TrainingJobId, TuningJob, TuningJobId, User, UserId, WorkshopId,
};
use flywheel_domain::{EndpointEvent, InvocationError, Monitor, MonitorState, ReviewBand, ShadowResult, Variant};

pub use sql::SqlDatabase;

/// Which database engine is behind a [`Database`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file, in WAL mode.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Picks the engine from a database URL's scheme.
    ///
    /// # Errors
    /// [`StoreError::UnsupportedUrl`] for anything but `sqlite:`, `postgres:`
    /// and `postgresql:` URLs.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("sqlite") => Ok(Backend::Sqlite),
            Some("postgres" | "postgresql") => Ok(Backend::Postgres),
            _ => Err(StoreError::UnsupportedUrl(redact_url(url))),
        }
    }

    /// A short name for logs and the admin page.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names an engine Flywheel does not support.
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    /// The database could not be reached or opened.
    #[error("cannot connect to the database at {url}: {source}")]
    Connect {
        /// The URL, password removed.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// Applying the embedded migrations failed.
    #[error("cannot apply database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A unique value (named here) is already taken.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A save named a revision of a notebook that is no longer current.
    #[error("this notebook was changed elsewhere (it is now at revision {current}); reload it to see that version")]
    StaleRevision {
        /// The revision now stored.
        current: i64,
    },
    /// A stored row does not decode into a valid domain value.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// Any other database failure.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
}

/// Everything Flywheel stores: one trait per area, all implemented by
/// [`SqlDatabase`]; the rest of Flywheel holds an `Arc<dyn Database>`.
///
/// Times are passed in by the caller (`now`), so behaviour over time is testable.
#[async_trait]
pub trait Database:
    AccountStore
    + LoginSessionStore
    + NotebookStore
    + ProgressStore
    + DatasetStore
    + WorkshopStore
    + TrainingStore
    + EndpointStore
    + 'static
{
    /// The engine behind this store.
    fn backend(&self) -> Backend;

    /// Checks that the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Accounts and API tokens.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates an account.
    ///
    /// # Errors
    /// [`StoreError::Conflict`]`("email")` when an account with the same
    /// email (ignoring case) exists; nothing is written then.
    async fn create_user(&self, user: &NewUser, now: Timestamp) -> Result<User, StoreError>;

    /// The account with this id, if any.
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// The account with this email key ([`flywheel_domain::Email::key`]) and its password hash.
    async fn user_credentials(&self, email_key: &str) -> Result<Option<(User, String)>, StoreError>;

    /// Every account, oldest first.
    async fn users(&self) -> Result<Vec<User>, StoreError>;

    /// Stores a new API token for `user` under the digest of its secret.
    async fn create_api_token(
        &self,
        user: UserId,
        name: &str,
        digest: &str,
        now: Timestamp,
    ) -> Result<ApiToken, StoreError>;

    /// The active owner of an unrevoked token with this digest, recording
    /// the use (to the minute: [`USE_RECORDED_EVERY_MILLIS`]).
    async fn authenticate_api_token(&self, digest: &str, now: Timestamp) -> Result<Option<User>, StoreError>;

    /// The tokens of `user`, newest first, revoked ones included.
    async fn api_tokens(&self, user: UserId) -> Result<Vec<ApiToken>, StoreError>;

    /// Revokes token `id` of `user`. Returns `false` (and changes nothing)
    /// when `user` has no such unrevoked token.
    async fn revoke_api_token(&self, user: UserId, id: ApiTokenId, now: Timestamp) -> Result<bool, StoreError>;
}

/// Login sessions: the server-side state behind the login cookie (tower-sessions).
#[async_trait]
pub trait LoginSessionStore: Send + Sync {
    /// Stores a new session. Returns `false` (and changes nothing) when the id is taken.
    async fn create_session(&self, id: &str, data: &str, expires_at: Timestamp) -> Result<bool, StoreError>;

    /// Creates or replaces a session.
    async fn save_session(&self, id: &str, data: &str, expires_at: Timestamp) -> Result<(), StoreError>;

    /// The data of an unexpired session.
    async fn load_session(&self, id: &str, now: Timestamp) -> Result<Option<String>, StoreError>;

    /// Deletes a session (no error if it does not exist).
    async fn delete_session(&self, id: &str) -> Result<(), StoreError>;

    /// Deletes every session that expired before `now`; returns how many.
    async fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64, StoreError>;
}

/// Notebooks: their cells, outputs, revisions and team sharing.
#[async_trait]
pub trait NotebookStore: Send + Sync {
    /// Stores a new notebook (revision 1) with the outputs its cells hold.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when `owner` already has a copy of `lab`.
    async fn create_notebook(
        &self,
        owner: UserId,
        lab: Option<&str>,
        notebook: &Notebook,
        now: Timestamp,
    ) -> Result<NotebookRecord, StoreError>;

    /// The notebook with this id, outputs included (whoever owns it: callers check).
    async fn notebook(&self, id: NotebookId) -> Result<Option<NotebookRecord>, StoreError>;

    /// `owner`'s copy of the lab `lab`, if made.
    async fn lab_notebook(&self, owner: UserId, lab: &str) -> Result<Option<NotebookRecord>, StoreError>;

    /// `owner`'s notebooks, most recently changed first.
    async fn notebooks(&self, owner: UserId) -> Result<Vec<NotebookSummary>, StoreError>;

    /// The notebooks shared with `team`, most recently changed first.
    async fn team_notebooks(&self, team: TeamId) -> Result<Vec<NotebookSummary>, StoreError>;

    /// Shares a notebook with `team` (or with no team); `false` when there is no such notebook.
    async fn set_notebook_team(&self, id: NotebookId, team: Option<TeamId>) -> Result<bool, StoreError>;

    /// Saves an edit made on `revision`: title and cells (ids, types,
    /// sources, metadata) are replaced, outputs of the cells that remain are
    /// kept, and the revision goes up by one. `None` when there is no such notebook.
    ///
    /// # Errors
    /// [`StoreError::StaleRevision`] (nothing written) when the notebook is
    /// no longer at `revision`.
    async fn update_notebook(
        &self,
        id: NotebookId,
        revision: i64,
        notebook: &Notebook,
        now: Timestamp,
    ) -> Result<Option<NotebookRecord>, StoreError>;

    /// Replaces title and cells whatever the revision and drops every output
    /// (a reset to the lab's original); the revision goes up by one.
    async fn replace_notebook(
        &self,
        id: NotebookId,
        notebook: &Notebook,
        now: Timestamp,
    ) -> Result<Option<NotebookRecord>, StoreError>;

    /// Records the outputs of a cell's run (the revision does not change).
    async fn set_cell_outputs(
        &self,
        id: NotebookId,
        cell: &CellId,
        execution_count: Option<u64>,
        outputs: &[serde_json::Value],
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Deletes a notebook and its outputs; `false` when there was none.
    async fn delete_notebook(&self, id: NotebookId) -> Result<bool, StoreError>;
}

/// Progress: the lab steps each user passed.
#[async_trait]
pub trait ProgressStore: Send + Sync {
    /// Records that `user` passed step `step` (a check cell's id) of lab
    /// `lab`; `false` when it was already recorded (the first pass stays).
    async fn record_step(&self, user: UserId, lab: &str, step: &str, now: Timestamp) -> Result<bool, StoreError>;

    /// The steps `user` has passed, oldest first.
    async fn progress(&self, user: UserId) -> Result<Vec<StepDone>, StoreError>;
}

/// Datasets: the CSV files users upload.
#[async_trait]
pub trait DatasetStore: Send + Sync {
    /// Stores a checked dataset (see `flywheel_domain::dataset`) with its CSV text.
    ///
    /// # Errors
    /// [`StoreError::Conflict`]`("dataset name")` when the owner already has
    /// a dataset of that name (nothing written).
    async fn create_dataset(&self, record: &DatasetRecord, content: &str) -> Result<(), StoreError>;

    /// The dataset with this id, without its content (whoever owns it: callers check).
    async fn dataset(&self, id: DatasetId) -> Result<Option<DatasetRecord>, StoreError>;

    /// `owner`'s datasets, by name, without their content.
    async fn datasets(&self, owner: UserId) -> Result<Vec<DatasetRecord>, StoreError>;

    /// A dataset's CSV text; `None` when there is no such dataset.
    async fn dataset_content(&self, id: DatasetId) -> Result<Option<String>, StoreError>;

    /// Deletes a dataset; `false` when there was none.
    async fn delete_dataset(&self, id: DatasetId) -> Result<bool, StoreError>;
}

/// The training pool's queue: training jobs, what they report while they
/// run, and the artifacts they leave. Every state change is conditional on
/// the state it leaves (see `training.rs`), so concurrent workers and
/// cancels cannot both win.
#[async_trait]
pub trait TrainingStore: Send + Sync {
    /// Stores a job as given (a new one is `pending`) and records its state as its first event.
    async fn create_training_job(&self, job: &TrainingJob) -> Result<(), StoreError>;

    /// The job with this id, if any.
    async fn training_job(&self, id: TrainingJobId) -> Result<Option<TrainingJob>, StoreError>;

    /// Jobs `owner` submitted and, with a team, the team's; oldest first.
    async fn training_jobs_of(&self, owner: UserId, team: Option<TeamId>) -> Result<Vec<TrainingJob>, StoreError>;

    /// Every pending or running job, and those finished at or after `since`
    /// (what scheduling, usage and the pool view read); oldest first.
    async fn training_jobs_since(&self, since: Timestamp) -> Result<Vec<TrainingJob>, StoreError>;

    /// Moves a pending job to `running` on `worker` (attempts + 1). Returns
    /// `false` when it is no longer pending (another worker took it, or it was cancelled).
    async fn claim_training_job(&self, id: TrainingJobId, worker: &str, now: Timestamp) -> Result<bool, StoreError>;

    /// Records that `worker` is still running the job. Returns `false` when
    /// the job is no longer running on it (cancelled or requeued): the worker stops.
    async fn heartbeat_training_job(&self, id: TrainingJobId, worker: &str, now: Timestamp)
    -> Result<bool, StoreError>;

    /// Appends events (log lines, metrics) after the job's last.
    async fn append_job_events(
        &self,
        id: TrainingJobId,
        events: &[(Timestamp, JobEventKind)],
    ) -> Result<(), StoreError>;

    /// The job's events with `seq` greater than `after`, in order.
    async fn job_events(&self, id: TrainingJobId, after: i64) -> Result<Vec<JobEvent>, StoreError>;

    /// Ends `worker`'s attempt: `completed` or `failed` with its metrics and
    /// artifacts, or `pending` to run it again. Returns `false` (and writes
    /// nothing) when the job is no longer running on that worker.
    async fn finish_training_job(
        &self,
        id: TrainingJobId,
        worker: &str,
        outcome: &JobOutcome,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Cancels a pending or running job. Returns `false` when it had already ended.
    async fn cancel_training_job(&self, id: TrainingJobId, reason: &str, now: Timestamp) -> Result<bool, StoreError>;

    /// Running jobs whose heartbeat is older than `stale_before` go back to
    /// `pending`, or to `failed` once they have had `max_attempts`. Returns
    /// the jobs moved and where to.
    async fn requeue_stale_training_jobs(
        &self,
        stale_before: Timestamp,
        max_attempts: u32,
        now: Timestamp,
    ) -> Result<Vec<(TrainingJobId, JobState)>, StoreError>;

    /// Sets a job's priority (higher runs first). Returns `false` for an unknown job.
    async fn set_training_job_priority(&self, id: TrainingJobId, priority: i32) -> Result<bool, StoreError>;

    /// Stores (or replaces) one artifact of a job: a model, or an input a
    /// cell sent (`input/train.csv`).
    async fn put_training_artifact(
        &self,
        id: TrainingJobId,
        artifact: &Artifact,
        content: &str,
    ) -> Result<(), StoreError>;

    /// The job's artifacts, by name.
    async fn training_artifacts(&self, id: TrainingJobId) -> Result<Vec<Artifact>, StoreError>;

    /// One artifact's content.
    async fn training_artifact_content(&self, id: TrainingJobId, name: &str) -> Result<Option<String>, StoreError>;

    /// Stores a new tuning job. Its trials are training jobs whose spec has
    /// `"tuning": {"tuning_job": "<its id>", …}`.
    async fn create_tuning_job(&self, job: &TuningJob) -> Result<(), StoreError>;

    /// The tuning job with this id, if any.
    async fn tuning_job(&self, id: TuningJobId) -> Result<Option<TuningJob>, StoreError>;

    /// Tuning jobs that are pending or running, oldest first.
    async fn active_tuning_jobs(&self) -> Result<Vec<TuningJob>, StoreError>;

    /// Records a tuning job's state, best trial and error (`finished_at` for
    /// the end). Returns `false` (and writes nothing) when it had already ended.
    async fn update_tuning_job(
        &self,
        id: TuningJobId,
        state: JobState,
        best: Option<TrainingJobId>,
        error: Option<&str>,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// A tuning job's trials, oldest first.
    async fn tuning_trials(&self, id: TuningJobId) -> Result<Vec<TrainingJob>, StoreError>;

    /// Sets a team's fair-share weight and daily quota (worker-minutes; 0: the default).
    async fn set_training_share(&self, team: TeamId, weight: u32, quota_minutes: u64) -> Result<(), StoreError>;

    /// Every team's (weight, quota) that was set.
    async fn training_shares(&self) -> Result<Vec<(TeamId, u32, u64)>, StoreError>;
}

/// How a worker's attempt at a job ended (see [`TrainingStore::finish_training_job`]).
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutcome {
    /// `Completed`, `Failed`, or `Pending` to run it again.
    pub state: JobState,
    /// What went wrong, for `Failed`.
    pub error: Option<String>,
    /// The trained model's metrics.
    pub final_metrics: serde_json::Map<String, serde_json::Value>,
    /// Rows it trained on.
    pub rows: u64,
    /// Artifacts with their content (a model's JSON).
    pub artifacts: Vec<(Artifact, String)>,
}

/// Workshops: members, teams, submissions, grades and room accounts.
#[async_trait]
pub trait WorkshopStore: Send + Sync {
    /// Stores a new workshop and makes its owner an instructor member of it.
    ///
    /// # Errors
    /// [`StoreError::Conflict`]`("join code")` when another workshop has the code.
    async fn create_workshop(&self, workshop: &Workshop) -> Result<(), StoreError>;

    /// Replaces a workshop's settings (everything but its id, owner, seed
    /// and creation time); `false` when there is no such workshop.
    ///
    /// # Errors
    /// [`StoreError::Conflict`]`("join code")` as for [`Self::create_workshop`].
    async fn update_workshop(&self, workshop: &Workshop) -> Result<bool, StoreError>;

    /// The workshop with this id (whoever asks: callers check membership).
    async fn workshop(&self, id: WorkshopId) -> Result<Option<Workshop>, StoreError>;

    /// The workshop whose join code this is (expired or not: callers check).
    async fn workshop_by_code(&self, code: &JoinCode) -> Result<Option<Workshop>, StoreError>;

    /// The workshops `user` is a member of, with their role, newest first.
    async fn member_workshops(&self, user: UserId) -> Result<Vec<(Workshop, MemberRole)>, StoreError>;

    /// Every workshop, newest first (for admins).
    async fn all_workshops(&self) -> Result<Vec<Workshop>, StoreError>;

    /// Adds `user` to a workshop; `false` (nothing changed) when already a member.
    async fn add_member(
        &self,
        workshop: WorkshopId,
        user: UserId,
        role: MemberRole,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// A workshop's members, with names and emails, in the order they joined.
    async fn members(&self, workshop: WorkshopId) -> Result<Vec<Member>, StoreError>;

    /// One member of a workshop, if `user` is one.
    async fn member(&self, workshop: WorkshopId, user: UserId) -> Result<Option<Member>, StoreError>;

    /// Stores a new team.
    ///
    /// # Errors
    /// [`StoreError::Conflict`]`("team name")` when the workshop has a team of that name.
    async fn create_team(&self, team: &Team) -> Result<(), StoreError>;

    /// A workshop's teams, by name.
    async fn teams(&self, workshop: WorkshopId) -> Result<Vec<Team>, StoreError>;

    /// The team with this id.
    async fn team(&self, id: TeamId) -> Result<Option<Team>, StoreError>;

    /// Puts a member into `team` (`None`: into no team). With `limit`, only
    /// while the team has fewer other members than that, checked atomically.
    /// `false` (nothing changed) when the team is full or `user` is not a member.
    async fn set_team(
        &self,
        workshop: WorkshopId,
        user: UserId,
        team: Option<TeamId>,
        limit: Option<u32>,
    ) -> Result<bool, StoreError>;

    /// Stores a submission with its content. With an idempotency key that
    /// the team used before, nothing is written and the first submission
    /// made with it comes back; the `bool` says whether this call stored it.
    async fn create_submission(
        &self,
        submission: &Submission,
        content: &str,
        idempotency_key: Option<&str>,
    ) -> Result<(Submission, bool), StoreError>;

    /// The team's submission made with this idempotency key, if any.
    async fn submission_by_key(&self, team: TeamId, key: &str) -> Result<Option<Submission>, StoreError>;

    /// A workshop's submissions, oldest first, without their content.
    async fn submissions(&self, workshop: WorkshopId) -> Result<Vec<Submission>, StoreError>;

    /// One submission with its content.
    async fn submission(&self, id: SubmissionId) -> Result<Option<(Submission, String)>, StoreError>;

    /// How many submissions of `kind` the team made from `since` on.
    async fn count_submissions_since(
        &self,
        team: TeamId,
        kind: SubmissionKind,
        since: Timestamp,
    ) -> Result<u32, StoreError>;

    /// Records that `user` is room account `label` of a workshop (see the
    /// `workshop_accounts` migration).
    ///
    /// # Errors
    /// [`StoreError::Conflict`]`("room account label")` when the workshop has that label.
    async fn add_workshop_account(&self, workshop: WorkshopId, user: UserId, label: &str) -> Result<(), StoreError>;

    /// A workshop's room accounts: label and user id, in label order.
    async fn workshop_accounts(&self, workshop: WorkshopId) -> Result<Vec<(String, UserId)>, StoreError>;

    /// Disables the room accounts of every workshop closed before `now`
    /// that are still active; returns how many.
    async fn disable_ended_workshop_accounts(&self, now: Timestamp) -> Result<u64, StoreError>;

    /// Stores a submission's grade, replacing an earlier one.
    async fn set_grade(&self, grade: &Grade) -> Result<(), StoreError>;

    /// The grades of a workshop's submissions.
    async fn grades(&self, workshop: WorkshopId) -> Result<Vec<Grade>, StoreError>;
}

/// Endpoints: their variants with each model's JSON, and the predictions
/// they captured.
#[async_trait]
pub trait EndpointStore: Send + Sync {
    /// Stores a new endpoint and its variants, `models[i]` being the JSON of
    /// `endpoint.variants[i]`'s model and the last one the shadow's, if any.
    ///
    /// # Errors
    /// [`StoreError::Conflict`]`("endpoint name")` when the name is taken
    /// (nothing written).
    async fn create_endpoint(&self, endpoint: &Endpoint, models: &[String]) -> Result<(), StoreError>;

    /// The endpoint with this name, with its variants (without their models).
    async fn endpoint_by_name(&self, name: &str) -> Result<Option<Endpoint>, StoreError>;

    /// Every endpoint, by name (callers keep those the caller may see).
    async fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError>;

    /// An endpoint's models: variant name and the saved model's JSON, in variant order.
    async fn endpoint_models(&self, id: EndpointId) -> Result<Vec<(String, String)>, StoreError>;

    /// Sets the weights of the named variants (others keep theirs) and
    /// bumps `updated_at`, in one transaction; `false` when there is no such endpoint.
    async fn set_variant_weights(
        &self,
        id: EndpointId,
        weights: &[(String, f64)],
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Deletes an endpoint, its variants and its captures; `false` when there was none.
    async fn delete_endpoint(&self, id: EndpointId) -> Result<bool, StoreError>;

    /// Stores captured predictions, then deletes the endpoint's captures
    /// older than its `keep` newest (`u64::MAX`: deletes nothing; the
    /// pruning reads every capture of the endpoint, so callers prune now and then).
    async fn add_captures(&self, id: EndpointId, captures: &[Capture], keep: u64) -> Result<(), StoreError>;

    /// Records the true class of a captured prediction; `false` when the
    /// endpoint captured no prediction with this id.
    async fn set_ground_truth(&self, id: EndpointId, inference: InferenceId, label: &str) -> Result<bool, StoreError>;

    /// The endpoint's newest captures, at most `limit`, newest first.
    async fn captures(&self, id: EndpointId, limit: u64) -> Result<Vec<Capture>, StoreError>;

    /// How many predictions the endpoint captured at or after `since`.
    async fn captures_since(&self, id: EndpointId, since: Timestamp) -> Result<u64, StoreError>;

    /// Stores invocations the endpoint refused or failed on, then keeps its
    /// newest `keep` (`u64::MAX`: no pruning).
    async fn add_invocation_errors(
        &self,
        id: EndpointId,
        errors: &[InvocationError],
        keep: u64,
    ) -> Result<(), StoreError>;

    /// The endpoint's invocation errors at or after `since`, newest first, at most `limit`.
    async fn invocation_errors(
        &self,
        id: EndpointId,
        since: Timestamp,
        limit: u64,
    ) -> Result<Vec<InvocationError>, StoreError>;

    /// Sets (or, with `None`, ends) the endpoint's human review band and
    /// bumps `updated_at`; `false` when there is no such endpoint.
    async fn set_review(&self, id: EndpointId, band: Option<ReviewBand>, now: Timestamp) -> Result<bool, StoreError>;

    /// The review queue: captures scored in `band` without ground truth, oldest first, at most `limit`.
    async fn review_queue(&self, id: EndpointId, band: ReviewBand, limit: u64) -> Result<Vec<Capture>, StoreError>;

    /// Replaces the endpoint's shadow variant (`None`: removes it) with
    /// `percent` of the requests, and bumps `updated_at`; `false` when there is no such endpoint.
    async fn set_shadow(
        &self,
        id: EndpointId,
        shadow: Option<(&Variant, &str)>,
        percent: u8,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Makes the shadow a production variant with all the traffic (weight
    /// 1, the others 0, kept for a rollback), in one transaction; `false`
    /// when the endpoint has no shadow.
    async fn promote_shadow(&self, id: EndpointId, now: Timestamp) -> Result<bool, StoreError>;

    /// Stores shadow results, then deletes those older than the endpoint's
    /// `keep` newest (`u64::MAX`: deletes nothing).
    async fn add_shadow_results(&self, id: EndpointId, results: &[ShadowResult], keep: u64) -> Result<(), StoreError>;

    /// The newest shadow results, at most `limit`, with the ground truth of
    /// the captured production answer joined.
    async fn shadow_results(&self, id: EndpointId, limit: u64) -> Result<Vec<ShadowResult>, StoreError>;

    /// Appends to the endpoint's audit trail.
    async fn add_endpoint_event(&self, id: EndpointId, event: &EndpointEvent) -> Result<(), StoreError>;

    /// The endpoint's audit trail, oldest first.
    async fn endpoint_events(&self, id: EndpointId) -> Result<Vec<EndpointEvent>, StoreError>;

    /// Sets the rows drift is measured against (`rows`: a JSON array of
    /// rows), replacing any, with where they came from.
    async fn set_baseline(&self, id: EndpointId, source: &str, rows: &str, now: Timestamp) -> Result<(), StoreError>;

    /// The endpoint's baseline: its source, its rows (JSON) and when it was set.
    async fn baseline(&self, id: EndpointId) -> Result<Option<(String, String, Timestamp)>, StoreError>;

    /// Stores a new key of the endpoint under the digest of its secret.
    async fn create_endpoint_key(&self, id: EndpointId, key: &ApiToken, digest: &str) -> Result<(), StoreError>;

    /// The endpoint's keys, newest first, revoked ones included.
    async fn endpoint_keys(&self, id: EndpointId) -> Result<Vec<ApiToken>, StoreError>;

    /// Revokes a key of the endpoint; `false` when it has no such unrevoked key.
    async fn revoke_endpoint_key(&self, id: EndpointId, key: ApiTokenId, now: Timestamp) -> Result<bool, StoreError>;

    /// The endpoint an unrevoked key with this digest opens, recording the
    /// use (to the minute: [`USE_RECORDED_EVERY_MILLIS`]).
    async fn endpoint_of_key(&self, digest: &str, now: Timestamp) -> Result<Option<EndpointId>, StoreError>;

    /// Sets the endpoint's monitor, keeping its state (last check, rollback
    /// weights); the next scheduled check is at `next_at` (none: on demand only).
    async fn set_monitor(
        &self,
        id: EndpointId,
        monitor: &Monitor,
        next_at: Option<Timestamp>,
    ) -> Result<(), StoreError>;

    /// The endpoint's monitor and its state, if it has one.
    async fn monitor(&self, id: EndpointId) -> Result<Option<MonitorState>, StoreError>;

    /// The monitored endpoints whose scheduled check is due at `now`, with the due time.
    async fn due_monitors(&self, now: Timestamp) -> Result<Vec<(EndpointId, Timestamp)>, StoreError>;

    /// Moves a due check from `due` to `next_at`; `false` when another
    /// server did first (so one server runs each scheduled check).
    async fn claim_monitor(&self, id: EndpointId, due: Timestamp, next_at: Timestamp) -> Result<bool, StoreError>;

    /// Records a check's alarms.
    async fn record_check(&self, id: EndpointId, alarms: &[String], at: Timestamp) -> Result<(), StoreError>;

    /// Sets what a rollback restores (the weights before a change), kept
    /// for the endpoint's monitor, set now or later; empty clears it.
    async fn set_rollback_weights(&self, id: EndpointId, weights: &[(String, f64)]) -> Result<(), StoreError>;
}

/// How stale a token's or key's recorded last use may get: a use is
/// written when the one recorded is at least this old (one minute), so
/// that authenticating is a read, not a write, on almost every request.
pub const USE_RECORDED_EVERY_MILLIS: i64 = 60_000;

/// A stored value that does not decode, as an error.
pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// A database URL with any password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((userinfo, host)) = rest.split_once('@') else { return url.to_owned() };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_are_chosen_by_scheme() {
        assert_eq!(Backend::from_url("sqlite://data/f.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::from_url("sqlite::memory:").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::from_url("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert_eq!(Backend::from_url("PostgreSQL://u@h/db").unwrap(), Backend::Postgres);
        let err = Backend::from_url("mysql://u:secret@h/db").unwrap_err().to_string();
        assert!(err.contains("mysql://u:***@h/db") && !err.contains("secret"), "{err}");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://fw:s3cret@db:5432/fw"), "postgres://fw:***@db:5432/fw");
        assert_eq!(redact_url("postgres://fw@db/fw"), "postgres://fw@db/fw");
        assert_eq!(redact_url("sqlite://data/flywheel.db"), "sqlite://data/flywheel.db");
    }
}
