//! `RandomForest`: many CART classification trees, each grown on a
//! bootstrap sample of the rows and a random subset of the feature columns,
//! voting on the class — the baseline a participant tries between one
//! decision tree and boosted trees. Built on linfa-ensemble's
//! `EnsembleLearner` with linfa-trees (Gini impurity).
//!
//! Source: Breiman, *Random Forests*, Machine Learning 45 (2001), as
//! linfa-ensemble 0.8 implements it, with one difference from Breiman's
//! and scikit-learn's `RandomForestClassifier`: the random feature subset
//! is drawn once per tree (Ho's random subspaces, 1998), not at every
//! split. Class probabilities are the share of trees voting for the class
//! (scikit-learn averages the trees' leaf probabilities instead).

use linfa::prelude::*;
use ndarray::Axis;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use serde::{Deserialize, Serialize};

use super::{check_predict_input, fit_error, linfa_classes, normalised_importance};
use crate::error::{MlError, Result};
use crate::{Dataset, Labels, Matrix, Vector};

/// Entry point: `RandomForest::params()`.
///
/// ```
/// use flywheel_ml::prelude::*;
///
/// let iris = datasets::iris();
/// let (train, test) = stratified_split(&iris, 0.3, 3)?;
/// let forest = RandomForest::params().trees(50).seed(7).fit(&train)?;
/// let predicted = forest.predict(test.features())?;
/// assert!(metrics::accuracy(test.labels()?, &predicted)? > 0.85);
/// assert_eq!(forest.n_trees(), 50);
/// # Ok::<(), MlError>(())
/// ```
pub struct RandomForest;

impl RandomForest {
    /// 100 trees of unlimited depth, each on a bootstrap sample as large as
    /// the training set and on ⌈√d⌉ of the d feature columns; seed 0.
    pub fn params() -> RandomForestParams {
        RandomForestParams { trees: 100, max_depth: None, feature_proportion: None, bootstrap_proportion: 1.0, seed: 0 }
    }
}

/// Hyper-parameters of [`RandomForestModel`].
#[derive(Debug, Clone, PartialEq)]
pub struct RandomForestParams {
    pub(crate) trees: usize,
    pub(crate) max_depth: Option<usize>,
    pub(crate) feature_proportion: Option<f64>,
    pub(crate) bootstrap_proportion: f64,
    pub(crate) seed: u64,
}

impl RandomForestParams {
    /// Number of trees.
    pub fn trees(mut self, n: usize) -> Self {
        self.trees = n;
        self
    }
    /// Deepest a tree may grow (`None`: until its leaves are pure).
    pub fn max_depth(mut self, depth: Option<usize>) -> Self {
        self.max_depth = depth;
        self
    }
    /// Share of the feature columns each tree sees, in (0, 1] (default ⌈√d⌉ / d).
    pub fn feature_proportion(mut self, share: f64) -> Self {
        self.feature_proportion = Some(share);
        self
    }
    /// Size of each tree's bootstrap sample (drawn with replacement) as a
    /// share of the training rows, in (0, 1].
    pub fn bootstrap_proportion(mut self, share: f64) -> Self {
        self.bootstrap_proportion = share;
        self
    }
    /// Seed of the row samples and feature subsets: the same seed and data
    /// give the same forest.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Grows the forest on a classification dataset (n rows × d features).
    ///
    /// # Errors
    /// [`MlError::InvalidParams`] for 0 trees, a `max_depth` of 0 or a
    /// proportion outside (0, 1]; as [`Dataset::check_fit_ready`] for the
    /// data (not a classification dataset, empty, NaN/inf).
    pub fn fit(&self, data: &Dataset) -> Result<RandomForestModel> {
        if self.trees == 0 {
            return Err(MlError::InvalidParams("trees must be at least 1".into()));
        }
        if self.max_depth == Some(0) {
            return Err(MlError::InvalidParams("max_depth must be at least 1".into()));
        }
        let d = data.ncols().max(1);
        let features = self.feature_proportion.unwrap_or_else(|| (d as f64).sqrt().ceil() / d as f64);
        for (name, share) in [("feature_proportion", features), ("bootstrap_proportion", self.bootstrap_proportion)] {
            if !(share > 0.0 && share <= 1.0) {
                return Err(MlError::InvalidParams(format!("{name} must be in (0, 1], got {share}")));
            }
        }
        let ds = linfa_classes(data)?;
        let tree = linfa_trees::DecisionTree::params().max_depth(self.max_depth);
        let ensemble =
            linfa_ensemble::EnsembleLearnerParams::new_fixed_rng(tree, Xoshiro256Plus::seed_from_u64(self.seed))
                .ensemble_size(self.trees)
                .bootstrap_proportion(self.bootstrap_proportion)
                .feature_proportion(features)
                .fit(&ds)
                .map_err(fit_error)?;
        Ok(RandomForestModel {
            trees: ensemble.models,
            tree_features: ensemble.model_features,
            classes: data.labels()?.classes().to_vec(),
            feature_names: data.features().columns().to_vec(),
        })
    }
}

/// A fitted random forest: the trees and the feature columns each one saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomForestModel {
    trees: Vec<linfa_trees::DecisionTree<f64, usize>>,
    /// For each tree, the indices of the feature columns it was grown on.
    tree_features: Vec<Vec<usize>>,
    classes: Vec<String>,
    feature_names: Vec<String>,
}

impl RandomForestModel {
    /// Votes per class: n rows × the classes, each row summing to the number of trees.
    fn votes(&self, x: &Matrix) -> Result<ndarray::Array2<f64>> {
        check_predict_input(x, self.feature_names.len())?;
        let mut votes = ndarray::Array2::<f64>::zeros((x.nrows(), self.classes.len()));
        for (tree, features) in self.trees.iter().zip(&self.tree_features) {
            let predicted = tree.predict(&x.array().select(Axis(1), features));
            for (row, &class) in predicted.iter().enumerate() {
                if let Some(v) = votes.get_mut((row, class)) {
                    *v += 1.0;
                }
            }
        }
        Ok(votes)
    }

    /// The share of trees voting for each class: n rows × the classes (in
    /// the order of the training labels' classes), each row summing to 1.
    ///
    /// # Errors
    /// [`MlError::Shape`] for another number of features; NaN/inf.
    pub fn predict_proba_all(&self, x: &Matrix) -> Result<Matrix> {
        let n = self.trees.len() as f64;
        Matrix::from_array(self.votes(x)? / n).with_columns(&self.classes)
    }

    /// The share of trees voting for the positive (second) class of a
    /// binary model: n values in [0, 1].
    ///
    /// # Errors
    /// [`MlError::InvalidData`] unless the model has two classes (use
    /// [`Self::predict_proba_all`]); as [`Self::predict_proba_all`].
    pub fn predict_proba(&self, x: &Matrix) -> Result<Vector> {
        if self.classes.len() != 2 {
            return Err(MlError::InvalidData(format!(
                "predict_proba gives the positive-class probability of a binary model; this one has {} classes — use predict_proba_all",
                self.classes.len()
            )));
        }
        let n = self.trees.len() as f64;
        Ok(Vector::from_array(self.votes(x)?.column(1).mapv(|v| v / n)))
    }

    /// The class most trees vote for (a tie goes to the class listed first).
    ///
    /// # Errors
    /// [`MlError::Shape`] for another number of features; NaN/inf.
    pub fn predict(&self, x: &Matrix) -> Result<Labels> {
        let votes = self.votes(x)?;
        let ids = votes
            .outer_iter()
            .map(|row| {
                row.iter().enumerate().fold((0, f64::MIN), |best, (k, &v)| if v > best.1 { (k, v) } else { best }).0
            })
            .collect();
        Labels::from_ids(ids, self.classes.clone())
    }

    /// Mean impurity decrease per feature over the trees (a tree counts 0
    /// for the columns it did not see), normalised to sum to 1: one value
    /// per feature, in the order of [`Self::feature_names`].
    pub fn feature_importance(&self) -> Vector {
        let mut total = vec![0.0; self.feature_names.len()];
        for (tree, features) in self.trees.iter().zip(&self.tree_features) {
            for (&j, importance) in features.iter().zip(tree.feature_importance()) {
                if let Some(t) = total.get_mut(j) {
                    *t += importance;
                }
            }
        }
        normalised_importance(total)
    }

    /// The feature names, in the order of [`Self::feature_importance`].
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Class 1 when x₀ > 5; x₁ is noise.
    fn threshold_data() -> Dataset {
        let rows: Vec<Vec<f64>> = (0..60).map(|i| vec![f64::from(i % 11), f64::from((i * 7) % 13)]).collect();
        let ys: Vec<i64> = (0..60).map(|i| i64::from(i % 11 > 5)).collect();
        Dataset::classification(Matrix::from_rows(&rows).unwrap(), Labels::from_ints(&ys)).unwrap()
    }

    #[test]
    fn votes_separate_a_threshold_and_rank_the_feature_that_matters() {
        let d = threshold_data();
        let m = RandomForest::params().trees(30).feature_proportion(1.0).seed(1).fit(&d).unwrap();
        assert_eq!(m.predict(d.features()).unwrap().ids(), d.labels().unwrap().ids());
        let p = m.predict_proba(d.features()).unwrap();
        assert!(p.as_slice().iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(crate::metrics::roc_auc(d.labels().unwrap(), &p).unwrap(), 1.0, "a perfect ranking");
        let all = m.predict_proba_all(d.features()).unwrap();
        assert_eq!(all.columns(), ["0", "1"]);
        assert!((0..all.nrows()).all(|i| (all.get(i, 0).unwrap() + all.get(i, 1).unwrap() - 1.0).abs() < 1e-12));
        let imp = m.feature_importance().to_vec();
        assert!(imp[0] > imp[1], "{imp:?}");
        assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn the_same_seed_grows_the_same_forest_and_it_round_trips() {
        let d = threshold_data();
        let fit = |seed| RandomForest::params().trees(10).seed(seed).fit(&d).unwrap();
        assert_eq!(fit(3), fit(3));
        let m = fit(3);
        assert_eq!(m.n_trees(), 10);
        let back = RandomForestModel::from_json(&m.to_json().unwrap()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn bad_parameters_and_inputs_are_errors() {
        let d = threshold_data();
        for params in [
            RandomForest::params().trees(0),
            RandomForest::params().max_depth(Some(0)),
            RandomForest::params().feature_proportion(0.0),
            RandomForest::params().bootstrap_proportion(1.5),
        ] {
            assert!(matches!(params.fit(&d), Err(MlError::InvalidParams(_))), "{params:?}");
        }
        let m = RandomForest::params().trees(5).fit(&d).unwrap();
        assert!(matches!(m.predict(&Matrix::from_rows(&[vec![1.0]]).unwrap()), Err(MlError::Shape(_))));
        let iris = crate::datasets::iris();
        let multi = RandomForest::params().trees(5).fit(&iris).unwrap();
        assert!(matches!(multi.predict_proba(iris.features()), Err(MlError::InvalidData(_))));
        assert_eq!(multi.predict_proba_all(iris.features()).unwrap().ncols(), 3);
    }
}
