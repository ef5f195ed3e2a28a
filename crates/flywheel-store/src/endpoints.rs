//! Endpoints: [`EndpointStore`] on [`SqlDatabase`] (see the `endpoints`
//! migration). An endpoint's row, its variants (with each model's JSON, so
//! that any of several servers can load them) and its captured predictions.

use async_trait::async_trait;
use flywheel_domain::{
    ApiToken, ApiTokenId, Capture, Endpoint, EndpointEvent, EndpointId, InferenceId, InvocationError, Monitor,
    MonitorState, ReviewBand, ShadowResult, Timestamp, UserId, Variant,
};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::accounts::token_from_row;
use crate::sql::conflict_on;
use crate::training::parse_id;
use crate::{EndpointStore, SqlDatabase, StoreError, corrupt};

const COLUMNS: &str =
    "id, name, owner_id, workshop_id, team_id, capture_percent, shadow_percent, review_band, created_at, updated_at";

async fn endpoint(pool: &AnyPool, row: &AnyRow) -> Result<Endpoint, StoreError> {
    let id: EndpointId = parse_id(row, "id")?.ok_or_else(|| corrupt("an endpoint without an id"))?;
    let rows = sqlx::query(
        "SELECT name, model_kind, source, weight, shadow FROM endpoint_variants WHERE endpoint_id = $1 ORDER BY position",
    )
    .bind(id.to_string())
    .fetch_all(pool)
    .await?;
    let mut variants = Vec::with_capacity(rows.len());
    let mut shadow = None;
    for v in &rows {
        let variant = Variant {
            name: v.try_get("name")?,
            model_kind: v.try_get("model_kind")?,
            source: v.try_get("source")?,
            weight: v.try_get("weight")?,
        };
        if v.try_get::<i64, _>("shadow")? == 1 {
            shadow = Some(variant);
        } else {
            variants.push(variant);
        }
    }
    Ok(Endpoint {
        id,
        name: row.try_get("name")?,
        owner: parse_id(row, "owner_id")?.ok_or_else(|| corrupt(format!("endpoint {id} has no owner")))?,
        workshop: parse_id(row, "workshop_id")?,
        team: parse_id(row, "team_id")?,
        capture_percent: u8::try_from(row.try_get::<i64, _>("capture_percent")?).map_err(corrupt)?,
        variants,
        shadow,
        shadow_percent: u8::try_from(row.try_get::<i64, _>("shadow_percent")?).map_err(corrupt)?,
        review: ReviewBand::parse(&row.try_get::<String, _>("review_band")?).map_err(corrupt)?,
        created_at: Timestamp(row.try_get("created_at")?),
        updated_at: Timestamp(row.try_get("updated_at")?),
    })
}

fn capture(row: &AnyRow) -> Result<Capture, StoreError> {
    let id: InferenceId = parse_id(row, "inference_id")?.ok_or_else(|| corrupt("a capture without an id"))?;
    let features: String = row.try_get("features")?;
    Ok(Capture {
        inference_id: id,
        variant: row.try_get("variant")?,
        at: Timestamp(row.try_get("at")?),
        features: serde_json::from_str(&features).map_err(|e| corrupt(format!("capture {id} features: {e}")))?,
        score: row.try_get("score")?,
        class: row.try_get("class")?,
        latency_us: u64::try_from(row.try_get::<i64, _>("latency_us")?).map_err(corrupt)?,
        ground_truth: row.try_get("ground_truth")?,
    })
}

async fn insert_variant(
    conn: &mut sqlx::AnyConnection,
    id: EndpointId,
    position: i64,
    variant: &Variant,
    shadow: bool,
    model: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO endpoint_variants (endpoint_id, position, name, model_kind, source, weight, shadow, model)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id.to_string())
    .bind(position)
    .bind(&variant.name)
    .bind(&variant.model_kind)
    .bind(&variant.source)
    .bind(variant.weight)
    .bind(i64::from(shadow))
    .bind(model)
    .execute(conn)
    .await?;
    Ok(())
}

/// Bumps an endpoint's `updated_at` (every server reloads its models); `false` when there is none.
async fn touch(conn: &mut sqlx::AnyConnection, id: EndpointId, now: Timestamp) -> Result<bool, StoreError> {
    let found = sqlx::query("UPDATE endpoints SET updated_at = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(now.millis())
        .execute(conn)
        .await?
        .rows_affected();
    Ok(found > 0)
}

/// Deletes the rows of `table` of endpoint `id` older than its `keep` newest
/// (by `at`); `u64::MAX` keeps all without asking.
async fn keep_newest(conn: &mut sqlx::AnyConnection, table: &str, id: EndpointId, keep: u64) -> Result<(), StoreError> {
    if keep == u64::MAX {
        return Ok(());
    }
    let cutoff: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT at FROM {table} WHERE endpoint_id = $1 ORDER BY at DESC LIMIT 1 OFFSET $2"
    ))
    .bind(id.to_string())
    .bind(i64::try_from(keep).unwrap_or(i64::MAX))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(cutoff) = cutoff {
        sqlx::query(&format!("DELETE FROM {table} WHERE endpoint_id = $1 AND at <= $2"))
            .bind(id.to_string())
            .bind(cutoff)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

fn shadow_result(row: &AnyRow) -> Result<ShadowResult, StoreError> {
    let id: InferenceId = parse_id(row, "inference_id")?.ok_or_else(|| corrupt("a shadow result without an id"))?;
    let error: String = row.try_get("error")?;
    let failed = !error.is_empty();
    let us =
        |column: &str| -> Result<u64, StoreError> { u64::try_from(row.try_get::<i64, _>(column)?).map_err(corrupt) };
    Ok(ShadowResult {
        inference_id: id,
        at: Timestamp(row.try_get("at")?),
        production_variant: row.try_get("production_variant")?,
        production_score: row.try_get("production_score")?,
        production_class: row.try_get("production_class")?,
        production_us: us("production_us")?,
        shadow_variant: row.try_get("shadow_variant")?,
        shadow_score: if failed { None } else { Some(row.try_get("shadow_score")?) },
        shadow_class: if failed { None } else { Some(row.try_get("shadow_class")?) },
        shadow_us: us("shadow_us")?,
        error: failed.then_some(error),
        ground_truth: row.try_get("ground_truth")?,
    })
}

#[async_trait]
impl EndpointStore for SqlDatabase {
    async fn create_endpoint(&self, endpoint: &Endpoint, models: &[String]) -> Result<(), StoreError> {
        let all: Vec<(&Variant, bool)> =
            endpoint.variants.iter().map(|v| (v, false)).chain(endpoint.shadow.iter().map(|v| (v, true))).collect();
        if models.len() != all.len() {
            return Err(corrupt(format!(
                "endpoint {} has {} variants and {} models",
                endpoint.name,
                all.len(),
                models.len()
            )));
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO endpoints (id, name, owner_id, workshop_id, team_id, capture_percent, shadow_percent,
                                    review_band, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(endpoint.id.to_string())
        .bind(&endpoint.name)
        .bind(endpoint.owner.to_string())
        .bind(endpoint.workshop.map(|w| w.to_string()))
        .bind(endpoint.team.map(|t| t.to_string()))
        .bind(i64::from(endpoint.capture_percent))
        .bind(i64::from(endpoint.shadow_percent))
        .bind(endpoint.review.map(ReviewBand::to_text).unwrap_or_default())
        .bind(endpoint.created_at.millis())
        .bind(endpoint.updated_at.millis())
        .execute(&mut *tx)
        .await
        .map_err(conflict_on("endpoint name"))?;
        for (position, ((variant, shadow), model)) in all.into_iter().zip(models).enumerate() {
            insert_variant(&mut tx, endpoint.id, i64::try_from(position).map_err(corrupt)?, variant, shadow, model)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn endpoint_by_name(&self, name: &str) -> Result<Option<Endpoint>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM endpoints WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some(endpoint(&self.pool, &row).await?)),
            None => Ok(None),
        }
    }

    async fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM endpoints ORDER BY name")).fetch_all(&self.pool).await?;
        let mut all = Vec::with_capacity(rows.len());
        for row in &rows {
            all.push(endpoint(&self.pool, row).await?);
        }
        Ok(all)
    }

    async fn endpoint_models(&self, id: EndpointId) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT name, model FROM endpoint_variants WHERE endpoint_id = $1 ORDER BY position")
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("name")?, r.try_get("model")?))).collect()
    }

    async fn set_variant_weights(
        &self,
        id: EndpointId,
        weights: &[(String, f64)],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !touch(&mut tx, id, now).await? {
            return Ok(false);
        }
        for (name, weight) in weights {
            sqlx::query("UPDATE endpoint_variants SET weight = $3 WHERE endpoint_id = $1 AND name = $2 AND shadow = 0")
                .bind(id.to_string())
                .bind(name)
                .bind(*weight)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_endpoint(&self, id: EndpointId) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        for table in [
            "endpoint_captures",
            "endpoint_shadow_results",
            "endpoint_baselines",
            "endpoint_keys",
            "endpoint_monitors",
            "endpoint_variants",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE endpoint_id = $1"))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        let gone = sqlx::query("DELETE FROM endpoints WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(gone.rows_affected() > 0)
    }

    async fn add_captures(&self, id: EndpointId, captures: &[Capture], keep: u64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for c in captures {
            sqlx::query(
                "INSERT INTO endpoint_captures (inference_id, endpoint_id, variant, at, features, score, class, latency_us)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(c.inference_id.to_string())
            .bind(id.to_string())
            .bind(&c.variant)
            .bind(c.at.millis())
            .bind(serde_json::to_string(&c.features).map_err(corrupt)?)
            .bind(c.score)
            .bind(&c.class)
            .bind(i64::try_from(c.latency_us).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
        }
        keep_newest(&mut tx, "endpoint_captures", id, keep).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_ground_truth(&self, id: EndpointId, inference: InferenceId, label: &str) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE endpoint_captures SET ground_truth = $3 WHERE endpoint_id = $1 AND inference_id = $2")
                .bind(id.to_string())
                .bind(inference.to_string())
                .bind(label)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_review(&self, id: EndpointId, band: Option<ReviewBand>, now: Timestamp) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !touch(&mut tx, id, now).await? {
            return Ok(false);
        }
        sqlx::query("UPDATE endpoints SET review_band = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(band.map(ReviewBand::to_text).unwrap_or_default())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn review_queue(&self, id: EndpointId, band: ReviewBand, limit: u64) -> Result<Vec<Capture>, StoreError> {
        let rows = sqlx::query(
            "SELECT inference_id, variant, at, features, score, class, latency_us, ground_truth
             FROM endpoint_captures
             WHERE endpoint_id = $1 AND ground_truth IS NULL AND score >= $2 AND score <= $3
             ORDER BY at, inference_id LIMIT $4",
        )
        .bind(id.to_string())
        .bind(band.low)
        .bind(band.high)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(capture).collect()
    }

    async fn captures(&self, id: EndpointId, limit: u64) -> Result<Vec<Capture>, StoreError> {
        let rows = sqlx::query(
            "SELECT inference_id, variant, at, features, score, class, latency_us, ground_truth
             FROM endpoint_captures WHERE endpoint_id = $1 ORDER BY at DESC, inference_id LIMIT $2",
        )
        .bind(id.to_string())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(capture).collect()
    }

    async fn captures_since(&self, id: EndpointId, since: Timestamp) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM endpoint_captures WHERE endpoint_id = $1 AND at >= $2")
            .bind(id.to_string())
            .bind(since.millis())
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn add_invocation_errors(
        &self,
        id: EndpointId,
        errors: &[InvocationError],
        keep: u64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for e in errors {
            sqlx::query(
                "INSERT INTO endpoint_errors (endpoint_id, at, variant, status, message) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id.to_string())
            .bind(e.at.millis())
            .bind(e.variant.clone().unwrap_or_default())
            .bind(i32::from(e.status))
            .bind(&e.message)
            .execute(&mut *tx)
            .await?;
        }
        keep_newest(&mut tx, "endpoint_errors", id, keep).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn invocation_errors(
        &self,
        id: EndpointId,
        since: Timestamp,
        limit: u64,
    ) -> Result<Vec<InvocationError>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, variant, status, message FROM endpoint_errors WHERE endpoint_id = $1 AND at >= $2
             ORDER BY at DESC LIMIT $3",
        )
        .bind(id.to_string())
        .bind(since.millis())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let variant: String = r.try_get("variant")?;
                let status: i32 = r.try_get("status")?;
                Ok(InvocationError {
                    at: Timestamp(r.try_get("at")?),
                    variant: Some(variant).filter(|v| !v.is_empty()),
                    status: u16::try_from(status).map_err(|_| corrupt("an error status out of range"))?,
                    message: r.try_get("message")?,
                })
            })
            .collect()
    }

    async fn set_shadow(
        &self,
        id: EndpointId,
        shadow: Option<(&Variant, &str)>,
        percent: u8,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !touch(&mut tx, id, now).await? {
            return Ok(false);
        }
        sqlx::query("DELETE FROM endpoint_variants WHERE endpoint_id = $1 AND shadow = 1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if let Some((variant, model)) = shadow {
            let last: Option<i64> =
                sqlx::query_scalar("SELECT MAX(position) FROM endpoint_variants WHERE endpoint_id = $1")
                    .bind(id.to_string())
                    .fetch_one(&mut *tx)
                    .await?;
            insert_variant(&mut tx, id, last.unwrap_or(0) + 1, variant, true, model).await?;
        }
        sqlx::query("UPDATE endpoints SET shadow_percent = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(i64::from(if shadow.is_some() { percent } else { 0 }))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn promote_shadow(&self, id: EndpointId, now: Timestamp) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let has_shadow: Option<i64> =
            sqlx::query_scalar("SELECT shadow FROM endpoint_variants WHERE endpoint_id = $1 AND shadow = 1")
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        if has_shadow.is_none() || !touch(&mut tx, id, now).await? {
            return Ok(false);
        }
        sqlx::query("UPDATE endpoint_variants SET weight = CASE WHEN shadow = 1 THEN 1.0 ELSE 0.0 END, shadow = 0 WHERE endpoint_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE endpoints SET shadow_percent = 0 WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn add_shadow_results(&self, id: EndpointId, results: &[ShadowResult], keep: u64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for r in results {
            sqlx::query(
                "INSERT INTO endpoint_shadow_results (inference_id, endpoint_id, at, production_variant, production_score,
                     production_class, production_us, shadow_variant, shadow_score, shadow_class, shadow_us, error)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(r.inference_id.to_string())
            .bind(id.to_string())
            .bind(r.at.millis())
            .bind(&r.production_variant)
            .bind(r.production_score)
            .bind(&r.production_class)
            .bind(i64::try_from(r.production_us).unwrap_or(i64::MAX))
            .bind(&r.shadow_variant)
            .bind(r.shadow_score.unwrap_or(0.0))
            .bind(r.shadow_class.clone().unwrap_or_default())
            .bind(i64::try_from(r.shadow_us).unwrap_or(i64::MAX))
            .bind(r.error.clone().unwrap_or_default())
            .execute(&mut *tx)
            .await?;
        }
        keep_newest(&mut tx, "endpoint_shadow_results", id, keep).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn shadow_results(&self, id: EndpointId, limit: u64) -> Result<Vec<ShadowResult>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.inference_id, s.at, s.production_variant, s.production_score, s.production_class,
                    s.production_us, s.shadow_variant, s.shadow_score, s.shadow_class, s.shadow_us, s.error,
                    c.ground_truth
             FROM endpoint_shadow_results s LEFT JOIN endpoint_captures c ON c.inference_id = s.inference_id
             WHERE s.endpoint_id = $1 ORDER BY s.at DESC, s.inference_id LIMIT $2",
        )
        .bind(id.to_string())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(shadow_result).collect()
    }

    async fn add_endpoint_event(&self, id: EndpointId, event: &EndpointEvent) -> Result<(), StoreError> {
        let mut tries = 0;
        loop {
            let done = sqlx::query(
                "INSERT INTO endpoint_events (endpoint_id, seq, at, actor_id, message)
                 SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4 FROM endpoint_events WHERE endpoint_id = $1",
            )
            .bind(id.to_string())
            .bind(event.at.millis())
            .bind(event.actor.map(|a| a.to_string()))
            .bind(&event.message)
            .execute(&self.pool)
            .await;
            match done {
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() && tries < 5 => tries += 1,
                other => return other.map(drop).map_err(StoreError::from),
            }
        }
    }

    async fn endpoint_events(&self, id: EndpointId) -> Result<Vec<EndpointEvent>, StoreError> {
        let rows = sqlx::query("SELECT at, actor_id, message FROM endpoint_events WHERE endpoint_id = $1 ORDER BY seq")
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(EndpointEvent {
                    at: Timestamp(r.try_get("at")?),
                    actor: parse_id::<UserId>(r, "actor_id")?,
                    message: r.try_get("message")?,
                })
            })
            .collect()
    }

    async fn set_baseline(&self, id: EndpointId, source: &str, rows: &str, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO endpoint_baselines (endpoint_id, source, rows, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (endpoint_id) DO UPDATE SET source = excluded.source, rows = excluded.rows,
                                                     created_at = excluded.created_at",
        )
        .bind(id.to_string())
        .bind(source)
        .bind(rows)
        .bind(now.millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn baseline(&self, id: EndpointId) -> Result<Option<(String, String, Timestamp)>, StoreError> {
        let row = sqlx::query("SELECT source, rows, created_at FROM endpoint_baselines WHERE endpoint_id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("source")?, r.try_get("rows")?, Timestamp(r.try_get("created_at")?)))).transpose()
    }

    async fn create_endpoint_key(&self, id: EndpointId, key: &ApiToken, digest: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO endpoint_keys (id, endpoint_id, created_by, name, digest, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key.id.to_string())
        .bind(id.to_string())
        .bind(key.user_id.to_string())
        .bind(&key.name)
        .bind(digest)
        .bind(key.created_at.millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn endpoint_keys(&self, id: EndpointId) -> Result<Vec<ApiToken>, StoreError> {
        // The same shape as a personal token's row: the key's maker is its `user_id`.
        let rows = sqlx::query(
            "SELECT id, created_by AS user_id, name, created_at, last_used_at, revoked_at FROM endpoint_keys
             WHERE endpoint_id = $1 ORDER BY created_at DESC, id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_endpoint_key(&self, id: EndpointId, key: ApiTokenId, now: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE endpoint_keys SET revoked_at = $3 WHERE endpoint_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(id.to_string())
        .bind(key.to_string())
        .bind(now.millis())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn endpoint_of_key(&self, digest: &str, now: Timestamp) -> Result<Option<EndpointId>, StoreError> {
        let row =
            sqlx::query("SELECT endpoint_id, last_used_at FROM endpoint_keys WHERE digest = $1 AND revoked_at IS NULL")
                .bind(digest)
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else { return Ok(None) };
        let last: Option<i64> = row.try_get("last_used_at")?;
        if last.is_none_or(|t| now.millis() - t >= crate::USE_RECORDED_EVERY_MILLIS) {
            sqlx::query("UPDATE endpoint_keys SET last_used_at = $2 WHERE digest = $1")
                .bind(digest)
                .bind(now.millis())
                .execute(&self.pool)
                .await?;
        }
        parse_id(&row, "endpoint_id")
    }

    async fn set_monitor(
        &self,
        id: EndpointId,
        monitor: &Monitor,
        next_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let config = serde_json::to_string(monitor).map_err(|e| StoreError::Corrupt(format!("monitor: {e}")))?;
        sqlx::query(
            "INSERT INTO endpoint_monitors (endpoint_id, config, next_at, checked_at, alarms, rollback_weights)
             VALUES ($1, $2, $3, 0, '[]', '[]')
             ON CONFLICT (endpoint_id) DO UPDATE SET config = excluded.config, next_at = excluded.next_at",
        )
        .bind(id.to_string())
        .bind(config)
        .bind(next_at.map_or(0, Timestamp::millis))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn monitor(&self, id: EndpointId) -> Result<Option<MonitorState>, StoreError> {
        let row = sqlx::query(
            "SELECT config, next_at, checked_at, alarms, rollback_weights FROM endpoint_monitors WHERE endpoint_id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        // A row without settings only remembers rollback weights.
        let Some(row) = row.filter(|r| r.try_get::<String, _>("config").is_ok_and(|c| !c.is_empty())) else {
            return Ok(None);
        };
        let json = |column: &str| -> Result<String, StoreError> { Ok(row.try_get::<String, _>(column)?) };
        let corrupt = |what: &str, e: serde_json::Error| StoreError::Corrupt(format!("endpoint monitor {what}: {e}"));
        let at = |column: &str| -> Result<Option<Timestamp>, StoreError> {
            Ok(Some(row.try_get::<i64, _>(column)?).filter(|&ms| ms > 0).map(Timestamp))
        };
        Ok(Some(MonitorState {
            monitor: serde_json::from_str(&json("config")?).map_err(|e| corrupt("config", e))?,
            next_at: at("next_at")?,
            checked_at: at("checked_at")?,
            alarms: serde_json::from_str(&json("alarms")?).map_err(|e| corrupt("alarms", e))?,
            rollback_weights: serde_json::from_str(&json("rollback_weights")?).map_err(|e| corrupt("weights", e))?,
        }))
    }

    async fn due_monitors(&self, now: Timestamp) -> Result<Vec<(EndpointId, Timestamp)>, StoreError> {
        let rows =
            sqlx::query("SELECT endpoint_id, next_at FROM endpoint_monitors WHERE next_at > 0 AND next_at <= $1")
                .bind(now.millis())
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .filter_map(|r| match parse_id::<EndpointId>(r, "endpoint_id") {
                Ok(Some(id)) => Some(r.try_get("next_at").map(|at| (id, Timestamp(at))).map_err(StoreError::from)),
                Ok(None) => None,
                Err(e) => Some(Err(e)),
            })
            .collect()
    }

    async fn claim_monitor(&self, id: EndpointId, due: Timestamp, next_at: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE endpoint_monitors SET next_at = $3 WHERE endpoint_id = $1 AND next_at = $2")
            .bind(id.to_string())
            .bind(due.millis())
            .bind(next_at.millis())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn record_check(&self, id: EndpointId, alarms: &[String], at: Timestamp) -> Result<(), StoreError> {
        let alarms = serde_json::to_string(alarms).map_err(|e| StoreError::Corrupt(format!("alarms: {e}")))?;
        sqlx::query("UPDATE endpoint_monitors SET alarms = $2, checked_at = $3 WHERE endpoint_id = $1")
            .bind(id.to_string())
            .bind(alarms)
            .bind(at.millis())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_rollback_weights(&self, id: EndpointId, weights: &[(String, f64)]) -> Result<(), StoreError> {
        let weights = serde_json::to_string(weights).map_err(|e| StoreError::Corrupt(format!("weights: {e}")))?;
        sqlx::query(
            "INSERT INTO endpoint_monitors (endpoint_id, config, next_at, checked_at, alarms, rollback_weights)
             VALUES ($1, '', 0, 0, '[]', $2)
             ON CONFLICT (endpoint_id) DO UPDATE SET rollback_weights = excluded.rollback_weights",
        )
        .bind(id.to_string())
        .bind(weights)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
