//! Login sessions, the server-side state behind the login cookie
//! (tower-sessions): [`LoginSessionStore`] on [`SqlDatabase`].

use async_trait::async_trait;
use flywheel_domain::Timestamp;

use crate::{LoginSessionStore, SqlDatabase, StoreError};

#[async_trait]
impl LoginSessionStore for SqlDatabase {
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
}
