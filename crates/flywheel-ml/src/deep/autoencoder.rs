//! [`Autoencoder`]: reconstruction error as an anomaly score.

use serde::{Deserialize, Serialize};

use super::net::{Layer, Network, Targets, fit_error, train};
use super::{History, Standardiser, TrainingOptions, saveable_deep};
use crate::error::{MlError, Result};
use crate::models::check_predict_input;
use crate::{Matrix, Vector};

/// A dense autoencoder on feature tables: an encoder of ReLU layers down to
/// a bottleneck, the mirrored decoder back to the features (standardised
/// inside the model), trained to reproduce its input by mean squared error.
/// Rows unlike the training data reconstruct badly, so the reconstruction
/// error is an anomaly score (Hinton & Salakhutdinov 2006; as used for
/// machine-failure detection, e.g. Malhotra et al. 2016). Fit it on normal
/// rows only where labels allow.
pub struct Autoencoder;

impl Autoencoder {
    /// The default params: encoder layers `[16, 4]` (the last is the bottleneck).
    pub fn params() -> AutoencoderParams {
        AutoencoderParams { encoder: vec![16, 4], training: TrainingOptions::default() }
    }
}

/// [`Autoencoder`]'s hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoencoderParams {
    encoder: Vec<usize>,
    training: TrainingOptions,
}

super::training_options!(AutoencoderParams);

impl AutoencoderParams {
    /// Units of the encoder's layers, the last being the bottleneck (default `[16, 4]`).
    pub fn encoder(mut self, units: &[usize]) -> Self {
        self.encoder = units.to_vec();
        self
    }

    /// Fits the autoencoder to the rows of `x`.
    ///
    /// # Errors
    /// [`MlError::Empty`] / [`MlError::NonFinite`] for unusable data,
    /// [`MlError::InvalidParams`] for an empty encoder or a zero-unit layer,
    /// [`MlError::Fit`] when the loss is NaN from the start.
    pub fn fit(&self, x: &Matrix) -> Result<AutoencoderModel> {
        self.training.validate()?;
        if x.nrows() == 0 || x.ncols() == 0 {
            return Err(MlError::Empty("no rows or no columns to fit".into()));
        }
        x.check_finite()?;
        if self.encoder.is_empty() || self.encoder.contains(&0) {
            return Err(MlError::InvalidParams("the encoder needs at least one layer of at least one unit".into()));
        }
        let mut widths = vec![x.ncols()];
        widths.extend(&self.encoder);
        let mut layers = Vec::new();
        let pairs: Vec<(usize, usize)> = widths.windows(2).map(|w| (w[0], w[1])).collect();
        for &(a, b) in &pairs {
            layers.extend([Layer::Dense { inputs: a, outputs: b, bias: true }, Layer::Relu]);
        }
        for (i, &(a, b)) in pairs.iter().rev().enumerate() {
            layers.push(Layer::Dense { inputs: b, outputs: a, bias: true });
            if i + 1 < pairs.len() {
                layers.push(Layer::Relu);
            }
        }
        let scaler = Standardiser::fit(x);
        let input = scaler.tensor(x)?;
        let mut net = Network::new(layers, self.training.seed)?;
        let history = train(
            &mut net,
            &input,
            &Targets::Values(input.clone()),
            None,
            &self.training,
            &mut self.training.reporter("Autoencoder"),
        )?;
        Ok(AutoencoderModel {
            config: AutoencoderConfig { columns: x.columns().to_vec(), scaler, layers: net.layers().to_vec(), history },
            net,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AutoencoderConfig {
    columns: Vec<String>,
    scaler: Standardiser,
    layers: Vec<Layer>,
    history: History,
}

/// A fitted [`Autoencoder`].
#[derive(Debug)]
pub struct AutoencoderModel {
    config: AutoencoderConfig,
    net: Network,
}

impl AutoencoderModel {
    /// Each row's anomaly score: the mean squared reconstruction error over
    /// its standardised features (0 = perfectly reproduced).
    ///
    /// # Errors
    /// [`MlError::Shape`] for another column count, [`MlError::NonFinite`] for NaN.
    pub fn score(&self, x: &Matrix) -> Result<Vector> {
        check_predict_input(x, self.config.columns.len())?;
        let input = self.config.scaler.tensor(x)?;
        let output = self.net.predict(&input)?;
        let errors = (output - &input)
            .and_then(|d| d.sqr())
            .and_then(|d| d.mean(1))
            .and_then(|d| d.to_vec1::<f32>())
            .map_err(fit_error)?;
        Ok(Vector::from_vec(errors.into_iter().map(f64::from).collect()))
    }

    /// The training curve.
    pub fn evcxr_display(&self) {
        self.config.history.evcxr_display();
    }
}

saveable_deep!(AutoencoderModel: AutoencoderConfig);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_off_the_training_manifold_score_higher() {
        // Two features that move together; the anomaly breaks the relation.
        let rows: Vec<f64> = (0..200)
            .flat_map(|i| {
                let t = i as f64 / 20.0;
                [t, 2.0 * t + 1.0, -t]
            })
            .collect();
        let x = Matrix::from_vec(200, 3, rows).unwrap();
        let model = Autoencoder::params()
            .encoder(&[8, 1])
            .epochs(80)
            .batch_size(20)
            .learning_rate(0.01)
            .verbose(false)
            .fit(&x)
            .unwrap();
        let test = Matrix::from_vec(2, 3, vec![5.0, 11.0, -5.0, 5.0, -3.0, 5.0]).unwrap();
        let s = model.score(&test).unwrap();
        assert!(s.as_slice()[1] > 10.0 * s.as_slice()[0], "normal {} vs anomaly {}", s.as_slice()[0], s.as_slice()[1]);
    }
}
