//! The Flywheel web server: pages, the REST API, authentication, the
//! command line, configuration and wiring, over the application services of
//! `flywheel-app`. `main.rs` is a thin wrapper around [`cli::run`]; tests
//! build an [`Application`] on an ephemeral port.
//!
//! Architecture invariant: this is the only crate that knows axum, askama
//! and htmx.
//!
//! # Design notes
//!
//! The binary and the web layer. `main.rs` is a few lines around `cli::run`.
//!
//! - `cli.rs` — clap commands: `serve` (default), `migrate`, `user create`,
//!   `notebook check FILE`.
//! - `config.rs` — `Config` from defaults → `flywheel.toml` → `FLYWHEEL_*` →
//!   command line (figment). `flywheel.example.toml` documents every key; a test
//!   keeps it in step with the defaults.
//! - `app.rs` — `Application::build(config, listener)`: opens the database, builds
//!   the router, serves until a shutdown future completes. Tests pass a listener
//!   bound to port 0. Also `/healthz`, `/readyz`, security headers, the 404
//!   fallback and the housekeeping task (expired sessions, rate-limit keys).
//! - `auth/` — `log_in` (the rate limits, then `accounts::check_credentials`),
//!   tower-sessions' store on the `Database` (`sessions`), the CSRF synchronizer token (`csrf`), governor
//!   rate limits (`limits`), and the extractors that enforce roles (`extract`:
//!   `CurrentUser`, `AdminUser`, `ApiUser`, `ApiAdmin`; `InWorkshop<C>` and
//!   `WorkshopStaff<C>`, the route's `{id}` workshop as caller `C` may see it,
//!   404 for a malformed, unknown or foreign id and 403 for a participant on a
//!   staff route, before the handler and its body).
//! - `web/` — the HTML routes (`learn.rs`: `/learn/{slug}` and `/progress`;
//!   `notebooks.rs`: labs and notebooks; `account.rs`). One askama struct per page (`templates/`), one
//!   `IntoResponse` for all of them (`Page`). Pages are complete documents;
//!   htmx (`hx-boost` on `#page`) swaps them in place, and redirects become
//!   `HX-Location` for htmx requests and `303` otherwise.
//! - `api/` — `/api/v1` handlers and the OpenAPI document (utoipa annotations on
//!   the handlers; `ApiDoc` lists them, and `api::openapi()` merges in each
//!   module's document, e.g. `sessions::SessionsDoc`). `api/sessions.rs` is the
//!   sessions API, with server-sent events for live output; `api/notebooks.rs`
//!   the labs and notebooks API. `ApiUser` takes a bearer token, or the session
//!   cookie plus `X-CSRF-Token` (how the notebook page calls the API).
//! - `error.rs` — `AppError`, the one error type: 4xx variants carry a message
//!   safe to show; internal errors are logged and shown as "something went
//!   wrong". Its `IntoResponse` writes the JSON error shape and attaches
//!   `ErrorInfo`; a middleware on the HTML routes turns that into an error page.
//! - `metrics.rs` — Prometheus registry (prometheus-client), a route-layer that
//!   records each request by route pattern, `/metrics`.
//!
//! The server process links `flywheel-ml` through `flywheel-app` for scoring
//! only (`workshops.rs`); cells never run in the server process.
//!
//! **Invariant:** `server` is the only crate that knows axum, askama and htmx
//! (and utoipa, tower-http, tower-sessions), and no library crate depends on
//! it; every `/api/v1` route is in the OpenAPI document; every configuration
//! key is in `flywheel.example.toml`. All checked by `tests/tidy.rs`.
//! Library crates return domain types and `thiserror` errors; the server maps
//! them to HTTP.
//!
//! # Walkthroughs
//!
//! **A person signs up in the browser.** `GET /signup` → the session layer
//! loads (or starts) a session → `Layout` puts the session's CSRF token into the
//! form and into `hx-headers` → the person submits → `csrf::verify` compares the
//! token → `web::account::signup` parses the fields through `accounts::SignUp`
//! (each bad field is shown beside its input, 422, nothing written) →
//! `accounts::sign_up` hashes the password (argon2id, on the blocking pool) and
//! calls `AccountStore::create_user` (a duplicate email, in any case, is 409) → the
//! session id is cycled and the user id stored in it → 303 (or `HX-Location`) to
//! `/dashboard`.
//!
//! **A program calls the API.** `POST /api/v1/tokens` with email and password →
//! `auth::log_in` (rate limits, then `accounts::check_credentials`: argon2 verify) → `accounts::issue_token`
//! stores the SHA-256 digest of a fresh `fw_…` secret and returns the secret
//! once → later requests send `Authorization: Bearer fw_…` → the `ApiUser`
//! extractor looks the digest up (`authenticate_api_token`, which also records
//! the use) → the handler runs.
//!
//! **A participant runs a cell.** `POST /api/v1/sessions` → `ApiUser` →
//! `KernelManager::create_session` takes a warm worker from the pool (or
//! spawns one) and starts the session's actor → `POST …/execute {code}` →
//! `KernelSession::execute` records a queued `Execution` and sends the code to the
//! actor (202) → the actor asks the `Limiter` for a compile slot (queue
//! position shown meanwhile) → `Request::Execute` over the worker's stdin →
//! evcxr compiles and runs it in its child; the worker forwards printed lines
//! as `output` events while it runs → the actor caps and records them and
//! broadcasts each → `GET …/executions/{id}/events` streams them as SSE →
//! `done` ends the execution, frees the slot and the next cell starts. A cell
//! past the time limit gets `Request::Interrupt`; the worker kills evcxr's
//! child, and the cell ends `interrupted` with a note.
//!
//! **A participant works in a lab notebook.** `/labs` → *Open* → `POST
//! /labs/{slug}/open` makes the user's copy of the lab (once; `notebooks.lab_slug`
//! is unique per owner) → `/notebooks/{id}` renders the shell with the notebook's
//! JSON → the editor autosaves edits (`PATCH` with the revision it holds; 409 if
//! another tab saved first) → Shift+Enter flushes the save, then `POST
//! …/cells/{cell}/run` → `notebooks::run_cell` opens (or reuses) the notebook's
//! session and queues the saved source → the page follows
//! `/api/v1/sessions/{sid}/executions/{eid}/events` → on `done` the server's
//! own task writes the outputs to `cell_outputs`, so a reload (or a closed tab)
//! finds them.
//!
//! **A team submits a model.** In the fraud lab a cell runs
//! `gbt.save("fraud-gbt.json")?` in the participant's kernel → on the workshop
//! page they submit `fraud-gbt.json` → `workshops::kernel_file` asks their open
//! sessions (`KernelSession::read_file`) for it → `workshops::submit` checks the
//! team, the deadline, the daily limit (counted per UTC day) and the
//! idempotency key → `spawn_blocking`: `SubmittedModel::from_json`, then the
//! lab's `HiddenTest` for the workshop's seed (drawn once) scores it on both
//! halves → the submission is stored with both scores → the leaderboard shows
//! the public one until the workshop closes, then ranks by the private one.
//!
//! **A participant passes a check.** In their copy of the fraud lab they run
//! `check-gbt` → `notebooks::run_cell` notes that the notebook's lab has a
//! step with that cell's id → the kernel runs the cell; its last value, a
//! `Check`, prints `text/html` and `application/vnd.flywheel.check+json`
//! through evcxr's display protocol → the run ends → the server task stores
//! the outputs, sees `"passed": true` (`flywheel_domain::check_passed`) and
//! calls `ProgressStore::record_step` → `/labs`, the Day 2 page and `/progress`
//! show the step done. The check ran in the participant's own kernel, so
//! this is their record, not a grade.

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod metrics;
pub mod remote_worker;
pub mod state;
pub mod web;

pub use app::Application;
pub use config::Config;

pub use flywheel_app::{now, random_bytes, random_hex};
