//! Datasets: [`DatasetStore`] on [`SqlDatabase`] (see the `datasets` migration).

use std::str::FromStr;

use flywheel_domain::{DatasetId, DatasetName, DatasetRecord, Timestamp, UserId};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::sql::conflict_on;
use crate::{DatasetStore, SqlDatabase};
use crate::{StoreError, corrupt};
use async_trait::async_trait;

const COLUMNS: &str = "id, owner_id, name, size_bytes, row_count, columns, created_at";

pub(crate) async fn create(pool: &AnyPool, record: &DatasetRecord, content: &str) -> Result<(), StoreError> {
    let columns = serde_json::to_string(&record.columns).expect("column summaries always serialise");
    sqlx::query(
        "INSERT INTO datasets (id, owner_id, name, size_bytes, row_count, columns, content, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(record.id.to_string())
    .bind(record.owner.to_string())
    .bind(record.name.as_str())
    .bind(i64::try_from(record.size_bytes).map_err(corrupt)?)
    .bind(i64::try_from(record.rows).map_err(corrupt)?)
    .bind(columns)
    .bind(content)
    .bind(record.created_at.millis())
    .execute(pool)
    .await
    .map_err(conflict_on("dataset name"))?;
    Ok(())
}

fn record(row: &AnyRow) -> Result<DatasetRecord, StoreError> {
    let id: String = row.try_get("id")?;
    let owner: String = row.try_get("owner_id")?;
    let name: String = row.try_get("name")?;
    let columns: String = row.try_get("columns")?;
    Ok(DatasetRecord {
        id: DatasetId::from_str(&id).map_err(corrupt)?,
        owner: UserId::from_str(&owner).map_err(corrupt)?,
        name: DatasetName::parse(&name).map_err(corrupt)?,
        size_bytes: u64::try_from(row.try_get::<i64, _>("size_bytes")?).map_err(corrupt)?,
        rows: u64::try_from(row.try_get::<i64, _>("row_count")?).map_err(corrupt)?,
        columns: serde_json::from_str(&columns).map_err(|e| corrupt(format!("dataset {id} columns: {e}")))?,
        created_at: Timestamp(row.try_get("created_at")?),
    })
}

pub(crate) async fn get(pool: &AnyPool, id: DatasetId) -> Result<Option<DatasetRecord>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM datasets WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(record).transpose()
}

pub(crate) async fn list(pool: &AnyPool, owner: UserId) -> Result<Vec<DatasetRecord>, StoreError> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM datasets WHERE owner_id = $1 ORDER BY name"))
        .bind(owner.to_string())
        .fetch_all(pool)
        .await?;
    rows.iter().map(record).collect()
}

pub(crate) async fn content(pool: &AnyPool, id: DatasetId) -> Result<Option<String>, StoreError> {
    let row =
        sqlx::query("SELECT content FROM datasets WHERE id = $1").bind(id.to_string()).fetch_optional(pool).await?;
    Ok(row.map(|r| r.try_get("content")).transpose()?)
}

pub(crate) async fn delete(pool: &AnyPool, id: DatasetId) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM datasets WHERE id = $1").bind(id.to_string()).execute(pool).await?;
    Ok(done.rows_affected() == 1)
}

#[async_trait]
impl DatasetStore for SqlDatabase {
    async fn create_dataset(&self, record: &DatasetRecord, content: &str) -> Result<(), StoreError> {
        create(&self.pool, record, content).await
    }

    async fn dataset(&self, id: DatasetId) -> Result<Option<DatasetRecord>, StoreError> {
        get(&self.pool, id).await
    }

    async fn datasets(&self, owner: UserId) -> Result<Vec<DatasetRecord>, StoreError> {
        list(&self.pool, owner).await
    }

    async fn dataset_content(&self, id: DatasetId) -> Result<Option<String>, StoreError> {
        content(&self.pool, id).await
    }

    async fn delete_dataset(&self, id: DatasetId) -> Result<bool, StoreError> {
        delete(&self.pool, id).await
    }
}
