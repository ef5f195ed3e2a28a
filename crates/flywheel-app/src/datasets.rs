//! "Your own data": CSV files a participant uploads into their workspace.
//! An upload is checked (`flywheel_domain::dataset::check_csv`) before
//! anything is stored; it is private to its owner (anyone else is told it does not exist),
//! and copied into each of the owner's kernel sessions as `data/<name>`,
//! where `Table::read_csv("data/<name>")` opens it. A project notebook made
//! from a template (`labs/project/`) walks the three days on it.

use std::sync::Arc;

use flywheel_domain::dataset::{BAD_ROWS_LISTED, ColumnKind, CsvReport, check_csv};
use flywheel_domain::notebook::markdown;
use flywheel_domain::{DatasetId, DatasetName, DatasetRecord, Notebook, NotebookRecord, User};
use flywheel_kernel_manager::KernelSession;
use flywheel_store::StoreError;

use crate::App;

/// Why a dataset operation did not happen. Nothing is stored on any of them.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The upload is over `max_dataset_bytes`.
    #[error("The file is {size} bytes; the largest dataset accepted is {limit} bytes.")]
    TooLarge {
        /// The upload's size, in bytes.
        size: usize,
        /// The largest accepted, in bytes.
        limit: usize,
    },
    /// The file name, the file, its rows or the project's target column
    /// cannot be used; the message says why and what to do.
    #[error("{0}")]
    Invalid(String),
    /// The owner already has a dataset of this name.
    #[error("You already have a dataset named {0}. Delete it first, or rename the file.")]
    NameTaken(DatasetName),
    /// No such dataset, or not the caller's (the same answer, so that
    /// others' datasets are not even confirmed to exist).
    #[error("There is no such dataset.")]
    NotFound,
    /// The project template is missing or does not parse on this server
    /// (logged with its path).
    #[error("The project template is missing or broken on this server.")]
    TemplateUnavailable,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks and stores an upload, and puts it into the owner's open kernel
/// sessions. With `drop_bad_rows`, rows that do not read are left out (the
/// report says which); without, any bad row refuses the upload.
///
/// # Errors
/// [`DatasetError::TooLarge`] over `max_dataset_bytes`;
/// [`DatasetError::Invalid`] for a name that is not a CSV file name, a file
/// that is not a table, or bad rows (listed by line);
/// [`DatasetError::NameTaken`]. Nothing is stored on any error.
pub async fn upload(
    app: &App,
    user: &User,
    file_name: &str,
    bytes: &[u8],
    drop_bad_rows: bool,
) -> Result<(DatasetRecord, CsvReport), DatasetError> {
    let limit = app.settings.max_dataset_bytes;
    if bytes.len() > limit {
        return Err(DatasetError::TooLarge { size: bytes.len(), limit });
    }
    let name = DatasetName::from_file_name(file_name)
        .map_err(|e| DatasetError::Invalid(format!("The file name {file_name:?} {}.", e.message)))?;
    let (report, content) = check_csv(bytes).map_err(|e| DatasetError::Invalid(format!("{name}: {e}.")))?;
    if report.bad_row_count > 0 && !drop_bad_rows {
        return Err(DatasetError::Invalid(bad_rows_message(&name, &report)));
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
    app.db.create_dataset(&record, &content).await.map_err(|e| match e {
        StoreError::Conflict(_) => DatasetError::NameTaken(record.name.clone()),
        other => other.into(),
    })?;
    let content: Arc<str> = Arc::from(content);
    for session in app.kernels.sessions(user.id) {
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

/// The caller's dataset `id`.
///
/// # Errors
/// [`DatasetError::NotFound`] for an unknown or foreign id (the server
/// answers a malformed one the same, before calling); storage failures.
pub async fn owned(app: &App, user: &User, id: DatasetId) -> Result<DatasetRecord, DatasetError> {
    match app.db.dataset(id).await? {
        Some(record) if record.owner == user.id => Ok(record),
        _ => Err(DatasetError::NotFound),
    }
}

/// The stored CSV of a dataset the caller owns.
///
/// # Errors
/// As [`owned`].
pub async fn content(app: &App, record: &DatasetRecord) -> Result<String, DatasetError> {
    app.db.dataset_content(record.id).await?.ok_or(DatasetError::NotFound)
}

/// Deletes a dataset the caller owns and takes it out of their sessions.
///
/// # Errors
/// Storage failures.
pub async fn delete(app: &App, user: &User, record: &DatasetRecord) -> Result<(), DatasetError> {
    app.db.delete_dataset(record.id).await?;
    for session in app.kernels.sessions(user.id) {
        session.remove_file(record.name.as_str());
    }
    Ok(())
}

/// Puts every dataset of `user` into a new session's `data/` folder.
/// Called before the session's first cell is queued; a storage failure is
/// logged (the cell that opens a file then says it is missing).
pub async fn share_with(app: &App, user: &User, session: &KernelSession) {
    let datasets = match app.db.datasets(user.id).await {
        Ok(d) => d,
        Err(e) => return tracing::error!(user = %user.id, error = %e, "could not list datasets for a session"),
    };
    for record in datasets {
        match app.db.dataset_content(record.id).await {
            Ok(Some(content)) => session.put_file(record.name.as_str(), Arc::from(content)),
            Ok(None) => {}
            Err(e) => tracing::error!(dataset = %record.id, error = %e, "could not read a dataset for a session"),
        }
    }
}

/// What a project predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
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
/// [`DatasetError::Invalid`] for a target that is not a column, or a
/// numeric task on a text column; [`DatasetError::TemplateUnavailable`];
/// storage failures.
pub async fn project_notebook(
    app: &App,
    user: &User,
    record: &DatasetRecord,
    target: &str,
    task: Task,
) -> Result<NotebookRecord, DatasetError> {
    let column = record.columns.iter().find(|c| c.name == target).ok_or_else(|| {
        let names: Vec<&str> = record.columns.iter().map(|c| c.name.as_str()).collect();
        DatasetError::Invalid(format!(
            "{} has no column {target:?}; its columns are {}.",
            record.name,
            names.join(", ")
        ))
    })?;
    if target.chars().any(char::is_control) {
        return Err(DatasetError::Invalid(
            "The target column's name holds a line break or another control character; rename it in the file."
                .to_owned(),
        ));
    }
    if task == Task::Regression && column.kind != ColumnKind::Number {
        return Err(DatasetError::Invalid(format!(
            "Column {target:?} holds text: a regression predicts a number. Choose classification, or another column."
        )));
    }
    let notebook = project_template(app, task, record, target)?;
    Ok(app.db.create_notebook(user.id, None, &notebook, crate::now()).await?)
}

fn project_template(app: &App, task: Task, record: &DatasetRecord, target: &str) -> Result<Notebook, DatasetError> {
    let path = app.settings.labs_dir.join("project").join(task.template());
    let text = std::fs::read_to_string(&path).map_err(|e| {
        tracing::error!(path = %path.display(), error = %e, "project template missing");
        DatasetError::TemplateUnavailable
    })?;
    // The target is a CSV header: it may hold quotes or backslashes, which
    // the template writes inside a Rust string literal.
    let literal = target.replace('\\', "\\\\").replace('"', "\\\"");
    let filled = text.replace("__DATASET__", record.name.as_str()).replace("__TARGET__", &literal);
    let mut notebook = markdown::parse(&filled)
        .map_err(|e| {
            tracing::error!(path = %path.display(), error = %e, "project template does not parse");
            DatasetError::TemplateUnavailable
        })?
        .notebook;
    notebook.title = format!("Project: {target} from {}", record.name).chars().take(200).collect();
    Ok(notebook)
}
