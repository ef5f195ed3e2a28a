//! A notebook session: one kernel worker at a time, its queue of cells, and
//! what each cell printed. The worker is driven by one task (the actor);
//! handlers read the shared record and send commands, and every change is
//! broadcast as a [`SessionEvent`] so that live views follow it.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use flywheel_domain::UserId;
use flywheel_kernel_protocol::{Event, Output, PROTOCOL_VERSION, Request, Status, StreamName};
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, broadcast, mpsc, oneshot};

use crate::output::{Execution, ExecutionStatus, human_duration};
use crate::worker::{WorkerEvent, WorkerIo};
use crate::{Inner, KernelError, unix_millis};

/// What the session's kernel is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelState {
    /// The worker is starting (evcxr and the library loading).
    Starting,
    /// Ready, nothing running.
    Idle,
    /// Running or about to run a cell.
    Busy,
    /// The worker stopped on its own (a crash, a limit); the next cell starts a new one.
    Dead,
    /// Stopped after being idle too long; the next cell starts a new one.
    Culled,
}

/// A change in a session, as sent to live views (server-sent events).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SessionEvent {
    /// The kernel's state changed.
    Kernel {
        /// The new state.
        state: KernelState,
        /// Why, for `dead` and `culled`.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// An execution changed status (queued, running, …) without finishing.
    Status {
        /// The execution.
        execution: u64,
        /// Its status.
        status: ExecutionStatus,
    },
    /// An execution produced output (text chunks as they were printed).
    Output {
        /// The execution.
        execution: u64,
        /// The output, in nbformat's shape.
        output: Output,
    },
    /// An execution finished.
    Done {
        /// The execution.
        execution: u64,
        /// How it ended.
        status: ExecutionStatus,
        /// Wall time in the kernel, in milliseconds.
        #[serde(skip_serializing_if = "Option::is_none")]
        elapsed_ms: Option<u64>,
    },
}

impl SessionEvent {
    /// The event's name (for SSE's `event:` field).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Kernel { .. } => "kernel",
            Self::Status { .. } => "status",
            Self::Output { .. } => "output",
            Self::Done { .. } => "done",
        }
    }
}

/// What a session looks like from outside.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    /// Session id (UUID).
    pub id: String,
    /// The kernel's state.
    pub kernel: KernelState,
    /// Why the kernel is dead or culled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_message: Option<String>,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: i64,
    /// How many executions were submitted.
    pub executions: u64,
}

pub(crate) struct Record {
    pub(crate) kernel: KernelState,
    pub(crate) kernel_message: Option<String>,
    pub(crate) executions: BTreeMap<u64, Execution>,
    pub(crate) last_activity: Instant,
    /// Executions of this session waiting, in order (the first may be waiting for a compile slot).
    pub(crate) queue: VecDeque<u64>,
    pub(crate) running: Option<u64>,
}

/// One notebook session.
pub struct KernelSession {
    /// Its id.
    pub id: String,
    /// Who it belongs to.
    pub owner: UserId,
    created_at: i64,
    record: Mutex<Record>,
    events: broadcast::Sender<SessionEvent>,
    commands: mpsc::UnboundedSender<Command>,
    next_id: AtomicU64,
    inner: Arc<Inner>,
}

pub(crate) enum Command {
    Execute(u64, String),
    Interrupt,
    Restart,
    /// Stop the worker; `cull` keeps the session, otherwise it ends.
    Stop {
        cull: bool,
    },
    /// Put a file into the kernel's `data/` folder, now and after every restart.
    PutFile(String, Arc<str>),
    /// Put a file into the running kernel's `data/` folder only.
    WriteFile(String, Arc<str>),
    /// Take a file out of the kernel's `data/` folder.
    RemoveFile(String),
    /// Read a file of the kernel's working directory, up to a size.
    ReadFile(String, u64, oneshot::Sender<Result<Vec<u8>, FileError>>),
}

/// Why [`KernelSession::read_file`] found nothing to give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// The session has no running kernel (it was culled, died or closed):
    /// its working directory went with it.
    #[error("this notebook's kernel is not running (its files went with it); run the cell that writes the file again")]
    NoKernel,
    /// No such file in the working directory.
    #[error("the kernel has no file named {0:?}; run the cell that saves it first")]
    NotFound(String),
    /// Not a plain file name.
    #[error("{0:?} is not a plain file name (no folders)")]
    BadName(String),
    /// Larger than allowed.
    #[error("the file is {size} bytes; at most {max} are accepted")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// Reading failed.
    #[error("the file cannot be read: {0}")]
    Io(String),
}

impl KernelSession {
    pub(crate) fn start(owner: UserId, inner: Arc<Inner>, worker: Started) -> Arc<KernelSession> {
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (events, _) = broadcast::channel(1024);
        let kernel = if worker.ready { KernelState::Idle } else { KernelState::Starting };
        let session = Arc::new(KernelSession {
            id: uuid::Uuid::new_v4().to_string(),
            owner,
            created_at: unix_millis(),
            record: Mutex::new(Record {
                kernel,
                kernel_message: None,
                executions: BTreeMap::new(),
                last_activity: Instant::now(),
                queue: VecDeque::new(),
                running: None,
            }),
            events,
            commands,
            next_id: AtomicU64::new(1),
            inner,
        });
        let actor = Actor {
            session: session.clone(),
            commands: command_rx,
            worker: None,
            ready_by: None,
            code: VecDeque::new(),
            running: None,
            permit: None,
            restarted_because: None,
            files: std::collections::BTreeMap::new(),
        };
        tokio::spawn(actor.run(worker));
        session
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Changes the record and tells live views, atomically with respect to
    /// [`KernelSession::watch`].
    fn update(&self, change: impl FnOnce(&mut Record) -> Vec<SessionEvent>) {
        let mut record = self.lock();
        for event in change(&mut record) {
            let _ = self.events.send(event);
        }
    }

    /// The session as seen from outside.
    pub fn view(&self) -> SessionView {
        let r = self.lock();
        SessionView {
            id: self.id.clone(),
            kernel: r.kernel,
            kernel_message: r.kernel_message.clone(),
            created_at: self.created_at,
            executions: self.next_id.load(Ordering::SeqCst) - 1,
        }
    }

    /// Queues `code` to run; returns the execution as queued.
    ///
    /// # Errors
    /// [`KernelError::CellTooLarge`] over the configured size.
    pub fn execute(&self, code: String) -> Result<Execution, KernelError> {
        let limit = self.inner.config.max_cell_bytes;
        if code.len() > limit {
            return Err(KernelError::CellTooLarge { limit });
        }
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        self.update(|r| {
            r.last_activity = Instant::now();
            r.executions.insert(id, Execution::queued(id));
            r.queue.push_back(id);
            vec![SessionEvent::Status { execution: id, status: ExecutionStatus::Queued }]
        });
        let _ = self.commands.send(Command::Execute(id, code));
        self.execution(id).ok_or(KernelError::NotFound)
    }

    /// One execution, with its queue position filled in while queued.
    pub fn execution(&self, id: u64) -> Option<Execution> {
        let r = self.lock();
        let mut e = r.executions.get(&id)?.clone();
        if e.status == ExecutionStatus::Queued {
            e.queue_position = Some(self.queue_position(&r, id));
        }
        Some(e)
    }

    /// Every execution, oldest first.
    pub fn executions(&self) -> Vec<Execution> {
        self.lock().executions.values().cloned().collect()
    }

    fn queue_position(&self, r: &Record, id: u64) -> usize {
        let local = r.queue.iter().position(|&q| q == id).unwrap_or(0);
        let ahead_elsewhere = match r.queue.front() {
            Some(&head) if r.running.is_none() => self.inner.limiter.position(&self.id, head).unwrap_or(0),
            _ => 0,
        };
        ahead_elsewhere + local + 1
    }

    /// The execution as it is now and every change after it, with nothing
    /// missed in between.
    pub fn watch(&self, id: u64) -> Option<(Execution, broadcast::Receiver<SessionEvent>)> {
        let r = self.lock();
        let e = r.executions.get(&id)?.clone();
        Some((e, self.events.subscribe()))
    }

    /// Every change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<SessionEvent> {
        self.events.subscribe()
    }

    /// Stops the running cell; cells queued behind it are not run.
    pub fn interrupt(&self) {
        self.lock().last_activity = Instant::now();
        let _ = self.commands.send(Command::Interrupt);
    }

    /// Puts `content` into the kernel's working directory as
    /// `data/<name>` (see [`DATA_DIR`]) before any cell queued after this
    /// call runs, and again into every kernel that replaces this one
    /// (restart, cull): a participant's uploaded dataset, readable from
    /// their cells. A `name` that is not a plain file name is ignored.
    pub fn put_file(&self, name: &str, content: Arc<str>) {
        if plain_file_name(name) {
            let _ = self.commands.send(Command::PutFile(name.to_owned(), content));
        }
    }

    /// Puts `content` into the running kernel's working directory as
    /// `data/<name>`, written whole, once: a kernel that replaces this one
    /// does not get it (an answer to a running cell, which would be gone).
    /// Nothing happens without a running kernel or for a name that is not
    /// a plain file name.
    pub fn write_file(&self, name: &str, content: Arc<str>) {
        if plain_file_name(name) {
            let _ = self.commands.send(Command::WriteFile(name.to_owned(), content));
        }
    }

    /// Takes `data/<name>` out of the kernel's working directory (and out
    /// of the kernels that replace it).
    pub fn remove_file(&self, name: &str) {
        if plain_file_name(name) {
            let _ = self.commands.send(Command::RemoveFile(name.to_owned()));
        }
    }

    /// The bytes of `name` in the kernel's working directory — where a
    /// cell's `model.save("fraud-gbt.json")` writes — if at most `max_bytes`.
    ///
    /// # Errors
    /// [`FileError`]: no running kernel, no such file, a name with a
    /// folder, too large, or a read failure.
    pub async fn read_file(&self, name: &str, max_bytes: u64) -> Result<Vec<u8>, FileError> {
        if !plain_file_name(name) {
            return Err(FileError::BadName(name.to_owned()));
        }
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::ReadFile(name.to_owned(), max_bytes, tx)).map_err(|_| FileError::NoKernel)?;
        rx.await.unwrap_or(Err(FileError::NoKernel))
    }

    /// Stops the kernel and starts a new one (variables are lost).
    pub fn restart(&self) {
        self.lock().last_activity = Instant::now();
        let _ = self.commands.send(Command::Restart);
    }

    pub(crate) fn stop(&self, cull: bool) {
        let _ = self.commands.send(Command::Stop { cull });
    }

    /// Whether the culler may stop it now.
    pub(crate) fn cullable(&self, idle: Duration) -> bool {
        let r = self.lock();
        r.kernel == KernelState::Idle && r.queue.is_empty() && r.last_activity.elapsed() >= idle
    }
}

/// The folder of a kernel's working directory that [`KernelSession::put_file`] fills.
pub const DATA_DIR: &str = "data";

/// A name without a path: no separator, not `.`/`..`, not hidden.
fn plain_file_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

/// Writes `data/<name>` in a worker's directory; a failure is logged (the
/// cell that opens the file then says it is missing).
/// Writes `data/<name>` whole: into a hidden file first, then moved into
/// place, so a cell that polls for it never reads half of it.
fn write_data_file(dir: &std::path::Path, name: &str, content: &str) {
    let data = dir.join(DATA_DIR);
    let partial = data.join(format!(".{name}.partial"));
    let written = std::fs::create_dir_all(&data)
        .and_then(|()| std::fs::write(&partial, content))
        .and_then(|()| std::fs::rename(&partial, data.join(name)));
    if let Err(e) = written {
        tracing::error!(dir = %data.display(), name, error = %e, "could not put a data file into a kernel's directory");
    }
}

/// Reads a file of a worker's directory (small files: models, results).
fn read_work_file(path: &std::path::Path, name: &str, max: u64) -> Result<Vec<u8>, FileError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => FileError::NotFound(name.to_owned()),
        _ => FileError::Io(e.to_string()),
    })?;
    if !meta.is_file() {
        return Err(FileError::NotFound(name.to_owned()));
    }
    if meta.len() > max {
        return Err(FileError::TooLarge { size: meta.len(), max });
    }
    std::fs::read(path).map_err(|e| FileError::Io(e.to_string()))
}

/// A worker that is running, with its directory.
pub(crate) struct Started {
    pub(crate) io: WorkerIo,
    pub(crate) dir: PathBuf,
    /// Ready (and warmed up) already, as pooled workers are.
    pub(crate) ready: bool,
}

type PermitFuture = Pin<Box<dyn Future<Output = Option<OwnedSemaphorePermit>> + Send>>;

struct Running {
    id: u64,
    deadline: Instant,
    timed_out: bool,
    _permit: OwnedSemaphorePermit,
}

struct Actor {
    session: Arc<KernelSession>,
    commands: mpsc::UnboundedReceiver<Command>,
    worker: Option<Started>,
    /// While the worker starts: when it must be ready by.
    ready_by: Option<Instant>,
    /// Code of the queued executions, in the order of `Record::queue`.
    code: VecDeque<(u64, String)>,
    running: Option<Running>,
    permit: Option<PermitFuture>,
    /// Why the last kernel went away, told to the next cell that starts a new one.
    restarted_because: Option<String>,
    /// Files every worker of this session gets in `data/` (see [`KernelSession::put_file`]).
    files: std::collections::BTreeMap<String, Arc<str>>,
}

const INTERRUPTED_BY_RESTART: &str = "The kernel was restarted; this cell was stopped.";
const NOT_RUN: &str = "Not run: an earlier cell failed or was interrupted.";

impl Actor {
    async fn run(mut self, worker: Started) {
        self.adopt(worker);
        loop {
            self.next_step();
            let deadline = self.running.as_ref().filter(|r| !r.timed_out).map(|r| r.deadline);
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Execute(id, code)) => self.code.push_back((id, code)),
                    Some(Command::Interrupt) => self.interrupt(),
                    Some(Command::Restart) => {
                        self.stop_worker(KernelState::Starting, None, INTERRUPTED_BY_RESTART);
                        self.start_worker();
                    }
                    Some(Command::Stop { cull: true }) => {
                        let why = "The kernel was stopped after being idle; its variables are gone.";
                        self.stop_worker(KernelState::Culled, Some(why.to_owned()), INTERRUPTED_BY_RESTART);
                        self.restarted_because = Some(why.to_owned());
                    }
                    Some(Command::PutFile(name, content)) => {
                        if let Some(w) = &self.worker {
                            write_data_file(&w.dir, &name, &content);
                        }
                        self.files.insert(name, content);
                    }
                    Some(Command::WriteFile(name, content)) => {
                        if let Some(w) = &self.worker {
                            write_data_file(&w.dir, &name, &content);
                        }
                    }
                    Some(Command::RemoveFile(name)) => {
                        if let Some(w) = &self.worker {
                            let _ = std::fs::remove_file(w.dir.join(DATA_DIR).join(&name));
                        }
                        self.files.remove(&name);
                    }
                    Some(Command::ReadFile(name, max, reply)) => {
                        let _ = reply.send(self.worker.as_ref().map_or(Err(FileError::NoKernel), |w| {
                            read_work_file(&w.dir.join(&name), &name, max)
                        }));
                    }
                    Some(Command::Stop { cull: false }) | None => {
                        self.stop_worker(KernelState::Culled, None, "The session was closed.");
                        break;
                    }
                },
                event = next_event(&mut self.worker) => self.on_worker(event),
                permit = wait_permit(&mut self.permit) => self.begin(permit),
                () = sleep_until(deadline) => self.time_out(),
                () = sleep_until(self.ready_by) => {
                    let why = format!(
                        "The kernel did not start within {}.",
                        human_duration(self.session.inner.config.ready_timeout)
                    );
                    self.worker_failed(why);
                }
            }
        }
    }

    /// Starts what can start: a new worker for waiting cells, or the wait
    /// for a compile slot for the next cell.
    fn next_step(&mut self) {
        if self.code.is_empty() || self.running.is_some() {
            return;
        }
        if self.worker.is_none() {
            self.start_worker();
            return;
        }
        if self.ready_by.is_none() && self.permit.is_none() {
            let (id, _) = self.code.front().expect("not empty");
            self.permit = Some(self.session.inner.limiter.acquire(self.session.id.clone(), *id));
        }
    }

    fn start_worker(&mut self) {
        let inner = self.session.inner.clone();
        match inner.obtain_worker() {
            Ok(started) => self.adopt(started),
            Err(e) => self.worker_failed(e.to_string()),
        }
    }

    fn adopt(&mut self, started: Started) {
        let ready = started.ready;
        for (name, content) in &self.files {
            write_data_file(&started.dir, name, content);
        }
        self.worker = Some(started);
        if ready {
            self.set_kernel(if self.code.is_empty() { KernelState::Idle } else { KernelState::Busy }, None);
            self.ready_by = None;
        } else {
            self.set_kernel(KernelState::Starting, None);
            self.ready_by = Some(Instant::now() + self.session.inner.config.ready_timeout);
        }
    }

    fn set_kernel(&self, state: KernelState, message: Option<String>) {
        self.session.update(|r| {
            if r.kernel == state && r.kernel_message == message {
                return vec![];
            }
            r.kernel = state;
            r.kernel_message.clone_from(&message);
            vec![SessionEvent::Kernel { state, message }]
        });
    }

    fn begin(&mut self, permit: Option<OwnedSemaphorePermit>) {
        self.permit = None;
        let (Some(permit), Some((id, code))) = (permit, self.code.pop_front()) else { return };
        self.session.inner.limiter.leave(&self.session.id, id);
        let Some(worker) = &self.worker else {
            self.code.push_front((id, code));
            return;
        };
        let note = self.restarted_because.take();
        let _ = worker.io.requests.send(Request::Execute { id, code });
        self.running = Some(Running {
            id,
            deadline: Instant::now() + self.session.inner.config.cell_time_limit,
            timed_out: false,
            _permit: permit,
        });
        self.set_kernel(KernelState::Busy, None);
        let limits = self.session.inner.config.limits;
        self.session.update(|r| {
            r.queue.retain(|&q| q != id);
            r.running = Some(id);
            r.last_activity = Instant::now();
            let mut events = vec![SessionEvent::Status { execution: id, status: ExecutionStatus::Running }];
            if let (Some(e), Some(why)) = (r.executions.get_mut(&id), note) {
                e.status = ExecutionStatus::Running;
                let text =
                    format!("[A new kernel was started. {why} Run the cells above again if this one needs them.]\n");
                for output in e.push(Output::Stream { name: StreamName::Stderr, text }, limits) {
                    events.push(SessionEvent::Output { execution: id, output });
                }
            } else if let Some(e) = r.executions.get_mut(&id) {
                e.status = ExecutionStatus::Running;
            }
            events
        });
    }

    fn on_worker(&mut self, event: WorkerEvent) {
        match event {
            WorkerEvent::Event(Event::Ready { protocol, sandbox }) if protocol == PROTOCOL_VERSION => {
                self.session.inner.note_sandbox(sandbox);
                self.ready_by = None;
                self.set_kernel(if self.code.is_empty() { KernelState::Idle } else { KernelState::Busy }, None);
            }
            WorkerEvent::Event(Event::Ready { protocol, .. }) => self.worker_failed(format!(
                "The kernel worker speaks protocol version {protocol}, Flywheel speaks {PROTOCOL_VERSION}: rebuild flywheel-kernel."
            )),
            WorkerEvent::Event(Event::Output { id, output }) => {
                if self.running.as_ref().is_some_and(|r| r.id == id) {
                    self.push_output(id, output);
                }
            }
            WorkerEvent::Event(Event::Done { id, status, elapsed_ms, kernel_ends }) => {
                let Some(running) = self.running.take_if(|r| r.id == id) else { return };
                let status = match status {
                    Status::Ok => ExecutionStatus::Ok,
                    Status::Error => ExecutionStatus::Error,
                    Status::Interrupted => ExecutionStatus::Interrupted,
                };
                if running.timed_out {
                    let limit = human_duration(self.session.inner.config.cell_time_limit);
                    self.push_output(
                        id,
                        Output::Stream {
                            name: StreamName::Stderr,
                            text: format!("[Stopped: the cell ran longer than the time limit of {limit}.]\n"),
                        },
                    );
                }
                self.finish(id, status, Some(elapsed_ms));
                if status != ExecutionStatus::Ok {
                    self.cancel_queue(NOT_RUN);
                }
                if kernel_ends {
                    // Let it go now, so no next cell is sent to a worker on
                    // its way out; the next cell starts a new kernel.
                    let why = "The previous kernel was stopped (its cell started too many processes); its variables are gone.";
                    self.let_worker_go(why.to_owned(), why);
                    return;
                }
                self.set_kernel(if self.code.is_empty() { KernelState::Idle } else { KernelState::Busy }, None);
            }
            WorkerEvent::Exited(why) => self.worker_failed(why),
        }
    }

    fn push_output(&self, id: u64, output: Output) {
        let limits = self.session.inner.config.limits;
        self.session.update(|r| {
            let Some(e) = r.executions.get_mut(&id) else { return vec![] };
            e.push(output, limits).into_iter().map(|output| SessionEvent::Output { execution: id, output }).collect()
        });
    }

    fn finish(&self, id: u64, status: ExecutionStatus, elapsed_ms: Option<u64>) {
        self.session.update(|r| {
            if r.running == Some(id) {
                r.running = None;
            }
            r.queue.retain(|&q| q != id);
            r.last_activity = Instant::now();
            let Some(e) = r.executions.get_mut(&id) else { return vec![] };
            e.status = status;
            e.elapsed_ms = elapsed_ms;
            vec![SessionEvent::Done { execution: id, status, elapsed_ms }]
        });
    }

    /// Ends every queued execution without running it.
    fn cancel_queue(&mut self, why: &str) {
        self.permit = None;
        for (id, _) in std::mem::take(&mut self.code) {
            self.session.inner.limiter.leave(&self.session.id, id);
            self.push_output(id, error_output("NotRun", why));
            self.finish(id, ExecutionStatus::Interrupted, None);
        }
    }

    fn interrupt(&mut self) {
        if let (Some(_), Some(worker)) = (&self.running, &self.worker) {
            let _ = worker.io.requests.send(Request::Interrupt);
        }
        self.cancel_queue(NOT_RUN);
    }

    fn time_out(&mut self) {
        if let (Some(running), Some(worker)) = (&mut self.running, &self.worker) {
            running.timed_out = true;
            let _ = worker.io.requests.send(Request::Interrupt);
        }
    }

    /// The worker went away by itself, or could not start.
    fn worker_failed(&mut self, why: String) {
        tracing::warn!(session = %self.session.id, %why, "kernel worker stopped");
        let was_starting = self.ready_by.is_some() || self.worker.is_none();
        let message = format!("The kernel stopped: {why}");
        if let Some(running) = self.running.take() {
            let text = format!("{message}\nVariables from earlier cells are lost; the next cell starts a new kernel.");
            self.push_output(running.id, error_output("KernelError", &text));
            self.finish(running.id, ExecutionStatus::Error, None);
        }
        if was_starting {
            // It never came up: running the queue would only fail again.
            self.cancel_queue(&format!("Not run: the kernel could not start. {why}"));
        }
        self.let_worker_go(message, "The previous kernel stopped; its variables are gone.");
    }

    /// The worker has gone or is going by itself: the kernel is dead, with
    /// `message`, and the next cell starts a new one and says `note`.
    fn let_worker_go(&mut self, message: String, note: &str) {
        self.drop_worker();
        self.restarted_because = Some(note.to_owned());
        self.set_kernel(KernelState::Dead, Some(message));
    }

    /// Stops the worker on purpose; what was running or queued ends with `why`.
    fn stop_worker(&mut self, state: KernelState, message: Option<String>, why: &str) {
        if let Some(running) = self.running.take() {
            self.push_output(running.id, error_output("Interrupted", why));
            self.finish(running.id, ExecutionStatus::Interrupted, None);
        }
        self.cancel_queue(why);
        if let Some(worker) = &self.worker {
            let _ = worker.io.requests.send(Request::Shutdown);
        }
        self.drop_worker();
        self.restarted_because = None;
        self.set_kernel(state, message);
    }

    fn drop_worker(&mut self) {
        self.ready_by = None;
        if let Some(started) = self.worker.take() {
            drop(started.io);
            let dir = started.dir;
            tokio::spawn(async move {
                // Give the process a moment to go, then remove its files.
                tokio::time::sleep(Duration::from_millis(200)).await;
                if let Err(e) = tokio::fs::remove_dir_all(&dir).await
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(dir = %dir.display(), error = %e, "could not remove a session directory");
                }
            });
        }
    }
}

fn error_output(ename: &str, evalue: &str) -> Output {
    Output::Error {
        ename: ename.to_owned(),
        evalue: evalue.to_owned(),
        traceback: evalue.lines().map(str::to_owned).collect(),
        locations: vec![],
    }
}

async fn next_event(worker: &mut Option<Started>) -> WorkerEvent {
    match worker {
        Some(w) => w.io.events.recv().await.unwrap_or_else(|| WorkerEvent::Exited("the kernel worker vanished".into())),
        None => std::future::pending().await,
    }
}

async fn wait_permit(permit: &mut Option<PermitFuture>) -> Option<OwnedSemaphorePermit> {
    match permit {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
