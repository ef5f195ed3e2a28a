//! The training process's side of a job (`flywheel train-job DIR`): reads
//! [`JOB_FILE`], loads the data, trains with `flywheel_ml::training`,
//! prints each event as one JSON line ([`JobEventKind`]) on stdout, and
//! writes [`RESULT_FILE`] and, when it trained, [`MODEL_FILE`]; it saves
//! [`CHECKPOINT_FILE`] as it goes, and starts from one it finds. It talks to
//! nothing but its directory and stdout, so the same command serves local
//! workers, remote ones and a Slurm batch script.

use std::io::Write;
use std::path::{Path, PathBuf};

use flywheel_domain::JobEventKind;
use flywheel_ml::Table;
use flywheel_ml::training::{Checkpoint, Progress, TrainingSpec};
use serde::{Deserialize, Serialize};

use super::DataSource;

/// The job's description in its directory.
pub const JOB_FILE: &str = "job.json";
/// How it ended.
pub const RESULT_FILE: &str = "result.json";
/// The trained model (the library's saved-model JSON).
pub const MODEL_FILE: &str = "model.json";
/// The latest checkpoint ([`flywheel_ml::training::Checkpoint`]): written
/// (atomically) when the algorithm reports one, at most once per
/// [`CHECKPOINT_INTERVAL`], announced by a
/// [`JobEventKind::Checkpoint`] event; when the directory holds one at
/// start, training goes on from it.
pub const CHECKPOINT_FILE: &str = "checkpoint.json";
/// The least time between two saved checkpoints (the first is saved at once).
pub const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
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
    /// A CSV file (a relative path is in the job's directory).
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

fn load(input: &Input, dir: &Path) -> Result<Table, String> {
    match input {
        Input::Builtin(name) => {
            DataSource::builtin_table(name).ok_or_else(|| format!("there is no built-in dataset {name:?}"))
        }
        Input::Csv(path) => Table::read_csv(dir.join(path)).map_err(|e| e.to_string()),
    }
}

fn emit(event: &JobEventKind) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", serde_json::to_string(event).expect("events serialise"));
    let _ = out.flush();
}

/// Ends this process, within half a second, when the process that started
/// it (its worker, local or remote) dies: a worker killed with `kill -9`
/// leaves no orphan training on while its job is requeued elsewhere. Call
/// it first thing in `flywheel train-job`.
pub fn exit_with_parent() {
    let parent = std::os::unix::process::parent_id();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(std::time::Duration::from_millis(250));
            if std::os::unix::process::parent_id() != parent {
                // Not eprintln!: with the worker gone, stderr is a broken pipe and it would panic.
                let _ =
                    writeln!(std::io::stderr(), "the worker that started this process ({parent}) is gone: stopping");
                std::process::exit(TRAINING_ERROR);
            }
        }
    });
}

/// Runs the job in `dir`. Returns the process's exit code: 0 when it
/// trained, [`TRAINING_ERROR`] when training failed.
///
/// # Errors
/// The directory or its files cannot be read or written (the worker then
/// reports the exit and stderr).
pub fn run_job_dir(dir: &Path) -> anyhow::Result<i32> {
    let job: JobFile = serde_json::from_slice(&std::fs::read(dir.join(JOB_FILE))?)?;
    let result = train(&job, dir);
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

/// Writes `checkpoint` to `dir`'s [`CHECKPOINT_FILE`] through a temporary
/// file, so that a process killed while writing leaves the last whole one.
fn save_checkpoint(dir: &Path, checkpoint: &Checkpoint) -> std::io::Result<()> {
    let temporary = dir.join(format!("{CHECKPOINT_FILE}.tmp"));
    std::fs::write(&temporary, serde_json::to_vec(checkpoint).expect("a checkpoint serialises"))?;
    std::fs::rename(temporary, dir.join(CHECKPOINT_FILE))
}

fn train(job: &JobFile, dir: &Path) -> Result<(RunResult, String), String> {
    emit(&JobEventKind::Log { line: format!("loading data for {}", job.spec.algorithm) });
    let train = load(&job.train, dir)?;
    let validation = job.validation.as_ref().map(|v| load(v, dir)).transpose()?;
    let resume: Option<Checkpoint> = match std::fs::read(dir.join(CHECKPOINT_FILE)) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).map_err(|e| format!("the checkpoint cannot be read: {e}"))?),
        Err(_) => None,
    };
    let mut last_saved: Option<std::time::Instant> = None;
    let mut on_progress = |p: Progress| match p {
        Progress::Round { round, of, metrics } => emit(&JobEventKind::Metrics {
            round: round as u64,
            of: of as u64,
            values: metrics.into_iter().map(|(k, v)| (k, serde_json::json!(v))).collect(),
        }),
        Progress::Log(line) => emit(&JobEventKind::Log { line }),
        Progress::Checkpoint(_) if last_saved.is_some_and(|t| t.elapsed() < CHECKPOINT_INTERVAL) => {}
        Progress::Checkpoint(checkpoint) => match save_checkpoint(dir, &checkpoint) {
            Ok(()) => {
                last_saved = Some(std::time::Instant::now());
                emit(&JobEventKind::Checkpoint { round: checkpoint.round as u64, of: checkpoint.of as u64 });
            }
            Err(e) => emit(&JobEventKind::Log { line: format!("the checkpoint could not be saved: {e}") }),
        },
    };
    let trained =
        flywheel_ml::training::train(&job.spec, &train, validation.as_ref(), resume.as_ref(), &mut on_progress)
            .map_err(|e| e.to_string())?;
    let final_metrics = trained.final_metrics.into_iter().map(|(k, v)| (k, serde_json::json!(v))).collect();
    let result = RunResult::Trained { model_type: trained.model_type, final_metrics, rows: trained.rows as u64 };
    Ok((result, trained.model_json))
}
