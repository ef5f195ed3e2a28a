//! Workers on other machines: `flywheel worker --server URL --token …`
//! joins the pool over the API (`/api/v1/workers/…`, authenticated by the
//! server's `training_worker_token`). It asks for work ([`claim`]: the plan
//! assigns it jobs like a local worker, and the answer carries the job's
//! directory as files), runs `flywheel train-job DIR` on its own machine,
//! and reports as a local worker does: events and the latest checkpoint
//! every [`super::worker::TICK`] ([`heartbeat`], which says whether to go
//! on), then how the process ended ([`finish`]). A worker that stops
//! calling drops out of the pool after the heartbeat timeout, and its job is
//! requeued like any other whose heartbeat expired.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use flywheel_domain::{JobEventKind, JobState, TrainingJob, TrainingJobId};
use serde::{Deserialize, Serialize};

use super::runner;
use super::worker::{Exit, failed, outcome, prepare};
use super::{TrainingError, WorkerView, current_plan};
use crate::{App, now};

/// What a remote worker says about itself when it asks for work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// CPU cores it may use.
    pub cpus: usize,
    /// GPUs it has.
    #[serde(default)]
    pub gpus: u32,
}

/// A job handed to a remote worker: its directory's files, by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    /// The job.
    pub id: TrainingJobId,
    /// Which attempt this is, from 1.
    pub attempt: u32,
    /// `job.json`, the data as CSV, and the latest checkpoint if any.
    pub files: BTreeMap<String, String>,
}

/// A remote worker's report while its job runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// The events since the last report.
    #[serde(default)]
    pub events: Vec<JobEventKind>,
    /// The job's latest checkpoint, when the events announce a new one.
    #[serde(default)]
    pub checkpoint: Option<String>,
}

/// How a remote worker's attempt ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finish {
    /// The events since the last report.
    #[serde(default)]
    pub events: Vec<JobEventKind>,
    /// The process's exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that killed it, when one did.
    pub signal: Option<i32>,
    /// The end of its stderr.
    #[serde(default)]
    pub stderr: String,
    /// `result.json`, when it wrote one.
    pub result: Option<String>,
    /// `model.json`, when it wrote one.
    pub model: Option<String>,
}

impl super::Pool {
    /// Notes that remote worker `name` called, with `hello` when it said who it is.
    fn seen(&self, name: &str, hello: Option<Hello>) {
        let mut remote = self.remote.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = remote
            .entry(name.to_owned())
            .or_insert_with(|| (WorkerView { name: name.to_owned(), cpus: 0, gpus: 0, job: None }, Instant::now()));
        if let Some(hello) = hello {
            (entry.0.cpus, entry.0.gpus) = (hello.cpus, hello.gpus);
        }
        entry.1 = Instant::now();
    }

    fn set_remote_job(&self, name: &str, job: Option<TrainingJobId>) {
        let mut remote = self.remote.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(entry) = remote.get_mut(name) {
            entry.0.job = job;
        }
    }
}

/// Remote worker `name` asks for work: requeues lost jobs, then claims the
/// job the plan gives it, if any, with its files.
///
/// # Errors
/// Storage; the job's directory cannot be prepared (its dataset deleted).
pub async fn claim(app: &App, name: &str, hello: Hello) -> Result<Option<Assignment>, TrainingError> {
    app.training.seen(name, Some(hello));
    super::worker::requeue_stale(app).await?;
    let (plan, jobs) = current_plan(app, now()).await?;
    let Some((_, id)) = plan.assignments.into_iter().find(|(w, _)| w == name) else { return Ok(None) };
    if !app.db.claim_training_job(id, name, now()).await? {
        return Ok(None);
    }
    let Some(mut job) = jobs.into_iter().find(|j| j.id == id) else { return Ok(None) };
    job.attempts += 1;
    job.state = JobState::Running;
    super::cells::publish(app, &job);
    app.training.set_remote_job(name, Some(id));
    let dir = app.settings.training.work_dir.join(format!("remote-{}-{}", job.id, job.attempts));
    let files = match files_of(app, &job, &dir).await {
        Ok(files) => files,
        Err(e) => {
            let outcome = failed(format!("the server could not prepare it: {e}"));
            super::worker::finish(app, name, &job, &outcome).await;
            app.training.set_remote_job(name, None);
            return Ok(None);
        }
    };
    Ok(Some(Assignment { id, attempt: job.attempts, files }))
}

/// The job's directory as [`prepare`] writes it, read back into memory.
async fn files_of(app: &App, job: &TrainingJob, dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    prepare(app, job, dir).await?;
    let mut files = BTreeMap::new();
    let mut entries = tokio::fs::read_dir(dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name().to_string_lossy().into_owned();
        files.insert(name, tokio::fs::read_to_string(entry.path()).await?);
    }
    tokio::fs::remove_dir_all(dir).await.ok();
    Ok(files)
}

/// The running job `id` of remote worker `name`, or `None` when it is no
/// longer that worker's to run.
async fn its_job(app: &App, name: &str, id: TrainingJobId) -> Result<Option<TrainingJob>, TrainingError> {
    let job = app.db.training_job(id).await?;
    Ok(job.filter(|j| j.state == JobState::Running && j.worker.as_deref() == Some(name)))
}

/// Stores a remote worker's events (and checkpoint) and heartbeats for it.
/// `Ok(false)`: stop the job — it was cancelled, taken away, or ran past
/// its time limit (then it is failed here).
///
/// # Errors
/// Storage.
pub async fn heartbeat(app: &App, name: &str, id: TrainingJobId, report: Progress) -> Result<bool, TrainingError> {
    app.training.seen(name, None);
    let Some(job) = its_job(app, name, id).await? else { return Ok(false) };
    let at = now();
    let events = report.events.into_iter().map(|e| (at, e)).collect();
    super::worker::record(app, &job, report.checkpoint.as_deref(), events).await?;
    if !app.db.heartbeat_training_job(id, name, at).await? {
        return Ok(false);
    }
    let limit = &app.settings.training.time_limit;
    if job.started_at.is_some_and(|s| at.millis() - s.millis() > i64::try_from(limit.as_millis()).unwrap_or(i64::MAX)) {
        let outcome = super::worker::Tick::TimeLimit.outcome(&app.settings.training).expect("a time limit fails");
        super::worker::finish(app, name, &job, &outcome).await;
        end(app, name, id).await?;
        return Ok(false);
    }
    Ok(true)
}

/// Records how remote worker `name`'s attempt at `id` ended, as a local
/// worker would from its child's exit and directory.
///
/// # Errors
/// Storage; the report's result cannot be read.
pub async fn finish(app: &App, name: &str, id: TrainingJobId, report: Finish) -> Result<(), TrainingError> {
    app.training.seen(name, None);
    let Some(job) = its_job(app, name, id).await? else { return Ok(()) };
    let at = now();
    let events = report.events.into_iter().map(|e| (at, e)).collect();
    super::worker::record(app, &job, None, events).await?;
    let dir = app.settings.training.work_dir.join(format!("remote-{}-{}-end", job.id, job.attempts));
    let outcome = async {
        tokio::fs::create_dir_all(&dir).await?;
        for (file, content) in [(runner::RESULT_FILE, &report.result), (runner::MODEL_FILE, &report.model)] {
            if let Some(content) = content {
                tokio::fs::write(dir.join(file), content).await?;
            }
        }
        let exit = match (report.exit_code, report.signal) {
            (Some(code), _) => Exit::Code(code),
            (None, signal) => Exit::Signal(signal.unwrap_or(0)),
        };
        outcome(&app.settings.training, &job, &dir, exit, &report.stderr).await
    }
    .await
    .unwrap_or_else(|e| failed(format!("the worker's report cannot be read: {e}")));
    tokio::fs::remove_dir_all(&dir).await.ok();
    super::worker::finish(app, name, &job, &outcome).await;
    end(app, name, id).await
}

async fn end(app: &App, name: &str, id: TrainingJobId) -> Result<(), TrainingError> {
    app.training.set_remote_job(name, None);
    if let Some(job) = app.db.training_job(id).await? {
        super::cells::publish(app, &job);
    }
    app.training.wake();
    Ok(())
}

/// Whether `presented` is the server's worker token (compared in constant
/// time); never when the server has none.
pub fn token_matches(app: &App, presented: &str) -> bool {
    use subtle::ConstantTimeEq;
    let token = &app.settings.training.worker_token;
    !token.is_empty() && bool::from(token.as_bytes().ct_eq(presented.as_bytes()))
}
