//! Account pages: sign up, log in, log out, dashboard, account and API
//! tokens, and the admin's user list.

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, FromRequest, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_htmx::HxRequest;
use flywheel_domain::{ApiTokenId, User};
use serde::Deserialize;
use tower_sessions::Session as LoginSession;

use super::{Layout, Page, format_time, see_other};
use crate::auth::csrf::session_error;
use crate::auth::extract::{AdminUser, CurrentUser};
use crate::auth::login_sessions::keys;
use crate::error::AppError;
use crate::state::AppState;
use flywheel_app::accounts::{self, SignUp};
use flywheel_app::curriculum::LabProgress;

/// A URL-encoded form whose rejections are [`AppError`]s.
#[derive(FromRequest)]
#[from_request(via(Form), rejection(AppError))]
pub struct WebForm<T>(pub T);

#[derive(askama::Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    error: Option<String>,
    email: String,
    next: String,
}

#[derive(Default)]
struct FieldErrors {
    email: Option<String>,
    name: Option<String>,
    password: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "signup.html")]
struct SignupPage {
    layout: Layout,
    error: Option<String>,
    errors: FieldErrors,
    email: String,
    name: String,
    code: String,
}

#[derive(askama::Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    layout: Layout,
    user: User,
    public_url: String,
    /// The lab worked on last: (slug, title, steps done, steps in all).
    resume: Option<(String, String, usize, usize)>,
}

struct TokenRow {
    id: ApiTokenId,
    name: String,
    created: String,
    last_used: String,
    active: bool,
}

#[derive(askama::Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    user: User,
    tokens: Vec<TokenRow>,
    new_token: Option<String>,
}

struct UserRow {
    name: String,
    email: String,
    role: String,
    created: String,
    state: &'static str,
}

#[derive(askama::Template)]
#[template(path = "admin_users.html")]
struct AdminUsersPage {
    layout: Layout,
    users: Vec<UserRow>,
}

/// Where to go after logging in: a local path, never another site.
fn safe_next(next: &str) -> &str {
    let local = next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\");
    if local { next } else { "/dashboard" }
}

#[derive(Deserialize)]
pub(super) struct NextQuery {
    next: Option<String>,
}

pub(super) async fn login_page(layout: Layout, Query(q): Query<NextQuery>) -> Response {
    let next = safe_next(q.next.as_deref().unwrap_or("")).to_owned();
    if layout.user.is_some() {
        return see_other(false, &next);
    }
    Page(StatusCode::OK, LoginPage { layout, error: None, email: String::new(), next }).into_response()
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// Logs `user` in on this session, under a fresh session id (no fixation).
async fn start_session(session: &LoginSession, user: &User) -> Result<(), AppError> {
    session.cycle_id().await.map_err(session_error)?;
    session.insert(keys::USER_ID, user.id).await.map_err(session_error)
}

pub(super) async fn login(
    State(state): State<AppState>,
    HxRequest(hx): HxRequest,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: LoginSession,
    layout: Layout,
    WebForm(form): WebForm<LoginForm>,
) -> Result<Response, AppError> {
    let next = safe_next(&form.next).to_owned();
    match crate::auth::log_in(&state, &form.email, &form.password, peer.ip()).await {
        Ok(user) => {
            start_session(&session, &user).await?;
            Ok(see_other(hx, &next))
        }
        Err(AppError::Client { status, message, retry_after }) => {
            let page = LoginPage { layout, error: Some(message), email: form.email, next };
            let mut response = Page(status, page).into_response();
            if let Some(secs) = retry_after {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            Ok(response)
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub(super) struct CodeQuery {
    #[serde(default)]
    code: String,
}

/// The sign-up form; with open sign-up off it still takes people who have
/// a workshop's join code (`/signup?code=…` fills it in).
pub(super) async fn signup_page(layout: Layout, Query(q): Query<CodeQuery>) -> Result<Response, AppError> {
    if layout.user.is_some() {
        return Ok(see_other(false, "/dashboard"));
    }
    let page = SignupPage {
        layout,
        error: None,
        errors: FieldErrors::default(),
        email: String::new(),
        name: String::new(),
        code: q.code,
    };
    Ok(Page(StatusCode::OK, page).into_response())
}

#[derive(Deserialize)]
pub(super) struct SignupForm {
    email: String,
    name: String,
    password: String,
    #[serde(default)]
    code: String,
}

pub(super) async fn signup(
    State(state): State<AppState>,
    HxRequest(hx): HxRequest,
    session: LoginSession,
    layout: Layout,
    WebForm(form): WebForm<SignupForm>,
) -> Result<Response, AppError> {
    let page = |layout, status, error, errors| {
        let page = SignupPage {
            layout,
            error,
            errors,
            email: form.email.clone(),
            name: form.name.clone(),
            code: form.code.clone(),
        };
        Ok(Page(status, page).into_response())
    };
    let checked = match SignUp::parse(&form.email, &form.name, &form.password) {
        Ok(checked) => checked,
        Err(problems) => {
            let mut errors = FieldErrors::default();
            for p in problems {
                let slot = match p.field {
                    "email" => &mut errors.email,
                    "name" => &mut errors.name,
                    _ => &mut errors.password,
                };
                *slot = Some(p.message);
            }
            let summary = Some("Please correct the fields marked below.".to_owned());
            return page(layout, StatusCode::UNPROCESSABLE_ENTITY, summary, errors);
        }
    };
    match accounts::sign_up(&state, checked, Some(&form.code)).await.map_err(AppError::from) {
        Ok((user, workshop)) => {
            start_session(&session, &user).await?;
            Ok(see_other(hx, &workshop.map_or_else(|| "/dashboard".to_owned(), |w| format!("/workshops/{}", w.id))))
        }
        Err(AppError::Client { status, message, .. })
            if matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY) =>
        {
            page(layout, status, Some(message), FieldErrors::default())
        }
        Err(AppError::Client { status: StatusCode::CONFLICT, .. }) => {
            let errors = FieldErrors {
                email: Some("already has an account. Log in instead?".to_owned()),
                ..FieldErrors::default()
            };
            page(layout, StatusCode::CONFLICT, None, errors)
        }
        Err(e) => Err(e),
    }
}

pub(super) async fn logout(HxRequest(hx): HxRequest, session: LoginSession) -> Result<Response, AppError> {
    session.flush().await.map_err(session_error)?;
    Ok(see_other(hx, "/"))
}

pub(super) async fn dashboard(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
) -> Result<Response, AppError> {
    let public_url = state.config.effective_public_url();
    // Notebooks come most recently changed first: the first lab copy is where the learner left off.
    let last =
        state.db.notebooks(user.id).await?.into_iter().find_map(|n| n.lab).and_then(|s| state.labs.get(&s).cloned());
    let resume = match last {
        Some(lab) => {
            let p = LabProgress::all(&state.labs, &state.db.progress(user.id).await?)
                .into_iter()
                .find(|p| p.lab == lab.slug)
                .map_or((0, 0), |p| (p.done, p.total));
            Some((lab.slug, lab.title, p.0, p.1))
        }
        None => None,
    };
    Ok(Page(StatusCode::OK, Dashboard { layout, user, public_url, resume }).into_response())
}

async fn account_response(
    state: &AppState,
    status: StatusCode,
    layout: Layout,
    user: User,
    new_token: Option<String>,
) -> Result<Response, AppError> {
    let tokens = state
        .db
        .api_tokens(user.id)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            created: format_time(t.created_at),
            last_used: t.last_used_at.map_or_else(|| "never".to_owned(), format_time),
            active: t.revoked_at.is_none(),
            name: t.name,
        })
        .collect();
    Ok(Page(status, AccountPage { layout, user, tokens, new_token }).into_response())
}

pub(super) async fn account_page(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
) -> Result<Response, AppError> {
    account_response(&state, StatusCode::OK, layout, user, None).await
}

#[derive(Deserialize)]
pub(super) struct TokenForm {
    #[serde(default)]
    name: String,
}

/// Creates a token and shows its secret once, on the answer to this POST
/// (the secret is never stored, not even in the session).
pub(super) async fn create_token(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
    WebForm(form): WebForm<TokenForm>,
) -> Result<Response, AppError> {
    let (_token, secret) = accounts::issue_token(&state, &user, &form.name).await?;
    account_response(&state, StatusCode::CREATED, layout, user, Some(secret.expose().to_owned())).await
}

pub(super) async fn revoke_token(
    State(state): State<AppState>,
    HxRequest(hx): HxRequest,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let not_found = || AppError::not_found("You have no such API token.");
    let id: ApiTokenId = id.parse().map_err(|_| not_found())?;
    if !state.db.revoke_api_token(user.id, id, crate::now()).await? {
        return Err(not_found());
    }
    Ok(see_other(hx, "/account"))
}

pub(super) async fn admin_users(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    layout: Layout,
) -> Result<Response, AppError> {
    let users = state
        .db
        .users()
        .await?
        .into_iter()
        .map(|u| UserRow {
            state: if u.is_active() { "active" } else { "disabled" },
            created: format_time(u.created_at),
            name: u.name.to_string(),
            email: u.email.to_string(),
            role: u.role.to_string(),
        })
        .collect();
    Ok(Page(StatusCode::OK, AdminUsersPage { layout, users }).into_response())
}
