//! `/api/v1/sessions`: notebook sessions on Rust kernels. A session is
//! the caller's own; anyone else gets 404. Cells are executed
//! asynchronously: `execute` answers 202 with the queued execution, whose
//! outputs (nbformat's shapes) are read back by polling or followed live
//! over server-sent events.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use flywheel_kernel_manager::{Execution, KernelSession, SessionEvent, SessionView};
use futures_util::StreamExt;
use futures_util::stream::{self, Stream};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;

use crate::api::ApiJson;
use crate::auth::extract::ApiUser;
use crate::error::{AppError, ErrorBody};
use crate::state::AppState;

/// A notebook session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionBody {
    /// Session id (UUID).
    pub id: String,
    /// `starting`, `idle`, `busy`, `dead` (stopped by itself; the next cell starts a new kernel) or `culled` (stopped after being idle).
    #[schema(example = "idle")]
    pub kernel: String,
    /// Why the kernel is dead or culled.
    pub kernel_message: Option<String>,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: i64,
    /// Executions submitted so far.
    pub executions: u64,
}

impl From<SessionView> for SessionBody {
    fn from(v: SessionView) -> Self {
        let kernel =
            serde_json::to_value(v.kernel).ok().and_then(|k| k.as_str().map(str::to_owned)).unwrap_or_default();
        Self { id: v.id, kernel, kernel_message: v.kernel_message, created_at: v.created_at, executions: v.executions }
    }
}

/// One run of one cell.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExecutionBody {
    /// Counts from 1 within the session (nbformat's `execution_count`).
    pub id: u64,
    /// `queued`, `running`, `ok`, `error` or `interrupted`.
    #[schema(example = "ok")]
    pub status: String,
    /// nbformat 4 outputs: `{"output_type": "stream", "name", "text"}`,
    /// `{"output_type": "execute_result"|"display_data", "data": {MIME: content}, "metadata"}`,
    /// `{"output_type": "error", "ename", "evalue", "traceback", "locations"?: [{"line", "column"}]}`.
    #[schema(value_type = Vec<Object>)]
    pub outputs: Vec<serde_json::Value>,
    /// While queued: 1 when it runs next.
    pub queue_position: Option<usize>,
    /// Wall time in the kernel, in milliseconds, once finished.
    pub elapsed_ms: Option<u64>,
    /// Whether output was dropped for exceeding the caps (a note says so).
    pub truncated: bool,
}

impl From<Execution> for ExecutionBody {
    fn from(e: Execution) -> Self {
        let status =
            serde_json::to_value(e.status).ok().and_then(|k| k.as_str().map(str::to_owned)).unwrap_or_default();
        Self {
            id: e.id,
            status,
            outputs: e.outputs.iter().filter_map(|o| serde_json::to_value(o).ok()).collect(),
            queue_position: e.queue_position,
            elapsed_ms: e.elapsed_ms,
            truncated: e.truncated,
        }
    }
}

/// A cell to run.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ExecuteRequest {
    /// Rust source; `use flywheel_ml::prelude::*;` is already in scope.
    #[schema(example = "let x = 40 + 2;\nx")]
    pub code: String,
}

/// Whether kernels can run on this server.
#[derive(Debug, Serialize, ToSchema)]
pub struct KernelStatusBody {
    /// `ready`, `preparing` (e.g. first start is compiling the library) or `unavailable`.
    #[schema(example = "ready")]
    pub state: String,
    /// What is happening, for people.
    pub message: String,
    /// Pre-started kernels waiting for a session.
    pub pooled: usize,
    /// What the latest kernel reported of its sandbox, e.g. "Landlock fully
    /// enforced; network sockets denied (seccomp); …" (null before the first
    /// kernel started, or when the sandbox is off).
    pub sandbox: Option<String>,
}

/// Opens a session on a new kernel (a pre-started one when available).
#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions", security(("bearer" = [])),
    responses(
        (status = 201, body = SessionBody),
        (status = 401, body = ErrorBody),
        (status = 409, description = "Too many open sessions", body = ErrorBody),
        (status = 503, description = "Kernels are not ready (first start) or not available here", body = ErrorBody),
    ))]
async fn create_session(State(state): State<AppState>, ApiUser(user): ApiUser) -> Result<Response, AppError> {
    let session = state.kernels.create_session(user.id)?;
    flywheel_app::kernels::attach(&state, &user, &session).await;
    Ok((StatusCode::CREATED, Json(SessionBody::from(session.view()))).into_response())
}

/// The caller's open sessions.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "sessions", security(("bearer" = [])),
    responses((status = 200, body = [SessionBody]), (status = 401, body = ErrorBody)))]
async fn list_sessions(State(state): State<AppState>, ApiUser(user): ApiUser) -> Json<Vec<SessionBody>> {
    Json(state.kernels.sessions(user.id).iter().map(|s| SessionBody::from(s.view())).collect())
}

/// Whether kernels can run now (and why not).
#[utoipa::path(get, path = "/api/v1/kernels", tag = "sessions", security(("bearer" = [])),
    responses((status = 200, body = KernelStatusBody), (status = 401, body = ErrorBody)))]
async fn kernel_status(State(state): State<AppState>, ApiUser(_user): ApiUser) -> Json<KernelStatusBody> {
    let availability = state.kernels.availability();
    let state_name = serde_json::to_value(&availability)
        .ok()
        .and_then(|v| v.get("state").and_then(|s| s.as_str().map(str::to_owned)))
        .unwrap_or_default();
    Json(KernelStatusBody {
        state: state_name,
        message: flywheel_app::kernels::describe(&availability),
        pooled: state.kernels.pooled(),
        sandbox: state.kernels.sandbox(),
    })
}

fn session(
    state: &AppState,
    user: &flywheel_domain::User,
    id: &str,
) -> Result<std::sync::Arc<KernelSession>, AppError> {
    Ok(state.kernels.session(user.id, id)?)
}

/// One of the caller's sessions.
#[utoipa::path(get, path = "/api/v1/sessions/{id}", tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path, description = "KernelSession id")),
    responses((status = 200, body = SessionBody), (status = 404, body = ErrorBody)))]
async fn get_session(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<SessionBody>, AppError> {
    Ok(Json(session(&state, &user, &id)?.view().into()))
}

/// Closes a session: its kernel stops and its executions are forgotten.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path, description = "KernelSession id")),
    responses((status = 204, description = "Closed"), (status = 404, body = ErrorBody)))]
async fn delete_session(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    state.kernels.close(user.id, &id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Queues a cell; answers at once with the execution (usually `queued`).
#[utoipa::path(post, path = "/api/v1/sessions/{id}/execute", tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path, description = "KernelSession id")),
    request_body = ExecuteRequest,
    responses(
        (status = 202, body = ExecutionBody),
        (status = 404, body = ErrorBody),
        (status = 413, description = "The cell is too large", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
async fn execute(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ExecuteRequest>,
) -> Result<Response, AppError> {
    let execution = session(&state, &user, &id)?.execute(req.code)?;
    Ok((StatusCode::ACCEPTED, Json(ExecutionBody::from(execution))).into_response())
}

/// Every execution of the session, oldest first.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/executions", tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path, description = "KernelSession id")),
    responses((status = 200, body = [ExecutionBody]), (status = 404, body = ErrorBody)))]
async fn list_executions(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Vec<ExecutionBody>>, AppError> {
    Ok(Json(session(&state, &user, &id)?.executions().into_iter().map(ExecutionBody::from).collect()))
}

/// One execution: status, queue position and outputs so far.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/executions/{eid}", tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path, description = "KernelSession id"), ("eid" = u64, Path, description = "Execution id")),
    responses((status = 200, body = ExecutionBody), (status = 404, body = ErrorBody)))]
async fn get_execution(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((id, eid)): Path<(String, String)>,
) -> Result<Json<ExecutionBody>, AppError> {
    let session = session(&state, &user, &id)?;
    let execution = eid.parse().ok().and_then(|eid| session.execution(eid)).ok_or_else(no_execution)?;
    Ok(Json(execution.into()))
}

fn no_execution() -> AppError {
    AppError::not_found("This session has no such execution.")
}

/// Follows one execution live (server-sent events): first an `execution`
/// event with everything so far, then `status`, `output` and finally `done`,
/// after which the stream ends.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/executions/{eid}/events", tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path, description = "KernelSession id"), ("eid" = u64, Path, description = "Execution id")),
    responses(
        (status = 200, description = "text/event-stream of `execution`, `status`, `output`, `done` events (JSON data)"),
        (status = 404, body = ErrorBody),
    ))]
async fn execution_events(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((id, eid)): Path<(String, String)>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, AppError> {
    let session = session(&state, &user, &id)?;
    let eid: u64 = eid.parse().map_err(|_| no_execution())?;
    let (snapshot, receiver) = session.watch(eid).ok_or_else(no_execution)?;
    let finished = snapshot.status.is_finished();
    let first = json_event("execution", &ExecutionBody::from(snapshot));
    let live = stream::unfold((receiver, finished, session), move |(mut rx, finished, session)| async move {
        if finished {
            return None;
        }
        loop {
            match rx.recv().await {
                Ok(event) if event_execution(&event) == Some(eid) => {
                    let done = matches!(event, SessionEvent::Done { .. });
                    return Some((Ok(json_event(event.name(), &event)), (rx, done, session)));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    // Too slow to follow: send the whole execution again.
                    let e = session.execution(eid)?;
                    let done = e.status.is_finished();
                    return Some((Ok(json_event("execution", &ExecutionBody::from(e))), (rx, done, session)));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    let events = stream::once(async move { Ok(first) }).chain(live);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Every change in the session from now on (server-sent events): `kernel`,
/// `status`, `output`, `done`.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/events", tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path, description = "KernelSession id")),
    responses(
        (status = 200, description = "text/event-stream of `kernel`, `status`, `output`, `done` events (JSON data)"),
        (status = 404, body = ErrorBody),
    ))]
async fn session_events(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, AppError> {
    let receiver = session(&state, &user, &id)?.subscribe();
    let live = stream::unfold(receiver, |mut rx| async move {
        let event = match rx.recv().await {
            Ok(event) => json_event(event.name(), &event),
            Err(RecvError::Lagged(n)) => json_event("lagged", &serde_json::json!({ "missed": n })),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(event), rx))
    });
    Ok(Sse::new(live).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn event_execution(event: &SessionEvent) -> Option<u64> {
    match event {
        SessionEvent::Status { execution, .. }
        | SessionEvent::Output { execution, .. }
        | SessionEvent::Done { execution, .. } => Some(*execution),
        SessionEvent::Kernel { .. } => None,
    }
}

fn json_event(name: &str, data: &impl Serialize) -> SseEvent {
    SseEvent::default().event(name).data(serde_json::to_string(data).unwrap_or_else(|_| "null".to_owned()))
}

/// Stops the running cell; cells queued behind it are not run.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/interrupt", tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path, description = "KernelSession id")),
    responses((status = 202, description = "Interrupt sent"), (status = 404, body = ErrorBody)))]
async fn interrupt(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    session(&state, &user, &id)?.interrupt();
    Ok(StatusCode::ACCEPTED)
}

/// Stops the kernel and starts a new one; variables are lost.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/restart", tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path, description = "KernelSession id")),
    responses((status = 202, description = "Restarting"), (status = 404, body = ErrorBody)))]
async fn restart(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    session(&state, &user, &id)?.restart();
    Ok(StatusCode::ACCEPTED)
}

/// The session routes, to nest under `/api/v1`.
pub fn router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/kernels", get(kernel_status))
        .route("/sessions", post(create_session).get(list_sessions))
        .route("/sessions/{id}", get(get_session).delete(delete_session))
        .route("/sessions/{id}/execute", post(execute))
        .route("/sessions/{id}/executions", get(list_executions))
        .route("/sessions/{id}/executions/{eid}", get(get_execution))
        .route("/sessions/{id}/executions/{eid}/events", get(execution_events))
        .route("/sessions/{id}/events", get(session_events))
        .route("/sessions/{id}/interrupt", post(interrupt))
        .route("/sessions/{id}/restart", post(restart))
}

/// The paths above, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    kernel_status,
    create_session,
    list_sessions,
    get_session,
    delete_session,
    execute,
    list_executions,
    get_execution,
    execution_events,
    session_events,
    interrupt,
    restart
))]
pub struct SessionsDoc;
