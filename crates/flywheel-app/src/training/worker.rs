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

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use flywheel_domain::{Artifact, JobEventKind, JobState, Timestamp, TrainingJob, TrainingJobId};
use flywheel_store::JobOutcome;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::Notify;

use super::runner::{self, Input, JobFile, RunResult};
use super::schedule::WorkerSlot;
use super::{DataSource, JobRequest, TrainingError, WorkerView, current_plan};
use crate::{App, now};

/// How often a running job's worker heartbeats and flushes its events.
pub const TICK: Duration = Duration::from_millis(500);

/// The workers this server runs, and the bell that wakes them when a job
/// is submitted or cancelled.
#[derive(Debug, Default)]
pub struct Pool {
    workers: Mutex<Vec<WorkerView>>,
    wake: Notify,
}

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
        self.with(|ws| {
            ws.iter().map(|w| WorkerSlot { name: w.name.clone(), gpus: w.gpus, free: w.job.is_none() }).collect()
        })
    }

    /// The workers as the pool page shows them.
    pub fn workers(&self) -> Vec<WorkerView> {
        self.with(|ws| ws.clone())
    }

    fn register(&self, worker: WorkerView) {
        self.with(|ws| ws.push(worker));
    }

    fn set_job(&self, name: &str, job: Option<TrainingJobId>) {
        self.with(|ws| ws.iter_mut().filter(|w| w.name == name).for_each(|w| w.job = job));
    }
}

/// Starts `settings.training.local_workers` workers on this server's runtime.
pub fn start_local_workers(app: &App) -> Vec<tokio::task::JoinHandle<()>> {
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

/// Requeues lost jobs, then takes and runs this worker's next job, if any.
/// Returns whether it ran one.
async fn step(app: &App, name: &str) -> Result<bool, TrainingError> {
    let settings = &app.settings.training;
    let now = now();
    let timeout = i64::try_from(settings.heartbeat_timeout.as_millis()).unwrap_or(i64::MAX);
    for (id, state) in
        app.db.requeue_stale_training_jobs(Timestamp(now.millis() - timeout), settings.max_attempts, now).await?
    {
        tracing::warn!(job = %id, to = state.as_str(), "a training job's worker stopped heartbeating");
    }
    let (plan, jobs) = current_plan(app, now).await?;
    let Some((_, id)) = plan.assignments.into_iter().find(|(w, _)| w == name) else { return Ok(false) };
    if !app.db.claim_training_job(id, name, crate::now()).await? {
        return Ok(true); // another worker took it: look again at once
    }
    let Some(mut job) = jobs.into_iter().find(|j| j.id == id) else { return Ok(true) };
    job.attempts += 1;
    app.training.set_job(name, Some(id));
    let outcome = run_attempt(app, name, &job).await;
    app.training.set_job(name, None);
    match outcome {
        Ok(Some(outcome)) => {
            if app.db.finish_training_job(id, name, &outcome, crate::now()).await? {
                // The model reaches the owner's open sessions at once (new ones get it at start).
                for (artifact, content) in outcome.artifacts.iter().filter(|(a, _)| a.name == runner::MODEL_FILE) {
                    let content: std::sync::Arc<str> = std::sync::Arc::from(content.as_str());
                    for session in app.kernels.sessions(job.owner) {
                        session.put_file(&super::model_file_name(id), content.clone());
                    }
                    tracing::info!(job = %id, model = %artifact.kind, "training job completed");
                }
            }
        }
        Ok(None) => {} // cancelled or taken away: the store already says so
        Err(e) => {
            let outcome = failed(format!("the worker could not run it: {e}"));
            app.db.finish_training_job(id, name, &outcome, crate::now()).await?;
        }
    }
    app.training.wake();
    Ok(true)
}

fn failed(error: String) -> JobOutcome {
    JobOutcome {
        state: JobState::Failed,
        error: Some(error),
        final_metrics: serde_json::Map::new(),
        rows: 0,
        artifacts: Vec::new(),
    }
}

/// Writes the job directory: `job.json`, and a dataset's CSV.
async fn prepare(app: &App, job: &TrainingJob, dir: &Path) -> anyhow::Result<()> {
    let req: JobRequest = serde_json::from_value(job.spec.clone())?;
    tokio::fs::create_dir_all(dir).await?;
    let input = async |text: &str, file: &str| -> anyhow::Result<Input> {
        Ok(match DataSource::parse(text).map_err(|e| anyhow::anyhow!("{e}"))? {
            DataSource::Builtin(name) => Input::Builtin(name),
            DataSource::Dataset(name) => {
                let record = app.db.datasets(job.owner).await?.into_iter().find(|d| d.name == name);
                let record = record.ok_or_else(|| anyhow::anyhow!("the dataset {} was deleted", name.as_str()))?;
                let content = app.db.dataset_content(record.id).await?.unwrap_or_default();
                let path = dir.join(file);
                tokio::fs::write(&path, content).await?;
                Input::Csv(path)
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
    Ok(())
}

fn program(app: &App) -> PathBuf {
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
    let mut child = tokio::process::Command::new(program(app))
        .arg("train-job")
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let stderr_tail = tokio::spawn(async move {
        let mut all = Vec::new();
        let _ = stderr.read_to_end(&mut all).await;
        let skip = all.len().saturating_sub(4000);
        String::from_utf8_lossy(&all[skip..]).into_owned()
    });
    let started = Instant::now();
    let mut ticker = tokio::time::interval(TICK);
    let mut pending: Vec<(Timestamp, JobEventKind)> = Vec::new();
    let mut stdout_open = true;
    let status = loop {
        tokio::select! {
            line = lines.next_line(), if stdout_open => match line {
                Ok(Some(line)) => match serde_json::from_str::<JobEventKind>(&line) {
                    Ok(event) => pending.push((now(), event)),
                    Err(_) => pending.push((now(), JobEventKind::Log { line })),
                },
                _ => stdout_open = false,
            },
            status = child.wait(), if !stdout_open => break status?,
            _ = ticker.tick() => {
                app.db.append_job_events(job.id, &std::mem::take(&mut pending)).await?;
                if !app.db.heartbeat_training_job(job.id, name, now()).await? {
                    child.kill().await.ok();
                    return Ok(None);
                }
                if started.elapsed() > settings.time_limit {
                    child.kill().await.ok();
                    let limit = settings.time_limit.as_secs();
                    return Ok(Some(failed(format!("it ran past its time limit of {limit} s and was stopped"))));
                }
            }
        }
    };
    app.db.append_job_events(job.id, &pending).await?;
    let stderr = stderr_tail.await.unwrap_or_default();
    let outcome = match status.code() {
        Some(0) | Some(runner::TRAINING_ERROR) => {
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
        Some(code) => failed(format!("the training process stopped with exit code {code}: {}", stderr.trim())),
        None => {
            use std::os::unix::process::ExitStatusExt;
            let signal = status.signal().unwrap_or(0);
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
    };
    tokio::fs::remove_dir_all(&dir).await.ok();
    Ok(Some(outcome))
}
