//! [`SqlDatabase`]: the [`Database`] traits on sqlx's `Any` driver, so one set
//! of queries serves SQLite and PostgreSQL. This file holds the pool, its
//! connection and migrations; each area's trait is implemented in its module.

use std::sync::Once;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

use crate::{Backend, Database, StoreError, redact_url};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A [`Database`] on a pool of SQLite or PostgreSQL connections.
#[derive(Debug, Clone)]
pub struct SqlDatabase {
    pub(crate) pool: AnyPool,
    backend: Backend,
}

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
}
