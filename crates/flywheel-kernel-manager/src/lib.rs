//! The kernel manager: runs notebook sessions on kernel worker processes
//! (`flywheel-kernel`, one per session) and keeps them in bounds.
//!
//! - **Spawn** through the [`Spawner`] seam ([`ProcessSpawner`] starts the
//!   real worker with an empty environment); a small pool of pre-started,
//!   warmed-up workers means opening a session does not wait for evcxr.
//! - **Route**: each [`KernelSession`] has one task (its actor) that owns the worker,
//!   queues cells, and records what each printed as an [`Execution`] in
//!   nbformat's output shapes; changes are broadcast as [`SessionEvent`]s.
//! - **Limit**: at most `max_concurrent_cells` cells compile or run at once
//!   across all sessions (the rest wait, with their queue position shown); a
//!   time limit per cell; caps on output per cell; sessions per user.
//! - **Cull**: a session idle for `idle_timeout` loses its worker but keeps
//!   its record; its next cell starts a new kernel and says so.
//!
//! The server links this crate, never evcxr: everything crosses the
//! process boundary in `flywheel-kernel-protocol`'s messages.
//!
//! # Design notes
//!
//! Sessions on kernel workers, with no evcxr and no HTTP (tokio only).
//!
//! - `worker.rs` — the `Spawner` seam (JupyterHub's Spawner): `spawn(dir)`
//!   gives a `WorkerIo` (requests in, events out; dropping it kills the
//!   worker). `ProcessSpawner` starts `flywheel-kernel` with an empty
//!   environment (PATH, `CARGO` and `RUSTC` to the toolchain's own `bin`, so
//!   no rustup proxy; HOME, TMPDIR, `EVCXR_TMPDIR` inside the session
//!   directory; the shared kernel `CARGO_HOME`; `CARGO_NET_OFFLINE`; the
//!   memory limit, the pids cgroup), with the sandbox arguments, in its own
//!   process group (stopping it stops any compiler; evcxr's child dies with
//!   it, and what the cells started goes with the pids cgroup; without one,
//!   a process a cell left running in the background can outlive a stopped
//!   kernel), after copying the template's compiled `evcxr/` directory in
//!   with `cp -a` (modification times kept, so cargo finds it fresh).
//! - `session.rs` — `KernelSession`: one task (the actor) owns the worker and the
//!   cells' code; handlers only read the shared `Record` and send commands.
//!   Every change happens under the record's lock and is broadcast as a
//!   `SessionEvent`, so `watch` (snapshot + receiver, taken under the same
//!   lock) misses nothing. After a cell fails or is interrupted, the cells
//!   queued behind it are not run (Jupyter's stop-on-error). A worker that
//!   dies fails its cell with `KernelError`; the next cell starts a new kernel
//!   and says so; a worker that never starts fails the waiting cells.
//!   `put_file`/`remove_file` keep a session's data files (a participant's
//!   datasets): the actor writes them into `data/` of its worker's directory
//!   — inside what the sandbox lets the worker read — and again into every
//!   worker that replaces it (restart, cull). Commands are ordered, so a file
//!   put before a cell is queued is there when the cell runs. `read_file`
//!   reads a file a cell saved in the working directory (a model to submit),
//!   up to a size.
//! - `pids.rs` — `PidsCgroups`: a pids cgroup per worker (cgroup v1's `pids`
//!   hierarchy or v2), under `flywheel-<server pid>` in the server's own
//!   cgroup, bounded to `kernel_max_processes`; removed, after killing what
//!   is left in it, when the worker ends; empty ones of servers that died are
//!   removed at the next start.
//! - `output.rs` — `Execution` (nbformat outputs, consecutive stream text
//!   merged) and the caps: text past `max_text_bytes` and rich items past
//!   `max_rich_bytes` are dropped with a visible note.
//! - `lib.rs` — `KernelManager`: sessions by id and owner, the `Limiter` (a
//!   fair semaphore of `max_concurrent_cells` compile slots with the waiting
//!   list that gives queue positions), the pool filler (pre-started workers
//!   that ran a warm-up cell, `let _warmup = ();` — a named `let`, since
//!   rust-analyzer's first inference cost 10–12 s), the culler, and
//!   `Availability` (ready / preparing / unavailable, with the reason people
//!   are shown).
//!
//! *Where we chose otherwise than the model:* Livebook's session state changes
//! through a pure `apply(operation)` reducer. Here the actor is the one writer
//! and the record is small; a reducer will pay off when notebooks (cells,
//! edits from several tabs) join the session state in the notebook issue.
//!
//! **Invariant:** never links evcxr (the server depends on this crate); knows
//! no HTTP.

mod output;
pub mod pids;
mod session;
mod worker;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use flywheel_domain::UserId;
use flywheel_kernel_protocol::{Event, Request};
use serde::Serialize;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

pub use output::{Execution, ExecutionStatus, Limits, human_bytes};
use session::Started;
pub use session::{DATA_DIR, FileError, KernelSession, KernelState, SessionEvent, SessionView};
pub use worker::{CARGO_LOCK_FILES, ProcessSpawner, SandboxSpec, Spawner, WorkerEvent, WorkerIo};

/// How sessions are run and bounded.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// Where session directories are made (removed and re-made at start).
    pub sessions_dir: PathBuf,
    /// Cells compiling or running at once, across all sessions.
    pub max_concurrent_cells: usize,
    /// A cell running longer is interrupted and says so.
    pub cell_time_limit: Duration,
    /// A session with no activity for this long loses its worker.
    pub idle_timeout: Duration,
    /// How often the culler looks.
    pub cull_interval: Duration,
    /// A worker not ready within this is given up.
    pub ready_timeout: Duration,
    /// Pre-started workers kept ready.
    pub pool_size: usize,
    /// The cell a pooled worker runs before it is handed out, so that the
    /// first real cell does not pay for rust-analyzer's warm-up (measured:
    /// a first `let` took 10–12 s, the next 1–3 s). It must bind a named
    /// variable: `let _ = …;` skips type inference and warms nothing. The
    /// variable (`_warmup: ()`) stays visible in `:vars`. Empty: none.
    pub warmup_cell: String,
    /// Open sessions one user may have.
    pub max_sessions_per_user: usize,
    /// Largest cell source, in bytes.
    pub max_cell_bytes: usize,
    /// Caps on each execution's output.
    pub limits: Limits,
}

impl ManagerConfig {
    /// Defaults: cores − 1 concurrent cells (at least 1), 120 s per cell,
    /// 30 minutes idle, a pool of 1, 1 MiB of text and 5 MiB per rich item.
    pub fn new(sessions_dir: PathBuf) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self {
            sessions_dir,
            max_concurrent_cells: cores.saturating_sub(1).max(1),
            cell_time_limit: Duration::from_secs(120),
            idle_timeout: Duration::from_secs(30 * 60),
            cull_interval: Duration::from_secs(30),
            ready_timeout: Duration::from_secs(300),
            pool_size: 1,
            warmup_cell: "let _warmup = ();".to_owned(),
            max_sessions_per_user: 4,
            max_cell_bytes: 256 * 1024,
            limits: Limits { max_text_bytes: 1024 * 1024, max_rich_bytes: 5 * 1024 * 1024 },
        }
    }
}

/// Why a session request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// No such session (or not the caller's).
    #[error("No such session of yours.")]
    NotFound,
    /// The caller has too many open sessions.
    #[error("You have {limit} open sessions, the most allowed. Close one first.")]
    TooManySessions {
        /// The limit.
        limit: usize,
    },
    /// The cell's source is too large.
    #[error("The cell is larger than {}; split it.", human_bytes(*limit))]
    CellTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Kernels cannot run here now (not built yet, no toolchain).
    #[error("{0}")]
    Unavailable(String),
}

/// Whether kernels can be started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "message", rename_all = "snake_case")]
pub enum Availability {
    /// Sessions can be opened.
    Ready,
    /// Not yet (e.g. the worker is being built on first start); the text says what is happening.
    Preparing(String),
    /// Not on this server; the text says why and what to do.
    Unavailable(String),
}

/// Cells waiting for a compile slot, in order, over one fair semaphore.
pub(crate) struct Limiter {
    semaphore: Arc<Semaphore>,
    waiting: Mutex<VecDeque<(String, u64)>>,
}

type PermitFuture = Pin<Box<dyn Future<Output = Option<OwnedSemaphorePermit>> + Send>>;

impl Limiter {
    fn waiting(&self) -> MutexGuard<'_, VecDeque<(String, u64)>> {
        self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Joins the queue; the future resolves when a slot is free (the
    /// semaphore is FIFO, so the order of the list is the order served).
    pub(crate) fn acquire(&self, session: String, id: u64) -> PermitFuture {
        self.waiting().push_back((session, id));
        let semaphore = self.semaphore.clone();
        Box::pin(async move { semaphore.acquire_owned().await.ok() })
    }

    pub(crate) fn leave(&self, session: &str, id: u64) {
        self.waiting().retain(|(s, i)| !(s == session && *i == id));
    }

    /// How many wait ahead of this one.
    pub(crate) fn position(&self, session: &str, id: u64) -> Option<usize> {
        self.waiting().iter().position(|(s, i)| s == session && *i == id)
    }
}

pub(crate) struct Inner {
    pub(crate) config: ManagerConfig,
    pub(crate) limiter: Limiter,
    source: RwLock<Source>,
    pool: Mutex<Vec<Started>>,
    pool_changed: Notify,
    sessions: Mutex<HashMap<String, Arc<KernelSession>>>,
    closed: std::sync::atomic::AtomicBool,
    sandbox: Mutex<Option<String>>,
}

impl Inner {
    /// Keeps what the latest worker said of its sandbox (for the status page).
    pub(crate) fn note_sandbox(&self, sandbox: Option<String>) {
        if let Some(text) = sandbox {
            let mut last = lock(&self.sandbox);
            if last.as_deref() != Some(text.as_str()) {
                tracing::info!(sandbox = %text, "kernel sandbox");
            }
            *last = Some(text);
        }
    }
}

enum Source {
    Spawner(Arc<dyn Spawner>),
    Not(Availability),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Inner {
    fn spawner(&self) -> Result<Arc<dyn Spawner>, KernelError> {
        match &*self.source.read().unwrap_or_else(std::sync::PoisonError::into_inner) {
            Source::Spawner(s) => Ok(s.clone()),
            Source::Not(Availability::Preparing(m) | Availability::Unavailable(m)) => {
                Err(KernelError::Unavailable(m.clone()))
            }
            Source::Not(Availability::Ready) => Err(KernelError::Unavailable("no kernel configured".into())),
        }
    }

    /// A worker for a session: a warm one from the pool, or a new one.
    pub(crate) fn obtain_worker(&self) -> Result<Started, KernelError> {
        let pooled = lock(&self.pool).pop();
        self.pool_changed.notify_one();
        match pooled {
            Some(started) => Ok(started),
            None => self.spawn_worker(),
        }
    }

    fn spawn_worker(&self) -> Result<Started, KernelError> {
        let spawner = self.spawner()?;
        let dir = self.config.sessions_dir.join(uuid::Uuid::new_v4().simple().to_string());
        let started = std::fs::create_dir_all(&dir).and_then(|()| spawner.spawn(&dir));
        match started {
            Ok(io) => Ok(Started { io, dir, ready: false }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                tracing::error!(error = %e, "cannot start a kernel worker");
                Err(KernelError::Unavailable(format!("A kernel could not be started: {e}")))
            }
        }
    }
}

/// Runs sessions. Cheap to clone; one per server.
#[derive(Clone)]
pub struct KernelManager {
    inner: Arc<Inner>,
}

impl KernelManager {
    /// A manager with no spawner yet: [`Availability::Preparing`] until
    /// [`KernelManager::set_spawner`] or [`KernelManager::set_unavailable`].
    pub fn new(config: ManagerConfig) -> Self {
        let permits = config.max_concurrent_cells.max(1);
        let inner = Inner {
            config,
            limiter: Limiter { semaphore: Arc::new(Semaphore::new(permits)), waiting: Mutex::new(VecDeque::new()) },
            source: RwLock::new(Source::Not(Availability::Preparing("The kernel is being prepared.".into()))),
            pool: Mutex::new(Vec::new()),
            pool_changed: Notify::new(),
            sessions: Mutex::new(HashMap::new()),
            closed: std::sync::atomic::AtomicBool::new(false),
            sandbox: Mutex::new(None),
        };
        Self { inner: Arc::new(inner) }
    }

    /// The configuration in force.
    pub fn config(&self) -> &ManagerConfig {
        &self.inner.config
    }

    /// Clears leftovers of an earlier run from the sessions directory and
    /// starts the culler and the pool filler (call inside a tokio runtime).
    ///
    /// # Errors
    /// When the sessions directory cannot be made.
    pub fn start(&self) -> std::io::Result<()> {
        let dir = &self.inner.config.sessions_dir;
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::fs::create_dir_all(dir)?;
        tokio::spawn(cull(Arc::downgrade(&self.inner)));
        tokio::spawn(fill_pool(self.inner.clone()));
        Ok(())
    }

    /// Starts workers with `spawner` from now on.
    pub fn set_spawner(&self, spawner: Arc<dyn Spawner>) {
        *self.inner.source.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Source::Spawner(spawner);
        self.inner.pool_changed.notify_one();
    }

    /// Kernels are not available, for `why` (shown to people who ask for a session).
    pub fn set_unavailable(&self, why: impl Into<String>) {
        *self.inner.source.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Source::Not(Availability::Unavailable(why.into()));
    }

    /// Kernels are being prepared; `what` says what is happening.
    pub fn set_preparing(&self, what: impl Into<String>) {
        *self.inner.source.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Source::Not(Availability::Preparing(what.into()));
    }

    /// Whether sessions can be opened now.
    pub fn availability(&self) -> Availability {
        match &*self.inner.source.read().unwrap_or_else(std::sync::PoisonError::into_inner) {
            Source::Spawner(_) => Availability::Ready,
            Source::Not(a) => a.clone(),
        }
    }

    /// What the latest kernel worker reported of its sandbox (`None`: none
    /// started yet, or started without one).
    pub fn sandbox(&self) -> Option<String> {
        lock(&self.inner.sandbox).clone()
    }

    /// Pre-started workers ready to hand out.
    pub fn pooled(&self) -> usize {
        lock(&self.inner.pool).len()
    }

    /// Opens a session for `owner` on a pooled worker, or a new one.
    ///
    /// # Errors
    /// [`KernelError::TooManySessions`], or [`KernelError::Unavailable`].
    pub fn create_session(&self, owner: UserId) -> Result<Arc<KernelSession>, KernelError> {
        let limit = self.inner.config.max_sessions_per_user;
        if self.sessions(owner).len() >= limit {
            return Err(KernelError::TooManySessions { limit });
        }
        let worker = self.inner.obtain_worker()?;
        let session = KernelSession::start(owner, self.inner.clone(), worker);
        lock(&self.inner.sessions).insert(session.id.clone(), session.clone());
        Ok(session)
    }

    /// `owner`'s session `id`.
    ///
    /// # Errors
    /// [`KernelError::NotFound`] when it does not exist or is someone else's.
    pub fn session(&self, owner: UserId, id: &str) -> Result<Arc<KernelSession>, KernelError> {
        lock(&self.inner.sessions).get(id).filter(|s| s.owner == owner).cloned().ok_or(KernelError::NotFound)
    }

    /// `owner`'s sessions, oldest first.
    pub fn sessions(&self, owner: UserId) -> Vec<Arc<KernelSession>> {
        let mut mine: Vec<_> = lock(&self.inner.sessions).values().filter(|s| s.owner == owner).cloned().collect();
        mine.sort_by_key(|s| s.view().created_at);
        mine
    }

    /// Closes `owner`'s session `id`: its worker stops and its record goes.
    ///
    /// # Errors
    /// [`KernelError::NotFound`].
    pub fn close(&self, owner: UserId, id: &str) -> Result<(), KernelError> {
        let mut sessions = lock(&self.inner.sessions);
        if !sessions.get(id).is_some_and(|s| s.owner == owner) {
            return Err(KernelError::NotFound);
        }
        if let Some(session) = sessions.remove(id) {
            session.stop(false);
        }
        Ok(())
    }

    /// Stops every session and pooled worker (at server shutdown).
    pub fn shutdown(&self) {
        self.inner.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        self.inner.pool_changed.notify_one();
        for (_, session) in lock(&self.inner.sessions).drain() {
            session.stop(false);
        }
        for started in lock(&self.inner.pool).drain(..) {
            let _ = started.io.requests.send(Request::Shutdown);
            let _ = std::fs::remove_dir_all(&started.dir);
        }
    }
}

/// Every `cull_interval`: stops the workers of sessions idle too long.
async fn cull(inner: std::sync::Weak<Inner>) {
    let interval = match inner.upgrade() {
        Some(i) => i.config.cull_interval,
        None => return,
    };
    let mut tick = tokio::time::interval(interval);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let idle = inner.config.idle_timeout;
        let sessions: Vec<_> = lock(&inner.sessions).values().cloned().collect();
        for session in sessions.iter().filter(|s| s.cullable(idle)) {
            tracing::info!(session = %session.id, "culling an idle kernel");
            session.stop(true);
        }
    }
}

/// Keeps `pool_size` workers started and warmed up, until shutdown.
async fn fill_pool(inner: Arc<Inner>) {
    loop {
        let notified = inner.pool_changed.notified();
        if inner.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        if lock(&inner.pool).len() < inner.config.pool_size && inner.spawner().is_ok() {
            let warmed = match inner.spawn_worker() {
                Ok(started) => warm_up(started, &inner).await,
                Err(e) => Err(e.to_string()),
            };
            match warmed {
                Ok(warm) if !inner.closed.load(std::sync::atomic::Ordering::SeqCst) => lock(&inner.pool).push(warm),
                Ok(warm) => {
                    let _ = std::fs::remove_dir_all(&warm.dir);
                    return;
                }
                Err(why) => {
                    tracing::warn!(%why, "a pooled kernel worker did not start; retrying in 30 s");
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
            }
            continue;
        }
        notified.await;
    }
}

/// Waits for a new worker's `ready` and runs the warm-up cell.
async fn warm_up(mut started: Started, inner: &Inner) -> Result<Started, String> {
    let config = &inner.config;
    let ready = async { started.io.ready().await.map(|sandbox| inner.note_sandbox(sandbox)) };
    let outcome =
        tokio::time::timeout(config.ready_timeout, ready).await.unwrap_or_else(|_| Err("not ready in time".into()));
    if outcome.is_ok() && !config.warmup_cell.is_empty() {
        let _ = started.io.requests.send(Request::Execute { id: 0, code: config.warmup_cell.clone() });
        loop {
            match started.io.events.recv().await {
                Some(WorkerEvent::Event(Event::Done { id: 0, .. })) => break,
                Some(WorkerEvent::Exited(why)) => {
                    let _ = std::fs::remove_dir_all(&started.dir);
                    return Err(why);
                }
                None => return Err("the worker vanished".to_owned()),
                Some(_) => {}
            }
        }
    }
    match outcome {
        Ok(()) => {
            started.ready = true;
            Ok(started)
        }
        Err(why) => {
            let _ = std::fs::remove_dir_all(&started.dir);
            Err(why)
        }
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_millis() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}
