//! Deep learning on [candle](https://github.com/huggingface/candle) (CPU;
//! `--features cuda` builds candle's CUDA backend, unused so far by these
//! models): [`ConvNet`] for images, [`Mlp`] for tables, [`Autoencoder`] for
//! anomaly scores and [`TextClassifier`] for documents — the same
//! `Params → fit → predict` shape and concrete types as the rest of the library.
//!
//! Every model trains with mini-batch AdamW (Loshchilov & Hutter 2019,
//! candle-nn's implementation) under [`TrainingOptions`] set on its params:
//! `epochs`, `batch_size`, `learning_rate`, `weight_decay`, `seed` (same
//! seed, same data: same model), `early_stopping(patience)` with a
//! validation set (the best epoch's weights are kept), and `verbose` (one
//! line per epoch printed while it fits, which a notebook shows as the cell
//! runs). The fitted model keeps its [`History`], shown as loss and accuracy
//! curves.
//!
//! A fitted model saves as one safetensors file
//! (<https://huggingface.co/docs/safetensors>): its tensors, and its small
//! JSON config (layers, classes, input normalisation, history) in the file's
//! `__metadata__` header under `flywheel_config`, beside `flywheel_model`
//! naming its type — so any safetensors reader opens it, and the one file
//! moves between kernel, training pool, leaderboard and endpoint.

mod autoencoder;
mod convnet;
mod mlp;
mod net;
mod text_classifier;

pub use autoencoder::{Autoencoder, AutoencoderModel, AutoencoderParams};
pub use convnet::{ConvNet, ConvNetModel, ConvNetParams};
pub use mlp::{Mlp, MlpClassifier, MlpParams, MlpRegressor, MlpRegressorParams};
pub use text_classifier::{TextClassifier, TextClassifierModel, TextClassifierParams};

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::display::emit;
use crate::error::{MlError, Result};
use crate::plot::{Plot, line_plot};

/// How a deep model trains; every deep model's params carry one and have
/// builder methods of the same names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingOptions {
    /// Passes over the training data (default 10).
    pub epochs: usize,
    /// Rows (images, documents) per gradient step (default 64).
    pub batch_size: usize,
    /// AdamW's step size (default 0.001).
    pub learning_rate: f64,
    /// AdamW's decoupled weight decay (default 0.0001).
    pub weight_decay: f64,
    /// Seeds the weights, the shuffles and the dropout masks (default 42).
    pub seed: u64,
    /// Stop when the validation loss has not improved for this many epochs
    /// (needs a validation set; default none).
    pub patience: Option<usize>,
    /// Print one line per epoch while fitting (default true).
    pub verbose: bool,
}

impl Default for TrainingOptions {
    fn default() -> Self {
        TrainingOptions {
            epochs: 10,
            batch_size: 64,
            learning_rate: 1e-3,
            weight_decay: 1e-4,
            seed: 42,
            patience: None,
            verbose: true,
        }
    }
}

impl TrainingOptions {
    fn validate(&self) -> Result<()> {
        if self.epochs == 0 || self.batch_size == 0 {
            return Err(MlError::InvalidParams("epochs and batch_size must be at least 1".into()));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(MlError::InvalidParams(format!("learning_rate must be positive, not {}", self.learning_rate)));
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return Err(MlError::InvalidParams(format!("weight_decay must be ≥ 0, not {}", self.weight_decay)));
        }
        if self.patience == Some(0) {
            return Err(MlError::InvalidParams("early_stopping's patience must be at least 1 epoch".into()));
        }
        Ok(())
    }

    /// The per-epoch printer when verbose.
    fn reporter(&self, model: &'static str) -> impl FnMut(&EpochMetrics) + use<> {
        let (verbose, epochs) = (self.verbose, self.epochs);
        move |m: &EpochMetrics| {
            if verbose {
                println!("{model} {}", m.line(epochs));
            }
        }
    }
}

/// The builder methods of [`TrainingOptions`] on a params type with a
/// `training: TrainingOptions` field.
macro_rules! training_options {
    ($($params:ty),+ $(,)?) => {$( $crate::deep::training_options!($params: training); )+};
    ($params:ty: $($field:tt).+) => {
        impl $params {
            /// Passes over the training data (default 10).
            pub fn epochs(mut self, n: usize) -> Self { self.$($field).+.epochs = n; self }
            /// Rows per gradient step (default 64).
            pub fn batch_size(mut self, n: usize) -> Self { self.$($field).+.batch_size = n; self }
            /// AdamW's learning rate (default 0.001).
            pub fn learning_rate(mut self, rate: f64) -> Self { self.$($field).+.learning_rate = rate; self }
            /// AdamW's decoupled weight decay (default 0.0001).
            pub fn weight_decay(mut self, decay: f64) -> Self { self.$($field).+.weight_decay = decay; self }
            /// Seeds weights, shuffles and dropout: the same seed gives the same model (default 42).
            pub fn seed(mut self, seed: u64) -> Self { self.$($field).+.seed = seed; self }
            /// Stops when the validation loss has not improved for `patience`
            /// epochs, keeping the best epoch's weights (needs `fit_with_validation`).
            pub fn early_stopping(mut self, patience: usize) -> Self { self.$($field).+.patience = Some(patience); self }
            /// Print a line per epoch while fitting (default true).
            pub fn verbose(mut self, on: bool) -> Self { self.$($field).+.verbose = on; self }
            /// The training options as set.
            pub fn training_options(&self) -> &TrainingOptions { &self.$($field).+ }
        }
    };
}
use training_options;

/// One epoch of training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// From 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (cross-entropy or mean squared error).
    pub loss: f64,
    /// Loss on the validation set after the epoch, when there is one.
    pub validation_loss: Option<f64>,
    /// Accuracy on the validation set after the epoch (classifiers).
    pub validation_accuracy: Option<f64>,
    /// Wall time of the epoch, in seconds.
    pub seconds: f64,
}

impl EpochMetrics {
    /// `epoch 3/10: loss 0.4123, validation loss 0.3981, accuracy 0.861 (12.3 s)`.
    pub fn line(&self, epochs: usize) -> String {
        let mut s = format!("epoch {}/{epochs}: loss {:.4}", self.epoch, self.loss);
        if let Some(v) = self.validation_loss {
            s.push_str(&format!(", validation loss {v:.4}"));
        }
        if let Some(a) = self.validation_accuracy {
            s.push_str(&format!(", accuracy {a:.3}"));
        }
        s.push_str(&format!(" ({:.1} s)", self.seconds));
        s
    }
}

/// A fit's epochs, kept with the model and shown as curves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Each epoch run.
    pub epochs: Vec<EpochMetrics>,
    /// The epoch whose weights were kept, with early stopping.
    pub best_epoch: Option<usize>,
    /// Why training ended before its last epoch, if it did.
    pub stopped: Option<String>,
}

impl History {
    /// The loss curves (training, and validation when there was one).
    ///
    /// # Errors
    /// [`MlError::Empty`] for a history without epochs.
    pub fn loss_plot(&self) -> Result<Plot> {
        let train: Vec<f64> = self.epochs.iter().map(|e| e.loss).collect();
        let valid: Vec<f64> = self.epochs.iter().filter_map(|e| e.validation_loss).collect();
        if valid.len() == train.len() {
            line_plot("Loss by epoch", "epoch", "loss", &[("training", &train), ("validation", &valid)])
        } else {
            line_plot("Loss by epoch", "epoch", "loss", &[("training", &train)])
        }
    }

    /// Validation accuracy by epoch (classifiers fitted with validation).
    ///
    /// # Errors
    /// [`MlError::Empty`] when no epoch measured accuracy.
    pub fn accuracy_plot(&self) -> Result<Plot> {
        let acc: Vec<f64> = self.epochs.iter().filter_map(|e| e.validation_accuracy).collect();
        line_plot("Validation accuracy by epoch", "epoch", "accuracy", &[("validation", &acc)])
    }

    /// The curves, and how training ended.
    pub fn evcxr_display(&self) {
        let mut html = String::new();
        if let Ok(p) = self.loss_plot() {
            html.push_str(p.to_svg());
        }
        if let Ok(p) = self.accuracy_plot() {
            html.push_str(p.to_svg());
        }
        if let Some(why) = &self.stopped {
            html.push_str(&format!("<p>{}</p>", crate::display::escape(why)));
        }
        emit("text/html", &format!("<div style=\"display:flex;flex-wrap:wrap;gap:8px\">{html}</div>"));
    }
}

/// Writes `tensors` and `config` (under `flywheel_config`, with the type's
/// name under `flywheel_model`) to a safetensors file at `path`.
fn save_model<C: Serialize>(kind: &str, config: &C, tensors: &HashMap<String, Tensor>, path: &Path) -> Result<()> {
    let config = serde_json::to_string(config).map_err(|e| MlError::Write(format!("the {kind}'s config: {e}")))?;
    let metadata =
        HashMap::from([("flywheel_model".to_owned(), kind.to_owned()), ("flywheel_config".to_owned(), config)]);
    let bytes = safetensors::serialize(tensors, Some(metadata))
        .map_err(|e| MlError::Write(format!("the {kind} as safetensors: {e}")))?;
    std::fs::write(path, bytes).map_err(|e| MlError::Write(format!("the {kind} to {}: {e}", path.display())))
}

/// Reads a file of [`save_model`]: its config and tensors.
fn load_model<C: serde::de::DeserializeOwned>(kind: &str, path: &Path) -> Result<(C, HashMap<String, Tensor>)> {
    let bytes = std::fs::read(path).map_err(|e| MlError::Read(format!("the {kind} from {}: {e}", path.display())))?;
    model_from_bytes(kind, &bytes)
}

/// [`load_model`] from the file's bytes.
fn model_from_bytes<C: serde::de::DeserializeOwned>(kind: &str, bytes: &[u8]) -> Result<(C, HashMap<String, Tensor>)> {
    let damaged = |e: &dyn std::fmt::Display| MlError::Read(format!("this is not a readable safetensors file: {e}"));
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| damaged(&e))?;
    let meta = header.metadata().clone().unwrap_or_default();
    let found = meta.get("flywheel_model").cloned().unwrap_or_default();
    if found.is_empty() {
        return Err(MlError::Read(
            "this safetensors file is not a saved Flywheel model (no `flywheel_model` metadata)".into(),
        ));
    }
    if found != kind {
        return Err(MlError::Read(format!("this file holds a {found}, not a {kind}; load it with {found}::load")));
    }
    let config = serde_json::from_str(meta.get("flywheel_config").map_or("", String::as_str))
        .map_err(|e| MlError::Read(format!("the saved {kind}'s config is damaged: {e}")))?;
    let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu).map_err(|e| damaged(&e))?;
    Ok((config, tensors))
}

/// `save`, `load`, `from_bytes` and `history` of a deep model: a struct
/// with a `config` (of the given type, with `layers` and `history` fields)
/// and a `net`.
macro_rules! saveable_deep {
    ($($model:ident: $config:ty),+ $(,)?) => {$(
        impl $model {
            /// Its training epochs (shown as curves).
            pub fn history(&self) -> &super::History {
                &self.config.history
            }

            fn from_parts(config: $config, tensors: &std::collections::HashMap<String, candle_core::Tensor>) -> Result<Self> {
                let net = super::net::Network::from_tensors(config.layers.clone(), tensors)?;
                Ok($model { config, net })
            }

            /// Writes the model to `path` as one safetensors file (its
            /// config in the header's metadata), replacing any file there.
            ///
            /// # Errors
            /// [`MlError::Write`] when the file cannot be written; the message names the path.
            pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
                super::save_model(stringify!($model), &self.config, &self.net.tensors(), path.as_ref())
            }

            /// A model written by [`Self::save`].
            ///
            /// # Errors
            /// [`MlError::Read`] when the file cannot be read, is not
            /// safetensors (a corrupted or truncated file), holds another
            /// model type (the message names it), or lacks a tensor.
            pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self> {
                let (config, tensors) = super::load_model(stringify!($model), path.as_ref())?;
                Self::from_parts(config, &tensors)
            }

            /// [`Self::load`] from the file's bytes.
            ///
            /// # Errors
            /// As [`Self::load`].
            pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
                let (config, tensors) = super::model_from_bytes(stringify!($model), bytes)?;
                Self::from_parts(config, &tensors)
            }
        }
    )+};
}
use saveable_deep;

/// Standardisation of feature columns: stored means and standard deviations
/// (a constant column divides by 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Standardiser {
    mean: Vec<f64>,
    std: Vec<f64>,
}

impl Standardiser {
    fn fit(x: &crate::Matrix) -> Standardiser {
        let a = x.array();
        let n = a.nrows().max(1) as f64;
        let mean: Vec<f64> = a.columns().into_iter().map(|c| c.sum() / n).collect();
        let std = a
            .columns()
            .into_iter()
            .zip(&mean)
            .map(|(c, m)| {
                let s = (c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n).sqrt();
                if s > 1e-12 { s } else { 1.0 }
            })
            .collect();
        Standardiser { mean, std }
    }

    /// `x` standardised, as an N × d f32 tensor.
    fn tensor(&self, x: &crate::Matrix) -> Result<Tensor> {
        let (n, d) = x.shape();
        let mut values = Vec::with_capacity(n * d);
        for row in x.array().rows() {
            values.extend(row.iter().zip(&self.mean).zip(&self.std).map(|((v, m), s)| ((v - m) / s) as f32));
        }
        Tensor::from_vec(values, (n, d), &Device::Cpu).map_err(net::fit_error)
    }
}

/// Class ids as a u32 tensor.
fn class_tensor(labels: &crate::Labels) -> Result<Tensor> {
    let ids: Vec<u32> = labels.ids().iter().map(|&i| i as u32).collect();
    Tensor::from_vec(ids, labels.len(), &Device::Cpu).map_err(net::fit_error)
}

/// Checks labels for a classifier: as many as rows, and at least two classes.
fn check_labels(labels: &crate::Labels, rows: usize, what: &str) -> Result<()> {
    if labels.len() != rows {
        return Err(MlError::Shape(format!("{} labels for {rows} {what}", labels.len())));
    }
    if labels.n_classes() < 2 {
        return Err(MlError::InvalidData(format!(
            "a classifier needs at least two classes; the labels have {}",
            labels.n_classes()
        )));
    }
    Ok(())
}

/// Labels of the argmax of each probability row.
fn labels_of(probabilities: &[Vec<f32>], classes: &[String]) -> Result<crate::Labels> {
    let ids = probabilities
        .iter()
        .map(|p| p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i))
        .collect();
    crate::Labels::from_ids(ids, classes.to_vec())
}

/// Probabilities as a Matrix with one column per class.
fn proba_matrix(probabilities: &[Vec<f32>], classes: &[String]) -> Result<crate::Matrix> {
    let values = probabilities.iter().flatten().map(|&p| f64::from(p)).collect();
    crate::Matrix::from_vec(probabilities.len(), classes.len(), values)?.with_columns(classes)
}

/// The positive (second) class's probability of a binary classifier.
fn positive_proba(probabilities: &[Vec<f32>], classes: &[String]) -> Result<crate::Vector> {
    if classes.len() != 2 {
        return Err(MlError::InvalidData(format!(
            "predict_proba gives the positive class's probability of a binary classifier; this one has {} classes: use predict_proba_all",
            classes.len()
        )));
    }
    Ok(crate::Vector::from_vec(probabilities.iter().map(|p| f64::from(p[1])).collect()))
}
