//! `DecisionTree`: a CART classification tree on linfa-trees (Gini
//! impurity), the baseline a participant tries before boosted trees.

use linfa::prelude::*;
use serde::{Deserialize, Serialize};

use super::{check_predict_input, fit_error, linfa_classes};
use crate::error::{MlError, Result};
use crate::{Dataset, Labels, Matrix, Vector};

/// Entry point: `DecisionTree::params()`.
///
/// ```
/// use flywheel_ml::prelude::*;
///
/// let iris = datasets::iris();
/// let (train, test) = stratified_split(&iris, 0.3, 3)?;
/// let model = DecisionTree::params().max_depth(Some(3)).fit(&train)?;
/// assert!(metrics::accuracy(test.labels()?, &model.predict(test.features())?)? > 0.85);
/// # Ok::<(), MlError>(())
/// ```
pub struct DecisionTree;

impl DecisionTree {
    /// Unlimited depth, at least 2 rows to split a node, 1 per leaf.
    pub fn params() -> DecisionTreeParams {
        DecisionTreeParams { max_depth: None, min_rows_split: 2.0, min_rows_leaf: 1.0 }
    }
}

/// Hyper-parameters of [`DecisionTreeModel`].
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionTreeParams {
    pub(crate) max_depth: Option<usize>,
    pub(crate) min_rows_split: f32,
    pub(crate) min_rows_leaf: f32,
}

impl DecisionTreeParams {
    /// Deepest a branch may grow (`None`: until leaves are pure).
    pub fn max_depth(mut self, depth: Option<usize>) -> Self {
        self.max_depth = depth;
        self
    }
    /// Fewest rows a node needs to be split.
    pub fn min_rows_split(mut self, n: f32) -> Self {
        self.min_rows_split = n;
        self
    }
    /// Fewest rows a leaf may hold.
    pub fn min_rows_leaf(mut self, n: f32) -> Self {
        self.min_rows_leaf = n;
        self
    }

    /// Grows the tree on a classification dataset.
    ///
    /// # Errors
    /// `max_depth` of 0; not a classification dataset; empty; NaN/inf.
    pub fn fit(&self, data: &Dataset) -> Result<DecisionTreeModel> {
        if self.max_depth == Some(0) {
            return Err(MlError::InvalidParams("max_depth must be at least 1".into()));
        }
        let ds = linfa_classes(data)?;
        let tree = linfa_trees::DecisionTree::params()
            .max_depth(self.max_depth)
            .min_weight_split(self.min_rows_split)
            .min_weight_leaf(self.min_rows_leaf)
            .fit(&ds)
            .map_err(fit_error)?;
        Ok(DecisionTreeModel {
            tree,
            classes: data.labels()?.classes().to_vec(),
            feature_names: data.features().columns().to_vec(),
        })
    }
}

/// A fitted decision tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionTreeModel {
    tree: linfa_trees::DecisionTree<f64, usize>,
    classes: Vec<String>,
    feature_names: Vec<String>,
}

impl DecisionTreeModel {
    /// The class of the leaf each row falls in.
    ///
    /// # Errors
    /// [`MlError::Shape`] for another number of features; NaN/inf.
    pub fn predict(&self, x: &Matrix) -> Result<Labels> {
        check_predict_input(x, self.feature_names.len())?;
        Labels::from_ids(self.tree.predict(x.array()).to_vec(), self.classes.clone())
    }

    /// Impurity decrease per feature, normalised to sum to 1 (one value per feature).
    pub fn feature_importance(&self) -> Vector {
        Vector::from_vec(self.tree.feature_importance())
    }

    /// The feature names, in the order of [`Self::feature_importance`].
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The depth of the grown tree.
    pub fn depth(&self) -> usize {
        self.tree.max_depth()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_threshold_and_ranks_the_feature_that_matters() {
        let rows: Vec<Vec<f64>> = (0..40).map(|i| vec![f64::from(i % 7), f64::from(i)]).collect();
        let ys: Vec<i64> = (0..40).map(|i| i64::from(i >= 25)).collect();
        let d = Dataset::classification(Matrix::from_rows(&rows).unwrap(), Labels::from_ints(&ys)).unwrap();
        let m = DecisionTree::params().max_depth(Some(3)).fit(&d).unwrap();
        assert_eq!(m.predict(d.features()).unwrap().ids(), d.labels().unwrap().ids());
        let imp = m.feature_importance().to_vec();
        assert!(imp[1] > imp[0], "{imp:?}");
        assert!(DecisionTree::params().max_depth(Some(0)).fit(&d).is_err());
    }
}
