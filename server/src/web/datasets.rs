//! "My data" (`/data`): the participant's uploaded datasets, the upload
//! form (through `POST /api/v1/datasets`, see `static/upload.js`), and a
//! project notebook started on one.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_htmx::HxRequest;
use flywheel_domain::dataset::ColumnKind;
use flywheel_domain::{DatasetId, DatasetRecord};
use serde::Deserialize;

use super::{Layout, Page, format_time, see_other};
use crate::auth::extract::{CurrentUser, PathId};
use crate::error::AppError;
use crate::state::AppState;
use flywheel_app::datasets::{self, Task};

/// A dataset as the page lists it.
struct Row {
    record: DatasetRecord,
    uploaded: String,
    size: String,
    /// Column names with their kind, for the target picker.
    columns: Vec<(String, &'static str)>,
}

#[derive(askama::Template)]
#[template(path = "data.html")]
struct DataPage {
    layout: Layout,
    rows: Vec<Row>,
    max_bytes: String,
}

pub(super) async fn data_page(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
) -> Result<Response, AppError> {
    let rows = state
        .db
        .datasets(user.id)
        .await?
        .into_iter()
        .map(|record| Row {
            uploaded: format_time(record.created_at),
            size: flywheel_kernel_manager::human_bytes(usize::try_from(record.size_bytes).unwrap_or(usize::MAX)),
            columns: record
                .columns
                .iter()
                .map(|c| (c.name.clone(), if c.kind == ColumnKind::Number { "number" } else { "text" }))
                .collect(),
            record,
        })
        .collect();
    let max_bytes = flywheel_kernel_manager::human_bytes(state.config.max_dataset_bytes);
    Ok(Page(StatusCode::OK, DataPage { layout, rows, max_bytes }).into_response())
}

#[derive(Deserialize)]
pub(super) struct ProjectForm {
    target: String,
    task: Task,
}

/// Makes a project notebook on the dataset and goes there.
pub(super) async fn start_project(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    HxRequest(hx): HxRequest,
    PathId(id): PathId<DatasetId>,
    Form(form): Form<ProjectForm>,
) -> Result<Response, AppError> {
    let record = datasets::owned(&state, &user, id).await?;
    let notebook = datasets::project_notebook(&state, &user, &record, &form.target, form.task).await?;
    Ok(see_other(hx, &format!("/notebooks/{}", notebook.id)))
}

/// Deletes the dataset and comes back to the list.
pub(super) async fn delete(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    HxRequest(hx): HxRequest,
    PathId(id): PathId<DatasetId>,
) -> Result<Response, AppError> {
    let record = datasets::owned(&state, &user, id).await?;
    datasets::delete(&state, &user, &record).await?;
    Ok(see_other(hx, "/data"))
}
