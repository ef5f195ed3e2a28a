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
//!
//! # Design notes
//!
//! The application services, in domain terms, shared by every binary (docs.rs'
//! `crates/lib` under thin `crates/bin`): no HTTP, no templates, no status
//! codes; each service answers with domain types and its own `thiserror` enum,
//! and the server maps those to responses (one `From<…Error> for AppError` per
//! service, in `server/src/error.rs`). Every service takes an `App` (the
//! store, the kernel manager, the labs, the curriculum, the notebook → kernel
//! session map and the `Settings` the services obey, which the server's
//! `Config::app_settings` makes); the server's `AppState` holds one and derefs
//! to it. The training pool and the endpoints start here.
//!
//! - `lib.rs` — `App`, `Settings`, and the clock and randomness every service
//!   uses (`now`, `random_bytes`, `random_hex`).
//! - `labs.rs` — the lab catalogue, read once at start from `labs_dir`
//!   (`<slug>/notebook.md`, and `<slug>/scoring.json` for a lab that scores
//!   submitted models); a lab that does not parse is left out and logged.
//! - `curriculum.rs` — the curriculum's pages, read once at start from
//!   `content_dir` (a page that does not parse is left out and logged), and
//!   `LabProgress`, a lab's steps against what a participant passed, for the
//!   pages and the API. A test keeps `content/` parsing and every link in it
//!   resolving to a page or a lab. The pages' HTML is the web layer's
//!   (`web/learn.rs`: pulldown-cmark; links rewritten by `LinkTarget::href`,
//!   anchors on headings, raw HTML dropped).
//! - `datasets.rs` — "your own data" (`DatasetError`): upload (size limit,
//!   `check_csv`, bad rows refused or left out on request), ownership (others'
//!   ids are `NotFound`), copying every dataset of the owner into each new
//!   session and each upload into the open ones (`KernelSession::put_file`), and the
//!   project notebook made from `labs/project/<task>.md`. Pages in
//!   `server/src/web/datasets.rs` (`/data`), API in `api/datasets.rs`.
//! - `notebooks.rs` — notebooks on kernels (`NotebookServiceError`): access
//!   (`reachable`: the owner's, or shared with the caller's team; `owned`: the
//!   owner's, for delete, reset and share; others' ids are `NotFound`), the
//!   (notebook, person) → session map (in memory, like the sessions: team
//!   members each run on their own kernel), running a cell (its *saved* source) and the task that writes the outputs to the cell
//!   when the run ends, independent of any browser — and, for a check cell of
//!   the notebook's lab whose outputs hold a passed check, records the step;
//!   a lab's per-user copy.
//! - `accounts.rs` — sign-up, credential checks, token issuing
//!   (`AccountError`): the one place these rules live; the pages, the API and
//!   the CLI all call it. `password.rs`: argon2id hashing on the blocking pool.
//! - `workshops.rs` — everything done in a workshop (`WorkshopError`), for
//!   the API and the pages alike, starting from a `Viewer` (the workshop as the
//!   caller may see it: member or admin, else `NotFound`; staff or participant;
//!   their team): creating,
//!   joining by code, teams and placement, room accounts, co-instructors,
//!   submissions (write-ups checked against the template's sections; models
//!   read from the participant's kernel and scored in a blocking task on the
//!   hidden test set, drawn once per workshop and lab and kept in memory),
//!   grades against the rubric and their release, the leaderboard (public
//!   score while open, private after the close) and the gradebook CSV. Pages in
//!   `server/src/web/workshops.rs` (`/workshops…`: the instructor's live progress table and
//!   the leaderboards refresh themselves with htmx polling), API in
//!   `api/workshops.rs`.
//! - `kernels.rs` — kernel provisioning, the one place that builds and
//!   prepares kernels: `KernelSettings` (the `kernel_*` keys), `manager`
//!   (the `KernelManager` from them), `prepare` (finds `flywheel-kernel` —
//!   configured, beside the binary, on PATH, or built with cargo from a source
//!   tree —, the toolchain and the standard library's source, fetches what the
//!   kernels resolve offline, and builds the template session directory once:
//!   a worker that loaded `flywheel-ml`, kept in `data/kernels/template` with a
//!   stamp of the worker's and the library's modification times, rebuilt when
//!   either changes), each long step said through a `Progress` callback; and
//!   `provision`, which the server runs in the background at start (the
//!   manager's `Preparing` state shows the step to people opening a session).
//!   `flywheel kernels prepare` runs `prepare` in the foreground and prints
//!   the steps. Also what a sandboxed kernel may read (`sandbox_reads`: of the
//!   operator's Cargo home only `registry` and `git`) and the kernels' own
//!   Cargo home.
//! - `training/` — the shared training pool (`TrainingError`). A job is a
//!   `flywheel_ml::training::TrainingSpec` plus data channels
//!   (`builtin:`, `dataset:`, or `cell:` tables a notebook cell sent, kept as
//!   `input/…` artifacts). `schedule::plan` orders the queue — priority, then
//!   least normalised usage per team today (Slurm's classic fair-share factor;
//!   chosen over deficit round robin because a job's size is unknown until it
//!   has run), then age — under per-participant and per-team running limits,
//!   and gives each waiting job a position, a Slurm reason code and an
//!   estimated start (mean run time of today's completed jobs of the same
//!   algorithm, 30 s when none). Backends: `worker.rs` (local workers, each
//!   running a job as `flywheel train-job DIR` in a child process: events
//!   from its stdout every 500 ms, heartbeat, kill on cancel or time limit, a
//!   process killed by a signal retried up to `max_attempts`) and `slurm.rs`
//!   (every pending job to `sbatch`, events from the batch job's output file,
//!   `squeue`/`scontrol`/`scancel`). `runner.rs` is the job process's side;
//!   `cells.rs` watches kernel sessions for cells that submit jobs and
//!   answers in their `data/` folder. `tuning.rs`: tuning jobs, whose trials
//!   are training jobs drawn by random search or TPE (the `tpe` crate), run
//!   by a stateless controller. A team's weight and quota (`Share`, set by
//!   its workshop's instructors) feed the plan and the quota check. Not yet:
//!   early stopping (ASHA), checkpoints (a retried job starts again), GPU
//!   workers, workers on other machines.
//!
//! - `endpoints.rs` — Day 3's endpoints (`EndpointError`): deploy a model a
//!   kernel saved or a training job's artifact under a name, with variants
//!   and traffic weights; invoke (JSON instances or records, CSV; the variant
//!   drawn by weight or named); capture a share of predictions (bounded per
//!   endpoint) and join ground truth to them; each variant's live accuracy,
//!   ROC AUC and latency. Models are served from `Serving`, this server's
//!   cache, rechecked against the database's `updated_at` every second so
//!   several servers agree. Not yet: shadow variants, drift, keys, review.
//!
//! **Invariant:** no HTTP (no axum, askama, utoipa): checked by `tests/tidy.rs`.

use std::path::PathBuf;
use std::sync::Arc;

use flywheel_domain::Timestamp;
use flywheel_kernel_manager::KernelManager;
use flywheel_store::Database;

pub mod accounts;
pub mod curriculum;
pub mod datasets;
pub mod endpoints;
pub mod kernels;
pub mod labs;
pub mod notebooks;
pub mod password;
pub mod training;
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
    /// The training pool's local workers and their wake-up bell.
    pub training: Arc<training::Pool>,
    /// The endpoints' models this server has loaded.
    pub endpoints: Arc<endpoints::Serving>,
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
    /// How the training pool runs.
    pub training: training::TrainingSettings,
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
            training: Arc::default(),
            endpoints: Arc::default(),
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
