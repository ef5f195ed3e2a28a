//! The training pool's page (`/training`): submit a training job, watch
//! mine and my team's queue and run (position, reason, a live metric curve
//! that htmx refreshes every two seconds while anything is active), cancel,
//! download the model or copy the line that loads it in a notebook; and the
//! pool itself — workers, queue, today's usage per team against the quota.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_htmx::HxRequest;
use flywheel_app::training::{self, DataChannels, JobRequest, JobView, PoolView, Resources};
use flywheel_domain::TrainingJobId;
use serde::Deserialize;

use super::{Layout, Page, format_time, refusal, see_other};
use crate::auth::extract::{CurrentUser, PathId};
use crate::error::AppError;
use crate::state::AppState;

/// A job as the page shows it.
pub(crate) struct JobRow {
    view: JobView,
    submitted: String,
    /// The metric curves as an SVG line chart, once there are two rounds.
    chart: Option<String>,
    /// `round / of`, while it runs.
    progress: Option<String>,
    /// The final metrics, formatted.
    metrics: Vec<(String, String)>,
    /// The line that loads the model in a notebook.
    snippet: Option<String>,
}

impl JobRow {
    fn new(view: JobView) -> Self {
        let series: Vec<(&str, &[f64])> =
            view.metrics.iter().filter(|(_, v)| v.len() >= 2).map(|(k, v)| (k.as_str(), v.as_slice())).collect();
        let chart = (!series.is_empty())
            .then(|| flywheel_ml::plot::line_plot("Metrics per round", "round", "value", &series).ok())
            .flatten()
            .map(|p| p.to_svg().to_owned());
        let progress = view.progress.map(|(r, of)| format!("round {r} of {of}"));
        let metrics = view
            .job
            .final_metrics
            .iter()
            .map(|(k, v)| (k.clone(), v.as_f64().map_or_else(|| v.to_string(), |x| format!("{x:.4}"))))
            .collect();
        let snippet = view
            .artifacts
            .first()
            .map(|a| format!("let model = {}::load(\"data/{}\")?;", a.kind, training::model_file_name(view.job.id)));
        Self { submitted: format_time(view.job.created_at), chart, progress, metrics, snippet, view }
    }

    fn active(&self) -> bool {
        self.view.job.state.is_active()
    }
}

#[derive(askama::Template)]
#[template(path = "training.html")]
struct TrainingPage {
    layout: Layout,
    jobs: JobsPartial,
    algorithms: Vec<(&'static str, &'static str)>,
    /// Data a job may name: (`builtin:…` or `dataset:…`, what the list says).
    sources: Vec<(String, String)>,
    error: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "partials/training_jobs.html")]
pub(crate) struct JobsPartial {
    csrf: String,
    rows: Vec<JobRow>,
    pool: PoolView,
    /// For instructors: today's jobs of their workshops, with who submitted each.
    staff: Vec<(JobRow, String)>,
}

impl JobsPartial {
    fn any_active(&self) -> bool {
        self.rows.iter().any(JobRow::active) || self.staff.iter().any(|(r, _)| r.active())
    }
}

async fn jobs_partial(state: &AppState, user: &flywheel_domain::User, csrf: String) -> Result<JobsPartial, AppError> {
    let rows = training::jobs_of(state, user).await?.into_iter().map(JobRow::new).collect();
    let pool = training::pool(state).await?;
    let mut staff = Vec::new();
    for view in training::staff_queue(state, user).await? {
        let who = state.db.user(view.job.owner).await?.map_or_else(String::new, |u| u.name.to_string());
        staff.push((JobRow::new(view), who));
    }
    Ok(JobsPartial { csrf, rows, pool, staff })
}

async fn page(
    state: &AppState,
    user: &flywheel_domain::User,
    layout: Layout,
    error: Option<String>,
) -> Result<Response, AppError> {
    let jobs = jobs_partial(state, user, layout.csrf.clone()).await?;
    let algorithms = flywheel_ml::training::algorithms().iter().map(|a| (a.name, a.title)).collect();
    let mut sources: Vec<(String, String)> =
        training::BUILTIN_DATASETS.iter().map(|b| (format!("builtin:{b}"), format!("{b} (built in)"))).collect();
    for d in state.db.datasets(user.id).await? {
        sources.push((format!("dataset:{}", d.name), format!("{} (my data)", d.name)));
    }
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(Page(status, TrainingPage { layout, jobs, algorithms, sources, error }).into_response())
}

/// `GET /training`.
pub(super) async fn training_page(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
) -> Result<Response, AppError> {
    page(&state, &user, layout, None).await
}

/// `GET /training/jobs`: the jobs and pool, for htmx's refresh.
pub(super) async fn jobs(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
) -> Result<Response, AppError> {
    Ok(Page(StatusCode::OK, jobs_partial(&state, &user, layout.csrf).await?).into_response())
}

#[derive(Deserialize)]
pub(super) struct SubmitForm {
    algorithm: String,
    train: String,
    #[serde(default)]
    validation: String,
    #[serde(default)]
    target: String,
    /// `name = value` per line.
    #[serde(default)]
    hyperparameters: String,
}

/// Reads `name = value` lines (numbers as numbers, the rest as text).
fn hyperparameters(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let mut map = serde_json::Map::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let (name, value) =
            line.split_once('=').ok_or_else(|| format!("Hyper-parameters, line {}: write `name = value`.", i + 1))?;
        let value = value.trim();
        let json = serde_json::from_str::<serde_json::Value>(value)
            .ok()
            .filter(|v| v.is_number() || v.is_boolean())
            .unwrap_or_else(|| serde_json::Value::String(value.trim_matches('"').to_owned()));
        map.insert(name.trim().to_owned(), json);
    }
    Ok(map)
}

/// `POST /training`: queues a job; a refusal re-shows the page with the message.
pub(super) async fn submit(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    HxRequest(hx): HxRequest,
    layout: Layout,
    Form(form): Form<SubmitForm>,
) -> Result<Response, AppError> {
    let nonempty = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let hyperparameters = match hyperparameters(&form.hyperparameters) {
        Ok(h) => h,
        Err(message) => return page(&state, &user, layout, Some(message)).await,
    };
    let request = JobRequest {
        algorithm: form.algorithm,
        hyperparameters,
        data: DataChannels { train: form.train, validation: nonempty(form.validation), target: nonempty(form.target) },
        resources: Resources::default(),
        cell_token: None,
        tuning: None,
    };
    match training::submit(&state, &user, None, &request).await {
        Ok(_) => Ok(see_other(hx, "/training")),
        Err(e) => page(&state, &user, layout, Some(refusal(e)?)).await,
    }
}

#[derive(Deserialize)]
pub(super) struct PriorityForm {
    priority: i32,
}

/// `POST /training/{id}/priority` (a workshop's instructors).
pub(super) async fn set_priority(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    HxRequest(hx): HxRequest,
    PathId(id): PathId<TrainingJobId>,
    Form(form): Form<PriorityForm>,
) -> Result<Response, AppError> {
    training::set_priority(&state, &user, id, form.priority).await?;
    Ok(see_other(hx, "/training"))
}

/// `POST /training/{id}/cancel`.
pub(super) async fn cancel(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    HxRequest(hx): HxRequest,
    PathId(id): PathId<TrainingJobId>,
) -> Result<Response, AppError> {
    training::cancel(&state, &user, id).await?;
    Ok(see_other(hx, "/training"))
}

#[cfg(test)]
mod tests {
    use super::hyperparameters;

    #[test]
    fn hyperparameter_lines_become_json() {
        let h = hyperparameters("iterations = 50\n\nlearning_rate=0.2\npredictor_type = classifier\n").unwrap();
        assert_eq!(
            serde_json::Value::Object(h),
            serde_json::json!({"iterations": 50, "learning_rate": 0.2, "predictor_type": "classifier"})
        );
        assert!(hyperparameters("iterations 50").unwrap_err().contains("line 1"));
    }
}
