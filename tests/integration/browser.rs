//! End to end in a real browser: headless Chromium (Debian's `chromium`),
//! driven by Playwright (`tests/browser/*.mjs`, npm `playwright-core`)
//! against the real server. `notebook.mjs` logs in, opens the fixture lab,
//! types into a cell, runs it with Shift+Enter, waits for the streamed
//! output and an SVG plot, reloads and finds both still there, and exports
//! the notebook, which Jupyter's validator then checks. `workshop.mjs` has an
//! instructor create a workshop, a participant sign up with its code, form a
//! team, share a notebook that a teammate's page follows live, and submit a
//! write-up, the instructor grade and release it, and the participant see
//! the grade. `training.mjs` has a participant submit a training job from the
//! Training page and watch the list refresh itself until the job has
//! completed with its curve. Screenshots land in `tests/artifacts/`.
//! `bash tests/run.sh` installs Chromium and the scripts' packages.

use std::path::PathBuf;

use flywheel_domain::Role;
use flywheel_store::WorkshopStore;
use flywheel_tests::{kernel_worker, spawn_app};

use crate::notebooks::jupyter_validates;

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Where the artifacts of `script` go for this backend.
fn artifacts(script: &str) -> PathBuf {
    let backend = if flywheel_tests::backend_is_postgres() { "postgres" } else { "sqlite" };
    let dir = repo().join("tests/artifacts").join(backend).join(script);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `tests/browser/<script>.mjs` with node and `env`; panics with its
/// output unless every step passed.
async fn run_script(script: &str, env: &[(&str, &str)], artifacts: &std::path::Path) {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    let setup = "run `bash tests/run.sh` once (it installs Chromium and the browser test's npm packages)";
    assert!(PathBuf::from(&chromium).is_file(), "no Chromium at {chromium}: {setup}");
    assert!(repo().join("tests/browser/node_modules/playwright-core").is_dir(), "no playwright-core: {setup}");
    let out = tokio::process::Command::new("node")
        .arg(repo().join(format!("tests/browser/{script}.mjs")))
        .envs(env.iter().copied())
        .env("ARTIFACTS_DIR", artifacts)
        .env("CHROMIUM", &chromium)
        .kill_on_drop(true)
        .output()
        .await
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "the browser script {script} failed ({}):\n{stdout}\n{stderr}", out.status);
}

#[tokio::test]
async fn a_new_user_runs_a_lab_notebook_in_chromium_and_loses_nothing_on_reload() {
    assert!(kernel_worker().is_file(), "build the worker first: cargo build -p flywheel-kernel");

    let app = spawn_app().await;
    app.create_user("ada@example.org", "correct horse battery", Role::Participant).await;
    let token = app.api().token("ada@example.org", "correct horse battery").await;
    app.kernels_ready(&token, std::time::Duration::from_secs(300)).await;
    let artifacts = artifacts("notebook");
    let ipynb = artifacts.join("notebook.ipynb");
    let _ = std::fs::remove_file(&ipynb);
    let env = [
        ("FLYWHEEL_URL", app.base.as_str()),
        ("FLYWHEEL_EMAIL", "ada@example.org"),
        ("FLYWHEEL_PASSWORD", "correct horse battery"),
        ("FLYWHEEL_LAB", "first-steps"),
    ];
    run_script("notebook", &env, &artifacts).await;

    let exported = std::fs::read_to_string(&ipynb).expect("the script saved the exported notebook");
    jupyter_validates(&exported).unwrap();
    let nb: serde_json::Value = serde_json::from_str(&exported).unwrap();
    let sources: Vec<String> = nb["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["source"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect())
        .collect();
    assert!(sources.iter().any(|s| s.contains("let answer = 6 * 7;")), "the typed edit was exported: {sources:?}");
    assert!(exported.contains("image/svg+xml"), "the plot was exported");
    assert!(artifacts.join("notebook.png").is_file() && artifacts.join("notebook-reloaded.png").is_file());
}

#[tokio::test]
async fn an_instructor_grades_a_team_write_up_in_chromium_and_the_team_sees_the_grade() {
    let app = flywheel_tests::spawn_app_with(|c| {
        c.content_dir = repo().join("content");
        c.labs_dir = repo().join("labs");
    })
    .await;
    app.create_user("ins@example.org", "correct horse battery", Role::Instructor).await;
    let artifacts = artifacts("workshop");
    let env = [
        ("FLYWHEEL_URL", app.base.as_str()),
        ("FLYWHEEL_INSTRUCTOR_EMAIL", "ins@example.org"),
        ("FLYWHEEL_PASSWORD", "correct horse battery"),
    ];
    run_script("workshop", &env, &artifacts).await;
    for shot in ["workshop-instructor.png", "workshop-team.png", "team-notebook.png", "grading.png", "grade-seen.png"] {
        assert!(artifacts.join(shot).is_file(), "{shot}");
    }
    // What the browser did is in the database: one submission, graded, released.
    let workshops = app.db.all_workshops().await.unwrap();
    let w = &workshops[0];
    assert!(w.grades_released_at.is_some());
    assert_eq!(app.db.submissions(w.id).await.unwrap().len(), 1, "the double click submitted once");
    assert_eq!(app.db.grades(w.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_participant_submits_a_training_job_and_watches_it_complete_in_chromium() {
    let app = flywheel_tests::spawn_app_with(|c| c.training_local_workers = 1).await;
    app.create_user("ada@example.org", "correct horse battery", Role::Participant).await;
    let env = [
        ("FLYWHEEL_URL", app.base.as_str()),
        ("FLYWHEEL_EMAIL", "ada@example.org"),
        ("FLYWHEEL_PASSWORD", "correct horse battery"),
    ];
    run_script("training", &env, &artifacts("training")).await;
}
