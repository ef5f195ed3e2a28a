//! Local workers: the pool's embedded default. `serve` starts
//! `training_local_workers` of them; each takes the job the plan gives it,
//! runs it as `flywheel train-job DIR` in a child process, and while the
//! child runs: forwards its events to the store, heartbeats every
//! [`TICK`], and kills the child when the job is cancelled (the heartbeat
//! says so), requeued elsewhere, or past its time limit.
//!
//! How an attempt ends: exit 0 → `completed` with the model as an
//! artifact; exit [`runner::TRAINING_ERROR`] → `failed` with the library's
//! message; killed by a signal it did not send (the out-of-memory killer,
//! `kill -9`) → `pending` again until `max_attempts`, then `failed`; any
//! other exit (a panic) → `failed` with the end of its stderr. A worker
//! whose server dies stops heartbeating; its job is requeued by whichever
//! worker next sees the heartbeat expired (after a restart, the new ones).
//!
//! Checkpoints: when the process says it saved one, the worker stores it as
//! the job's `checkpoint.json` artifact at its next tick ([`flush`]); every
//! attempt's directory starts with the job's latest ([`prepare`]), so a
//! requeued job loses at most the rounds since then.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use flywheel_domain::{Artifact, JobEventKind, JobState, Timestamp, TrainingJob, TrainingJobId};
use flywheel_store::JobOutcome;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::Notify;

use super::runner::{self, Input, JobFile, RunResult};
use super::schedule::WorkerSlot;
use super::stopping::Reached;
use super::{DataSource, JobRequest, TrainingError, WorkerView, current_plan};
use crate::{App, now};

/// How often a running job's worker heartbeats and flushes its events.
pub const TICK: Duration = Duration::from_millis(500);

/// The workers this server runs, and the bell that wakes them when a job
/// is submitted or cancelled.
#[derive(Debug, Default)]
pub struct Pool {
    workers: Mutex<Vec<WorkerView>>,
    pub(super) wake: Notify,
    /// Ended trials' early-stopping curves by job and metric: they no longer change.
    pub(super) ended_curves: Mutex<HashMap<(TrainingJobId, String), EndedCurve>>,
    /// Remote workers by name, with when each last called.
    pub(super) remote: Mutex<HashMap<String, (WorkerView, Instant)>>,
}

/// An ended trial's curve of one metric: when it reached each round.
pub(super) type EndedCurve = Arc<Vec<Reached>>;

/// A remote worker that has not called for this long has left the pool
/// (an idle one asks for work every second, a busy one heartbeats every [`TICK`]).
pub const REMOTE_WORKER_GONE: Duration = Duration::from_secs(10);

impl Pool {
    /// Wakes idle workers to look at the queue now rather than at their next poll.
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }

    fn with<T>(&self, f: impl FnOnce(&mut Vec<WorkerView>) -> T) -> T {
        f(&mut self.workers.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The workers as scheduling sees them.
    pub fn slots(&self) -> Vec<WorkerSlot> {
        self.workers().into_iter().map(|w| WorkerSlot { free: w.job.is_none(), name: w.name, gpus: w.gpus }).collect()
    }

    /// The workers as the pool page shows them: this server's, then the
    /// remote ones that called within [`REMOTE_WORKER_GONE`].
    pub fn workers(&self) -> Vec<WorkerView> {
        let mut all = self.with(|ws| ws.clone());
        let mut remote = self.remote.lock().unwrap_or_else(PoisonError::into_inner);
        remote.retain(|_, (_, seen)| seen.elapsed() < REMOTE_WORKER_GONE);
        let mut remote: Vec<WorkerView> = remote.values().map(|(w, _)| w.clone()).collect();
        remote.sort_by(|a, b| a.name.cmp(&b.name));
        all.extend(remote);
        all
    }

    pub(super) fn register(&self, worker: WorkerView) {
        self.with(|ws| ws.push(worker));
    }

    fn set_job(&self, name: &str, job: Option<TrainingJobId>) {
        self.with(|ws| ws.iter_mut().filter(|w| w.name == name).for_each(|w| w.job = job));
    }
}

/// Starts the pool on this server's runtime: the tuning controller, and the
/// backend — the Slurm dispatcher when `settings.training.slurm` is set,
/// else `settings.training.local_workers` local workers.
pub fn start(app: &App) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = vec![tokio::spawn(super::tuning::run(app.clone()))];
    if app.settings.training.slurm.is_some() {
        tasks.push(super::slurm::start(app));
    } else {
        tasks.extend(start_local_workers(app));
    }
    tasks
}

fn start_local_workers(app: &App) -> Vec<tokio::task::JoinHandle<()>> {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let host = std::process::id();
    (1..=app.settings.training.local_workers)
        .map(|i| {
            let name = format!("local-{i}.{host}");
            app.training.register(WorkerView { name: name.clone(), cpus, gpus: 0, job: None });
            tokio::spawn(run_worker(app.clone(), name))
        })
        .collect()
}

async fn run_worker(app: App, name: String) {
    tracing::info!(worker = %name, "training worker started");
    loop {
        match step(&app, &name).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::warn!(worker = %name, error = %e, "training worker could not take a job"),
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), app.training.wake.notified()).await;
    }
}

/// Running jobs whose worker stopped heartbeating go back to the queue
/// (or fail after their last attempt).
pub(super) async fn requeue_stale(app: &App) -> Result<(), TrainingError> {
    let settings = &app.settings.training;
    let now = now();
    let timeout = i64::try_from(settings.heartbeat_timeout.as_millis()).unwrap_or(i64::MAX);
    for (id, state) in
        app.db.requeue_stale_training_jobs(Timestamp(now.millis() - timeout), settings.max_attempts, now).await?
    {
        tracing::warn!(job = %id, to = state.as_str(), "a training job's worker stopped heartbeating");
    }
    Ok(())
}

/// Requeues lost jobs, then takes and runs this worker's next job, if any.
/// Returns whether it ran one.
async fn step(app: &App, name: &str) -> Result<bool, TrainingError> {
    requeue_stale(app).await?;
    let (plan, jobs) = current_plan(app, now()).await?;
    let Some((_, id)) = plan.assignments.into_iter().find(|(w, _)| w == name) else { return Ok(false) };
    if !app.db.claim_training_job(id, name, crate::now()).await? {
        return Ok(true); // another worker took it: look again at once
    }
    let Some(mut job) = jobs.into_iter().find(|j| j.id == id) else { return Ok(true) };
    job.attempts += 1;
    job.state = JobState::Running;
    super::cells::publish(app, &job);
    app.training.set_job(name, Some(id));
    let outcome = run_attempt(app, name, &job).await;
    app.training.set_job(name, None);
    match outcome {
        Ok(Some(outcome)) => finish(app, name, &job, &outcome).await,
        Ok(None) => {} // cancelled or taken away: the store already says so
        Err(e) => finish(app, name, &job, &failed(format!("the worker could not run it: {e}"))).await,
    }
    if let Some(job) = app.db.training_job(id).await? {
        super::cells::publish(app, &job);
    }
    app.training.wake();
    Ok(true)
}

/// Records how `worker`'s attempt at `job` ended; a completed job's model
/// reaches its owner's open sessions at once (new ones get it at start).
pub(super) async fn finish(app: &App, worker: &str, job: &TrainingJob, outcome: &JobOutcome) {
    match app.db.finish_training_job(job.id, worker, outcome, crate::now()).await {
        Ok(true) => {}
        Ok(false) => return, // cancelled or taken away meanwhile
        Err(e) => return tracing::error!(job = %job.id, error = %e, "could not record a training job's end"),
    }
    for (artifact, content) in outcome.artifacts.iter().filter(|(a, _)| a.name == runner::MODEL_FILE) {
        let content: std::sync::Arc<str> = std::sync::Arc::from(content.as_str());
        for session in app.kernels.sessions(job.owner) {
            session.put_file(&super::model_file_name(job.id), content.clone());
        }
        tracing::info!(job = %job.id, model = %artifact.kind, "training job completed");
    }
}

pub(super) fn failed(error: String) -> JobOutcome {
    JobOutcome {
        state: JobState::Failed,
        error: Some(error),
        final_metrics: serde_json::Map::new(),
        rows: 0,
        artifacts: Vec::new(),
    }
}

/// Writes the job directory: `job.json`, and a dataset's CSV.
pub(super) async fn prepare(app: &App, job: &TrainingJob, dir: &Path) -> anyhow::Result<()> {
    let req: JobRequest = serde_json::from_value(job.spec.clone())?;
    tokio::fs::create_dir_all(dir).await?;
    let input = async |text: &str, file: &str| -> anyhow::Result<Input> {
        Ok(match DataSource::parse(text).map_err(|e| anyhow::anyhow!("{e}"))? {
            DataSource::Builtin(name) => Input::Builtin(name),
            DataSource::Cell(name) => {
                let input = format!("{}{name}", super::INPUT_PREFIX);
                let content = app.db.training_artifact_content(job.id, &input).await?;
                let content = content.ok_or_else(|| anyhow::anyhow!("the job's {name} from its cell is missing"))?;
                tokio::fs::write(dir.join(file), content).await?;
                Input::Csv(file.into())
            }
            DataSource::Dataset(name) => {
                let record = app.db.datasets(job.owner).await?.into_iter().find(|d| d.name == name);
                let record = record.ok_or_else(|| anyhow::anyhow!("the dataset {} was deleted", name.as_str()))?;
                let content = app.db.dataset_content(record.id).await?.unwrap_or_default();
                tokio::fs::write(dir.join(file), content).await?;
                Input::Csv(file.into())
            }
        })
    };
    let train = input(&req.data.train, "train.csv").await?;
    let validation = match &req.data.validation {
        Some(v) => Some(input(v, "validation.csv").await?),
        None => None,
    };
    let file = JobFile {
        spec: flywheel_ml::training::TrainingSpec {
            algorithm: req.algorithm,
            hyperparameters: req.hyperparameters,
            target: req.data.target,
        },
        train,
        validation,
    };
    tokio::fs::write(dir.join(runner::JOB_FILE), serde_json::to_vec_pretty(&file)?).await?;
    if let Some(checkpoint) = app.db.training_artifact_content(job.id, runner::CHECKPOINT_FILE).await? {
        tokio::fs::write(dir.join(runner::CHECKPOINT_FILE), checkpoint).await?;
    }
    Ok(())
}

/// Stores a job's new `events`, with the `checkpoint` they announce first
/// (as the job's [`runner::CHECKPOINT_FILE`] artifact, which its next
/// attempt starts from); a tuning trial's new rounds wake the controller,
/// which judges them at once (early stopping). Local and remote workers
/// both report through here.
pub(super) async fn record(
    app: &App,
    job: &TrainingJob,
    checkpoint: Option<&str>,
    events: Vec<(Timestamp, JobEventKind)>,
) -> Result<(), flywheel_store::StoreError> {
    if let Some(content) = checkpoint {
        let artifact = Artifact {
            name: runner::CHECKPOINT_FILE.into(),
            kind: "checkpoint".into(),
            size_bytes: content.len() as u64,
        };
        app.db.put_training_artifact(job.id, &artifact, content).await?;
    }
    let trial_rounds = job.spec.get("tuning").is_some_and(|t| !t.is_null())
        && events.iter().any(|(_, e)| matches!(e, JobEventKind::Metrics { .. }));
    app.db.append_job_events(job.id, &events).await?;
    if trial_rounds {
        app.training.wake();
    }
    Ok(())
}

/// [`record`]s the events gathered from the local training process in
/// `dir`, with `dir`'s latest checkpoint when one of them announces it.
pub(super) async fn flush(
    app: &App,
    job: &TrainingJob,
    dir: &Path,
    pending: &mut Vec<(Timestamp, JobEventKind)>,
) -> Result<(), flywheel_store::StoreError> {
    let checkpoint = if pending.iter().any(|(_, e)| matches!(e, JobEventKind::Checkpoint { .. })) {
        tokio::fs::read_to_string(dir.join(runner::CHECKPOINT_FILE)).await.ok()
    } else {
        None
    };
    record(app, job, checkpoint.as_deref(), std::mem::take(pending)).await
}

/// Where `nice` is: job processes run at a lower CPU priority than the
/// server and the notebook kernels, so that a room's cells stay quick while
/// the pool trains on the same machine.
const NICE: &str = "/usr/bin/nice";

/// A running job process, `program train-job DIR`: the child, its
/// stdout's lines (the job's events) and the end of its stderr (ready when
/// it exits).
pub struct JobProcess {
    /// The process (killed when dropped).
    pub child: tokio::process::Child,
    /// Its stdout, line by line.
    pub lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    /// The last 4,000 bytes of its stderr.
    pub stderr_tail: tokio::task::JoinHandle<String>,
}

impl JobProcess {
    /// Starts `program train-job dir` under `nice -n 10` where `nice`
    /// exists (it execs the program, so the pid is the job's).
    ///
    /// # Errors
    /// The program cannot be started.
    pub fn start(program: &Path, dir: &Path) -> std::io::Result<JobProcess> {
        let mut command = if Path::new(NICE).is_file() {
            let mut command = tokio::process::Command::new(NICE);
            command.args(["-n", "10"]).arg(program);
            command
        } else {
            tokio::process::Command::new(program)
        };
        let mut child = command
            .arg("train-job")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let stderr_tail = tokio::spawn(async move {
            let mut all = Vec::new();
            let _ = stderr.read_to_end(&mut all).await;
            let skip = all.len().saturating_sub(4000);
            String::from_utf8_lossy(&all[skip..]).into_owned()
        });
        Ok(JobProcess { child, lines, stderr_tail })
    }
}

/// The program a worker starts for each job: the configured
/// `worker_program`, else this one.
pub(crate) fn program(app: &App) -> PathBuf {
    let configured = &app.settings.training.worker_program;
    if configured.as_os_str().is_empty() {
        std::env::current_exe().unwrap_or_else(|_| PathBuf::from("flywheel"))
    } else {
        configured.clone()
    }
}

/// Runs one attempt. `Ok(None)`: the job was cancelled or taken away while it ran.
async fn run_attempt(app: &App, name: &str, job: &TrainingJob) -> anyhow::Result<Option<JobOutcome>> {
    let settings = &app.settings.training;
    let dir = settings.work_dir.join(format!("{}-{}", job.id, job.attempts));
    prepare(app, job, &dir).await?;
    let JobProcess { mut child, mut lines, stderr_tail } = JobProcess::start(&program(app), &dir)?;
    let started = Instant::now();
    let mut ticker = tokio::time::interval(TICK);
    let mut pending: Vec<(Timestamp, JobEventKind)> = Vec::new();
    let mut stdout_open = true;
    let status = loop {
        tokio::select! {
            line = lines.next_line(), if stdout_open => match line {
                Ok(Some(line)) => pending.push(event_of(line)),
                _ => stdout_open = false,
            },
            status = child.wait(), if !stdout_open => break status?,
            _ = ticker.tick() => match tick(app, name, job, &dir, &mut pending, started).await? {
                Tick::Go => {}
                stop => {
                    child.kill().await.ok();
                    return Ok(stop.outcome(settings));
                }
            }
        }
    };
    flush(app, job, &dir, &mut pending).await?;
    let stderr = stderr_tail.await.unwrap_or_default();
    let exit = {
        use std::os::unix::process::ExitStatusExt;
        status.code().map_or_else(|| Exit::Signal(status.signal().unwrap_or(0)), Exit::Code)
    };
    let outcome = outcome(settings, job, &dir, exit, &stderr).await?;
    tokio::fs::remove_dir_all(&dir).await.ok();
    Ok(Some(outcome))
}

/// One line of a training process's stdout as a job event (a line that is
/// not an event is a log line).
pub fn event_of(line: String) -> (Timestamp, JobEventKind) {
    match serde_json::from_str::<JobEventKind>(&line) {
        Ok(event) => (now(), event),
        Err(_) => (now(), JobEventKind::Log { line }),
    }
}

/// What a worker does after a [`TICK`].
pub(super) enum Tick {
    /// Carry on.
    Go,
    /// The job was cancelled or taken away: stop it, write nothing.
    Stop,
    /// It ran past its time limit: stop it and fail it.
    TimeLimit,
}

impl Tick {
    pub(super) fn outcome(self, settings: &super::TrainingSettings) -> Option<JobOutcome> {
        match self {
            Tick::Go | Tick::Stop => None,
            Tick::TimeLimit => {
                let limit = settings.time_limit.as_secs();
                Some(failed(format!("it ran past its time limit of {limit} s and was stopped")))
            }
        }
    }
}

/// Flushes the events gathered since the last tick, heartbeats, and says
/// whether the job goes on.
pub(super) async fn tick(
    app: &App,
    worker: &str,
    job: &TrainingJob,
    dir: &Path,
    pending: &mut Vec<(Timestamp, JobEventKind)>,
    started: Instant,
) -> Result<Tick, flywheel_store::StoreError> {
    flush(app, job, dir, pending).await?;
    if !app.db.heartbeat_training_job(job.id, worker, now()).await? {
        return Ok(Tick::Stop);
    }
    Ok(if started.elapsed() > app.settings.training.time_limit { Tick::TimeLimit } else { Tick::Go })
}

/// How a training process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal it did not expect killed it (`kill -9`, the out-of-memory killer, a lost node).
    Signal(i32),
}

/// The attempt's outcome from how its process ended and what it left in `dir`.
pub(super) async fn outcome(
    settings: &super::TrainingSettings,
    job: &TrainingJob,
    dir: &Path,
    exit: Exit,
    stderr: &str,
) -> anyhow::Result<JobOutcome> {
    Ok(match exit {
        Exit::Code(0 | runner::TRAINING_ERROR) => {
            let result: RunResult = serde_json::from_slice(&tokio::fs::read(dir.join(runner::RESULT_FILE)).await?)?;
            match result {
                RunResult::Trained { model_type, final_metrics, rows } => {
                    let model = tokio::fs::read_to_string(dir.join(runner::MODEL_FILE)).await?;
                    let artifact =
                        Artifact { name: runner::MODEL_FILE.into(), kind: model_type, size_bytes: model.len() as u64 };
                    JobOutcome {
                        state: JobState::Completed,
                        error: None,
                        final_metrics,
                        rows,
                        artifacts: vec![(artifact, model)],
                    }
                }
                RunResult::Failed { error } => failed(error),
            }
        }
        Exit::Code(code) => failed(format!("the training process stopped with exit code {code}: {}", stderr.trim())),
        Exit::Signal(signal) => {
            let why = format!(
                "the training process was killed by signal {signal} (out of memory, or killed by someone) on attempt {} of {}",
                job.attempts, settings.max_attempts
            );
            if job.attempts < settings.max_attempts {
                JobOutcome { state: JobState::Pending, ..failed(why) }
            } else {
                failed(why)
            }
        }
    })
}
