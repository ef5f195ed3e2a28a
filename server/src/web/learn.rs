//! The curriculum pages (`/learn`, `/learn/{slug}`) and the participant's
//! progress (`/progress`). Anyone may read the curriculum; progress and the
//! day pages' lab cards need an account.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use flywheel_domain::curriculum::Page as CurriculumPage;

use crate::auth::extract::CurrentUser;
use crate::curriculum::{LabProgress, StepProgress, to_html};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::notebooks::{LabItem, lab_items};
use crate::web::{Layout, Page, format_time};

/// A page in the curriculum's navigation.
pub struct NavItem {
    slug: String,
    nav: String,
    /// Steps done and in all, over a day page's labs (logged in, and the day has steps).
    progress: Option<(usize, usize)>,
}

#[derive(askama::Template)]
#[template(path = "learn.html")]
struct LearnPage {
    layout: Layout,
    page: CurriculumPage,
    pages: Vec<NavItem>,
    html: String,
    /// A day page's labs, with the participant's progress.
    items: Vec<LabItem>,
    prev: Option<(String, String)>,
    next: Option<(String, String)>,
}

#[derive(askama::Template)]
#[template(path = "progress.html")]
struct ProgressPage {
    layout: Layout,
    rows: Vec<(LabProgress, StepProgress, Option<String>)>,
    done: usize,
    total: usize,
    /// The first step not done: (lab slug, step title, lab title).
    next: Option<(String, String, String)>,
}

/// `/learn`: the curriculum's first page.
pub(super) async fn index(state: State<AppState>, layout: Layout) -> Result<Response, AppError> {
    let first = state.curriculum.first().map(|p| p.slug.clone());
    let slug = first.ok_or_else(|| AppError::not_found("No curriculum is installed on this server."))?;
    page(state, layout, Path(slug)).await
}

/// `/learn/{slug}`: one page, with the navigation and, on day pages, the
/// day's labs and the participant's progress in them.
pub(super) async fn page(
    State(state): State<AppState>,
    layout: Layout,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let all = state.curriculum.all();
    let at = all.iter().position(|p| p.slug == slug);
    let at = at.ok_or_else(|| AppError::not_found(format!("There is no curriculum page `{}`.", short(&slug))))?;
    let page = all[at].clone();
    let items = match &layout.user {
        Some(user) => lab_items(&state, user).await?,
        None => Vec::new(),
    };
    let pages = all
        .iter()
        .map(|p| {
            let day_items = || items.iter().filter(move |i| Some(i.lab.day) == p.day);
            let progress = p
                .day
                .filter(|_| !items.is_empty())
                .map(|_| (day_items().map(|i| i.progress.done).sum(), day_items().map(|i| i.progress.total).sum()))
                // A day without lab steps shows no count.
                .filter(|&(_, total): &(usize, usize)| total > 0);
            NavItem { slug: p.slug.clone(), nav: p.nav.clone(), progress }
        })
        .collect();
    let items: Vec<LabItem> = items.into_iter().filter(|i| page.day == Some(i.lab.day)).collect();
    let link = |p: &CurriculumPage| (p.slug.clone(), p.nav.clone());
    let prev = at.checked_sub(1).map(|i| link(&all[i]));
    let next = all.get(at + 1).map(link);
    let html = to_html(&page);
    Ok(Page(StatusCode::OK, LearnPage { layout, page, pages, html, items, prev, next }).into_response())
}

/// `/progress`: every lab step, done or not.
pub(super) async fn progress(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
) -> Result<Response, AppError> {
    let labs = LabProgress::all(&state.labs, &state.db.progress(user.id).await?);
    let done = labs.iter().map(|l| l.done).sum();
    let total = labs.iter().map(|l| l.total).sum();
    let next = labs
        .iter()
        .find_map(|l| l.steps.iter().find(|s| !s.done).map(|s| (l.lab.clone(), s.title.clone(), l.title.clone())));
    let rows = labs
        .iter()
        .flat_map(|l| {
            l.steps.iter().map(move |s| {
                let when = s.passed_at.map(|t| format_time(flywheel_domain::Timestamp(t)));
                (l.clone(), s.clone(), when)
            })
        })
        .collect();
    Ok(Page(StatusCode::OK, ProgressPage { layout, rows, done, total, next }).into_response())
}

fn short(s: &str) -> String {
    s.chars().take(64).collect()
}
