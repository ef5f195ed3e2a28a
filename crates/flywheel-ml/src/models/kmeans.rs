//! `KMeans`: SageMaker's K-Means, on linfa-clustering (Lloyd's algorithm
//! with k-means++ initialisation, best of several seeded runs by inertia).

use linfa::prelude::*;
use ndarray::Array2;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use serde::{Deserialize, Serialize};

use super::{check_predict_input, fit_error};
use crate::error::{MlError, Result};
use crate::{Dataset, Labels, Matrix};

/// Entry point: `KMeans::params(k)`.
///
/// ```
/// use flywheel_ml::prelude::*;
///
/// let iris = datasets::iris();
/// let model = KMeans::params(3).fit(&iris)?; // the species labels are ignored
/// let clusters = model.predict(iris.features())?;
/// assert_eq!(clusters.n_classes(), 3);
/// assert!(metrics::silhouette(iris.features(), &clusters)? > 0.5);
/// # Ok::<(), MlError>(())
/// ```
pub struct KMeans;

impl KMeans {
    /// k clusters; 10 runs, 300 iterations each, tolerance 1e-4, seed 42.
    pub fn params(k: usize) -> KMeansParams {
        KMeansParams { k, runs: 10, max_iterations: 300, tolerance: 1e-4, seed: 42 }
    }
}

/// Hyper-parameters of [`KMeansModel`].
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansParams {
    k: usize,
    runs: usize,
    max_iterations: u64,
    tolerance: f64,
    seed: u64,
}

impl KMeansParams {
    /// Independent runs from different initialisations; the lowest inertia wins.
    pub fn runs(mut self, runs: usize) -> Self {
        self.runs = runs;
        self
    }
    /// Iterations per run.
    pub fn max_iterations(mut self, n: u64) -> Self {
        self.max_iterations = n;
        self
    }
    /// Stop when centroids move less than this (squared distance).
    pub fn tolerance(mut self, tol: f64) -> Self {
        self.tolerance = tol;
        self
    }
    /// Random seed (results are reproducible for a given seed).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Clusters the rows of `data` (its target, if any, is ignored).
    ///
    /// # Errors
    /// `k = 0`, `runs = 0`; `k` larger than the number of rows; empty data; NaN/inf.
    pub fn fit(&self, data: &Dataset) -> Result<KMeansModel> {
        data.check_fit_ready()?;
        if self.k == 0 || self.runs == 0 {
            return Err(MlError::InvalidParams("k and runs must be at least 1".into()));
        }
        if self.k > data.nrows() {
            return Err(MlError::InvalidData(format!("k = {} is larger than the {} rows", self.k, data.nrows())));
        }
        let ds = linfa::DatasetBase::from(data.features().array().clone());
        let model = linfa_clustering::KMeans::params_with_rng(self.k, Xoshiro256Plus::seed_from_u64(self.seed))
            .n_runs(self.runs)
            .max_n_iterations(self.max_iterations)
            .tolerance(self.tolerance)
            .fit(&ds)
            .map_err(fit_error)?;
        Ok(KMeansModel { centroids: model.centroids().clone(), inertia: model.inertia() })
    }
}

/// Fitted cluster centres.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansModel {
    centroids: Array2<f64>,
    inertia: f64,
}

impl KMeansModel {
    /// The k × d cluster centres.
    pub fn centroids(&self) -> Matrix {
        Matrix::from_array(self.centroids.clone())
    }

    /// Mean squared distance of the training rows to their centre (linfa's inertia).
    pub fn inertia(&self) -> f64 {
        self.inertia
    }

    /// The nearest centre of each row, as labels `0` … `k−1`.
    ///
    /// # Errors
    /// [`MlError::Shape`] for another number of features; NaN/inf.
    pub fn predict(&self, x: &Matrix) -> Result<Labels> {
        check_predict_input(x, self.centroids.ncols())?;
        let ids = x
            .array()
            .outer_iter()
            .map(|row| {
                self.centroids
                    .outer_iter()
                    .map(|c| (&row - &c).mapv(|d| d * d).sum())
                    .enumerate()
                    .fold((0, f64::INFINITY), |best, (i, d)| if d < best.1 { (i, d) } else { best })
                    .0
            })
            .collect();
        Labels::from_ids(ids, (0..self.centroids.nrows()).map(|i| i.to_string()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_two_obvious_clusters() {
        let mut rows = Vec::new();
        for i in 0..20 {
            let j = f64::from(i) * 0.01;
            rows.push(vec![j, j]);
            rows.push(vec![10.0 + j, 10.0 - j]);
        }
        let d = Dataset::unsupervised(Matrix::from_rows(&rows).unwrap());
        let m = KMeans::params(2).fit(&d).unwrap();
        let l = m.predict(d.features()).unwrap();
        assert_ne!(l.ids()[0], l.ids()[1]);
        assert!(l.ids().chunks(2).all(|p| p[0] == l.ids()[0] && p[1] == l.ids()[1]));
        assert!(KMeans::params(41).fit(&d).unwrap_err().to_string().contains("larger than the 40 rows"));
    }
}
