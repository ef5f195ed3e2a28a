//! The endpoints' pages (Day 3): `/endpoints` lists mine and my team's and
//! deploys a completed training job's model (one or two variants, an
//! optional shadow); `/endpoints/{name}` shows each variant's traffic and
//! live metrics, changes weights, reads the shadow report and promotes the
//! shadow, checks drift against the baseline on request, makes endpoint
//! keys (the secret shown once) and lists the audit trail. All through the
//! `endpoints` service, as the API.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_htmx::HxRequest;
use flywheel_app::endpoints::timeline::{Interval, Timeline};
use flywheel_app::endpoints::{
    self, DeployRequest, EndpointView, Listed, ModelSource, ShadowReport, ShadowRequest, VariantRequest, batch, load,
};
use flywheel_app::training;
use flywheel_domain::{ApiToken, Capture, EndpointEvent, JobState, ReviewBand, User};
use flywheel_ml::drift::DriftReport;
use serde::Deserialize;

use super::{Layout, Page, format_time, refusal, see_other};
use crate::auth::extract::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;

#[derive(askama::Template)]
#[template(path = "endpoints.html")]
struct EndpointsPage {
    layout: Layout,
    endpoints: Vec<Listed>,
    /// Completed training jobs with a servable model: (id, what the list says).
    jobs: Vec<(String, String)>,
    error: Option<String>,
}

/// A prediction waiting for review, as the page shows it.
struct Pending {
    capture: Capture,
    /// Its features, named.
    named: Vec<(String, f64)>,
    /// When it was served.
    at: String,
}

#[derive(askama::Template)]
#[template(path = "endpoint_review.html")]
struct ReviewPage {
    layout: Layout,
    view: EndpointView,
    band: Option<ReviewBand>,
    queue: Vec<Pending>,
    /// The classes to choose from: those the model predicted.
    classes: Vec<String>,
    error: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "endpoint.html")]
struct EndpointPage {
    layout: Layout,
    view: EndpointView,
    shadow: Option<ShadowReport>,
    drift: Option<Result<DriftReport, String>>,
    keys: Vec<ApiToken>,
    /// The monitor and its last check, if it has one.
    monitor: Option<flywheel_domain::MonitorState>,
    /// The monitoring charts (SVG): traffic, latency, predicted scores.
    charts: Vec<String>,
    /// The load test asked for (`?load_test=<id>`).
    load_test: Option<TaskView>,
    /// The batch transform asked for (`?batch=<id>`).
    batch: Option<TaskView>,
    /// What a batch transform may score: `(input, label)`.
    batch_inputs: Vec<(String, String)>,
    /// A key just made: its secret, shown this once.
    new_key: Option<String>,
    events: Vec<(String, EndpointEvent)>,
    error: Option<String>,
}

impl EndpointPage {
    /// A metric for a table cell: 3 decimals, or a dash.
    fn figure(&self, x: &Option<f64>) -> String {
        x.map_or_else(|| "–".to_owned(), |x| format!("{x:.3}"))
    }

    fn traffic(&self, weight: f64) -> String {
        let total: f64 = self.view.endpoint.variants.iter().map(|v| v.weight).sum();
        if total > 0.0 { format!("{:.0} %", 100.0 * weight / total) } else { "0 %".to_owned() }
    }
}

async fn list_page(state: &AppState, user: &User, layout: Layout, error: Option<String>) -> Result<Response, AppError> {
    let endpoints = endpoints::overview(state, user).await?;
    let servable =
        ["LinearClassifier", "GradientBoostedTreesModel", "RandomForestModel", "NaiveBayesModel", "KnnClassifier"];
    let jobs = training::jobs_of(state, user)
        .await?
        .into_iter()
        .filter(|v| {
            v.job.state == JobState::Completed && v.artifacts.iter().any(|a| servable.contains(&a.kind.as_str()))
        })
        .map(|v| {
            let id = v.job.id.to_string();
            let label = format!("{} {} ({})", v.job.algorithm, &id[..8], format_time(v.job.created_at));
            (id, label)
        })
        .collect();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(Page(status, EndpointsPage { layout, endpoints, jobs, error }).into_response())
}

/// `GET /endpoints`.
pub(super) async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
) -> Result<Response, AppError> {
    list_page(&state, &user, layout, None).await
}

#[derive(Deserialize)]
pub(super) struct DeployForm {
    name: String,
    job: String,
    #[serde(default)]
    second_job: String,
    #[serde(default)]
    second_weight: String,
    #[serde(default)]
    shadow_job: String,
    #[serde(default)]
    shadow_percent: String,
    #[serde(default)]
    capture_percent: String,
}

fn number<T: std::str::FromStr>(text: &str, default: T, what: &str) -> Result<T, String> {
    let text = text.trim();
    if text.is_empty() { Ok(default) } else { text.parse().map_err(|_| format!("{what} is a number, not {text:?}.")) }
}

fn deploy_request(form: &DeployForm) -> Result<DeployRequest, String> {
    let variant = |name: &str, job: &str, weight: f64| VariantRequest {
        name: name.to_owned(),
        model: ModelSource::TrainingJob(job.to_owned()),
        weight,
    };
    let mut variants = vec![variant("a", &form.job, 1.0)];
    if !form.second_job.trim().is_empty() {
        variants.push(variant("b", form.second_job.trim(), number(&form.second_weight, 1.0, "The second weight")?));
    }
    let shadow = (!form.shadow_job.trim().is_empty())
        .then(|| -> Result<ShadowRequest, String> {
            Ok(ShadowRequest {
                variant: variant("shadow", form.shadow_job.trim(), 0.0),
                sample_percent: number(&form.shadow_percent, 100, "The shadow's share")?,
            })
        })
        .transpose()?;
    Ok(DeployRequest {
        name: form.name.trim().to_owned(),
        variants,
        capture_percent: number(&form.capture_percent, 100, "The capture share")?,
        shadow,
        review: None,
    })
}

/// `POST /endpoints`: deploys; a refusal re-shows the list with the message.
pub(super) async fn deploy(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    HxRequest(hx): HxRequest,
    layout: Layout,
    Form(form): Form<DeployForm>,
) -> Result<Response, AppError> {
    let request = match deploy_request(&form) {
        Ok(r) => r,
        Err(message) => return list_page(&state, &user, layout, Some(message)).await,
    };
    match endpoints::deploy(&state, &user, &request).await {
        Ok(e) => Ok(see_other(hx, &format!("/endpoints/{}", e.name))),
        Err(e) => list_page(&state, &user, layout, Some(refusal(e)?)).await,
    }
}

#[derive(Deserialize)]
pub(super) struct ShowQuery {
    #[serde(default)]
    drift: Option<String>,
    #[serde(default)]
    load_test: Option<String>,
    #[serde(default)]
    batch: Option<String>,
}

/// What the endpoint page shows beside the endpoint.
#[derive(Default)]
struct Shown {
    /// Check drift now.
    drift: bool,
    /// A key just made: its secret, shown once.
    new_key: Option<String>,
    /// Why the last form was refused.
    error: Option<String>,
    /// The load test to show (its id).
    load_test: Option<String>,
    /// The batch transform to show (its id).
    batch: Option<String>,
}

impl Shown {
    fn error(message: String) -> Self {
        Shown { error: Some(message), ..Shown::default() }
    }
}

/// A load test or batch transform as the page shows it.
struct TaskView {
    /// Where the page polls it (`load_test=<id>`, `batch=<id>`).
    query: String,
    /// Whether it runs (the section then polls).
    running: bool,
    /// Done and of how many (seconds, rows), while it runs.
    progress: Option<(f64, f64)>,
    /// `(measure, value)` lines.
    lines: Vec<(String, String)>,
    /// Why it failed.
    failed: Option<String>,
}

impl TaskView {
    fn unknown(query: String, message: String) -> Self {
        TaskView { query, running: false, progress: None, lines: Vec::new(), failed: Some(message) }
    }

    fn batch(id: &str, state: batch::BatchState) -> Self {
        let mut view = TaskView::unknown(format!("batch={id}"), String::new());
        view.failed = None;
        match state {
            batch::BatchState::Running((done, of)) => {
                view.running = true;
                #[allow(clippy::cast_precision_loss)]
                let progress = (done as f64, of as f64);
                view.progress = Some(progress);
                view.lines = vec![("rows scored".into(), format!("{done} of {of}"))];
            }
            batch::BatchState::Finished(r) => {
                view.lines = vec![
                    ("scored".into(), format!("{} rows by {} in {:.1} s", r.rows, r.variant, r.seconds)),
                    (
                        "new dataset (My data)".into(),
                        format!("{} — in your notebooks: Table::read_csv(\"data/{}\")", r.dataset, r.dataset),
                    ),
                    (
                        "columns carried through".into(),
                        if r.carried.is_empty() { "none".into() } else { r.carried.join(", ") },
                    ),
                ];
            }
            batch::BatchState::Failed(error) => view.failed = Some(error),
        }
        view
    }

    fn load(id: &str, state: load::LoadState) -> Self {
        let ms =
            |x: Option<[f64; 3]>| x.map_or_else(|| "–".to_owned(), |[a, b, c]| format!("{a:.3} / {b:.3} / {c:.3} ms"));
        let mut view = TaskView::unknown(format!("load_test={id}"), String::new());
        view.failed = None;
        match state {
            load::LoadState::Running { elapsed_seconds, seconds, captured, serving_ms } => {
                view.running = true;
                view.progress = Some((elapsed_seconds.min(f64::from(seconds)), f64::from(seconds)));
                view.lines = vec![
                    ("requests captured so far".into(), captured.to_string()),
                    ("serving time so far, p50 / p95 / p99".into(), ms(serving_ms)),
                ];
            }
            load::LoadState::Finished { report } => {
                let g = &report.generated;
                let [p50, p95, p99, max] = g.round_trip_ms;
                let codes: Vec<String> = g.status_codes.iter().map(|(c, n)| format!("{c}: {n}")).collect();
                view.lines = vec![
                    ("asked".into(), format!("{} requests/s for {} s", report.rps, g.seconds)),
                    ("sent".into(), format!("{} ({:.0}/s), {} failed", g.requests, report.achieved_rps, g.failures)),
                    ("answers by status".into(), codes.join(", ")),
                    (
                        "round trip (Goose, whole ms), p50 / p95 / p99 / max".into(),
                        format!("{p50} / {p95} / {p99} / {max} ms"),
                    ),
                    ("serving time (captured), p50 / p95 / p99".into(), ms(report.serving_ms)),
                ];
                if !g.errors.is_empty() {
                    view.lines.push(("first errors".into(), g.errors.join("; ")));
                }
            }
            load::LoadState::Failed { error } => view.failed = Some(error),
        }
        view
    }
}

async fn show_page(
    state: &AppState,
    user: &User,
    name: &str,
    layout: Layout,
    shown: Shown,
) -> Result<Response, AppError> {
    let Shown { drift: check_drift, new_key, error, load_test, batch } = shown;
    let load_test = match load_test {
        Some(id) => match load::status(state, user, name, &id).await {
            Ok(s) => Some(TaskView::load(&id, s)),
            Err(endpoints::EndpointError::Invalid(message)) => {
                Some(TaskView::unknown(format!("load_test={id}"), message))
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let batch = match batch {
        Some(id) => match batch::status(state, user, name, &id).await {
            Ok(s) => Some(TaskView::batch(&id, s)),
            Err(endpoints::EndpointError::Invalid(message)) => Some(TaskView::unknown(format!("batch={id}"), message)),
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let batch_inputs = batch::inputs(state, user).await?;
    let view = endpoints::get(state, user, name).await?;
    let shadow = endpoints::shadow(state, user, name).await?;
    let shadow = (shadow.variant.is_some()).then_some(shadow);
    let drift = if check_drift {
        Some(match endpoints::drift(state, user, name, endpoints::DRIFT_WINDOW).await {
            Ok((_, report)) => Ok(report),
            Err(e) => Err(refusal(e)?),
        })
    } else {
        None
    };
    let keys = endpoints::keys(state, user, name).await?;
    let monitor = match endpoints::monitor::monitor(state, user, name).await {
        Ok(m) => Some(m),
        Err(endpoints::EndpointError::Invalid(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let mut events: Vec<(String, EndpointEvent)> =
        endpoints::events(state, user, name).await?.into_iter().map(|e| (format_time(e.at), e)).collect();
    events.reverse();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let charts = view.timeline.as_ref().map(charts).unwrap_or_default();
    let page = EndpointPage {
        layout,
        view,
        shadow,
        drift,
        keys,
        monitor,
        charts,
        load_test,
        batch,
        batch_inputs,
        new_key,
        events,
        error,
    };
    Ok(Page(status, page).into_response())
}

/// The monitoring charts of an endpoint's traffic, as SVG: requests per
/// second per variant, the requests' latency percentiles, and the
/// distribution of the predicted scores, against time.
fn charts(t: &Timeline) -> Vec<String> {
    let (unit, per) = if t.step_seconds >= 60 { (60.0, "minutes") } else { (1.0, "seconds") };
    let start = time::OffsetDateTime::from_unix_timestamp(t.start.millis().div_euclid(1000))
        .map_or_else(|_| "?".to_owned(), |at| format!("{:02}:{:02}:{:02}", at.hour(), at.minute(), at.second()));
    let x_label = format!("{per} since {start} UTC (a point every {} s)", t.step_seconds);
    #[allow(clippy::cast_precision_loss)]
    let x = |i: &Interval| i.offset_seconds as f64 / unit;
    let series = |name: &str, y: &dyn Fn(&Interval) -> Option<f64>| -> (String, Vec<(f64, f64)>) {
        (name.to_owned(), t.intervals.iter().filter_map(|i| Some((x(i), y(i)?))).collect())
    };
    let mut traffic: Vec<_> = t
        .variants
        .iter()
        .enumerate()
        .map(|(v, name)| series(name, &|i| i.requests_per_second.get(v).copied()))
        .collect();
    if t.intervals.iter().any(|i| i.errors_per_second > 0.0) {
        traffic.push(series("failed", &|i| Some(i.errors_per_second)));
    }
    let latency: Vec<_> = t
        .variants
        .iter()
        .enumerate()
        .flat_map(|(v, name)| {
            ["p50", "p95", "p99"].into_iter().enumerate().map(move |(q, quantile)| (v, q, format!("{name} {quantile}")))
        })
        .map(|(v, q, label)| series(&label, &|i| i.latency_ms_by_variant.get(v).copied().flatten().map(|l| l[q])))
        .collect();
    let scores: Vec<_> = ["mean", "p50", "p90", "p99"]
        .iter()
        .enumerate()
        .map(|(q, name)| series(name, &|i| i.score.map(|s| s[q])))
        .collect();
    [
        ("Requests per second, by variant", "requests/s", traffic),
        ("Latency per request, by variant", "ms", latency),
        ("Predicted scores", "score", scores),
    ]
    .into_iter()
    .filter_map(|(title, y_label, lines)| {
        let lines: Vec<(&str, &[(f64, f64)])> =
            lines.iter().filter(|(_, p)| !p.is_empty()).map(|(n, p)| (n.as_str(), p.as_slice())).collect();
        flywheel_ml::plot::xy_plot(title, &x_label, y_label, &lines).ok().map(|p| p.to_svg().to_owned())
    })
    .collect()
}

/// `GET /endpoints/{name}` (`?drift=1` checks drift now).
pub(super) async fn show(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(name): Path<String>,
    Query(q): Query<ShowQuery>,
    layout: Layout,
) -> Result<Response, AppError> {
    show_page(
        &state,
        &user,
        &name,
        layout,
        Shown { drift: q.drift.is_some(), load_test: q.load_test, batch: q.batch, ..Shown::default() },
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct LoadTestForm {
    rps: String,
    seconds: String,
}

/// `POST /endpoints/{name}/load-test`: starts a load test of the newest
/// captured requests and shows its progress.
pub(super) async fn start_load_test(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    HxRequest(hx): HxRequest,
    Path(name): Path<String>,
    layout: Layout,
    Form(form): Form<LoadTestForm>,
) -> Result<Response, AppError> {
    let asked =
        number(&form.rps, 200, "The rate").and_then(|rps| Ok((rps, number(&form.seconds, 10, "The duration")?)));
    let (rps, seconds) = match asked {
        Ok(x) => x,
        Err(message) => return show_page(&state, &user, &name, layout, Shown::error(message)).await,
    };
    match load::start(&state, &user, &name, load::LoadTestRequest { rps, seconds, rows: None }).await {
        Ok(id) => Ok(see_other(hx, &format!("/endpoints/{name}?load_test={id}#load-test"))),
        Err(e) => show_page(&state, &user, &name, layout, Shown::error(refusal(e)?)).await,
    }
}

#[derive(Deserialize)]
pub(super) struct BatchForm {
    input: String,
    #[serde(default)]
    output: String,
}

/// `POST /endpoints/{name}/batch`: starts scoring a dataset into a new one
/// and shows its progress.
pub(super) async fn start_batch(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    HxRequest(hx): HxRequest,
    Path(name): Path<String>,
    layout: Layout,
    Form(form): Form<BatchForm>,
) -> Result<Response, AppError> {
    let output = Some(form.output.trim().to_owned()).filter(|o| !o.is_empty());
    let request = batch::BatchRequest { input: form.input, variant: None, output };
    match batch::start(&state, &user, &name, request).await {
        Ok(id) => Ok(see_other(hx, &format!("/endpoints/{name}?batch={id}#batch"))),
        Err(e) => show_page(&state, &user, &name, layout, Shown::error(refusal(e)?)).await,
    }
}

/// `POST /endpoints/{name}/weights`: one `weight_<variant>` field per variant.
pub(super) async fn set_weights(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    HxRequest(hx): HxRequest,
    Path(name): Path<String>,
    layout: Layout,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let mut weights = Vec::new();
    for (field, value) in &form {
        if let Some(variant) = field.strip_prefix("weight_") {
            match number(value, f64::NAN, &format!("The weight of {variant}")) {
                Ok(w) if w.is_finite() => weights.push((variant.to_owned(), w)),
                Ok(_) => {}
                Err(message) => return show_page(&state, &user, &name, layout, Shown::error(message)).await,
            }
        }
    }
    match endpoints::set_weights(&state, &user, &name, &weights).await {
        Ok(_) => Ok(see_other(hx, &format!("/endpoints/{name}"))),
        Err(e) => show_page(&state, &user, &name, layout, Shown::error(refusal(e)?)).await,
    }
}

/// `POST /endpoints/{name}/promote`: the shadow takes all the traffic.
pub(super) async fn promote(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    HxRequest(hx): HxRequest,
    Path(name): Path<String>,
    layout: Layout,
) -> Result<Response, AppError> {
    match endpoints::promote_shadow(&state, &user, &name).await {
        Ok(_) => Ok(see_other(hx, &format!("/endpoints/{name}"))),
        Err(e) => show_page(&state, &user, &name, layout, Shown::error(refusal(e)?)).await,
    }
}

#[derive(Deserialize)]
pub(super) struct MonitorForm {
    #[serde(default)]
    every_minutes: String,
    #[serde(default)]
    drift: Option<String>,
    #[serde(default)]
    latency_p95_ms: String,
    #[serde(default)]
    min_roc_auc: String,
    #[serde(default)]
    max_error_percent: String,
    #[serde(default)]
    auto_rollback: Option<String>,
}

/// `POST /endpoints/{name}/monitor`: sets the alarms and the schedule.
pub(super) async fn set_monitor(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    HxRequest(hx): HxRequest,
    Path(name): Path<String>,
    layout: Layout,
    Form(form): Form<MonitorForm>,
) -> Result<Response, AppError> {
    let optional = |text: &str, what: &str| -> Result<Option<f64>, String> {
        if text.trim().is_empty() { Ok(None) } else { number(text, f64::NAN, what).map(Some) }
    };
    let parsed = number(&form.every_minutes, 0_u32, "Minutes between checks").and_then(|every_minutes| {
        Ok(flywheel_domain::Monitor {
            every_minutes,
            drift: form.drift.is_some(),
            latency_p95_ms: optional(&form.latency_p95_ms, "The p95 latency bar")?,
            min_roc_auc: optional(&form.min_roc_auc, "The lowest ROC AUC")?,
            max_error_percent: optional(&form.max_error_percent, "The largest share of failed requests")?,
            auto_rollback: form.auto_rollback.is_some(),
        })
    });
    let monitor = match parsed {
        Ok(m) => m,
        Err(message) => return show_page(&state, &user, &name, layout, Shown::error(message)).await,
    };
    match endpoints::monitor::set_monitor(&state, &user, &name, &monitor).await {
        Ok(_) => Ok(see_other(hx, &format!("/endpoints/{name}#alarms"))),
        Err(e) => show_page(&state, &user, &name, layout, Shown::error(refusal(e)?)).await,
    }
}

/// `POST /endpoints/{name}/monitor/check`: checks the alarms now.
pub(super) async fn check_monitor(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    HxRequest(hx): HxRequest,
    Path(name): Path<String>,
    layout: Layout,
) -> Result<Response, AppError> {
    match endpoints::monitor::check_now(&state, &user, &name).await {
        Ok(_) => Ok(see_other(hx, &format!("/endpoints/{name}#alarms"))),
        Err(e) => show_page(&state, &user, &name, layout, Shown::error(refusal(e)?)).await,
    }
}

#[derive(Deserialize)]
pub(super) struct KeyForm {
    #[serde(default)]
    label: String,
}

/// `POST /endpoints/{name}/keys`: makes a key and shows its secret once.
pub(super) async fn create_key(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(name): Path<String>,
    layout: Layout,
    Form(form): Form<KeyForm>,
) -> Result<Response, AppError> {
    match endpoints::create_key(&state, &user, &name, &form.label).await {
        Ok((_, secret)) => {
            show_page(&state, &user, &name, layout, Shown { new_key: Some(secret), ..Shown::default() }).await
        }
        Err(e) => show_page(&state, &user, &name, layout, Shown::error(refusal(e)?)).await,
    }
}

/// `POST /endpoints/{name}/keys/{id}/revoke`.
pub(super) async fn revoke_key(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    HxRequest(hx): HxRequest,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    endpoints::revoke_key(&state, &user, &name, &id).await?;
    Ok(see_other(hx, &format!("/endpoints/{name}")))
}

#[derive(Deserialize)]
pub(super) struct BandForm {
    #[serde(default)]
    low: String,
    #[serde(default)]
    high: String,
}

/// `POST /endpoints/{name}/review-band`: sets the band (both empty: ends review).
pub(super) async fn set_review_band(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    HxRequest(hx): HxRequest,
    Path(name): Path<String>,
    layout: Layout,
    Form(form): Form<BandForm>,
) -> Result<Response, AppError> {
    let band = if form.low.trim().is_empty() && form.high.trim().is_empty() {
        Ok(None)
    } else {
        number(&form.low, f64::NAN, "The lowest score")
            .and_then(|low| Ok((low, number(&form.high, f64::NAN, "The highest score")?)))
            .and_then(|(low, high)| ReviewBand::new(low, high).map(Some).map_err(|e| format!("{}.", e.message)))
    };
    let band = match band {
        Ok(b) => b,
        Err(message) => return show_page(&state, &user, &name, layout, Shown::error(message)).await,
    };
    endpoints::set_review(&state, &user, &name, band).await?;
    Ok(see_other(hx, &format!("/endpoints/{name}/review")))
}

async fn review_page(
    state: &AppState,
    user: &User,
    name: &str,
    layout: Layout,
    error: Option<String>,
) -> Result<Response, AppError> {
    let view = endpoints::get(state, user, name).await?;
    let band = view.endpoint.review;
    let queue = match endpoints::review_queue(state, user, name).await {
        Ok((_, queue)) => queue,
        Err(endpoints::EndpointError::Invalid(_)) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let mut classes: Vec<String> =
        endpoints::captures(state, user, name, 1000).await?.1.into_iter().map(|c| c.class).collect();
    classes.sort();
    classes.dedup();
    let queue = queue
        .into_iter()
        .map(|c| {
            let named = match &view.columns {
                Some(cols) if cols.len() == c.features.len() => {
                    cols.iter().cloned().zip(c.features.iter().copied()).collect()
                }
                _ => c.features.iter().enumerate().map(|(i, x)| (format!("feature_{i}"), *x)).collect(),
            };
            Pending { at: format_time(c.at), named, capture: c }
        })
        .collect();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(Page(status, ReviewPage { layout, view, band, queue, classes, error }).into_response())
}

/// `GET /endpoints/{name}/review`: the predictions waiting for a person's label.
pub(super) async fn review(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(name): Path<String>,
    layout: Layout,
) -> Result<Response, AppError> {
    review_page(&state, &user, &name, layout, None).await
}

#[derive(Deserialize)]
pub(super) struct LabelForm {
    label: String,
}

/// `POST /endpoints/{name}/review/{inference}`: a person's label becomes the prediction's ground truth.
pub(super) async fn label(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    HxRequest(hx): HxRequest,
    Path((name, inference)): Path<(String, String)>,
    layout: Layout,
    Form(form): Form<LabelForm>,
) -> Result<Response, AppError> {
    match endpoints::ground_truth(&state, endpoints::Caller::User(&user), &name, &inference, &form.label).await {
        Ok(()) => Ok(see_other(hx, &format!("/endpoints/{name}/review"))),
        Err(e) => review_page(&state, &user, &name, layout, Some(refusal(e)?)).await,
    }
}
