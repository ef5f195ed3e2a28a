//! The lab list, the notebook list and the notebook page. The notebook page
//! is a shell: the editor (`static/notebook/`) builds the notebook from the
//! JSON embedded in the page and talks to `/api/v1/notebooks` with the
//! session cookie and CSRF header.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_htmx::HxRequest;
use flywheel_domain::{Lab, NotebookId, NotebookSummary, User};

use crate::api::notebooks::NotebookBody;
use crate::auth::extract::{CurrentUser, PathId};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{Layout, Page, format_time, see_other};
use flywheel_app::curriculum::LabProgress;
use flywheel_app::notebooks;

/// A lab as the lists show it (`partials/lab_card.html`).
pub struct LabItem {
    pub(super) lab: Lab,
    /// The user's copy, if opened before.
    pub(super) notebook: Option<String>,
    /// The user's progress through its steps.
    pub(super) progress: LabProgress,
}

/// Every lab, in agenda order, with `user`'s copy and progress.
///
/// # Errors
/// Storage failures.
pub(super) async fn lab_items(state: &AppState, user: &User) -> Result<Vec<LabItem>, AppError> {
    let mine = state.db.notebooks(user.id).await?;
    let progress = LabProgress::all(&state.labs, &state.db.progress(user.id).await?);
    Ok(state
        .labs
        .all()
        .iter()
        .zip(progress)
        .map(|(lab, progress)| {
            let notebook = mine.iter().find(|n| n.lab.as_deref() == Some(&lab.slug)).map(|n| n.id.to_string());
            LabItem { lab: lab.clone(), notebook, progress }
        })
        .collect())
}

#[derive(askama::Template)]
#[template(path = "labs.html")]
struct LabsPage {
    layout: Layout,
    days: Vec<(u8, Vec<LabItem>)>,
}

#[derive(askama::Template)]
#[template(path = "notebooks.html")]
struct NotebooksPage {
    layout: Layout,
    notebooks: Vec<(NotebookSummary, String)>,
    /// Notebooks teammates shared with the user's teams.
    shared: Vec<(NotebookSummary, String)>,
}

#[derive(askama::Template)]
#[template(path = "notebook.html")]
struct NotebookPage {
    layout: Layout,
    id: String,
    title: String,
    /// The API's JSON for the notebook, with `<` escaped so that it cannot
    /// close the `<script>` element it sits in.
    data: String,
}

pub(super) async fn labs_page(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
) -> Result<Response, AppError> {
    let mut days: Vec<(u8, Vec<LabItem>)> = Vec::new();
    for item in lab_items(&state, &user).await? {
        match days.last_mut() {
            Some((day, items)) if *day == item.lab.day => items.push(item),
            _ => days.push((item.lab.day, vec![item])),
        }
    }
    Ok(Page(StatusCode::OK, LabsPage { layout, days }).into_response())
}

/// Opens the user's copy of a lab (making it on first use) and goes there.
pub(super) async fn open_lab(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    HxRequest(hx): HxRequest,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let (record, _) = notebooks::lab_copy(&state, &user, &slug).await?;
    Ok(see_other(hx, &format!("/notebooks/{}", record.id)))
}

pub(super) async fn notebooks_page(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
) -> Result<Response, AppError> {
    let with_time = |n: NotebookSummary| {
        let when = format_time(n.updated_at);
        (n, when)
    };
    let notebooks = state.db.notebooks(user.id).await?.into_iter().map(with_time).collect();
    let shared = notebooks::shared_with(&state, &user).await?.into_iter().map(with_time).collect();
    Ok(Page(StatusCode::OK, NotebooksPage { layout, notebooks, shared }).into_response())
}

/// Makes a blank notebook and goes there.
pub(super) async fn new_notebook(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    HxRequest(hx): HxRequest,
) -> Result<Response, AppError> {
    let record = state.db.create_notebook(user.id, None, &notebooks::blank("Untitled notebook"), crate::now()).await?;
    Ok(see_other(hx, &format!("/notebooks/{}", record.id)))
}

pub(super) async fn notebook_page(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    PathId(id): PathId<NotebookId>,
) -> Result<Response, AppError> {
    let record = notebooks::reachable(&state, &user, id).await?;
    let body = NotebookBody::new(&state, &user, &record);
    let json = serde_json::to_string(&body).map_err(|e| AppError::Internal(e.into()))?;
    let data = json.replace('<', "\\u003c");
    let page = NotebookPage { layout, id: record.id.to_string(), title: record.notebook.title.clone(), data };
    Ok(Page(StatusCode::OK, page).into_response())
}
