//! The REST API under `/api/v1`: JSON in and out, authenticated by personal
//! API tokens (`Authorization: Bearer fw_…`), errors as
//! `{ "error": { "code", "message" } }`. The OpenAPI 3 document at
//! `/api/openapi.json` is generated from these handlers' annotations.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use flywheel_domain::{ApiToken, ApiTokenId, User};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::auth::extract::{ApiAdmin, ApiUser};
use crate::error::{AppError, ErrorBody};
use crate::state::AppState;
use flywheel_app::accounts::{self, SignUp};

pub mod datasets;
pub mod endpoints;
pub mod notebooks;
pub mod sessions;
pub mod training;
pub mod workers;
pub mod workshops;

/// A JSON body whose rejections are [`AppError`]s (400 unreadable, 413 too
/// large, 415 not JSON, 422 wrong fields).
#[derive(FromRequest)]
#[from_request(via(Json), rejection(AppError))]
pub struct ApiJson<T>(pub T);

/// A user account.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBody {
    /// Stable id (UUID).
    #[schema(example = "0b5e7c1a-2f5e-4c59-9a53-2d0c2f1f4f7e")]
    pub id: String,
    /// Login address.
    #[schema(example = "ada@example.org")]
    pub email: String,
    /// Display name.
    #[schema(example = "Ada Lovelace")]
    pub name: String,
    /// `participant`, `instructor` or `admin`.
    #[schema(example = "participant")]
    pub role: String,
}

impl From<User> for UserBody {
    fn from(u: User) -> Self {
        Self { id: u.id.to_string(), email: u.email.to_string(), name: u.name.to_string(), role: u.role.to_string() }
    }
}

/// Sign-up request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SignUpRequest {
    /// Login address; unique, ignoring case.
    #[schema(example = "ada@example.org")]
    pub email: String,
    /// Display name, 1–80 characters.
    #[schema(example = "Ada Lovelace")]
    pub name: String,
    /// At least 8 characters.
    #[schema(example = "correct horse battery staple")]
    pub password: String,
    /// A workshop's join code: the account joins it, and sign-up works
    /// with it even when open sign-up is switched off.
    #[serde(default)]
    #[schema(example = "K7QM-R2TX")]
    pub join_code: Option<String>,
}

/// Token request: log in with email and password.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// Login address.
    #[schema(example = "ada@example.org")]
    pub email: String,
    /// Password.
    pub password: String,
    /// A label for the token (default `token`).
    #[serde(default)]
    #[schema(example = "laptop")]
    pub name: String,
}

/// A newly issued token. `token` is shown only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewTokenBody {
    /// The secret to send as `Authorization: Bearer <token>`.
    #[schema(example = "fw_3f1c…")]
    pub token: String,
    /// The token's id, to revoke it.
    pub id: String,
    /// Its label.
    pub name: String,
}

/// An API token, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenBody {
    /// Id, to revoke it.
    pub id: String,
    /// Label.
    pub name: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: i64,
    /// Last use, milliseconds since the Unix epoch.
    pub last_used_at: Option<i64>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<i64>,
}

impl From<ApiToken> for TokenBody {
    fn from(t: ApiToken) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name,
            created_at: t.created_at.millis(),
            last_used_at: t.last_used_at.map(|t| t.millis()),
            revoked_at: t.revoked_at.map(|t| t.millis()),
        }
    }
}

/// Creates a participant account (when sign-up is enabled).
#[utoipa::path(post, path = "/api/v1/users", tag = "accounts", request_body = SignUpRequest,
    responses(
        (status = 201, description = "Account created", body = UserBody),
        (status = 403, description = "Sign-up is switched off and no join code was given, or the code expired", body = ErrorBody),
        (status = 404, description = "No workshop has the join code", body = ErrorBody),
        (status = 409, description = "Email already registered", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
async fn create_user(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SignUpRequest>,
) -> Result<Response, AppError> {
    let checked = SignUp::parse(&req.email, &req.name, &req.password)
        .map_err(|errs| AppError::unprocessable(errs.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))?;
    let (user, _) = accounts::sign_up(&state, checked, req.join_code.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(UserBody::from(user))).into_response())
}

/// Lists every account (admins only).
#[utoipa::path(get, path = "/api/v1/users", tag = "accounts", security(("bearer" = [])),
    responses(
        (status = 200, body = [UserBody]),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
async fn list_users(
    State(state): State<AppState>,
    ApiAdmin(_admin): ApiAdmin,
) -> Result<Json<Vec<UserBody>>, AppError> {
    Ok(Json(state.db.users().await?.into_iter().map(UserBody::from).collect()))
}

/// Issues a personal API token for an email and password.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = TokenRequest,
    responses(
        (status = 201, body = NewTokenBody),
        (status = 401, description = "Wrong email or password", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody),
    ))]
async fn create_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<Response, AppError> {
    let user = crate::auth::log_in(&state, &req.email, &req.password, peer.ip()).await?;
    let (token, secret) = accounts::issue_token(&state, &user, &req.name).await?;
    let body = NewTokenBody { token: secret.expose().to_owned(), id: token.id.to_string(), name: token.name };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Lists the caller's tokens, newest first.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])),
    responses((status = 200, body = [TokenBody]), (status = 401, body = ErrorBody)))]
async fn list_tokens(State(state): State<AppState>, ApiUser(user): ApiUser) -> Result<Json<Vec<TokenBody>>, AppError> {
    Ok(Json(state.db.api_tokens(user.id).await?.into_iter().map(TokenBody::from).collect()))
}

/// Revokes one of the caller's tokens.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such active token of yours", body = ErrorBody),
    ))]
async fn revoke_token(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let not_found = || AppError::not_found("You have no such active API token.");
    let id: ApiTokenId = id.parse().map_err(|_| not_found())?;
    if state.db.revoke_api_token(user.id, id, crate::now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

/// The caller's own account.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = UserBody), (status = 401, body = ErrorBody)))]
async fn me(ApiUser(user): ApiUser) -> Json<UserBody> {
    Json(UserBody::from(user))
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The OpenAPI document of `/api/v1`.
#[derive(OpenApi)]
#[openapi(
    info(title = "Flywheel API", description = "Hands-on machine-learning workshops: accounts and tokens, labs and notebooks, notebook sessions on Rust kernels, datasets, workshops (teams, submissions, leaderboards, grading), the shared training pool (training jobs, workers, artifacts), and endpoints serving saved models (variants, captures, ground truth)."),
    paths(create_user, list_users, create_token, list_tokens, revoke_token, me),
    modifiers(&BearerAuth),
    tags(
        (name = "accounts", description = "Sign-up and who am I"),
        (name = "tokens", description = "Personal API tokens"),
        (name = "sessions", description = "Notebook sessions on Rust kernels: run cells, follow their output, interrupt, restart"),
        (name = "endpoints", description = "Saved models served over HTTP: variants with traffic weights, captured predictions, ground truth and live metrics"),
    ),
)]
pub struct ApiDoc;

/// The whole document: [`ApiDoc`] with every module's paths merged in.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(sessions::SessionsDoc::openapi());
    doc.merge(notebooks::NotebooksDoc::openapi());
    doc.merge(datasets::DatasetsDoc::openapi());
    doc.merge(workshops::WorkshopsDoc::openapi());
    doc.merge(training::TrainingDoc::openapi());
    doc.merge(workers::WorkersDoc::openapi());
    doc.merge(endpoints::EndpointsDoc::openapi());
    doc
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi())
}

async fn api_not_found() -> AppError {
    AppError::not_found("There is no API endpoint at this address. See /api/openapi.json.")
}

/// The `/api` routes. The session layer lets Flywheel's own pages call the
/// API with their cookie (see [`ApiUser`]).
pub fn router(state: &AppState) -> Router<AppState> {
    let v1 = Router::new()
        .route("/users", post(create_user).get(list_users))
        .route("/tokens", post(create_token).get(list_tokens))
        .route("/tokens/{id}", delete(revoke_token))
        .route("/me", get(me))
        .merge(sessions::router())
        .merge(notebooks::router(state))
        .merge(datasets::router(state))
        .merge(workshops::router())
        .merge(training::router())
        .merge(workers::router())
        .merge(endpoints::router());
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .nest("/v1", v1)
        .fallback(api_not_found)
        .layer(crate::auth::login_sessions::layer(state.db.clone(), &state.config))
}
