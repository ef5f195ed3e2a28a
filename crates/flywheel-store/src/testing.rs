//! Fault doubles at the storage seam, for tests (the `testing` feature).
//!
//! [`Faulty`] stands in for a [`Database`]: the calls of the [`Area`]s a
//! test names fail as they do when the database is down (a pool time-out),
//! or wait first; every other call goes to the real database inside, so a
//! test overrides only what it needs. [`Faulty::down`] has no database
//! inside: every call fails, `ping` included.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use flywheel_domain::workshop::{Grade, JoinCode, Member, MemberRole, Submission, SubmissionKind, Team, Workshop};
use flywheel_domain::{
    ApiToken, ApiTokenId, Artifact, Capture, CellId, DatasetId, DatasetRecord, Endpoint, EndpointId, InferenceId,
    JobEvent, JobEventKind, JobState, NewUser, Notebook, NotebookId, NotebookRecord, NotebookSummary, StepDone,
    SubmissionId, TeamId, Timestamp, TrainingJob, TrainingJobId, TuningJob, TuningJobId, User, UserId, WorkshopId,
};
use flywheel_domain::{EndpointEvent, InvocationError, Monitor, MonitorState, ReviewBand, ShadowResult, Variant};

use crate::{
    AccountStore, Backend, Database, DatasetStore, EndpointStore, JobOutcome, LoginSessionStore, NotebookStore,
    ProgressStore, StoreError, TrainingStore, WorkshopStore,
};

/// An area of the store: one of the traits [`Database`] is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Area {
    /// [`AccountStore`].
    Accounts,
    /// [`LoginSessionStore`].
    LoginSessions,
    /// [`NotebookStore`].
    Notebooks,
    /// [`ProgressStore`].
    Progress,
    /// [`DatasetStore`].
    Datasets,
    /// [`WorkshopStore`].
    Workshops,
    /// [`TrainingStore`].
    Training,
    /// [`EndpointStore`].
    Endpoints,
}

/// A [`Database`] whose chosen areas fail or are slow (see the module docs).
pub struct Faulty {
    inner: Option<Arc<dyn Database>>,
    failing: Mutex<HashSet<Area>>,
    slow: Mutex<HashMap<Area, Duration>>,
}

/// The error a call gets when its area fails: what a database that does
/// not answer gives.
pub fn down_error() -> StoreError {
    StoreError::Query(sqlx::Error::PoolTimedOut)
}

impl Faulty {
    /// A database that is down: every call fails.
    pub fn down() -> Self {
        Self { inner: None, failing: Mutex::default(), slow: Mutex::default() }
    }

    /// `inner`, with no fault yet.
    pub fn over(inner: Arc<dyn Database>) -> Self {
        Self { inner: Some(inner), failing: Mutex::default(), slow: Mutex::default() }
    }

    /// Makes every call of `area` fail (`true`) or reach the database again (`false`).
    pub fn set_failing(&self, area: Area, failing: bool) {
        let mut set = self.failing.lock().unwrap_or_else(PoisonError::into_inner);
        if failing {
            set.insert(area);
        } else {
            set.remove(&area);
        }
    }

    /// Makes every call of `area` wait `delay` first (`Duration::ZERO`: no wait).
    pub fn set_slow(&self, area: Area, delay: Duration) {
        self.slow.lock().unwrap_or_else(PoisonError::into_inner).insert(area, delay);
    }

    /// The database a call of `area` goes to, after its fault.
    async fn enter(&self, area: Area) -> Result<&dyn Database, StoreError> {
        let delay = self.slow.lock().unwrap_or_else(PoisonError::into_inner).get(&area).copied();
        if let Some(delay) = delay.filter(|d| !d.is_zero()) {
            tokio::time::sleep(delay).await;
        }
        if self.failing.lock().unwrap_or_else(PoisonError::into_inner).contains(&area) {
            return Err(down_error());
        }
        self.inner.as_deref().ok_or_else(down_error)
    }
}

#[async_trait]
impl Database for Faulty {
    fn backend(&self) -> Backend {
        self.inner.as_ref().map_or(Backend::Postgres, |d| d.backend())
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.as_ref().ok_or_else(down_error)?.ping().await
    }
}

#[async_trait]
impl AccountStore for Faulty {
    async fn create_user(&self, user: &NewUser, now: Timestamp) -> Result<User, StoreError> {
        self.enter(Area::Accounts).await?.create_user(user, now).await
    }
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.enter(Area::Accounts).await?.user(id).await
    }
    async fn user_credentials(&self, email_key: &str) -> Result<Option<(User, String)>, StoreError> {
        self.enter(Area::Accounts).await?.user_credentials(email_key).await
    }
    async fn users(&self) -> Result<Vec<User>, StoreError> {
        self.enter(Area::Accounts).await?.users().await
    }
    async fn create_api_token(
        &self,
        user: UserId,
        name: &str,
        digest: &str,
        now: Timestamp,
    ) -> Result<ApiToken, StoreError> {
        self.enter(Area::Accounts).await?.create_api_token(user, name, digest, now).await
    }
    async fn authenticate_api_token(&self, digest: &str, now: Timestamp) -> Result<Option<User>, StoreError> {
        self.enter(Area::Accounts).await?.authenticate_api_token(digest, now).await
    }
    async fn api_tokens(&self, user: UserId) -> Result<Vec<ApiToken>, StoreError> {
        self.enter(Area::Accounts).await?.api_tokens(user).await
    }
    async fn revoke_api_token(&self, user: UserId, id: ApiTokenId, now: Timestamp) -> Result<bool, StoreError> {
        self.enter(Area::Accounts).await?.revoke_api_token(user, id, now).await
    }
}

#[async_trait]
impl LoginSessionStore for Faulty {
    async fn create_session(&self, id: &str, data: &str, expires_at: Timestamp) -> Result<bool, StoreError> {
        self.enter(Area::LoginSessions).await?.create_session(id, data, expires_at).await
    }
    async fn save_session(&self, id: &str, data: &str, expires_at: Timestamp) -> Result<(), StoreError> {
        self.enter(Area::LoginSessions).await?.save_session(id, data, expires_at).await
    }
    async fn load_session(&self, id: &str, now: Timestamp) -> Result<Option<String>, StoreError> {
        self.enter(Area::LoginSessions).await?.load_session(id, now).await
    }
    async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        self.enter(Area::LoginSessions).await?.delete_session(id).await
    }
    async fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.enter(Area::LoginSessions).await?.delete_expired_sessions(now).await
    }
}

#[async_trait]
impl NotebookStore for Faulty {
    async fn create_notebook(
        &self,
        owner: UserId,
        lab: Option<&str>,
        notebook: &Notebook,
        now: Timestamp,
    ) -> Result<NotebookRecord, StoreError> {
        self.enter(Area::Notebooks).await?.create_notebook(owner, lab, notebook, now).await
    }
    async fn notebook(&self, id: NotebookId) -> Result<Option<NotebookRecord>, StoreError> {
        self.enter(Area::Notebooks).await?.notebook(id).await
    }
    async fn lab_notebook(&self, owner: UserId, lab: &str) -> Result<Option<NotebookRecord>, StoreError> {
        self.enter(Area::Notebooks).await?.lab_notebook(owner, lab).await
    }
    async fn notebooks(&self, owner: UserId) -> Result<Vec<NotebookSummary>, StoreError> {
        self.enter(Area::Notebooks).await?.notebooks(owner).await
    }
    async fn team_notebooks(&self, team: TeamId) -> Result<Vec<NotebookSummary>, StoreError> {
        self.enter(Area::Notebooks).await?.team_notebooks(team).await
    }
    async fn set_notebook_team(&self, id: NotebookId, team: Option<TeamId>) -> Result<bool, StoreError> {
        self.enter(Area::Notebooks).await?.set_notebook_team(id, team).await
    }
    async fn update_notebook(
        &self,
        id: NotebookId,
        revision: i64,
        notebook: &Notebook,
        now: Timestamp,
    ) -> Result<Option<NotebookRecord>, StoreError> {
        self.enter(Area::Notebooks).await?.update_notebook(id, revision, notebook, now).await
    }
    async fn replace_notebook(
        &self,
        id: NotebookId,
        notebook: &Notebook,
        now: Timestamp,
    ) -> Result<Option<NotebookRecord>, StoreError> {
        self.enter(Area::Notebooks).await?.replace_notebook(id, notebook, now).await
    }
    async fn set_cell_outputs(
        &self,
        id: NotebookId,
        cell: &CellId,
        execution_count: Option<u64>,
        outputs: &[serde_json::Value],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.enter(Area::Notebooks).await?.set_cell_outputs(id, cell, execution_count, outputs, now).await
    }
    async fn delete_notebook(&self, id: NotebookId) -> Result<bool, StoreError> {
        self.enter(Area::Notebooks).await?.delete_notebook(id).await
    }
}

#[async_trait]
impl ProgressStore for Faulty {
    async fn record_step(&self, user: UserId, lab: &str, step: &str, now: Timestamp) -> Result<bool, StoreError> {
        self.enter(Area::Progress).await?.record_step(user, lab, step, now).await
    }
    async fn progress(&self, user: UserId) -> Result<Vec<StepDone>, StoreError> {
        self.enter(Area::Progress).await?.progress(user).await
    }
}

#[async_trait]
impl DatasetStore for Faulty {
    async fn create_dataset(&self, record: &DatasetRecord, content: &str) -> Result<(), StoreError> {
        self.enter(Area::Datasets).await?.create_dataset(record, content).await
    }
    async fn dataset(&self, id: DatasetId) -> Result<Option<DatasetRecord>, StoreError> {
        self.enter(Area::Datasets).await?.dataset(id).await
    }
    async fn datasets(&self, owner: UserId) -> Result<Vec<DatasetRecord>, StoreError> {
        self.enter(Area::Datasets).await?.datasets(owner).await
    }
    async fn dataset_content(&self, id: DatasetId) -> Result<Option<String>, StoreError> {
        self.enter(Area::Datasets).await?.dataset_content(id).await
    }
    async fn delete_dataset(&self, id: DatasetId) -> Result<bool, StoreError> {
        self.enter(Area::Datasets).await?.delete_dataset(id).await
    }
}

#[async_trait]
impl WorkshopStore for Faulty {
    async fn create_workshop(&self, workshop: &Workshop) -> Result<(), StoreError> {
        self.enter(Area::Workshops).await?.create_workshop(workshop).await
    }
    async fn update_workshop(&self, workshop: &Workshop) -> Result<bool, StoreError> {
        self.enter(Area::Workshops).await?.update_workshop(workshop).await
    }
    async fn workshop(&self, id: WorkshopId) -> Result<Option<Workshop>, StoreError> {
        self.enter(Area::Workshops).await?.workshop(id).await
    }
    async fn workshop_by_code(&self, code: &JoinCode) -> Result<Option<Workshop>, StoreError> {
        self.enter(Area::Workshops).await?.workshop_by_code(code).await
    }
    async fn member_workshops(&self, user: UserId) -> Result<Vec<(Workshop, MemberRole)>, StoreError> {
        self.enter(Area::Workshops).await?.member_workshops(user).await
    }
    async fn all_workshops(&self) -> Result<Vec<Workshop>, StoreError> {
        self.enter(Area::Workshops).await?.all_workshops().await
    }
    async fn add_member(
        &self,
        workshop: WorkshopId,
        user: UserId,
        role: MemberRole,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.enter(Area::Workshops).await?.add_member(workshop, user, role, now).await
    }
    async fn members(&self, workshop: WorkshopId) -> Result<Vec<Member>, StoreError> {
        self.enter(Area::Workshops).await?.members(workshop).await
    }
    async fn member(&self, workshop: WorkshopId, user: UserId) -> Result<Option<Member>, StoreError> {
        self.enter(Area::Workshops).await?.member(workshop, user).await
    }
    async fn create_team(&self, team: &Team) -> Result<(), StoreError> {
        self.enter(Area::Workshops).await?.create_team(team).await
    }
    async fn teams(&self, workshop: WorkshopId) -> Result<Vec<Team>, StoreError> {
        self.enter(Area::Workshops).await?.teams(workshop).await
    }
    async fn team(&self, id: TeamId) -> Result<Option<Team>, StoreError> {
        self.enter(Area::Workshops).await?.team(id).await
    }
    async fn set_team(
        &self,
        workshop: WorkshopId,
        user: UserId,
        team: Option<TeamId>,
        limit: Option<u32>,
    ) -> Result<bool, StoreError> {
        self.enter(Area::Workshops).await?.set_team(workshop, user, team, limit).await
    }
    async fn create_submission(
        &self,
        submission: &Submission,
        content: &str,
        idempotency_key: Option<&str>,
    ) -> Result<(Submission, bool), StoreError> {
        self.enter(Area::Workshops).await?.create_submission(submission, content, idempotency_key).await
    }
    async fn submission_by_key(&self, team: TeamId, key: &str) -> Result<Option<Submission>, StoreError> {
        self.enter(Area::Workshops).await?.submission_by_key(team, key).await
    }
    async fn submissions(&self, workshop: WorkshopId) -> Result<Vec<Submission>, StoreError> {
        self.enter(Area::Workshops).await?.submissions(workshop).await
    }
    async fn submission(&self, id: SubmissionId) -> Result<Option<(Submission, String)>, StoreError> {
        self.enter(Area::Workshops).await?.submission(id).await
    }
    async fn count_submissions_since(
        &self,
        team: TeamId,
        kind: SubmissionKind,
        since: Timestamp,
    ) -> Result<u32, StoreError> {
        self.enter(Area::Workshops).await?.count_submissions_since(team, kind, since).await
    }
    async fn add_workshop_account(&self, workshop: WorkshopId, user: UserId, label: &str) -> Result<(), StoreError> {
        self.enter(Area::Workshops).await?.add_workshop_account(workshop, user, label).await
    }
    async fn workshop_accounts(&self, workshop: WorkshopId) -> Result<Vec<(String, UserId)>, StoreError> {
        self.enter(Area::Workshops).await?.workshop_accounts(workshop).await
    }
    async fn disable_ended_workshop_accounts(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.enter(Area::Workshops).await?.disable_ended_workshop_accounts(now).await
    }
    async fn set_grade(&self, grade: &Grade) -> Result<(), StoreError> {
        self.enter(Area::Workshops).await?.set_grade(grade).await
    }
    async fn grades(&self, workshop: WorkshopId) -> Result<Vec<Grade>, StoreError> {
        self.enter(Area::Workshops).await?.grades(workshop).await
    }
}

#[async_trait]
impl TrainingStore for Faulty {
    async fn create_training_job(&self, job: &TrainingJob) -> Result<(), StoreError> {
        self.enter(Area::Training).await?.create_training_job(job).await
    }
    async fn training_job(&self, id: TrainingJobId) -> Result<Option<TrainingJob>, StoreError> {
        self.enter(Area::Training).await?.training_job(id).await
    }
    async fn training_jobs_of(&self, owner: UserId, team: Option<TeamId>) -> Result<Vec<TrainingJob>, StoreError> {
        self.enter(Area::Training).await?.training_jobs_of(owner, team).await
    }
    async fn training_jobs_since(&self, since: Timestamp) -> Result<Vec<TrainingJob>, StoreError> {
        self.enter(Area::Training).await?.training_jobs_since(since).await
    }
    async fn claim_training_job(&self, id: TrainingJobId, worker: &str, now: Timestamp) -> Result<bool, StoreError> {
        self.enter(Area::Training).await?.claim_training_job(id, worker, now).await
    }
    async fn heartbeat_training_job(
        &self,
        id: TrainingJobId,
        worker: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.enter(Area::Training).await?.heartbeat_training_job(id, worker, now).await
    }
    async fn append_job_events(
        &self,
        id: TrainingJobId,
        events: &[(Timestamp, JobEventKind)],
    ) -> Result<(), StoreError> {
        self.enter(Area::Training).await?.append_job_events(id, events).await
    }
    async fn job_events(&self, id: TrainingJobId, after: i64) -> Result<Vec<JobEvent>, StoreError> {
        self.enter(Area::Training).await?.job_events(id, after).await
    }
    async fn finish_training_job(
        &self,
        id: TrainingJobId,
        worker: &str,
        outcome: &JobOutcome,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.enter(Area::Training).await?.finish_training_job(id, worker, outcome, now).await
    }
    async fn cancel_training_job(&self, id: TrainingJobId, reason: &str, now: Timestamp) -> Result<bool, StoreError> {
        self.enter(Area::Training).await?.cancel_training_job(id, reason, now).await
    }
    async fn requeue_stale_training_jobs(
        &self,
        stale_before: Timestamp,
        max_attempts: u32,
        now: Timestamp,
    ) -> Result<Vec<(TrainingJobId, JobState)>, StoreError> {
        self.enter(Area::Training).await?.requeue_stale_training_jobs(stale_before, max_attempts, now).await
    }
    async fn set_training_job_priority(&self, id: TrainingJobId, priority: i32) -> Result<bool, StoreError> {
        self.enter(Area::Training).await?.set_training_job_priority(id, priority).await
    }
    async fn put_training_artifact(
        &self,
        id: TrainingJobId,
        artifact: &Artifact,
        content: &str,
    ) -> Result<(), StoreError> {
        self.enter(Area::Training).await?.put_training_artifact(id, artifact, content).await
    }
    async fn training_artifacts(&self, id: TrainingJobId) -> Result<Vec<Artifact>, StoreError> {
        self.enter(Area::Training).await?.training_artifacts(id).await
    }
    async fn training_artifact_content(&self, id: TrainingJobId, name: &str) -> Result<Option<String>, StoreError> {
        self.enter(Area::Training).await?.training_artifact_content(id, name).await
    }
    async fn create_tuning_job(&self, job: &TuningJob) -> Result<(), StoreError> {
        self.enter(Area::Training).await?.create_tuning_job(job).await
    }
    async fn tuning_job(&self, id: TuningJobId) -> Result<Option<TuningJob>, StoreError> {
        self.enter(Area::Training).await?.tuning_job(id).await
    }
    async fn active_tuning_jobs(&self) -> Result<Vec<TuningJob>, StoreError> {
        self.enter(Area::Training).await?.active_tuning_jobs().await
    }
    async fn update_tuning_job(
        &self,
        id: TuningJobId,
        state: JobState,
        best: Option<TrainingJobId>,
        error: Option<&str>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.enter(Area::Training).await?.update_tuning_job(id, state, best, error, now).await
    }
    async fn tuning_trials(&self, id: TuningJobId) -> Result<Vec<TrainingJob>, StoreError> {
        self.enter(Area::Training).await?.tuning_trials(id).await
    }
    async fn set_training_share(&self, team: TeamId, weight: u32, quota_minutes: u64) -> Result<(), StoreError> {
        self.enter(Area::Training).await?.set_training_share(team, weight, quota_minutes).await
    }
    async fn training_shares(&self) -> Result<Vec<(TeamId, u32, u64)>, StoreError> {
        self.enter(Area::Training).await?.training_shares().await
    }
}

#[async_trait]
impl EndpointStore for Faulty {
    async fn create_endpoint(&self, endpoint: &Endpoint, models: &[String]) -> Result<(), StoreError> {
        self.enter(Area::Endpoints).await?.create_endpoint(endpoint, models).await
    }
    async fn endpoint_by_name(&self, name: &str) -> Result<Option<Endpoint>, StoreError> {
        self.enter(Area::Endpoints).await?.endpoint_by_name(name).await
    }
    async fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        self.enter(Area::Endpoints).await?.endpoints().await
    }
    async fn endpoint_models(&self, id: EndpointId) -> Result<Vec<(String, String)>, StoreError> {
        self.enter(Area::Endpoints).await?.endpoint_models(id).await
    }
    async fn set_variant_weights(
        &self,
        id: EndpointId,
        weights: &[(String, f64)],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.enter(Area::Endpoints).await?.set_variant_weights(id, weights, now).await
    }
    async fn delete_endpoint(&self, id: EndpointId) -> Result<bool, StoreError> {
        self.enter(Area::Endpoints).await?.delete_endpoint(id).await
    }
    async fn add_captures(&self, id: EndpointId, captures: &[Capture], keep: u64) -> Result<(), StoreError> {
        self.enter(Area::Endpoints).await?.add_captures(id, captures, keep).await
    }
    async fn set_ground_truth(&self, id: EndpointId, inference: InferenceId, label: &str) -> Result<bool, StoreError> {
        self.enter(Area::Endpoints).await?.set_ground_truth(id, inference, label).await
    }
    async fn captures(&self, id: EndpointId, limit: u64) -> Result<Vec<Capture>, StoreError> {
        self.enter(Area::Endpoints).await?.captures(id, limit).await
    }
    async fn captures_since(&self, id: EndpointId, since: Timestamp) -> Result<u64, StoreError> {
        self.enter(Area::Endpoints).await?.captures_since(id, since).await
    }
    async fn add_invocation_errors(
        &self,
        id: EndpointId,
        errors: &[InvocationError],
        keep: u64,
    ) -> Result<(), StoreError> {
        self.enter(Area::Endpoints).await?.add_invocation_errors(id, errors, keep).await
    }
    async fn invocation_errors(
        &self,
        id: EndpointId,
        since: Timestamp,
        limit: u64,
    ) -> Result<Vec<InvocationError>, StoreError> {
        self.enter(Area::Endpoints).await?.invocation_errors(id, since, limit).await
    }
    async fn set_shadow(
        &self,
        id: EndpointId,
        shadow: Option<(&Variant, &str)>,
        percent: u8,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.enter(Area::Endpoints).await?.set_shadow(id, shadow, percent, now).await
    }
    async fn promote_shadow(&self, id: EndpointId, now: Timestamp) -> Result<bool, StoreError> {
        self.enter(Area::Endpoints).await?.promote_shadow(id, now).await
    }
    async fn add_shadow_results(&self, id: EndpointId, results: &[ShadowResult], keep: u64) -> Result<(), StoreError> {
        self.enter(Area::Endpoints).await?.add_shadow_results(id, results, keep).await
    }
    async fn shadow_results(&self, id: EndpointId, limit: u64) -> Result<Vec<ShadowResult>, StoreError> {
        self.enter(Area::Endpoints).await?.shadow_results(id, limit).await
    }
    async fn add_endpoint_event(&self, id: EndpointId, event: &EndpointEvent) -> Result<(), StoreError> {
        self.enter(Area::Endpoints).await?.add_endpoint_event(id, event).await
    }
    async fn endpoint_events(&self, id: EndpointId) -> Result<Vec<EndpointEvent>, StoreError> {
        self.enter(Area::Endpoints).await?.endpoint_events(id).await
    }
    async fn set_baseline(&self, id: EndpointId, source: &str, rows: &str, now: Timestamp) -> Result<(), StoreError> {
        self.enter(Area::Endpoints).await?.set_baseline(id, source, rows, now).await
    }
    async fn baseline(&self, id: EndpointId) -> Result<Option<(String, String, Timestamp)>, StoreError> {
        self.enter(Area::Endpoints).await?.baseline(id).await
    }
    async fn create_endpoint_key(&self, id: EndpointId, key: &ApiToken, digest: &str) -> Result<(), StoreError> {
        self.enter(Area::Endpoints).await?.create_endpoint_key(id, key, digest).await
    }
    async fn endpoint_keys(&self, id: EndpointId) -> Result<Vec<ApiToken>, StoreError> {
        self.enter(Area::Endpoints).await?.endpoint_keys(id).await
    }
    async fn revoke_endpoint_key(&self, id: EndpointId, key: ApiTokenId, now: Timestamp) -> Result<bool, StoreError> {
        self.enter(Area::Endpoints).await?.revoke_endpoint_key(id, key, now).await
    }
    async fn endpoint_of_key(&self, digest: &str, now: Timestamp) -> Result<Option<EndpointId>, StoreError> {
        self.enter(Area::Endpoints).await?.endpoint_of_key(digest, now).await
    }
    async fn set_monitor(
        &self,
        id: EndpointId,
        monitor: &Monitor,
        next_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        self.enter(Area::Endpoints).await?.set_monitor(id, monitor, next_at).await
    }
    async fn monitor(&self, id: EndpointId) -> Result<Option<MonitorState>, StoreError> {
        self.enter(Area::Endpoints).await?.monitor(id).await
    }
    async fn due_monitors(&self, now: Timestamp) -> Result<Vec<(EndpointId, Timestamp)>, StoreError> {
        self.enter(Area::Endpoints).await?.due_monitors(now).await
    }
    async fn claim_monitor(&self, id: EndpointId, due: Timestamp, next_at: Timestamp) -> Result<bool, StoreError> {
        self.enter(Area::Endpoints).await?.claim_monitor(id, due, next_at).await
    }
    async fn record_check(&self, id: EndpointId, alarms: &[String], at: Timestamp) -> Result<(), StoreError> {
        self.enter(Area::Endpoints).await?.record_check(id, alarms, at).await
    }
    async fn set_rollback_weights(&self, id: EndpointId, weights: &[(String, f64)]) -> Result<(), StoreError> {
        self.enter(Area::Endpoints).await?.set_rollback_weights(id, weights).await
    }
    async fn set_review(&self, id: EndpointId, band: Option<ReviewBand>, now: Timestamp) -> Result<bool, StoreError> {
        self.enter(Area::Endpoints).await?.set_review(id, band, now).await
    }
    async fn review_queue(&self, id: EndpointId, band: ReviewBand, limit: u64) -> Result<Vec<Capture>, StoreError> {
        self.enter(Area::Endpoints).await?.review_queue(id, band, limit).await
    }
}
