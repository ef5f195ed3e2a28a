//! Flywheel's application services: what the server does, in the terms of
//! the domain (workshops, notebooks, kernels, and next the training pool and
//! endpoints), reusable by every binary (the web server, the command line,
//! and the training worker to come).
//!
//! Architecture invariant: no HTTP here. No axum, askama or utoipa, no
//! status codes: a service answers with domain types and its own
//! `thiserror` enum, and the server maps those to responses (checked by
//! `tests/tidy.rs`). The services of `server/src` move here one by one
//! (see `ARCHITECTURE.md`).
//!
//! Every service takes an [`App`]: the store, the kernels, the labs and the
//! curriculum, and the [`Settings`] the services obey.

use std::path::PathBuf;
use std::sync::Arc;

use flywheel_domain::Timestamp;
use flywheel_kernel_manager::KernelManager;
use flywheel_store::Database;

pub mod accounts;
pub mod curriculum;
pub mod datasets;
pub mod kernels;
pub mod labs;
pub mod notebooks;
pub mod password;
pub mod workshops;

use curriculum::Curriculum;
use labs::Labs;
use notebooks::NotebookKernels;
use workshops::HiddenTests;

/// What every service reaches: storage, kernels, the labs and the
/// curriculum, which kernel session each notebook runs on, the hidden test
/// sets drawn so far, and the settings in force. Cheap to clone.
#[derive(Clone)]
pub struct App {
    /// Storage.
    pub db: Arc<dyn Database>,
    /// Kernel sessions.
    pub kernels: KernelManager,
    /// The labs on offer.
    pub labs: Arc<Labs>,
    /// The curriculum's pages.
    pub curriculum: Arc<Curriculum>,
    /// Which kernel session each notebook runs on.
    pub notebook_kernels: Arc<NotebookKernels>,
    /// Hidden test sets drawn for scoring submitted models.
    pub hidden_tests: Arc<HiddenTests>,
    /// The settings the services obey.
    pub settings: Arc<Settings>,
}

/// The configuration the services obey (the server's `Config` makes it).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The labs' directory (`<labs_dir>/<slug>/notebook.md`, and the project templates).
    pub labs_dir: PathBuf,
    /// The curriculum's directory (`<content_dir>/*.md`).
    pub content_dir: PathBuf,
    /// Whether anyone may sign up without a workshop's join code.
    pub signup_enabled: bool,
    /// The largest dataset upload accepted, in bytes.
    pub max_dataset_bytes: usize,
    /// How kernels run.
    pub kernels: kernels::KernelSettings,
}

impl App {
    /// The services over `db`: reads the labs and the curriculum from their
    /// directories and makes the kernel manager (starting no kernel).
    pub fn new(db: Arc<dyn Database>, settings: Settings) -> Self {
        let kernels = kernels::manager(&settings.kernels);
        let labs = Arc::new(Labs::load(&settings.labs_dir));
        let curriculum = Arc::new(Curriculum::load(&settings.content_dir));
        Self {
            db,
            kernels,
            labs,
            curriculum,
            notebook_kernels: Arc::default(),
            hidden_tests: Arc::default(),
            settings: Arc::new(settings),
        }
    }
}

/// The current time.
pub fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
}

/// `N` bytes from the operating system's random source.
///
/// # Errors
/// When the random source fails.
pub fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("random source: {e}"))?;
    Ok(buf)
}

/// `N` random bytes as lower-case hex.
///
/// # Errors
/// When the random source fails.
pub fn random_hex<const N: usize>() -> anyhow::Result<String> {
    random_bytes::<N>().map(hex::encode)
}

/// A time as `2026-11-22 14:05 UTC` (`?` outside the calendar's range).
pub fn format_time(t: Timestamp) -> String {
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp(t.millis().div_euclid(1000)) else {
        return String::from("?");
    };
    format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", at.year(), u8::from(at.month()), at.day(), at.hour(), at.minute())
}
