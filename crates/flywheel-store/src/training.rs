//! Training jobs: [`TrainingStore`] on [`SqlDatabase`] (see the `training`
//! migration).
//!
//! Every state change is one conditional `UPDATE … WHERE state = …` (and,
//! for a worker's writes, `AND worker = …`), so two workers cannot both
//! claim a job, a job cancelled while it finishes stays cancelled, and a
//! worker that lost its job (requeued after its heartbeat expired) cannot
//! complete it afterwards. The same statements serve SQLite (one writer at
//! a time) and PostgreSQL (row locks), so no engine-specific claim query is
//! needed: a worker that loses the race for a job just takes the next one.

use std::str::FromStr;

use async_trait::async_trait;
use flywheel_domain::{
    Artifact, JobEvent, JobEventKind, JobState, TeamId, Timestamp, TrainingJob, TrainingJobId, TuningJob, TuningJobId,
    UserId, WorkshopId,
};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::{JobOutcome, SqlDatabase, StoreError, TrainingStore, corrupt};

const COLUMNS: &str = "id, owner_id, workshop_id, team_id, algorithm, spec, gpus, priority, state, attempts, worker, \
                       error, final_metrics, row_count, created_at, started_at, finished_at, heartbeat_at";

pub(crate) fn parse_id<T: FromStr>(row: &AnyRow, column: &str) -> Result<Option<T>, StoreError>
where
    T::Err: std::fmt::Display,
{
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| T::from_str(&t).map_err(corrupt)).transpose()
}

fn time(row: &AnyRow, column: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(row.try_get::<Option<i64>, _>(column)?.map(Timestamp))
}

fn job(row: &AnyRow) -> Result<TrainingJob, StoreError> {
    let spec: String = row.try_get("spec")?;
    let metrics: String = row.try_get("final_metrics")?;
    let state: String = row.try_get("state")?;
    let id: TrainingJobId = parse_id(row, "id")?.ok_or_else(|| corrupt("a training job without an id"))?;
    Ok(TrainingJob {
        id,
        owner: parse_id(row, "owner_id")?.ok_or_else(|| corrupt(format!("training job {id} has no owner")))?,
        workshop: parse_id::<WorkshopId>(row, "workshop_id")?,
        team: parse_id::<TeamId>(row, "team_id")?,
        algorithm: row.try_get("algorithm")?,
        spec: serde_json::from_str(&spec).map_err(|e| corrupt(format!("training job {id} spec: {e}")))?,
        gpus: u32::try_from(row.try_get::<i64, _>("gpus")?).map_err(corrupt)?,
        priority: i32::try_from(row.try_get::<i64, _>("priority")?).map_err(corrupt)?,
        state: JobState::parse(&state).map_err(corrupt)?,
        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).map_err(corrupt)?,
        worker: row.try_get("worker")?,
        error: row.try_get("error")?,
        final_metrics: serde_json::from_str(&metrics)
            .map_err(|e| corrupt(format!("training job {id} metrics: {e}")))?,
        rows: row.try_get::<Option<i64>, _>("row_count")?.map(|n| u64::try_from(n).map_err(corrupt)).transpose()?,
        created_at: Timestamp(row.try_get("created_at")?),
        started_at: time(row, "started_at")?,
        finished_at: time(row, "finished_at")?,
        heartbeat_at: time(row, "heartbeat_at")?,
    })
}

/// A value bound into [`jobs`]' filter.
enum Bind {
    Text(String),
    Time(Timestamp),
}

async fn jobs(pool: &AnyPool, filter: &str, binds: &[Bind]) -> Result<Vec<TrainingJob>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM training_jobs WHERE {filter} ORDER BY created_at, id");
    let mut query = sqlx::query(&sql);
    for b in binds {
        query = match b {
            Bind::Text(t) => query.bind(t.clone()),
            Bind::Time(t) => query.bind(t.millis()),
        };
    }
    query.fetch_all(pool).await?.iter().map(job).collect()
}

/// Appends events after the job's last. Each is one `INSERT … SELECT MAX(seq) + 1`:
/// a single statement, so SQLite takes its write lock at once (a read-then-write
/// transaction can fail with "database is locked" when another writer got in
/// between); two writers racing for the same number on PostgreSQL (a cancel
/// beside the worker's flush) meet the primary key, and the loser tries again.
async fn append(pool: &AnyPool, id: TrainingJobId, events: &[(Timestamp, JobEventKind)]) -> Result<(), StoreError> {
    for (at, kind) in events {
        let event = serde_json::to_string(kind).expect("job events always serialise");
        let mut tries = 0;
        loop {
            let done = sqlx::query(
                "INSERT INTO training_job_events (job_id, seq, at, event)
                 SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3 FROM training_job_events WHERE job_id = $1",
            )
            .bind(id.to_string())
            .bind(at.millis())
            .bind(&event)
            .execute(pool)
            .await;
            match done {
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() && tries < 5 => tries += 1,
                other => break other.map(drop)?,
            }
        }
    }
    Ok(())
}

async fn put_artifact(
    conn: &mut sqlx::AnyConnection,
    id: TrainingJobId,
    artifact: &Artifact,
    content: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO training_artifacts (job_id, name, kind, size_bytes, content) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (job_id, name) DO UPDATE SET kind = excluded.kind, size_bytes = excluded.size_bytes,
                                                  content = excluded.content",
    )
    .bind(id.to_string())
    .bind(&artifact.name)
    .bind(&artifact.kind)
    .bind(i64::try_from(content.len()).map_err(corrupt)?)
    .bind(content)
    .execute(conn)
    .await?;
    Ok(())
}

const TUNING_COLUMNS: &str =
    "id, owner_id, workshop_id, team_id, spec, state, best_job_id, error, created_at, finished_at";

fn tuning_job(row: &AnyRow) -> Result<TuningJob, StoreError> {
    let spec: String = row.try_get("spec")?;
    let state: String = row.try_get("state")?;
    let id: TuningJobId = parse_id(row, "id")?.ok_or_else(|| corrupt("a tuning job without an id"))?;
    Ok(TuningJob {
        id,
        owner: parse_id(row, "owner_id")?.ok_or_else(|| corrupt(format!("tuning job {id} has no owner")))?,
        workshop: parse_id(row, "workshop_id")?,
        team: parse_id(row, "team_id")?,
        spec: serde_json::from_str(&spec).map_err(|e| corrupt(format!("tuning job {id} spec: {e}")))?,
        state: JobState::parse(&state).map_err(corrupt)?,
        best: parse_id(row, "best_job_id")?,
        error: row.try_get("error")?,
        created_at: Timestamp(row.try_get("created_at")?),
        finished_at: time(row, "finished_at")?,
    })
}

fn state_event(now: Timestamp, state: JobState) -> [(Timestamp, JobEventKind); 1] {
    [(now, JobEventKind::State { state })]
}

#[async_trait]
impl TrainingStore for SqlDatabase {
    async fn create_training_job(&self, job: &TrainingJob) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO training_jobs (id, owner_id, workshop_id, team_id, algorithm, spec, gpus, priority, state,
                                        attempts, final_metrics, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(job.id.to_string())
        .bind(job.owner.to_string())
        .bind(job.workshop.map(|w| w.to_string()))
        .bind(job.team.map(|t| t.to_string()))
        .bind(&job.algorithm)
        .bind(job.spec.to_string())
        .bind(i64::from(job.gpus))
        .bind(i64::from(job.priority))
        .bind(job.state.as_str())
        .bind(i64::from(job.attempts))
        .bind(serde_json::Value::Object(job.final_metrics.clone()).to_string())
        .bind(job.created_at.millis())
        .execute(&self.pool)
        .await?;
        // A job recorded as already run (an import, a test's history): its
        // times, worker and outcome, each set only when present (the `Any`
        // driver's NULLs are not typed well enough to bind).
        let set = |column: &'static str, value: Option<i64>| value.map(|v| (column, v));
        let times = [
            set("started_at", job.started_at.map(Timestamp::millis)),
            set("finished_at", job.finished_at.map(Timestamp::millis)),
            set("heartbeat_at", job.heartbeat_at.map(Timestamp::millis)),
            set("row_count", job.rows.map(|r| i64::try_from(r).unwrap_or(i64::MAX))),
        ];
        for (column, value) in times.into_iter().flatten() {
            sqlx::query(&format!("UPDATE training_jobs SET {column} = $2 WHERE id = $1"))
                .bind(job.id.to_string())
                .bind(value)
                .execute(&self.pool)
                .await?;
        }
        if let Some(tuning) = job.spec.pointer("/tuning/tuning_job").and_then(serde_json::Value::as_str) {
            sqlx::query("UPDATE training_jobs SET tuning_job_id = $2 WHERE id = $1")
                .bind(job.id.to_string())
                .bind(tuning)
                .execute(&self.pool)
                .await?;
        }
        if job.worker.is_some() || job.error.is_some() {
            sqlx::query("UPDATE training_jobs SET worker = $2, error = $3 WHERE id = $1")
                .bind(job.id.to_string())
                .bind(job.worker.clone())
                .bind(job.error.clone())
                .execute(&self.pool)
                .await?;
        }
        append(&self.pool, job.id, &state_event(job.created_at, job.state)).await
    }

    async fn training_job(&self, id: TrainingJobId) -> Result<Option<TrainingJob>, StoreError> {
        Ok(jobs(&self.pool, "id = $1", &[Bind::Text(id.to_string())]).await?.pop())
    }

    async fn training_jobs_of(&self, owner: UserId, team: Option<TeamId>) -> Result<Vec<TrainingJob>, StoreError> {
        match team {
            Some(team) => {
                jobs(
                    &self.pool,
                    "owner_id = $1 OR team_id = $2",
                    &[Bind::Text(owner.to_string()), Bind::Text(team.to_string())],
                )
                .await
            }
            None => jobs(&self.pool, "owner_id = $1", &[Bind::Text(owner.to_string())]).await,
        }
    }

    async fn training_jobs_since(&self, since: Timestamp) -> Result<Vec<TrainingJob>, StoreError> {
        jobs(&self.pool, "state IN ('pending', 'running') OR finished_at >= $1", &[Bind::Time(since)]).await
    }

    async fn claim_training_job(&self, id: TrainingJobId, worker: &str, now: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE training_jobs SET state = 'running', worker = $2, started_at = $3, heartbeat_at = $3,
                    attempts = attempts + 1, error = NULL
             WHERE id = $1 AND state = 'pending'",
        )
        .bind(id.to_string())
        .bind(worker)
        .bind(now.millis())
        .execute(&self.pool)
        .await?;
        let claimed = done.rows_affected() == 1;
        if claimed {
            append(&self.pool, id, &state_event(now, JobState::Running)).await?;
        }
        Ok(claimed)
    }

    async fn heartbeat_training_job(
        &self,
        id: TrainingJobId,
        worker: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE training_jobs SET heartbeat_at = $3 WHERE id = $1 AND worker = $2 AND state = 'running'",
        )
        .bind(id.to_string())
        .bind(worker)
        .bind(now.millis())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn append_job_events(
        &self,
        id: TrainingJobId,
        events: &[(Timestamp, JobEventKind)],
    ) -> Result<(), StoreError> {
        append(&self.pool, id, events).await
    }

    async fn job_events(&self, id: TrainingJobId, after: i64) -> Result<Vec<JobEvent>, StoreError> {
        let rows =
            sqlx::query("SELECT seq, at, event FROM training_job_events WHERE job_id = $1 AND seq > $2 ORDER BY seq")
                .bind(id.to_string())
                .bind(after)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                let event: String = row.try_get("event")?;
                Ok(JobEvent {
                    seq: row.try_get("seq")?,
                    at: Timestamp(row.try_get("at")?),
                    kind: serde_json::from_str(&event).map_err(|e| corrupt(format!("job {id} event: {e}")))?,
                })
            })
            .collect()
    }

    async fn finish_training_job(
        &self,
        id: TrainingJobId,
        worker: &str,
        outcome: &JobOutcome,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = if outcome.state == JobState::Pending {
            // Requeued (its worker process was killed): it waits again with
            // no worker, keeping what it had; why is in its log.
            sqlx::query("UPDATE training_jobs SET state = 'pending', worker = NULL WHERE id = $1 AND worker = $2 AND state = 'running'")
                .bind(id.to_string())
                .bind(worker)
                .execute(&mut *tx)
                .await?
        } else {
            sqlx::query(
                "UPDATE training_jobs SET state = $3, error = $4, finished_at = $5, final_metrics = $6, row_count = $7
                 WHERE id = $1 AND worker = $2 AND state = 'running'",
            )
            .bind(id.to_string())
            .bind(worker)
            .bind(outcome.state.as_str())
            .bind(outcome.error.clone())
            .bind(now.millis())
            .bind(serde_json::Value::Object(outcome.final_metrics.clone()).to_string())
            .bind(i64::try_from(outcome.rows).map_err(corrupt)?)
            .execute(&mut *tx)
            .await?
        };
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        for (artifact, content) in &outcome.artifacts {
            put_artifact(&mut tx, id, artifact, content).await?;
        }
        tx.commit().await?;
        if let Some(why) = outcome.error.clone().filter(|_| outcome.state == JobState::Pending) {
            append(&self.pool, id, &[(now, JobEventKind::Log { line: format!("retrying: {why}") })]).await?;
        }
        append(&self.pool, id, &state_event(now, outcome.state)).await?;
        Ok(true)
    }

    async fn cancel_training_job(&self, id: TrainingJobId, reason: &str, now: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE training_jobs SET state = 'cancelled', error = $2, finished_at = $3
             WHERE id = $1 AND state IN ('pending', 'running')",
        )
        .bind(id.to_string())
        .bind(reason)
        .bind(now.millis())
        .execute(&self.pool)
        .await?;
        let cancelled = done.rows_affected() == 1;
        if cancelled {
            append(&self.pool, id, &state_event(now, JobState::Cancelled)).await?;
        }
        Ok(cancelled)
    }

    async fn requeue_stale_training_jobs(
        &self,
        stale_before: Timestamp,
        max_attempts: u32,
        now: Timestamp,
    ) -> Result<Vec<(TrainingJobId, JobState)>, StoreError> {
        let stale = jobs(&self.pool, "state = 'running' AND heartbeat_at < $1", &[Bind::Time(stale_before)]).await?;
        let mut moved = Vec::new();
        for job in stale {
            let (state, error) = if job.attempts >= max_attempts {
                let error = format!(
                    "its worker stopped answering {} times (it was killed, ran out of memory or lost its machine); \
                     not retried again",
                    job.attempts
                );
                (JobState::Failed, Some(error))
            } else {
                (JobState::Pending, None)
            };
            let done = sqlx::query(
                "UPDATE training_jobs SET state = $3, error = $5, worker = NULL,
                        finished_at = CASE WHEN $3 = 'pending' THEN NULL ELSE $4 END
                 WHERE id = $1 AND state = 'running' AND heartbeat_at < $2",
            )
            .bind(job.id.to_string())
            .bind(stale_before.millis())
            .bind(state.as_str())
            .bind(now.millis())
            .bind(error)
            .execute(&self.pool)
            .await?;
            if done.rows_affected() == 1 {
                if state == JobState::Pending {
                    let line = "retrying: its worker stopped heartbeating (killed, or its machine or server went away)";
                    append(&self.pool, job.id, &[(now, JobEventKind::Log { line: line.into() })]).await?;
                }
                append(&self.pool, job.id, &state_event(now, state)).await?;
                moved.push((job.id, state));
            }
        }
        Ok(moved)
    }

    async fn set_training_job_priority(&self, id: TrainingJobId, priority: i32) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE training_jobs SET priority = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(i64::from(priority))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn put_training_artifact(
        &self,
        id: TrainingJobId,
        artifact: &Artifact,
        content: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        put_artifact(&mut conn, id, artifact, content).await
    }

    async fn training_artifacts(&self, id: TrainingJobId) -> Result<Vec<Artifact>, StoreError> {
        let rows = sqlx::query("SELECT name, kind, size_bytes FROM training_artifacts WHERE job_id = $1 ORDER BY name")
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Artifact {
                    name: row.try_get("name")?,
                    kind: row.try_get("kind")?,
                    size_bytes: u64::try_from(row.try_get::<i64, _>("size_bytes")?).map_err(corrupt)?,
                })
            })
            .collect()
    }

    async fn training_artifact_content(&self, id: TrainingJobId, name: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT content FROM training_artifacts WHERE job_id = $1 AND name = $2")
            .bind(id.to_string())
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("content")).transpose()?)
    }

    async fn create_tuning_job(&self, job: &TuningJob) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tuning_jobs (id, owner_id, workshop_id, team_id, spec, state, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(job.id.to_string())
        .bind(job.owner.to_string())
        .bind(job.workshop.map(|w| w.to_string()))
        .bind(job.team.map(|t| t.to_string()))
        .bind(job.spec.to_string())
        .bind(job.state.as_str())
        .bind(job.created_at.millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn tuning_job(&self, id: TuningJobId) -> Result<Option<TuningJob>, StoreError> {
        let row = sqlx::query(&format!("SELECT {TUNING_COLUMNS} FROM tuning_jobs WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(tuning_job).transpose()
    }

    async fn active_tuning_jobs(&self) -> Result<Vec<TuningJob>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TUNING_COLUMNS} FROM tuning_jobs WHERE state IN ('pending', 'running') ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(tuning_job).collect()
    }

    async fn update_tuning_job(
        &self,
        id: TuningJobId,
        state: JobState,
        best: Option<TrainingJobId>,
        error: Option<&str>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE tuning_jobs SET state = $2, best_job_id = $3, error = $4,
                    finished_at = CASE WHEN $2 IN ('pending', 'running') THEN NULL ELSE $5 END
             WHERE id = $1 AND state IN ('pending', 'running')",
        )
        .bind(id.to_string())
        .bind(state.as_str())
        .bind(best.map(|b| b.to_string()))
        .bind(error)
        .bind(now.millis())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn tuning_trials(&self, id: TuningJobId) -> Result<Vec<TrainingJob>, StoreError> {
        jobs(&self.pool, "tuning_job_id = $1", &[Bind::Text(id.to_string())]).await
    }

    async fn set_training_share(&self, team: TeamId, weight: u32, quota_minutes: u64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO training_shares (team_id, weight, quota_minutes) VALUES ($1, $2, $3)
             ON CONFLICT (team_id) DO UPDATE SET weight = excluded.weight, quota_minutes = excluded.quota_minutes",
        )
        .bind(team.to_string())
        .bind(i64::from(weight))
        .bind(i64::try_from(quota_minutes).map_err(corrupt)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn training_shares(&self) -> Result<Vec<(TeamId, u32, u64)>, StoreError> {
        let rows =
            sqlx::query("SELECT team_id, weight, quota_minutes FROM training_shares").fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let team: TeamId =
                    parse_id(row, "team_id")?.ok_or_else(|| corrupt("a training share without a team"))?;
                let weight = u32::try_from(row.try_get::<i64, _>("weight")?).map_err(corrupt)?;
                let quota = u64::try_from(row.try_get::<i64, _>("quota_minutes")?).map_err(corrupt)?;
                Ok((team, weight, quota))
            })
            .collect()
    }
}
