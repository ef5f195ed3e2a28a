//! "Your own data": CSV files a participant uploads into their workspace.
//! An upload is checked (`flywheel_domain::dataset::check_csv`) before
//! anything is stored; it is private to its owner (anyone else gets 404),
//! and copied into each of the owner's kernel sessions as `data/<name>`,
//! where `Table::read_csv("data/<name>")` opens it. A project notebook made
//! from a template (`labs/project/`) walks the three days on it.

use std::str::FromStr;
use std::sync::Arc;

use flywheel_domain::dataset::{BAD_ROWS_LISTED, ColumnKind, CsvReport, check_csv};
use flywheel_domain::notebook::markdown;
use flywheel_domain::{DatasetId, DatasetName, DatasetRecord, Notebook, NotebookRecord, User};
use flywheel_kernel_manager::Session;
use flywheel_store::StoreError;

use crate::error::AppError;
use crate::state::AppState;

/// Checks and stores an upload, and puts it into the owner's open kernel
/// sessions. With `drop_bad_rows`, rows that do not read are left out (the
/// report says which); without, any bad row refuses the upload.
///
/// # Errors
/// 413 over `max_dataset_bytes`; 422 for a name that is not a CSV file
/// name, a file that is not a table, or bad rows (listed by line); 409 when
/// the owner has a dataset of that name. Nothing is stored on any error.
pub async fn upload(
    state: &AppState,
    user: &User,
    file_name: &str,
    bytes: &[u8],
    drop_bad_rows: bool,
) -> Result<(DatasetRecord, CsvReport), AppError> {
    let limit = state.config.max_dataset_bytes;
    if bytes.len() > limit {
        return Err(AppError::with_status(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!("The file is {} bytes; the largest dataset accepted is {limit} bytes.", bytes.len()),
        ));
    }
    let name = DatasetName::from_file_name(file_name)
        .map_err(|e| AppError::unprocessable(format!("The file name {file_name:?} {}.", e.message)))?;
    let (report, content) = check_csv(bytes).map_err(|e| AppError::unprocessable(format!("{name}: {e}.")))?;
    if report.bad_row_count > 0 && !drop_bad_rows {
        return Err(AppError::unprocessable(bad_rows_message(&name, &report)));
    }
    let record = DatasetRecord {
        id: DatasetId(uuid::Uuid::new_v4()),
        owner: user.id,
        name,
        size_bytes: content.len() as u64,
        rows: report.rows,
        columns: report.columns.clone(),
        created_at: crate::now(),
    };
    state.db.create_dataset(&record, &content).await.map_err(|e| match e {
        StoreError::Conflict(_) => AppError::conflict(format!(
            "You already have a dataset named {}. Delete it first, or rename the file.",
            record.name
        )),
        other => other.into(),
    })?;
    let content: Arc<str> = Arc::from(content);
    for session in state.kernels.sessions(user.id) {
        session.put_file(record.name.as_str(), content.clone());
    }
    tracing::info!(user = %user.id, dataset = %record.id, name = %record.name, rows = record.rows, bad_rows = report.bad_row_count, "dataset uploaded");
    Ok((record, report))
}

/// Why an upload with bad rows was refused: the first rows by line.
fn bad_rows_message(name: &DatasetName, report: &CsvReport) -> String {
    let shown: Vec<String> =
        report.bad_rows.iter().take(5).map(|b| format!("line {}: {}", b.line, b.message)).collect();
    let more = if report.bad_row_count > shown.len() as u64 {
        format!(" and {} more", report.bad_row_count - shown.len() as u64)
    } else {
        String::new()
    };
    format!(
        "{name}: {} of {} rows cannot be read ({}{more}). Fix the file, or upload it again choosing to drop the bad rows (the first {BAD_ROWS_LISTED} are listed in the report).",
        report.bad_row_count,
        report.rows + report.bad_row_count,
        shown.join("; ")
    )
}

/// The caller's dataset `id`; 404 for a malformed, unknown or foreign id.
///
/// # Errors
/// 404; storage failures.
pub async fn owned(state: &AppState, user: &User, id: &str) -> Result<DatasetRecord, AppError> {
    let not_found = || AppError::not_found("There is no such dataset.");
    let id = DatasetId::from_str(id).map_err(|_| not_found())?;
    match state.db.dataset(id).await? {
        Some(record) if record.owner == user.id => Ok(record),
        _ => Err(not_found()),
    }
}

/// The stored CSV of a dataset the caller owns.
///
/// # Errors
/// As [`owned`].
pub async fn content(state: &AppState, record: &DatasetRecord) -> Result<String, AppError> {
    state.db.dataset_content(record.id).await?.ok_or_else(|| AppError::not_found("There is no such dataset."))
}

/// Deletes a dataset the caller owns and takes it out of their sessions.
///
/// # Errors
/// Storage failures.
pub async fn delete(state: &AppState, user: &User, record: &DatasetRecord) -> Result<(), AppError> {
    state.db.delete_dataset(record.id).await?;
    for session in state.kernels.sessions(user.id) {
        session.remove_file(record.name.as_str());
    }
    Ok(())
}

/// Puts every dataset of `user` into a new session's `data/` folder.
/// Called before the session's first cell is queued; a storage failure is
/// logged (the cell that opens a file then says it is missing).
pub async fn share_with(state: &AppState, user: &User, session: &Session) {
    let datasets = match state.db.datasets(user.id).await {
        Ok(d) => d,
        Err(e) => return tracing::error!(user = %user.id, error = %e, "could not list datasets for a session"),
    };
    for record in datasets {
        match state.db.dataset_content(record.id).await {
            Ok(Some(content)) => session.put_file(record.name.as_str(), Arc::from(content)),
            Ok(None) => {}
            Err(e) => tracing::error!(dataset = %record.id, error = %e, "could not read a dataset for a session"),
        }
    }
}

/// What a project predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// A class: text, or a few distinct numbers.
    Classification,
    /// A number.
    Regression,
}

impl Task {
    fn template(self) -> &'static str {
        match self {
            Self::Classification => "classification.md",
            Self::Regression => "regression.md",
        }
    }
}

/// Makes the caller a project notebook on `record`, predicting `target`,
/// from the project template (`<labs_dir>/project/<task>.md`).
///
/// # Errors
/// 422 for a target that is not a column, or a numeric task on a text
/// column; 503 when the template is missing; storage failures.
pub async fn project_notebook(
    state: &AppState,
    user: &User,
    record: &DatasetRecord,
    target: &str,
    task: Task,
) -> Result<NotebookRecord, AppError> {
    let column = record.columns.iter().find(|c| c.name == target).ok_or_else(|| {
        let names: Vec<&str> = record.columns.iter().map(|c| c.name.as_str()).collect();
        AppError::unprocessable(format!(
            "{} has no column {target:?}; its columns are {}.",
            record.name,
            names.join(", ")
        ))
    })?;
    if target.chars().any(char::is_control) {
        return Err(AppError::unprocessable(
            "The target column's name holds a line break or another control character; rename it in the file.",
        ));
    }
    if task == Task::Regression && column.kind != ColumnKind::Number {
        return Err(AppError::unprocessable(format!(
            "Column {target:?} holds text: a regression predicts a number. Choose classification, or another column."
        )));
    }
    let notebook = project_template(state, task, record, target)?;
    Ok(state.db.create_notebook(user.id, None, &notebook, crate::now()).await?)
}

fn project_template(state: &AppState, task: Task, record: &DatasetRecord, target: &str) -> Result<Notebook, AppError> {
    let path = state.config.labs_dir.join("project").join(task.template());
    let text = std::fs::read_to_string(&path).map_err(|e| {
        tracing::error!(path = %path.display(), error = %e, "project template missing");
        AppError::unavailable("The project template is missing on this server.")
    })?;
    // The target is a CSV header: it may hold quotes or backslashes, which
    // the template writes inside a Rust string literal.
    let literal = target.replace('\\', "\\\\").replace('"', "\\\"");
    let filled = text.replace("__DATASET__", record.name.as_str()).replace("__TARGET__", &literal);
    let mut notebook = markdown::parse(&filled)
        .map_err(|e| {
            tracing::error!(path = %path.display(), error = %e, "project template does not parse");
            AppError::unavailable("The project template on this server is broken.")
        })?
        .notebook;
    notebook.title = format!("Project: {target} from {}", record.name).chars().take(200).collect();
    Ok(notebook)
}
