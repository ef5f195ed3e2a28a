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

pub mod check;
mod data;
pub mod datasets;
#[doc(hidden)]
pub mod display;
mod error;
pub mod metrics;
mod models;
pub mod plot;
pub mod scoring;
mod split;
mod table;
pub mod text;

pub use data::{Dataset, Labels, Matrix, Target, Vector};
pub use error::MlError;
pub use models::*;
pub use split::{k_fold, stratified_split, time_split, train_test_split};
pub use table::{ColumnData, Table};

/// Everything a notebook needs, in one import.
pub mod prelude {
    pub use crate::check::{self, Check};
    pub use crate::datasets;
    pub use crate::metrics::{self, ConfusionMatrix, CostMatrix, Curve, CurveKind, ThresholdPoint, ThresholdSweep};
    pub use crate::models::*;
    pub use crate::plot::{self, Plot};
    pub use crate::split::{k_fold, stratified_split, time_split, train_test_split};
    pub use crate::text::{self, Corpus, CountVectorizer, TfIdf};
    pub use crate::{Dataset, Labels, Matrix, MlError, Table, Target, Vector};
}
