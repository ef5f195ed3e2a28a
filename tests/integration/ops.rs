//! Operations: health and readiness, metrics, security headers, and what a
//! person sees when the database fails (the store's fault double,
//! `flywheel_store::testing::Faulty`, at the storage seam).

use std::sync::Arc;

use flywheel_app::accounts::{SignUp, create_account};
use flywheel_domain::Role;
use flywheel_store::testing::{Area, Faulty};
use flywheel_tests::{PASSWORD, fresh_store, spawn_app, spawn_app_on};
use reqwest::Method;

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

#[tokio::test]
async fn a_database_outage_is_reported_without_leaking_details() {
    let base = spawn_app_on(Arc::new(Faulty::down())).await;
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

/// One area of the store failing takes down only what needs it: with the
/// workshop tables failing, a participant still gets a token and lists
/// their datasets and progress; the workshop list (and the notebook list,
/// which shows the notebooks shared with their teams) answer "something
/// went wrong" without the cause; both come back when the tables do.
#[tokio::test]
async fn a_failing_area_of_the_store_takes_down_only_what_needs_it() {
    let (store, _tdb) = fresh_store().await;
    let faulty = Arc::new(Faulty::over(Arc::new(store)));
    let sign_up = SignUp::parse("ada@example.org", "Ada", PASSWORD).unwrap();
    create_account(faulty.as_ref(), sign_up, Role::Participant).await.unwrap();
    let base = spawn_app_on(faulty.clone()).await;
    let api = flywheel_tests::Api::new(&base);
    let token = api.token("ada@example.org", PASSWORD).await;

    faulty.set_failing(Area::Workshops, true);
    assert_eq!(api.token("ada@example.org", PASSWORD).await.len(), token.len());
    for path in ["/api/v1/datasets", "/api/v1/progress"] {
        assert_eq!(api.json(Method::GET, path, None, &token).await.0, 200, "{path}");
    }
    for path in ["/api/v1/workshops", "/api/v1/notebooks"] {
        let (status, body) = api.json(Method::GET, path, None, &token).await;
        assert_eq!((status, body["error"]["code"].as_str()), (500, Some("internal_server_error")), "{path}: {body}");
        assert!(!body.to_string().contains("timed out"), "the cause is logged, not shown: {body}");
    }

    faulty.set_failing(Area::Workshops, false);
    assert_eq!(api.json(Method::GET, "/api/v1/workshops", None, &token).await, (200, serde_json::json!([])));
    assert_eq!(api.json(Method::GET, "/api/v1/notebooks", None, &token).await.0, 200);
}
