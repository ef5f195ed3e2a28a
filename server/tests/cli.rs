//! The `flywheel` binary as an operator uses it: creating accounts, migrating,
//! serving and stopping, and the one-line errors when something is wrong.
//! The database is the backend this run uses (see `flywheel_tests`).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use flywheel_store::{AccountStore, SqlDatabase};
use flywheel_tests::test_database;

fn flywheel(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flywheel"))
        .args(args)
        .env("FLYWHEEL_DATABASE_CONNECT_TIMEOUT_SECS", "3")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run flywheel");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("flywheel exits")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn user_create_makes_an_account_that_can_log_in() {
    let db = test_database().await;
    let out = flywheel(
        &[
            "--database-url",
            &db.url,
            "user",
            "create",
            "--email",
            "Ian@Example.org",
            "--name",
            "Ian",
            "--role",
            "instructor",
        ],
        "a long passphrase\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("created instructor Ian@Example.org ("), "{}", text(&out.stdout));

    let store = SqlDatabase::connect(&db.url, Duration::from_secs(5)).await.unwrap();
    let (user, hash) = store.user_credentials("ian@example.org").await.unwrap().expect("stored");
    assert_eq!(user.role, flywheel_domain::Role::Instructor);
    assert!(
        flywheel_app::password::verify(Some(hash), "a long passphrase").await.unwrap(),
        "newline is not part of it"
    );

    let again = flywheel(
        &["--database-url", &db.url, "user", "create", "--email", "ian@example.org", "--name", "I2"],
        "another passphrase\n",
    );
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(text(&again.stderr), "error: an account with this email already exists\n");
    assert_eq!(store.users().await.unwrap().len(), 1);
}

#[tokio::test]
async fn user_create_refuses_bad_input_in_one_line() {
    let db = test_database().await;
    let url = db.url.as_str();
    let cases: [(&[&str], &str, &str); 3] = [
        (&["--email", "a@b.org", "--name", "A"], "", "error: no password on standard input"),
        (&["--email", "a@b.org", "--name", "A"], "short\n", "error: password: must be at least 8 characters"),
        (&["--email", "nope", "--name", "A"], "long enough pw\n", "error: email: must look like name@example.org"),
    ];
    for (args, stdin, expected) in cases {
        let mut all = vec!["--database-url", url, "user", "create"];
        all.extend_from_slice(args);
        let out = flywheel(&all, stdin);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.starts_with(expected) && err.lines().count() == 1, "{args:?}: {err}");
    }
    let bad_role = flywheel(
        &["--database-url", url, "user", "create", "--email", "a@b.org", "--name", "A", "--role", "root"],
        "x\n",
    );
    assert_eq!(bad_role.status.code(), Some(2), "a usage error");
    assert!(text(&bad_role.stderr).contains("`root` is not one of participant, instructor, admin"));
}

#[test]
fn migrate_creates_the_sqlite_database_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    let out = flywheel(&["migrate", "--data-dir", data.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(data.join("flywheel.db").is_file());
    assert!(text(&out.stdout).contains("is up to date"));
}

#[test]
fn an_unreachable_database_is_one_clear_line_without_the_password() {
    let out = flywheel(&["migrate", "--database-url", "postgres://flywheel:s3cret@127.0.0.1:1/flywheel"], "");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: cannot connect to the database at postgres://flywheel:***@127.0.0.1:1/flywheel"),
        "{err}"
    );
    assert!(!err.contains("s3cret") && !err.contains("panicked"), "{err}");

    let out = flywheel(&["serve", "--database-url", "mysql://x@y/z", "--bind", "127.0.0.1:0"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error: unsupported database URL `mysql://x@y/z`"), "{}", text(&out.stderr));
}

#[tokio::test]
async fn serve_answers_and_stops_gracefully_on_sigterm() {
    let db = test_database().await;
    let data_dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_flywheel"))
        .args(["serve", "--bind", "127.0.0.1:0", "--database-url", &db.url])
        .arg("--data-dir")
        .arg(data_dir.path())
        // No kernels for this test: it is about serving and stopping. (Without
        // a `kernel_program` the server would build the worker with cargo in
        // the background, and that child would hold stderr open.)
        .env("FLYWHEEL_KERNEL_PROGRAM", data_dir.path().join("no-kernel-worker"))
        .env("FLYWHEEL_KERNEL_POOL_SIZE", "0")
        .env("FLYWHEEL_KERNEL_PRELUDE", "false")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start flywheel");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let addr = loop {
        let line = lines.next().expect("a log line before exit").expect("read log");
        if let Some((_, rest)) = line.split_once("listening on http://") {
            break rest.split_whitespace().next().expect("address").to_owned();
        }
    };
    let health = reqwest::get(format!("http://{addr}/healthz")).await.expect("server answers");
    assert_eq!(health.text().await.unwrap(), "ok");

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("exit");
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("Flywheel stopped")), "{rest:?}");
}

#[test]
fn notebook_check_names_the_file_and_line_of_the_first_error() {
    let lab = concat!(env!("CARGO_MANIFEST_DIR"), "/../labs/intro/notebook.md");
    let out = flywheel(&["notebook", "check", lab], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ok — lab `intro` (day 1"), "{}", text(&out.stdout));

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.md");
    std::fs::write(&broken, "# Broken\n\nText.\n\n```rust\nlet x = 1;\n").unwrap();
    let out = flywheel(&["notebook", "check", broken.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(
        err.trim(),
        format!("error: {}:5: the code fence opened on this line is never closed", broken.display())
    );

    let ipynb = dir.path().join("old.ipynb");
    std::fs::write(&ipynb, r#"{"nbformat": 3, "worksheets": []}"#).unwrap();
    let out = flywheel(&["notebook", "check", ipynb.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("old.ipynb:1: this is an nbformat 3 notebook"), "{}", text(&out.stderr));
}

/// `flywheel kernels prepare` runs the server's first-start steps in the
/// foreground and says each one (here without the library, which the labs
/// suite compiles: with it, the first run takes minutes).
#[test]
fn kernels_prepare_says_what_it_did_or_why_it_could_not() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let worker = flywheel_tests::kernel_worker();
    assert!(worker.is_file(), "build the worker first: cargo build -p flywheel-kernel");
    let out = Command::new(env!("CARGO_BIN_EXE_flywheel"))
        .args(["kernels", "prepare", "--data-dir", data.to_str().unwrap()])
        .env("FLYWHEEL_KERNEL_PROGRAM", &worker)
        .env("FLYWHEEL_KERNEL_PRELUDE", "false")
        .output()
        .expect("run flywheel");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.starts_with("Preparing notebook kernels in "), "{said}");
    assert!(said.contains("Kernels are ready (") && said.contains(&worker.display().to_string()), "{said}");
    assert!(said.contains("No algorithm library"), "{said}");
    assert!(data.join("kernels/cargo-home/registry").exists(), "the kernels' Cargo home was made");
    assert!(!data.join("kernels/cargo-home/credentials.toml").exists());

    let out = Command::new(env!("CARGO_BIN_EXE_flywheel"))
        .args(["kernels", "prepare", "--data-dir", data.to_str().unwrap()])
        .env("FLYWHEEL_KERNEL_PROGRAM", "/nonexistent/flywheel-kernel")
        .output()
        .expect("run flywheel");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.lines().any(|l| l.starts_with(
            "error: kernels could not be prepared: the kernel worker /nonexistent/flywheel-kernel does not exist"
        )),
        "{err}"
    );
}
