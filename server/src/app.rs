//! [`Application`]: the server, built from a configuration and an already
//! bound listener (tests pass one on port 0 and read the address back).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flywheel_store::{Backend, Database, SqlDatabase};
use tokio::net::TcpListener;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::error::AppError;
use crate::state::AppState;
use crate::{api, metrics, web};

/// A built server, ready to run.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

/// Opens the configured database (creating the SQLite file's directory) and
/// applies pending migrations.
///
/// # Errors
/// One line naming the database (password removed) and the cause.
pub async fn open_database(config: &Config) -> anyhow::Result<SqlDatabase> {
    let url = config.effective_database_url();
    if Backend::from_url(&url)? == Backend::Sqlite
        && let Some(dir) = sqlite_path(&url).and_then(|p| p.parent().map(PathBuf::from))
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create data directory {}", dir.display()))?;
    }
    let db = SqlDatabase::connect(&url, Duration::from_secs(config.database_connect_timeout_secs)).await?;
    db.migrate().await?;
    Ok(db)
}

/// The file path of an `sqlite:` URL, if it names a file.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

impl Application {
    /// Opens the database from `config` and builds the server on `listener`.
    ///
    /// # Errors
    /// When the database cannot be opened or migrated.
    pub async fn build(config: Config, listener: TcpListener) -> anyhow::Result<Self> {
        let db = open_database(&config).await?;
        Ok(Self::with_database(config, Arc::new(db), listener))
    }

    /// Builds the server on a given [`Database`] (tests put fault doubles here).
    pub fn with_database(config: Config, db: Arc<dyn Database>, listener: TcpListener) -> Self {
        let state = AppState::new(db, config);
        let router = router(state.clone());
        Self { listener, router, state }
    }

    /// The address the server listens on.
    ///
    /// # Errors
    /// When the socket has no local address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    ///
    /// # Errors
    /// When the listener fails.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let housekeeping = tokio::spawn(housekeeping(self.state.clone()));
        let kernels = self.state.kernels.clone();
        let settings = Arc::new(self.state.settings.kernels.clone());
        let provisioning = tokio::spawn(flywheel_app::kernels::provision(kernels.clone(), settings));
        let training_workers = flywheel_app::training::worker::start(&self.state);
        let monitors = tokio::spawn(flywheel_app::endpoints::monitor::run(self.state.app.clone()));
        if let Ok(address) = self.listener.local_addr() {
            self.state.app.endpoints.set_address(address);
        }
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, service).with_graceful_shutdown(shutdown).await;
        housekeeping.abort();
        provisioning.abort();
        monitors.abort();
        // Awaiting the aborted workers drops their job processes, which
        // kills them (`kill_on_drop`) before this returns.
        training_workers.iter().for_each(tokio::task::JoinHandle::abort);
        for worker in training_workers {
            let _ = worker.await;
        }
        kernels.shutdown();
        served
    }
}

/// Every minute: drop expired sessions and idle rate-limit keys, and
/// disable the room accounts of workshops that have closed.
async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        match state.db.delete_expired_sessions(crate::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(n, "deleted expired sessions"),
            Err(e) => tracing::warn!(error = %e, "could not delete expired sessions"),
        }
        match state.db.disable_ended_workshop_accounts(crate::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(n, "disabled the room accounts of closed workshops"),
            Err(e) => tracing::warn!(error = %e, "could not disable room accounts"),
        }
        state.login_limits.forget_idle();
    }
}

/// `GET /healthz`: the process answers.
async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the database answers too (503 otherwise).
async fn readyz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            crate::error::error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is not reachable.".to_owned(),
                None,
            )
        }
    }
}

/// Unknown addresses: JSON under `/api`, an HTML page elsewhere.
async fn fallback(request: Request) -> Response {
    if request.uri().path().starts_with("/api") {
        AppError::not_found("There is no API endpoint at this address. See /api/openapi.json.").into_response()
    } else {
        web::not_found_page().await
    }
}

const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/// All routes and layers.
pub fn router(state: AppState) -> Router {
    let security_headers = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (HeaderName::from_static("x-frame-options"), "DENY"),
    ];
    let mut router = Router::new()
        .merge(web::router(&state))
        .nest("/api", api::router(&state))
        .merge(api::endpoints::runtime_router())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::export))
        .nest_service("/static", ServeDir::new(&state.config.static_dir))
        .route_layer(middleware::from_fn_with_state(state.clone(), metrics::track))
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes));
    for (name, value) in security_headers {
        router = router.layer(SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)));
    }
    router.layer(TraceLayer::new_for_http()).with_state(state)
}
