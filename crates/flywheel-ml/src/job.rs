//! Training jobs submitted from a notebook cell, to run on the shared
//! training pool instead of in the kernel:
//!
//! ```no_run
//! use flywheel_ml::prelude::*;
//!
//! let credit = datasets::german_credit();
//! let job = TrainingJob::new(GradientBoostedTrees::params().iterations(300).max_depth(4))
//!     .train(&credit)
//!     .target("creditability")
//!     .submit()?;
//! // … and in a later cell:
//! let model: GradientBoostedTreesModel = job.model()?;
//! # Ok::<(), MlError>(())
//! ```
//!
//! **The contract with the server.** A cell cannot reach the network (its
//! sandbox refuses sockets), so [`TrainingJob::submit`] leaves the job in
//! the kernel's working directory (the directory the cell runs in):
//!
//! - `training-<token>-job.json`: the job's [`TrainingSpec`] in its serde
//!   form, `{"algorithm": "<snake_case>", "hyperparameters": {…}, "target": "<column>" | null}`;
//! - `training-<token>-train.csv` and, with validation data,
//!   `training-<token>-validation.csv`: [`Table::to_csv_string`]'s CSV (a
//!   header row, then the rows; numbers that parse back exactly).
//!
//! `<token>` is 16 lower-case hex digits, new for every submission. The
//! files lie flat in the working directory because the server reads a
//! kernel's files by plain name only (no folders). `submit` then prints the
//! rich output [`TRAINING_JOB_MIME`] `{"jobs": ["<token>", …]}` listing
//! every job submitted so far in the cell (evcxr keeps the last content of
//! each MIME type of a cell, so each submission prints the whole list; the
//! list is a static, and each cell's compiled code has its own statics).
//! When the cell finishes, the server reads the files, queues each job as
//! the cell's user and answers in `data/training-<token>.json` —
//! `{"id": "<uuid>" | null, "state": "pending" | "running" | "completed" | "failed" | "cancelled",
//! "error": null | "<message>", "model": null | "model-<first 8 characters of id>.json", "final_metrics": {…}}`
//! ([`JobStatus`]) — rewritten at every change of state; a completed job's
//! saved model is `data/<model>`. [`SubmittedJob`] reads those.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::display::{emit, escape};
use crate::error::{MlError, Result};
use crate::training::{self, Algorithm, TrainingSpec};
use crate::{
    Dataset, DecisionTreeParams, GradientBoostedTreesParams, KMeansParams, KnnParams, LinearClassifierParams,
    LinearRegressorParams, NaiveBayesParams, PcaParams, RandomCutForestParams, RandomForestParams, Table, Target,
};

/// The MIME type of the rich output by which a cell hands its training jobs
/// to the server: `{"jobs": ["<token>", …]}`. The server has the same string.
pub const TRAINING_JOB_MIME: &str = "application/vnd.flywheel.training-job+json";

/// The folder of the working directory where the server answers.
const DATA_DIR: &str = "data";

/// How often [`SubmittedJob::wait`] reads the job's status.
const POLL: Duration = Duration::from_millis(250);

/// How long [`SubmittedJob::wait`] keeps trying while the status (or a
/// completed job's model) cannot be read: the server writes it moments
/// after the submitting cell finishes, and rewrites it in place.
const GRACE: Duration = Duration::from_secs(30);

/// The `predictor_type` hyper-parameter of the algorithms that both classify and regress.
const PREDICTOR_TYPE: &str = "predictor_type";

/// The tokens of the jobs this cell submitted, in order.
static SUBMITTED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Tokens made in this cell's code (one of the token's ingredients).
static TOKENS_MADE: AtomicU64 = AtomicU64::new(0);

/// A training job being built in a cell, to run on the training pool:
/// `TrainingJob::new(GradientBoostedTrees::params().iterations(300)).train(&train).validation(&valid).submit()?`.
///
/// The algorithm and its hyper-parameters come from a `…Params` builder
/// ([`JobParams`]); the data from a [`Table`] (with [`TrainingJob::target`]
/// naming the column to predict) or a [`Dataset`] (which brings its target).
/// Nothing is checked or written until [`TrainingJob::submit`].
#[derive(Debug, Clone)]
pub struct TrainingJob {
    algorithm: &'static str,
    hyperparameters: Map<String, Value>,
    train: Option<JobData>,
    validation: Option<JobData>,
    target: Option<String>,
    regression: bool,
}

/// Params types that can run as a training-pool job: the algorithm's name
/// and its hyper-parameters as JSON, named after the builder's methods (as
/// [`training::algorithms`] lists them).
pub trait JobParams {
    /// The algorithm's name in a [`TrainingSpec`] (`gradient_boosted_trees`).
    fn algorithm(&self) -> &'static str;
    /// Every hyper-parameter the builder holds, by name (unset optional
    /// ones as `null`); `predictor_type` where the builder decides it
    /// (linear learner's classifier or regressor).
    fn hyperparameters(&self) -> Map<String, Value>;
}

/// A job's training or validation data: a [`Table`] or a [`Dataset`]
/// (`.train(&table)`, `.train(&dataset)`).
///
/// A dataset becomes its feature columns plus a target column named
/// `target` (`target_2`, … if a feature already has that name, or the name
/// given to [`TrainingJob::target`]): class names for classification,
/// numbers for regression; features only for an unsupervised algorithm.
#[derive(Debug, Clone)]
pub struct JobData(Data);

#[derive(Debug, Clone)]
enum Data {
    Table(Table),
    Dataset(Dataset),
}

/// A job [`TrainingJob::submit`] left for the training pool; keep it in a
/// variable and follow it from later cells.
#[derive(Debug, Clone)]
pub struct SubmittedJob {
    token: String,
    algorithm: String,
}

/// A job's status as the server last wrote it (`data/training-<token>.json`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct JobStatus {
    /// The job's id on the training pool (a UUID); empty when the server
    /// refused the job before giving it one.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub id: String,
    /// `pending`, `running`, `completed`, `failed` or `cancelled`.
    pub state: String,
    /// Why the job failed, if it did.
    #[serde(default)]
    pub error: Option<String>,
    /// The saved model's file name in `data/` once the job completed
    /// (`model-<first 8 characters of id>.json`).
    #[serde(default)]
    pub model: Option<String>,
    /// The finished model's metrics by name (`validation_accuracy`, …; see
    /// [`training::train`]); NaN where the server wrote none.
    #[serde(default, deserialize_with = "metrics")]
    pub final_metrics: BTreeMap<String, f64>,
}

/// Every saved model type (the types with `save`/`load`): what
/// [`SubmittedJob::model`] loads.
pub trait SavedModel: Sized {
    /// The type's name, as a saved model's JSON gives it (`flywheel_model`).
    const KIND: &'static str;
    /// A model from its saved JSON (as the type's own `from_json`).
    ///
    /// # Errors
    /// [`MlError::Read`] for text that is not a saved model of this type.
    fn from_json(text: &str) -> Result<Self>;
    /// The model's saved JSON (as the type's own `to_json`).
    ///
    /// # Errors
    /// [`MlError::Write`] if it cannot be serialised (it always can).
    fn to_json(&self) -> Result<String>;
}

impl TrainingJob {
    /// A job for this algorithm and hyper-parameters: any `…Params`
    /// builder of the algorithms the pool runs ([`training::algorithms`]),
    /// such as `GradientBoostedTrees::params().iterations(300)`.
    pub fn new(params: impl JobParams) -> Self {
        Self {
            algorithm: params.algorithm(),
            hyperparameters: params.hyperparameters(),
            train: None,
            validation: None,
            target: None,
            regression: false,
        }
    }

    /// The data to train on: `&table` or `&dataset`.
    #[must_use]
    pub fn train(mut self, data: impl Into<JobData>) -> Self {
        self.train = Some(data.into());
        self
    }

    /// Data to measure the model on (and, for boosted trees, to report
    /// each round's loss and stop early): the training data's columns.
    /// Without it the final metrics are measured on the training rows.
    #[must_use]
    pub fn validation(mut self, data: impl Into<JobData>) -> Self {
        self.validation = Some(data.into());
        self
    }

    /// The column to predict, for tables. A [`Dataset`] brings its own
    /// target; for one, this names its target column in the job's files.
    /// An unsupervised algorithm ignores the column (it is not a feature).
    #[must_use]
    pub fn target(mut self, column: &str) -> Self {
        self.target = Some(column.to_owned());
        self
    }

    /// Learn the target's numbers rather than its classes
    /// (`predictor_type` `regressor`), for the algorithms that do both:
    /// gradient-boosted trees and k-nearest neighbours; linear learner's is
    /// its params (`LinearLearner::regressor()`). A regression [`Dataset`]
    /// implies it.
    #[must_use]
    pub fn regression(mut self) -> Self {
        self.regression = true;
        self
    }

    /// Checks the job and leaves it for the training pool (see the
    /// [module docs](self) for the files), printing the cell's list of
    /// submitted jobs as [`TRAINING_JOB_MIME`]. Returns at once: the job is
    /// queued when this cell finishes; follow it in later cells with
    /// [`SubmittedJob::status`], [`SubmittedJob::wait`] or [`SubmittedJob::model`].
    ///
    /// # Errors
    /// [`MlError::Empty`] without training data, or with no rows;
    /// [`MlError::InvalidParams`] for hyper-parameters out of range (as
    /// [`TrainingSpec::validate`], naming the range), a supervised
    /// algorithm without a target, a target the training table lacks, a
    /// target name that is also a dataset's feature, or a classifier asked
    /// to learn numbers (and the reverse); [`MlError::InvalidData`] for a
    /// dataset without a target where one is needed; [`MlError::Shape`]
    /// when the validation columns differ from the training ones;
    /// [`MlError::Write`] when the files cannot be written (then none are left).
    pub fn submit(self) -> Result<SubmittedJob> {
        let (spec, train, validation) = self.prepare()?;
        let dir = job_dir();
        let token = loop {
            let token = new_token();
            if !file(&dir, &token, "job.json").exists() && !file(&dir, &token, "train.csv").exists() {
                break token;
            }
        };
        let job = serde_json::to_string_pretty(&spec)
            .map_err(|e| MlError::Write(format!("the training job's spec as JSON: {e}")))?;
        let written = train
            .write_csv(file(&dir, &token, "train.csv"))
            .and_then(|()| validation.map_or(Ok(()), |v| v.write_csv(file(&dir, &token, "validation.csv"))))
            .and_then(|()| {
                let path = file(&dir, &token, "job.json");
                std::fs::write(&path, job).map_err(|e| MlError::Write(format!("{}: {e}", path.display())))
            });
        if let Err(e) = written {
            for name in ["train.csv", "validation.csv", "job.json"] {
                std::fs::remove_file(file(&dir, &token, name)).ok();
            }
            return Err(e);
        }
        let submitted = {
            let mut list = SUBMITTED.lock().unwrap_or_else(PoisonError::into_inner);
            list.push(token.clone());
            list.clone()
        };
        print_jobs(&serde_json::json!({ "jobs": submitted }).to_string());
        Ok(SubmittedJob { token, algorithm: spec.algorithm })
    }

    /// The spec and tables to write, checked.
    fn prepare(&self) -> Result<(TrainingSpec, Cow<'_, Table>, Option<Cow<'_, Table>>)> {
        let algorithm = training::algorithm(self.algorithm)?;
        let train = self.train.as_ref().ok_or_else(|| {
            MlError::Empty("the job has no training data: add it with `.train(&table)` before `.submit()`".into())
        })?;
        let data: Vec<(&JobData, &str)> =
            std::iter::once((train, "training")).chain(self.validation.as_ref().map(|v| (v, "validation"))).collect();
        let mut hyperparameters = self.hyperparameters.clone();
        let target = if algorithm.supervised {
            self.predictor_type(algorithm, &data, &mut hyperparameters)?;
            if let Some((_, which)) =
                data.iter().find(|(d, _)| d.dataset().is_some_and(|d| d.target() == &Target::None))
            {
                return Err(MlError::InvalidData(format!(
                    "the {which} dataset has no target (`Dataset::unsupervised`), and `{}` learns to predict one: \
                     give a classification or regression dataset, or a table and `.target(\"column\")`",
                    algorithm.name
                )));
            }
            match (&self.target, data.iter().any(|(d, _)| d.dataset().is_some())) {
                (Some(t), _) => Some(t.clone()),
                (None, true) => Some(unused_name("target", &data)),
                (None, false) => {
                    return Err(MlError::InvalidParams(format!(
                        "`{}` learns to predict a column: name it with `.target(\"column\")`",
                        algorithm.name
                    )));
                }
            }
        } else {
            if self.regression {
                return Err(MlError::InvalidParams(format!(
                    "`{}` learns no target, so it cannot be a regression",
                    algorithm.name
                )));
            }
            self.target.clone()
        };
        let keep_target = algorithm.supervised;
        let train = train.table(target.as_deref().filter(|_| keep_target))?;
        if train.nrows() == 0 {
            return Err(MlError::Empty("the training data has no rows".into()));
        }
        if let Some(t) = &target
            && !train.column_names().contains(t)
        {
            return Err(MlError::InvalidParams(format!(
                "the target column `{t}` is not in the training table; its columns are {}",
                train.column_names().join(", ")
            )));
        }
        let validation =
            self.validation.as_ref().map(|v| v.table(target.as_deref().filter(|_| keep_target))).transpose()?;
        if let Some(v) = &validation {
            training::check_same_columns(&train, v)?;
        }
        let spec = TrainingSpec { algorithm: algorithm.name.to_owned(), hyperparameters, target };
        spec.validate()?;
        Ok((spec, train, validation))
    }

    /// Settles classification or regression from the params, the datasets'
    /// targets and [`Self::regression`], and writes it into the
    /// hyper-parameters of an algorithm that has `predictor_type`.
    fn predictor_type(
        &self,
        algorithm: &Algorithm,
        data: &[(&JobData, &str)],
        hyperparameters: &mut Map<String, Value>,
    ) -> Result<()> {
        let mut asked: Vec<(&str, String)> = Vec::new();
        if let Some(kind) = hyperparameters.get(PREDICTOR_TYPE).and_then(Value::as_str) {
            asked.push((kind, format!("the params (`predictor_type` `{kind}`)")));
        }
        for (d, which) in data {
            match d.dataset().map(Dataset::target) {
                Some(Target::Classes(_)) => asked.push(("classifier", format!("the {which} dataset's classes"))),
                Some(Target::Values(_)) => asked.push(("regressor", format!("the {which} dataset's numbers"))),
                _ => {}
            }
        }
        if self.regression {
            asked.push(("regressor", "`.regression()`".into()));
        }
        let kind = match asked.iter().find(|(kind, _)| *kind != asked[0].0) {
            Some((other, why)) => {
                let (first, first_why) = &asked[0];
                return Err(MlError::InvalidParams(format!(
                    "{first_why} make the job a {first}, {why} a {other}; a job is one or the other"
                )));
            }
            None => asked.first().map_or("classifier", |(kind, _)| *kind),
        };
        if algorithm.hyperparameters.iter().any(|h| h.name == PREDICTOR_TYPE) {
            hyperparameters.insert(PREDICTOR_TYPE.into(), kind.into());
        } else if kind == "regressor" {
            let both: Vec<&str> = training::algorithms()
                .iter()
                .filter(|a| a.hyperparameters.iter().any(|h| h.name == PREDICTOR_TYPE))
                .map(|a| a.name)
                .collect();
            return Err(MlError::InvalidParams(format!(
                "`{}` only learns classes, but this job is a regression ({}); the algorithms that learn numbers are {}",
                algorithm.name,
                asked.iter().find(|(k, _)| *k == "regressor").map_or("", |(_, why)| why),
                both.join(", ")
            )));
        }
        Ok(())
    }
}

/// `base`, or `base_2`, `base_3`, … : a name no column of the data has.
fn unused_name(base: &str, data: &[(&JobData, &str)]) -> String {
    let taken = |name: &str| data.iter().any(|(d, _)| d.column_names().iter().any(|c| c == name));
    std::iter::once(base.to_owned())
        .chain((2..).map(|i| format!("{base}_{i}")))
        .find(|name| !taken(name))
        .unwrap_or_else(|| base.to_owned())
}

impl JobData {
    fn dataset(&self) -> Option<&Dataset> {
        match &self.0 {
            Data::Dataset(d) => Some(d),
            Data::Table(_) => None,
        }
    }

    fn column_names(&self) -> Vec<String> {
        match &self.0 {
            Data::Table(t) => t.column_names(),
            Data::Dataset(d) => d.features().columns().to_vec(),
        }
    }

    /// The data as a table; a dataset's target as the column `target`
    /// when given (else it is left out).
    fn table(&self, target: Option<&str>) -> Result<Cow<'_, Table>> {
        let d = match &self.0 {
            Data::Table(t) => return Ok(Cow::Borrowed(t)),
            Data::Dataset(d) => d,
        };
        let x = d.features();
        let mut columns: Vec<(String, crate::ColumnData)> = x
            .columns()
            .iter()
            .zip(x.array().columns())
            .map(|(name, values)| (name.clone(), crate::ColumnData::Numbers(values.to_vec())))
            .collect();
        if let Some(name) = target {
            if x.columns().iter().any(|c| c == name) {
                return Err(MlError::InvalidParams(format!(
                    "the target column's name `{name}` is already a feature of the dataset; \
                     pick another with `.target(…)`"
                )));
            }
            let values = match d.target() {
                Target::Classes(labels) => {
                    crate::ColumnData::Text(labels.ids().iter().map(|&id| labels.classes()[id].clone()).collect())
                }
                Target::Values(values) => crate::ColumnData::Numbers(values.to_vec()),
                Target::None => return Err(MlError::InvalidData("the dataset has no target".into())),
            };
            columns.push((name.to_owned(), values));
        }
        Table::new(columns).map(Cow::Owned).map_err(|e| match e {
            MlError::Read(m) => MlError::InvalidData(format!("the dataset's features: {m}")),
            other => other,
        })
    }
}

impl From<&Table> for JobData {
    fn from(table: &Table) -> Self {
        JobData(Data::Table(table.clone()))
    }
}

impl From<Table> for JobData {
    fn from(table: Table) -> Self {
        JobData(Data::Table(table))
    }
}

impl From<&Dataset> for JobData {
    fn from(data: &Dataset) -> Self {
        JobData(Data::Dataset(data.clone()))
    }
}

impl From<Dataset> for JobData {
    fn from(data: Dataset) -> Self {
        JobData(Data::Dataset(data))
    }
}

impl SubmittedJob {
    /// The job's token: 16 lower-case hex digits, in its file names.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The algorithm's name (`gradient_boosted_trees`).
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The job's status as the server last wrote it
    /// (`data/training-<token>.json`); it does not wait.
    ///
    /// # Errors
    /// [`MlError::Read`] when the server has not answered yet — it does
    /// when the cell that submitted the job finishes, so call this in a
    /// later cell — or when the file cannot be read or is not a status.
    pub fn status(&self) -> Result<JobStatus> {
        let path = job_dir().join(DATA_DIR).join(format!("training-{}.json", self.token));
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(MlError::Read(format!(
                    "training job {} has no status yet ({} is not there): the job is sent to the training pool \
                     when the cell that submitted it finishes; run this in a later cell",
                    self.token,
                    path.display()
                )));
            }
            Err(e) => return Err(MlError::Read(format!("{}: {e}", path.display()))),
        };
        serde_json::from_str(&text)
            .map_err(|e| MlError::Read(format!("{} is not a training job's status: {e}", path.display())))
    }

    /// Waits for the job to finish, reading its status every 250 ms; prints nothing.
    ///
    /// # Errors
    /// [`MlError::Fit`] naming the error when the job failed, or saying it
    /// was cancelled; [`MlError::Read`] at once when called in the cell that
    /// submitted the job (it is queued only when that cell finishes: wait
    /// in the next one), and when no status can be read for 30 s.
    pub fn wait(&self) -> Result<JobStatus> {
        self.wait_polling(POLL, GRACE)
    }

    fn wait_polling(&self, poll: Duration, grace: Duration) -> Result<JobStatus> {
        if SUBMITTED.lock().unwrap_or_else(PoisonError::into_inner).contains(&self.token) {
            return Err(MlError::Read(format!(
                "training job {} was submitted in this cell: it goes to the training pool only when this cell \
                 finishes, so it cannot finish while this cell waits; call `.wait()` in the next cell",
                self.token
            )));
        }
        let mut failing_since = None;
        loop {
            match self.status() {
                Ok(status) => {
                    failing_since = None;
                    let error = status.error.as_deref();
                    match status.state.as_str() {
                        "completed" => return Ok(status),
                        "failed" => {
                            return Err(MlError::Fit(format!(
                                "training job {} failed: {}",
                                self.token,
                                error.unwrap_or("the training pool gave no reason")
                            )));
                        }
                        "cancelled" => {
                            return Err(MlError::Fit(format!(
                                "training job {} was cancelled{}",
                                self.token,
                                error.map(|e| format!(": {e}")).unwrap_or_default()
                            )));
                        }
                        _ => {}
                    }
                }
                Err(e) => {
                    if failing_since.get_or_insert_with(Instant::now).elapsed() >= grace {
                        return Err(e);
                    }
                }
            }
            std::thread::sleep(poll);
        }
    }

    /// Waits for the job ([`SubmittedJob::wait`]), then loads its model
    /// from `data/<model>`; the type to load is the one asked for:
    /// `let model: GradientBoostedTreesModel = job.model()?;`.
    ///
    /// # Errors
    /// As [`SubmittedJob::wait`]; [`MlError::Read`] when the model file
    /// cannot be read, or holds another type of model (the message names it).
    pub fn model<M: SavedModel>(&self) -> Result<M> {
        self.model_polling(POLL, GRACE)
    }

    fn model_polling<M: SavedModel>(&self, poll: Duration, grace: Duration) -> Result<M> {
        let status = self.wait_polling(poll, grace)?;
        let name = status.model.as_deref().filter(|n| !n.is_empty()).ok_or_else(|| {
            MlError::Read(format!("training job {} completed, but its status names no model file", self.token))
        })?;
        if name.starts_with('.') || name.contains(['/', '\\']) {
            return Err(MlError::Read(format!(
                "training job {}'s model file `{name}` is not a plain name",
                self.token
            )));
        }
        let path = job_dir().join(DATA_DIR).join(name);
        let started = Instant::now();
        let text = loop {
            match std::fs::read_to_string(&path) {
                Ok(text) => break text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && started.elapsed() < grace => {
                    std::thread::sleep(poll);
                }
                Err(e) => {
                    return Err(MlError::Read(format!(
                        "the model of training job {}, {}: {e}",
                        self.token,
                        path.display()
                    )));
                }
            }
        };
        let found = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|doc| doc.get("flywheel_model").and_then(Value::as_str).map(str::to_owned));
        if let Some(found) = found.filter(|f| f != M::KIND) {
            return Err(MlError::Read(format!(
                "training job {} made a {found}, not a {}: ask for it with `let model: {found} = job.model()?;`",
                self.token,
                M::KIND
            )));
        }
        M::from_json(&text)
    }

    /// One line for people: the algorithm, the token, where to follow the job.
    pub fn to_html(&self) -> String {
        let title = training::algorithm(&self.algorithm).map_or(self.algorithm.as_str(), |a| a.title);
        format!(
            "<div class=\"flywheel-training-job\"><p><strong>{}</strong> training job <code>{}</code>: \
             queued on the training pool when this cell finishes — follow it on the \
             <a href=\"/training\" target=\"_blank\" rel=\"noopener\">Training page</a> (/training); \
             <code>job.wait()?</code> in a later cell waits for it.</p></div>",
            escape(title),
            escape(&self.token)
        )
    }

    /// Shows the job in a notebook ([`SubmittedJob::to_html`]).
    pub fn evcxr_display(&self) {
        emit("text/html", &self.to_html());
    }
}

impl fmt::Display for SubmittedJob {
    /// `training job <token> (<algorithm>)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "training job {} ({})", self.token, self.algorithm)
    }
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

fn metrics<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<BTreeMap<String, f64>, D::Error> {
    let metrics = Option::<BTreeMap<String, Option<f64>>>::deserialize(d)?.unwrap_or_default();
    Ok(metrics.into_iter().map(|(name, v)| (name, v.unwrap_or(f64::NAN))).collect())
}

/// `training-<token>-<what>` in `dir`.
fn file(dir: &Path, token: &str, what: &str) -> PathBuf {
    dir.join(format!("training-{token}-{what}"))
}

/// 16 lower-case hex digits from the clock's nanoseconds, the process id
/// and a counter, mixed by a randomly keyed SipHash.
pub(crate) fn new_token() -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    hasher.write_u32(std::process::id());
    hasher.write_u64(TOKENS_MADE.fetch_add(1, Ordering::Relaxed));
    format!("{:016x}", hasher.finish())
}

#[cfg(not(test))]
pub(crate) fn job_dir() -> PathBuf {
    PathBuf::new()
}

#[cfg(not(test))]
fn print_jobs(json: &str) {
    emit(TRAINING_JOB_MIME, json);
}

#[cfg(test)]
thread_local! {
    /// The working directory of this test's jobs.
    static TEST_DIR: std::cell::RefCell<PathBuf> = std::cell::RefCell::new(PathBuf::new());
    /// What this test's submissions printed.
    static TEST_OUTPUT: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(test)]
pub(crate) fn job_dir() -> PathBuf {
    TEST_DIR.with_borrow(Clone::clone)
}

/// Makes `dir` this test thread's working directory (as a cell's is).
#[cfg(test)]
pub(crate) fn set_test_dir(dir: &Path) {
    TEST_DIR.with_borrow_mut(|d| *d = dir.to_path_buf());
}

#[cfg(test)]
fn print_jobs(json: &str) {
    TEST_OUTPUT.with_borrow_mut(|out| out.push(crate::display::rich_content(TRAINING_JOB_MIME, json)));
}

/// A number of an `f32` builder field as JSON: its shortest decimal (0.1,
/// not 0.10000000149011612), which turns back into the same `f32`.
fn f32_value(x: f32) -> Value {
    x.to_string().parse::<f64>().map_or(Value::Null, Value::from)
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl<T: JobParams + ?Sized> JobParams for &T {
    fn algorithm(&self) -> &'static str {
        (**self).algorithm()
    }

    fn hyperparameters(&self) -> Map<String, Value> {
        (**self).hyperparameters()
    }
}

impl JobParams for GradientBoostedTreesParams {
    fn algorithm(&self) -> &'static str {
        "gradient_boosted_trees"
    }

    fn hyperparameters(&self) -> Map<String, Value> {
        object(serde_json::json!({
            "iterations": self.iterations,
            "learning_rate": f32_value(self.learning_rate),
            "max_depth": self.max_depth,
            "l2": f32_value(self.l2),
            "min_child_weight": f32_value(self.min_child_weight),
            "subsample": f32_value(self.subsample),
            "early_stopping_rounds": self.early_stopping_rounds,
            "seed": self.seed,
        }))
    }
}

impl JobParams for RandomForestParams {
    fn algorithm(&self) -> &'static str {
        "random_forest"
    }

    fn hyperparameters(&self) -> Map<String, Value> {
        object(serde_json::json!({
            "trees": self.trees,
            "max_depth": self.max_depth,
            "feature_proportion": self.feature_proportion,
            "bootstrap_proportion": self.bootstrap_proportion,
            "seed": self.seed,
        }))
    }
}

impl JobParams for DecisionTreeParams {
    fn algorithm(&self) -> &'static str {
        "decision_tree"
    }

    fn hyperparameters(&self) -> Map<String, Value> {
        object(serde_json::json!({
            "max_depth": self.max_depth,
            "min_rows_split": f32_value(self.min_rows_split),
            "min_rows_leaf": f32_value(self.min_rows_leaf),
        }))
    }
}

impl JobParams for LinearClassifierParams {
    fn algorithm(&self) -> &'static str {
        "linear_learner"
    }

    fn hyperparameters(&self) -> Map<String, Value> {
        object(serde_json::json!({
            "predictor_type": "classifier",
            "l2": self.l2,
            "max_iterations": self.max_iterations,
            "tolerance": self.tolerance,
        }))
    }
}

impl JobParams for LinearRegressorParams {
    fn algorithm(&self) -> &'static str {
        "linear_learner"
    }

    fn hyperparameters(&self) -> Map<String, Value> {
        object(serde_json::json!({ "predictor_type": "regressor", "l2": self.l2 }))
    }
}

impl JobParams for KnnParams {
    fn algorithm(&self) -> &'static str {
        "knn"
    }

    fn hyperparameters(&self) -> Map<String, Value> {
        object(serde_json::json!({ "k": self.k }))
    }
}

impl JobParams for NaiveBayesParams {
    fn algorithm(&self) -> &'static str {
        "naive_bayes"
    }

    fn hyperparameters(&self) -> Map<String, Value> {
        object(serde_json::json!({ "var_smoothing": self.var_smoothing }))
    }
}

impl JobParams for KMeansParams {
    fn algorithm(&self) -> &'static str {
        "kmeans"
    }

    fn hyperparameters(&self) -> Map<String, Value> {
        object(serde_json::json!({
            "k": self.k,
            "runs": self.runs,
            "max_iterations": self.max_iterations,
            "tolerance": self.tolerance,
            "seed": self.seed,
        }))
    }
}

impl JobParams for PcaParams {
    fn algorithm(&self) -> &'static str {
        "pca"
    }

    fn hyperparameters(&self) -> Map<String, Value> {
        object(serde_json::json!({ "n_components": self.n_components }))
    }
}

impl JobParams for RandomCutForestParams {
    fn algorithm(&self) -> &'static str {
        "random_cut_forest"
    }

    fn hyperparameters(&self) -> Map<String, Value> {
        object(serde_json::json!({
            "trees": self.trees,
            "sample_size": self.sample_size,
            "seed": self.seed,
        }))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{
        DecisionTree, GradientBoostedTrees, GradientBoostedTreesModel, KMeans, KMeansModel, Knn, LinearLearner,
        NaiveBayes, Pca, RandomCutForest, RandomForest, datasets, stratified_split,
    };

    /// A fresh working directory for this test's jobs (this thread's), removed at the end.
    struct WorkingDir(PathBuf);

    impl WorkingDir {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("flywheel-job-{}-{name}", std::process::id()));
            std::fs::remove_dir_all(&dir).ok();
            std::fs::create_dir_all(dir.join(DATA_DIR)).unwrap();
            TEST_DIR.with_borrow_mut(|d| d.clone_from(&dir));
            TEST_OUTPUT.with_borrow_mut(Vec::clear);
            Self(dir)
        }

        fn read(&self, name: &str) -> String {
            std::fs::read_to_string(self.0.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
        }

        fn files(&self) -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(&self.0)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n != DATA_DIR)
                .collect();
            names.sort();
            names
        }

        fn answer(&self, token: &str, status: &Value) {
            std::fs::write(self.0.join(DATA_DIR).join(format!("training-{token}.json")), status.to_string()).unwrap();
        }
    }

    impl Drop for WorkingDir {
        fn drop(&mut self) {
            std::fs::remove_dir_all(&self.0).ok();
        }
    }

    /// A job of another cell (its token is not in this cell's list).
    fn earlier_job(token: &str) -> SubmittedJob {
        SubmittedJob { token: token.into(), algorithm: "gradient_boosted_trees".into() }
    }

    #[test]
    fn the_mime_type_is_the_servers() {
        assert_eq!(TRAINING_JOB_MIME, "application/vnd.flywheel.training-job+json");
        assert_eq!(training::TRAINING_JOB_MIME, TRAINING_JOB_MIME);
    }

    #[test]
    fn every_pool_algorithms_params_make_a_spec_the_pool_accepts() {
        let cases: Vec<(Box<dyn JobParams>, Value)> = vec![
            (Box::new(GradientBoostedTrees::params()), json!({})),
            (
                Box::new(
                    GradientBoostedTrees::params()
                        .iterations(300)
                        .learning_rate(0.3)
                        .max_depth(4)
                        .l2(0.5)
                        .min_child_weight(2.0)
                        .subsample(0.8)
                        .early_stopping_rounds(20)
                        .seed(7),
                ),
                json!({"iterations": 300, "learning_rate": 0.3, "max_depth": 4, "l2": 0.5, "min_child_weight": 2.0,
                       "subsample": 0.8, "early_stopping_rounds": 20, "seed": 7}),
            ),
            (Box::new(RandomForest::params()), json!({})),
            (
                Box::new(
                    RandomForest::params()
                        .trees(50)
                        .max_depth(Some(8))
                        .feature_proportion(0.5)
                        .bootstrap_proportion(0.7)
                        .seed(3),
                ),
                json!({"trees": 50, "max_depth": 8, "feature_proportion": 0.5, "bootstrap_proportion": 0.7, "seed": 3}),
            ),
            (Box::new(DecisionTree::params()), json!({})),
            (
                Box::new(DecisionTree::params().max_depth(Some(3)).min_rows_split(10.0).min_rows_leaf(0.1)),
                json!({"max_depth": 3, "min_rows_split": 10.0, "min_rows_leaf": 0.1}),
            ),
            (Box::new(LinearLearner::classifier()), json!({"predictor_type": "classifier", "l2": 1.0})),
            (
                Box::new(LinearLearner::classifier().l2(0.01).max_iterations(500).tolerance(1e-6)),
                json!({"predictor_type": "classifier", "l2": 0.01, "max_iterations": 500, "tolerance": 1e-6}),
            ),
            (Box::new(LinearLearner::regressor()), json!({"predictor_type": "regressor", "l2": 0.0})),
            (Box::new(LinearLearner::regressor().l2(2.5)), json!({"predictor_type": "regressor", "l2": 2.5})),
            (Box::new(Knn::params(5)), json!({"k": 5})),
            (Box::new(Knn::params(11)), json!({"k": 11})),
            (Box::new(NaiveBayes::params()), json!({})),
            (Box::new(NaiveBayes::params().var_smoothing(1e-3)), json!({"var_smoothing": 1e-3})),
            (Box::new(KMeans::params(8)), json!({"k": 8})),
            (
                Box::new(KMeans::params(3).runs(2).max_iterations(50).tolerance(1e-6).seed(1)),
                json!({"k": 3, "runs": 2, "max_iterations": 50, "tolerance": 1e-6, "seed": 1}),
            ),
            (Box::new(Pca::params(2)), json!({"n_components": 2})),
            (Box::new(RandomCutForest::params()), json!({})),
            (
                Box::new(RandomCutForest::params().trees(20).sample_size(64).seed(9)),
                json!({"trees": 20, "sample_size": 64, "seed": 9}),
            ),
        ];
        let mut covered = std::collections::BTreeSet::new();
        for (params, expected) in &cases {
            let name = params.algorithm();
            let algorithm = training::algorithm(name).unwrap();
            let hyperparameters = params.hyperparameters();
            let spec = TrainingSpec {
                algorithm: name.into(),
                hyperparameters: hyperparameters.clone(),
                target: Some("y".into()),
            };
            assert_eq!(spec.validate().unwrap().name, name);
            // Every value given is there, as given; every other one is the pool's default.
            for (key, value) in &hyperparameters {
                let declared = algorithm.hyperparameters.iter().find(|h| h.name == key).unwrap();
                match expected.get(key) {
                    Some(v) => assert_eq!(value, v, "{name}: {key}"),
                    None => assert_eq!(value, &declared.default.to_json(), "{name}: {key} defaults as the pool's"),
                }
            }
            let expected_keys: Vec<&String> = expected.as_object().unwrap().keys().collect();
            assert!(expected_keys.iter().all(|k| hyperparameters.contains_key(*k)), "{name}: {hyperparameters:?}");
            let builder_methods = algorithm.hyperparameters.iter().filter(|h| h.name != PREDICTOR_TYPE).count();
            let given = hyperparameters.keys().filter(|k| *k != PREDICTOR_TYPE).count();
            // A linear regressor has no max_iterations or tolerance (the classifier's only).
            let regressor_lacks = if hyperparameters.get(PREDICTOR_TYPE) == Some(&json!("regressor")) { 2 } else { 0 };
            assert_eq!(given, builder_methods - regressor_lacks, "{name}: every hyper-parameter the pool knows");
            covered.insert(name);
        }
        let all: std::collections::BTreeSet<&str> = training::algorithms().iter().map(|a| a.name).collect();
        assert_eq!(covered, all);
        // f32 fields go as their shortest decimal, which is the same f32 again.
        let lr = GradientBoostedTrees::params().learning_rate(0.1).hyperparameters()["learning_rate"].clone();
        assert_eq!((lr.to_string(), lr.as_f64().unwrap() as f32), ("0.1".to_owned(), 0.1f32));
        // Out of range: the spec says so.
        let bad = GradientBoostedTrees::params().learning_rate(1.5);
        let spec =
            TrainingSpec { algorithm: bad.algorithm().into(), hyperparameters: bad.hyperparameters(), target: None };
        assert!(spec.validate().unwrap_err().to_string().contains("`learning_rate` must be a number in (0, 1]"));
    }

    #[test]
    fn submit_writes_the_job_files_and_lists_the_cells_jobs() {
        let dir = WorkingDir::new("submit");
        let iris = datasets::iris();
        let (train, valid) = stratified_split(&iris, 0.3, 1).unwrap();
        let job = TrainingJob::new(GradientBoostedTrees::params().iterations(5).max_depth(3))
            .train(&train)
            .validation(&valid)
            .submit()
            .unwrap();
        let token = job.token().to_owned();
        assert!(token.len() == 16 && token.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        let names = ["job.json", "train.csv", "validation.csv"].map(|w| format!("training-{token}-{w}"));
        assert_eq!(dir.files(), names);

        let spec: Value = serde_json::from_str(&dir.read(&names[0])).unwrap();
        assert_eq!(
            spec,
            json!({"algorithm": "gradient_boosted_trees", "target": "target", "hyperparameters": {
                "predictor_type": "classifier", "iterations": 5, "learning_rate": 0.1, "max_depth": 3, "l2": 1.0,
                "min_child_weight": 1.0, "subsample": 1.0, "early_stopping_rounds": null, "seed": 0}})
        );
        let spec: TrainingSpec = serde_json::from_value(spec).unwrap();
        let csv = dir.read(&names[1]);
        let mut columns = iris.features().columns().to_vec();
        columns.push("target".into());
        assert!(csv.starts_with(&format!("{}\n", columns.join(","))), "{csv}");
        let table = Table::from_csv_str(&csv).unwrap();
        assert_eq!((table.nrows(), table.column_names()), (train.nrows(), columns));
        assert_eq!(table.matrix(train.features().columns()).unwrap(), *train.features(), "numbers exactly");
        assert_eq!(table.labels("target").unwrap(), *train.labels().unwrap(), "class names");
        let validation = Table::read_csv(dir.0.join(&names[2])).unwrap();
        assert_eq!(validation.nrows(), valid.nrows());

        // What the pool's worker does with the files.
        let trained = training::train(&spec, &table, Some(&validation), None, &mut |_| {}).unwrap();
        assert_eq!(trained.model_type, "GradientBoostedTreesModel");
        assert!(trained.final_metrics["validation_accuracy"] > 0.8, "{:?}", trained.final_metrics);

        // A second job in the cell: the output lists both, in order.
        let credit = datasets::german_credit().head(200);
        let second =
            TrainingJob::new(LinearLearner::classifier()).train(&credit).target("creditability").submit().unwrap();
        assert_ne!(second.token(), token);
        let spec: TrainingSpec =
            serde_json::from_str(&dir.read(&format!("training-{}-job.json", second.token()))).unwrap();
        assert_eq!(spec.target.as_deref(), Some("creditability"));
        let csv = dir.read(&format!("training-{}-train.csv", second.token()));
        assert_eq!(Table::from_csv_str(&csv).unwrap(), credit, "a table goes as it is");
        assert!(!dir.0.join(format!("training-{}-validation.csv", second.token())).exists());

        let printed = TEST_OUTPUT.with_borrow(Clone::clone);
        assert_eq!(printed.len(), 2);
        let listed = |output: &str| -> Vec<String> {
            let body = output
                .strip_prefix(&format!("EVCXR_BEGIN_CONTENT {TRAINING_JOB_MIME}\n"))
                .and_then(|rest| rest.strip_suffix("\nEVCXR_END_CONTENT"))
                .unwrap_or_else(|| panic!("{output}"));
            serde_json::from_str::<Value>(body).unwrap()["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_owned())
                .collect()
        };
        // The list is the cell's (tests that run alongside add theirs to it): ours, in order.
        let (first, then) = (listed(&printed[0]), listed(&printed[1]));
        assert!(first.contains(&token) && !first.contains(&second.token().to_owned()), "{first:?}");
        let at = |t: &str| then.iter().position(|x| x == t).unwrap();
        assert!(at(&token) < at(second.token()), "{then:?}");
        assert!(first.iter().all(|t| then.contains(t)), "cumulative: {first:?} then {then:?}");

        // Waiting in the cell that submitted it would never end.
        let err = job.wait().unwrap_err();
        assert!(
            matches!(&err, MlError::Read(m) if m.contains("submitted in this cell") && m.contains("in the next cell")),
            "{err}"
        );
        assert!(matches!(job.model::<GradientBoostedTreesModel>(), Err(MlError::Read(_))));
        let err = job.status().unwrap_err().to_string();
        assert!(err.contains("when the cell that submitted it finishes; run this in a later cell"), "{err}");

        let html = job.to_html();
        assert!(
            html.contains(&token) && html.contains("Gradient-boosted trees") && html.contains("/training"),
            "{html}"
        );
        assert!(html.contains("<code>job.wait()?</code> in a later cell"), "{html}");
    }

    #[test]
    fn a_datasets_target_becomes_a_column_and_sets_the_task() {
        let dir = WorkingDir::new("datasets");
        let spec_of = |job: &SubmittedJob| -> TrainingSpec {
            serde_json::from_str(&dir.read(&format!("training-{}-job.json", job.token()))).unwrap()
        };
        let train_of = |job: &SubmittedJob| Table::read_csv(dir.0.join(format!("training-{}-train.csv", job.token())));

        // Regression: numbers, and predictor_type regressor for the algorithms that have it.
        let diabetes = datasets::diabetes();
        let job = TrainingJob::new(Knn::params(3)).train(&diabetes).submit().unwrap();
        let spec = spec_of(&job);
        assert_eq!(
            (spec.hyperparameters[PREDICTOR_TYPE].as_str(), spec.target.as_deref()),
            (Some("regressor"), Some("target"))
        );
        assert_eq!(train_of(&job).unwrap().numbers("target").unwrap(), *diabetes.values().unwrap());

        // A feature already called `target`; a name given with `.target`.
        let x = crate::Matrix::from_rows(&[vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.5]])
            .unwrap()
            .with_columns(&["target", "target_2"])
            .unwrap();
        let data = Dataset::classification(x, crate::Labels::from_strings(&["yes", "no", "yes"])).unwrap();
        let job = TrainingJob::new(NaiveBayes::params()).train(&data).submit().unwrap();
        assert_eq!(spec_of(&job).target.as_deref(), Some("target_3"));
        assert_eq!(train_of(&job).unwrap().texts("target_3").unwrap(), ["yes", "no", "yes"]);
        let job = TrainingJob::new(NaiveBayes::params()).train(&data).target("label").submit().unwrap();
        assert_eq!(train_of(&job).unwrap().column_names(), ["target", "target_2", "label"]);
        let err = TrainingJob::new(NaiveBayes::params()).train(&data).target("target").submit().unwrap_err();
        assert!(matches!(&err, MlError::InvalidParams(m) if m.contains("`target` is already a feature")), "{err}");

        // Unsupervised: features only, no target.
        let iris = datasets::iris();
        let job = TrainingJob::new(KMeans::params(3)).train(&iris).submit().unwrap();
        assert_eq!(spec_of(&job).target, None);
        assert_eq!(train_of(&job).unwrap().column_names(), iris.features().columns());
        let err = TrainingJob::new(Pca::params(2)).train(&iris).regression().submit().unwrap_err();
        assert!(err.to_string().contains("`pca` learns no target"), "{err}");
        assert_eq!(dir.files().len(), 4 * 2, "four jobs so far, without validation data");
    }

    #[test]
    fn jobs_that_cannot_run_are_refused_before_anything_is_written() {
        let dir = WorkingDir::new("refused");
        let credit = datasets::german_credit().head(50);
        let iris = datasets::iris();
        let diabetes = datasets::diabetes();
        let message = |job: TrainingJob| job.submit().unwrap_err().to_string();

        let m = message(TrainingJob::new(GradientBoostedTrees::params()));
        assert!(m.contains("no training data: add it with `.train(&table)`"), "{m}");
        let m = message(TrainingJob::new(GradientBoostedTrees::params()).train(&credit));
        assert!(m.contains("`gradient_boosted_trees` learns to predict a column: name it with `.target(\"column\")`"));
        let m = message(TrainingJob::new(RandomForest::params()).train(&credit).target("credit"));
        assert!(m.contains("`credit` is not in the training table; its columns are status_of_existing"), "{m}");
        let m = message(
            TrainingJob::new(GradientBoostedTrees::params().subsample(0.0)).train(&credit).target("creditability"),
        );
        assert!(m.contains("`subsample` must be a number in (0, 1], got 0"), "{m}");
        let m = message(
            TrainingJob::new(NaiveBayes::params())
                .train(&credit)
                .validation(credit.drop(&["purpose"]).unwrap())
                .target("creditability"),
        );
        assert!(m.contains("missing [purpose]"), "{m}");
        let m = message(TrainingJob::new(NaiveBayes::params()).train(credit.head(0)).target("creditability"));
        assert!(m.contains("no rows"), "{m}");

        // Classes or numbers: the params, the data and `.regression()` must agree.
        let m = message(TrainingJob::new(LinearLearner::classifier()).train(&diabetes));
        assert!(
            m.contains(
                "`predictor_type` `classifier`) make the job a classifier, the training dataset's numbers a regressor"
            ),
            "{m}"
        );
        let m = message(TrainingJob::new(LinearLearner::regressor()).train(&iris));
        assert!(m.contains("the training dataset's classes a classifier"), "{m}");
        let m = message(TrainingJob::new(RandomForest::params()).train(&diabetes));
        assert!(m.contains("`random_forest` only learns classes, but this job is a regression"), "{m}");
        assert!(m.contains("gradient_boosted_trees, linear_learner, knn"), "{m}");
        let m = message(TrainingJob::new(Knn::params(3)).train(&iris).validation(&diabetes));
        assert!(m.contains("a job is one or the other"), "{m}");
        let m = message(TrainingJob::new(NaiveBayes::params()).train(&credit).target("duration_in_month").regression());
        assert!(m.contains("`naive_bayes` only learns classes"), "{m}");
        let m = message(TrainingJob::new(NaiveBayes::params()).train(Dataset::unsupervised(iris.features().clone())));
        assert!(m.contains("the training dataset has no target"), "{m}");

        assert!(dir.files().is_empty(), "{:?}", dir.files());
        // A regression on a table: `.regression()`.
        let job = TrainingJob::new(GradientBoostedTrees::params())
            .train(&credit)
            .target("credit_amount")
            .regression()
            .submit()
            .unwrap();
        let spec: TrainingSpec =
            serde_json::from_str(&dir.read(&format!("training-{}-job.json", job.token()))).unwrap();
        assert_eq!(spec.hyperparameters[PREDICTOR_TYPE], "regressor");
    }

    #[test]
    fn a_later_cell_follows_the_job_and_loads_its_model() {
        let dir = WorkingDir::new("follow");
        let job = earlier_job("0123456789abcdef");
        let err = job.status().unwrap_err();
        assert!(
            matches!(&err, MlError::Read(m) if m.contains("training job 0123456789abcdef has no status yet")
                && m.contains("the job is sent to the training pool when the cell that submitted it finishes")
                && m.contains("; run this in a later cell")),
            "{err}"
        );
        let err = job.wait_polling(Duration::from_millis(5), Duration::from_millis(20)).unwrap_err();
        assert!(err.to_string().contains("has no status yet"), "{err}");

        let iris = datasets::iris();
        let model = GradientBoostedTrees::params().iterations(5).fit(&iris).unwrap();
        let id = "3f2a9c1e-0000-4000-8000-000000000001";
        let running = json!({"id": id, "state": "running", "error": null, "model": null, "final_metrics": {}});
        dir.answer(job.token(), &running);
        let status = job.status().unwrap();
        assert_eq!((status.id.as_str(), status.state.as_str(), status.model), (id, "running", None));

        // It completes while we wait: the server rewrites the status, then the model appears.
        let completed = json!({"id": id, "state": "completed", "error": null, "model": "model-3f2a9c1e.json",
                               "final_metrics": {"validation_accuracy": 0.96, "validation_log_loss": null}});
        let (data, answer, saved) = (dir.0.join(DATA_DIR), completed.to_string(), model.clone());
        let server = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            std::fs::write(data.join("training-0123456789abcdef.json"), answer).unwrap();
            std::thread::sleep(Duration::from_millis(100));
            saved.save(data.join("model-3f2a9c1e.json")).unwrap();
        });
        let loaded: GradientBoostedTreesModel =
            job.model_polling(Duration::from_millis(10), Duration::from_secs(10)).unwrap();
        server.join().unwrap();
        let (before, after) = (model.predict(iris.features()).unwrap(), loaded.predict(iris.features()).unwrap());
        assert_eq!(after.ids(), before.ids());
        let status = job.wait().unwrap();
        assert_eq!(status.final_metrics["validation_accuracy"], 0.96);
        assert!(status.final_metrics["validation_log_loss"].is_nan(), "null: NaN");
        let err = job.model::<KMeansModel>().unwrap_err();
        assert!(
            err.to_string().contains("made a GradientBoostedTreesModel, not a KMeansModel: ask for it with ")
                && err.to_string().ends_with("`let model: GradientBoostedTreesModel = job.model()?;`"),
            "{err}"
        );
        let model: GradientBoostedTreesModel = job.model().unwrap();
        assert_eq!(model.predict(iris.features()).unwrap().ids(), before.ids());
    }

    #[test]
    fn failed_and_cancelled_jobs_are_errors_naming_why() {
        let dir = WorkingDir::new("failed");
        let job = earlier_job("fedcba9876543210");
        dir.answer(
            job.token(),
            &json!({"id": "9b1d", "state": "failed", "error": "k = 9 is larger than the 5 training rows",
                    "model": null, "final_metrics": {}}),
        );
        let err = job.wait().unwrap_err();
        assert_eq!(
            err,
            MlError::Fit("training job fedcba9876543210 failed: k = 9 is larger than the 5 training rows".into())
        );
        assert!(matches!(job.model::<GradientBoostedTreesModel>(), Err(MlError::Fit(_))));
        // Refused before it had an id (the server's answer to a job it could not queue).
        dir.answer(
            job.token(),
            &json!({"id": null, "state": "failed", "error": "the job has no training data",
                    "model": null, "final_metrics": {}}),
        );
        assert_eq!(job.status().unwrap().id, "");
        assert!(job.wait().unwrap_err().to_string().contains("failed: the job has no training data"));
        dir.answer(
            job.token(),
            &json!({"id": "9b1d", "state": "cancelled", "error": null, "model": null, "final_metrics": {}}),
        );
        assert_eq!(job.wait().unwrap_err(), MlError::Fit("training job fedcba9876543210 was cancelled".into()));
        std::fs::write(dir.0.join(DATA_DIR).join("training-fedcba9876543210.json"), "{\"id\": ").unwrap();
        let err = job.status().unwrap_err();
        assert!(matches!(&err, MlError::Read(m) if m.contains("is not a training job's status")), "{err}");
    }
}
