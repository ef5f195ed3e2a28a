//! The curriculum pages and lab progress: pages with their navigation and
//! the day's labs, progress recorded when a check cell passes on the real
//! kernel (and only then, and only in the lab's own copy), shown on the
//! pages and in the API.

use std::time::Duration;

use flywheel_domain::Role;
use flywheel_tests::{TestApp, eventually, kernel_worker, spawn_app};
use reqwest::Method;
use serde_json::Value;

const PW: &str = "correct horse battery";

async fn call(app: &TestApp, method: Method, path: &str, token: &str) -> (u16, Value) {
    let (status, _, json) = app.api().call(method, path, None, Some(token)).await;
    (status.as_u16(), json)
}

/// The caller's progress in lab `slug`, from `GET /api/v1/progress`.
async fn progress(app: &TestApp, token: &str, slug: &str) -> Value {
    let (status, all) = call(app, Method::GET, "/api/v1/progress", token).await;
    assert_eq!(status, 200, "{all}");
    all.as_array().unwrap().iter().find(|l| l["lab"] == slug).cloned().unwrap_or_else(|| panic!("no lab {slug}: {all}"))
}

/// Runs `cell` of notebook `path` and waits until its outputs are stored
/// and its run is over. The server records a passed step in the same task
/// that stores the outputs, before it marks the run over, so once this
/// returns the step is recorded — or, for a run that records none, never
/// will be.
async fn run_and_wait(app: &TestApp, token: &str, path: &str, cell: &str) -> Value {
    let (status, run) = call(app, Method::POST, &format!("{path}/cells/{cell}/run"), token).await;
    assert_eq!(status, 202, "{run}");
    eventually(&format!("cell {cell} of {path} is stored"), Duration::from_secs(300), || async {
        let (_, nb) = call(app, Method::GET, path, token).await;
        let c = nb["cells"].as_array().unwrap().iter().find(|c| c["id"] == cell).unwrap().clone();
        let stored = c["execution"].is_null() && c["outputs"].as_array().is_some_and(|o| !o.is_empty());
        if stored { Ok(c) } else { Err(c.to_string()) }
    })
    .await
}

#[tokio::test]
async fn a_passed_check_records_its_step_once_and_a_failed_one_does_not() {
    assert!(kernel_worker().is_file(), "build the worker first: cargo build -p flywheel-kernel");
    let app = spawn_app().await;
    app.create_user("ada@example.org", PW, Role::Participant).await;
    app.create_user("bob@example.org", PW, Role::Participant).await;
    let ada = app.api().token("ada@example.org", PW).await;
    let bob = app.api().token("bob@example.org", PW).await;

    let before = progress(&app, &ada, "progress-checks").await;
    assert_eq!((before["done"].as_u64(), before["total"].as_u64()), (Some(0), Some(2)), "{before}");
    let titles: Vec<&str> = before["steps"].as_array().unwrap().iter().map(|s| s["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["A step that passes", "A step that fails"]);
    let (_, labs) = call(&app, Method::GET, "/api/v1/labs", &ada).await;
    let lab = labs.as_array().unwrap().iter().find(|l| l["slug"] == "progress-checks").unwrap();
    assert_eq!(lab["target"], "both checks green");
    assert_eq!(lab["steps"].as_array().unwrap().len(), 2);

    app.kernels_ready(&ada, Duration::from_secs(300)).await;
    let (status, nb) = call(&app, Method::POST, "/api/v1/labs/progress-checks/notebook", &ada).await;
    assert_eq!(status, 201, "{nb}");
    let path = format!("/api/v1/notebooks/{}", nb["id"].as_str().unwrap());

    let failed = run_and_wait(&app, &ada, &path, "check-fail").await;
    assert!(failed["outputs"].to_string().contains("not yet"), "{failed}");
    let passed = run_and_wait(&app, &ada, &path, "check-pass").await;
    assert!(passed["outputs"].to_string().contains(r#"\"passed\": true"#), "{passed}");
    let after = progress(&app, &ada, "progress-checks").await;
    let done: Vec<(&str, bool)> =
        after["steps"].as_array().unwrap().iter().map(|s| (s["id"].as_str().unwrap(), s["done"] == true)).collect();
    assert_eq!(done, [("check-pass", true), ("check-fail", false)], "{after}");
    let first_pass = after["steps"][0]["passed_at"].as_i64().expect("a time");

    // Passing again keeps the first time; the failing step stays open.
    run_and_wait(&app, &ada, &path, "check-pass").await;
    run_and_wait(&app, &ada, &path, "check-fail").await;
    let again = progress(&app, &ada, "progress-checks").await;
    assert_eq!((again["done"].as_u64(), again["steps"][0]["passed_at"].as_i64()), (Some(1), Some(first_pass)));

    // Bob runs the same passing cell in a notebook that is not his copy of
    // the lab (an upload): that is not the lab's step, so nothing is recorded.
    let (_, md) = app.api().export_notebook(&ada, nb["id"].as_str().unwrap(), "md").await;
    let imported = app.api().import_notebook(&bob, md, "filename=copy.md").await;
    let upload_path = format!("/api/v1/notebooks/{}", imported["id"].as_str().unwrap());
    run_and_wait(&app, &bob, &upload_path, "check-pass").await;
    assert_eq!(progress(&app, &bob, "progress-checks").await["done"], 0, "an upload records no lab progress");
    assert_eq!(progress(&app, &ada, "progress-checks").await["done"], 1, "bob's run is not ada's progress");

    // The pages show the same.
    let browser = app.browser();
    browser.log_in("ada@example.org", PW).await;
    let page = browser.get("/progress").await;
    assert_eq!(page.status, 200);
    assert!(page.text(".lead").starts_with("1 of 2 lab steps done"), "{}", page.text(".lead"));
    assert!(page.has("tr.done[data-step=check-pass]") && page.has("tr.todo[data-step=check-fail]"));
    assert!(page.text("#next-step").contains("A step that fails"));
    let labs = browser.get("/labs").await;
    assert_eq!(labs.attr("[data-lab=progress-checks] p.progress", "data-done").as_deref(), Some("1"));
    assert!(labs.has("[data-lab=progress-checks] li.done[data-step=check-pass]"));
    let day = browser.get("/learn/day-2").await;
    assert!(day.has("[data-lab=progress-checks] li.done[data-step=check-pass]"), "day 2 lists its lab with progress");
    assert_eq!(day.text("[data-day-progress=day-2]"), "1/2");
}

#[tokio::test]
async fn curriculum_pages_have_their_navigation_links_and_the_days_labs() {
    let app = spawn_app().await;
    let anonymous = app.browser();
    let start = anonymous.get("/learn").await;
    assert_eq!(start.status, 200, "anyone may read the curriculum");
    assert_eq!(start.text("article h1"), "Start here");
    assert_eq!(start.texts("nav.curriculum a"), ["Start here", "Day 1", "Day 2"]);
    assert_eq!(start.attr("nav.curriculum a[aria-current=page]", "href").as_deref(), Some("/learn/index"));
    assert_eq!(start.attr(".prose a[href^='/learn/day-2']", "href").as_deref(), Some("/learn/day-2#steps"));
    assert_eq!(start.attr("a[rel=next]", "href").as_deref(), Some("/learn/day-1"));
    assert!(!start.has(".day-labs"), "no lab cards for someone not logged in");

    let day1 = anonymous.get("/learn/day-1").await;
    assert_eq!(day1.text("article h1"), "Day 1 — First steps");
    assert!(day1.has("h2#steps") && day1.has("h3[id='1-open-the-lab']"), "headings carry anchors");
    assert_eq!(day1.attr(".prose a[href^='/labs']", "href").as_deref(), Some("/labs#lab-first-steps"));

    app.create_user("ada@example.org", PW, Role::Participant).await;
    let browser = app.browser();
    browser.log_in("ada@example.org", PW).await;
    let day1 = browser.get("/learn/day-1").await;
    let labs: Vec<String> = day1.texts(".day-labs [data-lab] h3");
    assert_eq!(labs, ["First steps"], "day 1 lists day 1's labs only");
    let day2 = browser.get("/learn/day-2").await;
    assert_eq!(day2.texts(".day-labs [data-lab] h3"), ["Progress checks"]);
    assert_eq!(day2.text("[data-day-progress=day-2]"), "0/2");
    assert!(day2.has("[data-lab=progress-checks] li.todo[data-step=check-fail]"));

    let missing = browser.get("/learn/no-such-page").await;
    assert_eq!(missing.status, 404);
    assert!(missing.text("main").contains("no curriculum page `no-such-page`"));
    assert_eq!(anonymous.get("/progress").await.status, 303, "progress needs an account");
}
