//! Training jobs submitted from a notebook cell. A cell cannot reach the
//! server (its sandbox refuses sockets), so `TrainingJob::…::submit()` in
//! `flywheel_ml` leaves its job in the kernel's working directory —
//! `training-<token>-job.json` (the `TrainingSpec`), `…-train.csv` and
//! `…-validation.csv` — and ends the cell's output with
//! [`TRAINING_JOB_MIME`] listing the tokens. This module watches every
//! kernel session a user opens: when a cell's result carries that MIME
//! type, it reads the files, queues each job as the session's owner (the
//! same checks as the API), and answers in the kernel's `data/` folder with
//! `training-<token>.json` — rewritten at every state change, so
//! `job.wait()` in a later cell sees the job run and finish, and then finds
//! the model at `data/model-<id>.json`.

use std::sync::Arc;

use flywheel_domain::{JobState, TrainingJob, User};
use flywheel_kernel_manager::{KernelSession, SessionEvent};
use flywheel_kernel_protocol::Output;
use flywheel_ml::training::TrainingSpec;
use tokio::sync::broadcast::error::RecvError;

use super::{DataChannels, JobRequest, Resources, TrainingError, model_file_name, submit_checked};
use crate::App;

/// The MIME type of a cell result that submits training jobs: `{"jobs": ["<token>", …]}`.
/// The same string as `flywheel_ml::training::TRAINING_JOB_MIME` (the kernel suite runs both ends).
pub const TRAINING_JOB_MIME: &str = "application/vnd.flywheel.training-job+json";

/// Largest job spec read from a kernel, in bytes.
const MAX_SPEC_BYTES: u64 = 64 * 1024;

/// The kernel file a job's status is written to.
pub fn status_file_name(token: &str) -> String {
    format!("training-{token}.json")
}

/// A cell's token, if `job` came from one.
pub fn token_of(job: &TrainingJob) -> Option<&str> {
    job.spec.get("cell_token").and_then(serde_json::Value::as_str)
}

/// What `data/training-<token>.json` says about `job`.
pub fn status_json(job: &TrainingJob) -> String {
    let model = (job.state == JobState::Completed).then(|| model_file_name(job.id));
    serde_json::json!({
        "id": job.id.to_string(),
        "state": job.state.as_str(),
        "error": job.error,
        "model": model,
        "final_metrics": job.final_metrics,
    })
    .to_string()
}

/// Writes `job`'s status into its owner's open sessions (when a cell submitted it).
pub fn publish(app: &App, job: &TrainingJob) {
    if let Some(token) = token_of(job) {
        let status: Arc<str> = Arc::from(status_json(job));
        for session in app.kernels.sessions(job.owner) {
            session.put_file(&status_file_name(token), status.clone());
        }
    }
}

/// Watches `session` for cells that submit training jobs, for as long as it lives.
pub fn watch(app: &App, user: &User, session: &Arc<KernelSession>) {
    let (app, user, session) = (app.clone(), user.clone(), Arc::clone(session));
    let mut events = session.subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(SessionEvent::Output { output: Output::ExecuteResult { data, .. }, .. }) => {
                    if let Some(json) = data.get(TRAINING_JOB_MIME) {
                        submit_from_cell(&app, &user, &session, json).await;
                    }
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    });
}

async fn submit_from_cell(app: &App, user: &User, session: &KernelSession, json: &str) {
    let tokens: Vec<String> = serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| serde_json::from_value(v.get("jobs")?.clone()).ok())
        .unwrap_or_default();
    for token in tokens.into_iter().filter(|t| t.len() == 16 && t.bytes().all(|b| b.is_ascii_hexdigit())) {
        let answer = match submit_one(app, user, session, &token).await {
            Ok(job) => status_json(&job),
            Err(e) => {
                let message = match &e {
                    TrainingError::Store(_) => "the training pool could not store the job; submit it again".to_owned(),
                    other => other.to_string(),
                };
                serde_json::json!({"id": null, "state": "failed", "error": message, "model": null, "final_metrics": {}})
                    .to_string()
            }
        };
        session.put_file(&status_file_name(&token), Arc::from(answer));
    }
}

async fn read(session: &KernelSession, name: &str, max: u64) -> Result<Option<String>, TrainingError> {
    match session.read_file(name, max).await {
        Ok(bytes) => {
            String::from_utf8(bytes).map(Some).map_err(|_| TrainingError::Invalid(format!("{name} is not UTF-8 text")))
        }
        Err(flywheel_kernel_manager::FileError::NotFound(_)) => Ok(None),
        Err(e) => Err(TrainingError::Invalid(format!("{name}: {e}"))),
    }
}

async fn submit_one(
    app: &App,
    user: &User,
    session: &KernelSession,
    token: &str,
) -> Result<TrainingJob, TrainingError> {
    let max = u64::try_from(app.settings.max_dataset_bytes).unwrap_or(u64::MAX);
    let spec = read(session, &format!("training-{token}-job.json"), MAX_SPEC_BYTES)
        .await?
        .ok_or_else(|| TrainingError::Invalid(format!("the job's file training-{token}-job.json is missing")))?;
    let spec: TrainingSpec = serde_json::from_str(&spec)
        .map_err(|e| TrainingError::Invalid(format!("the job's file is not a training spec: {e}")))?;
    let train = read(session, &format!("training-{token}-train.csv"), max)
        .await?
        .ok_or_else(|| TrainingError::Invalid("the job has no training data".into()))?;
    let validation = read(session, &format!("training-{token}-validation.csv"), max).await?;
    let request = JobRequest {
        algorithm: spec.algorithm,
        hyperparameters: spec.hyperparameters,
        data: DataChannels {
            train: "cell:train.csv".into(),
            validation: validation.as_ref().map(|_| "cell:validation.csv".into()),
            target: spec.target,
        },
        resources: Resources::default(),
        cell_token: Some(token.to_owned()),
        tuning: None,
    };
    let mut inputs = vec![("train.csv".to_owned(), train)];
    inputs.extend(validation.map(|v| ("validation.csv".to_owned(), v)));
    submit_checked(app, user, None, &request, inputs).await.map(|view| view.job)
}
