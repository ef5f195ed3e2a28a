//! `/api/v1/labs` and `/api/v1/notebooks`: the lab catalogue, each user's
//! notebooks (their own copies of labs, uploads, blank ones), saving edits
//! under a revision number, running cells and exporting/importing files.
//! A notebook is its owner's; anyone else gets 404.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use flywheel_domain::notebook::{ipynb, markdown};
use std::str::FromStr;

use flywheel_domain::{Cell, CellId, CellType, Notebook, NotebookId, NotebookRecord, NotebookSummary, TeamId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::ApiJson;
use crate::api::sessions::{ExecutionBody, SessionBody};
use crate::auth::extract::{ApiUser, PathId};
use crate::error::{AppError, ErrorBody};
use crate::state::AppState;
use flywheel_app::curriculum::{LabProgress, StepProgress};
use flywheel_app::notebooks::{self, NotebookServiceError, owned, reachable};

/// A lab of the curriculum.
#[derive(Debug, Serialize, ToSchema)]
pub struct LabBody {
    /// URL name, e.g. `intro`.
    #[schema(example = "intro")]
    pub slug: String,
    /// Title.
    pub title: String,
    /// Day of the workshop: 1, 2 or 3.
    pub day: u8,
    /// About how long it takes, in minutes.
    pub minutes: u32,
    /// One sentence.
    pub summary: String,
    /// What the reference solution reaches (empty when the lab names none).
    pub target: String,
    /// The caller's copy of it, if they opened it already.
    pub notebook: Option<String>,
    /// The steps (check cells), with whether the caller passed each.
    pub steps: Vec<StepProgressBody>,
}

/// One lab's progress for the caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct LabProgressBody {
    /// The lab's slug.
    pub lab: String,
    /// Its title.
    pub title: String,
    /// Its day (1–3).
    pub day: u8,
    /// Its steps, in order, each with whether (and when) it was passed.
    pub steps: Vec<StepProgressBody>,
    /// How many steps are done.
    pub done: usize,
    /// How many steps the lab has.
    pub total: usize,
}

impl From<LabProgress> for LabProgressBody {
    fn from(p: LabProgress) -> Self {
        let steps = p.steps.into_iter().map(StepProgressBody::from).collect();
        Self { lab: p.lab, title: p.title, day: p.day, steps, done: p.done, total: p.total }
    }
}

/// One step of a lab, for the caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepProgressBody {
    /// The check cell's id.
    pub id: String,
    /// What the step is.
    pub title: String,
    /// Whether its check has passed.
    pub done: bool,
    /// When it first passed (milliseconds since the epoch).
    pub passed_at: Option<i64>,
}

impl From<StepProgress> for StepProgressBody {
    fn from(s: StepProgress) -> Self {
        Self { id: s.id, title: s.title, done: s.done, passed_at: s.passed_at }
    }
}

/// A cell.
#[derive(Debug, Serialize, ToSchema)]
pub struct CellBody {
    /// nbformat cell id, unique in the notebook.
    #[schema(example = "fit-model")]
    pub id: String,
    /// `code` or `markdown`.
    #[schema(example = "code")]
    pub cell_type: String,
    /// The text.
    pub source: String,
    /// nbformat cell metadata (e.g. `{"exercise": true}`).
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// nbformat 4 outputs of the last run.
    #[schema(value_type = Vec<Object>)]
    pub outputs: Vec<serde_json::Value>,
    /// The last run's execution count.
    pub execution_count: Option<u64>,
    /// A run of this cell still queued or running on the notebook's
    /// session (follow it at `/api/v1/sessions/{session.id}/executions/{id}/events`);
    /// null otherwise. A page reloaded mid-run picks the run up again.
    pub execution: Option<ExecutionBody>,
}

impl From<&Cell> for CellBody {
    fn from(c: &Cell) -> Self {
        Self {
            execution: None,
            id: c.id.to_string(),
            cell_type: cell_type_name(c.cell_type).to_owned(),
            source: c.source.clone(),
            metadata: c.metadata.clone(),
            outputs: c.outputs.clone(),
            execution_count: c.execution_count,
        }
    }
}

fn cell_type_name(t: CellType) -> &'static str {
    match t {
        CellType::Code => "code",
        CellType::Markdown => "markdown",
    }
}

/// A notebook with its cells.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotebookBody {
    /// Id (UUID).
    pub id: String,
    /// Title.
    pub title: String,
    /// The lab it is a copy of, if any.
    pub lab: Option<String>,
    /// The workshop team it is shared with (its members open, edit and run it), if any.
    pub team: Option<String>,
    /// Whether the caller owns it (only the owner deletes, resets or shares it).
    pub owned: bool,
    /// Send it back with an edit; it goes up by one with every saved edit.
    pub revision: i64,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// Milliseconds since the Unix epoch.
    pub updated_at: i64,
    /// The cells, in order.
    pub cells: Vec<CellBody>,
    /// The kernel session its cells run on, while one is open. Null (or a
    /// `culled`/`dead` kernel) means variables from earlier runs are gone.
    pub session: Option<SessionBody>,
}

impl NotebookBody {
    /// The body for `record`, with the notebook's session if open.
    pub fn new(state: &AppState, user: &flywheel_domain::User, record: &NotebookRecord) -> Self {
        let open = notebooks::existing_session(state, user, record.id);
        let mut cells: Vec<CellBody> = record.notebook.cells.iter().map(CellBody::from).collect();
        if let Some(session) = &open {
            for (body, cell) in cells.iter_mut().zip(&record.notebook.cells) {
                body.execution = state
                    .notebook_kernels
                    .running(record.id, user.id, &cell.id)
                    .and_then(|eid| session.execution(eid))
                    .filter(|e| !e.status.is_finished())
                    .map(ExecutionBody::from);
            }
        }
        let session = open.map(|s| SessionBody::from(s.view()));
        Self {
            id: record.id.to_string(),
            title: record.notebook.title.clone(),
            lab: record.lab.clone(),
            team: record.team.map(|t| t.to_string()),
            owned: record.owner == user.id,
            revision: record.revision,
            created_at: record.created_at.millis(),
            updated_at: record.updated_at.millis(),
            cells,
            session,
        }
    }
}

/// A notebook in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotebookSummaryBody {
    /// Id (UUID).
    pub id: String,
    /// Title.
    pub title: String,
    /// The lab it is a copy of, if any.
    pub lab: Option<String>,
    /// The workshop team it is shared with, if any.
    pub team: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub updated_at: i64,
}

impl From<NotebookSummary> for NotebookSummaryBody {
    fn from(s: NotebookSummary) -> Self {
        Self {
            id: s.id.to_string(),
            title: s.title,
            lab: s.lab,
            team: s.team.map(|t| t.to_string()),
            updated_at: s.updated_at.millis(),
        }
    }
}

/// A new, blank notebook.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct NewNotebookRequest {
    /// Title (default "Untitled notebook").
    #[serde(default)]
    pub title: Option<String>,
}

/// One cell of an edit.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CellEdit {
    /// An existing cell's id keeps its outputs; a new id (1–64 of `[A-Za-z0-9_-]`) is a new cell.
    pub id: String,
    /// `code` or `markdown`.
    #[schema(value_type = String, example = "code")]
    pub cell_type: CellType,
    /// The text (at most 1 MiB).
    pub source: String,
    /// Cell metadata; omitted, an existing cell keeps its own.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// An edit: the whole ordered list of cells, based on `revision`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NotebookEdit {
    /// The revision this edit was made on; a stale one gets 409 and changes nothing.
    pub revision: i64,
    /// New title; omitted, it stays.
    #[serde(default)]
    pub title: Option<String>,
    /// Every cell, in order (outputs are not sent: cells keep theirs by id).
    pub cells: Vec<CellEdit>,
}

/// A run that was queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunBody {
    /// The notebook's kernel session; follow the run at
    /// `/api/v1/sessions/{session.id}/executions/{execution.id}/events`.
    pub session: SessionBody,
    /// The execution (its id is the cell's new execution count).
    pub execution: ExecutionBody,
}

/// Export format.
#[derive(Debug, Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Jupyter nbformat 4.5 with outputs.
    Ipynb,
    /// Flywheel's Markdown notebook format (no outputs).
    Md,
}

/// `?format=`.
#[derive(Debug, Deserialize)]
pub struct FormatQuery {
    /// `ipynb` or `md`.
    pub format: Option<Format>,
    /// For imports: the file's name (its stem is the title when the file has none).
    pub filename: Option<String>,
}

/// The labs, in agenda order.
#[utoipa::path(get, path = "/api/v1/labs", tag = "notebooks", security(("bearer" = [])),
    responses((status = 200, body = [LabBody]), (status = 401, body = ErrorBody)))]
async fn list_labs(State(state): State<AppState>, ApiUser(user): ApiUser) -> Result<Json<Vec<LabBody>>, AppError> {
    let mine = state.db.notebooks(user.id).await?;
    let progress = LabProgress::all(&state.labs, &state.db.progress(user.id).await?);
    let labs = state
        .labs
        .all()
        .iter()
        .zip(progress)
        .map(|(l, progress)| LabBody {
            slug: l.slug.clone(),
            title: l.title.clone(),
            day: l.day,
            minutes: l.minutes,
            summary: l.summary.clone(),
            target: l.target.clone(),
            notebook: mine.iter().find(|n| n.lab.as_deref() == Some(&l.slug)).map(|n| n.id.to_string()),
            steps: progress.steps.into_iter().map(StepProgressBody::from).collect(),
        })
        .collect();
    Ok(Json(labs))
}

/// The caller's progress: every lab's steps, done or not. A step is done
/// when its check cell, run in the caller's copy of the lab, passed.
#[utoipa::path(get, path = "/api/v1/progress", tag = "notebooks", security(("bearer" = [])),
    responses((status = 200, body = [LabProgressBody]), (status = 401, body = ErrorBody)))]
async fn progress(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<LabProgressBody>>, AppError> {
    let progress = LabProgress::all(&state.labs, &state.db.progress(user.id).await?);
    Ok(Json(progress.into_iter().map(LabProgressBody::from).collect()))
}

/// The caller's copy of a lab: made from the lab on the first call (201), the same one after (200).
#[utoipa::path(post, path = "/api/v1/labs/{slug}/notebook", tag = "notebooks", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Lab slug")),
    responses((status = 200, body = NotebookBody), (status = 201, body = NotebookBody), (status = 404, body = ErrorBody)))]
async fn lab_notebook(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let (record, made) = notebooks::lab_copy(&state, &user, &slug).await?;
    let status = if made { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(NotebookBody::new(&state, &user, &record))).into_response())
}

/// The caller's notebooks, most recently changed first.
#[utoipa::path(get, path = "/api/v1/notebooks", tag = "notebooks", security(("bearer" = [])),
    responses((status = 200, body = [NotebookSummaryBody]), (status = 401, body = ErrorBody)))]
async fn list_notebooks(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<NotebookSummaryBody>>, AppError> {
    let mut list = state.db.notebooks(user.id).await?;
    list.extend(notebooks::shared_with(&state, &user).await?);
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

/// A notebook's revision, for a page that follows edits made elsewhere
/// (a teammate, another tab) without fetching the whole notebook.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevisionBody {
    /// Goes up by one with every saved edit.
    pub revision: i64,
    /// When its cells or outputs last changed, Unix ms.
    pub updated_at: i64,
}

/// The notebook's revision and last change.
#[utoipa::path(get, path = "/api/v1/notebooks/{id}/revision", tag = "notebooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Notebook id")),
    responses((status = 200, body = RevisionBody), (status = 404, body = ErrorBody)))]
async fn notebook_revision(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    PathId(id): PathId<NotebookId>,
) -> Result<Json<RevisionBody>, AppError> {
    let record = reachable(&state, &user, id).await?;
    Ok(Json(RevisionBody { revision: record.revision, updated_at: record.updated_at.millis() }))
}

/// Whom to share a notebook with.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ShareRequest {
    /// A team of a workshop the owner is in, or null to stop sharing.
    pub team: Option<String>,
}

/// Shares the caller's notebook with their workshop team (or stops
/// sharing it). Team members then open, edit and run it, each on their own
/// kernel; their edits are guarded by the revision as the owner's are.
#[utoipa::path(put, path = "/api/v1/notebooks/{id}/team", tag = "notebooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Notebook id")), request_body = ShareRequest,
    responses(
        (status = 200, body = NotebookBody),
        (status = 403, description = "A team member who is not the owner", body = ErrorBody),
        (status = 404, description = "No such notebook, or a team the caller is not in", body = ErrorBody),
    ))]
async fn share_notebook(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    PathId(id): PathId<NotebookId>,
    ApiJson(req): ApiJson<ShareRequest>,
) -> Result<Json<NotebookBody>, AppError> {
    let mut record = owned(&state, &user, id).await?;
    // A team id that does not parse is no team the caller is in.
    let team = req.team.map(|t| TeamId::from_str(&t).map_err(|_| NotebookServiceError::NoSuchTeam)).transpose()?;
    record.team = notebooks::share(&state, &user, &record, team).await?;
    Ok(Json(NotebookBody::new(&state, &user, &record)))
}

/// Creates a blank notebook (one empty code cell).
#[utoipa::path(post, path = "/api/v1/notebooks", tag = "notebooks", security(("bearer" = [])),
    request_body = NewNotebookRequest,
    responses((status = 201, body = NotebookBody), (status = 422, body = ErrorBody)))]
async fn create_notebook(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiJson(req): ApiJson<NewNotebookRequest>,
) -> Result<Response, AppError> {
    let title = req.title.as_deref().map(str::trim).filter(|t| !t.is_empty()).unwrap_or("Untitled notebook");
    let notebook = notebooks::blank(title);
    notebook.validate()?;
    let record = state.db.create_notebook(user.id, None, &notebook, crate::now()).await?;
    Ok((StatusCode::CREATED, Json(NotebookBody::new(&state, &user, &record))).into_response())
}

/// One notebook, with outputs and its kernel session.
#[utoipa::path(get, path = "/api/v1/notebooks/{id}", tag = "notebooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Notebook id")),
    responses((status = 200, body = NotebookBody), (status = 404, body = ErrorBody)))]
async fn get_notebook(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    PathId(id): PathId<NotebookId>,
) -> Result<Json<NotebookBody>, AppError> {
    let record = reachable(&state, &user, id).await?;
    Ok(Json(NotebookBody::new(&state, &user, &record)))
}

/// Saves an edit: the full ordered list of cells, made on `revision`.
#[utoipa::path(patch, path = "/api/v1/notebooks/{id}", tag = "notebooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Notebook id")),
    request_body = NotebookEdit,
    responses(
        (status = 200, body = NotebookBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The notebook was saved elsewhere since `revision`; nothing changed", body = ErrorBody),
        (status = 413, description = "A cell or the request is too large", body = ErrorBody),
        (status = 422, description = "A bad or repeated cell id, too many cells, a bad title", body = ErrorBody),
    ))]
async fn update_notebook(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    PathId(id): PathId<NotebookId>,
    ApiJson(edit): ApiJson<NotebookEdit>,
) -> Result<Json<NotebookBody>, AppError> {
    let record = reachable(&state, &user, id).await?;
    let title = edit.title.map_or_else(|| record.notebook.title.clone(), |t| t.trim().to_owned());
    let mut cells = Vec::with_capacity(edit.cells.len());
    for c in edit.cells {
        let cell_id = CellId::parse(&c.id)?;
        let metadata = match c.metadata {
            Some(m) => m,
            None => record.notebook.cell(cell_id.as_str()).map(|old| old.metadata.clone()).unwrap_or_default(),
        };
        let mut cell = Cell::new(cell_id, c.cell_type, c.source);
        cell.metadata = metadata;
        cells.push(cell);
    }
    let notebook = Notebook { title, cells };
    notebook.validate()?;
    let saved = state.db.update_notebook(record.id, edit.revision, &notebook, crate::now()).await?;
    let saved = saved.ok_or_else(|| AppError::not_found("This notebook was deleted."))?;
    Ok(Json(NotebookBody::new(&state, &user, &saved)))
}

/// Deletes a notebook (and closes its kernel session).
#[utoipa::path(delete, path = "/api/v1/notebooks/{id}", tag = "notebooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Notebook id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
async fn delete_notebook(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    PathId(id): PathId<NotebookId>,
) -> Result<StatusCode, AppError> {
    let record = owned(&state, &user, id).await?;
    notebooks::close_sessions(&state, record.id);
    state.db.delete_notebook(record.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs a code cell's saved source on the notebook's kernel (opened on the
/// first run). Answers at once; the outputs are saved to the cell when it finishes.
#[utoipa::path(post, path = "/api/v1/notebooks/{id}/cells/{cell}/run", tag = "notebooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Notebook id"), ("cell" = String, Path, description = "Cell id")),
    responses(
        (status = 202, body = RunBody),
        (status = 404, description = "No such notebook or cell", body = ErrorBody),
        (status = 409, description = "Too many open sessions", body = ErrorBody),
        (status = 422, description = "A Markdown cell", body = ErrorBody),
        (status = 503, description = "Kernels are not ready", body = ErrorBody),
    ))]
async fn run_cell(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    PathId(id): PathId<NotebookId>,
    Path((_notebook, cell)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let record = reachable(&state, &user, id).await?;
    let (session, execution) = notebooks::run_cell(&state, &user, &record, &cell).await?;
    let body = RunBody { session: session.view().into(), execution: execution.into() };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// Puts the notebook back to its lab's original: every edit and output is dropped.
#[utoipa::path(post, path = "/api/v1/notebooks/{id}/reset", tag = "notebooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Notebook id")),
    responses(
        (status = 200, body = NotebookBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "Not a copy of a lab", body = ErrorBody),
    ))]
async fn reset_notebook(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    PathId(id): PathId<NotebookId>,
) -> Result<Json<NotebookBody>, AppError> {
    let record = owned(&state, &user, id).await?;
    let slug = record.lab.as_deref().ok_or_else(|| AppError::unprocessable("This notebook is not a copy of a lab."))?;
    let lab =
        state.labs.get(slug).ok_or_else(|| AppError::not_found(format!("The lab `{slug}` is no longer offered.")))?;
    notebooks::close_sessions(&state, record.id);
    let saved = state.db.replace_notebook(record.id, &lab.notebook, crate::now()).await?;
    let saved = saved.ok_or_else(|| AppError::not_found("This notebook was deleted."))?;
    Ok(Json(NotebookBody::new(&state, &user, &saved)))
}

/// Downloads the notebook: `ipynb` (Jupyter, with outputs) or `md` (Flywheel's lab format, no outputs).
#[utoipa::path(get, path = "/api/v1/notebooks/{id}/export", tag = "notebooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Notebook id"), ("format" = Option<String>, Query, description = "`ipynb` (default) or `md`")),
    responses((status = 200, description = "The file, as an attachment"), (status = 404, body = ErrorBody)))]
async fn export_notebook(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    PathId(id): PathId<NotebookId>,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let record = reachable(&state, &user, id).await?;
    let format = q.format.unwrap_or(Format::Ipynb);
    let (text, extension, mime) = match format {
        Format::Ipynb => (ipynb::write(&record.notebook), "ipynb", "application/x-ipynb+json"),
        Format::Md => {
            let metadata = serde_json::Map::new();
            (markdown::write(&record.notebook, &metadata), "md", "text/markdown; charset=utf-8")
        }
    };
    let disposition = format!("attachment; filename=\"{}.{extension}\"", file_stem(&record.notebook.title));
    Ok(([(header::CONTENT_TYPE, mime.to_owned()), (header::CONTENT_DISPOSITION, disposition)], text).into_response())
}

/// A title as a safe file name: letters, digits and `-`.
fn file_stem(title: &str) -> String {
    let stem: String = title
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if stem.is_empty() { "notebook".to_owned() } else { stem.chars().take(80).collect() }
}

/// Makes a notebook from an uploaded file: the body is the file itself, an
/// `.ipynb` (nbformat 4) or a Flywheel Markdown notebook (`?format=md`; by
/// default a body starting with `{` is taken for `.ipynb`).
#[utoipa::path(post, path = "/api/v1/notebooks/import", tag = "notebooks", security(("bearer" = [])),
    params(
        ("format" = Option<String>, Query, description = "`ipynb` or `md`"),
        ("filename" = Option<String>, Query, description = "The file's name, for the title when it has none"),
    ),
    request_body(content = String, description = "The file", content_type = "application/x-ipynb+json"),
    responses(
        (status = 201, body = NotebookBody),
        (status = 413, description = "Larger than `max_notebook_bytes`", body = ErrorBody),
        (status = 422, description = "Not a notebook; the message names the line or field", body = ErrorBody),
    ))]
async fn import_notebook(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<FormatQuery>,
    body: Bytes,
) -> Result<Response, AppError> {
    let text = std::str::from_utf8(&body).map_err(|_| AppError::unprocessable("The file is not UTF-8 text."))?;
    let fallback = q
        .filename
        .as_deref()
        .map(|f| f.rsplit(['/', '\\']).next().unwrap_or(f))
        .map(|f| f.strip_suffix(".ipynb").or_else(|| f.strip_suffix(".md")).unwrap_or(f).trim().to_owned())
        .filter(|f| !f.is_empty() && flywheel_domain::notebook::check_title(f).is_ok())
        .unwrap_or_else(|| "Uploaded notebook".to_owned());
    let format = q.format.unwrap_or(if text.trim_start().starts_with('{') { Format::Ipynb } else { Format::Md });
    let notebook = match format {
        Format::Ipynb => ipynb::read(text, &fallback)?,
        Format::Md => markdown::parse(text)?.notebook,
    };
    let record = state.db.create_notebook(user.id, None, &notebook, crate::now()).await?;
    Ok((StatusCode::CREATED, Json(NotebookBody::new(&state, &user, &record))).into_response())
}

/// The notebook routes, to nest under `/api/v1`. Saves and uploads may be
/// as large as `max_notebook_bytes`.
pub fn router(state: &AppState) -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/labs", get(list_labs))
        .route("/progress", get(progress))
        .route("/labs/{slug}/notebook", post(lab_notebook))
        .route("/notebooks", get(list_notebooks).post(create_notebook))
        .route("/notebooks/import", post(import_notebook))
        .route("/notebooks/{id}", get(get_notebook).patch(update_notebook).delete(delete_notebook))
        .route("/notebooks/{id}/cells/{cell}/run", post(run_cell))
        .route("/notebooks/{id}/reset", post(reset_notebook))
        .route("/notebooks/{id}/export", get(export_notebook))
        .route("/notebooks/{id}/revision", get(notebook_revision))
        .route("/notebooks/{id}/team", axum::routing::put(share_notebook))
        .layer(DefaultBodyLimit::max(state.config.max_notebook_bytes))
}

/// The paths above, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    notebook_revision,
    share_notebook,
    list_labs,
    progress,
    lab_notebook,
    list_notebooks,
    create_notebook,
    get_notebook,
    update_notebook,
    delete_notebook,
    run_cell,
    reset_notebook,
    export_notebook,
    import_notebook
))]
pub struct NotebooksDoc;
