//! `flywheel worker --server URL --token …`: a training worker on another
//! machine. It asks the server for a job every second
//! (`POST /api/v1/workers/{name}/claim`), writes the job's files into a
//! directory of its own, runs `flywheel train-job DIR` (this same program)
//! under `nice`, and every half second sends the new events and the latest
//! checkpoint (`…/heartbeat`); when the answer says stop (cancelled, taken
//! away, past its time limit) it kills the process. When the process ends it
//! sends the exit, the end of stderr, `result.json` and `model.json`
//! (`…/finish`). The server does all the bookkeeping, as for its own
//! workers; if this worker dies, its job's heartbeat expires and the job is
//! requeued, to resume from its last checkpoint.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use flywheel_app::training::remote::{Assignment, Finish, Hello, Progress};
use flywheel_app::training::runner;
use flywheel_app::training::worker::{JobProcess, TICK, event_of};
use flywheel_domain::JobEventKind;

/// Where and as whom the worker works.
#[derive(Debug, Clone)]
pub struct RemoteWorker {
    /// The server, e.g. `http://10.0.0.5:8080`.
    pub server: String,
    /// The server's `training_worker_token`.
    pub token: String,
    /// This worker's name in the pool.
    pub name: String,
    /// Where job directories go.
    pub work_dir: PathBuf,
}

impl RemoteWorker {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/workers/{}/{path}", self.server.trim_end_matches('/'), self.name)
    }

    async fn post<T: serde::Serialize>(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: &T,
    ) -> anyhow::Result<reqwest::Response> {
        let response = client.post(self.url(path)).bearer_auth(&self.token).json(body).send().await?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let message = body["error"]["message"].as_str().unwrap_or("no message").to_owned();
        let error = anyhow::anyhow!("the server answered {status}: {message}");
        if status == reqwest::StatusCode::UNAUTHORIZED { Err(error.context(Fatal)) } else { Err(error) }
    }

    /// Takes and runs jobs until the server refuses the token (an error) or
    /// the process is stopped; a server that cannot be reached is asked again.
    ///
    /// # Errors
    /// The server refuses the token; the work directory cannot be made.
    pub async fn run(&self) -> anyhow::Result<()> {
        tokio::fs::create_dir_all(&self.work_dir).await.context("the work directory")?;
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let hello = Hello { cpus, gpus: 0 };
        tracing::info!(server = %self.server, worker = %self.name, cpus, "remote training worker started");
        loop {
            match self.post(&client, "claim", &hello).await {
                Ok(response) if response.status() == reqwest::StatusCode::OK => {
                    let assignment: Assignment = response.json().await?;
                    tracing::info!(job = %assignment.id, attempt = assignment.attempt, "took a training job");
                    if let Err(e) = self.run_job(&client, &assignment).await {
                        tracing::warn!(job = %assignment.id, error = %e, "could not run a training job");
                    }
                    continue;
                }
                Ok(_) => {} // 204: nothing for this worker now
                Err(e) if e.downcast_ref::<Fatal>().is_some() => return Err(e),
                Err(e) => tracing::warn!(error = %e, "could not ask the server for work"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn run_job(&self, client: &reqwest::Client, assignment: &Assignment) -> anyhow::Result<()> {
        let dir = self.work_dir.join(format!("{}-{}", assignment.id, assignment.attempt));
        tokio::fs::create_dir_all(&dir).await?;
        for (name, content) in &assignment.files {
            anyhow::ensure!(
                !name.contains('/') && !name.contains('\\') && !name.starts_with('.'),
                "a job file may not be named {name:?}"
            );
            tokio::fs::write(dir.join(name), content).await?;
        }
        let result = self.follow(client, assignment, &dir).await;
        tokio::fs::remove_dir_all(&dir).await.ok();
        result
    }

    /// Runs the job's process in `dir` and reports on it to the end.
    async fn follow(&self, client: &reqwest::Client, assignment: &Assignment, dir: &Path) -> anyhow::Result<()> {
        let JobProcess { mut child, mut lines, stderr_tail } = JobProcess::start(&std::env::current_exe()?, dir)?;
        let id = assignment.id;
        let mut events: Vec<JobEventKind> = Vec::new();
        let mut ticker = tokio::time::interval(TICK);
        let mut stdout_open = true;
        let status = loop {
            tokio::select! {
                line = lines.next_line(), if stdout_open => match line {
                    Ok(Some(line)) => events.push(event_of(line).1),
                    _ => stdout_open = false,
                },
                status = child.wait(), if !stdout_open => break status?,
                _ = ticker.tick() => {
                    let report = progress(dir, std::mem::take(&mut events)).await;
                    match self.post(client, &format!("jobs/{id}/heartbeat"), &report).await {
                        Ok(response) => {
                            let answer: serde_json::Value = response.json().await.unwrap_or_default();
                            if answer["continue"] == false {
                                child.kill().await.ok();
                                tracing::info!(job = %id, "the server stopped the job");
                                return Ok(());
                            }
                        }
                        // Unreachable for a while: keep training and send these events
                        // (and the checkpoint they announce) with the next report.
                        Err(e) => {
                            tracing::warn!(job = %id, error = %e, "could not report to the server");
                            let mut unsent = report.events;
                            unsent.append(&mut events);
                            events = unsent;
                        }
                    }
                }
            }
        };
        use std::os::unix::process::ExitStatusExt;
        let read = |file: &str| std::fs::read_to_string(dir.join(file)).ok();
        let report = Finish {
            events,
            exit_code: status.code(),
            signal: status.signal(),
            stderr: stderr_tail.await.unwrap_or_default(),
            result: read(runner::RESULT_FILE),
            model: read(runner::MODEL_FILE),
        };
        self.post(client, &format!("jobs/{id}/finish"), &report).await?;
        tracing::info!(job = %id, exit = ?status.code(), "training job ended");
        Ok(())
    }
}

/// A heartbeat's report: `events`, with the checkpoint file when they announce one.
async fn progress(dir: &Path, events: Vec<JobEventKind>) -> Progress {
    let checkpoint = if events.iter().any(|e| matches!(e, JobEventKind::Checkpoint { .. })) {
        tokio::fs::read_to_string(dir.join(runner::CHECKPOINT_FILE)).await.ok()
    } else {
        None
    };
    Progress { events, checkpoint }
}

/// Marks an error the worker cannot recover from by asking again (a refused token).
#[derive(Debug)]
struct Fatal;

impl std::fmt::Display for Fatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the server refuses this worker")
    }
}
