//! Training jobs: a built-in algorithm, its hyper-parameters and data
//! channels, queued for the shared training pool (SageMaker's training job,
//! Slurm's batch job). The rules of the queue live in the application
//! crate's `training` service; these are the values it keeps.

use serde::{Deserialize, Serialize};

use crate::{TeamId, Timestamp, UserId, ValidationError, WorkshopId};

uuid_id!(
    /// A training job's id.
    TrainingJobId,
    "training job"
);

/// Where a job is in its life. `Pending` → `Running` → `Completed` |
/// `Failed`; `Cancelled` from either of the first two. A running job whose
/// worker stops heartbeating goes back to `Pending` (a retry) until its
/// attempts run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Queued, waiting for a worker (see the job's reason).
    Pending,
    /// A worker is training it.
    Running,
    /// Finished; its model is an artifact.
    Completed,
    /// Stopped by an error (the job's `error` says which).
    Failed,
    /// Stopped by its owner or an instructor.
    Cancelled,
}

impl JobState {
    /// The state's name as stored and shown (`pending`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Reads a stored state name.
    ///
    /// # Errors
    /// A [`ValidationError`] on `state` for any other text.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        Ok(match s {
            "pending" => JobState::Pending,
            "running" => JobState::Running,
            "completed" => JobState::Completed,
            "failed" => JobState::Failed,
            "cancelled" => JobState::Cancelled,
            _ => return Err(ValidationError::new("state", format!("is not a training job state: {s:?}"))),
        })
    }

    /// Whether the job can still change (pending or running).
    pub fn is_active(self) -> bool {
        matches!(self, JobState::Pending | JobState::Running)
    }
}

/// A training job as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingJob {
    /// Its id.
    pub id: TrainingJobId,
    /// Who submitted it.
    pub owner: UserId,
    /// The workshop it counts against (fair share, quotas), if any.
    pub workshop: Option<WorkshopId>,
    /// The owner's team at submission, which shares the job.
    pub team: Option<TeamId>,
    /// The algorithm's snake_case name (`gradient_boosted_trees`, …).
    pub algorithm: String,
    /// The whole request as submitted: `hyperparameters`, `data`
    /// (`train`, `validation`, `target`), `resources`.
    pub spec: serde_json::Value,
    /// GPUs it asks for (0: a CPU worker will do).
    pub gpus: u32,
    /// Higher runs first; an instructor may raise it.
    pub priority: i32,
    /// Where it is.
    pub state: JobState,
    /// How many times a worker has started it (a retry after a lost worker counts).
    pub attempts: u32,
    /// The worker running or last running it.
    pub worker: Option<String>,
    /// Why it failed or was cancelled, in words.
    pub error: Option<String>,
    /// Metrics of the finished model (`roc_auc`, `rmse`, …).
    pub final_metrics: serde_json::Map<String, serde_json::Value>,
    /// Rows it trained on (known once it has run).
    pub rows: Option<u64>,
    /// When it was submitted.
    pub created_at: Timestamp,
    /// When its current (or last) attempt started.
    pub started_at: Option<Timestamp>,
    /// When it finished, failed or was cancelled.
    pub finished_at: Option<Timestamp>,
    /// The running worker's last sign of life.
    pub heartbeat_at: Option<Timestamp>,
}

impl TrainingJob {
    /// Seconds of worker time it has used by `now` (its last attempt's run
    /// time; 0 while it waits, a retried job's lost attempt included).
    pub fn run_seconds(&self, now: Timestamp) -> f64 {
        match self.started_at.filter(|_| self.state != JobState::Pending) {
            Some(start) => {
                let end = self.finished_at.unwrap_or(now);
                #[expect(clippy::cast_precision_loss, reason = "milliseconds of a job's run fit f64 exactly")]
                let ms = end.millis().saturating_sub(start.millis()).max(0) as f64;
                ms / 1000.0
            }
            None => 0.0,
        }
    }
}

/// One thing a running job reported, in order (`seq` from 1 per job).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    /// Its place in the job's stream, from 1.
    pub seq: i64,
    /// When it was recorded.
    pub at: Timestamp,
    /// What it says.
    pub kind: JobEventKind,
}

/// What a [`JobEvent`] says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum JobEventKind {
    /// A line of the job's log.
    Log {
        /// The line.
        line: String,
    },
    /// The metrics after one round or epoch.
    Metrics {
        /// The round, from 1.
        round: u64,
        /// Rounds planned.
        of: u64,
        /// Metric name → value.
        values: serde_json::Map<String, serde_json::Value>,
    },
    /// The training process saved a checkpoint after this round; a new
    /// attempt goes on from the latest one.
    Checkpoint {
        /// Rounds done.
        round: u64,
        /// Rounds planned.
        of: u64,
    },
    /// The job changed state.
    State {
        /// The new state.
        state: JobState,
    },
}

uuid_id!(
    /// A tuning job's id.
    TuningJobId,
    "tuning job"
);

/// A hyper-parameter tuning job (SageMaker's): trials of one algorithm with
/// hyper-parameters drawn from ranges, each a training job, searching for the
/// best value of an objective metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuningJob {
    /// Its id.
    pub id: TuningJobId,
    /// Who submitted it (its trials are theirs).
    pub owner: UserId,
    /// The workshop its trials count against.
    pub workshop: Option<WorkshopId>,
    /// The owner's team, which shares it.
    pub team: Option<TeamId>,
    /// The request as submitted: the training job, `ranges`, `objective`, `budget`, `strategy`, `seed`.
    pub spec: serde_json::Value,
    /// `Pending` (no trial started yet), `Running`, `Completed`, `Failed` or `Cancelled`.
    pub state: JobState,
    /// The best trial so far (a training job).
    pub best: Option<TrainingJobId>,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
    /// When it was submitted.
    pub created_at: Timestamp,
    /// When it ended.
    pub finished_at: Option<Timestamp>,
}

/// A trained job's output kept for download or loading into a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    /// Its file name (`model.json`).
    pub name: String,
    /// What it holds (`GradientBoostedTreesModel`, …).
    pub kind: String,
    /// Size in bytes.
    pub size_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_names() {
        for s in [JobState::Pending, JobState::Running, JobState::Completed, JobState::Failed, JobState::Cancelled] {
            assert_eq!(JobState::parse(s.as_str()), Ok(s));
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.as_str()));
        }
        assert!(JobState::parse("done").is_err());
        assert!(JobState::Pending.is_active() && !JobState::Cancelled.is_active());
    }

    #[test]
    fn a_job_uses_worker_time_only_while_it_runs() {
        let job = TrainingJob {
            id: TrainingJobId(uuid::Uuid::nil()),
            owner: UserId(uuid::Uuid::nil()),
            workshop: None,
            team: None,
            algorithm: "kmeans".into(),
            spec: serde_json::Value::Null,
            gpus: 0,
            priority: 0,
            state: JobState::Running,
            attempts: 1,
            worker: None,
            error: None,
            final_metrics: serde_json::Map::new(),
            rows: None,
            created_at: Timestamp(0),
            started_at: Some(Timestamp(1_000)),
            finished_at: None,
            heartbeat_at: None,
        };
        assert!((job.run_seconds(Timestamp(4_000)) - 3.0).abs() < 1e-9);
        let done = TrainingJob { state: JobState::Completed, finished_at: Some(Timestamp(2_500)), ..job.clone() };
        assert!((done.run_seconds(Timestamp(9_000)) - 1.5).abs() < 1e-9);
        // Requeued after a lost worker: waiting again, it uses nothing.
        let requeued = TrainingJob { state: JobState::Pending, ..job };
        assert!(requeued.run_seconds(Timestamp(9_000)).abs() < 1e-9);
    }
}
