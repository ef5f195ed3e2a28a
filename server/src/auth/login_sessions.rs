//! Server-side web sessions: tower-sessions does the cookie and the
//! lifecycle; [`DbSessionStore`] keeps the records in Flywheel's database, so
//! sessions survive restarts and are shared by several web servers.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use flywheel_domain::Timestamp;
use flywheel_store::Database;
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::config::Config;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "flywheel_session";

/// Session keys.
pub mod keys {
    /// The logged-in user's id.
    pub const USER_ID: &str = "user_id";
    /// The CSRF synchronizer token.
    pub const CSRF: &str = "csrf";
}

/// tower-sessions' store on top of [`Database`].
#[derive(Clone)]
pub struct DbSessionStore {
    db: Arc<dyn Database>,
}

impl DbSessionStore {
    /// A store writing to `db`.
    pub fn new(db: Arc<dyn Database>) -> Self {
        Self { db }
    }
}

impl fmt::Debug for DbSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbSessionStore").field("backend", &self.db.backend()).finish()
    }
}

fn backend(e: impl fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn encode(record: &Record) -> session_store::Result<(String, Timestamp)> {
    let data = serde_json::to_string(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
    let expires = record.expiry_date.unix_timestamp_nanos() / 1_000_000;
    Ok((data, Timestamp(i64::try_from(expires).unwrap_or(i64::MAX))))
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let (data, expires) = encode(record)?;
            if self.db.create_session(&record.id.to_string(), &data, expires).await.map_err(backend)? {
                return Ok(());
            }
            record.id = Id::default(); // 128-bit collision: draw again
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (data, expires) = encode(record)?;
        self.db.save_session(&record.id.to_string(), &data, expires).await.map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let Some(data) = self.db.load_session(&id.to_string(), crate::now()).await.map_err(backend)? else {
            return Ok(None);
        };
        serde_json::from_str(&data).map(Some).map_err(|e| session_store::Error::Decode(e.to_string()))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.db.delete_session(&id.to_string()).await.map_err(backend)
    }
}

/// The session layer: HttpOnly, SameSite=Lax, Secure when `public_url` is
/// https, ending after `session_idle_hours` without a request.
pub fn layer(db: Arc<dyn Database>, config: &Config) -> SessionManagerLayer<DbSessionStore> {
    let idle = time::Duration::hours(i64::try_from(config.session_idle_hours).unwrap_or(i64::MAX / 3600));
    SessionManagerLayer::new(DbSessionStore::new(db))
        .with_name(COOKIE_NAME)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.secure_cookies())
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle))
}
