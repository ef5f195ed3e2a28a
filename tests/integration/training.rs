//! The shared training pool through the API, on real local workers (each
//! job a real `flywheel train-job` process of this build): a job queues,
//! runs with a per-round curve and leaves a model that loads; bad requests
//! name what is valid; another participant's job is 404 everywhere; cancel
//! stops a running job; a killed training process is retried, and goes on
//! from its last checkpoint; limits and
//! quotas say why; the page shows it all.

use std::time::Duration;

use flywheel_domain::{JobState, Role, Timestamp, TrainingJob, TrainingJobId};
use flywheel_store::{AccountStore, TrainingStore};
use flywheel_tests::{Api, PASSWORD, TestApp, TwoTeams, error_message, eventually, flywheel_program, spawn_app_with};
use reqwest::Method;
use serde_json::{Value, json};

async fn pool(workers: usize) -> TestApp {
    spawn_app_with(|c| c.training_local_workers = workers).await
}

/// A small boosted-trees job on the German credit data (1,000 rows).
fn small_job(rounds: u32) -> Value {
    json!({
        "algorithm": "gradient_boosted_trees",
        "hyperparameters": {"iterations": rounds, "max_depth": 3},
        "data": {"train": "builtin:german_credit", "validation": "builtin:german_credit", "target": "creditability"},
    })
}

/// A job that runs for minutes in a debug build (the full fraud data).
fn long_job() -> Value {
    json!({
        "algorithm": "gradient_boosted_trees",
        "hyperparameters": {"iterations": 2000},
        "data": {"train": "builtin:credit_card_fraud", "target": "Class"},
    })
}

async fn submit(api: &Api, token: &str, body: Value) -> String {
    let (status, job) = api.json(Method::POST, "/api/v1/training-jobs", Some(body), token).await;
    assert_eq!(status, 201, "{job}");
    job["id"].as_str().unwrap().to_owned()
}

async fn job(api: &Api, token: &str, id: &str) -> Value {
    let (status, job) = api.json(Method::GET, &format!("/api/v1/training-jobs/{id}"), None, token).await;
    assert_eq!(status, 200, "{job}");
    job
}

async fn wait_for_state(api: &Api, token: &str, id: &str, state: &str, limit: Duration) -> Value {
    eventually(&format!("job {id} is {state}"), limit, || async {
        let j = job(api, token, id).await;
        if j["state"] == state { Ok(j) } else { Err(j.to_string()) }
    })
    .await
}

#[tokio::test]
async fn a_job_queues_runs_with_a_curve_and_leaves_a_model_that_loads() {
    let app = pool(1).await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;

    let (status, queued) = api.json(Method::POST, "/api/v1/training-jobs", Some(small_job(15)), &ada).await;
    assert_eq!(status, 201, "{queued}");
    assert!(queued["state"] == "pending" || queued["state"] == "running", "{queued}");
    let id = queued["id"].as_str().unwrap().to_owned();
    if queued["state"] == "pending" {
        assert_eq!(queued["position"], 1, "{queued}");
        assert!(queued["reason"].is_string(), "a pending job says why: {queued}");
    }

    let done = wait_for_state(&api, &ada, &id, "completed", Duration::from_secs(120)).await;
    let curve = done["metrics"]["validation_log_loss"].as_array().expect("a per-round validation curve");
    assert_eq!(curve.len(), 15, "one value per round: {done}");
    assert!(curve[14].as_f64() < curve[0].as_f64(), "the loss falls: {curve:?}");
    assert_eq!(done["progress"], json!([15, 15]));
    let auc = done["final_metrics"]["validation_roc_auc"].as_f64().expect("validation_roc_auc");
    assert!(auc > 0.75, "{done}");
    assert_eq!(done["rows"], 1000);
    assert_eq!(done["attempts"], 1, "{done}");
    assert_eq!(done["artifacts"][0]["name"], "model.json");
    assert_eq!(done["artifacts"][0]["kind"], "GradientBoostedTreesModel");

    let (status, model) = api.get_text(&ada, done["artifacts"][0]["url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    let model = flywheel_ml::GradientBoostedTreesModel::from_json(&model).expect("the artifact is a saved model");
    assert_eq!(model.feature_names().len(), 61, "German credit's numeric columns and its text columns one-hot encoded");

    let (status, list) = api.json(Method::GET, "/api/v1/training-jobs", None, &ada).await;
    assert_eq!((status, list.as_array().unwrap().len()), (200, 1));
    assert_eq!(list[0]["id"], id.as_str());

    // The event stream replays the run and ends with its final state.
    let (status, stream) = api.get_text(&ada, &format!("/api/v1/training-jobs/{id}/events")).await;
    assert_eq!(status, 200);
    assert_eq!(stream.matches("event: metrics").count(), 15, "{stream}");
    assert!(stream.contains(r#"data: {"state":"completed"}"#), "{stream}");

    let (status, pool) = api.json(Method::GET, "/api/v1/pool", None, &ada).await;
    assert_eq!(status, 200, "{pool}");
    assert_eq!(pool["workers"].as_array().unwrap().len(), 1);
    assert_eq!((pool["queue_length"].as_u64(), pool["running"].as_u64()), (Some(0), Some(0)));
    assert_eq!(pool["usage"][0]["jobs"], 1);
}

#[tokio::test]
async fn another_participants_job_is_not_found_anywhere() {
    let app = pool(0).await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;
    let bob = app.account("bob@example.org", Role::Participant).await;
    let id = submit(&api, &ada, small_job(5)).await;
    for (method, path) in [
        (Method::GET, format!("/api/v1/training-jobs/{id}")),
        (Method::POST, format!("/api/v1/training-jobs/{id}/cancel")),
        (Method::GET, format!("/api/v1/training-jobs/{id}/events")),
        (Method::GET, format!("/api/v1/training-jobs/{id}/artifacts/model.json")),
        (Method::POST, format!("/api/v1/training-jobs/{id}/priority")),
        (Method::GET, "/api/v1/training-jobs/not-an-id".to_owned()),
    ] {
        let body = (method == Method::POST).then(|| json!({"priority": 5}));
        let (status, err) = api.json(method.clone(), &path, body, &bob).await;
        assert_eq!(status, 404, "{method} {path}: {err}");
    }
    let (_, list) = api.json(Method::GET, "/api/v1/training-jobs", None, &bob).await;
    assert_eq!(list, json!([]));
    assert_eq!(job(&api, &ada, &id).await["state"], "pending", "still queued: no worker");
}

#[tokio::test]
async fn bad_requests_name_what_is_valid_and_queue_nothing() {
    let app = pool(0).await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;
    let with = |f: &dyn Fn(&mut Value)| {
        let mut body = small_job(5);
        f(&mut body);
        body
    };
    let cases: Vec<(Value, u16, Vec<&str>)> = vec![
        (with(&|b| b["algorithm"] = json!("xgboost")), 422, vec!["gradient_boosted_trees", "linear_learner"]),
        (with(&|b| b["hyperparameters"]["depth"] = json!(3)), 422, vec!["depth", "max_depth", "learning_rate"]),
        (with(&|b| b["hyperparameters"]["learning_rate"] = json!(7)), 422, vec!["learning_rate"]),
        (with(&|b| b["hyperparameters"]["iterations"] = json!("many")), 422, vec!["iterations"]),
        (with(&|b| b["data"]["target"] = json!("Class")), 422, vec!["Class", "creditability", "duration_in_month"]),
        (with(&|b| b["data"]["train"] = json!("builtin:mnist")), 404, vec!["german_credit", "credit_card_fraud"]),
        (with(&|b| b["data"]["train"] = json!("dataset:secret.csv")), 404, vec!["secret.csv"]),
        (with(&|b| b["data"]["train"] = json!("s3://bucket/x.csv")), 422, vec!["builtin:<name>"]),
        (with(&|b| b["gpu"] = json!(1)), 422, vec![]),
    ];
    for (body, want, words) in cases {
        let (status, err) = api.json(Method::POST, "/api/v1/training-jobs", Some(body.clone()), &ada).await;
        assert_eq!(status, want, "{body}: {err}");
        let message = error_message(&err);
        for w in words {
            assert!(message.contains(w), "{body}: the message should name {w:?}: {message}");
        }
    }
    let (_, list) = api.json(Method::GET, "/api/v1/training-jobs", None, &ada).await;
    assert_eq!(list, json!([]), "nothing was queued");
}

#[tokio::test]
async fn cancel_stops_a_running_job_and_a_killed_process_is_retried() {
    let app = pool(1).await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;

    let id = submit(&api, &ada, long_job()).await;
    wait_for_state(&api, &ada, &id, "running", Duration::from_secs(60)).await;
    // kill -9 of the training process: the worker sees it die and queues the job again.
    let pid = training_process(&id).await;
    assert!(std::process::Command::new("kill").args(["-9", &pid]).status().unwrap().success());
    let again = eventually("a second attempt", Duration::from_secs(60), || async {
        let j = job(&api, &ada, &id).await;
        if j["attempts"] == 2 && j["state"] == "running" { Ok(j) } else { Err(j.to_string()) }
    })
    .await;
    assert_eq!(again["error"], Value::Null, "{again}");

    let (status, cancelled) = api.json(Method::POST, &format!("/api/v1/training-jobs/{id}/cancel"), None, &ada).await;
    assert_eq!((status, cancelled["state"].as_str()), (200, Some("cancelled")), "{cancelled}");
    let started = std::time::Instant::now();
    eventually("the worker is free", Duration::from_secs(10), || async {
        let (_, pool) = api.json(Method::GET, "/api/v1/pool", None, &ada).await;
        if pool["workers"][0]["job"].is_null() { Ok(()) } else { Err(pool.to_string()) }
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(2), "stopped in {:?}", started.elapsed());
    assert_eq!(job(&api, &ada, &id).await["state"], "cancelled", "it stays cancelled");
    let (status, err) = api.json(Method::POST, &format!("/api/v1/training-jobs/{id}/cancel"), None, &ada).await;
    assert_eq!(status, 409, "{err}");
}

/// Finds the `flywheel train-job` process of job `id`.
async fn training_process(id: &str) -> String {
    eventually("the training process", Duration::from_secs(30), || async {
        let out = std::process::Command::new("pgrep").args(["-f", &format!("train-job .*{id}")]).output();
        let out = out.map_err(|e| e.to_string())?;
        String::from_utf8_lossy(&out.stdout).lines().next().map(str::to_owned).ok_or_else(|| "none yet".to_owned())
    })
    .await
}

#[tokio::test]
async fn a_killed_job_goes_on_from_its_checkpoint_to_the_uninterrupted_model() {
    let app = pool(1).await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;
    // k-means checkpoints after each batch of runs; 300 runs take seconds here.
    let spec = json!({"algorithm": "kmeans", "hyperparameters": {"k": 8, "runs": 300, "seed": 3}});
    let body = json!({"algorithm": spec["algorithm"], "hyperparameters": spec["hyperparameters"],
                      "data": {"train": "builtin:german_credit"}});
    let id = submit(&api, &ada, body).await;
    let saved = eventually("a stored checkpoint", Duration::from_secs(60), || async {
        let j = job(&api, &ada, &id).await;
        let names: Vec<&str> =
            j["artifacts"].as_array().into_iter().flatten().filter_map(|a| a["name"].as_str()).collect();
        if names.contains(&"checkpoint.json") { Ok(j) } else { Err(j.to_string()) }
    })
    .await;
    assert_eq!(saved["state"], "running", "{saved}");
    let pid = training_process(&id).await;
    assert!(std::process::Command::new("kill").args(["-9", &pid]).status().unwrap().success());

    let done = wait_for_state(&api, &ada, &id, "completed", Duration::from_secs(180)).await;
    assert_eq!(done["attempts"], 2, "{done}");
    let log: Vec<&str> = done["log"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let resumed = log.iter().find_map(|l| l.strip_prefix("resuming from the checkpoint after run "));
    let from: u64 = resumed
        .and_then(|r| r.strip_suffix(" of 300"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the second attempt starts from the checkpoint: {log:?}"));
    assert!((1..300).contains(&from), "{from}");
    // One value per batch of runs, each once: the second attempt's replace none of the first's.
    let curve = done["metrics"]["best_inertia"].as_array().unwrap();
    assert_eq!(done["progress"], json!([300, 300]), "{done}");
    assert!(curve.len() < 300 && curve.windows(2).all(|w| w[1].as_f64() <= w[0].as_f64()), "{curve:?}");

    // The same model as training without a stop, here in the test.
    let spec: flywheel_ml::training::TrainingSpec = serde_json::from_value(spec).unwrap();
    let whole =
        flywheel_ml::training::train(&spec, &flywheel_ml::datasets::german_credit(), None, None, &mut |_| {}).unwrap();
    let (status, model) = api.get_text(&ada, &format!("/api/v1/training-jobs/{id}/artifacts/model.json")).await;
    assert_eq!(status, 200);
    assert_eq!(model, whole.model_json);
    assert_eq!(done["final_metrics"]["train_inertia"].as_f64(), Some(whole.final_metrics["train_inertia"]));
}

#[tokio::test]
async fn after_a_server_restart_no_job_is_lost_or_left_running() {
    let mut app = spawn_app_with(|c| {
        c.training_local_workers = 1;
        c.training_heartbeat_timeout_secs = 3;
    })
    .await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;
    let body = json!({"algorithm": "kmeans", "hyperparameters": {"k": 8, "runs": 300}, "data": {"train": "builtin:german_credit"}});
    let running = submit(&api, &ada, body).await;
    let waiting = submit(&api, &ada, small_job(5)).await;
    eventually("a stored checkpoint", Duration::from_secs(60), || async {
        let j = job(&api, &ada, &running).await;
        let names: Vec<&str> =
            j["artifacts"].as_array().into_iter().flatten().filter_map(|a| a["name"].as_str()).collect();
        if names.contains(&"checkpoint.json") { Ok(()) } else { Err(j.to_string()) }
    })
    .await;

    app.stop().await;
    let id: TrainingJobId = running.parse().unwrap();
    let stored = app.db.training_job(id).await.unwrap().unwrap();
    assert_eq!(stored.state, JobState::Running, "no one has said otherwise yet");
    // The server sent SIGKILL before it returned; the process is gone once
    // the kernel has run it to its end (a moment, longer on a loaded machine).
    eventually("the training process ended with its server", Duration::from_secs(15), || async {
        let left = tokio::process::Command::new("pgrep")
            .args(["-f", &format!("train-job .*{running}")])
            .output()
            .await
            .unwrap();
        if left.stdout.is_empty() { Ok(()) } else { Err(String::from_utf8_lossy(&left.stdout).into_owned()) }
    })
    .await;

    app.start_again().await;
    let api = app.api();
    let done = wait_for_state(&api, &ada, &running, "completed", Duration::from_secs(120)).await;
    assert_eq!(done["attempts"], 2, "{done}");
    let log = done["log"].to_string();
    assert!(log.contains("resuming from the checkpoint after run "), "{log}");
    wait_for_state(&api, &ada, &waiting, "completed", Duration::from_secs(120)).await;
    let (_, list) = api.json(Method::GET, "/api/v1/training-jobs", None, &ada).await;
    assert!(list.as_array().unwrap().iter().all(|j| j["state"] == "completed"), "{list}");
}

/// `flywheel worker` of this build, joining `app`'s pool as `name`.
/// `flywheel worker` against `app` as `name`, its log in `work_dir/<name>.log`.
fn remote_worker(app: &TestApp, name: &str, token: &str, work_dir: &std::path::Path) -> tokio::process::Child {
    let log = std::fs::File::create(work_dir.join(format!("{name}.log"))).expect("a worker log");
    tokio::process::Command::new(flywheel_program())
        .args(["worker", "--server", &app.base, "--token", token, "--name", name, "--work-dir"])
        .arg(work_dir)
        .current_dir(work_dir)
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("flywheel worker")
}

#[tokio::test]
async fn a_worker_on_another_machine_joins_with_the_token_and_its_lost_job_resumes_elsewhere() {
    let app = spawn_app_with(|c| {
        c.training_worker_token = "s3cret-token".into();
        c.training_heartbeat_timeout_secs = 3;
    })
    .await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;
    let work = tempfile::tempdir().unwrap();

    // A wrong token: the worker says why and exits.
    let wrong =
        tokio::time::timeout(Duration::from_secs(30), remote_worker(&app, "intruder", "guess", work.path()).wait())
            .await
            .expect("a refused worker exits")
            .unwrap();
    assert!(!wrong.success());
    let said = std::fs::read_to_string(work.path().join("intruder.log")).unwrap();
    assert!(said.contains("401") && said.contains("worker token"), "{said}");

    let mut first = remote_worker(&app, "remote-1", "s3cret-token", work.path());
    let small = submit(&api, &ada, small_job(5)).await;
    let done = wait_for_state(&api, &ada, &small, "completed", Duration::from_secs(120)).await;
    assert_eq!(done["worker"], "remote-1", "{done}");
    assert_eq!(done["metrics"]["validation_log_loss"].as_array().map(Vec::len), Some(5), "{done}");
    let (_, model) = api.get_text(&ada, &format!("/api/v1/training-jobs/{small}/artifacts/model.json")).await;
    assert!(flywheel_ml::GradientBoostedTreesModel::from_json(&model).is_ok());
    let (_, pool) = api.json(Method::GET, "/api/v1/pool", None, &ada).await;
    let listed = pool["workers"].as_array().unwrap().iter().find(|w| w["name"] == "remote-1").cloned();
    assert!(listed.is_some_and(|w| w["cpus"].as_u64() > Some(0)), "{pool}");

    // The machine dies mid-job: the job waits out the heartbeat, then
    // another worker takes it and goes on from its checkpoint.
    let body = json!({"algorithm": "kmeans", "hyperparameters": {"k": 8, "runs": 900}, "data": {"train": "builtin:german_credit"}});
    let long = submit(&api, &ada, body).await;
    eventually("a stored checkpoint", Duration::from_secs(60), || async {
        let j = job(&api, &ada, &long).await;
        let names: Vec<&str> =
            j["artifacts"].as_array().into_iter().flatten().filter_map(|a| a["name"].as_str()).collect();
        if names.contains(&"checkpoint.json") { Ok(()) } else { Err(j.to_string()) }
    })
    .await;
    let process = training_process(&long).await;
    first.kill().await.unwrap();
    // Its training process does not train on as an orphan.
    // (It has far more than 3 s of training left.)
    eventually("the orphaned training process to stop", Duration::from_secs(3), || async {
        // Gone, or a zombie waiting for whoever adopted it to reap it.
        let state = std::fs::read_to_string(format!("/proc/{process}/stat")).unwrap_or_default();
        let running = state.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z'));
        if running { Err(format!("process {process} still runs: {state}")) } else { Ok(()) }
    })
    .await;
    let mut second = remote_worker(&app, "remote-2", "s3cret-token", work.path());
    // 300 s, not 120: in CI this suite shares 2 cores with the kernel and
    // labs suites (which compile the library, candle included, into their
    // kernel template); there the resumed job had done 718 of its 900 runs
    // when 120 s ran out.
    let done = wait_for_state(&api, &ada, &long, "completed", Duration::from_secs(300)).await;
    second.kill().await.unwrap();
    assert_eq!((done["worker"].as_str(), done["attempts"].as_u64()), (Some("remote-2"), Some(2)), "{done}");
    assert!(done["log"].to_string().contains("resuming from the checkpoint after run "), "{done}");
}

#[tokio::test]
async fn a_participant_over_their_running_limit_waits_with_slurms_reason() {
    let app = spawn_app_with(|c| {
        c.training_local_workers = 2;
        c.training_max_running_per_user = 1;
    })
    .await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;
    let first = submit(&api, &ada, long_job()).await;
    wait_for_state(&api, &ada, &first, "running", Duration::from_secs(60)).await;
    let second = submit(&api, &ada, small_job(5)).await;
    let waiting = job(&api, &ada, &second).await;
    assert_eq!(
        (waiting["state"].as_str(), waiting["reason"].as_str(), waiting["position"].as_u64()),
        (Some("pending"), Some("QOSMaxJobsPerUserLimit"), Some(1)),
        "{waiting}"
    );
    // Once the first ends, the second runs.
    api.json(Method::POST, &format!("/api/v1/training-jobs/{first}/cancel"), None, &ada).await;
    wait_for_state(&api, &ada, &second, "completed", Duration::from_secs(120)).await;
}

/// A completed job of `owner` that ran `secs` seconds today (as history for fair share and quotas).
fn finished_today(
    owner: flywheel_domain::UserId,
    team: Option<flywheel_domain::TeamId>,
    workshop: Option<flywheel_domain::WorkshopId>,
    secs: i64,
) -> TrainingJob {
    let now = flywheel_app::now().millis();
    let started = (now - secs * 1000).max(now - now.rem_euclid(86_400_000));
    TrainingJob {
        id: TrainingJobId(uuid::Uuid::new_v4()),
        owner,
        workshop,
        team,
        algorithm: "gradient_boosted_trees".into(),
        spec: small_job(5),
        gpus: 0,
        priority: 0,
        state: JobState::Completed,
        attempts: 1,
        worker: Some("elsewhere".into()),
        error: None,
        final_metrics: serde_json::Map::new(),
        rows: Some(1000),
        created_at: Timestamp(started),
        started_at: Some(Timestamp(started)),
        finished_at: Some(Timestamp(started + secs * 1000)),
        heartbeat_at: None,
    }
}

#[tokio::test]
async fn a_spent_quota_is_429_with_when_it_refills() {
    let app = spawn_app_with(|c| c.training_quota_minutes_per_day = 1).await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;
    let me = app.create_user("ada2@example.org", PASSWORD, Role::Participant).await;
    let ada2 = api.token("ada2@example.org", PASSWORD).await;
    // Two minutes of training today, as the store records a finished job.
    let done = finished_today(me.id, None, None, 120);
    app.db.create_training_job(&done).await.unwrap();

    let (status, headers, err) = api.call(Method::POST, "/api/v1/training-jobs", Some(small_job(5)), Some(&ada2)).await;
    assert_eq!(status, 429, "{err}");
    assert!(error_message(&err).contains("1 worker-minutes"), "{err}");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 86_400, "{retry}");
    // Another participant's quota is their own.
    submit(&api, &ada, small_job(5)).await;
}

#[tokio::test]
async fn the_training_page_submits_and_lists_a_job_with_its_curve() {
    let app = pool(1).await;
    let browser = app.browser();
    app.create_user("ada@example.org", PASSWORD, Role::Participant).await;
    browser.log_in("ada@example.org", PASSWORD).await;
    let page = browser.get("/training").await;
    assert!(page.has("form#submit-job"), "{}", page.html.html());
    assert!(page.has("#no-jobs"));
    let done = browser
        .submit(
            "/training",
            "/training",
            &[
                ("algorithm", "gradient_boosted_trees"),
                ("train", "builtin:german_credit"),
                ("validation", "builtin:german_credit"),
                ("target", "creditability"),
                ("hyperparameters", "iterations = 8\nmax_depth = 3"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.html.html());
    let page = eventually("the job completes on the page", Duration::from_secs(120), || async {
        let page = browser.get("/training").await;
        if page.has("tr.job.completed") { Ok(page) } else { Err(page.texts("tr.job").join(" | ")) }
    })
    .await;
    assert!(page.has("figure.curve svg"), "a metric curve: {}", page.html.html());
    assert!(
        page.text("code.snippet").contains("GradientBoostedTreesModel::load(\"data/model-"),
        "{}",
        page.html.html()
    );
    let refused =
        browser.submit("/training", "/training", &[("algorithm", "xgboost"), ("train", "builtin:german_credit")]).await;
    assert_eq!(refused.status, 422);
    assert!(refused.text("#training-error").contains("gradient_boosted_trees"), "{}", refused.html.html());
}

/// The Slurm backend on a real one-node cluster (`tests/slurm.sh`, started by
/// `bash tests/run.sh`): a job goes through `sbatch`, streams its rounds from
/// the batch job's output, completes with its model; a cancel is `scancel`.
#[tokio::test]
async fn on_slurm_a_job_runs_through_sbatch_and_cancel_is_scancel() {
    if std::env::var_os("FLYWHEEL_TEST_SLURM").is_none() {
        println!("Slurm test skipped: no cluster (bash tests/run.sh starts one with tests/slurm.sh)");
        return;
    }
    let app = spawn_app_with(|c| c.training_backend = flywheel::config::TrainingBackend::Slurm).await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;

    let id = submit(&api, &ada, small_job(12)).await;
    let done = wait_for_state(&api, &ada, &id, "completed", Duration::from_secs(120)).await;
    let log = done["log"].to_string();
    let slurm_id: String = log
        .split("handed to Slurm as job ")
        .nth(1)
        .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect())
        .unwrap_or_else(|| panic!("the log names the Slurm job: {log}"));
    assert!(!slurm_id.is_empty(), "{log}");
    assert_eq!(done["metrics"]["validation_log_loss"].as_array().map(Vec::len), Some(12), "{done}");
    assert_eq!(done["artifacts"][0]["kind"], "GradientBoostedTreesModel");
    let scontrol = |id: &str| {
        let out = std::process::Command::new("scontrol").args(["show", "job", "-o", id]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(scontrol(&slurm_id).contains("JobState=COMPLETED"), "{}", scontrol(&slurm_id));

    let long = submit(&api, &ada, long_job()).await;
    let running = eventually("Slurm runs the long job", Duration::from_secs(60), || async {
        let j = job(&api, &ada, &long).await;
        if j["log"].to_string().contains("Slurm: RUNNING") { Ok(j) } else { Err(j.to_string()) }
    })
    .await;
    let log = running["log"].to_string();
    let long_slurm: String = log
        .split("handed to Slurm as job ")
        .nth(1)
        .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect())
        .unwrap_or_default();
    let (status, cancelled) = api.json(Method::POST, &format!("/api/v1/training-jobs/{long}/cancel"), None, &ada).await;
    assert_eq!((status, cancelled["state"].as_str()), (200, Some("cancelled")), "{cancelled}");
    eventually("Slurm cancelled it", Duration::from_secs(10), || async {
        let s = scontrol(&long_slurm);
        if s.contains("JobState=CANCELLED") { Ok(()) } else { Err(s) }
    })
    .await;
}

#[tokio::test]
async fn teammates_share_jobs_and_the_instructor_sees_and_steers_the_workshops_queue() {
    let app = pool(0).await;
    let api = app.api();
    let TwoTeams { ins, ada, bob, cy, kestrel } = app.two_teams().await;

    let id = submit(&api, &ada, small_job(5)).await;
    let theirs = submit(&api, &cy, small_job(5)).await;
    // Bob, Ada's teammate, sees and may cancel her job; Cy, of another team, gets 404.
    let (_, list) = api.json(Method::GET, "/api/v1/training-jobs", None, &bob).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(job(&api, &bob, &id).await["team"], json!(kestrel));
    let (status, _) = api.json(Method::GET, &format!("/api/v1/training-jobs/{id}"), None, &cy).await;
    assert_eq!(status, 404);

    // The instructor sees both teams' jobs in the pool, raises Cy's, and it goes first.
    let (status, pool) = api.json(Method::GET, "/api/v1/pool", None, &ins).await;
    assert_eq!(status, 200, "{pool}");
    let ids: Vec<&str> = pool["jobs"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&id.as_str()) && ids.contains(&theirs.as_str()), "{pool}");
    let (_, ada_pool) = api.json(Method::GET, "/api/v1/pool", None, &ada).await;
    assert_eq!(ada_pool["jobs"], json!([]), "participants do not see the workshop's queue");
    assert_eq!(job(&api, &ada, &id).await["position"], 1);
    let priority = Some(json!({"priority": 10}));
    let (status, err) =
        api.json(Method::POST, &format!("/api/v1/training-jobs/{id}/priority"), priority.clone(), &bob).await;
    assert_eq!(status, 403, "a participant may not set priorities: {err}");
    let (status, _) = api.json(Method::POST, &format!("/api/v1/training-jobs/{theirs}/priority"), priority, &ins).await;
    assert_eq!(status, 204);
    assert_eq!(job(&api, &cy, &theirs).await["position"], 1);
    assert_eq!(job(&api, &ada, &id).await["position"], 2);
    let (status, cancelled) = api.json(Method::POST, &format!("/api/v1/training-jobs/{id}/cancel"), None, &ins).await;
    assert_eq!((status, cancelled["state"].as_str()), (200, Some("cancelled")), "{cancelled}");
    assert!(cancelled["error"].as_str().unwrap_or_default().contains("cancelled by"), "{cancelled}");
}

/// German credit split in two uploaded datasets (train: 3 rows in 4, validation: the 4th).
async fn german_split(app: &TestApp, token: &str) {
    let table = flywheel_ml::datasets::german_credit();
    for (name, keep) in [("german-train.csv", 1..4), ("german-valid.csv", 0..1)] {
        let rows: Vec<bool> = (0..table.nrows()).map(|i| keep.contains(&(i % 4))).collect();
        let csv = table.filter(&rows).unwrap().to_csv_string().unwrap();
        let (status, up) = app.api().upload_dataset(token, csv, &format!("filename={name}")).await;
        assert_eq!(status, 201, "{up}");
    }
}

#[tokio::test]
async fn a_tpe_tuning_job_runs_its_trials_and_beats_the_default_hyperparameters() {
    let app = pool(2).await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;
    german_split(&app, &ada).await;
    let data = json!({"train": "dataset:german-train.csv", "validation": "dataset:german-valid.csv", "target": "creditability"});

    let default = submit(&api, &ada, json!({"algorithm": "gradient_boosted_trees", "data": data})).await;
    let default = wait_for_state(&api, &ada, &default, "completed", Duration::from_secs(120)).await;
    let default_auc = default["final_metrics"]["validation_roc_auc"].as_f64().unwrap();

    let body = json!({
        "algorithm": "gradient_boosted_trees",
        "hyperparameters": {"seed": 7},
        "data": data,
        "ranges": {
            "learning_rate": {"type": "continuous", "min": 0.01, "max": 0.3, "log": true},
            "max_depth": {"type": "integer", "min": 1, "max": 6},
            "iterations": {"type": "integer", "min": 20, "max": 200},
        },
        "objective": {"metric": "validation_roc_auc", "direction": "maximize"},
        "budget": {"trials": 14, "parallel": 2},
        "strategy": "tpe",
        "seed": 3,
    });
    let (status, tuning) = api.json(Method::POST, "/api/v1/tuning-jobs", Some(body), &ada).await;
    assert_eq!(status, 201, "{tuning}");
    let id = tuning["id"].as_str().unwrap().to_owned();
    let done = eventually("the tuning job completes", Duration::from_secs(300), || async {
        let (_, t) = api.json(Method::GET, &format!("/api/v1/tuning-jobs/{id}"), None, &ada).await;
        if t["state"] == "completed" { Ok(t) } else { Err(t.to_string()) }
    })
    .await;
    let trials = done["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 14, "{done}");
    for t in trials {
        let lr = t["hyperparameters"]["learning_rate"].as_f64().unwrap();
        let depth = t["hyperparameters"]["max_depth"].as_i64().unwrap();
        assert!((0.01..=0.3).contains(&lr) && (1..=6).contains(&depth), "{t}");
        assert_eq!(t["state"], "completed", "{t}");
    }
    let best = done["best_value"].as_f64().unwrap();
    let values: Vec<f64> = trials.iter().filter_map(|t| t["value"].as_f64()).collect();
    assert!(values.iter().all(|v| *v <= best), "the best is the largest: {values:?}");
    println!("tuning: best of 14 TPE trials ROC AUC {best:.4}, the defaults {default_auc:.4}");
    assert!(best > default_auc, "tuned ROC AUC {best:.4} against the defaults' {default_auc:.4}");
    // The best trial is an ordinary training job with its model.
    let best_job = job(&api, &ada, done["best_job"].as_str().unwrap()).await;
    assert_eq!(best_job["artifacts"][0]["kind"], "GradientBoostedTreesModel");

    // Bad requests name what is wrong; another participant cannot see it.
    let bad = json!({"algorithm": "gradient_boosted_trees", "data": data, "ranges": {"depth": {"type": "integer", "min": 1, "max": 3}},
        "objective": {"metric": "validation_roc_auc", "direction": "maximize"}, "budget": {"trials": 3}});
    let (status, err) = api.json(Method::POST, "/api/v1/tuning-jobs", Some(bad), &ada).await;
    assert_eq!(status, 422, "{err}");
    assert!(error_message(&err).contains("max_depth"), "{err}");
    let bob = app.account("bob@example.org", Role::Participant).await;
    let (status, _) = api.json(Method::GET, &format!("/api/v1/tuning-jobs/{id}"), None, &bob).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn asha_stops_lagging_trials_early_and_keeps_the_best() {
    let app = pool(2).await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;
    // Trials long enough to stop: rounds of about 50 ms on the full fraud data.
    let data =
        json!({"train": "builtin:credit_card_fraud", "validation": "builtin:credit_card_fraud", "target": "Class"});
    let (trials, rounds) = (6, 100);
    let body = json!({
        "algorithm": "gradient_boosted_trees",
        "hyperparameters": {"iterations": rounds, "max_depth": 3},
        "data": data,
        "ranges": {"learning_rate": {"type": "continuous", "min": 0.001, "max": 0.3, "log": true}},
        "objective": {"metric": "validation_roc_auc", "direction": "maximize"},
        "budget": {"trials": trials, "parallel": 2},
        "strategy": "random",
        "seed": 11,
        "early_stopping": {"rule": "asha", "metric": "validation_log_loss", "min_rounds": 3, "reduction_factor": 3},
    });
    let (status, tuning) = api.json(Method::POST, "/api/v1/tuning-jobs", Some(body.clone()), &ada).await;
    assert_eq!(status, 201, "{tuning}");
    let id = tuning["id"].as_str().unwrap().to_owned();
    let done = eventually("the tuning job completes", Duration::from_secs(400), || async {
        let (_, t) = api.json(Method::GET, &format!("/api/v1/tuning-jobs/{id}"), None, &ada).await;
        if t["state"] == "completed" { Ok(t) } else { Err(t.to_string()) }
    })
    .await;
    assert_eq!(done["trials"].as_array().map(Vec::len), Some(trials), "{done}");
    let trials = done["trials"].as_array().unwrap();
    let stopped: Vec<&Value> = trials.iter().filter(|t| t["state"] == "cancelled").collect();
    assert!(!stopped.is_empty(), "some trial lags: {done}");
    for t in &stopped {
        assert!(t["error"].as_str().unwrap().starts_with("stopped early by ASHA at round "), "{t}");
        assert!(t["rounds"].as_u64().unwrap() < rounds, "{t}");
    }
    for t in trials.iter().filter(|t| t["state"] == "completed") {
        assert_eq!(t["rounds"], rounds, "{t}");
    }
    let used: u64 = trials.iter().map(|t| t["rounds"].as_u64().unwrap()).sum();
    let all = trials.len() as u64 * rounds;
    println!("ASHA: {} of {} trials stopped; {used} rounds of {all}", stopped.len(), trials.len());
    assert!(used < all);
    // The best is a completed trial's.
    let best = trials.iter().find(|t| t["job"] == done["best_job"]).unwrap();
    assert_eq!(best["state"], "completed", "{done}");

    // A metric the trials do not report round by round fails the job, saying so.
    let mut bad = body;
    bad["early_stopping"] = json!({"rule": "median", "metric": "validation_roc_auc"});
    bad["budget"] = json!({"trials": 1});
    bad["hyperparameters"]["iterations"] = json!(5);
    bad["data"] =
        json!({"train": "builtin:german_credit", "validation": "builtin:german_credit", "target": "creditability"});
    let (_, tuning) = api.json(Method::POST, "/api/v1/tuning-jobs", Some(bad.clone()), &ada).await;
    let id = tuning["id"].as_str().unwrap().to_owned();
    let failed = eventually("the tuning job fails", Duration::from_secs(120), || async {
        let (_, t) = api.json(Method::GET, &format!("/api/v1/tuning-jobs/{id}"), None, &ada).await;
        if t["state"] == "failed" { Ok(t) } else { Err(t.to_string()) }
    })
    .await;
    assert!(
        failed["error"].as_str().unwrap().contains("do not report \"validation_roc_auc\" round by round"),
        "{failed}"
    );
    bad["early_stopping"] = json!({"rule": "asha", "metric": "validation_log_loss", "reduction_factor": 1});
    let (status, err) = api.json(Method::POST, "/api/v1/tuning-jobs", Some(bad.clone()), &ada).await;
    assert_eq!(status, 422, "{err}");
    assert!(error_message(&err).contains("reduction_factor must be at least 2"), "{err}");
    bad["early_stopping"] = json!({"rule": "hyperband", "metric": "validation_log_loss"});
    let (status, err) = api.json(Method::POST, "/api/v1/tuning-jobs", Some(bad), &ada).await;
    assert_eq!(status, 422, "{err}");
    assert!(error_message(&err).contains("early_stopping"), "{err}");
}

#[tokio::test]
async fn an_instructors_weights_and_quotas_steer_the_queue() {
    let app = pool(0).await;
    let api = app.api();
    let ins = app.account("ins@example.org", Role::Instructor).await;
    let ada = app.account("ada@example.org", Role::Participant).await;
    let cy = app.account("cy@example.org", Role::Participant).await;
    let body = json!({"title": "ML week", "days": ["2099-03-02", "2099-03-03", "2099-03-04"], "team_size": 2});
    let (_, w) = api.create_workshop(&ins, body).await;
    let (ws, code) = (w["id"].as_str().unwrap().to_owned(), w["join_code"].as_str().unwrap().to_owned());
    for t in [&ada, &cy] {
        assert_eq!(api.join_workshop(t, &code).await.0, 200);
    }
    let (_, kestrel) = api.create_team(&ada, &ws, "Kestrel").await;
    let (_, osprey) = api.create_team(&cy, &ws, "Osprey").await;
    let (kestrel, osprey) = (kestrel["id"].as_str().unwrap().to_owned(), osprey["id"].as_str().unwrap().to_owned());
    // Both teams have trained a minute today.
    let workshop: flywheel_domain::WorkshopId = ws.parse().unwrap();
    for (email, team) in [("ada@example.org", &kestrel), ("cy@example.org", &osprey)] {
        let user = app.db.user_credentials(email).await.unwrap().unwrap().0;
        let history = finished_today(user.id, Some(team.parse().unwrap()), Some(workshop), 60);
        app.db.create_training_job(&history).await.unwrap();
    }
    let theirs = submit(&api, &cy, small_job(5)).await;
    let ours = submit(&api, &ada, small_job(5)).await;
    let position = |id: String, token: String| {
        let api = app.api();
        async move { job(&api, &token, &id).await["position"].as_u64() }
    };
    assert_eq!(position(theirs.clone(), cy.clone()).await, Some(1), "equal usage: the older job first");

    let share = |team: &str| format!("/api/v1/workshops/{ws}/teams/{team}/training-share");
    let (status, err) = api.json(Method::PUT, &share(&kestrel), Some(json!({"weight": 2})), &ada).await;
    assert_eq!(status, 403, "participants do not set shares: {err}");
    let (status, err) = api.json(Method::PUT, &share(&kestrel), Some(json!({"weight": 0})), &ins).await;
    assert_eq!(status, 422, "{err}");
    let (status, _) = api.json(Method::PUT, &share(&kestrel), Some(json!({"weight": 2})), &ins).await;
    assert_eq!(status, 204);
    assert_eq!(position(ours.clone(), ada.clone()).await, Some(1), "weight 2 halves Kestrel's normalised usage");
    assert_eq!(position(theirs, cy.clone()).await, Some(2));

    let body = Some(json!({"weight": 1, "quota_minutes_per_day": 1}));
    assert_eq!(api.json(Method::PUT, &share(&osprey), body, &ins).await.0, 204);
    let (status, err) = api.json(Method::POST, "/api/v1/training-jobs", Some(small_job(5)), &cy).await;
    assert_eq!(status, 429, "Osprey has used its one minute: {err}");
    submit(&api, &ada, small_job(5)).await;
    let (_, pool) = api.json(Method::GET, "/api/v1/pool", None, &ins).await;
    let usage = pool["usage"].as_array().unwrap();
    let row = |name: &str| usage.iter().find(|u| u["name"] == name).cloned().unwrap_or_default();
    assert_eq!(
        (row("Kestrel")["weight"].as_u64(), row("Osprey")["quota_minutes_per_day"].as_u64()),
        (Some(2), Some(1)),
        "{pool}"
    );
}
