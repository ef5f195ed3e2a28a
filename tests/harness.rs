//! The test harness (zero-to-production's `spawn_app`): the real Flywheel
//! server on an ephemeral port, against a fresh database.
//!
//! The backend comes from `FLYWHEEL_TEST_DATABASE`: unset or `sqlite` gives
//! a new SQLite file per test; `postgres` gives a new database per test on
//! the server at `FLYWHEEL_TEST_POSTGRES_URL` (the test command starts one).
//! Asking for PostgreSQL without a URL fails the test rather than skipping it.
//!
//! # Design notes
//!
//! `tidy.rs` checks the invariants of this file (rust-analyzer's tidy habit):
//! each crate's declared dependencies from `cargo metadata`, the configuration
//! keys against the example file, the API's routes (scanned from
//! `server/src/api/`) against its OpenAPI document; it needs no server and
//! runs in a second. `harness.rs` is zero-to-production's `spawn_app`: the real server on an
//! ephemeral port against a fresh database — a new SQLite file, or a new
//! PostgreSQL database when `FLYWHEEL_TEST_DATABASE=postgres` — with a
//! `Browser` (cookie jar, CSS-selector assertions on pages) and an `Api` client.
//! `integration/` holds the suites: `storage` (the `Database` contract), `pages`, `curriculum` (pages,
//! navigation, and progress recorded by check cells run on the real kernel),
//! `api`, `ops`, `kernel` (sessions through the API on the real worker; the
//! harness points `kernel_program` at this build's `flywheel-kernel` and turns
//! the prelude and the pool off unless a test asks), `notebooks` (labs and
//! notebooks through the API and pages; `.ipynb` exports checked by Jupyter's
//! `nbformat` validator), `workshops` (two teams end to end, every refusal
//! and IDOR attempt, the leaderboard against scores computed in the test,
//! team notebooks, room accounts; through the API and the pages), `browser`
//! (runs `tests/browser/notebook.mjs` and `workshop.mjs`, sharing
//! `tests/browser/lib.mjs`: Playwright driving Debian's headless Chromium
//! through a lab notebook, and through an instructor grading a team's
//! write-up; screenshots in `tests/artifacts/`). The suites' labs and pages are
//! `tests/fixtures/labs` and `tests/fixtures/content`, not the curriculum's. `server/tests/cli.rs` runs the built binary.
//! `run.sh` is the project's test command; `postgres.sh` starts a throwaway
//! PostgreSQL for it; `tools.sh` installs nbformat, Chromium and playwright-core.

use std::sync::Arc;
use std::time::Duration;

use flywheel::Config;
use flywheel_app::accounts::{SignUp, create_account};
use flywheel_domain::{Role, User};
use flywheel_store::{AccountStore, Database, SqlDatabase};
use reqwest::redirect::Policy;
use scraper::{Html, Selector};
use tokio::net::TcpListener;

/// A database made for one test; removed (SQLite) when dropped.
pub struct TestDatabase {
    /// The URL to give Flywheel.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// Which backend this test run uses.
pub fn backend_is_postgres() -> bool {
    std::env::var("FLYWHEEL_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

/// A fresh, empty database on the backend this run uses.
///
/// # Panics
/// When PostgreSQL is asked for but `FLYWHEEL_TEST_POSTGRES_URL` is missing or unreachable.
pub async fn test_database() -> TestDatabase {
    if backend_is_postgres() {
        let admin = std::env::var("FLYWHEEL_TEST_POSTGRES_URL")
            .expect("FLYWHEEL_TEST_DATABASE=postgres needs FLYWHEEL_TEST_POSTGRES_URL (run `bash tests/run.sh`)");
        let name = format!("flywheel_test_{}", uuid::Uuid::new_v4().simple());
        let server = SqlDatabase::connect(&admin, Duration::from_secs(10)).await.expect("PostgreSQL reachable");
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(server.pool()).await.expect("CREATE DATABASE");
        server.pool().close().await;
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        TestDatabase { url: format!("{base}/{name}"), _dir: None }
    } else {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("flywheel.db").display());
        TestDatabase { url, _dir: Some(dir) }
    }
}

/// A migrated [`SqlDatabase`] on a fresh test database.
pub async fn fresh_store() -> (SqlDatabase, TestDatabase) {
    let tdb = test_database().await;
    let db = SqlDatabase::connect(&tdb.url, Duration::from_secs(10)).await.expect("connect");
    db.migrate().await.expect("migrate");
    (db, tdb)
}

/// A running server and a direct handle on its database.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The same database the server uses, for setting up and checking.
    pub db: SqlDatabase,
    /// The configuration the server runs with.
    pub config: Config,
    _database: TestDatabase,
    _data_dir: tempfile::TempDir,
    /// Ends the server's `run_until` (dropped: the server runs on).
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Builds and starts a server with `config`: its address, the sender that
/// stops it, and its task.
async fn serve(
    config: Config,
) -> (String, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an ephemeral port");
    let app = flywheel::Application::build(config, listener).await.expect("build the application");
    let addr = app.local_addr().expect("local address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        if stopped.await.is_err() {
            std::future::pending::<()>().await; // the sender was dropped, not used
        }
    }));
    (format!("http://{addr}"), stop, server)
}

/// The kernel worker this test build made (`target/<profile>/flywheel-kernel`,
/// built by `cargo test --workspace` for the kernel crate's own tests).
pub fn kernel_worker() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let profile_dir = exe.parent().and_then(std::path::Path::parent).expect("target/<profile>/deps/<test>");
    profile_dir.join("flywheel-kernel")
}

/// The `flywheel` executable this test build made (`target/<profile>/flywheel`),
/// which training workers run jobs with (`flywheel train-job DIR`).
pub fn flywheel_program() -> std::path::PathBuf {
    kernel_worker().with_file_name("flywheel")
}

/// The labs the suites run against (`tests/fixtures/labs`): small, and
/// independent of the curriculum's own labs, which change with the content.
pub fn fixture_labs() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/labs"))
}

/// The curriculum pages the suites run against (`tests/fixtures/content`).
pub fn fixture_content() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/content"))
}

/// The configuration every test server starts from: its own data directory,
/// the kernel worker of this build without the prelude (the kernel crate's
/// tests cover that), no pre-started kernels and no training workers (a
/// test that wants them says so; training workers run this build's
/// `flywheel`).
pub fn test_config(data_dir: &std::path::Path, database_url: &str) -> Config {
    Config {
        database_url: database_url.to_owned(),
        data_dir: data_dir.to_path_buf(),
        kernel_program: kernel_worker(),
        kernel_prelude: false,
        kernel_pool_size: 0,
        labs_dir: fixture_labs(),
        content_dir: fixture_content(),
        training_local_workers: 0,
        training_worker_program: flywheel_program(),
        ..Config::default()
    }
}

/// The server with the default configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The server with a configuration adjusted by `configure`.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let database = test_database().await;
    let data_dir = tempfile::tempdir().expect("temp data dir");
    let mut config = test_config(data_dir.path(), &database.url);
    configure(&mut config);
    let (base, stop, server) = serve(config.clone()).await;
    let db = SqlDatabase::connect(&database.url, Duration::from_secs(10)).await.expect("connect to the test database");
    TestApp { base, db, config, _database: database, _data_dir: data_dir, stop: Some(stop), server: Some(server) }
}

/// The server on a given [`Database`] (a fault double). The data directory
/// lives as long as the test process.
pub async fn spawn_app_on(db: Arc<dyn Database>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an ephemeral port");
    let data_dir = tempfile::tempdir().expect("temp data dir").keep();
    let app = flywheel::Application::with_database(test_config(&data_dir, ""), db, listener);
    let addr = app.local_addr().expect("local address");
    tokio::spawn(app.run_until(std::future::pending()));
    format!("http://{addr}")
}

/// What [`TestApp::two_teams`] made: API tokens, and team Kestrel's id.
pub struct TwoTeams {
    /// The instructor's token.
    pub ins: String,
    /// Kestrel's first member.
    pub ada: String,
    /// Kestrel's second member.
    pub bob: String,
    /// Osprey's only member.
    pub cy: String,
    /// Kestrel's team id.
    pub kestrel: String,
}

impl TestApp {
    /// Shuts the server down as `serve` does on a signal (its training
    /// workers stop and their processes are killed), keeping its database
    /// and data directory for [`Self::start_again`].
    pub async fn stop(&mut self) {
        if let (Some(stop), Some(server)) = (self.stop.take(), self.server.take()) {
            let _ = stop.send(());
            server.await.expect("the server task").expect("the server stops cleanly");
        }
    }

    /// A new server on the same database and data directory (at a new `base`).
    pub async fn start_again(&mut self) {
        let (base, stop, server) = serve(self.config.clone()).await;
        (self.base, self.stop, self.server) = (base, Some(stop), Some(server));
    }

    /// Another server on the same database and data directory, beside this
    /// one (as several servers behind a balancer run), without training
    /// workers of its own: its base URL, and the sender that stops it.
    pub async fn another_server(&self) -> (String, tokio::sync::oneshot::Sender<()>) {
        let mut config = self.config.clone();
        config.training_local_workers = 0;
        let (base, stop, _server) = serve(config).await;
        (base, stop)
    }

    /// A workshop of two teams, as the team tests use it: an instructor
    /// (`ins@example.org`), team Kestrel (`ada@…`, who made it, and `bob@…`)
    /// and team Osprey (`cy@…`), each person's API token, and Kestrel's id.
    pub async fn two_teams(&self) -> TwoTeams {
        let api = self.api();
        let ins = self.account("ins@example.org", Role::Instructor).await;
        let ada = self.account("ada@example.org", Role::Participant).await;
        let bob = self.account("bob@example.org", Role::Participant).await;
        let cy = self.account("cy@example.org", Role::Participant).await;
        let body =
            serde_json::json!({"title": "ML week", "days": ["2099-03-02", "2099-03-03", "2099-03-04"], "team_size": 2});
        let (status, w) = api.create_workshop(&ins, body).await;
        assert_eq!(status, 201, "{w}");
        let (ws, code) = (w["id"].as_str().expect("an id"), w["join_code"].as_str().expect("a code"));
        for t in [&ada, &bob, &cy] {
            assert_eq!(api.join_workshop(t, code).await.0, 200);
        }
        let (_, kestrel) = api.create_team(&ada, ws, "Kestrel").await;
        let kestrel = kestrel["id"].as_str().expect("a team id").to_owned();
        assert_eq!(api.join_team(&bob, ws, &kestrel).await.0, 204);
        api.create_team(&cy, ws, "Osprey").await;
        TwoTeams { ins, ada, bob, cy, kestrel }
    }

    /// A new person at a browser: their own cookie jar, redirects not followed.
    pub fn browser(&self) -> Browser {
        let client = reqwest::Client::builder().cookie_store(true).redirect(Policy::none()).build().expect("client");
        Browser { client, base: self.base.clone() }
    }

    /// An HTTP client with no cookies, for the API.
    pub fn api(&self) -> Api {
        Api::new(&self.base)
    }

    /// Makes an account with [`PASSWORD`] and `role` (as `flywheel user
    /// create` does) and returns an API token of it.
    pub async fn account(&self, email: &str, role: Role) -> String {
        self.create_user(email, PASSWORD, role).await;
        self.api().token(email, PASSWORD).await
    }

    /// Creates an account directly (as `flywheel user create` does).
    pub async fn create_user(&self, email: &str, password: &str, role: Role) -> User {
        let sign_up = SignUp::parse(email, "Test User", password).expect("valid account");
        create_account(&self.db, sign_up, role).await.expect("create account")
    }

    /// Waits until `GET /api/v1/kernels` says `ready` (the server prepares
    /// kernels in the background after it starts: finding the toolchain,
    /// fetching what rust-analyzer reads, with the prelude a template build
    /// of minutes); until then running a cell is a 503. Panics when they
    /// become unavailable or are not ready within `limit`.
    pub async fn kernels_ready(&self, token: &str, limit: Duration) {
        let api = self.api();
        eventually("kernels are ready", limit, || async {
            let (_, _, k) = api.call(reqwest::Method::GET, "/api/v1/kernels", None, Some(token)).await;
            match k["state"].as_str() {
                Some("ready") => Ok(()),
                Some("unavailable") => panic!("kernels are unavailable: {k}"),
                _ => Err(k.to_string()),
            }
        })
        .await;
    }

    /// Makes `source` the only cell of notebook `notebook`, runs it on the
    /// notebook's kernel session through the API, and waits (at most two
    /// minutes) for the execution to finish; returns the execution as JSON
    /// (`status`, `outputs`, `session`). Panics when a step is refused.
    pub async fn run_cell(&self, token: &str, notebook: &str, source: &str) -> serde_json::Value {
        use reqwest::Method;
        let api = self.api();
        let path = format!("/api/v1/notebooks/{notebook}");
        let (_, _, nb) = api.call(Method::GET, &path, None, Some(token)).await;
        let cells = serde_json::json!([{ "id": "c", "cell_type": "code", "source": source }]);
        let save = serde_json::json!({ "revision": nb["revision"], "cells": cells });
        let (status, _, body) = api.call(Method::PATCH, &path, Some(save), Some(token)).await;
        assert_eq!(status, 200, "saving the cell: {body}");
        let (status, _, run) = api.call(Method::POST, &format!("{path}/cells/c/run"), None, Some(token)).await;
        assert_eq!(status, 202, "running the cell: {run}");
        let session = run["session"]["id"].as_str().unwrap_or_default();
        let execution = run["execution"]["id"].as_u64().expect("an execution id");
        api.wait_for_execution(token, session, execution, Duration::from_secs(120)).await
    }

    /// How many accounts exist.
    pub async fn user_count(&self) -> usize {
        self.db.users().await.expect("list users").len()
    }
}

/// The password of the accounts [`TestApp::account`] makes.
pub const PASSWORD: &str = "correct horse battery";

/// The message of an API error body (`{"error": {"message": …}}`), or "".
pub fn error_message(body: &serde_json::Value) -> String {
    body["error"]["message"].as_str().unwrap_or_default().to_owned()
}

/// A browser session against the app.
pub struct Browser {
    /// The client, with a cookie jar.
    pub client: reqwest::Client,
    base: String,
}

/// A fetched HTML page.
pub struct Page {
    /// HTTP status.
    pub status: reqwest::StatusCode,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The parsed document.
    pub html: Html,
}

impl Page {
    /// Text of every element matching `selector`, whitespace collapsed.
    pub fn texts(&self, selector: &str) -> Vec<String> {
        let sel = Selector::parse(selector).expect("valid selector");
        self.html
            .select(&sel)
            .map(|e| e.text().collect::<Vec<_>>().join(" ").split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    }

    /// Text of the first element matching `selector`.
    ///
    /// # Panics
    /// When nothing matches.
    pub fn text(&self, selector: &str) -> String {
        self.texts(selector).into_iter().next().unwrap_or_else(|| panic!("no element matches `{selector}`"))
    }

    /// Whether an element matches `selector`.
    pub fn has(&self, selector: &str) -> bool {
        !self.texts(selector).is_empty()
    }

    /// The value of attribute `attr` on the first element matching `selector`.
    pub fn attr(&self, selector: &str, attr: &str) -> Option<String> {
        let sel = Selector::parse(selector).expect("valid selector");
        self.html.select(&sel).next().and_then(|e| e.value().attr(attr)).map(str::to_owned)
    }

    /// The CSRF token the page carries in its forms.
    pub fn csrf(&self) -> String {
        self.attr("input[name=csrf_token]", "value").expect("page has a CSRF token")
    }
}

impl Browser {
    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GETs a page.
    pub async fn get(&self, path: &str) -> Page {
        let r = self.client.get(self.url(path)).send().await.expect("GET");
        Self::page(r).await
    }

    /// POSTs a form (no CSRF token added).
    pub async fn post_raw(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let r = self.client.post(self.url(path)).form(form).send().await.expect("POST");
        Self::page(r).await
    }

    /// Loads `form_page` for its CSRF token, then POSTs `form` with it to `path`.
    pub async fn submit(&self, form_page: &str, path: &str, form: &[(&str, &str)]) -> Page {
        let token = self.get(form_page).await.csrf();
        let mut fields = form.to_vec();
        fields.push(("csrf_token", &token));
        self.post_raw(path, &fields).await
    }

    /// Signs up through the page.
    pub async fn sign_up(&self, email: &str, name: &str, password: &str) -> Page {
        self.submit("/signup", "/signup", &[("email", email), ("name", name), ("password", password)]).await
    }

    /// Logs in through the page.
    pub async fn log_in(&self, email: &str, password: &str) -> Page {
        self.submit("/login", "/login", &[("email", email), ("password", password)]).await
    }

    async fn page(r: reqwest::Response) -> Page {
        let status = r.status();
        let headers = r.headers().clone();
        let body = r.text().await.expect("body");
        Page { status, headers, html: Html::parse_document(&body) }
    }
}

/// A JSON client for `/api`.
#[derive(Clone)]
pub struct Api {
    /// The client (no cookies).
    pub client: reqwest::Client,
    base: String,
}

/// Calls `probe` every 50 ms until it gives `Some`, and returns that; panics
/// naming `what` (and the last value seen, when `probe` gives it as `Err`)
/// after `limit`. The one poll-until loop of the suites.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let until = std::time::Instant::now() + limit;
    loop {
        match probe().await {
            Ok(found) => return found,
            Err(last) if std::time::Instant::now() > until => panic!("{what}: not within {limit:?}; last: {last}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

impl Api {
    /// Waits until execution `execution` of kernel session `session` is no
    /// longer queued or running (at most `limit`); returns it as JSON
    /// (`status`, `outputs`, …). Panics on a refusal.
    pub async fn wait_for_execution(
        &self,
        token: &str,
        session: &str,
        execution: u64,
        limit: Duration,
    ) -> serde_json::Value {
        let path = format!("/api/v1/sessions/{session}/executions/{execution}");
        eventually(&format!("execution {execution} of session {session} finishes"), limit, || async {
            let (status, _, e) = self.call(reqwest::Method::GET, &path, None, Some(token)).await;
            assert_eq!(status, 200, "{path}: {e}");
            if matches!(e["status"].as_str(), Some("queued" | "running")) { Err(e.to_string()) } else { Ok(e) }
        })
        .await
    }

    /// An API client for the server at `base` (`http://127.0.0.1:PORT`).
    pub fn new(base: &str) -> Self {
        Api { client: reqwest::Client::new(), base: base.to_owned() }
    }

    /// Sends `method path` with an optional JSON body and bearer token;
    /// returns the status, headers and the body parsed as JSON (`Null` when empty).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
        token: Option<&str>,
    ) -> (reqwest::StatusCode, reqwest::header::HeaderMap, serde_json::Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.expect("API call");
        let (status, headers) = (r.status(), r.headers().clone());
        let text = r.text().await.expect("body");
        let json =
            if text.is_empty() { serde_json::Value::Null } else { serde_json::from_str(&text).expect("JSON body") };
        (status, headers, json)
    }

    /// [`Self::call`] with a token, answering the status as a number and the JSON body.
    pub async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
        token: &str,
    ) -> (u16, serde_json::Value) {
        let (status, _, json) = self.call(method, path, body, Some(token)).await;
        (status.as_u16(), json)
    }

    /// `POST /api/v1/workshops`: the status and the workshop (or error).
    pub async fn create_workshop(&self, token: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.json(reqwest::Method::POST, "/api/v1/workshops", Some(body), token).await
    }

    /// `POST /api/v1/workshops/join` with `code`.
    pub async fn join_workshop(&self, token: &str, code: &str) -> (u16, serde_json::Value) {
        let body = serde_json::json!({ "code": code });
        self.json(reqwest::Method::POST, "/api/v1/workshops/join", Some(body), token).await
    }

    /// `GET /api/v1/workshops/{ws}`.
    pub async fn workshop(&self, token: &str, ws: &str) -> (u16, serde_json::Value) {
        self.json(reqwest::Method::GET, &format!("/api/v1/workshops/{ws}"), None, token).await
    }

    /// `POST /api/v1/workshops/{ws}/teams` named `name`.
    pub async fn create_team(&self, token: &str, ws: &str, name: &str) -> (u16, serde_json::Value) {
        let body = serde_json::json!({ "name": name });
        self.json(reqwest::Method::POST, &format!("/api/v1/workshops/{ws}/teams"), Some(body), token).await
    }

    /// `GET /api/v1/workshops/{ws}/teams`: the roster.
    pub async fn roster(&self, token: &str, ws: &str) -> (u16, serde_json::Value) {
        self.json(reqwest::Method::GET, &format!("/api/v1/workshops/{ws}/teams"), None, token).await
    }

    /// `POST /api/v1/workshops/{ws}/teams/{team}/join`.
    pub async fn join_team(&self, token: &str, ws: &str, team: &str) -> (u16, serde_json::Value) {
        self.json(reqwest::Method::POST, &format!("/api/v1/workshops/{ws}/teams/{team}/join"), None, token).await
    }

    /// `PUT /api/v1/workshops/{ws}/members/{user}/team`: puts `user` into `team`.
    pub async fn place(&self, token: &str, ws: &str, user: &str, team: &str) -> (u16, serde_json::Value) {
        let body = serde_json::json!({ "team": team });
        self.json(reqwest::Method::PUT, &format!("/api/v1/workshops/{ws}/members/{user}/team"), Some(body), token).await
    }

    /// `POST /api/v1/workshops/{ws}/submissions`, with an `Idempotency-Key` when given.
    pub async fn submit(
        &self,
        token: &str,
        ws: &str,
        body: serde_json::Value,
        key: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let mut req = self.client.post(format!("{}/api/v1/workshops/{ws}/submissions", self.base)).bearer_auth(token);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        let r = req.json(&body).send().await.expect("submit");
        (r.status().as_u16(), r.json().await.expect("JSON body"))
    }

    /// `GET /api/v1/workshops/{ws}/submissions`.
    pub async fn submissions(&self, token: &str, ws: &str) -> (u16, serde_json::Value) {
        self.json(reqwest::Method::GET, &format!("/api/v1/workshops/{ws}/submissions"), None, token).await
    }

    /// `GET /api/v1/workshops/{ws}/submissions/{id}`.
    pub async fn submission(&self, token: &str, ws: &str, id: &str) -> (u16, serde_json::Value) {
        self.json(reqwest::Method::GET, &format!("/api/v1/workshops/{ws}/submissions/{id}"), None, token).await
    }

    /// `PUT /api/v1/workshops/{ws}/submissions/{id}/grade` with `{"scores": …}`.
    pub async fn grade(&self, token: &str, ws: &str, id: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let path = format!("/api/v1/workshops/{ws}/submissions/{id}/grade");
        self.json(reqwest::Method::PUT, &path, Some(body), token).await
    }

    /// `PUT /api/v1/workshops/{ws}/grades/release`.
    pub async fn release_grades(&self, token: &str, ws: &str, released: bool) -> (u16, serde_json::Value) {
        let body = serde_json::json!({ "released": released });
        self.json(reqwest::Method::PUT, &format!("/api/v1/workshops/{ws}/grades/release"), Some(body), token).await
    }

    /// `GET /api/v1/workshops/{ws}/leaderboard/{lab}`.
    pub async fn leaderboard(&self, token: &str, ws: &str, lab: &str) -> (u16, serde_json::Value) {
        self.json(reqwest::Method::GET, &format!("/api/v1/workshops/{ws}/leaderboard/{lab}"), None, token).await
    }

    /// Downloads notebook `id` as `format` (`ipynb` or `md`); panics unless
    /// it is a 200. Returns the `content-disposition` header and the file.
    pub async fn export_notebook(&self, token: &str, id: &str, format: &str) -> (String, String) {
        let url = format!("{}/api/v1/notebooks/{id}/export?format={format}", self.base);
        let r = self.client.get(url).bearer_auth(token).send().await.expect("export");
        assert_eq!(r.status(), 200);
        let disposition = r.headers()["content-disposition"].to_str().expect("header").to_owned();
        (disposition, r.text().await.expect("body"))
    }

    /// Uploads a notebook file with `?query` (e.g. `filename=copy.md`);
    /// panics unless it is a 201. Returns the new notebook.
    pub async fn import_notebook(&self, token: &str, text: String, query: &str) -> serde_json::Value {
        let url = format!("{}/api/v1/notebooks/import?{query}", self.base);
        let r = self.client.post(url).bearer_auth(token).body(text).send().await.expect("import");
        assert_eq!(r.status(), 201);
        r.json().await.expect("JSON body")
    }

    /// Uploads `bytes` as a dataset with `?query` (e.g.
    /// `filename=a.csv&drop_bad_rows=true`); returns the status and the body.
    pub async fn upload_dataset(
        &self,
        token: &str,
        bytes: impl Into<reqwest::Body>,
        query: &str,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let url = format!("{}/api/v1/datasets?{query}", self.base);
        let r = self.client.post(url).bearer_auth(token).body(bytes).send().await.expect("upload");
        let status = r.status();
        let text = r.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
    }

    /// GETs `path` with a bearer token; returns the status and the body as text.
    pub async fn get_text(&self, token: &str, path: &str) -> (reqwest::StatusCode, String) {
        let r = self.client.get(format!("{}{path}", self.base)).bearer_auth(token).send().await.expect("GET");
        (r.status(), r.text().await.expect("body"))
    }

    /// Issues a token for an email and password; panics unless it succeeds.
    pub async fn token(&self, email: &str, password: &str) -> String {
        let body = serde_json::json!({ "email": email, "password": password });
        let (status, _, json) = self.call(reqwest::Method::POST, "/api/v1/tokens", Some(body), None).await;
        assert_eq!(status, 201, "token for {email}: {json}");
        json["token"].as_str().expect("token").to_owned()
    }
}
