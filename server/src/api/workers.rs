//! `/api/v1/workers/{name}/…`: how a training worker on another machine
//! (`flywheel worker --server URL --token …`) takes jobs from the pool and
//! reports on them. Authenticated by the server's `training_worker_token`
//! (`Authorization: Bearer <token>`), not by a person's token.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header::AUTHORIZATION};
use axum::response::{IntoResponse, Response};
use flywheel_app::training::remote::{self, Finish, Hello, Progress};
use flywheel_domain::TrainingJobId;
use utoipa::OpenApi;

use crate::api::ApiJson;
use crate::error::{AppError, ErrorBody};
use crate::state::AppState;

/// A caller that presented the server's worker token.
pub struct Worker;

impl axum::extract::FromRequestParts<AppState> for Worker {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if state.settings.training.worker_token.is_empty() {
            return Err(AppError::unauthorized(
                "This server takes no remote training workers: set training_worker_token in its configuration.",
            ));
        }
        let presented = parts.headers.get(AUTHORIZATION).and_then(|h| h.to_str().ok()).and_then(|h| {
            h.split_once(' ').filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer")).map(|(_, t)| t.trim())
        });
        match presented {
            Some(token) if remote::token_matches(state, token) => Ok(Worker),
            _ => Err(AppError::unauthorized("Send the server's worker token: `Authorization: Bearer <token>`.")),
        }
    }
}

fn job_id(text: &str) -> Result<TrainingJobId, AppError> {
    text.parse().map_err(|_| AppError::not_found("There is no such training job."))
}

fn worker_name(text: &str) -> Result<&str, AppError> {
    let fine =
        !text.is_empty() && text.len() <= 64 && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if fine {
        Ok(text)
    } else {
        Err(AppError::unprocessable("A worker name is 1–64 letters, digits, `-`, `_` or `.`."))
    }
}

/// Asks for a job: 200 with the job and its directory's files when the
/// pool's plan gives this worker one, else 204 (ask again in a second).
#[utoipa::path(post, path = "/api/v1/workers/{name}/claim", tag = "workers",
    params(("name" = String, Path, description = "The worker's name, unique in the pool")),
    request_body(content = Object, description = r#"`{"cpus": 8, "gpus": 0}`"#),
    responses(
        (status = 200, description = r#"`{"id", "attempt", "files": {"job.json": …, "train.csv": …, "checkpoint.json": …}}`"#, body = Object),
        (status = 204, description = "No job for this worker now"),
        (status = 401, description = "No or a wrong worker token, or remote workers are off", body = ErrorBody),
    ))]
async fn claim(
    State(state): State<AppState>,
    _: Worker,
    Path(name): Path<String>,
    ApiJson(hello): ApiJson<Hello>,
) -> Result<Response, AppError> {
    match remote::claim(&state, worker_name(&name)?, hello).await? {
        Some(assignment) => Ok(Json(assignment).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// Reports a running job's new events (and its latest checkpoint when they
/// announce one); `{"continue": false}` says to stop it (cancelled, taken
/// away, or past its time limit).
#[utoipa::path(post, path = "/api/v1/workers/{name}/jobs/{id}/heartbeat", tag = "workers",
    params(("name" = String, Path, description = "The worker's name"), ("id" = String, Path, description = "Training job id")),
    request_body(content = Object, description = r#"`{"events": [{"type": "metrics", …}], "checkpoint": "…"}`"#),
    responses((status = 200, description = r#"`{"continue": true}`"#, body = Object), (status = 401, body = ErrorBody)))]
async fn heartbeat(
    State(state): State<AppState>,
    _: Worker,
    Path((name, id)): Path<(String, String)>,
    ApiJson(progress): ApiJson<Progress>,
) -> Result<Json<serde_json::Value>, AppError> {
    let go = remote::heartbeat(&state, worker_name(&name)?, job_id(&id)?, progress).await?;
    Ok(Json(serde_json::json!({ "continue": go })))
}

/// Reports how the job's process ended: its exit code or signal, the end of
/// its stderr, and the `result.json` and `model.json` it wrote.
#[utoipa::path(post, path = "/api/v1/workers/{name}/jobs/{id}/finish", tag = "workers",
    params(("name" = String, Path, description = "The worker's name"), ("id" = String, Path, description = "Training job id")),
    request_body(content = Object, description = r#"`{"events": […], "exit_code": 0, "signal": null, "stderr": "", "result": "…", "model": "…"}`"#),
    responses((status = 204), (status = 401, body = ErrorBody)))]
async fn finish(
    State(state): State<AppState>,
    _: Worker,
    Path((name, id)): Path<(String, String)>,
    ApiJson(report): ApiJson<Finish>,
) -> Result<StatusCode, AppError> {
    remote::finish(&state, worker_name(&name)?, job_id(&id)?, report).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The remote workers' part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(claim, heartbeat, finish),
    tags((name = "workers", description = "Training workers on other machines: take jobs, report progress and results")),
)]
pub struct WorkersDoc;

/// The largest heartbeat or finish report (a model or checkpoint with its events).
pub const MAX_REPORT_BYTES: usize = 256 * 1024 * 1024;

/// The remote workers' routes, to nest under `/api/v1`.
pub fn router() -> axum::Router<AppState> {
    use axum::extract::DefaultBodyLimit;
    use axum::routing::post;
    axum::Router::new()
        .route("/workers/{name}/claim", post(claim))
        .route("/workers/{name}/jobs/{id}/heartbeat", post(heartbeat))
        .route("/workers/{name}/jobs/{id}/finish", post(finish))
        // Checkpoints and models are bigger than other requests; only a
        // holder of the worker token gets this far.
        .layer(DefaultBodyLimit::max(MAX_REPORT_BYTES))
}
