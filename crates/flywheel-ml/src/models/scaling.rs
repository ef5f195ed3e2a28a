//! Feature scaling: [`StandardScaler`] (zero mean, unit variance) and
//! [`MinMaxScaler`] (to [0, 1]), as scikit-learn's scalers of the same names.

use ndarray::{Array1, Axis};
use serde::{Deserialize, Serialize};

use super::check_predict_input;
use crate::Matrix;
use crate::error::{MlError, Result};

/// Centres each column on its mean and divides by its standard deviation
/// (population, `ddof = 0`). A constant column is only centred (its scale is
/// taken as 1), as scikit-learn does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandardScaler {
    mean: Array1<f64>,
    scale: Array1<f64>,
}

fn check_fit_input(x: &Matrix) -> Result<()> {
    if x.nrows() == 0 {
        return Err(MlError::Empty("cannot fit a scaler on zero rows".into()));
    }
    x.check_finite()
}

impl StandardScaler {
    /// Learns each column's mean and standard deviation.
    ///
    /// # Errors
    /// [`MlError::Empty`] with no rows; [`MlError::NonFinite`] for NaN/inf.
    pub fn fit(x: &Matrix) -> Result<Self> {
        check_fit_input(x)?;
        let mean = x.array().mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(x.ncols()));
        let scale = x.array().std_axis(Axis(0), 0.0).mapv(|s| if s > 0.0 { s } else { 1.0 });
        Ok(Self { mean, scale })
    }

    /// Scales `x` (n × d, the same d as at fit time).
    ///
    /// # Errors
    /// [`MlError::Shape`] for another width; [`MlError::NonFinite`] for NaN/inf.
    pub fn transform(&self, x: &Matrix) -> Result<Matrix> {
        check_predict_input(x, self.mean.len())?;
        let z = (x.array() - &self.mean) / &self.scale;
        Matrix::from_array(z).with_columns(x.columns())
    }

    /// The learnt means, one per column.
    pub fn means(&self) -> Vec<f64> {
        self.mean.to_vec()
    }

    /// The learnt scales (standard deviations; 1 for constant columns).
    pub fn scales(&self) -> Vec<f64> {
        self.scale.to_vec()
    }
}

/// Maps each column linearly onto [0, 1] using its training minimum and
/// maximum (a constant column maps to 0), as scikit-learn's `MinMaxScaler`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinMaxScaler {
    min: Array1<f64>,
    range: Array1<f64>,
}

impl MinMaxScaler {
    /// Learns each column's minimum and maximum.
    ///
    /// # Errors
    /// [`MlError::Empty`] with no rows; [`MlError::NonFinite`] for NaN/inf.
    pub fn fit(x: &Matrix) -> Result<Self> {
        check_fit_input(x)?;
        let a = x.array();
        let min = a.fold_axis(Axis(0), f64::INFINITY, |m, &v| m.min(v));
        let max = a.fold_axis(Axis(0), f64::NEG_INFINITY, |m, &v| m.max(v));
        let range = (&max - &min).mapv(|r| if r > 0.0 { r } else { 1.0 });
        Ok(Self { min, range })
    }

    /// Scales `x`; values outside the training range fall outside [0, 1].
    ///
    /// # Errors
    /// [`MlError::Shape`] for another width; [`MlError::NonFinite`] for NaN/inf.
    pub fn transform(&self, x: &Matrix) -> Result<Matrix> {
        check_predict_input(x, self.min.len())?;
        Matrix::from_array((x.array() - &self.min) / &self.range).with_columns(x.columns())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_scaling_matches_hand_computation() {
        let x = Matrix::from_rows(&[vec![1.0, 5.0], vec![3.0, 5.0]]).unwrap();
        let s = StandardScaler::fit(&x).unwrap();
        assert_eq!(s.means(), vec![2.0, 5.0]);
        assert_eq!(s.scales(), vec![1.0, 1.0], "std of [1,3] is 1; the constant column keeps scale 1");
        let z = s.transform(&x).unwrap();
        assert_eq!(z.row(0).unwrap(), vec![-1.0, 0.0]);
        assert!(s.transform(&Matrix::from_rows(&[vec![1.0]]).unwrap()).is_err());
    }

    #[test]
    fn min_max_scaling() {
        let x = Matrix::from_rows(&[vec![2.0], vec![4.0], vec![3.0]]).unwrap();
        let z = MinMaxScaler::fit(&x).unwrap().transform(&x).unwrap();
        assert_eq!(z.column("x0").unwrap().to_vec(), vec![0.0, 1.0, 0.5]);
        assert!(MinMaxScaler::fit(&Matrix::from_vec(0, 1, vec![]).unwrap()).is_err());
    }
}
