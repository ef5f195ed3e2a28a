//! `Pca`: SageMaker's PCA (its "regular" mode): the eigendecomposition of
//! the sample covariance matrix of the centred data (linfa-linalg's
//! symmetric eigensolver), components ordered by explained variance — the
//! same result as scikit-learn's full-SVD `PCA`, with its sign convention
//! (each component's largest loading made positive).
//!
//! Why not linfa-reduction's `Pca`: in 0.8.1 its `explained_variance_ratio`
//! is normalised over the kept components only (always summing to 1, and
//! NaN for one component), and its truncated SVD was slower than a full
//! decomposition for the tens of columns the labs have. Cost here:
//! O(n·d²) for the covariance plus O(d³) for the decomposition.

use linfa_linalg::eigh::{EigSort, EighInto};
use ndarray::{Array1, Array2, Axis, s};
use serde::{Deserialize, Serialize};

use super::{check_predict_input, fit_error};
use crate::error::{MlError, Result};
use crate::{Dataset, Matrix, Vector};

/// Entry point: `Pca::params(n_components)`.
///
/// ```
/// use flywheel_ml::prelude::*;
///
/// let iris = datasets::iris();
/// let model = Pca::params(2).fit(&iris)?;
/// let projected = model.transform(iris.features())?; // 150 × 2, columns pc1, pc2
/// assert_eq!(projected.shape(), (150, 2));
/// assert!(model.explained_variance_ratio().get(0).unwrap() > 0.9);
/// # Ok::<(), MlError>(())
/// ```
pub struct Pca;

impl Pca {
    /// Keep `n_components` principal components.
    pub fn params(n_components: usize) -> PcaParams {
        PcaParams { n_components }
    }
}

/// Hyper-parameters of [`PcaModel`].
#[derive(Debug, Clone, PartialEq)]
pub struct PcaParams {
    pub(crate) n_components: usize,
}

impl PcaParams {
    /// Learns the components from the rows of `data` (n × d, n ≥ 2).
    ///
    /// # Errors
    /// `n_components` of 0 or above `min(n, d)`; fewer than 2 rows; every
    /// column constant (no variance to explain); empty data; NaN/inf.
    pub fn fit(&self, data: &Dataset) -> Result<PcaModel> {
        data.check_fit_ready()?;
        let limit = data.nrows().min(data.ncols());
        if self.n_components == 0 || self.n_components > limit {
            return Err(MlError::InvalidParams(format!(
                "n_components must be between 1 and min(rows, columns) = {limit}, got {}",
                self.n_components
            )));
        }
        if data.nrows() < 2 {
            return Err(MlError::InvalidData("PCA needs at least 2 rows".into()));
        }
        let x = data.features().array();
        let mean = x.mean_axis(Axis(0)).ok_or_else(|| MlError::Empty("no rows".into()))?;
        let centred = x - &mean;
        let covariance = centred.t().dot(&centred) / (x.nrows() - 1) as f64;
        let (values, vectors) = covariance.eigh_into().map_err(fit_error)?.sort_eig_desc();
        // Round-off can make the smallest eigenvalues slightly negative.
        let values = values.mapv(|v| v.max(0.0));
        let total: f64 = values.sum();
        if total <= 0.0 {
            return Err(MlError::InvalidData("every column is constant: there is no variance to explain".into()));
        }
        let k = self.n_components;
        let mut components = vectors.slice(s![.., ..k]).t().to_owned();
        for mut c in components.outer_iter_mut() {
            let largest = c.iter().copied().fold(0.0f64, |m, v| if v.abs() > m.abs() { v } else { m });
            if largest < 0.0 {
                c.mapv_inplace(|v| -v);
            }
        }
        let explained_variance = values.slice(s![..k]).to_owned();
        let explained_variance_ratio = &explained_variance / total;
        Ok(PcaModel { components, mean, explained_variance, explained_variance_ratio })
    }
}

/// Fitted principal components.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PcaModel {
    /// k × d, one component per row.
    components: Array2<f64>,
    mean: Array1<f64>,
    explained_variance: Array1<f64>,
    explained_variance_ratio: Array1<f64>,
}

impl PcaModel {
    /// Variance along each component (k values, descending; sample
    /// variance, n − 1), as scikit-learn's `explained_variance_`.
    pub fn explained_variance(&self) -> Vector {
        Vector::from_array(self.explained_variance.clone())
    }

    /// Share of the total variance each component explains (k values,
    /// descending; they sum to 1 only when every component is kept).
    pub fn explained_variance_ratio(&self) -> Vector {
        Vector::from_array(self.explained_variance_ratio.clone())
    }

    /// The k × d components, one per row.
    pub fn components(&self) -> Matrix {
        Matrix::from_array(self.components.clone())
    }

    /// Projects rows (n × d) onto the components: n × k, columns `pc1` … `pck`.
    ///
    /// # Errors
    /// [`MlError::Shape`] for another number of features; NaN/inf.
    pub fn transform(&self, x: &Matrix) -> Result<Matrix> {
        check_predict_input(x, self.mean.len())?;
        let z = (x.array() - &self.mean).dot(&self.components.t());
        let names: Vec<String> = (1..=z.ncols()).map(|i| format!("pc{i}")).collect();
        Matrix::from_array(z).with_columns(&names)
    }

    /// Maps projected rows (n × k) back to the original space (n × d).
    ///
    /// # Errors
    /// [`MlError::Shape`] when `z` does not have k columns.
    pub fn inverse_transform(&self, z: &Matrix) -> Result<Matrix> {
        check_predict_input(z, self.components.nrows())?;
        Ok(Matrix::from_array(z.array().dot(&self.components) + &self.mean))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_rank_pca_reconstructs_exactly_and_ratios_sum_to_one() {
        let rows: Vec<Vec<f64>> =
            (0..30).map(f64::from).map(|t| vec![t, 2.0 * t + (t * 0.7).sin(), (t * 1.3).cos()]).collect();
        let x = Matrix::from_rows(&rows).unwrap();
        let m = Pca::params(3).fit(&Dataset::unsupervised(x.clone())).unwrap();
        let back = m.inverse_transform(&m.transform(&x).unwrap()).unwrap();
        for (a, b) in back.array().iter().zip(x.array()) {
            assert!((a - b).abs() < 1e-8, "{a} vs {b}");
        }
        let r = m.explained_variance_ratio().to_vec();
        assert!((r.iter().sum::<f64>() - 1.0).abs() < 1e-9 && r[0] >= r[1] && r[1] >= r[2], "{r:?}");
        let one = Pca::params(1).fit(&Dataset::unsupervised(x.clone())).unwrap().explained_variance_ratio().to_vec();
        assert!((one[0] - r[0]).abs() < 1e-12, "a share of the total, not of the kept components: {one:?}");
        assert!(Pca::params(4).fit(&Dataset::unsupervised(x)).is_err());
    }
}
