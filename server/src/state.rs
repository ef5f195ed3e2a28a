//! [`AppState`]: what every handler can reach.

use std::sync::Arc;

use flywheel_kernel_manager::KernelManager;
use flywheel_store::Database;

use crate::auth::limits::LoginLimits;
use crate::config::Config;
use crate::curriculum::Curriculum;
use crate::labs::Labs;
use crate::metrics::Metrics;
use crate::notebooks::NotebookSessions;
use crate::workshops::HiddenTests;

/// Shared by all handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Storage.
    pub db: Arc<dyn Database>,
    /// The configuration in force.
    pub config: Arc<Config>,
    /// Log-in rate limits.
    pub login_limits: Arc<LoginLimits>,
    /// Request metrics for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Notebook sessions and their kernels.
    pub kernels: KernelManager,
    /// The labs on offer.
    pub labs: Arc<Labs>,
    /// The curriculum's pages.
    pub curriculum: Arc<Curriculum>,
    /// Which kernel session each notebook runs on.
    pub notebook_sessions: Arc<NotebookSessions>,
    /// Hidden test sets drawn for scoring submitted models.
    pub hidden_tests: Arc<HiddenTests>,
}

impl AppState {
    /// State over `db` with `config`'s limits.
    pub fn new(db: Arc<dyn Database>, config: Config) -> Self {
        let login_limits =
            LoginLimits::new(config.login_attempts_per_account_per_minute, config.login_attempts_per_ip_per_minute);
        let kernels = flywheel_app::kernels::manager(&config.kernel_settings());
        let labs = Arc::new(Labs::load(&config.labs_dir));
        let curriculum = Arc::new(Curriculum::load(&config.content_dir));
        Self {
            db,
            config: Arc::new(config),
            login_limits: Arc::new(login_limits),
            metrics: Arc::new(Metrics::new()),
            kernels,
            labs,
            curriculum,
            notebook_sessions: Arc::default(),
            hidden_tests: Arc::default(),
        }
    }
}
