//! The storage suite: the `Database` trait's contract, on whichever backend
//! this run uses (SQLite, or PostgreSQL in CI).

use flywheel_domain::{DisplayName, Email, NewUser, Role, Timestamp};
use flywheel_store::{Backend, Database, StoreError};
use flywheel_tests::{backend_is_postgres, fresh_store};

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: Email::parse(email).unwrap(),
        name: DisplayName::parse("Ada").unwrap(),
        role: Role::Participant,
        password_hash: "$argon2id$stub".into(),
    }
}

#[tokio::test]
async fn runs_on_the_backend_asked_for() {
    let (db, _t) = fresh_store().await;
    let expected = if backend_is_postgres() { Backend::Postgres } else { Backend::Sqlite };
    assert_eq!(db.backend(), expected);
    db.ping().await.unwrap();
    db.migrate().await.expect("migrating twice is a no-op");
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode() {
    if backend_is_postgres() {
        return; // a PostgreSQL property does not apply
    }
    let (db, _t) = fresh_store().await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(db.pool()).await.unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn users_are_unique_by_email_ignoring_case() {
    let (db, _t) = fresh_store().await;
    let ada = db.create_user(&new_user("Ada@Example.org"), Timestamp(1000)).await.unwrap();
    let err = db.create_user(&new_user("ada@EXAMPLE.org"), Timestamp(2000)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(db.users().await.unwrap(), vec![ada.clone()], "the duplicate wrote nothing");

    let (found, hash) = db.user_credentials("ada@example.org").await.unwrap().expect("found by key");
    assert_eq!((found.id, found.email.as_str(), hash.as_str()), (ada.id, "Ada@Example.org", "$argon2id$stub"));
    assert!(db.user_credentials("Ada@Example.org").await.unwrap().is_none(), "lookup is by the lower-cased key");
    assert_eq!(db.user(ada.id).await.unwrap(), Some(ada));
}

#[tokio::test]
async fn api_tokens_authenticate_until_revoked_and_only_their_owner_revokes() {
    let (db, _t) = fresh_store().await;
    let ada = db.create_user(&new_user("ada@example.org"), Timestamp(1)).await.unwrap();
    let bob = db.create_user(&new_user("bob@example.org"), Timestamp(2)).await.unwrap();
    let token = db.create_api_token(ada.id, "laptop", "digest-1", Timestamp(10)).await.unwrap();
    let dup = db.create_api_token(bob.id, "x", "digest-1", Timestamp(11)).await.unwrap_err();
    assert!(matches!(dup, StoreError::Conflict(_)));

    let who = db.authenticate_api_token("digest-1", Timestamp(20)).await.unwrap();
    assert_eq!(who.map(|u| u.id), Some(ada.id));
    assert!(db.authenticate_api_token("digest-2", Timestamp(20)).await.unwrap().is_none());
    let listed = db.api_tokens(ada.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_used_at, Some(Timestamp(20)), "use is recorded");

    assert!(!db.revoke_api_token(bob.id, token.id, Timestamp(30)).await.unwrap(), "not bob's token");
    assert!(db.authenticate_api_token("digest-1", Timestamp(31)).await.unwrap().is_some());
    assert!(db.revoke_api_token(ada.id, token.id, Timestamp(32)).await.unwrap());
    assert!(!db.revoke_api_token(ada.id, token.id, Timestamp(33)).await.unwrap(), "already revoked");
    assert!(db.authenticate_api_token("digest-1", Timestamp(34)).await.unwrap().is_none());
    assert_eq!(db.api_tokens(ada.id).await.unwrap()[0].revoked_at, Some(Timestamp(32)));
    assert!(db.api_tokens(bob.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn sessions_expire_and_ids_do_not_collide() {
    let (db, _t) = fresh_store().await;
    assert!(db.create_session("s1", "{\"a\":1}", Timestamp(100)).await.unwrap());
    assert!(!db.create_session("s1", "{\"b\":2}", Timestamp(100)).await.unwrap(), "id taken");
    assert_eq!(db.load_session("s1", Timestamp(50)).await.unwrap().as_deref(), Some("{\"a\":1}"));
    db.save_session("s1", "{\"c\":3}", Timestamp(200)).await.unwrap();
    assert_eq!(db.load_session("s1", Timestamp(150)).await.unwrap().as_deref(), Some("{\"c\":3}"));
    assert_eq!(db.load_session("s1", Timestamp(200)).await.unwrap(), None, "expired at its expiry time");
    db.save_session("s2", "{}", Timestamp(500)).await.unwrap();
    assert_eq!(db.delete_expired_sessions(Timestamp(300)).await.unwrap(), 1);
    assert!(db.load_session("s2", Timestamp(300)).await.unwrap().is_some());
    db.delete_session("s2").await.unwrap();
    db.delete_session("never-existed").await.unwrap();
    assert!(db.load_session("s2", Timestamp(300)).await.unwrap().is_none());
}
