//! [`AppError`]: the one error type of the web layer.
//!
//! Client errors (4xx) carry a message that is safe to show; internal errors
//! are logged with their cause and shown only as "something went wrong".
//! `IntoResponse` is implemented once and writes the API's JSON shape
//! `{ "error": { "code", "message" } }`; the HTML routes turn the same
//! [`ErrorInfo`] into an error page (see `web::render_error_pages`).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flywheel_domain::ValidationError;
use flywheel_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// An error answered to a request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The client did something wrong; `message` is shown as is.
    #[error("{message}")]
    Client {
        /// A 4xx status.
        status: StatusCode,
        /// What went wrong, for the person.
        message: String,
        /// Seconds to wait before trying again (for 429).
        retry_after: Option<u64>,
    },
    /// A part of Flywheel is not ready or not available (503); `message` is shown as is.
    #[error("{0}")]
    Unavailable(String),
    /// Flywheel failed; logged, not shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    fn client(status: StatusCode, message: impl Into<String>) -> Self {
        AppError::Client { status, message: message.into(), retry_after: None }
    }
    /// 400: the request cannot be read.
    pub fn bad_request(m: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, m)
    }
    /// 401: not logged in, or wrong credentials.
    pub fn unauthorized(m: impl Into<String>) -> Self {
        Self::client(StatusCode::UNAUTHORIZED, m)
    }
    /// 403: logged in, but not allowed.
    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::client(StatusCode::FORBIDDEN, m)
    }
    /// 404: no such thing (or not yours to see).
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::client(StatusCode::NOT_FOUND, m)
    }
    /// 409: conflicts with what exists.
    pub fn conflict(m: impl Into<String>) -> Self {
        Self::client(StatusCode::CONFLICT, m)
    }
    /// 422: well-formed but invalid.
    pub fn unprocessable(m: impl Into<String>) -> Self {
        Self::client(StatusCode::UNPROCESSABLE_ENTITY, m)
    }
    /// 429: slow down.
    pub fn too_many_requests(m: impl Into<String>, retry_after: u64) -> Self {
        AppError::Client { status: StatusCode::TOO_MANY_REQUESTS, message: m.into(), retry_after: Some(retry_after) }
    }
    /// 503: not ready yet, or not available on this server.
    pub fn unavailable(m: impl Into<String>) -> Self {
        AppError::Unavailable(m.into())
    }
    /// A 4xx with any status (for framework rejections that bring their own).
    pub fn with_status(status: StatusCode, m: impl Into<String>) -> Self {
        if status.is_client_error() {
            Self::client(status, m)
        } else {
            AppError::Internal(anyhow::anyhow!("{status}: {}", m.into()))
        }
    }

    /// The status answered.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Client { status, .. } => *status,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The stable, machine-readable code for a status (`not_found`, `conflict`, …).
pub fn error_code(status: StatusCode) -> String {
    status.canonical_reason().unwrap_or("error").to_ascii_lowercase().replace([' ', '-'], "_").replace('\'', "")
}

/// The JSON body of every API error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable: `bad_request`, `unauthorized`, `forbidden`, `not_found`,
    /// `conflict`, `payload_too_large`, `unprocessable_entity`, `too_many_requests`,
    /// `internal_server_error`, `service_unavailable`.
    #[schema(example = "conflict")]
    pub code: String,
    /// For people.
    #[schema(example = "an account with this email already exists")]
    pub message: String,
}

/// Attached to every error response so that the HTML routes can render the
/// same error as a page.
#[derive(Debug, Clone)]
pub struct ErrorInfo(pub ErrorDetail);

/// The message shown for internal errors.
pub const INTERNAL_MESSAGE: &str = "Something went wrong on our side. It has been logged; please try again.";

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (message, retry_after) = match self {
            AppError::Client { message, retry_after, .. } => (message, retry_after),
            AppError::Unavailable(message) => (message, Some(30)),
            AppError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error");
                (INTERNAL_MESSAGE.to_owned(), None)
            }
        };
        error_response(status, message, retry_after)
    }
}

/// Builds the JSON error response (with [`ErrorInfo`] attached) for any status.
pub fn error_response(status: StatusCode, message: String, retry_after: Option<u64>) -> Response {
    let detail = ErrorDetail { code: error_code(status), message };
    let mut response = (status, Json(ErrorBody { error: detail.clone() })).into_response();
    if let Some(secs) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response.extensions_mut().insert(ErrorInfo(detail));
    response
}

impl From<axum::extract::rejection::JsonRejection> for AppError {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        AppError::with_status(r.status(), r.body_text())
    }
}

impl From<axum::extract::rejection::FormRejection> for AppError {
    fn from(r: axum::extract::rejection::FormRejection) -> Self {
        AppError::with_status(r.status(), r.body_text())
    }
}

impl From<ValidationError> for AppError {
    fn from(e: ValidationError) -> Self {
        AppError::unprocessable(e.to_string())
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => AppError::conflict(format!("{what} already exists")),
            e @ StoreError::StaleRevision { .. } => AppError::conflict(capitalised(&e.to_string())),
            other => AppError::Internal(other.into()),
        }
    }
}

impl From<flywheel_domain::NotebookError> for AppError {
    fn from(e: flywheel_domain::NotebookError) -> Self {
        let status = match e {
            flywheel_domain::NotebookError::CellTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        AppError::with_status(status, capitalised(&e.to_string()))
    }
}

impl From<flywheel_app::datasets::DatasetError> for AppError {
    fn from(e: flywheel_app::datasets::DatasetError) -> Self {
        use flywheel_app::datasets::DatasetError as E;
        let message = e.to_string();
        match e {
            E::TooLarge { .. } => AppError::with_status(StatusCode::PAYLOAD_TOO_LARGE, message),
            E::Invalid(_) => AppError::unprocessable(message),
            E::NameTaken(_) => AppError::conflict(message),
            E::NotFound => AppError::not_found(message),
            E::TemplateUnavailable => AppError::unavailable(message),
            E::Store(e) => e.into(),
        }
    }
}

impl From<flywheel_app::training::TrainingError> for AppError {
    fn from(e: flywheel_app::training::TrainingError) -> Self {
        use flywheel_app::training::TrainingError as E;
        let message = e.to_string();
        match e {
            E::NotFound | E::NoDataset(_) => AppError::not_found(message),
            E::Invalid(_) => AppError::unprocessable(message),
            E::StaffOnly => AppError::forbidden(message),
            E::OverQuota { retry_after, .. } => AppError::too_many_requests(message, retry_after),
            E::Ended(_) => AppError::conflict(message),
            E::Store(e) => e.into(),
        }
    }
}

impl From<flywheel_app::endpoints::EndpointError> for AppError {
    fn from(e: flywheel_app::endpoints::EndpointError) -> Self {
        use flywheel_app::endpoints::EndpointError as E;
        let message = e.to_string();
        match e {
            E::NotFound(_) | E::NoInference { .. } => AppError::not_found(message),
            E::Taken(_) => AppError::conflict(message),
            E::BadKey => AppError::unauthorized(message),
            E::Invalid(_) => AppError::unprocessable(message),
            E::Store(e) => e.into(),
            E::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<flywheel_kernel_manager::KernelError> for AppError {
    fn from(e: flywheel_kernel_manager::KernelError) -> Self {
        use flywheel_kernel_manager::KernelError;
        let message = e.to_string();
        match e {
            KernelError::NotFound => AppError::not_found(message),
            KernelError::TooManySessions { .. } => AppError::conflict(message),
            KernelError::CellTooLarge { .. } => AppError::with_status(StatusCode::PAYLOAD_TOO_LARGE, message),
            KernelError::Unavailable(_) => AppError::unavailable(message),
        }
    }
}

impl From<flywheel_app::notebooks::NotebookServiceError> for AppError {
    fn from(e: flywheel_app::notebooks::NotebookServiceError) -> Self {
        use flywheel_app::notebooks::NotebookServiceError as E;
        let message = e.to_string();
        match e {
            E::NotFound | E::NoSuchCell(_) | E::NoSuchTeam | E::NoSuchLab(_) => AppError::not_found(message),
            E::OwnerOnly => AppError::forbidden(message),
            E::MarkdownCell(_) => AppError::unprocessable(message),
            E::Kernel(e) => e.into(),
            E::Store(e) => e.into(),
        }
    }
}

impl From<flywheel_app::workshops::WorkshopError> for AppError {
    fn from(e: flywheel_app::workshops::WorkshopError) -> Self {
        use flywheel_app::workshops::WorkshopError as E;
        let message = e.to_string();
        match e {
            E::NotFound | E::Missing(_) => AppError::not_found(message),
            E::StaffOnly | E::NotAllowed(_) => AppError::forbidden(message),
            E::Invalid(_) => AppError::unprocessable(message),
            E::Conflict(_) | E::TeamFull { .. } | E::Closed { .. } => AppError::conflict(message),
            E::TooLarge { .. } => AppError::with_status(StatusCode::PAYLOAD_TOO_LARGE, message),
            E::DailyLimit { retry_after, .. } => AppError::too_many_requests(message, retry_after),
            E::Store(e) => e.into(),
            E::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<flywheel_app::accounts::AccountError> for AppError {
    fn from(e: flywheel_app::accounts::AccountError) -> Self {
        use flywheel_app::accounts::AccountError as E;
        let message = e.to_string();
        match e {
            E::WrongCredentials => AppError::unauthorized(message),
            E::SignUpClosed | E::Disabled => AppError::forbidden(message),
            E::Invalid(e) => e.into(),
            E::Workshop(e) => e.into(),
            E::Store(e) => e.into(),
            E::Internal(e) => AppError::Internal(e),
        }
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_status() {
        assert_eq!(error_code(StatusCode::NOT_FOUND), "not_found");
        assert_eq!(error_code(StatusCode::PAYLOAD_TOO_LARGE), "payload_too_large");
        assert_eq!(error_code(StatusCode::UNPROCESSABLE_ENTITY), "unprocessable_entity");
        assert_eq!(error_code(StatusCode::TOO_MANY_REQUESTS), "too_many_requests");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let r = AppError::Internal(anyhow::anyhow!("password=hunter2 in the connection string")).into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let info = r.extensions().get::<ErrorInfo>().unwrap();
        assert_eq!(info.0.message, INTERNAL_MESSAGE);
    }
}
