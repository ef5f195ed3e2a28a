//! `/api/v1/datasets`: "your own data" — CSV uploads into the caller's
//! workspace, checked, private (anyone else gets 404), readable from the
//! caller's kernels as `data/<name>`, and a project notebook made on one.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use flywheel_domain::dataset::{BadRow, ColumnSummary, CsvReport};
use flywheel_domain::{DatasetId, DatasetRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::ApiJson;
use crate::api::notebooks::NotebookBody;
use crate::auth::extract::{ApiUser, PathId};
use crate::error::{AppError, ErrorBody};
use crate::state::AppState;
use flywheel_app::datasets::{self, Task};

/// A column of a dataset.
#[derive(Debug, Serialize, ToSchema)]
pub struct ColumnBody {
    /// The header's name.
    pub name: String,
    /// `number` (every non-empty cell parses as one) or `text`.
    #[schema(example = "number")]
    pub kind: String,
    /// Empty cells.
    pub missing: u64,
}

impl From<&ColumnSummary> for ColumnBody {
    fn from(c: &ColumnSummary) -> Self {
        let kind = match c.kind {
            flywheel_domain::dataset::ColumnKind::Number => "number",
            flywheel_domain::dataset::ColumnKind::Text => "text",
        };
        Self { name: c.name.clone(), kind: kind.to_owned(), missing: c.missing }
    }
}

/// A dataset in the caller's workspace.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetBody {
    /// Its id.
    pub id: String,
    /// The file name.
    #[schema(example = "churn.csv")]
    pub name: String,
    /// Where a kernel cell opens it: `Table::read_csv("data/churn.csv")`.
    #[schema(example = "data/churn.csv")]
    pub path: String,
    /// Size of the stored CSV, bytes.
    pub size_bytes: u64,
    /// Rows (the header not counted).
    pub rows: u64,
    /// Its columns.
    pub columns: Vec<ColumnBody>,
    /// When it was uploaded, Unix milliseconds.
    pub created_at: i64,
}

impl From<&DatasetRecord> for DatasetBody {
    fn from(r: &DatasetRecord) -> Self {
        Self {
            id: r.id.to_string(),
            name: r.name.to_string(),
            path: format!("{}/{}", flywheel_kernel_manager::DATA_DIR, r.name),
            size_bytes: r.size_bytes,
            rows: r.rows,
            columns: r.columns.iter().map(ColumnBody::from).collect(),
            created_at: r.created_at.millis(),
        }
    }
}

/// A row left out of an upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct BadRowBody {
    /// Its line in the file (1 is the header).
    pub line: u64,
    /// What is wrong with it.
    pub message: String,
}

/// What the check of an upload found.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadBody {
    /// The stored dataset.
    pub dataset: DatasetBody,
    /// Rows left out because they could not be read.
    pub bad_row_count: u64,
    /// The first 20 of them.
    pub bad_rows: Vec<BadRowBody>,
}

impl UploadBody {
    fn new(record: &DatasetRecord, report: &CsvReport) -> Self {
        let bad = |b: &BadRow| BadRowBody { line: b.line, message: b.message.clone() };
        Self {
            dataset: DatasetBody::from(record),
            bad_row_count: report.bad_row_count,
            bad_rows: report.bad_rows.iter().map(bad).collect(),
        }
    }
}

/// How an upload is named and treated.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UploadQuery {
    /// The file's name (becomes the dataset's name, e.g. `Sales 2024.csv` → `Sales-2024.csv`).
    pub filename: String,
    /// Store the file without the rows that cannot be read (default: refuse the upload).
    #[serde(default)]
    pub drop_bad_rows: bool,
}

/// What a project notebook predicts.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProjectRequest {
    /// The column to predict.
    pub target: String,
    /// `classification` or `regression`.
    pub task: TaskBody,
}

/// What a project predicts.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskBody {
    /// A class: text, or a few distinct numbers.
    Classification,
    /// A number.
    Regression,
}

impl From<TaskBody> for Task {
    fn from(t: TaskBody) -> Self {
        match t {
            TaskBody::Classification => Task::Classification,
            TaskBody::Regression => Task::Regression,
        }
    }
}

/// The caller's datasets, by name.
#[utoipa::path(get, path = "/api/v1/datasets", tag = "datasets", security(("bearer" = [])),
    responses((status = 200, body = Vec<DatasetBody>), (status = 401, body = ErrorBody)))]
async fn list_datasets(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<DatasetBody>>, AppError> {
    Ok(Json(state.db.datasets(user.id).await?.iter().map(DatasetBody::from).collect()))
}

/// Uploads a CSV file (the request body) into the caller's workspace. It
/// is checked first: UTF-8, a header of distinct names, every row with as
/// many fields as the header. It is then readable from the caller's
/// kernel sessions, open ones included, as `data/<name>`.
#[utoipa::path(post, path = "/api/v1/datasets", tag = "datasets", security(("bearer" = [])),
    params(UploadQuery),
    request_body(content = String, content_type = "text/csv"),
    responses(
        (status = 201, body = UploadBody),
        (status = 409, description = "The caller has a dataset of that name", body = ErrorBody),
        (status = 413, description = "Larger than `max_dataset_bytes`", body = ErrorBody),
        (status = 422, description = "Not a CSV file name; not UTF-8; no header or no rows; bad rows (listed by line) without `drop_bad_rows`", body = ErrorBody),
    ))]
async fn upload_dataset(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<UploadQuery>,
    body: Bytes,
) -> Result<Response, AppError> {
    let (record, report) = datasets::upload(&state, &user, &q.filename, &body, q.drop_bad_rows).await?;
    Ok((StatusCode::CREATED, Json(UploadBody::new(&record, &report))).into_response())
}

/// One of the caller's datasets.
#[utoipa::path(get, path = "/api/v1/datasets/{id}", tag = "datasets", security(("bearer" = [])),
    params(("id" = String, Path, description = "Dataset id")),
    responses((status = 200, body = DatasetBody), (status = 404, body = ErrorBody)))]
async fn get_dataset(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    PathId(id): PathId<DatasetId>,
) -> Result<Json<DatasetBody>, AppError> {
    Ok(Json(DatasetBody::from(&datasets::owned(&state, &user, id).await?)))
}

/// Downloads the stored CSV (without any rows dropped at upload).
#[utoipa::path(get, path = "/api/v1/datasets/{id}/csv", tag = "datasets", security(("bearer" = [])),
    params(("id" = String, Path, description = "Dataset id")),
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = ErrorBody)))]
async fn download_dataset(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    PathId(id): PathId<DatasetId>,
) -> Result<Response, AppError> {
    let record = datasets::owned(&state, &user, id).await?;
    let text = datasets::content(&state, &record).await?;
    let disposition = format!("attachment; filename=\"{}\"", record.name);
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)],
        text,
    )
        .into_response())
}

/// Deletes one of the caller's datasets (and takes it out of their kernel sessions).
#[utoipa::path(delete, path = "/api/v1/datasets/{id}", tag = "datasets", security(("bearer" = [])),
    params(("id" = String, Path, description = "Dataset id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
async fn delete_dataset(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    PathId(id): PathId<DatasetId>,
) -> Result<StatusCode, AppError> {
    let record = datasets::owned(&state, &user, id).await?;
    datasets::delete(&state, &user, &record).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Makes the caller a project notebook on the dataset from the project
/// template: load, describe, features, split, baseline, linear learner,
/// boosted trees, save — Day 1 to 3 on their own data.
#[utoipa::path(post, path = "/api/v1/datasets/{id}/notebook", tag = "datasets", security(("bearer" = [])),
    params(("id" = String, Path, description = "Dataset id")),
    request_body = ProjectRequest,
    responses(
        (status = 201, body = NotebookBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "No such column; a regression on a text column", body = ErrorBody),
    ))]
async fn project_notebook(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    PathId(id): PathId<DatasetId>,
    ApiJson(req): ApiJson<ProjectRequest>,
) -> Result<Response, AppError> {
    let record = datasets::owned(&state, &user, id).await?;
    let notebook = datasets::project_notebook(&state, &user, &record, &req.target, req.task.into()).await?;
    Ok((StatusCode::CREATED, Json(NotebookBody::new(&state, &user, &notebook))).into_response())
}

/// The dataset routes, to nest under `/api/v1`. Bodies up to twice
/// `max_dataset_bytes` reach the check, which says how large the file is and
/// what the limit is; larger ones are cut off with a bare 413.
pub fn router(state: &AppState) -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/datasets", get(list_datasets).post(upload_dataset))
        .route("/datasets/{id}", get(get_dataset).delete(delete_dataset))
        .route("/datasets/{id}/csv", get(download_dataset))
        .route("/datasets/{id}/notebook", post(project_notebook))
        .layer(DefaultBodyLimit::max(state.config.max_dataset_bytes.saturating_mul(2)))
}

/// The paths above, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_datasets, upload_dataset, get_dataset, download_dataset, delete_dataset, project_notebook),
    tags((name = "datasets", description = "Your own data: CSV uploads readable from your kernels as data/<name>, and project notebooks on them")),
)]
pub struct DatasetsDoc;
