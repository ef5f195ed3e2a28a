//! [`AppState`]: what every handler can reach.

use std::ops::Deref;
use std::sync::Arc;

use flywheel_app::App;
use flywheel_store::Database;

use crate::auth::limits::LoginLimits;
use crate::config::Config;
use crate::metrics::Metrics;

/// Shared by all handlers; cheap to clone. It derefs to the application
/// services' [`App`] (`state.db`, `state.kernels`, `state.labs`, …), so a
/// handler passes `&state` to a service that takes `&App`.
#[derive(Clone)]
pub struct AppState {
    /// The application services' state.
    pub app: App,
    /// The configuration in force.
    pub config: Arc<Config>,
    /// Log-in rate limits.
    pub login_limits: Arc<LoginLimits>,
    /// Request metrics for `/metrics`.
    pub metrics: Arc<Metrics>,
}

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.app
    }
}

impl AppState {
    /// State over `db` with `config`'s limits.
    pub fn new(db: Arc<dyn Database>, config: Config) -> Self {
        let login_limits = LoginLimits::new(
            config.login_failures_per_account_per_minute,
            config.login_failures_per_ip_per_minute,
            config.logins_per_ip_per_minute,
        );
        Self {
            app: App::new(db, config.app_settings()),
            config: Arc::new(config),
            login_limits: Arc::new(login_limits),
            metrics: Arc::new(Metrics::new()),
        }
    }
}
