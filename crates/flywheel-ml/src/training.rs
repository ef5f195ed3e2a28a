//! Training jobs: what a training-pool worker runs. A job is a
//! [`TrainingSpec`] — a built-in algorithm of [`algorithms`], its
//! hyper-parameters as JSON and a target column — and tables of data;
//! [`train`] checks the spec, turns the tables into datasets, fits, scores
//! the model and hands it back saved ([`Trained`]), reporting [`Progress`]
//! as it goes. No HTTP, no database: the worker moves jobs, tables and models.
//!
//! ```
//! use flywheel_ml::datasets;
//! use flywheel_ml::training::{Progress, TrainingSpec, train};
//!
//! let spec: TrainingSpec =
//!     serde_json::from_str(r#"{"algorithm": "linear_learner", "target": "creditability"}"#)?;
//! let mut log = Vec::new();
//! let trained = train(&spec, &datasets::german_credit(), None, None, &mut |p| log.push(p))?;
//! assert_eq!(trained.model_type, "LinearClassifier");
//! assert!(trained.final_metrics["train_accuracy"] > 0.7); // no validation table: scored on the training rows
//! assert!(matches!(&log[0], Progress::Log(line) if line.starts_with("fitting linear_learner on 1000 rows")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **Live rounds of boosted trees.** forust-ml has no callback; with
//! `log_iterations = 1` it logs each round's validation loss through the
//! `log` crate, from the thread that runs its fit — a worker of rayon's
//! global pool (it moves there when called from elsewhere). [`train`]
//! installs a `log` logger of its own ([`install_round_logger`]) that hands
//! those records to a thread-local sink, and fits the booster as a rayon job
//! whose sink sends the rounds over a channel to the caller's thread, which
//! calls `progress` as they come (a log record cannot reach the callback the
//! caller lends, `&mut dyn FnMut`, without `unsafe`). The caller's thread
//! waits on that channel, so `train` must not be called from a worker of a
//! one-thread rayon pool. Live values carry the 4 decimals forust-ml logs.
//! When another logger was installed first (a `tracing` subscriber with its
//! `log` bridge, say), rounds are reported from forust-ml's
//! `evaluation_history`, at full precision, as soon as the last booster
//! finishes instead.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::OnceLock;
use std::sync::mpsc::{self, Sender};

use ndarray::Axis;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{MlError, Result};
pub use crate::job::TRAINING_JOB_MIME;
use crate::models::BoosterEvent;
use crate::{
    Dataset, DecisionTree, DecisionTreeModel, GradientBoostedTrees, GradientBoostedTreesModel,
    GradientBoostedTreesParams, KMeans, KMeansCheckpoint, KMeansModel, Knn, KnnClassifier, KnnRegressor, Labels,
    LinearClassifier, LinearLearner, LinearRegressor, Matrix, NaiveBayes, NaiveBayesModel, Pca, PcaModel,
    RandomCutForest, RandomForest, RandomForestModel, Table, Vector, metrics,
};

/// One built-in algorithm a training job may name.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Algorithm {
    /// The name a spec gives, snake_case (`gradient_boosted_trees`).
    pub name: &'static str,
    /// What a person reads ("Gradient-boosted trees").
    pub title: &'static str,
    /// The saved model's type name, as its JSON's `flywheel_model` and the
    /// crate's type (`GradientBoostedTreesModel`): one, or for an algorithm
    /// whose `predictor_type` picks another model type, the classifier's
    /// then the regressor's ([`Trained::model_type`] says which a job made).
    pub model_types: &'static [&'static str],
    /// Its hyper-parameters, named after its `…Params` builder's methods.
    pub hyperparameters: &'static [Hyperparameter],
    /// Whether it learns to predict a target column (a spec must name one).
    /// An unsupervised algorithm ignores a target: that column is not a feature.
    pub supervised: bool,
}

/// A hyper-parameter of an [`Algorithm`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Hyperparameter {
    /// Its name in a spec's `hyperparameters`.
    pub name: &'static str,
    /// The values it accepts (JSON `null` too where the default is [`DefaultValue::Unset`]).
    pub range: Range,
    /// Its value when a spec leaves it out.
    pub default: DefaultValue,
    /// What it does, with its unit.
    pub doc: &'static str,
}

/// The values a [`Hyperparameter`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Range {
    /// A JSON integer in `[min, max]` (`max` = `i64::MAX`: no upper bound).
    Integer {
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
    },
    /// A JSON number from `min` (excluded when `min_exclusive`) to `max`
    /// (included; infinite: no upper bound).
    Continuous {
        /// Lower bound.
        min: f64,
        /// Upper bound, included.
        max: f64,
        /// Whether `min` itself is refused (`(0, 1]`).
        min_exclusive: bool,
        /// A hint for tuning: search it on a log scale.
        log_scale: bool,
    },
    /// One of these JSON strings.
    Categorical(&'static [&'static str]),
}

/// A [`Hyperparameter`]'s default.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum DefaultValue {
    /// An integer.
    Integer(i64),
    /// A number.
    Number(f64),
    /// A category.
    Text(&'static str),
    /// No value (JSON `null`): the behaviour the hyper-parameter's doc gives
    /// for none, such as unlimited depth.
    Unset,
}

/// Picks classification or regression for the algorithms that do both.
const PREDICTOR_TYPE: Hyperparameter = Hyperparameter {
    name: "predictor_type",
    range: Range::Categorical(&["classifier", "regressor"]),
    default: DefaultValue::Text("classifier"),
    doc: "`classifier` learns the target's classes, `regressor` its numbers",
};

/// `[min, ∞)` integers.
const fn at_least(min: i64) -> Range {
    Range::Integer { min, max: i64::MAX }
}

/// `[0, ∞)`.
const fn non_negative(log_scale: bool) -> Range {
    Range::Continuous { min: 0.0, max: f64::INFINITY, min_exclusive: false, log_scale }
}

/// `(0, 1]`.
const fn share(log_scale: bool) -> Range {
    Range::Continuous { min: 0.0, max: 1.0, min_exclusive: true, log_scale }
}

const fn hyper(name: &'static str, range: Range, default: DefaultValue, doc: &'static str) -> Hyperparameter {
    Hyperparameter { name, range, default, doc }
}

use DefaultValue::{Integer as Int, Number as Num, Unset};

static ALGORITHMS: &[Algorithm] = &[
    Algorithm {
        name: "gradient_boosted_trees",
        title: "Gradient-boosted trees (XGBoost-style, forust-ml)",
        model_types: &["GradientBoostedTreesModel"],
        supervised: true,
        hyperparameters: &[
            PREDICTOR_TYPE,
            hyper("iterations", at_least(1), Int(100), "boosting rounds: trees per booster"),
            hyper("learning_rate", share(true), Num(0.1), "shrinkage of each tree (XGBoost's eta)"),
            hyper("max_depth", at_least(1), Int(6), "deepest a tree may grow, in splits"),
            hyper("l2", non_negative(true), Num(1.0), "L2 regularisation of leaf weights (XGBoost's lambda)"),
            hyper("min_child_weight", non_negative(false), Num(1.0), "smallest hessian sum a child may have"),
            hyper("subsample", share(false), Num(1.0), "share of the rows sampled for each tree"),
            hyper(
                "early_stopping_rounds",
                at_least(1),
                Unset,
                "with a validation table, stop when its loss has not improved for this many rounds; null: never",
            ),
            hyper("seed", at_least(0), Int(0), "random seed of the row sampling"),
        ],
    },
    Algorithm {
        name: "random_forest",
        title: "Random forest (linfa-ensemble)",
        model_types: &["RandomForestModel"],
        supervised: true,
        hyperparameters: &[
            hyper("trees", at_least(1), Int(100), "number of trees"),
            hyper(
                "max_depth",
                at_least(1),
                Unset,
                "deepest a tree may grow, in splits; null: until its leaves are pure",
            ),
            hyper(
                "feature_proportion",
                share(false),
                Unset,
                "share of the feature columns each tree sees; null: ⌈√d⌉ / d of the d columns",
            ),
            hyper(
                "bootstrap_proportion",
                share(false),
                Num(1.0),
                "each tree's bootstrap sample, as a share of the rows",
            ),
            hyper("seed", at_least(0), Int(0), "random seed of the samples and feature subsets"),
        ],
    },
    Algorithm {
        name: "decision_tree",
        title: "Decision tree (CART, linfa-trees)",
        model_types: &["DecisionTreeModel"],
        supervised: true,
        hyperparameters: &[
            hyper(
                "max_depth",
                at_least(1),
                Unset,
                "deepest a branch may grow, in splits; null: until its leaves are pure",
            ),
            hyper("min_rows_split", non_negative(false), Num(2.0), "fewest rows a node needs to be split"),
            hyper("min_rows_leaf", non_negative(false), Num(1.0), "fewest rows a leaf may hold"),
        ],
    },
    Algorithm {
        name: "linear_learner",
        title: "Linear learner (logistic or least-squares regression)",
        model_types: &["LinearClassifier", "LinearRegressor"],
        supervised: true,
        hyperparameters: &[
            PREDICTOR_TYPE,
            hyper(
                "l2",
                non_negative(true),
                Unset,
                "L2 penalty on the weights; null: 1.0 for a classifier, 0 (plain least squares) for a regressor",
            ),
            hyper("max_iterations", at_least(1), Int(100), "most L-BFGS iterations (classifier only)"),
            hyper(
                "tolerance",
                Range::Continuous { min: 0.0, max: f64::INFINITY, min_exclusive: true, log_scale: true },
                Num(1e-4),
                "stop when the mean log-loss's gradient is below this (classifier only)",
            ),
        ],
    },
    Algorithm {
        name: "knn",
        title: "k-nearest neighbours (k-d tree)",
        model_types: &["KnnClassifier", "KnnRegressor"],
        supervised: true,
        hyperparameters: &[
            PREDICTOR_TYPE,
            hyper("k", at_least(1), Int(5), "neighbours that vote (classes) or are averaged (numbers)"),
        ],
    },
    Algorithm {
        name: "naive_bayes",
        title: "Gaussian naive Bayes",
        model_types: &["NaiveBayesModel"],
        supervised: true,
        hyperparameters: &[hyper(
            "var_smoothing",
            non_negative(true),
            Num(1e-9),
            "share of the largest feature variance added to every variance",
        )],
    },
    Algorithm {
        name: "kmeans",
        title: "k-means clustering",
        model_types: &["KMeansModel"],
        supervised: false,
        hyperparameters: &[
            hyper("k", at_least(1), Int(8), "number of clusters (default scikit-learn's)"),
            hyper("runs", at_least(1), Int(10), "runs from different starts; the lowest inertia wins"),
            hyper("max_iterations", at_least(0), Int(300), "most Lloyd iterations per run"),
            hyper(
                "tolerance",
                non_negative(true),
                Num(1e-4),
                "stop when the centres move less (summed squared distance)",
            ),
            hyper("seed", at_least(0), Int(42), "random seed of the starts"),
        ],
    },
    Algorithm {
        name: "pca",
        title: "Principal component analysis",
        model_types: &["PcaModel"],
        supervised: false,
        hyperparameters: &[hyper(
            "n_components",
            at_least(1),
            Unset,
            "components kept, at most min(rows, columns); null: that many",
        )],
    },
    Algorithm {
        name: "random_cut_forest",
        title: "Random cut forest anomaly detector",
        model_types: &["RandomCutForestModel"],
        supervised: false,
        hyperparameters: &[
            hyper("trees", at_least(1), Int(100), "number of trees"),
            hyper("sample_size", at_least(4), Int(256), "points each tree keeps"),
            hyper("seed", at_least(0), Int(42), "random seed"),
        ],
    },
];

/// Every built-in algorithm a training job may name.
pub fn algorithms() -> &'static [Algorithm] {
    ALGORITHMS
}

/// The built-in algorithm of this name.
///
/// # Errors
/// [`MlError::InvalidParams`] for an unknown name; the message lists the valid ones.
pub fn algorithm(name: &str) -> Result<&'static Algorithm> {
    ALGORITHMS.iter().find(|a| a.name == name).ok_or_else(|| {
        let names: Vec<&str> = ALGORITHMS.iter().map(|a| a.name).collect();
        MlError::InvalidParams(format!("unknown algorithm `{name}`; the algorithms are {}", names.join(", ")))
    })
}

impl Algorithm {
    fn hyperparameter(&self, name: &str) -> Result<&'static Hyperparameter> {
        self.hyperparameters.iter().find(|h| h.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.hyperparameters.iter().map(|h| h.name).collect();
            MlError::InvalidParams(format!(
                "`{}` has no hyper-parameter `{name}`; its hyper-parameters are {}",
                self.name,
                names.join(", ")
            ))
        })
    }

    fn has(&self, hyperparameter: &Hyperparameter) -> bool {
        self.hyperparameters.iter().any(|h| h.name == hyperparameter.name)
    }
}

impl Hyperparameter {
    /// Checks a spec's value for this hyper-parameter.
    fn check(&self, value: &Value) -> Result<()> {
        let nullable = self.default == Unset;
        if (value.is_null() && nullable) || self.range.admits(value) {
            return Ok(());
        }
        let or_null = if nullable { " or null" } else { "" };
        Err(MlError::InvalidParams(format!("`{}` must be {}{or_null}, got {value}", self.name, self.range)))
    }
}

impl Range {
    fn admits(&self, value: &Value) -> bool {
        match (self, value) {
            (Range::Integer { min, max }, Value::Number(n)) => n.as_i64().is_some_and(|v| (*min..=*max).contains(&v)),
            (Range::Continuous { min, max, min_exclusive, .. }, Value::Number(n)) => {
                n.as_f64().is_some_and(|v| (v > *min || (v == *min && !min_exclusive)) && v <= *max)
            }
            (Range::Categorical(options), Value::String(s)) => options.contains(&s.as_str()),
            _ => false,
        }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Range::Integer { min, max: i64::MAX } => write!(f, "an integer ≥ {min}"),
            Range::Integer { min, max } => write!(f, "an integer in [{min}, {max}]"),
            Range::Continuous { min, max, min_exclusive, .. } if max.is_infinite() => {
                write!(f, "a number {} {min}", if min_exclusive { ">" } else { "≥" })
            }
            Range::Continuous { min, max, min_exclusive, .. } => {
                write!(f, "a number in {}{min}, {max}]", if min_exclusive { "(" } else { "[" })
            }
            Range::Categorical(options) => {
                let quoted: Vec<String> = options.iter().map(|o| format!("\"{o}\"")).collect();
                write!(f, "one of {}", quoted.join(", "))
            }
        }
    }
}

impl DefaultValue {
    /// The default as a spec would give it.
    pub fn to_json(&self) -> Value {
        match *self {
            DefaultValue::Integer(v) => Value::from(v),
            DefaultValue::Number(v) => Value::from(v),
            DefaultValue::Text(v) => Value::from(v),
            DefaultValue::Unset => Value::Null,
        }
    }
}

/// A training job's recipe:
/// `{"algorithm": "gradient_boosted_trees", "hyperparameters": {"max_depth": 4}, "target": "Class"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSpec {
    /// An [`Algorithm::name`].
    pub algorithm: String,
    /// Hyper-parameters by name; those left out take their default.
    #[serde(default)]
    pub hyperparameters: Map<String, Value>,
    /// The column to predict; `None` for an unsupervised algorithm.
    pub target: Option<String>,
}

impl TrainingSpec {
    /// Checks the algorithm and every hyper-parameter without data.
    ///
    /// # Errors
    /// [`MlError::InvalidParams`] for an unknown algorithm (the message
    /// lists the valid ones), an unknown hyper-parameter (lists the
    /// algorithm's), a value of the wrong JSON type or out of range (gives
    /// the range), or a supervised algorithm without a target.
    pub fn validate(&self) -> Result<&'static Algorithm> {
        Ok(self.checked()?.0.algorithm)
    }

    /// [`Self::validate`], giving the hyper-parameters and what the job learns.
    fn checked(&self) -> Result<(Settings<'_>, Task<'_>)> {
        let algorithm = algorithm(&self.algorithm)?;
        for (name, value) in &self.hyperparameters {
            algorithm.hyperparameter(name)?.check(value)?;
        }
        let settings = Settings { algorithm, given: &self.hyperparameters };
        let task = Task::of(&settings, self.target.as_deref())?;
        Ok((settings, task))
    }
}

/// What [`train`] reports while it works.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// A round of training is done: for boosted trees with a validation
    /// table, each boosting round with its validation loss (`of`: the
    /// `iterations`; early stopping may end sooner); for the others one
    /// round of 1 at the end, with the final metrics.
    Round {
        /// This round, from 1.
        round: usize,
        /// The most rounds there will be.
        of: usize,
        /// Metrics after this round, by name.
        metrics: BTreeMap<String, f64>,
    },
    /// A line for the job's log.
    Log(String),
    /// Where training stands, to go on from ([`train`]'s `resume`) if the
    /// process dies: k-means after each batch of runs. Iterative training
    /// the library cannot continue (forust-ml's boosting has no warm
    /// start) reports none and starts again from the beginning.
    Checkpoint(Checkpoint),
}

/// A saved point in a training job's fit, as JSON: the algorithm, how far
/// it got (`round` of `of`: k-means runs) and the algorithm's own state
/// (for k-means a [`KMeansCheckpoint`](crate::KMeansCheckpoint)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The [`Algorithm::name`] that wrote it.
    pub algorithm: String,
    /// Rounds done, from 1.
    pub round: usize,
    /// Rounds in all.
    pub of: usize,
    /// What the algorithm needs to go on.
    pub state: Value,
}

/// A trained model, saved, with how well it did.
#[derive(Debug, Clone, PartialEq)]
pub struct Trained {
    /// The saved model's type (an [`Algorithm::model_types`] entry): load
    /// `model_json` with that type's `from_json`.
    pub model_type: String,
    /// The model's `to_json()` document.
    pub model_json: String,
    /// Metrics of the finished model, named `validation_…` when measured on
    /// the validation table and `train_…` on the training table.
    pub final_metrics: BTreeMap<String, f64>,
    /// Metrics after each round, by name (boosted trees with a validation
    /// table: `validation_log_loss` or `validation_rmse`); else empty.
    pub curves: BTreeMap<String, Vec<f64>>,
    /// Rows the model was trained on.
    pub rows: usize,
}

/// Trains a model as `spec` says on `train` and scores it.
///
/// Text feature columns are one-hot encoded ([`Table::one_hot`]; the
/// validation table with the training table's categories, an unseen one
/// encoding as all zeros); every other numeric column is a feature. The
/// target becomes labels for a classifier, numbers for a regressor; an
/// unsupervised algorithm drops it. Metrics are measured on `validation`
/// when given, else on `train` (prefixes `validation_` / `train_`):
/// classifiers `accuracy`, and for two classes, where the model gives
/// probabilities (all but `decision_tree`), `roc_auc`, `average_precision`
/// and `log_loss` (positive class: the second); regressors `rmse` and `r2`;
/// `kmeans` `inertia` (mean squared distance to the nearest centre); `pca`
/// `explained_variance_ratio` (1 − reconstruction error / total variance:
/// on the training rows the components' summed ratios); `random_cut_forest`
/// `mean_score`. See [`Progress`] for what is reported and when.
///
/// With `resume`, a [`Progress::Checkpoint`] an earlier call with the same
/// spec and tables reported, the fit goes on from there and ends with the
/// model an uninterrupted one gives (algorithms without checkpoints ignore
/// it, with a log line).
///
/// # Errors
/// As [`TrainingSpec::validate`]; [`MlError::InvalidParams`] naming the
/// table's columns for a target it lacks, or for a checkpoint of another
/// algorithm or one that does not fit the spec and data; [`MlError::Shape`] when the
/// validation table's columns differ from the training table's (names, or
/// numbers against text); the errors of [`Table`], of the model's `fit`
/// (bad data, a hyper-parameter that does not suit the data such as `k`
/// above the number of rows) and of the metrics.
pub fn train(
    spec: &TrainingSpec,
    train: &Table,
    validation: Option<&Table>,
    resume: Option<&Checkpoint>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Trained> {
    let (settings, task) = spec.checked()?;
    let algorithm = settings.algorithm;
    if let Some(c) = resume.filter(|c| c.algorithm != algorithm.name) {
        return Err(MlError::InvalidParams(format!(
            "the checkpoint is of {}, not {}: it cannot resume this job",
            c.algorithm, algorithm.name
        )));
    }
    let (train_set, validation_set) = datasets(train, validation, task)?;
    progress(Progress::Log(format!(
        "fitting {} on {} rows × {} features",
        algorithm.name,
        train_set.nrows(),
        train_set.ncols()
    )));
    let mut curves = BTreeMap::new();
    let fitted = fit(&settings, task, &train_set, validation_set.as_ref(), resume, &mut curves, progress)?;
    let (scored, set) = match &validation_set {
        Some(v) => (v, "validation"),
        None => (&train_set, "train"),
    };
    let final_metrics = score(&fitted.predictor, scored, set)?;
    let listed: Vec<String> = final_metrics.iter().map(|(name, v)| format!("{name} {v:.4}")).collect();
    progress(Progress::Log(format!("on the {set} table's {} rows: {}", scored.nrows(), listed.join(", "))));
    if curves.is_empty() {
        progress(Progress::Round { round: 1, of: 1, metrics: final_metrics.clone() });
    }
    Ok(Trained {
        model_type: fitted.model_type.to_owned(),
        model_json: fitted.model_json,
        final_metrics,
        curves,
        rows: train_set.nrows(),
    })
}

/// A validated spec's hyper-parameters, with the algorithm's defaults for
/// those it leaves out.
struct Settings<'a> {
    algorithm: &'static Algorithm,
    given: &'a Map<String, Value>,
}

impl Settings<'_> {
    /// The value of `name`, `None` for null, read by `read`.
    fn get<T>(&self, name: &str, read: fn(&Value) -> Option<T>) -> Result<Option<T>> {
        let default;
        let value = match self.given.get(name) {
            Some(v) => v,
            None => {
                default = self.algorithm.hyperparameter(name)?.default.to_json();
                &default
            }
        };
        if value.is_null() {
            return Ok(None);
        }
        read(value).map(Some).ok_or_else(|| MlError::InvalidParams(format!("`{name}` cannot be {value}")))
    }

    fn required<T>(&self, name: &str, read: fn(&Value) -> Option<T>) -> Result<T> {
        self.get(name, read)?.ok_or_else(|| MlError::InvalidParams(format!("`{name}` needs a value")))
    }

    fn optional_count(&self, name: &str) -> Result<Option<usize>> {
        self.get(name, as_count)
    }

    fn count(&self, name: &str) -> Result<usize> {
        self.required(name, as_count)
    }

    fn integer(&self, name: &str) -> Result<u64> {
        self.required(name, Value::as_u64)
    }

    fn number(&self, name: &str) -> Result<f64> {
        self.required(name, Value::as_f64)
    }

    fn optional_number(&self, name: &str) -> Result<Option<f64>> {
        self.get(name, Value::as_f64)
    }
}

fn as_count(value: &Value) -> Option<usize> {
    value.as_u64().and_then(|n| usize::try_from(n).ok())
}

/// What a job learns, with its target column.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Task<'a> {
    Classification(&'a str),
    Regression(&'a str),
    /// The target, if the spec names one, is dropped from the features.
    Unsupervised(Option<&'a str>),
}

impl<'a> Task<'a> {
    fn of(settings: &Settings<'_>, target: Option<&'a str>) -> Result<Self> {
        let algorithm = settings.algorithm;
        if !algorithm.supervised {
            return Ok(Task::Unsupervised(target));
        }
        let target = target.ok_or_else(|| {
            MlError::InvalidParams(format!(
                "`{}` learns to predict a column: the spec needs a `target` naming it",
                algorithm.name
            ))
        })?;
        let regressor = algorithm.has(&PREDICTOR_TYPE)
            && settings.required(PREDICTOR_TYPE.name, |v| v.as_str().map(str::to_owned))? == "regressor";
        Ok(if regressor { Task::Regression(target) } else { Task::Classification(target) })
    }

    fn target(self) -> Option<&'a str> {
        match self {
            Task::Classification(t) | Task::Regression(t) => Some(t),
            Task::Unsupervised(t) => t,
        }
    }
}

/// The datasets of a job: text feature columns one-hot encoded, the
/// validation table with the training table's feature columns.
fn datasets(train: &Table, validation: Option<&Table>, task: Task<'_>) -> Result<(Dataset, Option<Dataset>)> {
    let target = task.target();
    if let Some(t) = target
        && !train.column_names().iter().any(|c| c == t)
    {
        return Err(MlError::InvalidParams(format!(
            "the target column `{t}` is not in the training table; its columns are {}",
            train.column_names().join(", ")
        )));
    }
    let encoded = one_hot_text(train, target)?;
    let features: Vec<String> = encoded.numeric_columns().into_iter().filter(|c| Some(c.as_str()) != target).collect();
    if features.is_empty() {
        return Err(MlError::Empty("the training table has no feature columns besides the target".into()));
    }
    let train_set = dataset(&encoded, &features, task, None)?;
    let validation_set = validation
        .map(|v| {
            check_same_columns(train, v)?;
            let mut encoded = one_hot_text(v, target)?;
            let present: HashSet<String> = encoded.column_names().into_iter().collect();
            // A category the validation rows lack: its column is all zeros.
            for absent in features.iter().filter(|f| !present.contains(*f)) {
                encoded = encoded.with_column(absent, &Vector::from_vec(vec![0.0; v.nrows()]))?;
            }
            dataset(&encoded, &features, task, train_set.labels().ok())
        })
        .transpose()?;
    Ok((train_set, validation_set))
}

/// The table with every text column but the target one-hot encoded.
fn one_hot_text(table: &Table, target: Option<&str>) -> Result<Table> {
    let numeric: HashSet<String> = table.numeric_columns().into_iter().collect();
    let mut encoded = table.clone();
    for column in table.column_names() {
        if !numeric.contains(&column) && Some(column.as_str()) != target {
            encoded = encoded.one_hot(&column)?;
        }
    }
    Ok(encoded)
}

/// A dataset of the `features` columns and the task's target; `classes`:
/// the training labels, whose class list validation labels take.
fn dataset(table: &Table, features: &[String], task: Task<'_>, classes: Option<&Labels>) -> Result<Dataset> {
    let x = table.matrix(features)?;
    match task {
        Task::Classification(t) => {
            let labels = table.labels(t)?;
            let labels = match classes {
                Some(c) => labels.aligned_to(c)?,
                None => labels,
            };
            Dataset::classification(x, labels)
        }
        Task::Regression(t) => Dataset::regression(x, table.numbers(t)?),
        Task::Unsupervised(_) => Ok(Dataset::unsupervised(x)),
    }
}

/// Checks that the validation table has the training table's columns, each
/// of the same kind (numbers or text), in any order.
pub(crate) fn check_same_columns(train: &Table, validation: &Table) -> Result<()> {
    let (ours, theirs) = (train.column_names(), validation.column_names());
    let missing: Vec<&str> = ours.iter().filter(|c| !theirs.contains(c)).map(String::as_str).collect();
    let extra: Vec<&str> = theirs.iter().filter(|c| !ours.contains(c)).map(String::as_str).collect();
    if !missing.is_empty() || !extra.is_empty() {
        return Err(MlError::Shape(format!(
            "the validation table's columns differ from the training table's: missing [{}], extra [{}]",
            missing.join(", "),
            extra.join(", ")
        )));
    }
    let (numeric, theirs_numeric) = (train.numeric_columns(), validation.numeric_columns());
    if let Some(c) = ours.iter().find(|c| numeric.contains(c) != theirs_numeric.contains(c)) {
        return Err(MlError::Shape(format!(
            "column `{c}` holds numbers in one table and text in the other (training: {}, validation: {})",
            if numeric.contains(c) { "numbers" } else { "text" },
            if theirs_numeric.contains(c) { "numbers" } else { "text" },
        )));
    }
    Ok(())
}

/// A fitted model: its saved form and its predictions for the metrics.
struct Fitted {
    model_type: &'static str,
    model_json: String,
    predictor: Predictor,
}

type Predict<T> = Box<dyn Fn(&Matrix) -> Result<T>>;

enum Predictor {
    /// Classes, with the positive class's probability where there is one.
    Classes(Predict<(Labels, Option<Vector>)>),
    Values(Predict<Vector>),
    /// Named measures of how an unsupervised model fits the rows.
    Measures(Predict<Vec<(&'static str, f64)>>),
}

/// A classifier's predictor; `proba` is used for a `binary` model only.
fn classifier<M: 'static>(
    model: M,
    binary: bool,
    predict: fn(&M, &Matrix) -> Result<Labels>,
    proba: Option<fn(&M, &Matrix) -> Result<Vector>>,
) -> Predictor {
    let proba = proba.filter(|_| binary);
    Predictor::Classes(Box::new(move |x: &Matrix| -> Result<(Labels, Option<Vector>)> {
        Ok((predict(&model, x)?, proba.map(|p| p(&model, x)).transpose()?))
    }))
}

fn regressor<M: 'static>(model: M, predict: fn(&M, &Matrix) -> Result<Vector>) -> Predictor {
    Predictor::Values(Box::new(move |x: &Matrix| predict(&model, x)))
}

fn measures(measure: impl Fn(&Matrix) -> Result<Vec<(&'static str, f64)>> + 'static) -> Predictor {
    Predictor::Measures(Box::new(measure))
}

fn fit(
    s: &Settings<'_>,
    task: Task<'_>,
    train: &Dataset,
    validation: Option<&Dataset>,
    resume: Option<&Checkpoint>,
    curves: &mut BTreeMap<String, Vec<f64>>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Fitted> {
    if resume.is_some() && s.algorithm.name != "kmeans" {
        progress(Progress::Log(format!("{} keeps no checkpoints: training starts again", s.algorithm.name)));
    }
    let regression = matches!(task, Task::Regression(_));
    let binary = train.labels().is_ok_and(|l| l.n_classes() == 2);
    let fitted = |model_type, model_json, predictor| Ok(Fitted { model_type, model_json, predictor });
    match s.algorithm.name {
        "gradient_boosted_trees" => {
            let iterations = s.count("iterations")?;
            let mut params = GradientBoostedTrees::params()
                .iterations(iterations)
                .learning_rate(s.number("learning_rate")? as f32)
                .max_depth(s.count("max_depth")?)
                .l2(s.number("l2")? as f32)
                .min_child_weight(s.number("min_child_weight")? as f32)
                .subsample(s.number("subsample")? as f32)
                .seed(s.integer("seed")?);
            if let Some(rounds) = s.optional_count("early_stopping_rounds")? {
                params = params.early_stopping_rounds(rounds);
                if validation.is_none() {
                    progress(Progress::Log("early_stopping_rounds needs a validation table: ignored".into()));
                }
            }
            let model = match validation {
                Some(v) => {
                    let name = if regression { "validation_rmse" } else { "validation_log_loss" };
                    let (model, curve) = boost_with_curve(&params, iterations, train, v, name, progress)?;
                    curves.insert(name.to_owned(), curve);
                    model
                }
                None => params.fit(train)?,
            };
            let json = model.to_json()?;
            let predictor = if regression {
                regressor(model, GradientBoostedTreesModel::predict_values)
            } else {
                classifier(
                    model,
                    binary,
                    GradientBoostedTreesModel::predict,
                    Some(GradientBoostedTreesModel::predict_proba),
                )
            };
            fitted("GradientBoostedTreesModel", json, predictor)
        }
        "random_forest" => {
            let mut params = RandomForest::params()
                .trees(s.count("trees")?)
                .max_depth(s.optional_count("max_depth")?)
                .bootstrap_proportion(s.number("bootstrap_proportion")?)
                .seed(s.integer("seed")?);
            if let Some(share) = s.optional_number("feature_proportion")? {
                params = params.feature_proportion(share);
            }
            let m = params.fit(train)?;
            let json = m.to_json()?;
            fitted(
                "RandomForestModel",
                json,
                classifier(m, binary, RandomForestModel::predict, Some(RandomForestModel::predict_proba)),
            )
        }
        "decision_tree" => {
            let m = DecisionTree::params()
                .max_depth(s.optional_count("max_depth")?)
                .min_rows_split(s.number("min_rows_split")? as f32)
                .min_rows_leaf(s.number("min_rows_leaf")? as f32)
                .fit(train)?;
            let json = m.to_json()?;
            fitted("DecisionTreeModel", json, classifier(m, binary, DecisionTreeModel::predict, None))
        }
        "linear_learner" => {
            let l2 = s.optional_number("l2")?;
            if regression {
                let params = LinearLearner::regressor();
                let m = match l2 {
                    Some(l2) => params.l2(l2),
                    None => params,
                }
                .fit(train)?;
                let json = m.to_json()?;
                fitted("LinearRegressor", json, regressor(m, LinearRegressor::predict))
            } else {
                let params = LinearLearner::classifier()
                    .max_iterations(s.integer("max_iterations")?)
                    .tolerance(s.number("tolerance")?);
                let m = match l2 {
                    Some(l2) => params.l2(l2),
                    None => params,
                }
                .fit(train)?;
                let json = m.to_json()?;
                let predictor = classifier(m, binary, LinearClassifier::predict, Some(LinearClassifier::predict_proba));
                fitted("LinearClassifier", json, predictor)
            }
        }
        "knn" => {
            let params = Knn::params(s.count("k")?);
            if regression {
                let m = params.fit_regressor(train)?;
                let json = m.to_json()?;
                fitted("KnnRegressor", json, regressor(m, KnnRegressor::predict))
            } else {
                let m = params.fit_classifier(train)?;
                let json = m.to_json()?;
                fitted(
                    "KnnClassifier",
                    json,
                    classifier(m, binary, KnnClassifier::predict, Some(KnnClassifier::predict_proba)),
                )
            }
        }
        "naive_bayes" => {
            let m = NaiveBayes::params().var_smoothing(s.number("var_smoothing")?).fit(train)?;
            let json = m.to_json()?;
            fitted(
                "NaiveBayesModel",
                json,
                classifier(m, binary, NaiveBayesModel::predict, Some(NaiveBayesModel::predict_proba)),
            )
        }
        "kmeans" => {
            let runs = s.count("runs")?;
            let params = KMeans::params(s.count("k")?)
                .runs(runs)
                .max_iterations(s.integer("max_iterations")?)
                .tolerance(s.number("tolerance")?)
                .seed(s.integer("seed")?);
            let resume = resume
                .map(|c| serde_json::from_value::<KMeansCheckpoint>(c.state.clone()))
                .transpose()
                .map_err(|e| MlError::InvalidParams(format!("the checkpoint cannot be read: {e}")))?;
            if let Some(r) = &resume {
                progress(Progress::Log(format!("resuming from the checkpoint after run {} of {runs}", r.runs_done)));
            }
            let rows = train.nrows() as f64;
            let m = params.fit_checkpointed(train, resume, &mut |state| {
                let best = state.best.as_ref().map_or(f64::NAN, |(_, total)| total / rows);
                curves.entry("best_inertia".to_owned()).or_default().push(best);
                let metrics = BTreeMap::from([("best_inertia".to_owned(), best)]);
                progress(Progress::Round { round: state.runs_done, of: runs, metrics });
                let round = state.runs_done;
                let state = serde_json::to_value(state).expect("a checkpoint serialises");
                progress(Progress::Checkpoint(Checkpoint { algorithm: "kmeans".into(), round, of: runs, state }));
            })?;
            let json = m.to_json()?;
            fitted("KMeansModel", json, measures(move |x| Ok(vec![("inertia", inertia(&m, x)?)])))
        }
        "pca" => {
            let all = train.nrows().min(train.ncols());
            let m = Pca::params(s.optional_count("n_components")?.unwrap_or(all)).fit(train)?;
            let json = m.to_json()?;
            let measure = measures(move |x| Ok(vec![("explained_variance_ratio", explained_variance_ratio(&m, x)?)]));
            fitted("PcaModel", json, measure)
        }
        "random_cut_forest" => {
            let m = RandomCutForest::params()
                .trees(s.count("trees")?)
                .sample_size(s.count("sample_size")?)
                .seed(s.integer("seed")?)
                .fit(train)?;
            let json = m.to_json()?;
            fitted("RandomCutForestModel", json, measures(move |x| Ok(vec![("mean_score", m.score(x)?.mean())])))
        }
        other => Err(MlError::InvalidParams(format!("the algorithm `{other}` has no training code"))),
    }
}

/// The metrics of `predictor` on `data`, named `{set}_{metric}`.
fn score(predictor: &Predictor, data: &Dataset, set: &str) -> Result<BTreeMap<String, f64>> {
    let x = data.features();
    let named = match predictor {
        Predictor::Classes(predict) => {
            let truth = data.labels()?;
            let (predicted, positive) = predict(x)?;
            let mut named = vec![("accuracy", metrics::accuracy(truth, &predicted)?)];
            if let Some(p) = positive {
                named.push(("roc_auc", metrics::roc_auc(truth, &p)?));
                named.push(("average_precision", metrics::average_precision(truth, &p)?));
                named.push(("log_loss", metrics::log_loss(truth, &p)?));
            }
            named
        }
        Predictor::Values(predict) => {
            let (truth, predicted) = (data.values()?, predict(x)?);
            vec![("rmse", metrics::rmse(truth, &predicted)?), ("r2", metrics::r2(truth, &predicted)?)]
        }
        Predictor::Measures(measure) => measure(x)?,
    };
    Ok(named.into_iter().map(|(name, v)| (format!("{set}_{name}"), v)).collect())
}

/// Mean squared distance of the rows to their nearest centre
/// ([`KMeansModel::inertia`] on the training rows).
fn inertia(model: &KMeansModel, x: &Matrix) -> Result<f64> {
    let clusters = model.predict(x)?;
    let centroids = model.centroids();
    let total: f64 = x
        .array()
        .outer_iter()
        .zip(clusters.ids())
        .map(|(row, &c)| (&row - &centroids.array().row(c)).mapv(|d| d * d).sum())
        .sum();
    Ok(total / x.nrows().max(1) as f64)
}

/// `1 − ‖x − x̂‖² / ‖x − mean(x)‖²` with x̂ the rows projected onto the
/// components and back: on the training rows, the kept components' summed
/// explained variance ratios.
fn explained_variance_ratio(model: &PcaModel, x: &Matrix) -> Result<f64> {
    let back = model.inverse_transform(&model.transform(x)?)?;
    let residual = (x.array() - back.array()).mapv(|d| d * d).sum();
    let mean = x.array().mean_axis(Axis(0)).ok_or_else(|| MlError::Empty("no rows to measure".into()))?;
    let total = (x.array() - &mean).mapv(|d| d * d).sum();
    if total <= 0.0 {
        return Err(MlError::InvalidData("every column is constant: there is no variance to explain".into()));
    }
    Ok(1.0 - residual / total)
}

/// What the fitting job sends to the caller's thread.
enum Event {
    Booster(BoosterEvent),
    /// A round's validation loss as forust-ml logged it (`round` from 0).
    Round {
        round: usize,
        loss: f64,
    },
}

thread_local! {
    /// Where [`RoundLogger`] sends this thread's rounds, while a booster fits on it.
    static SINK: RefCell<Option<Sender<Event>>> = const { RefCell::new(None) };
}

/// Sets this thread's [`SINK`] until dropped, then puts back the one it
/// replaced: a rayon worker waiting inside one fit may run another job,
/// another job's fit included, to its end.
struct SinkGuard {
    replaced: Option<Sender<Event>>,
}

impl SinkGuard {
    fn set(sender: Sender<Event>) -> Self {
        SinkGuard { replaced: SINK.with(|sink| sink.borrow_mut().replace(sender)) }
    }
}

impl Drop for SinkGuard {
    fn drop(&mut self) {
        let replaced = self.replaced.take();
        // Fails only while the thread is being torn down, when the sink goes anyway.
        let _ = SINK.try_with(|sink| *sink.borrow_mut() = replaced);
    }
}

/// The `log` logger that carries forust-ml's per-round records to the
/// fitting thread's [`SINK`]; it drops every other record.
struct RoundLogger;

impl log::Log for RoundLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info && metadata.target().starts_with("forust_ml")
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let _ = SINK.try_with(|sink| {
            if let Some(sender) = sink.borrow().as_ref()
                && let Some((round, loss)) = parse_round(&record.args().to_string())
            {
                // The receiver is gone only when the caller stopped listening.
                let _ = sender.send(Event::Round { round, loss });
            }
        });
    }

    fn flush(&self) {}
}

/// forust-ml's `Iteration {i} evaluation data values: {loss}` (one
/// evaluation set, the loss to 4 decimals) as `(i, loss)`.
fn parse_round(message: &str) -> Option<(usize, f64)> {
    let (round, values) = message.strip_prefix("Iteration ")?.split_once(" evaluation data values: ")?;
    Some((round.parse().ok()?, values.split(", ").next()?.parse().ok()?))
}

/// Installs, once per process, the `log` logger through which [`train`]
/// gets boosted trees' rounds while they train, and says whether it is the
/// process's logger. [`train`] calls it; a worker that also sets up
/// `tracing` (whose `log` bridge takes the same place) calls it first to
/// keep live rounds — `log` records of other crates are then dropped.
/// With another logger in place, rounds arrive when the last booster ends.
pub fn install_round_logger() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| {
        let installed = log::set_logger(&RoundLogger).is_ok();
        if installed {
            log::set_max_level(log::LevelFilter::Info);
        }
        installed
    })
}

/// Fits boosted trees with a validation set, reporting each round's
/// validation loss to `progress` as `name` as soon as it is known (see the
/// module docs); returns the model and those losses.
fn boost_with_curve(
    params: &GradientBoostedTreesParams,
    iterations: usize,
    train: &Dataset,
    validation: &Dataset,
    name: &str,
    progress: &mut dyn FnMut(Progress),
) -> Result<(GradientBoostedTreesModel, Vec<f64>)> {
    let live = install_round_logger();
    if !live {
        progress(Progress::Log("another `log` logger is installed: rounds are reported when the fit ends".into()));
    }
    let mut curve = Curve::new(name, iterations);
    let mut fitted = None;
    rayon::in_place_scope(|scope| {
        let (sender, receiver) = mpsc::channel();
        let fitted = &mut fitted;
        // On a worker of rayon's global pool, where forust-ml fits (and logs)
        // when called from one; from any other thread it moves there itself.
        scope.spawn(move |_| {
            let _sink = live.then(|| SinkGuard::set(sender.clone()));
            *fitted = Some(params.fit_observed(train, validation, live, &mut |event| {
                let _ = sender.send(Event::Booster(event));
            }));
        });
        // Ends when the job has dropped both senders (a panic in it is
        // raised again when the scope ends).
        for event in receiver {
            curve.on(event, progress);
        }
    });
    let model = fitted.ok_or_else(|| MlError::Fit("the booster's job did not finish".into()))??;
    Ok((model, curve.values))
}

/// The boosters' validation losses as one curve, reported round by round:
/// one booster's loss, or the mean over the one-vs-rest boosters (fitted
/// one after another; one that stopped early counts with its last loss).
/// Round i is reported once known: live while the last booster fits, from
/// the log records; the rest (all of them without our logger) when it
/// finishes, from the boosters' histories.
struct Curve {
    /// The metric's name in [`Progress::Round`] and [`Trained::curves`].
    name: String,
    /// The most rounds.
    of: usize,
    boosters: usize,
    /// The booster fitting now.
    current: usize,
    /// The losses of the boosters that have finished.
    finished: Vec<Vec<f64>>,
    /// The curve reported so far.
    values: Vec<f64>,
}

impl Curve {
    fn new(name: &str, of: usize) -> Self {
        Curve { name: name.to_owned(), of, boosters: 1, current: 0, finished: Vec::new(), values: Vec::new() }
    }

    fn on(&mut self, event: Event, progress: &mut dyn FnMut(Progress)) {
        match event {
            Event::Booster(BoosterEvent::Started { index, of }) => (self.current, self.boosters) = (index, of),
            Event::Round { round, loss } => {
                if self.current + 1 == self.boosters && round == self.values.len() {
                    self.report(Some(loss), progress);
                }
            }
            Event::Booster(BoosterEvent::Finished { index, losses }) => {
                self.finished.push(losses);
                if index + 1 == self.boosters {
                    let rounds = self.finished.iter().map(Vec::len).max().unwrap_or(0);
                    while self.values.len() < rounds {
                        self.report(None, progress);
                    }
                }
            }
        }
    }

    /// Reports the next round: the mean of the finished boosters' losses
    /// and `live`, the last booster's logged loss, if any.
    fn report(&mut self, live: Option<f64>, progress: &mut dyn FnMut(Progress)) {
        let round = self.values.len();
        let losses: Vec<f64> =
            self.finished.iter().filter_map(|h| h.get(round).or(h.last()).copied()).chain(live).collect();
        let value = losses.iter().sum::<f64>() / losses.len().max(1) as f64;
        self.values.push(value);
        let metrics = BTreeMap::from([(self.name.clone(), value)]);
        progress(Progress::Round { round: round + 1, of: self.of, metrics });
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{RandomCutForestModel, datasets};

    fn spec(algorithm: &str, hyperparameters: Value, target: Option<&str>) -> TrainingSpec {
        let Value::Object(hyperparameters) = hyperparameters else { panic!("hyper-parameters are an object") };
        TrainingSpec { algorithm: algorithm.into(), hyperparameters, target: target.map(str::to_owned) }
    }

    /// Every fourth row of german_credit for validation, the rest for training.
    fn credit_split() -> (Table, Table) {
        let credit = datasets::german_credit();
        let validation: Vec<bool> = (0..credit.nrows()).map(|i| i % 4 == 0).collect();
        let training: Vec<bool> = validation.iter().map(|v| !v).collect();
        (credit.filter(&training).unwrap(), credit.filter(&validation).unwrap())
    }

    /// Loads a saved model by its type name and predicts `x`: the number of predictions.
    fn reload_and_predict(model_type: &str, json: &str, x: &Matrix) -> Result<usize> {
        Ok(match model_type {
            "GradientBoostedTreesModel" => {
                let m = GradientBoostedTreesModel::from_json(json)?;
                m.predict(x).map(|l| l.len()).or_else(|_| m.predict_values(x).map(|v| v.len()))?
            }
            "RandomForestModel" => RandomForestModel::from_json(json)?.predict(x)?.len(),
            "DecisionTreeModel" => DecisionTreeModel::from_json(json)?.predict(x)?.len(),
            "LinearClassifier" => LinearClassifier::from_json(json)?.predict(x)?.len(),
            "LinearRegressor" => LinearRegressor::from_json(json)?.predict(x)?.len(),
            "KnnClassifier" => KnnClassifier::from_json(json)?.predict(x)?.len(),
            "KnnRegressor" => KnnRegressor::from_json(json)?.predict(x)?.len(),
            "NaiveBayesModel" => NaiveBayesModel::from_json(json)?.predict(x)?.len(),
            "KMeansModel" => KMeansModel::from_json(json)?.predict(x)?.len(),
            "PcaModel" => PcaModel::from_json(json)?.transform(x)?.nrows(),
            "RandomCutForestModel" => RandomCutForestModel::from_json(json)?.score(x)?.len(),
            other => panic!("no loader for {other}"),
        })
    }

    #[test]
    fn every_algorithm_trains_and_its_saved_model_loads_and_predicts() {
        let credit = datasets::german_credit().head(300);
        // Small settings, to keep the test quick.
        let small = |name: &str| match name {
            "gradient_boosted_trees" => json!({"iterations": 10, "max_depth": 3}),
            "random_forest" => json!({"trees": 10, "max_depth": 6}),
            "kmeans" => json!({"k": 3, "runs": 2}),
            "pca" => json!({"n_components": 3}),
            "random_cut_forest" => json!({"trees": 10, "sample_size": 64}),
            _ => json!({}),
        };
        let mut trained = 0;
        for algorithm in algorithms() {
            let types: &[&str] =
                if algorithm.has(&PREDICTOR_TYPE) { &["classifier", "regressor"] } else { &["classifier"] };
            for predictor_type in types {
                let mut spec = spec(algorithm.name, small(algorithm.name), Some("creditability"));
                if algorithm.has(&PREDICTOR_TYPE) {
                    spec.hyperparameters.insert("predictor_type".into(), json!(predictor_type));
                }
                if *predictor_type == "regressor" {
                    spec.target = Some("credit_amount".into());
                }
                let mut rounds = 0;
                let t = train(&spec, &credit, None, None, &mut |p| {
                    rounds += usize::from(matches!(p, Progress::Round { .. }))
                })
                .unwrap_or_else(|e| panic!("{} {predictor_type}: {e}", algorithm.name));
                let what = format!("{} {predictor_type}", algorithm.name);
                assert!(algorithm.model_types.contains(&t.model_type.as_str()), "{what}: {}", t.model_type);
                assert_eq!(t.rows, 300, "{what}");
                if algorithm.name == "kmeans" {
                    // A round, with the best inertia so far, per batch of runs.
                    assert_eq!(t.curves["best_inertia"].len(), rounds, "{what}");
                    assert!((1..=2).contains(&rounds), "{what}: {rounds}");
                } else {
                    assert_eq!(rounds, 1, "{what}");
                    assert!(t.curves.is_empty(), "{what}");
                }
                assert!(!t.final_metrics.is_empty(), "{what}");
                assert!(t.final_metrics.iter().all(|(k, v)| k.starts_with("train_") && v.is_finite()), "{what}: {t:?}");
                let (data, _) = datasets(&credit, None, spec.checked().unwrap().1).unwrap();
                assert_eq!(reload_and_predict(&t.model_type, &t.model_json, data.features()).unwrap(), 300, "{what}");
                if !algorithm.supervised {
                    assert!(
                        !data.features().columns().iter().any(|c| c.starts_with("creditability")),
                        "{what}: target dropped"
                    );
                }
                trained += 1;
            }
        }
        assert_eq!(trained, 12, "9 algorithms, 3 of them both classifier and regressor");
    }

    #[test]
    fn boosted_trees_report_each_validation_round_while_they_train() {
        let (training, validation) = credit_split();
        let spec = spec("gradient_boosted_trees", json!({"iterations": 40, "max_depth": 3}), Some("creditability"));
        let mut rounds = Vec::new();
        let t = train(&spec, &training, Some(&validation), None, &mut |p| {
            if let Progress::Round { round, of, metrics } = p {
                rounds.push((round, of, metrics["validation_log_loss"]));
            }
        })
        .unwrap();
        assert!(install_round_logger(), "no other logger in this test binary");
        assert_eq!(
            rounds.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
            (1..=40).map(|i| (i, 40)).collect::<Vec<_>>()
        );
        let losses: Vec<f64> = rounds.iter().map(|r| r.2).collect();
        assert_eq!(t.curves["validation_log_loss"], losses);
        // Values read from forust-ml's log records, written as they were
        // logged, during the fit: 4 decimals (the history has full precision).
        assert!(losses.iter().all(|l| format!("{l:.4}").parse::<f64>() == Ok(*l)), "{losses:?}");
        assert!(losses[39] < losses[0], "the loss falls: {losses:?}");
        assert!(t.final_metrics["validation_roc_auc"] > 0.7, "{:?}", t.final_metrics);
        assert_eq!(t.rows, 750);
        let model = GradientBoostedTreesModel::from_json(&t.model_json).unwrap();
        assert!(model.feature_names().iter().any(|f| f == "housing=own"), "text columns one-hot encoded");
    }

    #[test]
    fn boosted_regression_and_many_classes_report_their_curves() {
        let (training, validation) = credit_split();
        let regression = spec(
            "gradient_boosted_trees",
            json!({"predictor_type": "regressor", "iterations": 15, "max_depth": 3}),
            Some("credit_amount"),
        );
        let t = train(&regression, &training, Some(&validation), None, &mut |_| {}).unwrap();
        assert_eq!(t.curves["validation_rmse"].len(), 15);
        assert!(t.final_metrics.contains_key("validation_rmse") && t.final_metrics.contains_key("validation_r2"));
        // `housing`: three classes, three one-vs-rest boosters.
        let classes = spec("gradient_boosted_trees", json!({"iterations": 8, "max_depth": 2}), Some("housing"));
        let mut rounds = 0;
        let t = train(&classes, &training, Some(&validation), None, &mut |p| {
            rounds += usize::from(matches!(p, Progress::Round { .. }));
        })
        .unwrap();
        assert_eq!((rounds, t.curves["validation_log_loss"].len()), (8, 8));
        assert_eq!(t.final_metrics.keys().collect::<Vec<_>>(), ["validation_accuracy"], "no AUC for three classes");
    }

    #[test]
    fn a_curve_averages_boosters_and_fills_in_rounds_not_logged() {
        let mut reported = Vec::new();
        let mut progress = |p| {
            if let Progress::Round { round, metrics, .. } = p {
                reported.push((round, metrics["loss"]));
            }
        };
        let mut curve = Curve::new("loss", 3);
        let started = |index| Event::Booster(BoosterEvent::Started { index, of: 2 });
        let finished = |index, losses| Event::Booster(BoosterEvent::Finished { index, losses });
        for event in [
            started(0),
            Event::Round { round: 0, loss: 9.0 }, // not the last booster: waits for its history
            finished(0, vec![1.0, 0.5]),          // stopped early after 2 rounds
            started(1),
            Event::Round { round: 0, loss: 3.0 }, // live
            finished(1, vec![3.0, 2.0, 1.5]),     // rounds 2 and 3 were not logged: from the history
        ] {
            curve.on(event, &mut progress);
        }
        assert_eq!(curve.values, [2.0, 1.25, 1.0]);
        assert_eq!(reported, [(1, 2.0), (2, 1.25), (3, 1.0)]);
    }

    #[test]
    fn forust_round_records_reach_the_sink_while_it_is_set() {
        assert_eq!(parse_round("Iteration 3 evaluation data values: 0.5123"), Some((3, 0.5123)));
        assert_eq!(parse_round("Completed iteration 3 of 10"), None);
        assert!(install_round_logger());
        let (sender, receiver) = mpsc::channel();
        {
            let _sink = SinkGuard::set(sender);
            log::info!(target: "forust_ml::gradientbooster", "Iteration 0 evaluation data values: 0.6824");
            log::info!(target: "another_crate", "Iteration 1 evaluation data values: 0.5");
        }
        log::info!(target: "forust_ml::gradientbooster", "Iteration 2 evaluation data values: 0.4");
        let got: Vec<(usize, f64)> = receiver
            .try_iter()
            .filter_map(|e| match e {
                Event::Round { round, loss } => Some((round, loss)),
                Event::Booster(_) => None,
            })
            .collect();
        assert_eq!(got, [(0, 0.6824)]);
    }

    #[test]
    fn specs_are_checked_without_data_and_errors_say_what_is_valid() {
        let message = |spec: &TrainingSpec| match spec.validate() {
            Err(MlError::InvalidParams(m)) => m,
            other => panic!("expected InvalidParams, got {other:?}"),
        };
        let ok = spec("gradient_boosted_trees", json!({"max_depth": 4, "learning_rate": 0.3}), Some("y"));
        assert_eq!(ok.validate().unwrap().name, "gradient_boosted_trees");
        let parsed: TrainingSpec = serde_json::from_str(r#"{"algorithm": "kmeans", "target": null}"#).unwrap();
        assert_eq!(parsed.validate().unwrap().model_types, ["KMeansModel"], "hyper-parameters default to none");

        let m = message(&spec("xgboost", json!({}), Some("y")));
        assert!(m.contains("unknown algorithm `xgboost`"), "{m}");
        assert!(algorithms().iter().all(|a| m.contains(a.name)), "{m}");

        let m = message(&spec("gradient_boosted_trees", json!({"eta": 0.3}), Some("y")));
        assert!(m.contains("no hyper-parameter `eta`"), "{m}");
        assert!(
            m.contains("learning_rate") && m.contains("early_stopping_rounds") && m.contains("predictor_type"),
            "{m}"
        );

        let m = message(&spec("gradient_boosted_trees", json!({"learning_rate": 1.5}), Some("y")));
        assert!(m.contains("`learning_rate` must be a number in (0, 1], got 1.5"), "{m}");
        let m = message(&spec("random_cut_forest", json!({"sample_size": 2}), None));
        assert!(m.contains("`sample_size` must be an integer ≥ 4, got 2"), "{m}");
        let m = message(&spec("knn", json!({"predictor_type": "ranker"}), Some("y")));
        assert!(m.contains(r#"one of "classifier", "regressor""#), "{m}");

        let m = message(&spec("gradient_boosted_trees", json!({"iterations": "100"}), Some("y")));
        assert!(m.contains("`iterations` must be an integer ≥ 1, got \"100\""), "{m}");
        let m = message(&spec("gradient_boosted_trees", json!({"max_depth": 2.5}), Some("y")));
        assert!(m.contains("must be an integer"), "{m}");
        let m = message(&spec("gradient_boosted_trees", json!({"iterations": null}), Some("y")));
        assert!(m.contains("got null"), "{m}");
        let nullable = spec("random_forest", json!({"max_depth": null}), Some("y"));
        assert!(nullable.validate().is_ok(), "null means unlimited where the default is null");
        let m = message(&spec("random_forest", json!({"max_depth": 0}), Some("y")));
        assert!(m.contains("an integer ≥ 1 or null, got 0"), "{m}");

        let m = message(&spec("naive_bayes", json!({}), None));
        assert!(m.contains("`naive_bayes`") && m.contains("needs a `target`"), "{m}");
        assert!(spec("pca", json!({}), None).validate().is_ok(), "unsupervised: no target needed");
    }

    #[test]
    fn tables_that_do_not_fit_the_spec_are_errors_naming_the_columns() {
        let (training, validation) = credit_split();
        let nothing = &mut |_: Progress| {};
        let wrong_target = spec("naive_bayes", json!({}), Some("credit"));
        let err = train(&wrong_target, &training, None, None, nothing).unwrap_err();
        assert!(
            matches!(&err, MlError::InvalidParams(m) if m.contains("`credit` is not in")
                && m.contains("are status_of_existing_checking_account, duration_in_month, ")),
            "{err}"
        );
        let unsupervised = spec("kmeans", json!({"k": 2}), Some("credit"));
        assert!(
            train(&unsupervised, &training, None, None, nothing)
                .unwrap_err()
                .to_string()
                .contains("`credit` is not in")
        );

        let good = spec("naive_bayes", json!({}), Some("creditability"));
        let fewer = validation.drop(&["purpose"]).unwrap();
        let err = train(&good, &training, Some(&fewer), None, nothing).unwrap_err();
        assert!(matches!(&err, MlError::Shape(m) if m.contains("missing [purpose], extra []")), "{err}");
        let reversed: Vec<String> = validation.column_names().into_iter().rev().collect();
        assert!(
            train(&good, &training, Some(&validation.select(&reversed).unwrap()), None, nothing).is_ok(),
            "any order"
        );
        let numbers = Table::from_csv_str("a,b,y\n1,x,0\n2,y,1\n3,x,0\n4,y,1\n").unwrap();
        let text = Table::from_csv_str("a,b,y\none,x,0\ntwo,y,1\n").unwrap();
        let err = train(&spec("naive_bayes", json!({}), Some("y")), &numbers, Some(&text), None, nothing).unwrap_err();
        assert!(matches!(&err, MlError::Shape(m) if m.contains("`a` holds numbers in one table and text")), "{err}");

        // A category only some rows have: absent from the validation rows, its column is zeros.
        let rare = validation.filter(&(0..validation.nrows()).map(|i| i < 20).collect::<Vec<_>>()).unwrap();
        let columns = |t: &Table| one_hot_text(t, Some("creditability")).unwrap().ncols();
        assert!(columns(&rare) < columns(&training), "some categories are absent from the 20 rows");
        let t = train(&good, &training, Some(&rare), None, nothing).unwrap();
        assert!(t.final_metrics.contains_key("validation_accuracy"));
    }

    #[test]
    fn a_kmeans_job_resumed_from_any_checkpoint_ends_with_the_uninterrupted_model() {
        let credit = datasets::german_credit().head(300);
        let (spec, more_k) = (
            spec("kmeans", json!({"k": 3, "runs": 7, "seed": 5}), None),
            spec("kmeans", json!({"k": 4, "runs": 7, "seed": 5}), None),
        );
        let mut checkpoints = Vec::new();
        let whole = train(&spec, &credit, None, None, &mut |p| {
            if let Progress::Checkpoint(c) = p {
                checkpoints.push(c);
            }
        })
        .unwrap();
        assert_eq!(checkpoints.last().map(|c| (c.round, c.of)), Some((7, 7)));
        for checkpoint in &checkpoints {
            let mut log = Vec::new();
            let resumed = train(&spec, &credit, None, Some(checkpoint), &mut |p| {
                if let Progress::Log(line) = p {
                    log.push(line);
                }
            })
            .unwrap();
            assert_eq!(resumed.model_json, whole.model_json, "from run {}", checkpoint.round);
            let said = format!("resuming from the checkpoint after run {} of 7", checkpoint.round);
            assert!(log.contains(&said), "{log:?}");
        }
        let mut other = checkpoints[0].clone();
        other.algorithm = "pca".into();
        let err = train(&spec, &credit, None, Some(&other), &mut |_| {}).unwrap_err().to_string();
        assert!(err.contains("the checkpoint is of pca, not kmeans"), "{err}");
        let err = train(&more_k, &credit, None, Some(&checkpoints[0]), &mut |_| {}).unwrap_err().to_string();
        assert!(err.contains("does not fit k = 4"), "{err}");
    }
}
