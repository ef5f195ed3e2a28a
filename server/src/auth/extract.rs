//! Extractors that say who is asking and enforce roles. A handler that takes
//! [`CurrentUser`] runs only for a logged-in, active account; one that takes
//! [`AdminUser`] only for an admin; [`ApiUser`]/[`ApiAdmin`] do the same on
//! the API, for bearer tokens or (from Flywheel's own pages) the session
//! cookie plus the CSRF header. Refusals: pages redirect to the log-in page (or
//! answer 403); the API answers 401/403 JSON.
//!
//! [`PathId`] parses the route's `{id}` into a typed id before any handler
//! code: a malformed id is the same 404 as an unknown one.
//!
//! [`InWorkshop`] and [`WorkshopStaff`] add the workshop of the route's
//! `{id}` as the caller may see it (`flywheel_app::workshops::Viewer`): a
//! malformed id, an unknown workshop and one the caller is not in are 404
//! before any handler code runs; `WorkshopStaff` is 403 for participants.

use axum::extract::{FromRequestParts, OriginalUri, RawPathParams};
use axum::http::Method;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum_htmx::HxRequest;
use flywheel_app::datasets::DatasetError;
use flywheel_app::notebooks::NotebookServiceError;
use flywheel_app::workshops::{self, Viewer, WorkshopError};
use flywheel_domain::{DatasetId, NotebookId, TokenSecret, User, UserId, WorkshopId};
use tower_sessions::Session as LoginSession;

use crate::auth::csrf::{self, session_error};
use crate::auth::login_sessions::keys;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::see_other;

/// The logged-in user of a web request, if any.
pub struct MaybeUser(pub Option<User>);

/// The logged-in user of a web request; others are sent to log in.
pub struct CurrentUser(pub User);

/// A logged-in admin; others get 403.
pub struct AdminUser(pub User);

/// The owner of the request's bearer token; others get 401.
pub struct ApiUser(pub User);

/// An admin authenticated by bearer token; others get 401/403.
pub struct ApiAdmin(pub User);

/// The active user whose id the session holds.
pub async fn session_user(session: &LoginSession, state: &AppState) -> Result<Option<User>, AppError> {
    let Some(id) = session.get::<UserId>(keys::USER_ID).await.map_err(session_error)? else {
        return Ok(None);
    };
    Ok(state.db.user(id).await?.filter(User::is_active))
}

/// The user looked up for this request, so that several extractors share one lookup.
#[derive(Clone)]
struct LookedUp(Option<User>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if let Some(LookedUp(user)) = parts.extensions.get::<LookedUp>() {
            return Ok(MaybeUser(user.clone()));
        }
        let session = LoginSession::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let user = session_user(&session, state).await.map_err(IntoResponse::into_response)?;
        parts.extensions.insert(LookedUp(user.clone()));
        Ok(MaybeUser(user))
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if let MaybeUser(Some(user)) = MaybeUser::from_request_parts(parts, state).await? {
            return Ok(CurrentUser(user));
        }
        let HxRequest(hx) = HxRequest::from_request_parts(parts, state).await.unwrap_or(HxRequest(false));
        let here = parts.extensions.get::<OriginalUri>().map_or_else(|| parts.uri.to_string(), |u| u.0.to_string());
        let next = form_urlencoded::byte_serialize(here.as_bytes()).collect::<String>();
        Err(see_other(hx, &format!("/login?next={next}")))
    }
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let CurrentUser(user) = CurrentUser::from_request_parts(parts, state).await?;
        require_admin(user).map(AdminUser).map_err(IntoResponse::into_response)
    }
}

fn require_admin(user: User) -> Result<User, AppError> {
    if user.role.is_admin() { Ok(user) } else { Err(AppError::forbidden("This page is for administrators only.")) }
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let unauthorized = || AppError::unauthorized("Send a valid API token: `Authorization: Bearer fw_…`.");
        let Some(header) = parts.headers.get(AUTHORIZATION) else {
            return browser_user(parts, state).await?.map(ApiUser).ok_or_else(unauthorized);
        };
        let header = header.to_str().map_err(|_| unauthorized())?;
        let (scheme, raw) = header.split_once(' ').ok_or_else(unauthorized)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(unauthorized());
        }
        let secret = TokenSecret::parse(raw.trim()).map_err(|_| unauthorized())?;
        let user = state.db.authenticate_api_token(&secret.digest(), crate::now()).await?;
        user.map(ApiUser).ok_or_else(unauthorized)
    }
}

/// The logged-in user of a browser calling the API with its session cookie
/// (the notebook page does). A state-changing call must also carry the
/// session's CSRF token in `X-CSRF-Token`, as the HTML routes require.
async fn browser_user(parts: &mut Parts, state: &AppState) -> Result<Option<User>, AppError> {
    let session = LoginSession::from_request_parts(parts, state)
        .await
        .map_err(|_| AppError::Internal(anyhow::anyhow!("the API router has no session layer")))?;
    let Some(user) = session_user(&session, state).await? else { return Ok(None) };
    if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        let presented = parts.headers.get(csrf::HEADER).and_then(|v| v.to_str().ok());
        if !csrf::matches(&session, presented).await? {
            return Err(AppError::forbidden(
                "This request did not come from a Flywheel page (no valid X-CSRF-Token). Reload the page and try again.",
            ));
        }
    }
    Ok(Some(user))
}

impl FromRequestParts<AppState> for ApiAdmin {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let ApiUser(user) = ApiUser::from_request_parts(parts, state).await?;
        require_admin(user).map(ApiAdmin)
    }
}

/// Who is asking: the user an authentication extractor found.
pub trait Caller: FromRequestParts<AppState, Rejection: IntoResponse> {
    /// The account.
    fn user(&self) -> &User;
}

impl Caller for CurrentUser {
    fn user(&self) -> &User {
        &self.0
    }
}

impl Caller for ApiUser {
    fn user(&self) -> &User {
        &self.0
    }
}

/// The workshop of the route's `{id}` as the caller `C` may see it.
pub struct InWorkshop<C> {
    /// Who is asking ([`CurrentUser`] on pages, [`ApiUser`] on the API).
    pub caller: C,
    /// The workshop, the caller's membership and whether they run it.
    pub viewer: Viewer,
}

/// As [`InWorkshop`], for a caller who runs the workshop (an instructor of
/// it, or an admin).
pub struct WorkshopStaff<C> {
    /// Who is asking.
    pub caller: C,
    /// The workshop, as its staff see it.
    pub viewer: Viewer,
}

impl<C: Caller + Send> FromRequestParts<AppState> for InWorkshop<C> {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let caller = C::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let PathId(id) = PathId::<WorkshopId>::from_request_parts(parts, state).await?;
        let viewer =
            workshops::visible(state, caller.user(), id).await.map_err(|e| AppError::from(e).into_response())?;
        Ok(InWorkshop { caller, viewer })
    }
}

impl<C: Caller + Send> FromRequestParts<AppState> for WorkshopStaff<C> {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let InWorkshop { caller, viewer } = InWorkshop::<C>::from_request_parts(parts, state).await?;
        viewer.require_staff().map_err(|e| AppError::from(e).into_response())?;
        Ok(WorkshopStaff { caller, viewer })
    }
}

/// An id a route names `{id}`, of a kind the routes take.
pub trait RouteId: std::str::FromStr + Send {
    /// The answer for an id that does not parse: the service's own "no such thing".
    fn missing() -> AppError;
}

impl RouteId for WorkshopId {
    fn missing() -> AppError {
        WorkshopError::NotFound.into()
    }
}

impl RouteId for NotebookId {
    fn missing() -> AppError {
        NotebookServiceError::NotFound.into()
    }
}

impl RouteId for DatasetId {
    fn missing() -> AppError {
        DatasetError::NotFound.into()
    }
}

impl RouteId for flywheel_domain::TrainingJobId {
    fn missing() -> AppError {
        flywheel_app::training::TrainingError::NotFound.into()
    }
}

impl RouteId for flywheel_domain::TuningJobId {
    fn missing() -> AppError {
        flywheel_app::training::TrainingError::NotFound.into()
    }
}

/// The route's `{id}`, parsed: `PathId(id): PathId<NotebookId>`. A route
/// with more parameters takes the others with `Path` beside it.
pub struct PathId<T>(pub T);

impl<T: RouteId> FromRequestParts<AppState> for PathId<T> {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let params = RawPathParams::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let id = params.iter().find(|(name, _)| *name == "id").and_then(|(_, value)| value.parse::<T>().ok());
        id.map(PathId).ok_or_else(|| T::missing().into_response())
    }
}
