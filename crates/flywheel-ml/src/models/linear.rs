//! `LinearLearner`: SageMaker's Linear Learner as two estimators —
//! logistic regression for classes ([`LinearClassifier`]: L-BFGS on the
//! L2-penalised log-loss; binary with our own solver, below, multinomial on
//! linfa-logistic) and least squares for numbers ([`LinearRegressor`], on
//! linfa-linear, or ridge via linfa-elasticnet when `l2 > 0`).
//!
//! Like SageMaker's (`normalize_data`), features are standardised before
//! fitting and the scaler is kept in the model, so raw features go in at
//! predict time. The fitted coefficients are stored (in the standardised
//! space), which keeps models small, fast to apply and serialisable.

use linfa::prelude::*;
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use super::{StandardScaler, check_predict_input, fit_error, linfa_classes};
use crate::error::{MlError, Result};
use crate::{Dataset, Labels, Matrix, Vector};

/// Entry point: `LinearLearner::classifier()` or `LinearLearner::regressor()`.
///
/// ```
/// use flywheel_ml::prelude::*;
///
/// let iris = datasets::iris();
/// let (train, test) = stratified_split(&iris, 0.3, 42)?;
/// let model = LinearLearner::classifier().fit(&train)?;
/// let predicted = model.predict(test.features())?;
/// assert!(metrics::accuracy(test.labels()?, &predicted)? > 0.9);
///
/// let diabetes = datasets::diabetes();
/// let model = LinearLearner::regressor().fit(&diabetes)?;
/// assert!(metrics::r2(diabetes.values()?, &model.predict(diabetes.features())?)? > 0.5);
/// # Ok::<(), MlError>(())
/// ```
pub struct LinearLearner;

impl LinearLearner {
    /// Logistic regression (binary or multiclass).
    pub fn classifier() -> LinearClassifierParams {
        LinearClassifierParams { l2: 1.0, max_iterations: 100, tolerance: 1e-4 }
    }

    /// Linear regression (least squares, optionally ridge).
    pub fn regressor() -> LinearRegressorParams {
        LinearRegressorParams { l2: 0.0 }
    }
}

/// Hyper-parameters of [`LinearClassifier`].
#[derive(Debug, Clone, PartialEq)]
pub struct LinearClassifierParams {
    pub(crate) l2: f64,
    pub(crate) max_iterations: u64,
    pub(crate) tolerance: f64,
}

impl LinearClassifierParams {
    /// L2 penalty on the weights (linfa-logistic's `alpha`; default 1.0; ≥ 0).
    pub fn l2(mut self, l2: f64) -> Self {
        self.l2 = l2;
        self
    }

    /// Maximum L-BFGS iterations (default 100, as scikit-learn; ≥ 1).
    pub fn max_iterations(mut self, n: u64) -> Self {
        self.max_iterations = n;
        self
    }

    /// Stop when the gradient of the *mean* log-loss is smaller than this
    /// (default 1e-4, scikit-learn's `tol`). linfa-logistic tests the
    /// gradient of the summed loss, so it receives `tolerance × n`; without
    /// that scaling it ran ~100 iterations where scikit-learn needs ~13.
    pub fn tolerance(mut self, tol: f64) -> Self {
        self.tolerance = tol;
        self
    }

    fn check(&self) -> Result<()> {
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(MlError::InvalidParams(format!("l2 must be ≥ 0, got {}", self.l2)));
        }
        if self.max_iterations == 0 {
            return Err(MlError::InvalidParams("max_iterations must be at least 1".into()));
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return Err(MlError::InvalidParams(format!("tolerance must be > 0, got {}", self.tolerance)));
        }
        Ok(())
    }

    /// Fits on a classification dataset (n × d features, n labels with ≥ 2 classes).
    ///
    /// # Errors
    /// Invalid parameters; empty data, NaN/inf; fewer than two classes
    /// ([`MlError::InvalidData`]); a solver failure ([`MlError::Fit`]).
    pub fn fit(&self, data: &Dataset) -> Result<LinearClassifier> {
        self.check()?;
        let labels = data.labels()?;
        let present = labels.counts().iter().filter(|(_, n)| *n > 0).count();
        if present < 2 {
            return Err(MlError::InvalidData(format!(
                "a classifier needs at least two classes in the training data, found only {}",
                labels.counts().iter().filter(|(_, n)| *n > 0).map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        let scaler = StandardScaler::fit(data.features())?;
        let z = scaler.transform(data.features())?;
        let scaled = Dataset::classification(z, labels.clone())?;
        scaled.check_fit_ready()?;
        let gradient_tolerance = self.tolerance * data.nrows() as f64;
        let (weights, intercepts) = if labels.n_classes() == 2 {
            let positive: Vec<bool> = labels.ids().iter().map(|&id| id == 1).collect();
            let (w, b) =
                binary_lbfgs(scaled.features().array(), &positive, self.l2, self.max_iterations, gradient_tolerance);
            (w.insert_axis(Axis(1)), Array1::from(vec![b]))
        } else {
            let ds = linfa_classes(&scaled)?;
            let fitted = linfa_logistic::MultiLogisticRegression::default()
                .alpha(self.l2)
                .max_iterations(self.max_iterations)
                .gradient_tolerance(gradient_tolerance)
                .fit(&ds)
                .map_err(fit_error)?;
            // Columns follow linfa's sorted classes; a class absent from the
            // training data gets no column, so map them back by id.
            let mut w = Array2::zeros((data.ncols(), labels.n_classes()));
            let mut b = Array1::from_elem(labels.n_classes(), f64::NEG_INFINITY);
            for (col, &class) in fitted.classes().iter().enumerate() {
                w.column_mut(class).assign(&fitted.params().column(col));
                b[class] = fitted.intercept()[col];
            }
            (w, b)
        };
        Ok(LinearClassifier { scaler, weights, intercepts, classes: labels.classes().to_vec() })
    }
}

/// Memory of the L-BFGS solver: curvature pairs kept.
const LBFGS_MEMORY: usize = 10;

/// Binary logistic regression by L-BFGS (Nocedal & Wright, *Numerical
/// Optimization*, 2nd ed., 2006, Algorithms 7.4 and 7.5): minimises
/// `Σᵢ log(1 + exp(−sᵢ(xᵢ·w + b))) + α/2 ‖w‖²` with `sᵢ = ±1` (the intercept
/// is not penalised), as scikit-learn's `LogisticRegression(C = 1/α)`. The
/// step is found by backtracking from 1 under the Armijo condition
/// (c₁ = 10⁻⁴); a curvature pair is kept only when `sᵀy > 0`. Stops when every
/// gradient component is at most `tolerance` (of the summed loss), after
/// `max_iterations`, or when a step no longer lowers the loss.
///
/// `x` is n × d (standardised); returns the d weights and the intercept.
/// Each iteration costs one product with `x` and one with its transpose,
/// which is what makes it several times faster than linfa-logistic here.
fn binary_lbfgs(
    x: &Array2<f64>,
    positive: &[bool],
    alpha: f64,
    max_iterations: u64,
    tolerance: f64,
) -> (Array1<f64>, f64) {
    let d = x.ncols();
    // The loss and gradient at θ = (w, b).
    let evaluate = |theta: &Array1<f64>| -> (f64, Array1<f64>) {
        let w = theta.slice(ndarray::s![..d]);
        let b = theta[d];
        let margins = x.dot(&w) + b;
        let mut loss = 0.0;
        let residual: Array1<f64> = margins
            .iter()
            .zip(positive)
            .map(|(&z, &pos)| {
                let m = if pos { z } else { -z };
                // log(1 + e^(−m)), stably.
                loss += if m > 0.0 { (-m).exp().ln_1p() } else { -m + m.exp().ln_1p() };
                let p = 1.0 / (1.0 + (-z).exp());
                p - if pos { 1.0 } else { 0.0 }
            })
            .collect();
        let mut gradient = Array1::zeros(d + 1);
        gradient.slice_mut(ndarray::s![..d]).assign(&(x.t().dot(&residual) + &w * alpha));
        gradient[d] = residual.sum();
        loss += 0.5 * alpha * w.dot(&w);
        (loss, gradient)
    };
    let mut theta = Array1::<f64>::zeros(d + 1);
    let (mut f, mut g) = evaluate(&theta);
    let mut pairs: std::collections::VecDeque<(Array1<f64>, Array1<f64>, f64)> = std::collections::VecDeque::new();
    for _ in 0..max_iterations {
        if g.iter().all(|v| v.abs() <= tolerance) {
            break;
        }
        // Two-loop recursion: p = −H g.
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(pairs.len());
        for (s, y, rho) in pairs.iter().rev() {
            let a = rho * s.dot(&q);
            q.scaled_add(-a, y);
            alphas.push(a);
        }
        let gamma = pairs.back().map_or(1.0 / g.dot(&g).sqrt().max(1.0), |(s, y, _)| s.dot(y) / y.dot(y));
        q *= gamma;
        for ((s, y, rho), a) in pairs.iter().zip(alphas.iter().rev()) {
            let beta = rho * y.dot(&q);
            q.scaled_add(a - beta, s);
        }
        let direction = -q;
        let slope = g.dot(&direction);
        if slope >= 0.0 {
            // Not a descent direction (rounding): start again from steepest descent.
            pairs.clear();
            continue;
        }
        let mut step = 1.0;
        let mut accepted = None;
        for _ in 0..40 {
            let candidate = &theta + &(&direction * step);
            let (fc, gc) = evaluate(&candidate);
            if fc <= f + 1e-4 * step * slope {
                accepted = Some((candidate, fc, gc));
                break;
            }
            step *= 0.5;
        }
        let Some((next, f_next, g_next)) = accepted else { break };
        let s = &next - &theta;
        let y = &g_next - &g;
        let sy = s.dot(&y);
        if sy > 1e-12 * s.dot(&s).sqrt() * y.dot(&y).sqrt() {
            if pairs.len() == LBFGS_MEMORY {
                pairs.pop_front();
            }
            pairs.push_back((s, y, 1.0 / sy));
        }
        let decrease = f - f_next;
        theta = next;
        (f, g) = (f_next, g_next);
        if decrease <= 1e-15 * f.abs().max(1.0) && g.iter().all(|v| v.abs() <= tolerance.max(1e-8)) {
            break;
        }
    }
    (theta.slice(ndarray::s![..d]).to_owned(), theta[d])
}

/// A fitted logistic regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearClassifier {
    scaler: StandardScaler,
    /// d × 1 (binary: log-odds of class 1) or d × k (multinomial).
    weights: Array2<f64>,
    intercepts: Array1<f64>,
    classes: Vec<String>,
}

impl LinearClassifier {
    /// The class names, in label order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    fn logits(&self, x: &Matrix) -> Result<Array2<f64>> {
        check_predict_input(x, self.weights.nrows())?;
        let z = self.scaler.transform(x)?;
        Ok(z.array().dot(&self.weights) + &self.intercepts)
    }

    /// Probability of every class for each row: an n × k matrix whose
    /// columns are named after the classes and whose rows sum to 1.
    ///
    /// # Errors
    /// [`MlError::Shape`] for another number of features; NaN/inf.
    pub fn predict_proba_all(&self, x: &Matrix) -> Result<Matrix> {
        let logits = self.logits(x)?;
        let probs = if self.classes.len() == 2 {
            let p1 = logits.column(0).mapv(sigmoid);
            ndarray::stack(Axis(1), &[p1.mapv(|p| 1.0 - p).view(), p1.view()]).map_err(fit_error)?
        } else {
            let mut p = logits;
            for mut row in p.outer_iter_mut() {
                let m = row.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                row.mapv_inplace(|v| (v - m).exp());
                let s = row.sum();
                row.mapv_inplace(|v| v / s);
            }
            p
        };
        Matrix::from_array(probs).with_columns(&self.classes)
    }

    /// Probability of the positive class (the second class) for each row of
    /// a binary model: what ROC/PR curves and cost thresholds take.
    ///
    /// # Errors
    /// [`MlError::InvalidData`] for a multiclass model (use
    /// [`Self::predict_proba_all`]); as [`Self::predict`] otherwise.
    pub fn predict_proba(&self, x: &Matrix) -> Result<Vector> {
        if self.classes.len() != 2 {
            return Err(MlError::InvalidData(format!(
                "predict_proba gives the positive-class probability of a binary model; this one has {} classes — use predict_proba_all",
                self.classes.len()
            )));
        }
        Ok(Vector::from_array(self.logits(x)?.column(0).mapv(sigmoid)))
    }

    /// The most probable class of each row.
    ///
    /// # Errors
    /// [`MlError::Shape`] for another number of features; NaN/inf.
    pub fn predict(&self, x: &Matrix) -> Result<Labels> {
        let logits = self.logits(x)?;
        let ids = if self.classes.len() == 2 {
            logits.column(0).iter().map(|&l| usize::from(l > 0.0)).collect()
        } else {
            logits.outer_iter().map(argmax).collect()
        };
        Labels::from_ids(ids, self.classes.clone())
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn argmax(row: ndarray::ArrayView1<'_, f64>) -> usize {
    row.iter().enumerate().fold((0, f64::NEG_INFINITY), |best, (i, &v)| if v > best.1 { (i, v) } else { best }).0
}

/// Hyper-parameters of [`LinearRegressor`].
#[derive(Debug, Clone, PartialEq)]
pub struct LinearRegressorParams {
    pub(crate) l2: f64,
}

impl LinearRegressorParams {
    /// Ridge penalty (elastic net's `penalty` with `l1_ratio = 0`, on
    /// standardised features; default 0 = ordinary least squares).
    pub fn l2(mut self, l2: f64) -> Self {
        self.l2 = l2;
        self
    }

    /// Fits on a regression dataset (n × d features, n numbers).
    ///
    /// # Errors
    /// `l2 < 0`; empty data, NaN/inf; a solver failure ([`MlError::Fit`]).
    pub fn fit(&self, data: &Dataset) -> Result<LinearRegressor> {
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(MlError::InvalidParams(format!("l2 must be ≥ 0, got {}", self.l2)));
        }
        data.check_fit_ready()?;
        let y = data.values()?.array().clone();
        let scaler = StandardScaler::fit(data.features())?;
        let z = scaler.transform(data.features())?.array().clone();
        let ds = linfa::DatasetBase::new(z, y);
        let (weights, intercept) = if self.l2 == 0.0 {
            let fitted = linfa_linear::LinearRegression::new().fit(&ds).map_err(fit_error)?;
            (fitted.params().clone(), fitted.intercept())
        } else {
            let fitted =
                linfa_elasticnet::ElasticNet::params().penalty(self.l2).l1_ratio(0.0).fit(&ds).map_err(fit_error)?;
            (fitted.hyperplane().clone(), fitted.intercept())
        };
        Ok(LinearRegressor { scaler, weights, intercept })
    }
}

/// A fitted linear regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearRegressor {
    scaler: StandardScaler,
    weights: Array1<f64>,
    intercept: f64,
}

impl LinearRegressor {
    /// The prediction for each row.
    ///
    /// # Errors
    /// [`MlError::Shape`] for another number of features; NaN/inf.
    pub fn predict(&self, x: &Matrix) -> Result<Vector> {
        check_predict_input(x, self.weights.len())?;
        let z = self.scaler.transform(x)?;
        Ok(Vector::from_array(z.array().dot(&self.weights) + self.intercept))
    }

    /// Weights per original (unstandardised) feature: the change in the
    /// prediction for one unit more of that feature.
    pub fn coefficients(&self) -> Vec<f64> {
        (&self.weights / &ndarray::Array1::from(self.scaler.scales())).to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_data() -> Dataset {
        let xs: Vec<Vec<f64>> = (0..20).map(|i| vec![f64::from(i), f64::from(i % 3)]).collect();
        let y: Vec<f64> = xs.iter().map(|r| 3.0 * r[0] - 2.0 * r[1] + 5.0).collect();
        Dataset::regression(Matrix::from_rows(&xs).unwrap(), Vector::from_vec(y)).unwrap()
    }

    #[test]
    fn least_squares_recovers_an_exact_line() {
        let d = line_data();
        let m = LinearLearner::regressor().fit(&d).unwrap();
        let c = m.coefficients();
        assert!((c[0] - 3.0).abs() < 1e-9 && (c[1] + 2.0).abs() < 1e-9, "{c:?}");
        let p = m.predict(&Matrix::from_rows(&[vec![100.0, 1.0]]).unwrap()).unwrap();
        assert!((p.get(0).unwrap() - 303.0).abs() < 1e-6);
        let ridge = LinearLearner::regressor().l2(10.0).fit(&d).unwrap().coefficients();
        assert!(ridge[0].abs() < 3.0, "ridge shrinks: {ridge:?}");
    }

    #[test]
    fn logistic_regression_separates_and_keeps_our_positive_class() {
        // Class 1 is the minority, so linfa's "positive" is class 0: the mapping must flip.
        let xs: Vec<Vec<f64>> = (0..40).map(|i| vec![f64::from(i)]).collect();
        let ys: Vec<i64> = (0..40).map(|i| i64::from(i >= 30)).collect();
        let d = Dataset::classification(Matrix::from_rows(&xs).unwrap(), Labels::from_ints(&ys)).unwrap();
        let m = LinearLearner::classifier().l2(0.01).fit(&d).unwrap();
        let p = m.predict_proba(&Matrix::from_rows(&[vec![0.0], vec![39.0]]).unwrap()).unwrap();
        assert!(p.get(0).unwrap() < 0.1 && p.get(1).unwrap() > 0.9, "{p}");
        let pred = m.predict(d.features()).unwrap();
        let correct = pred.ids().iter().zip(d.labels().unwrap().ids()).filter(|(a, b)| a == b).count();
        assert!(correct >= 38, "{correct}/40");
        let all = m.predict_proba_all(d.features()).unwrap();
        assert_eq!(all.columns(), ["0", "1"]);
    }

    #[test]
    fn multiclass_probabilities_sum_to_one() {
        let xs: Vec<Vec<f64>> = (0..30).map(|i| vec![f64::from(i % 3) * 10.0 + f64::from(i) * 0.01]).collect();
        let ys: Vec<String> = (0..30).map(|i| ["a", "b", "c"][i % 3].to_owned()).collect();
        let d = Dataset::classification(Matrix::from_rows(&xs).unwrap(), Labels::from_strings(&ys)).unwrap();
        let m = LinearLearner::classifier().fit(&d).unwrap();
        let p = m.predict_proba_all(d.features()).unwrap();
        for i in 0..p.nrows() {
            let s: f64 = p.row(i).unwrap().iter().sum();
            assert!((s - 1.0).abs() < 1e-9);
        }
        assert_eq!(m.predict(d.features()).unwrap().ids(), d.labels().unwrap().ids());
        assert!(m.predict_proba(d.features()).is_err(), "binary-only");
    }

    #[test]
    fn bad_input_is_named() {
        let one_class =
            Dataset::classification(Matrix::from_rows(&[vec![1.0], vec![2.0]]).unwrap(), Labels::from_ints(&[1, 1]));
        let err = LinearLearner::classifier().fit(&one_class.unwrap()).unwrap_err();
        assert!(err.to_string().contains("at least two classes"), "{err}");
        assert!(LinearLearner::classifier().l2(-1.0).fit(&line_data()).is_err());
        let m = LinearLearner::regressor().fit(&line_data()).unwrap();
        let err = m.predict(&Matrix::from_rows(&[vec![1.0]]).unwrap()).unwrap_err();
        assert!(err.to_string().contains("trained on 2 feature columns"), "{err}");
        let nan = Matrix::from_rows(&[vec![f64::NAN, 1.0]]).unwrap();
        assert!(matches!(m.predict(&nan), Err(MlError::NonFinite { .. })));
    }
}
