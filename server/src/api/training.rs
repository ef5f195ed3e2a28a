//! `/api/v1/training-jobs` and `/api/v1/pool`: the shared training pool.
//! A job is a built-in algorithm, its hyper-parameters and data channels;
//! it queues, runs on a worker, streams its metrics and log, and leaves its
//! model as an artifact. Another team's job is 404 everywhere.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use flywheel_app::training::{self, DataChannels, JobRequest, JobView, PoolView, Resources, tuning};
use flywheel_domain::{JobState, TrainingJobId, TuningJobId, WorkshopId};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::api::ApiJson;
use crate::auth::extract::{ApiUser, PathId, WorkshopStaff};
use crate::error::{AppError, ErrorBody};
use crate::state::AppState;

/// A training job to queue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainingJobRequest {
    /// A built-in algorithm (see `GET /api/v1/training-algorithms`).
    #[schema(example = "gradient_boosted_trees")]
    pub algorithm: String,
    /// Its hyper-parameters; missing ones take their defaults.
    #[serde(default)]
    #[schema(value_type = Object, example = json!({"iterations": 300, "learning_rate": 0.1}))]
    pub hyperparameters: serde_json::Map<String, serde_json::Value>,
    /// The data channels.
    pub data: DataBody,
    /// What it needs.
    #[serde(default)]
    pub resources: ResourcesBody,
    /// The workshop it counts against (default: the caller's latest as a participant).
    #[serde(default)]
    pub workshop: Option<String>,
}

/// Data channels: `builtin:<name>` (german_credit, credit_card_fraud, ai4i_2020, sensor_network)
/// or `dataset:<name>` (one of the caller's datasets).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataBody {
    /// Training data.
    #[schema(example = "builtin:german_credit")]
    pub train: String,
    /// Validation data: per-round metrics and early stopping.
    #[serde(default)]
    pub validation: Option<String>,
    /// The column to predict (absent for k-means, PCA, random cut forest).
    #[serde(default)]
    #[schema(example = "creditability")]
    pub target: Option<String>,
}

/// What a job needs.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourcesBody {
    /// GPUs (0: any worker).
    #[serde(default)]
    pub gpus: u32,
}

/// An artifact a job left.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactBody {
    /// File name.
    #[schema(example = "model.json")]
    pub name: String,
    /// What it holds: the saved model's type.
    #[schema(example = "GradientBoostedTreesModel")]
    pub kind: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Where to download it.
    pub url: String,
}

/// A training job.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrainingJobBody {
    /// Its id.
    pub id: String,
    /// `pending`, `running`, `completed`, `failed` or `cancelled`.
    #[schema(example = "pending")]
    pub state: String,
    /// Place in the queue while pending (1: next to start).
    pub position: Option<usize>,
    /// Why it waits, in Slurm's words: `Priority`, `Resources`,
    /// `ReqNodeNotAvail` (no GPU worker), `QOSMaxJobsPerUserLimit`, `AssocGrpJobsLimit`.
    pub reason: Option<String>,
    /// The reason in words.
    pub reason_text: Option<String>,
    /// Seconds until it is expected to start (from recent run times of its algorithm).
    pub estimated_start_secs: Option<f64>,
    /// The algorithm.
    pub algorithm: String,
    /// The request as submitted (hyperparameters, data, resources).
    #[schema(value_type = Object)]
    pub spec: serde_json::Value,
    /// Metric name → one value per round or epoch, in order.
    pub metrics: BTreeMap<String, Vec<f64>>,
    /// Rounds done and planned.
    pub progress: Option<[u64; 2]>,
    /// The trained model's metrics (on the validation data when given).
    #[schema(value_type = Object)]
    pub final_metrics: serde_json::Map<String, serde_json::Value>,
    /// Its artifacts.
    pub artifacts: Vec<ArtifactBody>,
    /// The last log lines.
    pub log: Vec<String>,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
    /// Attempts so far (a retry after a lost worker counts).
    pub attempts: u32,
    /// The worker that runs it, or ran its last attempt (`slurm` on the Slurm backend).
    pub worker: Option<String>,
    /// Rows it trained on.
    pub rows: Option<u64>,
    /// Who submitted it (user id).
    pub owner: String,
    /// The team sharing it.
    pub team: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub started_at: Option<i64>,
    /// Unix milliseconds.
    pub finished_at: Option<i64>,
}

impl From<JobView> for TrainingJobBody {
    fn from(v: JobView) -> Self {
        let j = v.job;
        let id = j.id.to_string();
        Self {
            state: j.state.as_str().to_owned(),
            position: v.place.as_ref().map(|p| p.position),
            reason: v.place.as_ref().map(|p| p.reason.code().to_owned()),
            reason_text: v.place.as_ref().map(|p| p.reason.explain().to_owned()),
            estimated_start_secs: v.place.as_ref().map(|p| p.estimated_start_secs).filter(|s| s.is_finite()),
            algorithm: j.algorithm,
            spec: j.spec,
            metrics: v.metrics,
            progress: v.progress.map(|(r, of)| [r, of]),
            final_metrics: j.final_metrics,
            artifacts: v
                .artifacts
                .into_iter()
                .map(|a| ArtifactBody {
                    url: format!("/api/v1/training-jobs/{id}/artifacts/{}", a.name),
                    name: a.name,
                    kind: a.kind,
                    size_bytes: a.size_bytes,
                })
                .collect(),
            log: v.log,
            error: j.error,
            attempts: j.attempts,
            worker: j.worker.clone(),
            rows: j.rows,
            owner: j.owner.to_string(),
            team: j.team.map(|t| t.to_string()),
            created_at: j.created_at.millis(),
            started_at: j.started_at.map(|t| t.millis()),
            finished_at: j.finished_at.map(|t| t.millis()),
            id,
        }
    }
}

/// The pool: workers, queue and today's usage.
#[derive(Debug, Serialize, ToSchema)]
pub struct PoolBody {
    /// The workers.
    pub workers: Vec<WorkerBody>,
    /// Jobs waiting.
    pub queue_length: usize,
    /// Jobs running.
    pub running: usize,
    /// Today's worker-minutes per team (or participant without one).
    pub usage: Vec<UsageBody>,
    /// The daily quota per team, in worker-minutes (0: none).
    pub quota_minutes_per_day: u64,
    /// For a workshop's instructors: today's jobs of their workshops (empty for others).
    pub jobs: Vec<TrainingJobBody>,
}

/// A worker.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerBody {
    /// Its name.
    pub name: String,
    /// CPU cores.
    pub cpus: usize,
    /// GPUs.
    pub gpus: u32,
    /// The job it runs.
    pub job: Option<String>,
}

/// One team's usage today.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageBody {
    /// The team (absent: a participant without one).
    pub team: Option<String>,
    /// The team's name.
    pub name: String,
    /// Worker-minutes used today.
    pub minutes: f64,
    /// Jobs run or running today.
    pub jobs: usize,
    /// Its fair-share weight.
    pub weight: u32,
    /// Its daily quota in worker-minutes (0: none).
    pub quota_minutes_per_day: u64,
}

impl From<PoolView> for PoolBody {
    fn from(p: PoolView) -> Self {
        Self {
            workers: p
                .workers
                .into_iter()
                .map(|w| WorkerBody { name: w.name, cpus: w.cpus, gpus: w.gpus, job: w.job.map(|j| j.to_string()) })
                .collect(),
            queue_length: p.queue_length,
            running: p.running,
            usage: p
                .usage
                .into_iter()
                .map(|u| UsageBody {
                    team: u.team.map(|t| t.to_string()),
                    name: u.name,
                    minutes: u.minutes,
                    jobs: u.jobs,
                    weight: u.share.weight,
                    quota_minutes_per_day: u.share.quota_minutes,
                })
                .collect(),
            quota_minutes_per_day: p.quota_minutes_per_day,
            jobs: Vec::new(),
        }
    }
}

/// A new priority.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityRequest {
    /// Higher runs first; 0 is the default.
    pub priority: i32,
}

/// Queues a training job. It starts when a worker is free and fair share
/// between teams reaches it; follow it with `GET …/{id}` or `…/{id}/events`.
#[utoipa::path(post, path = "/api/v1/training-jobs", tag = "training", security(("bearer" = [])),
    request_body = TrainingJobRequest,
    responses(
        (status = 201, body = TrainingJobBody),
        (status = 404, description = "A dataset the caller has not got", body = ErrorBody),
        (status = 422, description = "Unknown algorithm or hyper-parameter (the message lists the valid ones and ranges), a value out of range, no such target column", body = ErrorBody),
        (status = 429, description = "The team's worker-minutes for today are spent (Retry-After: when they refill)", body = ErrorBody),
    ))]
async fn submit(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiJson(req): ApiJson<TrainingJobRequest>,
) -> Result<Response, AppError> {
    let workshop = match &req.workshop {
        Some(w) => {
            Some(w.parse::<WorkshopId>().map_err(|_| AppError::unprocessable("`workshop` is not a workshop id."))?)
        }
        None => None,
    };
    let request = JobRequest {
        algorithm: req.algorithm,
        hyperparameters: req.hyperparameters,
        data: DataChannels { train: req.data.train, validation: req.data.validation, target: req.data.target },
        resources: Resources { gpus: req.resources.gpus },
        cell_token: None,
        tuning: None,
    };
    let view = training::submit(&state, &user, workshop, &request).await?;
    Ok((StatusCode::CREATED, Json(TrainingJobBody::from(view))).into_response())
}

/// Filters of the job list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Only the job a notebook cell submitted with this token (the notebook's live job card).
    #[serde(default)]
    pub cell_token: Option<String>,
}

/// The caller's training jobs and their team's, newest first.
#[utoipa::path(get, path = "/api/v1/training-jobs", tag = "training", security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, body = Vec<TrainingJobBody>), (status = 401, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<TrainingJobBody>>, AppError> {
    let views = training::jobs_of(&state, &user).await?;
    let wanted = |v: &JobView| q.cell_token.as_deref().is_none_or(|t| training::cells::token_of(&v.job) == Some(t));
    Ok(Json(views.into_iter().filter(wanted).map(TrainingJobBody::from).collect()))
}

/// One training job: state, queue position and reason, metric curves, final metrics, artifacts.
#[utoipa::path(get, path = "/api/v1/training-jobs/{id}", tag = "training", security(("bearer" = [])),
    params(("id" = String, Path, description = "Training job id")),
    responses((status = 200, body = TrainingJobBody), (status = 404, body = ErrorBody)))]
async fn get_job(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    PathId(id): PathId<TrainingJobId>,
) -> Result<Json<TrainingJobBody>, AppError> {
    let job = training::visible(&state, &user, id).await?;
    Ok(Json(TrainingJobBody::from(training::view(&state, job).await?)))
}

/// Cancels a pending or running job (a running one stops within a second).
#[utoipa::path(post, path = "/api/v1/training-jobs/{id}/cancel", tag = "training", security(("bearer" = [])),
    params(("id" = String, Path, description = "Training job id")),
    responses(
        (status = 200, body = TrainingJobBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "It has already ended", body = ErrorBody),
    ))]
async fn cancel(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    PathId(id): PathId<TrainingJobId>,
) -> Result<Json<TrainingJobBody>, AppError> {
    let job = training::cancel(&state, &user, id).await?;
    Ok(Json(TrainingJobBody::from(training::view(&state, job).await?)))
}

/// Sets a job's priority (its workshop's instructors).
#[utoipa::path(post, path = "/api/v1/training-jobs/{id}/priority", tag = "training", security(("bearer" = [])),
    params(("id" = String, Path, description = "Training job id")),
    request_body = PriorityRequest,
    responses((status = 204, description = "Set"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_priority(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    PathId(id): PathId<TrainingJobId>,
    ApiJson(req): ApiJson<PriorityRequest>,
) -> Result<StatusCode, AppError> {
    training::set_priority(&state, &user, id, req.priority).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Downloads an artifact (the model as the library's saved-model JSON:
/// `GradientBoostedTreesModel::load("model.json")` reads it in a notebook).
#[utoipa::path(get, path = "/api/v1/training-jobs/{id}/artifacts/{name}", tag = "training", security(("bearer" = [])),
    params(("id" = String, Path, description = "Training job id"), ("name" = String, Path, description = "Artifact name")),
    responses((status = 200, content_type = "application/json", body = String), (status = 404, body = ErrorBody)))]
async fn artifact(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    PathId(id): PathId<TrainingJobId>,
    Path((_id, name)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (artifact, content) = training::artifact(&state, &user, id, &name).await?;
    let disposition = format!("attachment; filename=\"{}\"", artifact.name);
    Ok(([(header::CONTENT_TYPE, "application/json".to_owned()), (header::CONTENT_DISPOSITION, disposition)], content)
        .into_response())
}

/// The job's events as Server-Sent Events, from the first: `log` (a line),
/// `metrics` (`{"round", "of", "values"}`), `checkpoint` (`{"round", "of"}`:
/// a new attempt goes on from there), `state` (`{"state"}`); the stream
/// ends after the job's final state.
#[utoipa::path(get, path = "/api/v1/training-jobs/{id}/events", tag = "training", security(("bearer" = [])),
    params(("id" = String, Path, description = "Training job id")),
    responses((status = 200, content_type = "text/event-stream", body = String), (status = 404, body = ErrorBody)))]
async fn events(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    PathId(id): PathId<TrainingJobId>,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, AppError> {
    training::visible(&state, &user, id).await?;
    let stream = futures_util::stream::unfold((state, 0_i64, false), move |(state, after, done)| async move {
        if done {
            return None;
        }
        loop {
            let Ok(batch) = state.db.job_events(id, after).await else { return None };
            if batch.is_empty() {
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
            let last = batch.last().map_or(after, |e| e.seq);
            let ended =
                batch.iter().any(|e| matches!(&e.kind, flywheel_domain::JobEventKind::State { state } if !state.is_active() && *state != JobState::Pending));
            let events: Vec<Result<Event, Infallible>> = batch
                .iter()
                .map(|e| {
                    let (name, data) = match &e.kind {
                        flywheel_domain::JobEventKind::Log { line } => ("log", serde_json::json!({ "line": line })),
                        flywheel_domain::JobEventKind::Metrics { round, of, values } => {
                            ("metrics", serde_json::json!({ "round": round, "of": of, "values": values }))
                        }
                        flywheel_domain::JobEventKind::Checkpoint { round, of } => {
                            ("checkpoint", serde_json::json!({ "round": round, "of": of }))
                        }
                        flywheel_domain::JobEventKind::State { state } => {
                            ("state", serde_json::json!({ "state": state.as_str() }))
                        }
                    };
                    Ok(Event::default().event(name).id(e.seq.to_string()).data(data.to_string()))
                })
                .collect();
            return Some((futures_util::stream::iter(events), (state, last, ended)));
        }
    });
    Ok(Sse::new(futures_util::StreamExt::flatten(stream)).keep_alive(KeepAlive::default()))
}

/// The pool: workers and their devices, the queue, today's usage per team;
/// for a workshop's instructors also today's jobs of their workshops
/// (`jobs`, waiting ones with their position and reason).
#[utoipa::path(get, path = "/api/v1/pool", tag = "training", security(("bearer" = [])),
    responses((status = 200, body = PoolBody), (status = 401, body = ErrorBody)))]
async fn pool(State(state): State<AppState>, ApiUser(user): ApiUser) -> Result<Json<PoolBody>, AppError> {
    let mut body = PoolBody::from(training::pool(&state).await?);
    body.jobs = training::staff_queue(&state, &user).await?.into_iter().map(TrainingJobBody::from).collect();
    Ok(Json(body))
}

/// A hyper-parameter of a built-in algorithm.
#[derive(Debug, Serialize, ToSchema)]
pub struct HyperparameterBody {
    /// Its name.
    pub name: String,
    /// `integer`, `continuous` or `categorical`.
    pub kind: String,
    /// Smallest value (numbers).
    pub min: Option<f64>,
    /// Largest value (numbers).
    pub max: Option<f64>,
    /// The values allowed (categorical).
    pub values: Option<Vec<String>>,
    /// Its default.
    #[schema(value_type = Object)]
    pub default: serde_json::Value,
    /// What it does.
    pub doc: String,
}

/// A built-in algorithm a job may name.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlgorithmBody {
    /// The name a job uses.
    #[schema(example = "gradient_boosted_trees")]
    pub name: String,
    /// Its title.
    pub title: String,
    /// Whether it needs a target column.
    pub supervised: bool,
    /// The saved model's type (for an algorithm that is a classifier or a
    /// regressor by its `predictor_type`: the classifier's, then the regressor's).
    pub model_types: Vec<String>,
    /// Its hyper-parameters.
    pub hyperparameters: Vec<HyperparameterBody>,
}

/// The built-in algorithms a training job may name, with their hyper-parameters' ranges and defaults.
#[utoipa::path(get, path = "/api/v1/training-algorithms", tag = "training", security(("bearer" = [])),
    responses((status = 200, body = Vec<AlgorithmBody>)))]
async fn algorithms(ApiUser(_user): ApiUser) -> Json<Vec<AlgorithmBody>> {
    use flywheel_ml::training::Range;
    let body = flywheel_ml::training::algorithms()
        .iter()
        .map(|a| AlgorithmBody {
            name: a.name.to_owned(),
            title: a.title.to_owned(),
            supervised: a.supervised,
            model_types: a.model_types.iter().map(|t| (*t).to_owned()).collect(),
            hyperparameters: a
                .hyperparameters
                .iter()
                .map(|h| {
                    let (kind, min, max, values) = match &h.range {
                        #[expect(clippy::cast_precision_loss, reason = "hyper-parameter bounds are small")]
                        Range::Integer { min, max } => ("integer", Some(*min as f64), Some(*max as f64), None),
                        Range::Continuous { min, max, .. } => ("continuous", Some(*min), Some(*max), None),
                        Range::Categorical(values) => {
                            ("categorical", None, None, Some(values.iter().map(|v| (*v).to_owned()).collect()))
                        }
                    };
                    HyperparameterBody {
                        name: h.name.to_owned(),
                        kind: kind.to_owned(),
                        min,
                        max,
                        values,
                        default: h.default.to_json(),
                        doc: h.doc.to_owned(),
                    }
                })
                .collect(),
        })
        .collect();
    Json(body)
}

/// A hyper-parameter tuning job to start.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TuningJobRequest {
    /// The algorithm every trial trains.
    #[schema(example = "gradient_boosted_trees")]
    pub algorithm: String,
    /// Hyper-parameters every trial shares.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub hyperparameters: serde_json::Map<String, serde_json::Value>,
    /// The data channels (a validation set gives the objective its `validation_` metrics).
    pub data: DataBody,
    /// Hyper-parameter → range: `{"type": "continuous", "min", "max", "log"}`,
    /// `{"type": "integer", "min", "max", "log"}` or `{"type": "categorical", "values": […]}`.
    #[schema(value_type = Object, example = json!({"learning_rate": {"type": "continuous", "min": 0.01, "max": 0.3, "log": true}, "max_depth": {"type": "integer", "min": 2, "max": 8}}))]
    pub ranges: serde_json::Value,
    /// `{"metric": "validation_roc_auc", "direction": "maximize"}` (or `minimize`).
    #[schema(value_type = Object, example = json!({"metric": "validation_roc_auc", "direction": "maximize"}))]
    pub objective: serde_json::Value,
    /// `{"trials": 20, "parallel": 2}`.
    #[schema(value_type = Object, example = json!({"trials": 20, "parallel": 2}))]
    pub budget: serde_json::Value,
    /// `tpe` (default: 10 random trials, then TPE) or `random`.
    #[serde(default)]
    pub strategy: Option<String>,
    /// Seed of the draws.
    #[serde(default)]
    pub seed: u64,
    /// The workshop its trials count against (default: the caller's latest as a participant).
    #[serde(default)]
    pub workshop: Option<String>,
    /// Stops trials whose per-round metric (a loss: smaller is better) lags:
    /// `{"rule": "asha", "metric": "validation_log_loss", "min_rounds": 1, "reduction_factor": 3}`
    /// or `{"rule": "median", "metric": …, "min_rounds": 1, "startup_trials": 5}`
    /// (the numbers shown are the defaults). A stopped trial is `cancelled`, its error says why.
    #[serde(default)]
    #[schema(value_type = Option<Object>, example = json!({"rule": "asha", "metric": "validation_log_loss", "min_rounds": 10, "reduction_factor": 3}))]
    pub early_stopping: Option<serde_json::Value>,
}

/// One trial of a tuning job.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrialBody {
    /// Its number, from 0.
    pub trial: usize,
    /// The training job.
    pub job: String,
    /// Its state.
    pub state: String,
    /// The searched hyper-parameters it drew.
    #[schema(value_type = Object)]
    pub hyperparameters: serde_json::Map<String, serde_json::Value>,
    /// Its objective value, once completed.
    pub value: Option<f64>,
    /// With early stopping: the rounds it ran (or has run so far).
    pub rounds: Option<u64>,
    /// Why it failed or was cancelled (or stopped early).
    pub error: Option<String>,
}

/// A hyper-parameter tuning job.
#[derive(Debug, Serialize, ToSchema)]
pub struct TuningJobBody {
    /// Its id.
    pub id: String,
    /// `pending`, `running`, `completed`, `failed` or `cancelled`.
    pub state: String,
    /// The request as submitted.
    #[schema(value_type = Object)]
    pub spec: serde_json::Value,
    /// Its trials, in order.
    pub trials: Vec<TrialBody>,
    /// The best trial so far (a training job id; its model is that job's artifact).
    pub best_job: Option<String>,
    /// The best objective value so far.
    pub best_value: Option<f64>,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub finished_at: Option<i64>,
}

impl From<tuning::TuningView> for TuningJobBody {
    fn from(v: tuning::TuningView) -> Self {
        let best_value = v.trials.iter().find(|t| Some(t.job.id) == v.job.best).and_then(|t| t.value);
        Self {
            id: v.job.id.to_string(),
            state: v.job.state.as_str().to_owned(),
            spec: v.job.spec,
            trials: v
                .trials
                .into_iter()
                .enumerate()
                .map(|(i, t)| TrialBody {
                    trial: i,
                    job: t.job.id.to_string(),
                    state: t.job.state.as_str().to_owned(),
                    hyperparameters: t.params,
                    value: t.value,
                    rounds: t.rounds,
                    error: t.job.error,
                })
                .collect(),
            best_job: v.job.best.map(|b| b.to_string()),
            best_value,
            error: v.job.error,
            created_at: v.job.created_at.millis(),
            finished_at: v.job.finished_at.map(|t| t.millis()),
        }
    }
}

/// Starts a hyper-parameter tuning job: trials of the algorithm with
/// hyper-parameters drawn from the ranges (random, or TPE after 10 random
/// ones), each an ordinary training job, `budget.parallel` at a time.
#[utoipa::path(post, path = "/api/v1/tuning-jobs", tag = "training", security(("bearer" = [])),
    request_body = TuningJobRequest,
    responses(
        (status = 201, body = TuningJobBody),
        (status = 404, description = "A dataset the caller has not got", body = ErrorBody),
        (status = 422, description = "An unknown algorithm or hyper-parameter, a range the algorithm does not accept, a budget out of bounds", body = ErrorBody),
    ))]
async fn submit_tuning(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiJson(req): ApiJson<TuningJobRequest>,
) -> Result<Response, AppError> {
    let workshop = parse_workshop(req.workshop.as_deref())?;
    let invalid = |what: &str, e: serde_json::Error| AppError::unprocessable(format!("`{what}`: {e}"));
    let request = tuning::TuningRequest {
        algorithm: req.algorithm,
        hyperparameters: req.hyperparameters,
        data: DataChannels { train: req.data.train, validation: req.data.validation, target: req.data.target },
        ranges: serde_json::from_value(req.ranges).map_err(|e| invalid("ranges", e))?,
        objective: serde_json::from_value(req.objective).map_err(|e| invalid("objective", e))?,
        budget: serde_json::from_value(req.budget).map_err(|e| invalid("budget", e))?,
        strategy: match req.strategy.as_deref() {
            None | Some("tpe") => tuning::Strategy::Tpe,
            Some("random") => tuning::Strategy::Random,
            Some(other) => {
                return Err(AppError::unprocessable(format!("`strategy` is `tpe` or `random`, not {other:?}")));
            }
        },
        seed: req.seed,
        early_stopping: req
            .early_stopping
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| invalid("early_stopping", e))?,
    };
    let view = tuning::submit(&state, &user, workshop, &request).await?;
    Ok((StatusCode::CREATED, Json(TuningJobBody::from(view))).into_response())
}

/// A tuning job: its trials (hyper-parameters, state, objective value) and the best so far.
#[utoipa::path(get, path = "/api/v1/tuning-jobs/{id}", tag = "training", security(("bearer" = [])),
    params(("id" = String, Path, description = "Tuning job id")),
    responses((status = 200, body = TuningJobBody), (status = 404, body = ErrorBody)))]
async fn get_tuning(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    PathId(id): PathId<TuningJobId>,
) -> Result<Json<TuningJobBody>, AppError> {
    Ok(Json(TuningJobBody::from(tuning::visible(&state, &user, id).await?)))
}

/// Cancels a tuning job and its unfinished trials.
#[utoipa::path(post, path = "/api/v1/tuning-jobs/{id}/cancel", tag = "training", security(("bearer" = [])),
    params(("id" = String, Path, description = "Tuning job id")),
    responses((status = 200, body = TuningJobBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn cancel_tuning(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    PathId(id): PathId<TuningJobId>,
) -> Result<Json<TuningJobBody>, AppError> {
    Ok(Json(TuningJobBody::from(tuning::cancel(&state, &user, id).await?)))
}

/// A team's share of the training pool.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// Fair-share weight, 1–100: a team of weight 2 gets twice the worker time of one of weight 1.
    pub weight: u32,
    /// Worker-minutes per UTC day; 0: the server's default.
    #[serde(default)]
    pub quota_minutes_per_day: u64,
}

/// Sets a team's share of the training pool: its fair-share weight and daily quota (the workshop's instructors).
#[utoipa::path(put, path = "/api/v1/workshops/{id}/teams/{team}/training-share", tag = "training", security(("bearer" = [])),
    params(("id" = String, Path, description = "Workshop id"), ("team" = String, Path, description = "Team id")),
    request_body = ShareRequest,
    responses(
        (status = 204, description = "Set"),
        (status = 403, description = "Not one of the workshop's instructors", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "A weight outside 1–100", body = ErrorBody),
    ))]
async fn set_share(
    State(state): State<AppState>,
    WorkshopStaff { viewer, .. }: WorkshopStaff<ApiUser>,
    Path((_workshop, team)): Path<(String, String)>,
    ApiJson(req): ApiJson<ShareRequest>,
) -> Result<StatusCode, AppError> {
    let team = flywheel_app::workshops::team(&state, &viewer, &team).await?;
    let share = training::Share { weight: req.weight, quota_minutes: req.quota_minutes_per_day };
    training::set_share(&state, &viewer, team.id, share).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn parse_workshop(text: Option<&str>) -> Result<Option<WorkshopId>, AppError> {
    text.map(|w| w.parse::<WorkshopId>().map_err(|_| AppError::unprocessable("`workshop` is not a workshop id.")))
        .transpose()
}

/// The training pool's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(submit, list, get_job, cancel, set_priority, artifact, events, pool, algorithms, submit_tuning, get_tuning, cancel_tuning, set_share),
    tags((name = "training", description = "The shared training pool: training jobs on a queue, workers, fair share, artifacts")),
)]
pub struct TrainingDoc;

/// The training routes, to nest under `/api/v1`.
pub fn router() -> axum::Router<AppState> {
    use axum::routing::{get, post, put};
    axum::Router::new()
        .route("/training-jobs", post(submit).get(list))
        .route("/training-jobs/{id}", get(get_job))
        .route("/training-jobs/{id}/cancel", post(cancel))
        .route("/training-jobs/{id}/priority", post(set_priority))
        .route("/training-jobs/{id}/events", get(events))
        .route("/training-jobs/{id}/artifacts/{name}", get(artifact))
        .route("/pool", get(pool))
        .route("/training-algorithms", get(algorithms))
        .route("/tuning-jobs", post(submit_tuning))
        .route("/tuning-jobs/{id}", get(get_tuning))
        .route("/tuning-jobs/{id}/cancel", post(cancel_tuning))
        .route("/workshops/{id}/teams/{team}/training-share", put(set_share))
}
