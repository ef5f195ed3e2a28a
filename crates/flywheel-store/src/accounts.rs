//! Accounts and API tokens: [`AccountStore`] on [`SqlDatabase`] (see the
//! `users` and `api_tokens` migrations).

use std::str::FromStr;

use async_trait::async_trait;
use flywheel_domain::{ApiToken, ApiTokenId, DisplayName, Email, NewUser, Role, Timestamp, User, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::sql::conflict_on;
use crate::{AccountStore, SqlDatabase, StoreError, corrupt};

const USER_COLUMNS: &str = "id, email, name, role, created_at, disabled_at";

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

pub(crate) fn token_from_row(row: &AnyRow) -> Result<ApiToken, StoreError> {
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

#[async_trait]
impl AccountStore for SqlDatabase {
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
        // A read, and a write only when the recorded use is a minute old:
        // every API call authenticates, and on SQLite a write per call
        // queues behind the other writers (an endpoint's captures).
        let row =
            sqlx::query("SELECT user_id, last_used_at FROM api_tokens WHERE token_digest = $1 AND revoked_at IS NULL")
                .bind(digest)
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else { return Ok(None) };
        let owner: String = row.try_get("user_id")?;
        let last: Option<i64> = row.try_get("last_used_at")?;
        if last.is_none_or(|t| now.millis() - t >= crate::USE_RECORDED_EVERY_MILLIS) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE token_digest = $2")
                .bind(now.millis())
                .bind(digest)
                .execute(&self.pool)
                .await?;
        }
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
}
