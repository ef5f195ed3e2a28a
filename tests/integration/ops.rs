//! Operations: health and readiness, metrics, security headers, and what a
//! person sees when the database fails (a fault double at the storage seam).

use std::sync::Arc;

use async_trait::async_trait;
use flywheel_domain::workshop::{Grade, JoinCode, Member, MemberRole, Submission, SubmissionKind, Team, Workshop};
use flywheel_domain::{
    ApiToken, ApiTokenId, CellId, DatasetId, DatasetRecord, NewUser, Notebook, NotebookId, NotebookRecord,
    NotebookSummary, StepDone, SubmissionId, TeamId, Timestamp, User, UserId, WorkshopId,
};
use flywheel_store::{Backend, Database, StoreError};
use flywheel_tests::{spawn_app, spawn_app_on};

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let get = |p: &str| client.get(format!("{}{p}", app.base)).send();
    assert_eq!(get("/healthz").await.unwrap().text().await.unwrap(), "ok");
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status(), 200);
    get("/login").await.unwrap();
    get("/login").await.unwrap();
    let metrics = get("/metrics").await.unwrap();
    assert!(metrics.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = metrics.text().await.unwrap();
    assert!(text.contains(r#"http_requests_total{method="GET",route="/login",status="200"} 2"#), "{text}");
    assert!(text.contains("http_request_duration_seconds_bucket"), "{text}");
}

#[tokio::test]
async fn pages_carry_security_headers_and_static_files_are_served() {
    let app = spawn_app().await;
    let r = reqwest::get(format!("{}/login", app.base)).await.unwrap();
    let h = r.headers();
    assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    let htmx = reqwest::get(format!("{}/static/vendor/htmx/htmx.min.js", app.base)).await.unwrap();
    assert_eq!(htmx.status(), 200);
    assert!(htmx.text().await.unwrap().contains("htmx"));
    let css = reqwest::get(format!("{}/static/app.css", app.base)).await.unwrap();
    assert_eq!(css.status(), 200);
}

/// A database that is down: every call fails.
struct DownDatabase;

fn down() -> StoreError {
    StoreError::Query(sqlx::Error::PoolTimedOut)
}

#[async_trait]
impl Database for DownDatabase {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }
    async fn ping(&self) -> Result<(), StoreError> {
        Err(down())
    }
    async fn create_user(&self, _: &NewUser, _: Timestamp) -> Result<User, StoreError> {
        Err(down())
    }
    async fn user(&self, _: UserId) -> Result<Option<User>, StoreError> {
        Err(down())
    }
    async fn user_credentials(&self, _: &str) -> Result<Option<(User, String)>, StoreError> {
        Err(down())
    }
    async fn users(&self) -> Result<Vec<User>, StoreError> {
        Err(down())
    }
    async fn create_api_token(&self, _: UserId, _: &str, _: &str, _: Timestamp) -> Result<ApiToken, StoreError> {
        Err(down())
    }
    async fn authenticate_api_token(&self, _: &str, _: Timestamp) -> Result<Option<User>, StoreError> {
        Err(down())
    }
    async fn api_tokens(&self, _: UserId) -> Result<Vec<ApiToken>, StoreError> {
        Err(down())
    }
    async fn revoke_api_token(&self, _: UserId, _: ApiTokenId, _: Timestamp) -> Result<bool, StoreError> {
        Err(down())
    }
    async fn create_session(&self, _: &str, _: &str, _: Timestamp) -> Result<bool, StoreError> {
        Err(down())
    }
    async fn save_session(&self, _: &str, _: &str, _: Timestamp) -> Result<(), StoreError> {
        Err(down())
    }
    async fn load_session(&self, _: &str, _: Timestamp) -> Result<Option<String>, StoreError> {
        Err(down())
    }
    async fn delete_session(&self, _: &str) -> Result<(), StoreError> {
        Err(down())
    }
    async fn delete_expired_sessions(&self, _: Timestamp) -> Result<u64, StoreError> {
        Err(down())
    }
    async fn create_notebook(
        &self,
        _: UserId,
        _: Option<&str>,
        _: &Notebook,
        _: Timestamp,
    ) -> Result<NotebookRecord, StoreError> {
        Err(down())
    }
    async fn notebook(&self, _: NotebookId) -> Result<Option<NotebookRecord>, StoreError> {
        Err(down())
    }
    async fn lab_notebook(&self, _: UserId, _: &str) -> Result<Option<NotebookRecord>, StoreError> {
        Err(down())
    }
    async fn notebooks(&self, _: UserId) -> Result<Vec<NotebookSummary>, StoreError> {
        Err(down())
    }
    async fn update_notebook(
        &self,
        _: NotebookId,
        _: i64,
        _: &Notebook,
        _: Timestamp,
    ) -> Result<Option<NotebookRecord>, StoreError> {
        Err(down())
    }
    async fn replace_notebook(
        &self,
        _: NotebookId,
        _: &Notebook,
        _: Timestamp,
    ) -> Result<Option<NotebookRecord>, StoreError> {
        Err(down())
    }
    async fn set_cell_outputs(
        &self,
        _: NotebookId,
        _: &CellId,
        _: Option<u64>,
        _: &[serde_json::Value],
        _: Timestamp,
    ) -> Result<(), StoreError> {
        Err(down())
    }
    async fn delete_notebook(&self, _: NotebookId) -> Result<bool, StoreError> {
        Err(down())
    }
    async fn record_step(&self, _: UserId, _: &str, _: &str, _: Timestamp) -> Result<bool, StoreError> {
        Err(down())
    }
    async fn progress(&self, _: UserId) -> Result<Vec<StepDone>, StoreError> {
        Err(down())
    }
    async fn create_dataset(&self, _: &DatasetRecord, _: &str) -> Result<(), StoreError> {
        Err(down())
    }
    async fn dataset(&self, _: DatasetId) -> Result<Option<DatasetRecord>, StoreError> {
        Err(down())
    }
    async fn datasets(&self, _: UserId) -> Result<Vec<DatasetRecord>, StoreError> {
        Err(down())
    }
    async fn dataset_content(&self, _: DatasetId) -> Result<Option<String>, StoreError> {
        Err(down())
    }
    async fn delete_dataset(&self, _: DatasetId) -> Result<bool, StoreError> {
        Err(down())
    }
    async fn create_workshop(&self, _: &Workshop) -> Result<(), StoreError> {
        Err(down())
    }
    async fn update_workshop(&self, _: &Workshop) -> Result<bool, StoreError> {
        Err(down())
    }
    async fn workshop(&self, _: WorkshopId) -> Result<Option<Workshop>, StoreError> {
        Err(down())
    }
    async fn workshop_by_code(&self, _: &JoinCode) -> Result<Option<Workshop>, StoreError> {
        Err(down())
    }
    async fn member_workshops(&self, _: UserId) -> Result<Vec<(Workshop, MemberRole)>, StoreError> {
        Err(down())
    }
    async fn all_workshops(&self) -> Result<Vec<Workshop>, StoreError> {
        Err(down())
    }
    async fn add_member(&self, _: WorkshopId, _: UserId, _: MemberRole, _: Timestamp) -> Result<bool, StoreError> {
        Err(down())
    }
    async fn members(&self, _: WorkshopId) -> Result<Vec<Member>, StoreError> {
        Err(down())
    }
    async fn member(&self, _: WorkshopId, _: UserId) -> Result<Option<Member>, StoreError> {
        Err(down())
    }
    async fn create_team(&self, _: &Team) -> Result<(), StoreError> {
        Err(down())
    }
    async fn teams(&self, _: WorkshopId) -> Result<Vec<Team>, StoreError> {
        Err(down())
    }
    async fn team(&self, _: TeamId) -> Result<Option<Team>, StoreError> {
        Err(down())
    }
    async fn team_notebooks(&self, _: TeamId) -> Result<Vec<NotebookSummary>, StoreError> {
        Err(down())
    }
    async fn set_notebook_team(&self, _: NotebookId, _: Option<TeamId>) -> Result<bool, StoreError> {
        Err(down())
    }
    async fn set_team(&self, _: WorkshopId, _: UserId, _: Option<TeamId>, _: Option<u32>) -> Result<bool, StoreError> {
        Err(down())
    }
    async fn create_submission(
        &self,
        _: &Submission,
        _: &str,
        _: Option<&str>,
    ) -> Result<(Submission, bool), StoreError> {
        Err(down())
    }
    async fn submission_by_key(&self, _: TeamId, _: &str) -> Result<Option<Submission>, StoreError> {
        Err(down())
    }
    async fn submissions(&self, _: WorkshopId) -> Result<Vec<Submission>, StoreError> {
        Err(down())
    }
    async fn submission(&self, _: SubmissionId) -> Result<Option<(Submission, String)>, StoreError> {
        Err(down())
    }
    async fn count_submissions_since(&self, _: TeamId, _: SubmissionKind, _: Timestamp) -> Result<u32, StoreError> {
        Err(down())
    }
    async fn add_workshop_account(&self, _: WorkshopId, _: UserId, _: &str) -> Result<(), StoreError> {
        Err(down())
    }
    async fn workshop_accounts(&self, _: WorkshopId) -> Result<Vec<(String, UserId)>, StoreError> {
        Err(down())
    }
    async fn disable_ended_workshop_accounts(&self, _: Timestamp) -> Result<u64, StoreError> {
        Err(down())
    }
    async fn set_grade(&self, _: &Grade) -> Result<(), StoreError> {
        Err(down())
    }
    async fn grades(&self, _: WorkshopId) -> Result<Vec<Grade>, StoreError> {
        Err(down())
    }
}

#[tokio::test]
async fn a_database_outage_is_reported_without_leaking_details() {
    let base = spawn_app_on(Arc::new(DownDatabase)).await;
    let get = |p: &str| reqwest::get(format!("{base}{p}"));
    assert_eq!(get("/healthz").await.unwrap().status(), 200, "the process is alive");
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status(), 503);
    let err: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(err["error"]["code"], "service_unavailable");

    let page = get("/login").await.unwrap();
    assert_eq!(page.status(), 500);
    let html = page.text().await.unwrap();
    assert!(html.contains("Something went wrong on our side"), "{html}");
    assert!(!html.contains("pool timed out"), "the cause is logged, not shown");

    let api = reqwest::Client::new()
        .post(format!("{base}/api/v1/tokens"))
        .json(&serde_json::json!({"email": "a@b.org", "password": "whatever1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 500);
    let err: serde_json::Value = api.json().await.unwrap();
    assert_eq!(err["error"]["code"], "internal_server_error");
}
