//! Load tests (Day 3): drive an endpoint at a steady rate for a few
//! seconds and read its latency under load, from the endpoint's page, the
//! API or a cell (`endpoint.load_test(&rows, 200, 10)?`).
//!
//! The load comes from [Goose](https://book.goose.rs), a load-testing
//! framework, run in a process of its own (`flywheel load-test`, given a
//! [`Plan`] on stdin; Goose takes over Ctrl-C and keeps global state, so it
//! never runs inside the server). Its users send single-row JSON
//! invocations, drawn in turn from the rows given or the endpoint's newest
//! captured requests, to this server's own address, with an endpoint key
//! made for the test and revoked after it; Goose throttles them to the rate
//! asked for. The report puts Goose's round trips (whole milliseconds, as
//! Goose records them) beside the serving times the endpoint captured
//! during the test (microseconds), so a participant sees both the client's
//! and the server's view.
//!
//! A load test runs in the background ([`start`]); [`status`] says how far
//! it is and, while it runs, the captured serving times so far (what the
//! page shows live). This server keeps the tests it ran in memory
//! ([`super::background`]); one test at a time per endpoint.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use flywheel_domain::{ApiToken, ApiTokenId, Timestamp, TokenSecret, User};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use super::{EndpointError, METRIC_WINDOW, audit, served};
use crate::{App, now, random_bytes};

/// The highest rate a load test may ask for, requests per second.
pub const MAX_RPS: u32 = 5_000;
/// The longest a load test may run, seconds.
pub const MAX_SECONDS: u32 = 60;
/// Rows a load test draws its requests from, at most.
pub const MAX_ROWS: usize = 1_000;
/// How the load generator's report line starts on its stdout.
pub const REPORT_LINE: &str = "flywheel-load-report ";

/// What a load test asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadTestRequest {
    /// Requests per second to send, 1 to [`MAX_RPS`].
    pub rps: u32,
    /// For how long, seconds, 1 to [`MAX_SECONDS`].
    pub seconds: u32,
    /// The rows to send, one per request, in the endpoint's column order
    /// (the first [`MAX_ROWS`]); `None`: the endpoint's newest captured requests.
    pub rows: Option<Vec<Vec<f64>>>,
}

/// What the load generator process reads on stdin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// The server, `http://127.0.0.1:8080`.
    pub host: String,
    /// The invocation path, `/endpoints/<name>/invocations`.
    pub path: String,
    /// The endpoint key the requests carry.
    pub key: String,
    /// The request bodies, sent in turn.
    pub bodies: Vec<String>,
    /// Requests per second (Goose's throttle).
    pub rps: u32,
    /// Seconds to run.
    pub seconds: u32,
    /// Goose users sending at once.
    pub users: usize,
}

/// What the load generator saw (Goose's metrics).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generated {
    /// Requests sent and answered, or failed.
    pub requests: u64,
    /// Of those, the failed (no answer, or not 200).
    pub failures: u64,
    /// How long the load ran, seconds (Goose's whole seconds).
    pub seconds: u64,
    /// Round trip as Goose timed it, in whole milliseconds: 50th, 95th,
    /// 99th percentile and the maximum.
    pub round_trip_ms: [u64; 4],
    /// Answers by HTTP status.
    pub status_codes: BTreeMap<u16, u64>,
    /// The first failures' messages, at most 5.
    pub errors: Vec<String>,
}

/// A finished load test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadReport {
    /// The rate asked for, requests per second.
    pub rps: u32,
    /// What the load generator saw.
    pub generated: Generated,
    /// Requests per second achieved (requests ÷ seconds).
    pub achieved_rps: f64,
    /// The endpoint's serving time of the test's captured requests, in
    /// milliseconds: 50th, 95th and 99th percentile (`None` when none was
    /// captured).
    pub serving_ms: Option<[f64; 3]>,
}

/// Where a load test is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LoadState {
    /// Sending.
    Running {
        /// Seconds since it started.
        elapsed_seconds: f64,
        /// Of how many.
        seconds: u32,
        /// Requests captured so far, and their serving time percentiles
        /// (ms: 50th, 95th, 99th) when there are any.
        captured: usize,
        /// As [`LoadReport::serving_ms`], so far.
        serving_ms: Option<[f64; 3]>,
    },
    /// Done.
    Finished {
        /// The report.
        report: LoadReport,
    },
    /// It could not run; why.
    Failed {
        /// What went wrong.
        error: String,
    },
}

/// The load tests this server ran: their seconds while they run, then their reports.
pub type LoadTests = super::background::Background<u32, LoadReport>;

impl super::Serving {
    /// Tells load tests where this server listens (an unspecified address,
    /// `0.0.0.0`, is reached on loopback); call it once the server listens.
    /// Only the first call counts.
    pub fn set_address(&self, address: std::net::SocketAddr) {
        let mut address = address;
        if address.ip().is_unspecified() {
            address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let _ = self.address.set(address);
    }
}

/// Starts a load test of endpoint `name` in the background; its id for [`status`].
///
/// # Errors
/// [`EndpointError::NotFound`]; [`EndpointError::Invalid`] for a rate or
/// duration out of range, no rows to send (no captured request yet and
/// none given), rows the endpoint does not take, or a test of this
/// endpoint already running.
pub async fn start(app: &App, user: &User, name: &str, request: LoadTestRequest) -> Result<Uuid, EndpointError> {
    let prepared = prepare(app, user, name, request).await?;
    let busy = format!("A load test of {name:?} is running: wait for it to end (at most {MAX_SECONDS} s).");
    let id = app.endpoints.load_tests.begin(name, prepared.plan.seconds, &busy)?;
    let (app, user) = (app.clone(), user.clone());
    tokio::spawn(async move {
        let outcome = prepared.run(&app, &user).await.map_err(|e| e.to_string());
        app.endpoints.load_tests.finish(id, outcome);
    });
    Ok(id)
}

/// Runs a load test of endpoint `name` to its end.
///
/// # Errors
/// As [`start`]; [`EndpointError::Internal`] when the load generator cannot run.
pub async fn run(app: &App, user: &User, name: &str, request: LoadTestRequest) -> Result<LoadReport, EndpointError> {
    let id = start(app, user, name, request).await?;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        match status(app, user, name, &id.to_string()).await? {
            LoadState::Running { .. } => {}
            LoadState::Finished { report } => return Ok(report),
            LoadState::Failed { error } => return Err(EndpointError::Invalid(error)),
        }
    }
}

/// Where load test `id` of endpoint `name` is; while it runs, the serving
/// times captured so far.
///
/// # Errors
/// [`EndpointError::NotFound`]; [`EndpointError::Invalid`] for a test this
/// server does not know.
pub async fn status(app: &App, user: &User, name: &str, id: &str) -> Result<LoadState, EndpointError> {
    let served = served(app, user, name).await?;
    let task = app.endpoints.load_tests.get(name, id, "load test")?;
    Ok(match task.outcome {
        Some(Ok(report)) => LoadState::Finished { report },
        Some(Err(error)) => LoadState::Failed { error },
        None => {
            let (captured, serving_ms) = serving_since(app, served.endpoint.id, task.started).await?;
            #[allow(clippy::cast_precision_loss)]
            let elapsed_seconds = (now().millis() - task.started.millis()) as f64 / 1000.0;
            LoadState::Running { elapsed_seconds, seconds: task.progress, captured, serving_ms }
        }
    })
}

/// A checked load test, ready to run.
struct Prepared {
    endpoint: flywheel_domain::EndpointId,
    name: String,
    plan: Plan,
}

async fn prepare(app: &App, user: &User, name: &str, request: LoadTestRequest) -> Result<Prepared, EndpointError> {
    let served = served(app, user, name).await?;
    if !(1..=MAX_RPS).contains(&request.rps) {
        return Err(EndpointError::Invalid(format!(
            "A load test sends 1 to {MAX_RPS} requests per second, not {}.",
            request.rps
        )));
    }
    if !(1..=MAX_SECONDS).contains(&request.seconds) {
        return Err(EndpointError::Invalid(format!(
            "A load test runs 1 to {MAX_SECONDS} seconds, not {}.",
            request.seconds
        )));
    }
    let address = app.endpoints.address.get().ok_or_else(|| {
        EndpointError::Invalid("This server is not listening for requests, so it cannot load-test itself.".into())
    })?;
    let rows = match request.rows {
        Some(rows) => rows,
        None => {
            app.endpoints.flush().await;
            let captures = app.db.captures(served.endpoint.id, MAX_ROWS as u64).await?;
            captures.into_iter().map(|c| c.features).collect()
        }
    };
    if rows.is_empty() {
        return Err(EndpointError::Invalid(format!(
            "There are no rows to send: invoke {name:?} once first (its captured requests are replayed), or give rows."
        )));
    }
    let width = served.columns.as_ref().map_or(rows[0].len(), Vec::len);
    if let Some((i, row)) = rows.iter().enumerate().find(|(_, r)| r.len() != width) {
        return Err(EndpointError::Invalid(format!(
            "Row {i} of the load test has {} values; the endpoint takes {width}.",
            row.len()
        )));
    }
    let bodies = rows.iter().take(MAX_ROWS).map(|row| serde_json::json!({ "instances": [row] }).to_string()).collect();
    let users = usize::try_from(request.rps.div_ceil(100).clamp(1, 16)).unwrap_or(1);
    let plan = Plan {
        host: format!("http://{address}"),
        path: format!("/endpoints/{name}/invocations"),
        key: String::new(),
        bodies,
        rps: request.rps,
        seconds: request.seconds,
        users,
    };
    Ok(Prepared { endpoint: served.endpoint.id, name: name.to_owned(), plan })
}

impl Prepared {
    /// Makes the test's key, runs the load generator, revokes the key and
    /// records the result in the endpoint's audit trail.
    async fn run(mut self, app: &App, user: &User) -> Result<LoadReport, EndpointError> {
        let secret = TokenSecret::endpoint_key_from_random_bytes(random_bytes::<32>()?);
        let started = now();
        let key = ApiToken {
            id: ApiTokenId(Uuid::new_v4()),
            user_id: user.id,
            name: ApiToken::parse_name("load test")?,
            created_at: started,
            last_used_at: None,
            revoked_at: None,
        };
        app.db.create_endpoint_key(self.endpoint, &key, &secret.digest()).await?;
        self.plan.key = secret.expose().to_owned();
        let generated = generate_in_process(app, &self.plan).await;
        app.db.revoke_endpoint_key(self.endpoint, key.id, now()).await?;
        let generated = generated.map_err(|e| {
            tracing::error!(error = %e, endpoint = %self.name, "the load generator failed");
            EndpointError::Invalid(format!("The load generator failed: {e}"))
        })?;
        let (_, serving_ms) = serving_since(app, self.endpoint, started).await?;
        #[allow(clippy::cast_precision_loss)]
        let achieved_rps = generated.requests as f64 / generated.seconds.max(1) as f64;
        let report = LoadReport { rps: self.plan.rps, generated, achieved_rps, serving_ms };
        let g = &report.generated;
        let serving = report
            .serving_ms
            .map_or_else(String::new, |[p50, _, p99]| format!("; served in p50 {p50:.2} ms, p99 {p99:.2} ms"));
        let message = format!(
            "load test: {} requests/s asked for {} s; {} sent ({:.0}/s), {} failed{serving}",
            report.rps, self.plan.seconds, g.requests, report.achieved_rps, g.failures
        );
        audit(app, self.endpoint, user, message).await;
        Ok(report)
    }
}

/// The number and serving-time percentiles (ms) of the endpoint's captured
/// requests since `since` (newest [`METRIC_WINDOW`] rows).
async fn serving_since(
    app: &App,
    endpoint: flywheel_domain::EndpointId,
    since: Timestamp,
) -> Result<(usize, Option<[f64; 3]>), EndpointError> {
    app.endpoints.flush().await;
    let captures = app.db.captures(endpoint, METRIC_WINDOW).await?;
    let requests = super::timeline::requests(captures.iter().filter(|c| c.at >= since));
    #[allow(clippy::cast_precision_loss)]
    let ms: Vec<f64> = requests.iter().map(|r| r.2 as f64 / 1000.0).collect();
    Ok((ms.len(), super::timeline::quantiles(ms, [0.5, 0.95, 0.99])))
}

/// Runs `flywheel load-test` with `plan` on its stdin and reads its report.
async fn generate_in_process(app: &App, plan: &Plan) -> anyhow::Result<Generated> {
    use std::process::Stdio;
    let mut child = tokio::process::Command::new(crate::training::worker::program(app))
        .arg("load-test")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child.stdin.take().ok_or_else(|| anyhow::anyhow!("no stdin"))?;
    stdin.write_all(serde_json::to_string(plan)?.as_bytes()).await?;
    drop(stdin);
    let mut stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut stderr = child.stderr.take().ok_or_else(|| anyhow::anyhow!("no stderr"))?;
    let limit = Duration::from_secs(u64::from(plan.seconds) + 30);
    let (mut out, mut err) = (String::new(), String::new());
    let read = async {
        let (a, b) = tokio::join!(stdout.read_to_string(&mut out), stderr.read_to_string(&mut err));
        a.and(b)
    };
    tokio::time::timeout(limit, read)
        .await
        .map_err(|_| anyhow::anyhow!("no report within {} s", limit.as_secs()))??;
    let status = child.wait().await?;
    let line = out.lines().rev().find_map(|l| l.strip_prefix(REPORT_LINE)).ok_or_else(|| {
        let tail: String = err.chars().rev().take(500).collect::<Vec<_>>().into_iter().rev().collect();
        anyhow::anyhow!("it ended ({status}) without a report: {tail}")
    })?;
    Ok(serde_json::from_str(line)?)
}

/// The load generator's side (`flywheel load-test`): runs `plan` with Goose
/// and returns what it saw.
///
/// # Errors
/// Goose refuses the plan or cannot start.
pub async fn generate(plan: Plan) -> anyhow::Result<Generated> {
    use goose::config::{GooseDefault, GooseDefaultType};
    use goose::prelude::*;

    if plan.bodies.is_empty() {
        anyhow::bail!("the plan has no request bodies");
    }
    let plan = Arc::new((plan, AtomicUsize::new(0)));
    let send = {
        let plan = Arc::clone(&plan);
        let f: TransactionFunction = Arc::new(move |user: &mut GooseUser| {
            let plan = Arc::clone(&plan);
            Box::pin(async move { invoke(user, &plan.0, &plan.1).await })
        });
        Transaction::new(f).set_name("invoke")
    };
    let p = &plan.0;
    let metrics = GooseAttack::initialize_with_config(goose::config::GooseConfiguration::default())?
        .register_scenario(scenario!("endpoint").register_transaction(send))
        .set_default(GooseDefault::Host, p.host.as_str())?
        .set_default(GooseDefault::Users, p.users)?
        .set_default(GooseDefault::HatchRate, p.users.to_string().as_str())?
        .set_default(GooseDefault::RunTime, usize::try_from(p.seconds)?)?
        .set_default(GooseDefault::ThrottleRequests, usize::try_from(p.rps)?)?
        .set_default(GooseDefault::NoResetMetrics, true)?
        .set_default(GooseDefault::NoPrintMetrics, true)?
        .set_default(GooseDefault::NoErrorSummary, true)?
        .set_default(GooseDefault::NoTelnet, true)?
        .set_default(GooseDefault::NoWebSocket, true)?
        .set_default(GooseDefault::Quiet, 1)?
        .execute()
        .await?;
    let mut times: BTreeMap<usize, usize> = BTreeMap::new();
    let (mut requests, mut failures) = (0_u64, 0_u64);
    let mut status_codes: BTreeMap<u16, u64> = BTreeMap::new();
    for aggregate in metrics.requests.values() {
        for (ms, n) in &aggregate.raw_data.times {
            *times.entry(*ms).or_default() += n;
        }
        requests += (aggregate.success_count + aggregate.fail_count) as u64;
        failures += aggregate.fail_count as u64;
        for (code, n) in &aggregate.status_code_counts {
            *status_codes.entry(*code).or_default() += *n as u64;
        }
    }
    let errors = metrics.errors.values().take(5).map(|e| format!("{} ({}×)", e.error, e.occurrences)).collect();
    Ok(Generated {
        requests,
        failures,
        seconds: metrics.duration as u64,
        round_trip_ms: [
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            percentile(&times, 0.99),
            percentile(&times, 1.0),
        ],
        status_codes,
        errors,
    })
}

/// One request: the next body, with the key; anything but 200 is a failure.
async fn invoke(
    user: &mut goose::goose::GooseUser,
    plan: &Plan,
    next: &AtomicUsize,
) -> goose::goose::TransactionResult {
    use goose::goose::{GooseMethod, GooseRequest};
    let body = plan.bodies[next.fetch_add(1, Ordering::Relaxed) % plan.bodies.len()].clone();
    let builder = user
        .get_request_builder(&GooseMethod::Post, &plan.path)?
        .bearer_auth(&plan.key)
        .header("content-type", "application/json")
        .body(body);
    let request = GooseRequest::builder().set_request_builder(builder).expect_status_code(200).build();
    user.request(request).await?;
    Ok(())
}

/// The `q` quantile (nearest rank) of a histogram of whole milliseconds.
fn percentile(times: &BTreeMap<usize, usize>, q: f64) -> u64 {
    let total: usize = times.values().sum();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let rank = ((total.saturating_sub(1)) as f64 * q).round() as usize;
    let mut seen = 0;
    for (ms, n) in times {
        seen += n;
        if seen > rank {
            return *ms as u64;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_histogram_are_nearest_rank() {
        let times: BTreeMap<usize, usize> = [(0, 90), (1, 8), (7, 2)].into_iter().collect();
        assert_eq!(percentile(&times, 0.5), 0);
        assert_eq!(percentile(&times, 0.95), 1);
        assert_eq!(percentile(&times, 0.99), 7);
        assert_eq!(percentile(&times, 1.0), 7);
        assert_eq!(percentile(&BTreeMap::new(), 0.5), 0);
    }
}
