//! End to end in a real browser: headless Chromium (Debian's `chromium`),
//! driven by Playwright (`tests/browser/notebook.mjs`, npm `playwright-core`)
//! against the real server and kernel. The script logs in, opens the
//! fixture lab, types into a cell, runs it with Shift+Enter, waits for the
//! streamed output and an SVG plot, reloads and finds both still there, and
//! exports the notebook, which Jupyter's validator then checks. Screenshots
//! land in `tests/artifacts/`. `bash tests/run.sh` installs Chromium and
//! the script's packages.

use std::path::PathBuf;

use flywheel_domain::Role;
use flywheel_tests::{kernel_worker, spawn_app};

use crate::notebooks::jupyter_validates;

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

#[tokio::test]
async fn a_new_user_runs_a_lab_notebook_in_chromium_and_loses_nothing_on_reload() {
    assert!(kernel_worker().is_file(), "build the worker first: cargo build -p flywheel-kernel");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    let script = repo().join("tests/browser/notebook.mjs");
    let setup = "run `bash tests/run.sh` once (it installs Chromium and the browser test's npm packages)";
    assert!(PathBuf::from(&chromium).is_file(), "no Chromium at {chromium}: {setup}");
    assert!(repo().join("tests/browser/node_modules/playwright-core").is_dir(), "no playwright-core: {setup}");

    let app = spawn_app().await;
    app.create_user("ada@example.org", "correct horse battery", Role::Participant).await;
    let token = app.api().token("ada@example.org", "correct horse battery").await;
    app.kernels_ready(&token, std::time::Duration::from_secs(300)).await;
    let artifacts =
        repo().join("tests/artifacts").join(if flywheel_tests::backend_is_postgres() { "postgres" } else { "sqlite" });
    std::fs::create_dir_all(&artifacts).unwrap();
    let ipynb = artifacts.join("notebook.ipynb");
    let _ = std::fs::remove_file(&ipynb);

    let out = tokio::process::Command::new("node")
        .arg(&script)
        .env("FLYWHEEL_URL", &app.base)
        .env("FLYWHEEL_EMAIL", "ada@example.org")
        .env("FLYWHEEL_PASSWORD", "correct horse battery")
        .env("FLYWHEEL_LAB", "first-steps")
        .env("ARTIFACTS_DIR", &artifacts)
        .env("CHROMIUM", &chromium)
        .kill_on_drop(true)
        .output()
        .await
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "the browser script failed ({}):\n{stdout}\n{stderr}", out.status);

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
