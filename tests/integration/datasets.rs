//! "Your own data": CSV uploads into a participant's workspace — checked,
//! with bad rows reported by line, private to the uploader, readable from
//! their own kernel as `data/<name>` (also after a restart), and a project
//! notebook made from the template on one. (The template's cells are run
//! on the library in the labs suite.)

use std::path::PathBuf;
use std::time::Duration;

use flywheel_domain::Role;
use flywheel_tests::{PASSWORD as PW, TestApp, error_message, kernel_worker, spawn_app_with};
use reqwest::Method;
use serde_json::{Value, json};

const CHURN: &str = "customer,tenure,plan,churned\nc1,3,basic,yes\nc2,40,pro,no\nc3,12,basic,no\n";

async fn app() -> TestApp {
    spawn_app_with(|c| {
        c.labs_dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../labs"));
        c.max_dataset_bytes = 4096;
    })
    .await
}

#[tokio::test]
async fn an_upload_is_checked_typed_and_listed_for_its_owner_only() {
    let app = app().await;
    let ada = app.account("ada@example.org", Role::Participant).await;
    let bob = app.account("bob@example.org", Role::Participant).await;

    let (status, up) = app.api().upload_dataset(&ada, CHURN, "filename=My%20churn.csv").await;
    assert_eq!(status, 201, "{up}");
    let ds = &up["dataset"];
    assert_eq!((ds["name"].as_str(), ds["path"].as_str()), (Some("My-churn.csv"), Some("data/My-churn.csv")));
    assert_eq!((ds["rows"].as_u64(), up["bad_row_count"].as_u64()), (Some(3), Some(0)));
    let kinds: Vec<(&str, &str)> = ds["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("customer", "text"), ("tenure", "number"), ("plan", "text"), ("churned", "text")]);
    let id = ds["id"].as_str().unwrap().to_owned();

    let (status, list) = app.api().json(Method::GET, "/api/v1/datasets", None, &ada).await;
    assert_eq!((status, list.as_array().unwrap().len()), (200, 1));
    let (status, text) = app.api().get_text(&ada, &format!("/api/v1/datasets/{id}/csv")).await;
    assert_eq!((status.as_u16(), text.as_str()), (200, CHURN), "a clean file is stored as it was sent");

    // Bob sees none of it, and cannot reach it by id.
    let (status, list) = app.api().json(Method::GET, "/api/v1/datasets", None, &bob).await;
    assert_eq!((status, list), (200, json!([])));
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/datasets/{id}"), None),
        (Method::GET, format!("/api/v1/datasets/{id}/csv"), None),
        (
            Method::POST,
            format!("/api/v1/datasets/{id}/notebook"),
            Some(json!({"target": "churned", "task": "classification"})),
        ),
        (Method::DELETE, format!("/api/v1/datasets/{id}"), None),
    ] {
        let (status, body) = app.api().json(method.clone(), &path, body, &bob).await;
        assert_eq!(status, 404, "{method} {path} as another user: {body}");
    }
    let (status, _) = app.api().json(Method::GET, "/api/v1/datasets/not-an-id", None, &ada).await;
    assert_eq!(status, 404);

    // The same name again is a conflict; deleting frees it.
    let (status, again) = app.api().upload_dataset(&ada, CHURN, "filename=My%20churn.csv").await;
    assert_eq!(status, 409, "{again}");
    assert!(error_message(&again).contains("already have a dataset named My-churn.csv"), "{again}");
    let (status, _) = app.api().json(Method::DELETE, &format!("/api/v1/datasets/{id}"), None, &ada).await;
    assert_eq!(status, 204);
    let (status, _) = app.api().json(Method::GET, &format!("/api/v1/datasets/{id}"), None, &ada).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bad_files_are_refused_with_a_reason_and_nothing_is_stored() {
    let app = app().await;
    let ada = app.account("ada@example.org", Role::Participant).await;
    let broken = "a,b\n1,2\n3\n4,5\n6,7,8\n";
    for (bytes, query, status, says) in [
        (
            broken.as_bytes().to_vec(),
            "filename=b.csv",
            422,
            "2 of 4 rows cannot be read (line 3: 1 fields, the header has 2; line 5: 3 fields",
        ),
        (b"a,b\n1,\xff\n".to_vec(), "filename=b.csv", 422, "not UTF-8 text (line 2)"),
        (Vec::new(), "filename=b.csv", 422, "the file is empty"),
        (b"a,a\n1,2\n".to_vec(), "filename=b.csv", 422, "columns 1 and 2 are both named `a`"),
        (b"a,b\n1,2\n".to_vec(), "filename=b.xlsx", 422, "must be a CSV file name ending in .csv"),
        (vec![b'1'; 5000], "filename=big.csv", 413, "the largest dataset accepted is 4096 bytes"),
    ] {
        let (got, body) = app.api().upload_dataset(&ada, bytes, query).await;
        assert_eq!(got.as_u16(), status, "{query}: {body}");
        assert!(error_message(&body).contains(says), "{query}: {body}");
    }
    let (_, list) = app.api().json(Method::GET, "/api/v1/datasets", None, &ada).await;
    assert_eq!(list, json!([]), "nothing stored");

    // Asked to, the upload keeps the rows that read and lists the others.
    let (status, up) = app.api().upload_dataset(&ada, broken, "filename=b.csv&drop_bad_rows=true").await;
    assert_eq!(status, 201, "{up}");
    assert_eq!((up["dataset"]["rows"].as_u64(), up["bad_row_count"].as_u64()), (Some(2), Some(2)));
    assert_eq!(up["bad_rows"][1], json!({"line": 5, "message": "3 fields, the header has 2"}));
    let id = up["dataset"]["id"].as_str().unwrap();
    let (_, text) = app.api().get_text(&ada, &format!("/api/v1/datasets/{id}/csv")).await;
    assert_eq!(text, "a,b\n1,2\n4,5\n");
}

#[tokio::test]
async fn a_project_notebook_is_made_from_the_template_on_the_dataset() {
    let app = app().await;
    let ada = app.account("ada@example.org", Role::Participant).await;
    let (_, up) = app.api().upload_dataset(&ada, CHURN, "filename=churn.csv").await;
    let path = format!("/api/v1/datasets/{}/notebook", up["dataset"]["id"].as_str().unwrap());

    let (status, body) =
        app.api().json(Method::POST, &path, Some(json!({"target": "nope", "task": "classification"})), &ada).await;
    assert_eq!(status, 422);
    assert!(
        error_message(&body).contains("has no column \"nope\"; its columns are customer, tenure, plan, churned"),
        "{body}"
    );
    let (status, body) =
        app.api().json(Method::POST, &path, Some(json!({"target": "plan", "task": "regression"})), &ada).await;
    assert_eq!(status, 422);
    assert!(error_message(&body).contains("holds text: a regression predicts a number"), "{body}");

    let (status, nb) =
        app.api().json(Method::POST, &path, Some(json!({"target": "churned", "task": "classification"})), &ada).await;
    assert_eq!(status, 201, "{nb}");
    assert_eq!(nb["title"], "Project: churned from churn.csv");
    let sources: Vec<&str> = nb["cells"].as_array().unwrap().iter().map(|c| c["source"].as_str().unwrap()).collect();
    let all = sources.join("\n");
    assert!(all.contains("Table::read_csv(\"data/churn.csv\")") && all.contains("let target = \"churned\";"), "{all}");
    assert!(!all.contains("__TARGET__") && !all.contains("__DATASET__"), "every placeholder is filled");
    let (status, nb) =
        app.api().json(Method::POST, &path, Some(json!({"target": "tenure", "task": "regression"})), &ada).await;
    assert_eq!(status, 201, "{nb}");
    assert!(
        nb["cells"].as_array().unwrap().iter().any(|c| c["source"].as_str().unwrap().contains("regression(target)"))
    );
}

/// Runs `source` in a cell of a fresh notebook of the caller's; returns the execution.
fn stdout(e: &Value) -> String {
    e["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["name"] == "stdout")
        .filter_map(|o| o["text"].as_str())
        .collect()
}

#[tokio::test]
async fn the_owners_kernel_reads_the_upload_as_data_name_and_no_one_elses_does() {
    assert!(kernel_worker().is_file(), "build the worker first: cargo build -p flywheel-kernel");
    let app = app().await;
    let ada = app.account("ada@example.org", Role::Participant).await;
    let bob = app.account("bob@example.org", Role::Participant).await;
    app.kernels_ready(&ada, Duration::from_secs(300)).await;
    let (status, _) = app.api().upload_dataset(&ada, CHURN, "filename=churn.csv").await;
    assert_eq!(status, 201);
    let (_, nb) = app.api().json(Method::POST, "/api/v1/notebooks", Some(json!({})), &ada).await;
    let notebook = nb["id"].as_str().unwrap().to_owned();

    let read = r#"println!("{}", std::fs::read_to_string("data/churn.csv").map(|t| t.lines().count().to_string()).unwrap_or_else(|e| e.to_string()));"#;
    let e = app.run_cell(&ada, &notebook, read).await;
    assert_eq!(stdout(&e), "4\n", "a new session gets the upload: {e}");

    // An upload while the session is open reaches it too; a delete takes it away.
    let (status, second) = app.api().upload_dataset(&ada, "x\n1\n2\n", "filename=later.csv").await;
    assert_eq!(status, 201, "{second}");
    let later = r#"println!("{}", std::fs::read_to_string("data/later.csv").unwrap_or_else(|e| e.to_string()));"#;
    let e = app.run_cell(&ada, &notebook, later).await;
    assert_eq!(stdout(&e), "x\n1\n2\n\n", "{e}");
    let session = e["session"].as_str().map(str::to_owned);
    let (status, _) = app
        .api()
        .json(Method::DELETE, &format!("/api/v1/datasets/{}", second["dataset"]["id"].as_str().unwrap()), None, &ada)
        .await;
    assert_eq!(status, 204);
    let e = app.run_cell(&ada, &notebook, later).await;
    assert!(stdout(&e).contains("No such file"), "{e}");

    // A restarted kernel (a new worker, a new directory) still has the upload.
    let (_, nbody) = app.api().json(Method::GET, &format!("/api/v1/notebooks/{notebook}"), None, &ada).await;
    let sid = nbody["session"]["id"].as_str().map(str::to_owned).or(session).expect("the notebook's session");
    let (status, _) = app.api().json(Method::POST, &format!("/api/v1/sessions/{sid}/restart"), None, &ada).await;
    assert_eq!(status, 202);
    let e = app.run_cell(&ada, &notebook, read).await;
    assert_eq!(stdout(&e), "4\n", "after a restart: {e}");

    // Bob's kernel has no data of Ada's.
    let (_, nb) = app.api().json(Method::POST, "/api/v1/notebooks", Some(json!({})), &bob).await;
    let e = app.run_cell(&bob, nb["id"].as_str().unwrap(), read).await;
    assert!(stdout(&e).contains("No such file"), "{e}");
}

#[tokio::test]
async fn my_data_lists_uploads_starts_a_project_and_deletes() {
    let app = app().await;
    let ada = app.account("ada@example.org", Role::Participant).await;
    let browser = app.browser();
    browser.log_in("ada@example.org", PW).await;
    let page = browser.get("/data").await;
    assert_eq!(page.status, 200);
    assert!(page.text("#no-datasets").contains("You have no datasets yet"));
    assert_eq!(page.attr("form#upload", "data-endpoint").as_deref(), Some("/api/v1/datasets"));
    assert!(page.has("nav a[href='/data']"), "My data is in the navigation");

    let (_, up) = app.api().upload_dataset(&ada, CHURN, "filename=churn.csv").await;
    let id = up["dataset"]["id"].as_str().unwrap().to_owned();
    let page = browser.get("/data").await;
    let row = page.text(&format!("#dataset-{id}"));
    assert!(row.contains("churn.csv") && row.contains("data/churn.csv") && row.contains("3 4"), "{row}");
    let options = page.texts("select[name=target] option");
    assert_eq!(options, ["customer (text)", "tenure (number)", "plan (text)", "churned (text)"]);

    // Start a project: the browser lands on the new notebook.
    let project = format!("/data/{id}/project");
    let page = browser.submit("/data", &project, &[("target", "churned"), ("task", "classification")]).await;
    assert_eq!(page.status, 303);
    let to = page.headers["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with("/notebooks/"), "{to}");
    let page = browser.get(&to).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.text("title"), "Project: churned from churn.csv · Flywheel");
    let page = browser.submit("/data", &project, &[("target", "plan"), ("task", "regression")]).await;
    assert_eq!(page.status, 422);
    assert!(page.text("main").contains("holds text"), "{}", page.text("main"));

    // Another participant's page shows nothing of Ada's, and cannot act on it.
    app.create_user("bob@example.org", PW, Role::Participant).await;
    let bob = app.browser();
    bob.log_in("bob@example.org", PW).await;
    assert!(!bob.get("/data").await.has(&format!("#dataset-{id}")));
    let page = bob.submit("/data", &format!("/data/{id}/delete"), &[]).await;
    assert_eq!(page.status, 404);

    let page = browser.submit("/data", &format!("/data/{id}/delete"), &[]).await;
    assert_eq!((page.status.as_u16(), page.headers["location"].to_str().unwrap()), (303, "/data"));
    assert!(!browser.get("/data").await.has(&format!("#dataset-{id}")), "deleted");
}
