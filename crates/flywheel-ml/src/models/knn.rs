//! `Knn`: SageMaker's k-nearest-neighbours, on linfa-nn's k-d tree
//! (Euclidean distance). Classification takes the majority class of the k
//! neighbours (ties go to the lower class index), regression their mean.
//! Distances are on the features as given: scale them first
//! ([`StandardScaler`](crate::StandardScaler)) when their units differ.

use linfa_nn::distance::L2Dist;
use linfa_nn::{CommonNearestNeighbour, NearestNeighbour};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::{check_predict_input, fit_error};
use crate::error::{MlError, Result};
use crate::{Dataset, Labels, Matrix, Vector};

/// Entry point: `Knn::params(k)`, then `fit_classifier` or `fit_regressor`.
///
/// ```
/// use flywheel_ml::prelude::*;
///
/// let iris = datasets::iris();
/// let (train, test) = stratified_split(&iris, 0.3, 1)?;
/// let model = Knn::params(5).fit_classifier(&train)?;
/// assert!(metrics::accuracy(test.labels()?, &model.predict(test.features())?)? > 0.9);
/// # Ok::<(), MlError>(())
/// ```
pub struct Knn;

impl Knn {
    /// Use the `k` nearest training rows.
    pub fn params(k: usize) -> KnnParams {
        KnnParams { k }
    }
}

/// Hyper-parameters of k-nearest neighbours.
#[derive(Debug, Clone, PartialEq)]
pub struct KnnParams {
    pub(crate) k: usize,
}

impl KnnParams {
    fn check(&self, data: &Dataset) -> Result<()> {
        data.check_fit_ready()?;
        if self.k == 0 {
            return Err(MlError::InvalidParams("k must be at least 1".into()));
        }
        if self.k > data.nrows() {
            return Err(MlError::InvalidData(format!(
                "k = {} is larger than the {} training rows",
                self.k,
                data.nrows()
            )));
        }
        Ok(())
    }

    /// Keeps the training rows and their classes.
    ///
    /// # Errors
    /// `k` of 0 or above the number of rows; not a classification dataset; empty; NaN/inf.
    pub fn fit_classifier(&self, data: &Dataset) -> Result<KnnClassifier> {
        self.check(data)?;
        let labels = data.labels()?.clone();
        Ok(KnnClassifier { k: self.k, x: data.features().array().clone(), labels })
    }

    /// Keeps the training rows and their values.
    ///
    /// # Errors
    /// `k` of 0 or above the number of rows; not a regression dataset; empty; NaN/inf.
    pub fn fit_regressor(&self, data: &Dataset) -> Result<KnnRegressor> {
        self.check(data)?;
        Ok(KnnRegressor { k: self.k, x: data.features().array().clone(), y: data.values()?.array().clone() })
    }
}

/// For each row of `x`, the training-row indices of its k nearest neighbours.
fn neighbours(train: &Array2<f64>, x: &Matrix, k: usize) -> Result<Vec<Vec<usize>>> {
    check_predict_input(x, train.ncols())?;
    let index = CommonNearestNeighbour::KdTree.from_batch(train, L2Dist).map_err(fit_error)?;
    x.array()
        .outer_iter()
        .map(|row| Ok(index.k_nearest(row, k).map_err(fit_error)?.into_iter().map(|(_, i)| i).collect()))
        .collect()
}

/// A fitted k-NN classifier (it keeps its training rows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnnClassifier {
    k: usize,
    x: Array2<f64>,
    labels: Labels,
}

impl KnnClassifier {
    /// The majority class among the k nearest training rows.
    ///
    /// # Errors
    /// [`MlError::Shape`] for another number of features; NaN/inf.
    pub fn predict(&self, x: &Matrix) -> Result<Labels> {
        let ids = self.labels.ids();
        let votes = neighbours(&self.x, x, self.k)?
            .into_iter()
            .map(|near| {
                let mut count = vec![0usize; self.labels.n_classes()];
                for i in near {
                    count[ids[i]] += 1;
                }
                count.iter().enumerate().fold((0, 0), |best, (c, &n)| if n > best.1 { (c, n) } else { best }).0
            })
            .collect();
        Labels::from_ids(votes, self.labels.classes().to_vec())
    }

    /// Share of the k neighbours in the positive (second) class, for a
    /// binary problem: a score for ROC and PR curves.
    ///
    /// # Errors
    /// [`MlError::InvalidData`] when the model has not exactly two classes;
    /// as [`Self::predict`] otherwise.
    pub fn predict_proba(&self, x: &Matrix) -> Result<Vector> {
        if self.labels.n_classes() != 2 {
            return Err(MlError::InvalidData("predict_proba needs a binary (two-class) model".into()));
        }
        let ids = self.labels.ids();
        let share = neighbours(&self.x, x, self.k)?
            .into_iter()
            .map(|near| near.iter().filter(|&&i| ids[i] == 1).count() as f64 / self.k as f64)
            .collect();
        Ok(Vector::from_vec(share))
    }
}

/// A fitted k-NN regressor (it keeps its training rows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnnRegressor {
    k: usize,
    x: Array2<f64>,
    y: Array1<f64>,
}

impl KnnRegressor {
    /// The mean value of the k nearest training rows.
    ///
    /// # Errors
    /// [`MlError::Shape`] for another number of features; NaN/inf.
    pub fn predict(&self, x: &Matrix) -> Result<Vector> {
        let means = neighbours(&self.x, x, self.k)?
            .into_iter()
            .map(|near| near.iter().map(|&i| self.y[i]).sum::<f64>() / self.k as f64)
            .collect();
        Ok(Vector::from_vec(means))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_vote_and_average() {
        let x = Matrix::from_rows(&[vec![0.0], vec![1.0], vec![2.0], vec![10.0], vec![11.0]]).unwrap();
        let cls = Dataset::classification(x.clone(), Labels::from_ints(&[0, 0, 0, 1, 1])).unwrap();
        let m = Knn::params(3).fit_classifier(&cls).unwrap();
        let q = Matrix::from_rows(&[vec![0.5], vec![10.5]]).unwrap();
        assert_eq!(m.predict(&q).unwrap().ids(), [0, 1]);
        let p = m.predict_proba(&q).unwrap().to_vec();
        assert!((p[0] - 0.0).abs() < 1e-12 && (p[1] - 2.0 / 3.0).abs() < 1e-12, "{p:?}");
        let reg = Dataset::regression(x, Vector::from_vec(vec![1.0, 2.0, 3.0, 10.0, 20.0])).unwrap();
        let r = Knn::params(2).fit_regressor(&reg).unwrap().predict(&q).unwrap();
        assert_eq!(r.to_vec(), vec![1.5, 15.0]);
        assert!(Knn::params(6).fit_regressor(&reg).is_err());
    }
}
