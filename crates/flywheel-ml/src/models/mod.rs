//! The algorithms. Each follows linfa's shape — `Params` builder →
//! `fit(&Dataset)` → fitted model → `predict(&Matrix)` — and each fitted
//! model is a plain serialisable struct, so it can be kept in a notebook
//! variable, saved, submitted and served.

mod bayes;
mod forest;
mod gbt;
mod kmeans;
mod knn;
mod lda;
pub use lda::*;
mod linear;
mod pca;
mod persist;
mod rcf;
mod scaling;
mod tree;

pub use bayes::{NaiveBayes, NaiveBayesModel, NaiveBayesParams};
pub use forest::{RandomForest, RandomForestModel, RandomForestParams};
pub(crate) use gbt::BoosterEvent;
pub use gbt::{GradientBoostedTrees, GradientBoostedTreesModel, GradientBoostedTreesParams};
pub use kmeans::{KMeans, KMeansCheckpoint, KMeansModel, KMeansParams};
pub use knn::{Knn, KnnClassifier, KnnParams, KnnRegressor};
pub use linear::{LinearClassifier, LinearClassifierParams, LinearLearner, LinearRegressor, LinearRegressorParams};
pub use pca::{Pca, PcaModel, PcaParams};
pub use rcf::{RandomCutForest, RandomCutForestModel, RandomCutForestParams};
pub use scaling::{MinMaxScaler, StandardScaler};
pub use tree::{DecisionTree, DecisionTreeModel, DecisionTreeParams};

use crate::error::{MlError, Result};
use crate::{Dataset, Matrix};

persist::saveable!(
    GradientBoostedTreesModel,
    LinearClassifier,
    LinearRegressor,
    KMeansModel,
    KnnClassifier,
    KnnRegressor,
    PcaModel,
    RandomCutForestModel,
    DecisionTreeModel,
    RandomForestModel,
    NaiveBayesModel,
    LdaModel,
    StandardScaler,
    MinMaxScaler,
);

/// Checks that `x` can be given to a model trained on `n_features` columns.
pub(crate) fn check_predict_input(x: &Matrix, n_features: usize) -> Result<()> {
    if x.ncols() != n_features {
        return Err(MlError::Shape(format!(
            "the model was trained on {n_features} feature columns, this matrix has {}",
            x.ncols()
        )));
    }
    x.check_finite()
}

/// The linfa dataset of a classification [`Dataset`]: records and class ids.
pub(crate) fn linfa_classes(
    data: &Dataset,
) -> Result<linfa::DatasetBase<ndarray::Array2<f64>, ndarray::Array1<usize>>> {
    data.check_fit_ready()?;
    let labels = data.labels()?;
    let targets = ndarray::Array1::from(labels.ids().to_vec());
    Ok(linfa::DatasetBase::new(data.features().array().clone(), targets))
}

/// Per-feature importance totals scaled to sum to 1 (all zeros stay zeros).
pub(crate) fn normalised_importance(mut total: Vec<f64>) -> crate::Vector {
    let sum: f64 = total.iter().sum();
    if sum > 0.0 {
        total.iter_mut().for_each(|t| *t /= sum);
    }
    crate::Vector::from_vec(total)
}

/// Converts a linfa error into ours.
pub(crate) fn fit_error(e: impl std::fmt::Display) -> MlError {
    MlError::Fit(e.to_string())
}
