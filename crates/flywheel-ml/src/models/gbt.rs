//! `GradientBoostedTrees`: SageMaker's XGBoost built-in, on forust-ml — a
//! pure-Rust histogram gradient booster in the style of XGBoost's `hist`
//! method (Chen & Guestrin, *XGBoost: A Scalable Tree Boosting System*,
//! 2016): second-order gradients, features bucketed into at most 256 bins,
//! depth-wise trees, L2 leaf regularisation, missing values (NaN) learnt as
//! their own direction, optional early stopping on a validation set.
//!
//! Binary classification boosts the log-loss; more classes are handled one
//! class against the rest (one booster per class, the largest score wins);
//! regression boosts the squared error.

use std::collections::HashSet;
use std::fmt;

use forust_ml::GradientBooster;
use forust_ml::gradientbooster::{GrowPolicy, ImportanceMethod, MissingNodeTreatment};
use forust_ml::metric::Metric;
use forust_ml::objective::ObjectiveType;
use forust_ml::sampler::SampleMethod;
use serde::{Deserialize, Serialize};

use super::{fit_error, normalised_importance};
use crate::error::{MlError, Result};
use crate::{Dataset, Labels, Matrix, Target, Vector};

/// Entry point: `GradientBoostedTrees::params()`, then `fit`.
///
/// ```
/// use flywheel_ml::prelude::*;
///
/// let wine = datasets::wine_quality();
/// let (train, test) = stratified_split(&wine, 0.25, 7)?;
/// let model = GradientBoostedTrees::params().iterations(50).max_depth(4).fit(&train)?;
/// let accuracy = metrics::accuracy(test.labels()?, &model.predict(test.features())?)?;
/// assert!(accuracy > 0.55, "{accuracy}"); // six quality grades; guessing the majority gives ~0.43
/// let importance = model.feature_importance();
/// assert_eq!(importance.len(), model.feature_names().len());
/// # Ok::<(), MlError>(())
/// ```
pub struct GradientBoostedTrees;

impl GradientBoostedTrees {
    /// 100 trees, learning rate 0.1, depth 6, L2 1.0, min child weight 1,
    /// 256 bins, no early stopping, seed 0.
    pub fn params() -> GradientBoostedTreesParams {
        GradientBoostedTreesParams {
            iterations: 100,
            learning_rate: 0.1,
            max_depth: 6,
            l2: 1.0,
            min_child_weight: 1.0,
            subsample: 1.0,
            early_stopping_rounds: None,
            seed: 0,
        }
    }
}

/// Hyper-parameters of [`GradientBoostedTreesModel`] (XGBoost's names where they exist).
#[derive(Debug, Clone, PartialEq)]
pub struct GradientBoostedTreesParams {
    pub(crate) iterations: usize,
    pub(crate) learning_rate: f32,
    pub(crate) max_depth: usize,
    pub(crate) l2: f32,
    pub(crate) min_child_weight: f32,
    pub(crate) subsample: f32,
    pub(crate) early_stopping_rounds: Option<usize>,
    pub(crate) seed: u64,
}

impl GradientBoostedTreesParams {
    /// Number of boosting rounds (trees per booster), ≥ 1.
    pub fn iterations(mut self, n: usize) -> Self {
        self.iterations = n;
        self
    }
    /// Shrinkage applied to each tree (XGBoost's `eta`), in (0, 1].
    pub fn learning_rate(mut self, eta: f32) -> Self {
        self.learning_rate = eta;
        self
    }
    /// Deepest a tree may grow, ≥ 1.
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }
    /// L2 regularisation of leaf weights (XGBoost's `lambda`), ≥ 0.
    pub fn l2(mut self, l2: f32) -> Self {
        self.l2 = l2;
        self
    }
    /// Smallest hessian sum a child may have (XGBoost's `min_child_weight`), ≥ 0.
    pub fn min_child_weight(mut self, w: f32) -> Self {
        self.min_child_weight = w;
        self
    }
    /// Share of rows sampled for each tree, in (0, 1].
    pub fn subsample(mut self, share: f32) -> Self {
        self.subsample = share;
        self
    }
    /// With [`Self::fit_with_validation`]: stop when the validation loss
    /// has not improved for this many rounds.
    pub fn early_stopping_rounds(mut self, rounds: usize) -> Self {
        self.early_stopping_rounds = Some(rounds);
        self
    }
    /// Random seed (row sampling).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(MlError::InvalidParams(m));
        if self.iterations == 0 {
            return bad("iterations must be at least 1".into());
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return bad(format!("learning_rate must be in (0, 1], got {}", self.learning_rate));
        }
        if self.max_depth == 0 {
            return bad("max_depth must be at least 1".into());
        }
        if !(self.l2 >= 0.0 && self.min_child_weight >= 0.0) {
            return bad("l2 and min_child_weight must be ≥ 0".into());
        }
        if !(self.subsample > 0.0 && self.subsample <= 1.0) {
            return bad(format!("subsample must be in (0, 1], got {}", self.subsample));
        }
        Ok(())
    }

    /// A forust-ml booster with these parameters; `log_rounds` makes it log
    /// each round's validation loss (forust's `log_iterations = 1`).
    fn booster(
        &self,
        objective: ObjectiveType,
        metric: Metric,
        with_validation: bool,
        log_rounds: bool,
    ) -> Result<GradientBooster> {
        let sample_method = if self.subsample < 1.0 { SampleMethod::Random } else { SampleMethod::None };
        GradientBooster::new(
            objective,
            self.iterations,
            self.learning_rate,
            self.max_depth,
            usize::MAX,
            0.0,
            self.l2,
            0.0,
            0.0,
            self.min_child_weight,
            0.5,
            256,
            true,
            true,
            None,
            self.subsample,
            0.2,
            0.1,
            1.0,
            self.seed,
            f64::NAN,
            false,
            sample_method,
            GrowPolicy::DepthWise,
            with_validation.then_some(metric),
            if with_validation { self.early_stopping_rounds } else { None },
            true,
            HashSet::new(),
            MissingNodeTreatment::AssignToParent,
            usize::from(log_rounds),
            false,
        )
        .map_err(fit_error)
    }

    /// Fits on a classification or regression dataset. Feature values may
    /// be NaN (missing); infinities are refused.
    ///
    /// # Errors
    /// Invalid parameters; an unsupervised dataset; empty data; ±inf; a
    /// classification target with fewer than two classes present.
    pub fn fit(&self, data: &Dataset) -> Result<GradientBoostedTreesModel> {
        self.fit_inner(data, None, false, &mut |_| {})
    }

    /// Fits like [`Self::fit`], recording the loss on `validation` each round
    /// and, with [`Self::early_stopping_rounds`], stopping when it stalls.
    ///
    /// # Errors
    /// As [`Self::fit`]; `validation` of another width or target kind.
    pub fn fit_with_validation(&self, data: &Dataset, validation: &Dataset) -> Result<GradientBoostedTreesModel> {
        self.fit_observed(data, validation, false, &mut |_| {})
    }

    /// [`Self::fit_with_validation`] that reports each booster's start and
    /// its validation losses to `observe` (a training job's progress); with
    /// `log_rounds`, forust-ml also logs every round's validation loss
    /// through the `log` crate while it trains (see [`BoosterEvent::Started`]).
    pub(crate) fn fit_observed(
        &self,
        data: &Dataset,
        validation: &Dataset,
        log_rounds: bool,
        observe: &mut dyn FnMut(BoosterEvent),
    ) -> Result<GradientBoostedTreesModel> {
        if validation.ncols() != data.ncols() {
            return Err(MlError::Shape(format!(
                "validation data has {} feature columns, training data {}",
                validation.ncols(),
                data.ncols()
            )));
        }
        self.fit_inner(data, Some(validation), log_rounds, observe)
    }

    fn fit_inner(
        &self,
        data: &Dataset,
        validation: Option<&Dataset>,
        log_rounds: bool,
        observe: &mut dyn FnMut(BoosterEvent),
    ) -> Result<GradientBoostedTreesModel> {
        self.check()?;
        check_rows(data)?;
        let cols = ColumnMajor::of(data.features());
        let weights = vec![1.0; data.nrows()];
        let valid = validation.map(|v| (ColumnMajor::of(v.features()), vec![1.0; v.nrows()]));
        // `booster`: this booster's index (from 0) and the number of boosters.
        let mut fit_one = |booster: (usize, usize), objective, metric, y: &[f64], vy: Option<&[f64]>| {
            let (index, of) = booster;
            let mut b = self.booster(objective, metric, vy.is_some(), log_rounds)?;
            let eval = match (&valid, vy) {
                (Some((vx, vw)), Some(vy)) => Some(vec![(vx.matrix(), vy, vw.as_slice())]),
                _ => None,
            };
            observe(BoosterEvent::Started { index, of });
            b.fit(&cols.matrix(), y, &weights, eval).map_err(fit_error)?;
            b.log_iterations = 0; // the saved model does not log
            // One column per evaluation set; there is at most one.
            let losses = b
                .evaluation_history
                .as_ref()
                .map(|h| h.data.iter().step_by(h.cols.max(1)).copied().collect())
                .unwrap_or_default();
            observe(BoosterEvent::Finished { index, losses });
            Ok::<_, MlError>(b)
        };
        let kind = match data.target() {
            Target::Values(y) => {
                let vy = validation.map(|v| v.values().map(|y| y.to_vec())).transpose()?;
                let b = fit_one(
                    (0, 1),
                    ObjectiveType::SquaredLoss,
                    Metric::RootMeanSquaredError,
                    y.as_slice(),
                    vy.as_deref(),
                )?;
                Kind::Regression(Box::new(b))
            }
            Target::Classes(labels) => {
                check_two_classes(labels)?;
                let v_labels = validation.map(|v| v.labels().and_then(|l| l.aligned_to(labels))).transpose()?;
                let k = labels.n_classes();
                let targets: Vec<usize> = if k == 2 { vec![1] } else { (0..k).collect() };
                let boosters = targets
                    .iter()
                    .enumerate()
                    .map(|(index, &class)| {
                        let y = one_vs_rest(labels, class);
                        let vy = v_labels.as_ref().map(|l| one_vs_rest(l, class));
                        fit_one((index, targets.len()), ObjectiveType::LogLoss, Metric::LogLoss, &y, vy.as_deref())
                    })
                    .collect::<Result<Vec<_>>>()?;
                Kind::Classes { boosters, classes: labels.classes().to_vec() }
            }
            Target::None => {
                return Err(MlError::InvalidData(
                    "gradient-boosted trees need a target: build the dataset with classification or regression".into(),
                ));
            }
        };
        Ok(GradientBoostedTreesModel { kind, feature_names: data.features().columns().to_vec() })
    }
}

/// What [`GradientBoostedTreesParams::fit_observed`] reports while it fits:
/// the boosters (one for regression and two classes, one per class beyond)
/// are fitted one after another, each for up to `iterations` rounds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BoosterEvent {
    /// Booster `index` (from 0) of `of` starts. With `log_rounds`, forust-ml
    /// then logs `Iteration {i} evaluation data values: {loss}` (i from 0,
    /// the loss to 4 decimals) at `info` level under target
    /// `forust_ml::gradientbooster` after each of its rounds, from the thread
    /// that runs its fit: this one when it is a worker of rayon's global
    /// pool, else one of those workers.
    Started {
        /// This booster, from 0.
        index: usize,
        /// The number of boosters.
        of: usize,
    },
    /// Booster `index` has finished: its validation loss after each round
    /// it grew (log loss or RMSE, forust-ml's `evaluation_history`, full
    /// precision); empty without validation data.
    Finished {
        /// This booster, from 0.
        index: usize,
        /// One loss per round.
        losses: Vec<f64>,
    },
}

fn one_vs_rest(labels: &Labels, class: usize) -> Vec<f64> {
    labels.ids().iter().map(|&c| f64::from(u8::from(c == class))).collect()
}

fn check_two_classes(labels: &Labels) -> Result<()> {
    let present: Vec<String> = labels.counts().into_iter().filter(|(_, n)| *n > 0).map(|(c, _)| c).collect();
    if present.len() < 2 {
        let names = present;
        return Err(MlError::InvalidData(format!(
            "a classifier needs at least two classes in the training data, found only {}",
            names.join(", ")
        )));
    }
    Ok(())
}

/// Rows exist and no value is infinite (NaN means missing and is allowed).
fn check_rows(data: &Dataset) -> Result<()> {
    if data.nrows() == 0 || data.ncols() == 0 {
        return Err(MlError::Empty("the dataset has no rows or no feature columns".into()));
    }
    check_no_infinity(data.features())?;
    if let Target::Values(v) = data.target() {
        v.check_finite()?;
    }
    Ok(())
}

fn check_no_infinity(x: &Matrix) -> Result<()> {
    match x.array().indexed_iter().find(|(_, v)| v.is_infinite()) {
        Some(((i, j), _)) => Err(MlError::NonFinite { row: i, column: format!("`{}`", x.columns()[j]) }),
        None => Ok(()),
    }
}

/// forust-ml reads features column by column.
struct ColumnMajor {
    values: Vec<f64>,
    rows: usize,
    cols: usize,
}

impl ColumnMajor {
    fn of(x: &Matrix) -> Self {
        let values = x.array().t().iter().copied().collect();
        Self { values, rows: x.nrows(), cols: x.ncols() }
    }
    fn matrix(&self) -> forust_ml::Matrix<'_, f64> {
        forust_ml::Matrix::new(&self.values, self.rows, self.cols)
    }
}

#[derive(Serialize, Deserialize)]
enum Kind {
    Regression(Box<GradientBooster>),
    /// One booster for binary problems (class 1 against 0), else one per class.
    Classes {
        boosters: Vec<GradientBooster>,
        classes: Vec<String>,
    },
}

/// A fitted ensemble of boosted trees.
#[derive(Serialize, Deserialize)]
pub struct GradientBoostedTreesModel {
    kind: Kind,
    feature_names: Vec<String>,
}

impl fmt::Debug for GradientBoostedTreesModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.kind {
            Kind::Regression(_) => "regression".to_owned(),
            Kind::Classes { classes, .. } => format!("{} classes", classes.len()),
        };
        write!(f, "GradientBoostedTreesModel({what}, {} features)", self.feature_names.len())
    }
}

impl Clone for GradientBoostedTreesModel {
    /// forust-ml's booster is not `Clone`; a model is copied through its JSON form.
    fn clone(&self) -> Self {
        let json = serde_json::to_string(self).expect("a fitted booster serialises");
        serde_json::from_str(&json).expect("a serialised booster reads back")
    }
}

impl GradientBoostedTreesModel {
    fn scores(&self, x: &Matrix) -> Result<Vec<Vec<f64>>> {
        if x.ncols() != self.feature_names.len() {
            return Err(MlError::Shape(format!(
                "the model was trained on {} feature columns, this matrix has {}",
                self.feature_names.len(),
                x.ncols()
            )));
        }
        check_no_infinity(x)?;
        let cols = ColumnMajor::of(x);
        let boosters: Vec<&GradientBooster> = match &self.kind {
            Kind::Regression(b) => vec![b.as_ref()],
            Kind::Classes { boosters, .. } => boosters.iter().collect(),
        };
        Ok(boosters.iter().map(|b| b.predict(&cols.matrix(), true)).collect())
    }

    /// Predicted class of each row (classification models).
    ///
    /// # Errors
    /// [`MlError::InvalidData`] for a regression model; [`MlError::Shape`]
    /// for another number of features; ±inf.
    pub fn predict(&self, x: &Matrix) -> Result<Labels> {
        let Kind::Classes { classes, .. } = &self.kind else {
            return Err(MlError::InvalidData("this is a regression model: use predict_values".into()));
        };
        let scores = self.scores(x)?;
        let ids = (0..x.nrows())
            .map(|i| {
                if scores.len() == 1 {
                    usize::from(scores[0][i] > 0.0)
                } else {
                    (0..scores.len()).fold(0, |best, c| if scores[c][i] > scores[best][i] { c } else { best })
                }
            })
            .collect();
        Labels::from_ids(ids, classes.clone())
    }

    /// Probability of the positive (second) class for each row of a binary model.
    ///
    /// # Errors
    /// [`MlError::InvalidData`] unless the model is binary; as [`Self::predict`].
    pub fn predict_proba(&self, x: &Matrix) -> Result<Vector> {
        match &self.kind {
            Kind::Classes { boosters, .. } if boosters.len() == 1 => {
                let s = self.scores(x)?.remove(0);
                Ok(Vector::from_vec(s.into_iter().map(|l| 1.0 / (1.0 + (-l).exp())).collect()))
            }
            _ => Err(MlError::InvalidData("predict_proba needs a binary (two-class) model".into())),
        }
    }

    /// Predicted value of each row (regression models).
    ///
    /// # Errors
    /// [`MlError::InvalidData`] for a classification model; as [`Self::predict`].
    pub fn predict_values(&self, x: &Matrix) -> Result<Vector> {
        match &self.kind {
            Kind::Regression(_) => Ok(Vector::from_vec(self.scores(x)?.remove(0))),
            Kind::Classes { .. } => Err(MlError::InvalidData("this is a classification model: use predict".into())),
        }
    }

    /// Average split gain of each feature, normalised to sum to 1 (XGBoost's
    /// `gain` importance), in the order of [`Self::feature_names`].
    pub fn feature_importance(&self) -> Vector {
        let boosters: Vec<&GradientBooster> = match &self.kind {
            Kind::Regression(b) => vec![b.as_ref()],
            Kind::Classes { boosters, .. } => boosters.iter().collect(),
        };
        let mut total = vec![0.0f64; self.feature_names.len()];
        for b in boosters {
            for (j, v) in b.calculate_feature_importance(ImportanceMethod::Gain, false) {
                if let Some(t) = total.get_mut(j) {
                    *t += f64::from(v);
                }
            }
        }
        normalised_importance(total)
    }

    /// The feature names, in the order of [`Self::feature_importance`].
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// Number of trees kept (after early stopping), summed over boosters.
    pub fn n_trees(&self) -> usize {
        let kept = |b: &GradientBooster| b.prediction_iteration.unwrap_or(b.trees.len());
        match &self.kind {
            Kind::Regression(b) => kept(b),
            Kind::Classes { boosters, .. } => boosters.iter().map(kept).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xor_data(n: usize) -> Dataset {
        let rows: Vec<Vec<f64>> = (0..n).map(|i| vec![(i % 10) as f64, ((i / 10) % 10) as f64]).collect();
        // Unbalanced XOR: on a balanced grid every first split has zero gain, for XGBoost too.
        let y: Vec<i64> = rows.iter().map(|r| i64::from((r[0] >= 3.0) ^ (r[1] >= 6.0))).collect();
        Dataset::classification(Matrix::from_rows(&rows).unwrap(), Labels::from_ints(&y)).unwrap()
    }

    #[test]
    fn learns_xor_which_no_linear_model_can() {
        let d = xor_data(400);
        let m = GradientBoostedTrees::params().iterations(50).max_depth(3).fit(&d).unwrap();
        assert_eq!(m.predict(d.features()).unwrap().ids(), d.labels().unwrap().ids());
        let p = m.predict_proba(d.features()).unwrap();
        assert!(p.as_slice().iter().all(|&v| (0.0..=1.0).contains(&v)));
        let copy = m.clone();
        assert_eq!(copy.predict_proba(d.features()).unwrap(), p, "clone predicts the same");
        let imp = m.feature_importance().to_vec();
        assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-9 && imp.iter().all(|&v| v > 0.2), "{imp:?}");
    }

    #[test]
    fn regression_multiclass_missing_values_and_early_stopping() {
        let rows: Vec<Vec<f64>> =
            (0..300).map(|i| vec![f64::from(i) / 30.0, if i % 7 == 0 { f64::NAN } else { 1.0 }]).collect();
        let y: Vec<f64> = rows.iter().map(|r| (r[0]).sin() * 3.0).collect();
        let d = Dataset::regression(Matrix::from_rows(&rows).unwrap(), Vector::from_vec(y)).unwrap();
        let m = GradientBoostedTrees::params().iterations(200).fit(&d).unwrap();
        let pred = m.predict_values(d.features()).unwrap();
        let mse: f64 =
            pred.as_slice().iter().zip(d.values().unwrap().as_slice()).map(|(a, b)| (a - b).powi(2)).sum::<f64>()
                / 300.0;
        assert!(mse < 0.05, "mse {mse}");
        assert!(m.predict(d.features()).is_err());

        let three: Vec<String> = (0..300).map(|i| ["a", "b", "c"][(i / 100) as usize].to_owned()).collect();
        let c = Dataset::classification(d.features().clone(), Labels::from_strings(&three)).unwrap();
        let mc = GradientBoostedTrees::params().iterations(30).fit(&c).unwrap();
        let right = mc
            .predict(c.features())
            .unwrap()
            .ids()
            .iter()
            .zip(c.labels().unwrap().ids())
            .filter(|(a, b)| a == b)
            .count();
        assert!(right >= 290, "{right}/300");

        let (train, valid) = crate::train_test_split(&xor_data(1000), 0.3, 1).unwrap();
        let es = GradientBoostedTrees::params()
            .iterations(1000)
            .early_stopping_rounds(5)
            .fit_with_validation(&train, &valid)
            .unwrap();
        assert!(es.n_trees() < 1000, "stopped early at {}", es.n_trees());
    }

    #[test]
    fn bad_input_is_named() {
        let d = xor_data(20);
        assert!(GradientBoostedTrees::params().learning_rate(0.0).fit(&d).is_err());
        let inf = Matrix::from_rows(&[vec![f64::INFINITY, 1.0]]).unwrap();
        let m = GradientBoostedTrees::params().iterations(2).fit(&d).unwrap();
        assert!(matches!(m.predict(&inf), Err(MlError::NonFinite { .. })));
        assert!(m.predict(&Matrix::from_rows(&[vec![1.0]]).unwrap()).unwrap_err().to_string().contains("trained on 2"));
        let one = Dataset::classification(Matrix::from_rows(&[vec![1.0]]).unwrap(), Labels::from_ints(&[1])).unwrap();
        assert!(GradientBoostedTrees::params().fit(&one).unwrap_err().to_string().contains("two classes"));
    }
}
