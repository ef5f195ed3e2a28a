//! Notebooks: [`NotebookStore`] on [`SqlDatabase`]. Cells are one JSON document per notebook, under a revision
//! number; outputs are rows per cell (see the migration).

use std::collections::HashMap;
use std::str::FromStr;

use flywheel_domain::{
    Cell, CellId, CellType, Notebook, NotebookId, NotebookRecord, NotebookSummary, TeamId, Timestamp, UserId,
};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use uuid::Uuid;

use crate::sql::conflict_on;
use crate::{NotebookStore, SqlDatabase};
use crate::{StoreError, corrupt};
use async_trait::async_trait;

/// A cell as stored in `notebooks.cells`: everything but its outputs.
#[derive(Serialize, Deserialize)]
struct StoredCell {
    id: CellId,
    cell_type: CellType,
    source: String,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    metadata: serde_json::Map<String, serde_json::Value>,
}

fn cells_json(notebook: &Notebook) -> String {
    let cells: Vec<StoredCell> = notebook
        .cells
        .iter()
        .map(|c| StoredCell {
            id: c.id.clone(),
            cell_type: c.cell_type,
            source: c.source.clone(),
            metadata: c.metadata.clone(),
        })
        .collect();
    serde_json::to_string(&cells).expect("cells always serialise")
}

const COLUMNS: &str = "id, owner_id, lab_slug, team_id, title, cells, revision, created_at, updated_at";

pub(crate) async fn create(
    pool: &AnyPool,
    owner: UserId,
    lab: Option<&str>,
    notebook: &Notebook,
    now: Timestamp,
) -> Result<NotebookRecord, StoreError> {
    let id = NotebookId(Uuid::new_v4());
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO notebooks (id, owner_id, lab_slug, title, cells, revision, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 1, $6, $6)",
    )
    .bind(id.to_string())
    .bind(owner.to_string())
    .bind(lab)
    .bind(&notebook.title)
    .bind(cells_json(notebook))
    .bind(now.millis())
    .execute(&mut *tx)
    .await
    .map_err(conflict_on("a copy of this lab"))?;
    for cell in notebook.cells.iter().filter(|c| !c.outputs.is_empty() || c.execution_count.is_some()) {
        upsert_outputs(&mut tx, id, &cell.id, cell.execution_count, &cell.outputs, now).await?;
    }
    tx.commit().await?;
    Ok(NotebookRecord {
        id,
        owner,
        lab: lab.map(str::to_owned),
        team: None,
        revision: 1,
        created_at: now,
        updated_at: now,
        notebook: notebook.clone(),
    })
}

pub(crate) async fn get(pool: &AnyPool, id: NotebookId) -> Result<Option<NotebookRecord>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM notebooks WHERE id = $1");
    let Some(row) = sqlx::query(&sql).bind(id.to_string()).fetch_optional(pool).await? else { return Ok(None) };
    record(pool, &row).await.map(Some)
}

pub(crate) async fn for_lab(pool: &AnyPool, owner: UserId, lab: &str) -> Result<Option<NotebookRecord>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM notebooks WHERE owner_id = $1 AND lab_slug = $2");
    let row = sqlx::query(&sql).bind(owner.to_string()).bind(lab).fetch_optional(pool).await?;
    match row {
        Some(row) => record(pool, &row).await.map(Some),
        None => Ok(None),
    }
}

pub(crate) async fn list(pool: &AnyPool, owner: UserId) -> Result<Vec<NotebookSummary>, StoreError> {
    summaries(pool, "owner_id", &owner.to_string()).await
}

pub(crate) async fn of_team(pool: &AnyPool, team: TeamId) -> Result<Vec<NotebookSummary>, StoreError> {
    summaries(pool, "team_id", &team.to_string()).await
}

async fn summaries(pool: &AnyPool, column: &str, value: &str) -> Result<Vec<NotebookSummary>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT id, title, lab_slug, team_id, updated_at FROM notebooks WHERE {column} = $1 ORDER BY updated_at DESC, id"
    ))
    .bind(value)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("id")?;
            Ok(NotebookSummary {
                id: NotebookId::from_str(&id).map_err(corrupt)?,
                title: row.try_get("title")?,
                lab: row.try_get("lab_slug")?,
                team: team_of(row)?,
                updated_at: Timestamp(row.try_get("updated_at")?),
            })
        })
        .collect()
}

fn team_of(row: &AnyRow) -> Result<Option<TeamId>, StoreError> {
    let team: Option<String> = row.try_get("team_id")?;
    team.map(|t| TeamId::from_str(&t).map_err(corrupt)).transpose()
}

pub(crate) async fn set_team(pool: &AnyPool, id: NotebookId, team: Option<TeamId>) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE notebooks SET team_id = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(team.map(|t| t.to_string()))
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

async fn record(pool: &AnyPool, row: &AnyRow) -> Result<NotebookRecord, StoreError> {
    let id: String = row.try_get("id")?;
    let id = NotebookId::from_str(&id).map_err(corrupt)?;
    let owner: String = row.try_get("owner_id")?;
    let cells: String = row.try_get("cells")?;
    let stored: Vec<StoredCell> =
        serde_json::from_str(&cells).map_err(|e| corrupt(format!("notebook {id} cells: {e}")))?;
    let mut outputs = outputs_of(pool, id).await?;
    let cells = stored
        .into_iter()
        .map(|c| {
            let (execution_count, outputs) = outputs.remove(c.id.as_str()).unwrap_or_default();
            Cell { id: c.id, cell_type: c.cell_type, source: c.source, metadata: c.metadata, outputs, execution_count }
        })
        .collect();
    Ok(NotebookRecord {
        id,
        owner: UserId::from_str(&owner).map_err(corrupt)?,
        lab: row.try_get("lab_slug")?,
        team: team_of(row)?,
        revision: row.try_get("revision")?,
        created_at: Timestamp(row.try_get("created_at")?),
        updated_at: Timestamp(row.try_get("updated_at")?),
        notebook: Notebook { title: row.try_get("title")?, cells },
    })
}

type Outputs = (Option<u64>, Vec<serde_json::Value>);

async fn outputs_of(pool: &AnyPool, id: NotebookId) -> Result<HashMap<String, Outputs>, StoreError> {
    let rows = sqlx::query("SELECT cell_id, execution_count, outputs FROM cell_outputs WHERE notebook_id = $1")
        .bind(id.to_string())
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| {
            let cell: String = row.try_get("cell_id")?;
            let count: Option<i64> = row.try_get("execution_count")?;
            let json: String = row.try_get("outputs")?;
            let outputs = serde_json::from_str(&json).map_err(|e| corrupt(format!("outputs of cell {cell}: {e}")))?;
            Ok((cell, (count.and_then(|c| u64::try_from(c).ok()), outputs)))
        })
        .collect()
}

/// How a save treats outputs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Save {
    /// An edit based on `revision`: refused when the notebook moved on;
    /// outputs of cells that remain are kept.
    Edit { revision: i64 },
    /// Replace the cells whatever the revision, dropping every output (reset).
    Replace,
}

pub(crate) async fn save(
    pool: &AnyPool,
    id: NotebookId,
    save: Save,
    notebook: &Notebook,
    now: Timestamp,
) -> Result<Option<NotebookRecord>, StoreError> {
    // The transaction starts with its write, so that SQLite takes the write
    // lock at once (a read first would have to upgrade, and a concurrent
    // save would make that fail as "busy" rather than wait).
    let mut tx = pool.begin().await?;
    let guard = match save {
        Save::Edit { revision } => revision,
        Save::Replace => -1,
    };
    let done = sqlx::query(
        "UPDATE notebooks SET title = $1, cells = $2, revision = revision + 1, updated_at = $3
         WHERE id = $4 AND (revision = $5 OR $5 = -1)",
    )
    .bind(&notebook.title)
    .bind(cells_json(notebook))
    .bind(now.millis())
    .bind(id.to_string())
    .bind(guard)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        let current: Option<i64> = sqlx::query_scalar("SELECT revision FROM notebooks WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        return match current {
            None => Ok(None),
            Some(current) => Err(StoreError::StaleRevision { current }),
        };
    }
    match save {
        Save::Replace => {
            sqlx::query("DELETE FROM cell_outputs WHERE notebook_id = $1")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        Save::Edit { .. } => {
            let kept: std::collections::HashSet<&str> = notebook.cells.iter().map(|c| c.id.as_str()).collect();
            let cells: Vec<String> = sqlx::query_scalar("SELECT cell_id FROM cell_outputs WHERE notebook_id = $1")
                .bind(id.to_string())
                .fetch_all(&mut *tx)
                .await?;
            for gone in cells.iter().filter(|c| !kept.contains(c.as_str())) {
                sqlx::query("DELETE FROM cell_outputs WHERE notebook_id = $1 AND cell_id = $2")
                    .bind(id.to_string())
                    .bind(gone)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    tx.commit().await?;
    get(pool, id).await
}

pub(crate) async fn set_outputs(
    pool: &AnyPool,
    id: NotebookId,
    cell: &CellId,
    execution_count: Option<u64>,
    outputs: &[serde_json::Value],
    now: Timestamp,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    upsert_outputs(&mut tx, id, cell, execution_count, outputs, now).await?;
    sqlx::query("UPDATE notebooks SET updated_at = $1 WHERE id = $2")
        .bind(now.millis())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn upsert_outputs(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: NotebookId,
    cell: &CellId,
    execution_count: Option<u64>,
    outputs: &[serde_json::Value],
    now: Timestamp,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(outputs).expect("JSON values always serialise");
    sqlx::query(
        "INSERT INTO cell_outputs (notebook_id, cell_id, execution_count, outputs, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (notebook_id, cell_id) DO UPDATE
         SET execution_count = excluded.execution_count, outputs = excluded.outputs, updated_at = excluded.updated_at",
    )
    .bind(id.to_string())
    .bind(cell.as_str())
    .bind(execution_count.and_then(|c| i64::try_from(c).ok()))
    .bind(json)
    .bind(now.millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) async fn delete(pool: &AnyPool, id: NotebookId) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM notebooks WHERE id = $1").bind(id.to_string()).execute(pool).await?;
    Ok(done.rows_affected() == 1)
}

#[async_trait]
impl NotebookStore for SqlDatabase {
    async fn create_notebook(
        &self,
        owner: UserId,
        lab: Option<&str>,
        notebook: &Notebook,
        now: Timestamp,
    ) -> Result<NotebookRecord, StoreError> {
        create(&self.pool, owner, lab, notebook, now).await
    }

    async fn notebook(&self, id: NotebookId) -> Result<Option<NotebookRecord>, StoreError> {
        get(&self.pool, id).await
    }

    async fn lab_notebook(&self, owner: UserId, lab: &str) -> Result<Option<NotebookRecord>, StoreError> {
        for_lab(&self.pool, owner, lab).await
    }

    async fn notebooks(&self, owner: UserId) -> Result<Vec<NotebookSummary>, StoreError> {
        list(&self.pool, owner).await
    }

    async fn team_notebooks(&self, team: TeamId) -> Result<Vec<NotebookSummary>, StoreError> {
        of_team(&self.pool, team).await
    }

    async fn set_notebook_team(&self, id: NotebookId, team: Option<TeamId>) -> Result<bool, StoreError> {
        set_team(&self.pool, id, team).await
    }

    async fn update_notebook(
        &self,
        id: NotebookId,
        revision: i64,
        notebook: &Notebook,
        now: Timestamp,
    ) -> Result<Option<NotebookRecord>, StoreError> {
        save(&self.pool, id, Save::Edit { revision }, notebook, now).await
    }

    async fn replace_notebook(
        &self,
        id: NotebookId,
        notebook: &Notebook,
        now: Timestamp,
    ) -> Result<Option<NotebookRecord>, StoreError> {
        save(&self.pool, id, Save::Replace, notebook, now).await
    }

    async fn set_cell_outputs(
        &self,
        id: NotebookId,
        cell: &CellId,
        execution_count: Option<u64>,
        outputs: &[serde_json::Value],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        set_outputs(&self.pool, id, cell, execution_count, outputs, now).await
    }

    async fn delete_notebook(&self, id: NotebookId) -> Result<bool, StoreError> {
        delete(&self.pool, id).await
    }
}
