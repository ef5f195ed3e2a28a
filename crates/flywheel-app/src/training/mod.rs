//! The shared training pool (SageMaker's training jobs, on Flywheel's own
//! queue): a participant submits a built-in algorithm, its hyper-parameters
//! and data channels; workers run it in a process of its own, report each
//! round's metrics and log lines, and leave the model as an artifact.
//!
//! - `mod.rs` — the service: [`submit`], [`visible`], [`jobs_of`],
//!   [`view`], [`cancel`], [`pool`], [`artifact`], and [`TrainingError`].
//! - [`schedule`] — the queue's order (fair share between teams, limits,
//!   priority), each pending job's position, reason and estimated start.
//! - [`worker`] — local workers: claim what the plan gives them, run the job
//!   as `flywheel train-job DIR` in a child process (a panic, an
//!   out-of-memory kill or a cancel ends the child, never the server),
//!   heartbeat, stream its events into the store, store its model.
//! - [`runner`] — the child's side: read the job directory, train with
//!   `flywheel_ml::training`, print events as JSON lines, write the model.
//!
//! Only built-in algorithms run as jobs: no participant code leaves the
//! kernel's sandbox. A job directory holds data and a spec, so running a
//! notebook's own training code later means another runner, not another
//! queue.

pub mod cells;
pub mod remote;
pub mod runner;
pub mod schedule;
pub mod slurm;
pub mod stopping;
pub mod tuning;
pub mod worker;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use flywheel_domain::workshop::MemberRole;
use flywheel_domain::{
    Artifact, DatasetName, JobEvent, JobEventKind, JobState, Role, TeamId, Timestamp, TrainingJob, TrainingJobId, User,
    UserId, WorkshopId,
};
use flywheel_ml::training::TrainingSpec;
use flywheel_store::StoreError;
use serde::{Deserialize, Serialize};

use crate::{App, now};
use schedule::{Limits, Place, Plan};

/// How the pool runs (the server's `training_*` settings).
#[derive(Debug, Clone)]
pub struct TrainingSettings {
    /// Local workers `serve` starts (each runs one job at a time).
    pub local_workers: usize,
    /// The `flywheel` executable a worker runs jobs with (`flywheel
    /// train-job DIR`). Empty: this process's own executable.
    pub worker_program: PathBuf,
    /// Where job directories are made.
    pub work_dir: PathBuf,
    /// Jobs one participant may have running at once.
    pub per_user_running: usize,
    /// Jobs one team may have running at once.
    pub per_team_running: usize,
    /// Worker-minutes (CPU; a GPU minute counts as
    /// [`schedule::GPU_SECOND_WEIGHT`]) a team or a participant without one
    /// may use per UTC day; 0: no quota.
    pub quota_minutes_per_day: u64,
    /// A job's worker is lost when it has not heartbeated for this long.
    pub heartbeat_timeout: Duration,
    /// Attempts before a job whose worker keeps dying is failed.
    pub max_attempts: u32,
    /// A job running longer than this is stopped and failed.
    pub time_limit: Duration,
    /// Hand jobs to Slurm instead of running local workers.
    pub slurm: Option<slurm::SlurmSettings>,
    /// The secret remote workers present (`flywheel worker --token`); empty: none may join.
    pub worker_token: String,
}

/// Why a training-pool operation did not happen. Nothing is written on any of them.
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    /// No such job, or one the caller may not see (the same answer).
    #[error("There is no training job with this id (or it is not yours or your team's).")]
    NotFound,
    /// A dataset the caller may not read, or that does not exist.
    #[error("{0}")]
    NoDataset(String),
    /// The request cannot run: an unknown algorithm or hyper-parameter, a
    /// value out of range, a target column that is not there. The message
    /// names what is valid.
    #[error("{0}")]
    Invalid(String),
    /// Only the job's workshop's instructors may do this.
    #[error("Only the workshop's instructors can do this.")]
    StaffOnly,
    /// The team's (or participant's) worker-minutes for today are spent.
    #[error(
        "Your team has used its {quota_minutes} worker-minutes of training for today; the quota refills at midnight UTC."
    )]
    OverQuota {
        /// The daily quota, in worker-minutes.
        quota_minutes: u64,
        /// Seconds until it refills.
        retry_after: u64,
    },
    /// The job has already ended.
    #[error("This training job has already {0}.")]
    Ended(&'static str),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a participant asks for (`POST /api/v1/training-jobs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// A built-in algorithm's snake_case name.
    pub algorithm: String,
    /// Its hyper-parameters (missing ones take their defaults).
    #[serde(default)]
    pub hyperparameters: serde_json::Map<String, serde_json::Value>,
    /// The data channels.
    pub data: DataChannels,
    /// What it needs.
    #[serde(default)]
    pub resources: Resources,
    /// The token of the cell that submitted it (see [`cells`]); `None` from the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell_token: Option<String>,
    /// The tuning job it is a trial of (see [`tuning`]); `None` from the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning: Option<TrialOf>,
}

/// Which tuning job a training job is a trial of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialOf {
    /// The tuning job's id.
    pub tuning_job: String,
    /// The trial's number, from 0.
    pub trial: usize,
    /// The hyper-parameters the search drew for it.
    pub searched: serde_json::Map<String, serde_json::Value>,
}

/// Where a job's data comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataChannels {
    /// `builtin:<name>` or `dataset:<name>` (one of the caller's datasets).
    pub train: String,
    /// The same, for a validation set (per-round metrics, early stopping).
    #[serde(default)]
    pub validation: Option<String>,
    /// The column to predict (absent for unsupervised algorithms).
    #[serde(default)]
    pub target: Option<String>,
}

/// What a job needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// GPUs (0: any worker).
    #[serde(default)]
    pub gpus: u32,
}

/// A job's data source, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    /// One of [`BUILTIN_DATASETS`].
    Builtin(String),
    /// One of the owner's datasets, by name.
    Dataset(DatasetName),
    /// A table a notebook cell sent with the job (`cell:train.csv`), kept
    /// as the job's artifact `input/<name>`.
    Cell(String),
}

/// The built-in tables a job may train on, by name.
pub const BUILTIN_DATASETS: [&str; 4] = ["german_credit", "credit_card_fraud", "ai4i_2020", "sensor_network"];

impl DataSource {
    /// Reads `builtin:<name>` or `dataset:<name>`.
    ///
    /// # Errors
    /// [`TrainingError::Invalid`] for any other form; [`TrainingError::NoDataset`] for an unknown built-in.
    pub fn parse(text: &str) -> Result<Self, TrainingError> {
        match text.split_once(':') {
            Some(("builtin", name)) if BUILTIN_DATASETS.contains(&name) => Ok(Self::Builtin(name.to_owned())),
            Some(("builtin", name)) => Err(TrainingError::NoDataset(format!(
                "There is no built-in dataset {name:?}; the built-in ones are {}.",
                BUILTIN_DATASETS.join(", ")
            ))),
            Some(("cell", name)) if ["train.csv", "validation.csv"].contains(&name) => Ok(Self::Cell(name.to_owned())),
            Some(("dataset", name)) => DatasetName::parse(name)
                .map(Self::Dataset)
                .map_err(|_| TrainingError::NoDataset(format!("You have no dataset named {name:?}."))),
            _ => Err(TrainingError::Invalid(format!(
                "A data channel is `builtin:<name>` or `dataset:<name>`, not {text:?}."
            ))),
        }
    }

    /// The table itself (a built-in one; a dataset's is read from the store).
    pub fn builtin_table(name: &str) -> Option<flywheel_ml::Table> {
        use flywheel_ml::datasets;
        Some(match name {
            "german_credit" => datasets::german_credit(),
            "credit_card_fraud" => datasets::credit_card_fraud(),
            "ai4i_2020" => datasets::ai4i_2020(),
            "sensor_network" => datasets::sensor_network(),
            _ => return None,
        })
    }

    /// A built-in table's column names, read once per process.
    fn builtin_columns(name: &str) -> Vec<String> {
        use flywheel_ml::datasets;
        static COLUMNS: std::sync::OnceLock<HashMap<&'static str, Vec<String>>> = std::sync::OnceLock::new();
        let all = COLUMNS.get_or_init(|| {
            BUILTIN_DATASETS
                .iter()
                .map(|&name| {
                    // The generators' column names, from a few rows rather than the full draw.
                    let small = match name {
                        "credit_card_fraud" => datasets::credit_card_fraud_with(10, 1).ok(),
                        "ai4i_2020" => datasets::ai4i_2020_with(10, 1).ok(),
                        other => Self::builtin_table(other),
                    };
                    (name, small.map(|t| t.column_names()).unwrap_or_default())
                })
                .collect()
        });
        all.get(name).cloned().unwrap_or_default()
    }
}

/// A job as people see it: where it is, and what it has reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobView {
    /// The stored job.
    pub job: TrainingJob,
    /// Its place in the queue, while pending.
    pub place: Option<Place>,
    /// Metric name → one value per round, in order.
    pub metrics: BTreeMap<String, Vec<f64>>,
    /// Rounds done and planned, from the last metrics event.
    pub progress: Option<(u64, u64)>,
    /// The last log lines (at most [`LOG_LINES_SHOWN`]).
    pub log: Vec<String>,
    /// Its artifacts.
    pub artifacts: Vec<Artifact>,
}

/// Log lines a [`JobView`] carries.
pub const LOG_LINES_SHOWN: usize = 50;

/// The whole pool, for its page and `GET /api/v1/pool`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolView {
    /// The workers.
    pub workers: Vec<WorkerView>,
    /// Pending jobs (those the caller may see count; all are counted).
    pub queue_length: usize,
    /// Running jobs.
    pub running: usize,
    /// Today's usage per account (team, or participant without one).
    pub usage: Vec<Usage>,
    /// The daily quota per account, in worker-minutes (0: none).
    pub quota_minutes_per_day: u64,
}

/// A worker on the pool page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkerView {
    /// Its name.
    pub name: String,
    /// CPU cores it may use.
    pub cpus: usize,
    /// GPUs it has.
    pub gpus: u32,
    /// The job it runs, if any.
    pub job: Option<TrainingJobId>,
}

/// One account's usage today.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    /// The team, when the jobs were a team's.
    pub team: Option<TeamId>,
    /// The team's name (or the participant's id without one).
    pub name: String,
    /// Worker-minutes used today.
    pub minutes: f64,
    /// Jobs run or running today.
    pub jobs: usize,
    /// Its share (weight 1 and the default quota when never set).
    pub share: Share,
}

/// The start of `now`'s UTC day.
fn day_start(now: Timestamp) -> Timestamp {
    Timestamp(now.millis() - now.millis().rem_euclid(86_400_000))
}

/// The workshop and team a new job of `user` counts against: the workshop
/// named, else their most recent one as a participant ([`context_of`]).
async fn job_context(
    app: &App,
    user: &User,
    workshop: Option<WorkshopId>,
) -> Result<(Option<WorkshopId>, Option<TeamId>), TrainingError> {
    let Some(w) = workshop else { return Ok(context_of(app, user).await?) };
    if !app.db.member_workshops(user.id).await?.iter().any(|(ws, _)| ws.id == w) {
        return Err(TrainingError::Invalid(
            "You are not in that workshop; leave `workshop` out to use your own.".into(),
        ));
    }
    Ok((Some(w), app.db.member(w, user.id).await?.and_then(|m| m.team)))
}

/// The workshop and team what `user` makes (a training job, an endpoint)
/// belongs to: their most recent workshop as a participant and their team
/// in it; none outside workshops.
pub(crate) async fn context_of(app: &App, user: &User) -> Result<(Option<WorkshopId>, Option<TeamId>), StoreError> {
    let mine = app.db.member_workshops(user.id).await?;
    let latest = mine.iter().filter(|(_, role)| *role == MemberRole::Participant).max_by_key(|(ws, _)| ws.created_at);
    let Some((ws, _)) = latest else { return Ok((None, None)) };
    let team = app.db.member(ws.id, user.id).await?.and_then(|m| m.team);
    Ok((Some(ws.id), team))
}

/// Checks a request against the algorithm library and the caller's data.
async fn check_request(
    app: &App,
    user: &User,
    req: &JobRequest,
    inputs: &[(String, String)],
) -> Result<Vec<DataSource>, TrainingError> {
    let spec = TrainingSpec {
        algorithm: req.algorithm.clone(),
        hyperparameters: req.hyperparameters.clone(),
        target: req.data.target.clone(),
    };
    spec.validate().map_err(|e| TrainingError::Invalid(ml_message(&e)))?;
    let mut sources = vec![DataSource::parse(&req.data.train)?];
    if let Some(v) = &req.data.validation {
        sources.push(DataSource::parse(v)?);
    }
    for source in &sources {
        let columns = match source {
            DataSource::Builtin(name) => DataSource::builtin_columns(name),
            DataSource::Dataset(name) => {
                own_dataset(app, user, name).await?.columns.into_iter().map(|c| c.name).collect()
            }
            DataSource::Cell(name) => {
                let (_, csv) = inputs.iter().find(|(n, _)| n == name).ok_or_else(|| {
                    TrainingError::Invalid("`cell:` data comes only with a job a notebook cell submits".into())
                })?;
                header(csv)?
            }
        };
        if let Some(target) = &req.data.target
            && !columns.iter().any(|c| c == target)
        {
            return Err(TrainingError::Invalid(format!(
                "There is no column {target:?} to predict in {}; its columns are {}.",
                source.label(),
                columns.join(", ")
            )));
        }
    }
    Ok(sources)
}

impl DataSource {
    /// `builtin:<name>` or `dataset:<name>`, as written.
    pub fn label(&self) -> String {
        match self {
            DataSource::Builtin(n) => format!("builtin:{n}"),
            DataSource::Dataset(n) => format!("dataset:{}", n.as_str()),
            DataSource::Cell(n) => format!("the cell's {n}"),
        }
    }
}

/// The column names of a CSV text's header.
fn header(csv: &str) -> Result<Vec<String>, TrainingError> {
    let mut reader = ::csv::ReaderBuilder::new().from_reader(csv.as_bytes());
    let names = reader.headers().map_err(|e| TrainingError::Invalid(format!("the data is not CSV: {e}")))?;
    Ok(names.iter().map(str::to_owned).collect())
}

/// `user`'s dataset of this name (others' are not found, alike).
async fn own_dataset(
    app: &App,
    user: &User,
    name: &DatasetName,
) -> Result<flywheel_domain::DatasetRecord, TrainingError> {
    app.db
        .datasets(user.id)
        .await?
        .into_iter()
        .find(|d| &d.name == name)
        .ok_or_else(|| TrainingError::NoDataset(format!("You have no dataset named {:?}.", name.as_str())))
}

/// An `MlError`'s message without its category prefix.
fn ml_message(e: &flywheel_ml::MlError) -> String {
    match e {
        flywheel_ml::MlError::InvalidParams(m) | flywheel_ml::MlError::InvalidData(m) => m.clone(),
        other => other.to_string(),
    }
}

/// Queues a job for `user` (in `workshop`, or their latest one).
///
/// # Errors
/// [`TrainingError::Invalid`] (unknown algorithm, hyper-parameter, value,
/// target column; the message names the valid ones), [`TrainingError::NoDataset`],
/// [`TrainingError::OverQuota`], storage.
pub async fn submit(
    app: &App,
    user: &User,
    workshop: Option<WorkshopId>,
    req: &JobRequest,
) -> Result<JobView, TrainingError> {
    submit_checked(app, user, workshop, req, Vec::new()).await
}

/// [`submit`] with the tables a cell sent (`(file name, CSV)`), stored as the job's inputs.
pub(crate) async fn submit_checked(
    app: &App,
    user: &User,
    workshop: Option<WorkshopId>,
    req: &JobRequest,
    inputs: Vec<(String, String)>,
) -> Result<JobView, TrainingError> {
    check_request(app, user, req, &inputs).await?;
    let (workshop, team) = job_context(app, user, workshop).await?;
    let now = now();
    let quota_minutes = match team {
        Some(t) => shares(app).await?.get(&t).map_or(0, |s| s.quota_minutes),
        None => 0,
    };
    let quota_minutes = if quota_minutes > 0 { quota_minutes } else { app.settings.training.quota_minutes_per_day };
    if quota_minutes > 0 {
        let today = app.db.training_jobs_since(day_start(now)).await?;
        let used: f64 = today
            .iter()
            .filter(|j| if team.is_some() { j.team == team } else { j.owner == user.id && j.team.is_none() })
            .filter(|j| j.started_at.is_some_and(|s| s >= day_start(now)))
            .map(|j| schedule::usage_seconds(j, now))
            .sum();
        #[expect(clippy::cast_precision_loss, reason = "a quota in minutes is far below 2^52")]
        let quota_secs = quota_minutes as f64 * 60.0;
        if used >= quota_secs {
            let retry_after = u64::try_from((day_start(now).millis() + 86_400_000 - now.millis()) / 1000).unwrap_or(0);
            return Err(TrainingError::OverQuota { quota_minutes, retry_after });
        }
    }
    let job = TrainingJob {
        id: TrainingJobId(uuid::Uuid::new_v4()),
        owner: user.id,
        workshop,
        team,
        algorithm: req.algorithm.clone(),
        spec: serde_json::to_value(req).expect("a job request serialises"),
        gpus: req.resources.gpus,
        priority: 0,
        state: JobState::Pending,
        attempts: 0,
        worker: None,
        error: None,
        final_metrics: serde_json::Map::new(),
        rows: None,
        created_at: now,
        started_at: None,
        finished_at: None,
        heartbeat_at: None,
    };
    app.db.create_training_job(&job).await?;
    for (name, csv) in inputs {
        let artifact =
            Artifact { name: format!("{INPUT_PREFIX}{name}"), kind: "text/csv".into(), size_bytes: csv.len() as u64 };
        app.db.put_training_artifact(job.id, &artifact, &csv).await?;
    }
    cells::publish(app, &job);
    app.training.wake();
    view(app, job).await
}

/// Artifacts named so are a job's inputs, not its results.
pub const INPUT_PREFIX: &str = "input/";

/// A job's result artifacts (its inputs left out).
async fn results(app: &App, id: TrainingJobId) -> Result<Vec<Artifact>, TrainingError> {
    let all = app.db.training_artifacts(id).await?;
    Ok(all.into_iter().filter(|a| !a.name.starts_with(INPUT_PREFIX)).collect())
}

/// Whether `user` may see a job (training or tuning) of `owner`, shared
/// with `team` in `workshop`: its owner, its team's members, its workshop's
/// instructors, admins. Endpoints follow the same rule.
pub(crate) async fn may_see(
    app: &App,
    user: &User,
    owner: UserId,
    workshop: Option<WorkshopId>,
    team: Option<TeamId>,
) -> Result<bool, StoreError> {
    if owner == user.id || user.role == Role::Admin {
        return Ok(true);
    }
    let Some(workshop) = workshop else { return Ok(false) };
    let member = app.db.member(workshop, user.id).await?;
    Ok(member.is_some_and(|m| m.role == MemberRole::Instructor || (team.is_some() && m.team == team)))
}

/// Whether `user` runs `job`'s workshop (or is an admin).
async fn is_staff(app: &App, user: &User, job: &TrainingJob) -> Result<bool, TrainingError> {
    if user.role == Role::Admin {
        return Ok(true);
    }
    let Some(workshop) = job.workshop else { return Ok(false) };
    Ok(app.db.member(workshop, user.id).await?.is_some_and(|m| m.role == MemberRole::Instructor))
}

/// The job `id` if `user` may see it.
///
/// # Errors
/// [`TrainingError::NotFound`] for a job that does not exist or is another team's.
pub async fn visible(app: &App, user: &User, id: TrainingJobId) -> Result<TrainingJob, TrainingError> {
    let job = app.db.training_job(id).await?.ok_or(TrainingError::NotFound)?;
    if may_see(app, user, job.owner, job.workshop, job.team).await? { Ok(job) } else { Err(TrainingError::NotFound) }
}

/// A team's share of the pool, as its instructors set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Share {
    /// Fair-share weight (1 when never set): a team of weight 2 gets twice the worker time of one of weight 1.
    pub weight: u32,
    /// Worker-minutes per UTC day; 0: the server's `quota_minutes_per_day`.
    pub quota_minutes: u64,
}

/// Largest fair-share weight.
pub const MAX_WEIGHT: u32 = 100;

async fn shares(app: &App) -> Result<HashMap<TeamId, Share>, TrainingError> {
    let all = app.db.training_shares().await?;
    Ok(all.into_iter().map(|(t, weight, quota_minutes)| (t, Share { weight, quota_minutes })).collect())
}

/// Sets a team's share of the pool (its workshop's instructors).
///
/// # Errors
/// [`TrainingError::StaffOnly`] for others; [`TrainingError::Invalid`] for a
/// weight outside 1–[`MAX_WEIGHT`] or a quota over a day's minutes × 100; storage.
pub async fn set_share(
    app: &App,
    viewer: &crate::workshops::Viewer,
    team: TeamId,
    share: Share,
) -> Result<(), TrainingError> {
    if !viewer.staff {
        return Err(TrainingError::StaffOnly);
    }
    if share.weight == 0 || share.weight > MAX_WEIGHT {
        return Err(TrainingError::Invalid(format!("weight must be 1 to {MAX_WEIGHT}, not {}", share.weight)));
    }
    if share.quota_minutes > 144_000 {
        return Err(TrainingError::Invalid("quota_minutes_per_day must be at most 144000 (0: the default)".into()));
    }
    app.db.set_training_share(team, share.weight, share.quota_minutes).await?;
    app.training.wake();
    Ok(())
}

/// The current plan over today's jobs.
async fn current_plan(app: &App, now: Timestamp) -> Result<(Plan, Vec<TrainingJob>), TrainingError> {
    let jobs = app.db.training_jobs_since(day_start(now)).await?;
    let settings = &app.settings.training;
    let limits = Limits { per_user_running: settings.per_user_running, per_team_running: settings.per_team_running };
    let expected = expected_durations(&jobs, now);
    let weights: HashMap<TeamId, f64> = shares(app).await?.into_iter().map(|(t, s)| (t, f64::from(s.weight))).collect();
    let plan = schedule::plan(
        &jobs,
        &app.training.slots(),
        &limits,
        &weights,
        &|j| expected.get(&j.algorithm).copied().unwrap_or(DEFAULT_EXPECTED_SECS),
        now,
    );
    Ok((plan, jobs))
}

/// A job's expected run time when none of its algorithm has finished today.
pub const DEFAULT_EXPECTED_SECS: f64 = 30.0;

/// Mean run time of each algorithm's completed jobs among `jobs`.
fn expected_durations(jobs: &[TrainingJob], now: Timestamp) -> HashMap<String, f64> {
    let mut sums: HashMap<String, (f64, f64)> = HashMap::new();
    for j in jobs.iter().filter(|j| j.state == JobState::Completed) {
        let e = sums.entry(j.algorithm.clone()).or_default();
        e.0 += j.run_seconds(now);
        e.1 += 1.0;
    }
    sums.into_iter().map(|(k, (s, n))| (k, s / n)).collect()
}

/// What people see of `job`: its place, metrics, log and artifacts.
///
/// # Errors
/// Storage.
pub async fn view(app: &App, mut job: TrainingJob) -> Result<JobView, TrainingError> {
    let (plan, jobs) = current_plan(app, now()).await?;
    // The plan is read after `job`: it may have moved on since.
    if let Some(newer) = jobs.into_iter().find(|j| j.id == job.id) {
        job = newer;
    }
    view_in(app, job, &plan).await
}

/// [`view`] with the plan already made.
async fn view_in(app: &App, job: TrainingJob, plan: &Plan) -> Result<JobView, TrainingError> {
    let place = plan.queue.iter().find(|p| p.id == job.id).cloned();
    let events = app.db.job_events(job.id, 0).await?;
    let (metrics, progress, log) = summarise(&events);
    let artifacts = results(app, job.id).await?;
    Ok(JobView { job, place, metrics, progress, log, artifacts })
}

type Summary = (BTreeMap<String, Vec<f64>>, Option<(u64, u64)>, Vec<String>);

/// Curves, progress and the log's tail from a job's events.
pub fn summarise(events: &[JobEvent]) -> Summary {
    let mut metrics: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    // The round of each value in the curves.
    let mut rounds: Vec<u64> = Vec::new();
    let mut progress = None;
    let mut log = Vec::new();
    for e in events {
        match &e.kind {
            JobEventKind::Metrics { round, of, values } => {
                progress = Some((*round, *of));
                // A later attempt reports again the rounds it redoes (all of
                // them without a checkpoint): its values replace the earlier ones.
                let kept = rounds.iter().take_while(|r| *r < round).count();
                if kept < rounds.len() {
                    rounds.truncate(kept);
                    metrics.values_mut().for_each(|curve| curve.truncate(kept));
                }
                rounds.push(*round);
                for (name, v) in values {
                    if let Some(v) = v.as_f64() {
                        metrics.entry(name.clone()).or_default().push(v);
                    }
                }
            }
            JobEventKind::Checkpoint { .. } => {} // shown as the `checkpoint.json` artifact
            JobEventKind::Log { line } => log.push(line.clone()),
            JobEventKind::State { state } => log.push(format!("[{}]", state.as_str())),
        }
    }
    let skip = log.len().saturating_sub(LOG_LINES_SHOWN);
    (metrics, progress, log.split_off(skip))
}

/// The jobs `user` submitted and their team's (in their latest workshop), newest first.
///
/// # Errors
/// Storage.
pub async fn jobs_of(app: &App, user: &User) -> Result<Vec<JobView>, TrainingError> {
    let (_, team) = job_context(app, user, None).await?;
    let mut jobs = app.db.training_jobs_of(user.id, team).await?;
    jobs.reverse();
    let now = now();
    let (plan, _) = current_plan(app, now).await?;
    let mut views = Vec::with_capacity(jobs.len());
    for job in jobs {
        views.push(view_in(app, job, &plan).await?);
    }
    Ok(views)
}

/// Cancels a pending or running job: its owner, a team member or an instructor of its workshop.
/// A running job's worker stops it at its next heartbeat (within a second).
///
/// # Errors
/// [`TrainingError::NotFound`], [`TrainingError::Ended`], storage.
pub async fn cancel(app: &App, user: &User, id: TrainingJobId) -> Result<TrainingJob, TrainingError> {
    let job = visible(app, user, id).await?;
    let reason = if job.owner == user.id {
        "cancelled by its owner".to_owned()
    } else {
        format!("cancelled by {}", user.name.as_str())
    };
    if !app.db.cancel_training_job(id, &reason, now()).await? {
        let ended = app.db.training_job(id).await?.ok_or(TrainingError::NotFound)?;
        return Err(TrainingError::Ended(match ended.state {
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            _ => "been cancelled",
        }));
    }
    app.training.wake();
    let job = app.db.training_job(id).await?.ok_or(TrainingError::NotFound)?;
    cells::publish(app, &job);
    Ok(job)
}

/// Today's jobs (waiting, running, or finished today) of the workshops
/// `user` runs, oldest first: an instructor's view of the queue. Admins see
/// every workshop's.
///
/// # Errors
/// Storage.
pub async fn staff_queue(app: &App, user: &User) -> Result<Vec<JobView>, TrainingError> {
    let staff: Vec<WorkshopId> = app
        .db
        .member_workshops(user.id)
        .await?
        .into_iter()
        .filter(|(_, role)| *role == MemberRole::Instructor)
        .map(|(w, _)| w.id)
        .collect();
    if staff.is_empty() && user.role != Role::Admin {
        return Ok(Vec::new());
    }
    let now = now();
    let (plan, jobs) = current_plan(app, now).await?;
    let mut views = Vec::new();
    for job in jobs {
        if job.workshop.is_some_and(|w| staff.contains(&w)) || user.role == Role::Admin {
            views.push(view_in(app, job, &plan).await?);
        }
    }
    Ok(views)
}

/// Sets a job's priority (its workshop's instructors).
///
/// # Errors
/// [`TrainingError::NotFound`], [`TrainingError::StaffOnly`], storage.
pub async fn set_priority(app: &App, user: &User, id: TrainingJobId, priority: i32) -> Result<(), TrainingError> {
    let job = visible(app, user, id).await?;
    if !is_staff(app, user, &job).await? {
        return Err(TrainingError::StaffOnly);
    }
    app.db.set_training_job_priority(id, priority).await?;
    app.training.wake();
    Ok(())
}

/// One artifact of a job `user` may see, with its content.
///
/// # Errors
/// [`TrainingError::NotFound`] for an unknown job or artifact, storage.
pub async fn artifact(
    app: &App,
    user: &User,
    id: TrainingJobId,
    name: &str,
) -> Result<(Artifact, String), TrainingError> {
    visible(app, user, id).await?;
    let artifact = results(app, id).await?.into_iter().find(|a| a.name == name);
    let content = app.db.training_artifact_content(id, name).await?;
    artifact.zip(content).ok_or(TrainingError::NotFound)
}

/// The pool: workers, queue, today's usage per account.
///
/// # Errors
/// Storage.
pub async fn pool(app: &App) -> Result<PoolView, TrainingError> {
    let now = now();
    let (plan, jobs) = current_plan(app, now).await?;
    let mut usage: BTreeMap<String, Usage> = BTreeMap::new();
    for j in jobs.iter().filter(|j| j.started_at.is_some()) {
        let key = j.team.map_or_else(|| j.owner.to_string(), |t| t.to_string());
        let share = Share { weight: 1, quota_minutes: app.settings.training.quota_minutes_per_day };
        let u = usage.entry(key.clone()).or_insert(Usage { team: j.team, name: key, minutes: 0.0, jobs: 0, share });
        u.minutes += schedule::usage_seconds(j, now) / 60.0;
        u.jobs += 1;
    }
    let set = shares(app).await?;
    for u in usage.values_mut() {
        if let Some(team) = u.team
            && let Some(t) = app.db.team(team).await?
        {
            u.name = t.name;
            if let Some(s) = set.get(&team) {
                u.share.weight = s.weight;
                if s.quota_minutes > 0 {
                    u.share.quota_minutes = s.quota_minutes;
                }
            }
        }
    }
    Ok(PoolView {
        workers: app.training.workers(),
        queue_length: plan.queue.len(),
        running: jobs.iter().filter(|j| j.state == JobState::Running).count(),
        usage: usage.into_values().collect(),
        quota_minutes_per_day: app.settings.training.quota_minutes_per_day,
    })
}

/// The file a completed job's model has in its owner's kernel sessions:
/// `data/model-<first 8 characters of the job id>.json`.
pub fn model_file_name(id: TrainingJobId) -> String {
    format!("model-{}.json", id.to_string().get(..8).unwrap_or_default())
}

/// Readies a new kernel session for the training pool: the models of
/// `user`'s completed jobs (and their team's) go into its `data/` folder as
/// [`model_file_name`], the status of their cell-submitted jobs as
/// [`cells::status_file_name`], and cells that submit jobs are watched
/// ([`cells::watch`]). A storage failure is logged (the cell that loads a
/// model then says it is missing).
pub async fn attach(app: &App, user: &User, session: &std::sync::Arc<flywheel_kernel_manager::KernelSession>) {
    cells::watch(app, user, session);
    let jobs = match job_context(app, user, None).await {
        Ok((_, team)) => app.db.training_jobs_of(user.id, team).await,
        Err(e) => return tracing::error!(user = %user.id, error = %e, "could not find a user's team for a session"),
    };
    let jobs = match jobs {
        Ok(j) => j,
        Err(e) => return tracing::error!(user = %user.id, error = %e, "could not list training jobs for a session"),
    };
    for job in &jobs {
        if let Some(token) = cells::token_of(job).filter(|_| job.owner == user.id) {
            session.put_file(&cells::status_file_name(token), std::sync::Arc::from(cells::status_json(job)));
        }
        if job.state != JobState::Completed {
            continue;
        }
        match app.db.training_artifact_content(job.id, runner::MODEL_FILE).await {
            Ok(Some(content)) => session.put_file(&model_file_name(job.id), std::sync::Arc::from(content)),
            Ok(None) => {}
            Err(e) => tracing::error!(job = %job.id, error = %e, "could not read a model for a session"),
        }
    }
}

pub use worker::Pool;

#[cfg(test)]
mod tests {
    use flywheel_domain::{JobEvent, JobEventKind, Timestamp};

    fn metrics(round: u64, of: u64, loss: f64) -> JobEventKind {
        let values = serde_json::Map::from_iter([("loss".to_owned(), serde_json::json!(loss))]);
        JobEventKind::Metrics { round, of, values }
    }

    fn summarise(kinds: Vec<JobEventKind>) -> Vec<f64> {
        let events: Vec<JobEvent> =
            (1..).zip(kinds).map(|(seq, kind)| JobEvent { seq, at: Timestamp(0), kind }).collect();
        super::summarise(&events).0.remove("loss").unwrap_or_default()
    }

    #[test]
    fn a_later_attempts_rounds_replace_those_it_redoes() {
        // Started again from the beginning: only the second attempt's values.
        let restarted = vec![metrics(1, 3, 0.9), metrics(2, 3, 0.8), metrics(1, 3, 0.7), metrics(2, 3, 0.6)];
        assert_eq!(summarise(restarted), [0.7, 0.6]);
        // Resumed from a checkpoint after round 4 (rounds counted in runs, 2 at a time);
        // the checkpoint itself is no curve value.
        let checkpoint = JobEventKind::Checkpoint { round: 4, of: 8 };
        let resumed = vec![metrics(2, 8, 5.0), metrics(4, 8, 4.0), checkpoint, metrics(6, 8, 3.5), metrics(6, 8, 3.0)];
        assert_eq!(summarise(resumed), [5.0, 4.0, 3.0]);
    }
}
