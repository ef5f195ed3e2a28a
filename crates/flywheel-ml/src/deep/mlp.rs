//! [`Mlp`]: a multi-layer perceptron for tables (classifier and regressor).

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::net::{Layer, Network, Targets, fit_error, train};
use super::{
    History, Standardiser, TrainingOptions, check_labels, class_tensor, labels_of, positive_proba, proba_matrix,
    saveable_deep,
};
use crate::error::{MlError, Result};
use crate::models::check_predict_input;
use crate::{Dataset, Labels, Matrix, Vector};

/// A multi-layer perceptron on feature tables: dense ReLU layers (with
/// dropout) and a dense output, features standardised inside the model
/// (Goodfellow et al. 2016, ch. 6).
///
/// `Mlp::classifier()` fits class labels (softmax, cross-entropy);
/// `Mlp::regressor()` fits values (mean squared error, targets standardised).
pub struct Mlp;

impl Mlp {
    /// A classifier's params: hidden layers `[64, 32]`, dropout 0.1.
    pub fn classifier() -> MlpParams {
        MlpParams { hidden: vec![64, 32], dropout: 0.1, training: TrainingOptions::default() }
    }

    /// A regressor's params: hidden layers `[64, 32]`, dropout 0.
    pub fn regressor() -> MlpRegressorParams {
        MlpRegressorParams(MlpParams { hidden: vec![64, 32], dropout: 0.0, training: TrainingOptions::default() })
    }
}

/// [`Mlp`]'s hyper-parameters (a classifier's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlpParams {
    hidden: Vec<usize>,
    dropout: f64,
    training: TrainingOptions,
}

/// [`Mlp::regressor`]'s params: the same methods as [`MlpParams`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlpRegressorParams(MlpParams);

super::training_options!(MlpParams);
super::training_options!(MlpRegressorParams: 0.training);

impl MlpRegressorParams {
    /// As [`MlpParams::hidden`].
    pub fn hidden(self, units: &[usize]) -> Self {
        MlpRegressorParams(self.0.hidden(units))
    }
    /// As [`MlpParams::dropout`].
    pub fn dropout(self, rate: f64) -> Self {
        MlpRegressorParams(self.0.dropout(rate))
    }
    /// Fits a regression [`Dataset`].
    ///
    /// # Errors
    /// As [`MlpParams::fit`], for a dataset of values.
    pub fn fit(&self, data: &Dataset) -> Result<MlpRegressor> {
        self.fit_inner(data, None)
    }

    /// [`Self::fit`] with a validation set for the curves and early stopping.
    ///
    /// # Errors
    /// As [`Self::fit`]; [`MlError::Shape`] for other columns in `validation`.
    pub fn fit_with_validation(&self, data: &Dataset, validation: &Dataset) -> Result<MlpRegressor> {
        self.fit_inner(data, Some(validation))
    }

    fn fit_inner(&self, data: &Dataset, validation: Option<&Dataset>) -> Result<MlpRegressor> {
        let p = &self.0;
        p.check(data)?;
        let values = data.values()?;
        values.check_finite()?;
        let (mean, std) = (values.mean(), values.std());
        let std = if std > 1e-12 { std } else { 1.0 };
        let scaler = Standardiser::fit(data.features());
        let targets = |v: &Vector| -> Result<Targets> {
            let t: Vec<f32> = v.as_slice().iter().map(|y| ((y - mean) / std) as f32).collect();
            Ok(Targets::Values(Tensor::from_vec(t, (v.len(), 1), &Device::Cpu).map_err(fit_error)?))
        };
        let validation = match validation {
            Some(v) => {
                check_columns(data.features(), v.features())?;
                Some((scaler.tensor(v.features())?, targets(v.values()?)?))
            }
            None => None,
        };
        let mut net = Network::new(p.layers(data.ncols(), 1), p.training.seed)?;
        let history = train(
            &mut net,
            &scaler.tensor(data.features())?,
            &targets(values)?,
            validation.as_ref().map(|(a, b)| (a, b)),
            &p.training,
            &mut p.training.reporter("Mlp"),
        )?;
        Ok(MlpRegressor {
            config: MlpConfig {
                columns: data.features().columns().to_vec(),
                scaler,
                classes: Vec::new(),
                target: (mean, std),
                layers: net.layers().to_vec(),
                history,
            },
            net,
        })
    }
}

impl MlpParams {
    /// Units of each hidden layer, in order (default `[64, 32]`).
    pub fn hidden(mut self, units: &[usize]) -> Self {
        self.hidden = units.to_vec();
        self
    }

    /// Dropout after each hidden layer, in [0, 1).
    pub fn dropout(mut self, rate: f64) -> Self {
        self.dropout = rate;
        self
    }

    fn check(&self, data: &Dataset) -> Result<()> {
        self.training.validate()?;
        data.check_fit_ready()?;
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(MlError::InvalidParams(format!("dropout must be in [0, 1), not {}", self.dropout)));
        }
        if self.hidden.contains(&0) {
            return Err(MlError::InvalidParams("a hidden layer needs at least one unit".into()));
        }
        Ok(())
    }

    fn layers(&self, inputs: usize, outputs: usize) -> Vec<Layer> {
        let mut layers = Vec::new();
        let mut width = inputs;
        for &units in &self.hidden {
            layers.extend([Layer::Dense { inputs: width, outputs: units, bias: true }, Layer::Relu]);
            if self.dropout > 0.0 {
                layers.push(Layer::Dropout { rate: self.dropout });
            }
            width = units;
        }
        layers.push(Layer::Dense { inputs: width, outputs, bias: true });
        layers
    }

    /// Fits a classification [`Dataset`].
    ///
    /// # Errors
    /// [`MlError::Empty`] / [`MlError::NonFinite`] for unusable data,
    /// [`MlError::InvalidData`] for one class or a regression target,
    /// [`MlError::InvalidParams`] for bad hyper-parameters, [`MlError::Fit`]
    /// when the loss is NaN from the start.
    pub fn fit(&self, data: &Dataset) -> Result<MlpClassifier> {
        self.fit_inner(data, None)
    }

    /// [`Self::fit`] with a validation set for the curves and early stopping.
    ///
    /// # Errors
    /// As [`Self::fit`]; [`MlError::Shape`] for other columns in `validation`.
    pub fn fit_with_validation(&self, data: &Dataset, validation: &Dataset) -> Result<MlpClassifier> {
        self.fit_inner(data, Some(validation))
    }

    fn fit_inner(&self, data: &Dataset, validation: Option<&Dataset>) -> Result<MlpClassifier> {
        self.check(data)?;
        let labels = data.labels()?;
        check_labels(labels, data.nrows(), "rows")?;
        let scaler = Standardiser::fit(data.features());
        let validation = match validation {
            Some(v) => {
                check_columns(data.features(), v.features())?;
                let vl = v.labels()?.aligned_to(labels)?;
                Some((scaler.tensor(v.features())?, Targets::Classes(class_tensor(&vl)?)))
            }
            None => None,
        };
        let mut net = Network::new(self.layers(data.ncols(), labels.n_classes()), self.training.seed)?;
        let history = train(
            &mut net,
            &scaler.tensor(data.features())?,
            &Targets::Classes(class_tensor(labels)?),
            validation.as_ref().map(|(a, b)| (a, b)),
            &self.training,
            &mut self.training.reporter("Mlp"),
        )?;
        Ok(MlpClassifier {
            config: MlpConfig {
                columns: data.features().columns().to_vec(),
                scaler,
                classes: labels.classes().to_vec(),
                target: (0.0, 1.0),
                layers: net.layers().to_vec(),
                history,
            },
            net,
        })
    }
}

fn check_columns(train: &Matrix, other: &Matrix) -> Result<()> {
    if train.columns() != other.columns() {
        return Err(MlError::Shape(format!(
            "the validation set's columns ({}) differ from the training set's ({})",
            other.columns().join(", "),
            train.columns().join(", ")
        )));
    }
    Ok(())
}

/// What a saved MLP keeps besides its tensors.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct MlpConfig {
    columns: Vec<String>,
    scaler: Standardiser,
    /// Class names (classifier); empty for a regressor.
    classes: Vec<String>,
    /// The regression target's mean and standard deviation.
    target: (f64, f64),
    layers: Vec<Layer>,
    history: History,
}

impl MlpConfig {
    fn output(&self, net: &Network, x: &Matrix) -> Result<Tensor> {
        check_predict_input(x, self.columns.len())?;
        net.predict(&self.scaler.tensor(x)?)
    }
}

/// A fitted [`Mlp::classifier`].
#[derive(Debug)]
pub struct MlpClassifier {
    config: MlpConfig,
    net: Network,
}

/// A fitted [`Mlp::regressor`].
#[derive(Debug)]
pub struct MlpRegressor {
    config: MlpConfig,
    net: Network,
}

macro_rules! mlp_common {
    ($($model:ident),+) => {$(
        impl $model {
            /// The feature columns it takes, in order.
            pub fn columns(&self) -> &[String] {
                &self.config.columns
            }

            /// The training curves.
            pub fn evcxr_display(&self) {
                self.config.history.evcxr_display();
            }
        }
    )+};
}
mlp_common!(MlpClassifier, MlpRegressor);
saveable_deep!(MlpClassifier: MlpConfig, MlpRegressor: MlpConfig);

impl MlpClassifier {
    /// The class names, in the order of [`Self::predict_proba_all`]'s columns.
    pub fn classes(&self) -> &[String] {
        &self.config.classes
    }

    fn probabilities(&self, x: &Matrix) -> Result<Vec<Vec<f32>>> {
        let logits = self.config.output(&self.net, x)?;
        candle_nn::ops::softmax_last_dim(&logits).and_then(|p| p.to_vec2::<f32>()).map_err(fit_error)
    }

    /// The most probable class of each row.
    ///
    /// # Errors
    /// [`MlError::Shape`] for another column count, [`MlError::NonFinite`] for NaN.
    pub fn predict(&self, x: &Matrix) -> Result<Labels> {
        labels_of(&self.probabilities(x)?, &self.config.classes)
    }

    /// Every class's probability: rows × classes.
    ///
    /// # Errors
    /// As [`Self::predict`].
    pub fn predict_proba_all(&self, x: &Matrix) -> Result<Matrix> {
        proba_matrix(&self.probabilities(x)?, &self.config.classes)
    }

    /// The positive (second) class's probability of a binary classifier.
    ///
    /// # Errors
    /// As [`Self::predict`]; [`MlError::InvalidData`] for more than two classes.
    pub fn predict_proba(&self, x: &Matrix) -> Result<Vector> {
        positive_proba(&self.probabilities(x)?, &self.config.classes)
    }
}

impl MlpRegressor {
    /// The predicted value of each row.
    ///
    /// # Errors
    /// [`MlError::Shape`] for another column count, [`MlError::NonFinite`] for NaN.
    pub fn predict(&self, x: &Matrix) -> Result<Vector> {
        let out = self.config.output(&self.net, x)?;
        let (mean, std) = self.config.target;
        let values = out.flatten_all().and_then(|t| t.to_vec1::<f32>()).map_err(fit_error)?;
        Ok(Vector::from_vec(values.into_iter().map(|v| f64::from(v) * std + mean).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics;

    #[test]
    fn classifies_iris_and_fits_a_smooth_function() {
        let iris = crate::datasets::iris();
        let model = Mlp::classifier().epochs(60).batch_size(16).learning_rate(0.01).verbose(false).fit(&iris).unwrap();
        let acc = metrics::accuracy(iris.labels().unwrap(), &model.predict(iris.features()).unwrap()).unwrap();
        assert!(acc > 0.93, "iris training accuracy {acc}");
        assert_eq!(model.predict_proba_all(iris.features()).unwrap().shape(), (150, 3));

        let xs: Vec<f64> = (0..200).map(|i| i as f64 / 40.0).collect();
        let x = Matrix::from_vec(200, 1, xs.clone()).unwrap();
        let y = Vector::from_vec(xs.iter().map(|v| v.sin()).collect());
        let data = Dataset::regression(x.clone(), y.clone()).unwrap();
        let reg = Mlp::regressor().epochs(150).batch_size(20).learning_rate(0.01).verbose(false).fit(&data).unwrap();
        let rmse = metrics::rmse(&y, &reg.predict(&x).unwrap()).unwrap();
        assert!(rmse < 0.1, "sin fit RMSE {rmse}");
        let e = reg.predict(&Matrix::from_vec(1, 2, vec![0.0, 1.0]).unwrap()).unwrap_err().to_string();
        assert!(e.contains("1 feature columns, this matrix has 2"), "{e}");
    }
}
