//! The HTML side: askama pages, progressively enhanced with htmx.
//!
//! Every page is a full document, so it works without JavaScript; with htmx
//! the `#page` wrapper boosts links and forms into in-place swaps, and
//! redirects become `HX-Location` navigations. Each page is one askama
//! struct; [`Page`] is the one `IntoResponse` for all of them.

mod account;
mod datasets;
mod endpoints;
mod learn;
mod notebooks;
mod training;
mod workshops;

use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_htmx::HxLocation;
use flywheel_domain::User;
use tower_sessions::Session as LoginSession;

use crate::auth::extract::MaybeUser;
use crate::auth::{csrf, login_sessions};
use crate::error::{AppError, ErrorInfo, INTERNAL_MESSAGE};
use crate::state::AppState;

/// What the base layout needs on every page.
pub struct Layout {
    /// The logged-in user, for the navigation.
    pub user: Option<User>,
    /// The session's CSRF token, put into every form and into htmx's headers.
    pub csrf: String,
    /// Whether to offer sign-up.
    pub signup_enabled: bool,
}

impl FromRequestParts<AppState> for Layout {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = LoginSession::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let MaybeUser(user) = MaybeUser::from_request_parts(parts, state).await?;
        let csrf = csrf::token(&session).await.map_err(IntoResponse::into_response)?;
        Ok(Layout { user, csrf, signup_enabled: state.config.signup_enabled })
    }
}

/// An askama page with its status: the one `IntoResponse` for templates.
pub struct Page<T>(pub StatusCode, pub T);

impl<T: askama::Template> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        match self.1.render() {
            Ok(html) => (self.0, axum::response::Html(html)).into_response(),
            Err(e) => AppError::Internal(anyhow::anyhow!("rendering a page: {e}")).into_response(),
        }
    }
}

/// Sends the browser to `to`: `303 See Other`, or for an htmx request an
/// `HX-Location` navigation (so the address bar follows).
pub fn see_other(htmx: bool, to: &str) -> Response {
    if htmx { (HxLocation::from_str(to), StatusCode::OK).into_response() } else { Redirect::to(to).into_response() }
}

pub use flywheel_app::format_time;

/// The message of a service's refusal (a 4xx), to show on the form's page
/// again; any other error stays an error (an error page).
///
/// # Errors
/// The error itself when it is not a refusal.
pub fn refusal(e: impl Into<AppError>) -> Result<String, AppError> {
    match e.into() {
        AppError::Client { message, .. } => Ok(message),
        other => Err(other),
    }
}

#[derive(askama::Template)]
#[template(path = "landing.html")]
struct Landing {
    layout: Layout,
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    title: String,
    message: String,
}

async fn landing(layout: Layout) -> Response {
    if layout.user.is_some() {
        return Redirect::to("/dashboard").into_response();
    }
    Page(StatusCode::OK, Landing { layout }).into_response()
}

/// An error page with `status` and `message`.
fn error_page(status: StatusCode, message: String) -> Response {
    let layout = Layout { user: None, csrf: String::new(), signup_enabled: false };
    let title = status.canonical_reason().unwrap_or("Error").to_owned();
    Page(status, ErrorPage { layout, title, message }).into_response()
}

/// Middleware: an error answered on an HTML route becomes an error page
/// (same status and headers). The message is the [`ErrorInfo`]'s; a bare
/// error from a layer (a session store failure, a 405) gets a generic one.
async fn render_error_pages(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let message = match response.extensions().get::<ErrorInfo>() {
        Some(ErrorInfo(detail)) => detail.message.clone(),
        None if response.headers().contains_key(header::CONTENT_TYPE) => return response,
        None if status.is_server_error() => INTERNAL_MESSAGE.to_owned(),
        None if status.is_client_error() => format!("This request cannot be handled ({}).", status.as_str()),
        None => return response,
    };
    let (mut parts, _json) = response.into_parts();
    let (page_parts, body) = error_page(status, message).into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(page_parts.headers);
    Response::from_parts(parts, body)
}

/// The 404 page for unknown addresses outside `/api`.
pub async fn not_found_page() -> Response {
    error_page(StatusCode::NOT_FOUND, "There is no page at this address.".to_owned())
}

/// The HTML routes, with sessions, CSRF checks and error pages.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(landing))
        .route("/signup", get(account::signup_page).post(account::signup))
        .route("/login", get(account::login_page).post(account::login))
        .route("/logout", post(account::logout))
        .route("/dashboard", get(account::dashboard))
        .route("/account", get(account::account_page))
        .route("/account/tokens", post(account::create_token))
        .route("/account/tokens/{id}/revoke", post(account::revoke_token))
        .route("/admin/users", get(account::admin_users))
        .route("/learn", get(learn::index))
        .route("/learn/{slug}", get(learn::page))
        .route("/progress", get(learn::progress))
        .route("/labs", get(notebooks::labs_page))
        .route("/labs/{slug}/open", post(notebooks::open_lab))
        .route("/notebooks", get(notebooks::notebooks_page))
        .route("/notebooks/new", post(notebooks::new_notebook))
        .route("/notebooks/{id}", get(notebooks::notebook_page))
        .route("/data", get(datasets::data_page))
        .route("/data/{id}/project", post(datasets::start_project))
        .route("/data/{id}/delete", post(datasets::delete))
        .route("/training", get(training::training_page).post(training::submit))
        .route("/training/jobs", get(training::jobs))
        .route("/training/{id}/cancel", post(training::cancel))
        .route("/training/{id}/priority", post(training::set_priority))
        .route("/endpoints", get(endpoints::list).post(endpoints::deploy))
        .route("/endpoints/{name}", get(endpoints::show))
        .route("/endpoints/{name}/weights", post(endpoints::set_weights))
        .route("/endpoints/{name}/promote", post(endpoints::promote))
        .route("/endpoints/{name}/load-test", post(endpoints::start_load_test))
        .route("/endpoints/{name}/batch", post(endpoints::start_batch))
        .route("/endpoints/{name}/monitor", post(endpoints::set_monitor))
        .route("/endpoints/{name}/monitor/check", post(endpoints::check_monitor))
        .route("/endpoints/{name}/keys", post(endpoints::create_key))
        .route("/endpoints/{name}/keys/{id}/revoke", post(endpoints::revoke_key))
        .route("/endpoints/{name}/review-band", post(endpoints::set_review_band))
        .route("/endpoints/{name}/review", get(endpoints::review))
        .route("/endpoints/{name}/review/{inference}", post(endpoints::label))
        .route("/workshops", get(workshops::list).post(workshops::create))
        .route("/workshops/join", post(workshops::join))
        .route("/workshops/{id}", get(workshops::show))
        .route("/workshops/{id}/teams", post(workshops::create_team))
        .route("/workshops/{id}/teams/{team}/join", post(workshops::join_team))
        .route("/workshops/{id}/members/{user}/team", post(workshops::place))
        .route("/workshops/{id}/code", post(workshops::new_code))
        .route("/workshops/{id}/release", post(workshops::release))
        .route("/workshops/{id}/submissions", post(workshops::submit))
        .route("/workshops/{id}/notebooks", post(workshops::share_notebook))
        .route("/workshops/{id}/accounts", post(workshops::room_accounts))
        .route("/workshops/{id}/instructors", post(workshops::add_instructor))
        .route("/workshops/{id}/submissions/{sid}", get(workshops::show_submission))
        .route("/workshops/{id}/submissions/{sid}/grade", post(workshops::grade))
        .route("/workshops/{id}/leaderboard/{lab}", get(workshops::leaderboard))
        .route("/workshops/{id}/gradebook.csv", get(workshops::gradebook))
        .layer(middleware::from_fn_with_state(state.clone(), csrf::verify))
        .layer(login_sessions::layer(state.db.clone(), &state.config))
        .layer(middleware::from_fn(render_error_pages))
}
