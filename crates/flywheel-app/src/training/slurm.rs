//! The Slurm backend (`training_backend = "slurm"`): at cluster scale the
//! pool is Slurm, not a home-made cluster manager. Every pending job is
//! handed to Slurm at once with `sbatch` (the partition, `--gres=gpu:N`,
//! `--time` from the job's limit, and with `training_slurm_team_accounts`
//! `--account` per team so that Slurm's own fair share applies); Slurm
//! queues and places it. The batch script runs the same `flywheel
//! train-job DIR` as a local worker, with its stdout (the job's events)
//! going to `DIR/events.jsonl` on the shared filesystem, which the server
//! follows like a local child's stdout. `squeue` reports Slurm's state and
//! reason into the job's log while it waits; once the job leaves the queue,
//! `scontrol show job` says how it ended. Cancel is `scancel`. `work_dir`
//! must be on a filesystem the compute nodes share with the server, and
//! the `flywheel` program must be at the same path there.

use std::path::Path;
use std::time::{Duration, Instant};

use flywheel_domain::{JobEventKind, JobState, Timestamp, TrainingJob};
use flywheel_store::JobOutcome;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::process::Command;

use super::worker::{Exit, Tick, event_of, failed, outcome, prepare, program, tick};
use super::{TrainingError, WorkerView};
use crate::{App, now};

/// The worker name jobs handed to Slurm carry.
pub const WORKER: &str = "slurm";

/// How jobs are handed to Slurm.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlurmSettings {
    /// The partition (`--partition`); empty: the cluster's default.
    pub partition: String,
    /// Whether each team's jobs run under a Slurm account of its own
    /// (`--account=flywheel-<team id's first 8>`), for Slurm's fair share;
    /// the accounts must exist in the cluster's accounting database.
    pub team_accounts: bool,
}

/// Starts the dispatcher that hands pending jobs to Slurm and follows them.
pub fn start(app: &App) -> tokio::task::JoinHandle<()> {
    app.training.register(WorkerView { name: WORKER.into(), cpus: 0, gpus: 0, job: None });
    let app = app.clone();
    tokio::spawn(async move {
        tracing::info!("training jobs go to Slurm");
        loop {
            if let Err(e) = dispatch(&app).await {
                tracing::warn!(error = %e, "could not hand training jobs to Slurm");
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), app.training.wake.notified()).await;
        }
    })
}

/// Requeues lost jobs, then hands every pending job to Slurm, in plan order.
async fn dispatch(app: &App) -> Result<(), TrainingError> {
    super::worker::requeue_stale(app).await?;
    let (plan, jobs) = super::current_plan(app, now()).await?;
    for place in plan.queue {
        let Some(job) = jobs.iter().find(|j| j.id == place.id) else { continue };
        if !app.db.claim_training_job(job.id, WORKER, now()).await? {
            continue;
        }
        let mut job = job.clone();
        job.attempts += 1;
        job.state = JobState::Running;
        super::cells::publish(app, &job);
        let app = app.clone();
        tokio::spawn(async move {
            let id = job.id;
            let outcome = match follow(&app, &job).await {
                Ok(outcome) => outcome,
                Err(e) => Some(failed(format!("Slurm could not run it: {e}"))),
            };
            if let Some(outcome) = outcome {
                super::worker::finish(&app, WORKER, &job, &outcome).await;
            }
            if let Ok(Some(job)) = app.db.training_job(id).await {
                super::cells::publish(&app, &job);
            }
        });
    }
    Ok(())
}

async fn run(program: &str, args: &[String]) -> anyhow::Result<String> {
    let out = Command::new(program).args(args).output().await?;
    anyhow::ensure!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The `sbatch` arguments for `job` in `dir`.
fn sbatch_args(app: &App, job: &TrainingJob, dir: &Path, slurm: &SlurmSettings) -> Vec<String> {
    let minutes = app.settings.training.time_limit.as_secs().div_ceil(60).max(1);
    let mut args = vec![
        "--parsable".to_owned(),
        format!("--job-name=flywheel-{}", &job.id.to_string()[..8]),
        format!("--output={}", dir.join("events.jsonl").display()),
        format!("--error={}", dir.join("stderr.txt").display()),
        format!("--chdir={}", dir.display()),
        format!("--time={minutes}"),
    ];
    if !slurm.partition.is_empty() {
        args.push(format!("--partition={}", slurm.partition));
    }
    if job.gpus > 0 {
        args.push(format!("--gres=gpu:{}", job.gpus));
    }
    if slurm.team_accounts
        && let Some(team) = job.team
    {
        args.push(format!("--account=flywheel-{}", &team.to_string()[..8]));
    }
    let program = program(app);
    args.push(format!("--wrap=exec '{}' train-job '{}'", program.display(), dir.display()));
    args
}

/// Submits `job` and follows it to its end. `Ok(None)`: cancelled or taken away.
async fn follow(app: &App, job: &TrainingJob) -> anyhow::Result<Option<JobOutcome>> {
    let settings = &app.settings.training;
    let slurm = settings.slurm.clone().unwrap_or_default();
    let dir = settings.work_dir.join(format!("{}-{}", job.id, job.attempts));
    prepare(app, job, &dir).await?;
    let slurm_id = run("sbatch", &sbatch_args(app, job, &dir, &slurm)).await?;
    let slurm_id = slurm_id.split(';').next().unwrap_or_default().to_owned();
    let started = Instant::now();
    let mut pending = vec![(now(), JobEventKind::Log { line: format!("handed to Slurm as job {slurm_id}") })];
    let (mut offset, mut partial, mut last_state) = (0_u64, String::new(), String::new());
    let mut ticker = tokio::time::interval(super::worker::TICK);
    let ended = loop {
        ticker.tick().await;
        read_new_lines(&dir.join("events.jsonl"), &mut offset, &mut partial, &mut pending).await;
        match tick(app, WORKER, job, &dir, &mut pending, started).await? {
            Tick::Go => {}
            stop => {
                run("scancel", std::slice::from_ref(&slurm_id)).await.ok();
                return Ok(stop.outcome(settings));
            }
        }
        let queued = run("squeue", &["-h".into(), "-j".into(), slurm_id.clone(), "-o".into(), "%T %r".into()])
            .await
            .unwrap_or_default();
        if queued.is_empty() {
            break run("scontrol", &["show".into(), "job".into(), "-o".into(), slurm_id.clone()]).await?;
        }
        if queued != last_state {
            pending.push((now(), JobEventKind::Log { line: format!("Slurm: {queued}") }));
            last_state = queued;
        }
    };
    read_new_lines(&dir.join("events.jsonl"), &mut offset, &mut partial, &mut pending).await;
    if !partial.is_empty() {
        pending.push(event_of(std::mem::take(&mut partial)));
    }
    super::worker::flush(app, job, &dir, &mut pending).await?;
    let field = |name: &str| {
        ended.split_whitespace().find_map(|kv| kv.strip_prefix(&format!("{name}="))).unwrap_or_default().to_owned()
    };
    let (state, exit_code) = (field("JobState"), field("ExitCode"));
    let (code, signal) = exit_code.split_once(':').unwrap_or(("0", "0"));
    let (code, signal): (i32, i32) = (code.parse().unwrap_or(-1), signal.parse().unwrap_or(0));
    let stderr = tokio::fs::read_to_string(dir.join("stderr.txt")).await.unwrap_or_default();
    let outcome = match state.as_str() {
        "TIMEOUT" => failed(format!("Slurm stopped it at its time limit ({} s)", settings.time_limit.as_secs())),
        "OUT_OF_MEMORY" | "NODE_FAIL" | "PREEMPTED" | "CANCELLED" => {
            outcome(settings, job, &dir, Exit::Signal(if signal > 0 { signal } else { 9 }), &stderr).await?
        }
        _ if signal > 0 => outcome(settings, job, &dir, Exit::Signal(signal), &stderr).await?,
        _ => outcome(settings, job, &dir, Exit::Code(code), &stderr).await?,
    };
    tokio::fs::remove_dir_all(&dir).await.ok();
    Ok(Some(outcome))
}

/// Appends the complete lines written to `path` since `offset` as events.
async fn read_new_lines(
    path: &Path,
    offset: &mut u64,
    partial: &mut String,
    pending: &mut Vec<(Timestamp, JobEventKind)>,
) {
    let Ok(mut file) = tokio::fs::File::open(path).await else { return };
    if file.seek(std::io::SeekFrom::Start(*offset)).await.is_err() {
        return;
    }
    let mut bytes = Vec::new();
    if let Ok(n) = file.read_to_end(&mut bytes).await {
        *offset += n as u64;
        partial.push_str(&String::from_utf8_lossy(&bytes));
        while let Some(end) = partial.find('\n') {
            let line: String = partial.drain(..=end).collect();
            pending.push(event_of(line.trim_end().to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn new_lines_are_read_once_and_a_partial_line_waits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, "{\"type\":\"log\",\"line\":\"a\"}\nplain\npart").unwrap();
        let (mut offset, mut partial, mut pending) = (0, String::new(), Vec::new());
        super::read_new_lines(&path, &mut offset, &mut partial, &mut pending).await;
        let lines: Vec<_> = pending.iter().map(|(_, e)| e.clone()).collect();
        use flywheel_domain::JobEventKind::Log;
        assert_eq!(lines, vec![Log { line: "a".into() }, Log { line: "plain".into() }]);
        assert_eq!(partial, "part");
        std::fs::write(&path, "{\"type\":\"log\",\"line\":\"a\"}\nplain\npartial\n").unwrap();
        super::read_new_lines(&path, &mut offset, &mut partial, &mut pending).await;
        assert_eq!(pending.last().map(|(_, e)| e.clone()), Some(Log { line: "partial".into() }));
        assert_eq!(pending.len(), 3);
    }
}
