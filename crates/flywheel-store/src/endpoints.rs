//! Endpoints: [`EndpointStore`] on [`SqlDatabase`] (see the `endpoints`
//! migration). An endpoint's row, its variants (with each model's JSON, so
//! that any of several servers can load them) and its captured predictions.

use async_trait::async_trait;
use flywheel_domain::{Capture, Endpoint, EndpointId, InferenceId, Timestamp, Variant};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::sql::conflict_on;
use crate::training::parse_id;
use crate::{EndpointStore, SqlDatabase, StoreError, corrupt};

const COLUMNS: &str = "id, name, owner_id, workshop_id, team_id, capture_percent, created_at, updated_at";

async fn endpoint(pool: &AnyPool, row: &AnyRow) -> Result<Endpoint, StoreError> {
    let id: EndpointId = parse_id(row, "id")?.ok_or_else(|| corrupt("an endpoint without an id"))?;
    let variants = sqlx::query(
        "SELECT name, model_kind, source, weight FROM endpoint_variants WHERE endpoint_id = $1 ORDER BY position",
    )
    .bind(id.to_string())
    .fetch_all(pool)
    .await?
    .iter()
    .map(|v| {
        Ok(Variant {
            name: v.try_get("name")?,
            model_kind: v.try_get("model_kind")?,
            source: v.try_get("source")?,
            weight: v.try_get("weight")?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Endpoint {
        id,
        name: row.try_get("name")?,
        owner: parse_id(row, "owner_id")?.ok_or_else(|| corrupt(format!("endpoint {id} has no owner")))?,
        workshop: parse_id(row, "workshop_id")?,
        team: parse_id(row, "team_id")?,
        capture_percent: u8::try_from(row.try_get::<i64, _>("capture_percent")?).map_err(corrupt)?,
        variants,
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

#[async_trait]
impl EndpointStore for SqlDatabase {
    async fn create_endpoint(&self, endpoint: &Endpoint, models: &[String]) -> Result<(), StoreError> {
        if models.len() != endpoint.variants.len() {
            return Err(corrupt(format!(
                "endpoint {} has {} variants and {} models",
                endpoint.name,
                endpoint.variants.len(),
                models.len()
            )));
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO endpoints (id, name, owner_id, workshop_id, team_id, capture_percent, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(endpoint.id.to_string())
        .bind(&endpoint.name)
        .bind(endpoint.owner.to_string())
        .bind(endpoint.workshop.map(|w| w.to_string()))
        .bind(endpoint.team.map(|t| t.to_string()))
        .bind(i64::from(endpoint.capture_percent))
        .bind(endpoint.created_at.millis())
        .bind(endpoint.updated_at.millis())
        .execute(&mut *tx)
        .await
        .map_err(conflict_on("endpoint name"))?;
        for (position, (variant, model)) in endpoint.variants.iter().zip(models).enumerate() {
            sqlx::query(
                "INSERT INTO endpoint_variants (endpoint_id, position, name, model_kind, source, weight, model)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(endpoint.id.to_string())
            .bind(i64::try_from(position).map_err(corrupt)?)
            .bind(&variant.name)
            .bind(&variant.model_kind)
            .bind(&variant.source)
            .bind(variant.weight)
            .bind(model)
            .execute(&mut *tx)
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
        let found = sqlx::query("UPDATE endpoints SET updated_at = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(now.millis())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if found == 0 {
            return Ok(false);
        }
        for (name, weight) in weights {
            sqlx::query("UPDATE endpoint_variants SET weight = $3 WHERE endpoint_id = $1 AND name = $2")
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
        for table in ["endpoint_captures", "endpoint_variants"] {
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
        // Bounded retention: the captures older than the `keep`-th newest go.
        let cutoff: Option<i64> = sqlx::query_scalar(
            "SELECT at FROM endpoint_captures WHERE endpoint_id = $1 ORDER BY at DESC LIMIT 1 OFFSET $2",
        )
        .bind(id.to_string())
        .bind(i64::try_from(keep).unwrap_or(i64::MAX))
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(cutoff) = cutoff {
            sqlx::query("DELETE FROM endpoint_captures WHERE endpoint_id = $1 AND at <= $2")
                .bind(id.to_string())
                .bind(cutoff)
                .execute(&mut *tx)
                .await?;
        }
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
}
