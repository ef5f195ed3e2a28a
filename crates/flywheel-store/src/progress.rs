//! Lab progress: [`ProgressStore`] on [`SqlDatabase`] (see the `lab_progress` migration).

use flywheel_domain::{StepDone, Timestamp, UserId};
use sqlx::{AnyPool, Row};

use crate::StoreError;
use crate::{ProgressStore, SqlDatabase};
use async_trait::async_trait;

pub(crate) async fn record(
    pool: &AnyPool,
    user: UserId,
    lab: &str,
    step: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO lab_progress (user_id, lab_slug, step, passed_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, lab_slug, step) DO NOTHING",
    )
    .bind(user.to_string())
    .bind(lab)
    .bind(step)
    .bind(now.millis())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn list(pool: &AnyPool, user: UserId) -> Result<Vec<StepDone>, StoreError> {
    let rows = sqlx::query(
        "SELECT lab_slug, step, passed_at FROM lab_progress WHERE user_id = $1 ORDER BY passed_at, lab_slug, step",
    )
    .bind(user.to_string())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(StepDone {
                lab: row.try_get("lab_slug")?,
                step: row.try_get("step")?,
                passed_at: Timestamp(row.try_get("passed_at")?),
            })
        })
        .collect()
}

#[async_trait]
impl ProgressStore for SqlDatabase {
    async fn record_step(&self, user: UserId, lab: &str, step: &str, now: Timestamp) -> Result<bool, StoreError> {
        record(&self.pool, user, lab, step, now).await
    }

    async fn progress(&self, user: UserId) -> Result<Vec<StepDone>, StoreError> {
        list(&self.pool, user).await
    }
}
