//! The training process's side of a job (`flywheel train-job DIR`): reads
//! [`JOB_FILE`], loads the data, trains with `flywheel_ml::training`,
//! prints each event as one JSON line ([`JobEventKind`]) on stdout, and
//! writes [`RESULT_FILE`] and, when it trained, [`MODEL_FILE`]. It talks to
//! nothing but its directory and stdout, so the same command serves local
//! workers, remote ones and a Slurm batch script.

use std::io::Write;
use std::path::{Path, PathBuf};

use flywheel_domain::JobEventKind;
use flywheel_ml::Table;
use flywheel_ml::training::{Progress, TrainingSpec};
use serde::{Deserialize, Serialize};

use super::DataSource;

/// The job's description in its directory.
pub const JOB_FILE: &str = "job.json";
/// How it ended.
pub const RESULT_FILE: &str = "result.json";
/// The trained model (the library's saved-model JSON).
pub const MODEL_FILE: &str = "model.json";
/// The exit code when training itself failed (bad data, a fit error); the
/// message is in [`RESULT_FILE`].
pub const TRAINING_ERROR: i32 = 3;

/// What [`JOB_FILE`] holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobFile {
    /// Algorithm, hyper-parameters, target.
    pub spec: TrainingSpec,
    /// The training data.
    pub train: Input,
    /// Validation data, if any.
    pub validation: Option<Input>,
}

/// Where a table comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// A built-in table, by name.
    Builtin(String),
    /// A CSV file.
    Csv(PathBuf),
}

/// What [`RESULT_FILE`] holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum RunResult {
    /// It trained; the model is in [`MODEL_FILE`].
    Trained {
        /// The saved model's type.
        model_type: String,
        /// Its metrics.
        final_metrics: serde_json::Map<String, serde_json::Value>,
        /// Rows it trained on.
        rows: u64,
    },
    /// Training failed; why.
    Failed {
        /// The library's message.
        error: String,
    },
}

fn load(input: &Input) -> Result<Table, String> {
    match input {
        Input::Builtin(name) => {
            DataSource::builtin_table(name).ok_or_else(|| format!("there is no built-in dataset {name:?}"))
        }
        Input::Csv(path) => Table::read_csv(path).map_err(|e| e.to_string()),
    }
}

fn emit(event: &JobEventKind) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", serde_json::to_string(event).expect("events serialise"));
    let _ = out.flush();
}

/// Runs the job in `dir`. Returns the process's exit code: 0 when it
/// trained, [`TRAINING_ERROR`] when training failed.
///
/// # Errors
/// The directory or its files cannot be read or written (the worker then
/// reports the exit and stderr).
pub fn run_job_dir(dir: &Path) -> anyhow::Result<i32> {
    let job: JobFile = serde_json::from_slice(&std::fs::read(dir.join(JOB_FILE))?)?;
    let result = train(&job);
    let code = match &result {
        Ok((RunResult::Trained { .. }, model)) => {
            std::fs::write(dir.join(MODEL_FILE), model)?;
            0
        }
        _ => TRAINING_ERROR,
    };
    let result = result.map_or_else(|error| RunResult::Failed { error }, |(r, _)| r);
    if let RunResult::Failed { error } = &result {
        emit(&JobEventKind::Log { line: format!("error: {error}") });
    }
    std::fs::write(dir.join(RESULT_FILE), serde_json::to_vec(&result)?)?;
    Ok(code)
}

fn train(job: &JobFile) -> Result<(RunResult, String), String> {
    emit(&JobEventKind::Log { line: format!("loading data for {}", job.spec.algorithm) });
    let train = load(&job.train)?;
    let validation = job.validation.as_ref().map(load).transpose()?;
    let mut on_progress = |p: Progress| match p {
        Progress::Round { round, of, metrics } => emit(&JobEventKind::Metrics {
            round: round as u64,
            of: of as u64,
            values: metrics.into_iter().map(|(k, v)| (k, serde_json::json!(v))).collect(),
        }),
        Progress::Log(line) => emit(&JobEventKind::Log { line }),
    };
    let trained = flywheel_ml::training::train(&job.spec, &train, validation.as_ref(), &mut on_progress)
        .map_err(|e| e.to_string())?;
    let final_metrics = trained.final_metrics.into_iter().map(|(k, v)| (k, serde_json::json!(v))).collect();
    let result = RunResult::Trained { model_type: trained.model_type, final_metrics, rows: trained.rows as u64 };
    Ok((result, trained.model_json))
}
