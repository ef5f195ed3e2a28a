//! `NaiveBayes`: Gaussian naive Bayes on linfa-bayes — a fast, strong
//! baseline for classification (each feature normal within each class).

use linfa::prelude::*;
use linfa_bayes::NaiveBayes as _;
use serde::{Deserialize, Serialize};

use super::{check_predict_input, fit_error, linfa_classes};
use crate::error::{MlError, Result};
use crate::{Dataset, Labels, Matrix, Vector};

/// Entry point: `NaiveBayes::params()`.
///
/// ```
/// use flywheel_ml::prelude::*;
///
/// let iris = datasets::iris();
/// let (train, test) = stratified_split(&iris, 0.3, 5)?;
/// let model = NaiveBayes::params().fit(&train)?;
/// assert!(metrics::accuracy(test.labels()?, &model.predict(test.features())?)? > 0.85);
/// # Ok::<(), MlError>(())
/// ```
pub struct NaiveBayes;

impl NaiveBayes {
    /// Gaussian naive Bayes with linfa's default variance smoothing (1e-9).
    pub fn params() -> NaiveBayesParams {
        NaiveBayesParams { var_smoothing: 1e-9 }
    }
}

/// Hyper-parameters of [`NaiveBayesModel`].
#[derive(Debug, Clone, PartialEq)]
pub struct NaiveBayesParams {
    pub(crate) var_smoothing: f64,
}

impl NaiveBayesParams {
    /// Share of the largest feature variance added to every variance, for stability.
    pub fn var_smoothing(mut self, v: f64) -> Self {
        self.var_smoothing = v;
        self
    }

    /// Learns per-class means and variances.
    ///
    /// # Errors
    /// Negative smoothing; not a classification dataset; empty; NaN/inf.
    pub fn fit(&self, data: &Dataset) -> Result<NaiveBayesModel> {
        if self.var_smoothing.is_nan() || self.var_smoothing < 0.0 {
            return Err(MlError::InvalidParams(format!("var_smoothing must be ≥ 0, got {}", self.var_smoothing)));
        }
        let ds = linfa_classes(data)?;
        let nb = linfa_bayes::GaussianNb::params().var_smoothing(self.var_smoothing).fit(&ds).map_err(fit_error)?;
        Ok(NaiveBayesModel { nb, classes: data.labels()?.classes().to_vec(), n_features: data.ncols() })
    }
}

/// A fitted Gaussian naive Bayes model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NaiveBayesModel {
    nb: linfa_bayes::GaussianNb<f64, usize>,
    classes: Vec<String>,
    n_features: usize,
}

impl NaiveBayesModel {
    /// The most probable class of each row.
    ///
    /// # Errors
    /// [`MlError::Shape`] for another number of features; NaN/inf.
    pub fn predict(&self, x: &Matrix) -> Result<Labels> {
        check_predict_input(x, self.n_features)?;
        Labels::from_ids(self.nb.predict(x.array()).to_vec(), self.classes.clone())
    }

    /// Probability of the positive (second) class of a binary model.
    ///
    /// # Errors
    /// [`MlError::InvalidData`] when the model has not exactly two classes.
    pub fn predict_proba(&self, x: &Matrix) -> Result<Vector> {
        check_predict_input(x, self.n_features)?;
        if self.classes.len() != 2 {
            return Err(MlError::InvalidData("predict_proba needs a binary (two-class) model".into()));
        }
        let (p, order) = self.nb.predict_proba(x.view());
        let col = order
            .iter()
            .position(|&&c| c == 1)
            .ok_or_else(|| MlError::InvalidData("the positive class was not in the training data".into()))?;
        Ok(Vector::from_array(p.column(col).to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_two_gaussians() {
        let rows: Vec<Vec<f64>> =
            (0..40).map(|i| vec![if i < 20 { 0.0 } else { 5.0 } + f64::from(i % 5) * 0.1]).collect();
        let ys: Vec<i64> = (0..40).map(|i| i64::from(i >= 20)).collect();
        let d = Dataset::classification(Matrix::from_rows(&rows).unwrap(), Labels::from_ints(&ys)).unwrap();
        let m = NaiveBayes::params().fit(&d).unwrap();
        assert_eq!(m.predict(d.features()).unwrap().ids(), d.labels().unwrap().ids());
        let p = m.predict_proba(&Matrix::from_rows(&[vec![0.0], vec![5.0]]).unwrap()).unwrap().to_vec();
        assert!(p[0] < 0.01 && p[1] > 0.99, "{p:?}");
    }
}
