//! CSRF protection for the HTML routes: a synchronizer token kept in the
//! session (OWASP's "synchronizer token pattern"). Every POST/PUT/PATCH/DELETE
//! must carry it, either in the `X-CSRF-Token` header (htmx sends it from the
//! page's `hx-headers`) or in a `csrf_token` form field (plain forms). The API
//! checks the same header itself when a page calls it with the session
//! cookie ([`crate::auth::extract::ApiUser`]); calls with bearer tokens need none.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;
use tower_sessions::Session as LoginSession;

use crate::auth::login_sessions::keys;
use crate::error::AppError;
use crate::state::AppState;

/// The form field that carries the token.
pub const FIELD: &str = "csrf_token";
/// The header that carries the token.
pub const HEADER: &str = "x-csrf-token";

/// The session's CSRF token, created on first use.
///
/// # Errors
/// When the session store fails.
pub async fn token(session: &LoginSession) -> Result<String, AppError> {
    if let Some(t) = session.get::<String>(keys::CSRF).await.map_err(session_error)? {
        return Ok(t);
    }
    let t = crate::random_hex::<32>()?;
    session.insert(keys::CSRF, &t).await.map_err(session_error)?;
    Ok(t)
}

/// Turns a session-store failure into an internal error.
pub fn session_error(e: tower_sessions::session::Error) -> AppError {
    AppError::Internal(anyhow::anyhow!("session store: {e}"))
}

/// Middleware: refuses a state-changing request whose token is missing or wrong (403).
pub async fn verify(
    State(state): State<AppState>,
    session: LoginSession,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(next.run(request).await);
    }
    let (request, presented) = presented_token(request, state.config.max_body_bytes).await?;
    if matches(&session, presented.as_deref()).await? {
        Ok(next.run(request).await)
    } else {
        Err(AppError::forbidden("This form has expired or did not come from Flywheel. Reload the page and try again."))
    }
}

/// Whether `presented` is the session's CSRF token (compared in constant time).
///
/// # Errors
/// When the session store fails.
pub async fn matches(session: &LoginSession, presented: Option<&str>) -> Result<bool, AppError> {
    let expected = session.get::<String>(keys::CSRF).await.map_err(session_error)?;
    Ok(match (expected, presented) {
        (Some(e), Some(p)) => bool::from(e.as_bytes().ct_eq(p.as_bytes())),
        _ => false,
    })
}

/// The token from the header, or else from a URL-encoded form body (which is
/// read, bounded by `limit`, and put back for the handler).
async fn presented_token(request: Request, limit: usize) -> Result<(Request, Option<String>), AppError> {
    if let Some(h) = request.headers().get(HEADER).and_then(|v| v.to_str().ok()) {
        let t = h.to_owned();
        return Ok((request, Some(t)));
    }
    let is_form = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((request, None));
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        AppError::with_status(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!("The request is larger than {limit} bytes."),
        )
    })?;
    let token = form_urlencoded::parse(&bytes).find(|(k, _)| k == FIELD).map(|(_, v)| v.into_owned());
    Ok((Request::from_parts(parts, Body::from(bytes)), token))
}
