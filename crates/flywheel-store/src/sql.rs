//! [`SqlDatabase`]: the [`Database`] trait on sqlx's `Any` driver, so one set
//! of queries serves SQLite and PostgreSQL.

use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

use async_trait::async_trait;
use flywheel_domain::workshop::{Grade, JoinCode, Member, MemberRole, Submission, SubmissionKind, Team, Workshop};
use flywheel_domain::{
    ApiToken, ApiTokenId, CellId, DatasetId, DatasetRecord, DisplayName, Email, NewUser, Notebook, NotebookId,
    NotebookRecord, NotebookSummary, Role, StepDone, SubmissionId, TeamId, Timestamp, User, UserId, WorkshopId,
};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use uuid::Uuid;

use crate::notebooks::{self, Save};
use crate::{Backend, Database, StoreError, corrupt, redact_url};
use crate::{datasets, progress, workshops};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A [`Database`] on a pool of SQLite or PostgreSQL connections.
#[derive(Debug, Clone)]
pub struct SqlDatabase {
    pool: AnyPool,
    backend: Backend,
}

const USER_COLUMNS: &str = "id, email, name, role, created_at, disabled_at";

impl SqlDatabase {
    /// Opens a pool on `url`: `sqlite://PATH` (the file is created if
    /// missing; WAL journal, foreign keys on) or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    /// Fails within `connect_timeout` when the server does not answer.
    ///
    /// # Errors
    /// [`StoreError::UnsupportedUrl`] for other schemes; [`StoreError::Connect`]
    /// when no connection can be opened (the message carries the URL without its password).
    pub async fn connect(url: &str, connect_timeout: Duration) -> Result<Self, StoreError> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);

        let backend = Backend::from_url(url)?;
        let (url, max_connections) = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                (format!("{url}{sep}mode=rwc"), 8)
            }
            Backend::Sqlite => (url.to_owned(), 8),
            Backend::Postgres => (url.to_owned(), 16),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(connect_timeout)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(sqlx::raw_sql(
                            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                        ))
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|source| StoreError::Connect { url: redact_url(&url), source })?;
        Ok(Self { pool, backend })
    }

    /// Applies the embedded migrations that have not run yet.
    ///
    /// # Errors
    /// [`StoreError::Migrate`] when a migration fails or the database holds
    /// migrations this binary does not know (a newer Flywheel wrote it).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// The underlying pool, for tests that inspect the database directly.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

fn user_from_row(row: &AnyRow) -> Result<User, StoreError> {
    let id: String = row.try_get("id")?;
    let email: String = row.try_get("email")?;
    let name: String = row.try_get("name")?;
    let role: String = row.try_get("role")?;
    Ok(User {
        id: UserId::from_str(&id).map_err(corrupt)?,
        email: Email::parse(&email).map_err(corrupt)?,
        name: DisplayName::parse(&name).map_err(corrupt)?,
        role: Role::from_str(&role).map_err(corrupt)?,
        created_at: Timestamp(row.try_get("created_at")?),
        disabled_at: row.try_get::<Option<i64>, _>("disabled_at")?.map(Timestamp),
    })
}

fn token_from_row(row: &AnyRow) -> Result<ApiToken, StoreError> {
    let id: String = row.try_get("id")?;
    let user_id: String = row.try_get("user_id")?;
    Ok(ApiToken {
        id: ApiTokenId::from_str(&id).map_err(corrupt)?,
        user_id: UserId::from_str(&user_id).map_err(corrupt)?,
        name: row.try_get("name")?,
        created_at: Timestamp(row.try_get("created_at")?),
        last_used_at: row.try_get::<Option<i64>, _>("last_used_at")?.map(Timestamp),
        revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(Timestamp),
    })
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`] on `what`.
pub(crate) fn conflict_on(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Query(e),
    }
}

#[async_trait]
impl Database for SqlDatabase {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_user(&self, user: &NewUser, now: Timestamp) -> Result<User, StoreError> {
        let id = UserId(Uuid::new_v4());
        sqlx::query(
            "INSERT INTO users (id, email, email_key, name, role, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.to_string())
        .bind(user.email.as_str())
        .bind(user.email.key())
        .bind(user.name.as_str())
        .bind(user.role.as_str())
        .bind(&user.password_hash)
        .bind(now.millis())
        .execute(&self.pool)
        .await
        .map_err(conflict_on("an account with this email"))?;
        Ok(User {
            id,
            email: user.email.clone(),
            name: user.name.clone(),
            role: user.role,
            created_at: now,
            disabled_at: None,
        })
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&self.pool).await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn user_credentials(&self, email_key: &str) -> Result<Option<(User, String)>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email_key = $1");
        let row = sqlx::query(&sql).bind(email_key).fetch_optional(&self.pool).await?;
        match row {
            Some(row) => Ok(Some((user_from_row(&row)?, row.try_get("password_hash")?))),
            None => Ok(None),
        }
    }

    async fn users(&self) -> Result<Vec<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY created_at, email_key");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn create_api_token(
        &self,
        user: UserId,
        name: &str,
        digest: &str,
        now: Timestamp,
    ) -> Result<ApiToken, StoreError> {
        let id = ApiTokenId(Uuid::new_v4());
        sqlx::query("INSERT INTO api_tokens (id, user_id, name, token_digest, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id.to_string())
            .bind(user.to_string())
            .bind(name)
            .bind(digest)
            .bind(now.millis())
            .execute(&self.pool)
            .await
            .map_err(conflict_on("an API token with this secret"))?;
        Ok(ApiToken { id, user_id: user, name: name.to_owned(), created_at: now, last_used_at: None, revoked_at: None })
    }

    async fn authenticate_api_token(&self, digest: &str, now: Timestamp) -> Result<Option<User>, StoreError> {
        let owner: Option<String> = sqlx::query_scalar(
            "UPDATE api_tokens SET last_used_at = $1
             WHERE token_digest = $2 AND revoked_at IS NULL
             RETURNING user_id",
        )
        .bind(now.millis())
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?;
        let Some(owner) = owner else { return Ok(None) };
        let user = self.user(UserId::from_str(&owner).map_err(corrupt)?).await?;
        Ok(user.filter(User::is_active))
    }

    async fn api_tokens(&self, user: UserId) -> Result<Vec<ApiToken>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, user_id, name, created_at, last_used_at, revoked_at FROM api_tokens
             WHERE user_id = $1 ORDER BY created_at DESC, id",
        )
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_api_token(&self, user: UserId, id: ApiTokenId, now: Timestamp) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
                .bind(now.millis())
                .bind(id.to_string())
                .bind(user.to_string())
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_session(&self, id: &str, data: &str, expires_at: Timestamp) -> Result<bool, StoreError> {
        let done =
            sqlx::query("INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING")
                .bind(id)
                .bind(data)
                .bind(expires_at.millis())
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn save_session(&self, id: &str, data: &str, expires_at: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
        )
        .bind(id)
        .bind(data)
        .bind(expires_at.millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn load_session(&self, id: &str, now: Timestamp) -> Result<Option<String>, StoreError> {
        let data = sqlx::query_scalar("SELECT data FROM sessions WHERE id = $1 AND expires_at > $2")
            .bind(id)
            .bind(now.millis())
            .fetch_optional(&self.pool)
            .await?;
        Ok(data)
    }

    async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(())
    }

    async fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now.millis()).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }
    async fn create_notebook(
        &self,
        owner: UserId,
        lab: Option<&str>,
        notebook: &Notebook,
        now: Timestamp,
    ) -> Result<NotebookRecord, StoreError> {
        notebooks::create(&self.pool, owner, lab, notebook, now).await
    }

    async fn notebook(&self, id: NotebookId) -> Result<Option<NotebookRecord>, StoreError> {
        notebooks::get(&self.pool, id).await
    }

    async fn lab_notebook(&self, owner: UserId, lab: &str) -> Result<Option<NotebookRecord>, StoreError> {
        notebooks::for_lab(&self.pool, owner, lab).await
    }

    async fn notebooks(&self, owner: UserId) -> Result<Vec<NotebookSummary>, StoreError> {
        notebooks::list(&self.pool, owner).await
    }

    async fn team_notebooks(&self, team: TeamId) -> Result<Vec<NotebookSummary>, StoreError> {
        notebooks::of_team(&self.pool, team).await
    }

    async fn set_notebook_team(&self, id: NotebookId, team: Option<TeamId>) -> Result<bool, StoreError> {
        notebooks::set_team(&self.pool, id, team).await
    }

    async fn update_notebook(
        &self,
        id: NotebookId,
        revision: i64,
        notebook: &Notebook,
        now: Timestamp,
    ) -> Result<Option<NotebookRecord>, StoreError> {
        notebooks::save(&self.pool, id, Save::Edit { revision }, notebook, now).await
    }

    async fn replace_notebook(
        &self,
        id: NotebookId,
        notebook: &Notebook,
        now: Timestamp,
    ) -> Result<Option<NotebookRecord>, StoreError> {
        notebooks::save(&self.pool, id, Save::Replace, notebook, now).await
    }

    async fn set_cell_outputs(
        &self,
        id: NotebookId,
        cell: &CellId,
        execution_count: Option<u64>,
        outputs: &[serde_json::Value],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        notebooks::set_outputs(&self.pool, id, cell, execution_count, outputs, now).await
    }

    async fn delete_notebook(&self, id: NotebookId) -> Result<bool, StoreError> {
        notebooks::delete(&self.pool, id).await
    }

    async fn record_step(&self, user: UserId, lab: &str, step: &str, now: Timestamp) -> Result<bool, StoreError> {
        progress::record(&self.pool, user, lab, step, now).await
    }

    async fn progress(&self, user: UserId) -> Result<Vec<StepDone>, StoreError> {
        progress::list(&self.pool, user).await
    }

    async fn create_dataset(&self, record: &DatasetRecord, content: &str) -> Result<(), StoreError> {
        datasets::create(&self.pool, record, content).await
    }

    async fn dataset(&self, id: DatasetId) -> Result<Option<DatasetRecord>, StoreError> {
        datasets::get(&self.pool, id).await
    }

    async fn datasets(&self, owner: UserId) -> Result<Vec<DatasetRecord>, StoreError> {
        datasets::list(&self.pool, owner).await
    }

    async fn dataset_content(&self, id: DatasetId) -> Result<Option<String>, StoreError> {
        datasets::content(&self.pool, id).await
    }

    async fn delete_dataset(&self, id: DatasetId) -> Result<bool, StoreError> {
        datasets::delete(&self.pool, id).await
    }

    async fn create_workshop(&self, workshop: &Workshop) -> Result<(), StoreError> {
        workshops::create(&self.pool, workshop).await
    }

    async fn update_workshop(&self, workshop: &Workshop) -> Result<bool, StoreError> {
        workshops::update(&self.pool, workshop).await
    }

    async fn workshop(&self, id: WorkshopId) -> Result<Option<Workshop>, StoreError> {
        workshops::get(&self.pool, id).await
    }

    async fn workshop_by_code(&self, code: &JoinCode) -> Result<Option<Workshop>, StoreError> {
        workshops::by_code(&self.pool, code).await
    }

    async fn member_workshops(&self, user: UserId) -> Result<Vec<(Workshop, MemberRole)>, StoreError> {
        workshops::of_member(&self.pool, user).await
    }

    async fn all_workshops(&self) -> Result<Vec<Workshop>, StoreError> {
        workshops::all(&self.pool).await
    }

    async fn add_member(
        &self,
        workshop: WorkshopId,
        user: UserId,
        role: MemberRole,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        workshops::add_member(&self.pool, workshop, user, role, now).await
    }

    async fn members(&self, workshop: WorkshopId) -> Result<Vec<Member>, StoreError> {
        workshops::members(&self.pool, workshop).await
    }

    async fn member(&self, workshop: WorkshopId, user: UserId) -> Result<Option<Member>, StoreError> {
        workshops::get_member(&self.pool, workshop, user).await
    }

    async fn create_team(&self, team: &Team) -> Result<(), StoreError> {
        workshops::create_team(&self.pool, team).await
    }

    async fn teams(&self, workshop: WorkshopId) -> Result<Vec<Team>, StoreError> {
        workshops::teams(&self.pool, workshop).await
    }

    async fn team(&self, id: TeamId) -> Result<Option<Team>, StoreError> {
        workshops::team(&self.pool, id).await
    }

    async fn set_team(
        &self,
        workshop: WorkshopId,
        user: UserId,
        team: Option<TeamId>,
        limit: Option<u32>,
    ) -> Result<bool, StoreError> {
        workshops::set_team(&self.pool, workshop, user, team, limit).await
    }

    async fn create_submission(
        &self,
        submission: &Submission,
        content: &str,
        idempotency_key: Option<&str>,
    ) -> Result<(Submission, bool), StoreError> {
        workshops::create_submission(&self.pool, submission, content, idempotency_key).await
    }

    async fn submission_by_key(&self, team: TeamId, key: &str) -> Result<Option<Submission>, StoreError> {
        workshops::submission_by_key(&self.pool, team, key).await
    }

    async fn submissions(&self, workshop: WorkshopId) -> Result<Vec<Submission>, StoreError> {
        workshops::submissions(&self.pool, workshop).await
    }

    async fn submission(&self, id: SubmissionId) -> Result<Option<(Submission, String)>, StoreError> {
        workshops::get_submission(&self.pool, id).await
    }

    async fn count_submissions_since(
        &self,
        team: TeamId,
        kind: SubmissionKind,
        since: Timestamp,
    ) -> Result<u32, StoreError> {
        workshops::count_since(&self.pool, team, kind, since).await
    }

    async fn add_workshop_account(&self, workshop: WorkshopId, user: UserId, label: &str) -> Result<(), StoreError> {
        workshops::add_account(&self.pool, workshop, user, label).await
    }

    async fn workshop_accounts(&self, workshop: WorkshopId) -> Result<Vec<(String, UserId)>, StoreError> {
        workshops::accounts(&self.pool, workshop).await
    }

    async fn disable_ended_workshop_accounts(&self, now: Timestamp) -> Result<u64, StoreError> {
        workshops::disable_ended_accounts(&self.pool, now).await
    }

    async fn set_grade(&self, grade: &Grade) -> Result<(), StoreError> {
        workshops::set_grade(&self.pool, grade).await
    }

    async fn grades(&self, workshop: WorkshopId) -> Result<Vec<Grade>, StoreError> {
        workshops::grades(&self.pool, workshop).await
    }
}
