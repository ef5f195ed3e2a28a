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
    self, DeployRequest, EndpointView, Listed, ModelSource, ShadowReport, ShadowRequest, VariantRequest,
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
}

async fn show_page(
    state: &AppState,
    user: &User,
    name: &str,
    layout: Layout,
    check_drift: bool,
    new_key: Option<String>,
    error: Option<String>,
) -> Result<Response, AppError> {
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
    Ok(Page(status, EndpointPage { layout, view, shadow, drift, keys, monitor, charts, new_key, events, error })
        .into_response())
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
    let traffic: Vec<_> = t
        .variants
        .iter()
        .enumerate()
        .map(|(v, name)| series(name, &|i| i.requests_per_second.get(v).copied()))
        .collect();
    let latency: Vec<_> = ["p50", "p95", "p99"]
        .iter()
        .enumerate()
        .map(|(q, name)| series(name, &|i| i.latency_ms.map(|l| l[q])))
        .collect();
    let scores: Vec<_> = ["mean", "p50", "p90", "p99"]
        .iter()
        .enumerate()
        .map(|(q, name)| series(name, &|i| i.score.map(|s| s[q])))
        .collect();
    [
        ("Requests per second, by variant", "requests/s", traffic),
        ("Latency per request", "ms", latency),
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
    show_page(&state, &user, &name, layout, q.drift.is_some(), None, None).await
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
                Err(message) => return show_page(&state, &user, &name, layout, false, None, Some(message)).await,
            }
        }
    }
    match endpoints::set_weights(&state, &user, &name, &weights).await {
        Ok(_) => Ok(see_other(hx, &format!("/endpoints/{name}"))),
        Err(e) => show_page(&state, &user, &name, layout, false, None, Some(refusal(e)?)).await,
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
        Err(e) => show_page(&state, &user, &name, layout, false, None, Some(refusal(e)?)).await,
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
            auto_rollback: form.auto_rollback.is_some(),
        })
    });
    let monitor = match parsed {
        Ok(m) => m,
        Err(message) => return show_page(&state, &user, &name, layout, false, None, Some(message)).await,
    };
    match endpoints::monitor::set_monitor(&state, &user, &name, &monitor).await {
        Ok(_) => Ok(see_other(hx, &format!("/endpoints/{name}#alarms"))),
        Err(e) => show_page(&state, &user, &name, layout, false, None, Some(refusal(e)?)).await,
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
        Err(e) => show_page(&state, &user, &name, layout, false, None, Some(refusal(e)?)).await,
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
        Ok((_, secret)) => show_page(&state, &user, &name, layout, false, Some(secret), None).await,
        Err(e) => show_page(&state, &user, &name, layout, false, None, Some(refusal(e)?)).await,
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
        Err(message) => return show_page(&state, &user, &name, layout, false, None, Some(message)).await,
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
