//! The network every deep model is made of: a sequence of layers described
//! by a serialisable [`Layer`] list, with weights as candle `Var`s, and the
//! training loop they share (mini-batches, AdamW, validation, early stopping,
//! NaN guard).
//!
//! Weights are initialised from our own seeded generator (He/Kaiming uniform,
//! He et al. 2015, biases zero) and dropout masks and shuffles come from it
//! too, so the same seed gives the same model: candle's CPU device has no
//! seed of its own.

use std::collections::HashMap;
use std::time::Instant;

use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{ModuleT as _, Optimizer as _};
use rand::{Rng as _, SeedableRng as _, seq::SliceRandom as _};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::{EpochMetrics, History, TrainingOptions};
use crate::error::{MlError, Result};

/// A candle error as an [`MlError::Fit`].
pub(crate) fn fit_error(e: candle_core::Error) -> MlError {
    MlError::Fit(format!("the network: {e}"))
}

/// One layer of a network, as saved in a model's config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "layer", rename_all = "snake_case")]
pub(crate) enum Layer {
    /// 2-D convolution, stride 1, zero padding `padding` (input N × C × H × W).
    Conv { in_channels: usize, out_channels: usize, kernel: usize, padding: usize },
    /// Batch normalisation over the channels (Ioffe & Szegedy 2015), momentum 0.1, ε 1e-5.
    BatchNorm { features: usize },
    /// max(0, x).
    Relu,
    /// Max pooling over `size` × `size` windows with stride `size`.
    MaxPool { size: usize },
    /// N × … → N × (product of the rest).
    Flatten,
    /// Inverted dropout (Srivastava et al. 2014) while training; identity otherwise.
    Dropout { rate: f64 },
    /// Fully connected: N × inputs → N × outputs.
    Dense { inputs: usize, outputs: usize, bias: bool },
}

/// The weights of one layer.
enum Weights {
    None,
    Conv { weight: Var, bias: Var },
    BatchNorm { norm: candle_nn::BatchNorm, weight: Var, bias: Var },
    Dense { weight: Var, bias: Option<Var> },
}

/// A network: its layers and their weights (CPU, f32).
pub(crate) struct Network {
    layers: Vec<Layer>,
    weights: Vec<Weights>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Network({} layers, {} weights)", self.layers.len(), self.parameter_count())
    }
}

fn uniform_var(rng: &mut Xoshiro256PlusPlus, shape: &[usize], bound: f64) -> Result<Var> {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.gen_range(-bound..=bound) as f32).collect();
    Var::from_tensor(&Tensor::from_vec(values, shape, &Device::Cpu).map_err(fit_error)?).map_err(fit_error)
}

fn constant_var(shape: &[usize], value: f32) -> Result<Var> {
    let n: usize = shape.iter().product();
    Var::from_tensor(&Tensor::from_vec(vec![value; n], shape, &Device::Cpu).map_err(fit_error)?).map_err(fit_error)
}

fn batch_norm(
    features: usize,
    running_mean: Tensor,
    running_var: Tensor,
    weight: &Var,
    bias: &Var,
) -> Result<candle_nn::BatchNorm> {
    candle_nn::BatchNorm::new(
        features,
        running_mean,
        running_var,
        weight.as_tensor().clone(),
        bias.as_tensor().clone(),
        1e-5,
    )
    .map_err(fit_error)
}

impl Network {
    /// A network with fresh weights drawn from `seed`.
    pub(crate) fn new(layers: Vec<Layer>, seed: u64) -> Result<Network> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut weights = Vec::with_capacity(layers.len());
        for layer in &layers {
            weights.push(match *layer {
                Layer::Conv { in_channels, out_channels, kernel, .. } => {
                    let fan_in = (in_channels * kernel * kernel) as f64;
                    Weights::Conv {
                        weight: uniform_var(
                            &mut rng,
                            &[out_channels, in_channels, kernel, kernel],
                            (6.0 / fan_in).sqrt(),
                        )?,
                        bias: constant_var(&[out_channels], 0.0)?,
                    }
                }
                Layer::BatchNorm { features } => {
                    let weight = constant_var(&[features], 1.0)?;
                    let bias = constant_var(&[features], 0.0)?;
                    let zeros = Tensor::zeros(features, DType::F32, &Device::Cpu).map_err(fit_error)?;
                    let ones = Tensor::ones(features, DType::F32, &Device::Cpu).map_err(fit_error)?;
                    Weights::BatchNorm { norm: batch_norm(features, zeros, ones, &weight, &bias)?, weight, bias }
                }
                Layer::Dense { inputs, outputs, bias } => Weights::Dense {
                    weight: uniform_var(&mut rng, &[outputs, inputs], (6.0 / inputs as f64).sqrt())?,
                    bias: if bias { Some(constant_var(&[outputs], 0.0)?) } else { None },
                },
                Layer::Relu | Layer::MaxPool { .. } | Layer::Flatten | Layer::Dropout { .. } => Weights::None,
            });
        }
        Ok(Network { layers, weights })
    }

    /// The layers.
    pub(crate) fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The number of trained weights.
    pub(crate) fn parameter_count(&self) -> usize {
        self.trainable().iter().map(|v| v.elem_count()).sum()
    }

    /// The trained weights by the name they are saved under
    /// (`<layer>.weight`, `<layer>.bias`): the one place that names them.
    fn named_vars(&self) -> Vec<(String, &Var)> {
        let mut out = Vec::new();
        for (i, w) in self.weights.iter().enumerate() {
            let (weight, bias) = match w {
                Weights::None => continue,
                Weights::Conv { weight, bias } | Weights::BatchNorm { weight, bias, .. } => (weight, Some(bias)),
                Weights::Dense { weight, bias } => (weight, bias.as_ref()),
            };
            out.push((format!("{i}.weight"), weight));
            out.extend(bias.map(|b| (format!("{i}.bias"), b)));
        }
        out
    }

    fn trainable(&self) -> Vec<Var> {
        self.named_vars().into_iter().map(|(_, v)| v.clone()).collect()
    }

    /// Every tensor by name: [`Self::named_vars`], and each batch norm's
    /// `<layer>.running_mean` and `.running_var`, as saved in safetensors.
    pub(crate) fn tensors(&self) -> HashMap<String, Tensor> {
        let copy = |t: &Tensor| t.copy().expect("copying a CPU tensor");
        let mut out: HashMap<String, Tensor> =
            self.named_vars().into_iter().map(|(name, v)| (name, copy(v.as_tensor()))).collect();
        for (i, w) in self.weights.iter().enumerate() {
            if let Weights::BatchNorm { norm, .. } = w {
                out.insert(format!("{i}.running_mean"), copy(norm.running_mean()));
                out.insert(format!("{i}.running_var"), copy(norm.running_var()));
            }
        }
        out
    }

    /// A network of `layers` with the weights `tensors` (from [`Self::tensors`]).
    ///
    /// # Errors
    /// [`MlError::Read`] when a tensor is missing or has another shape than its layer needs.
    pub(crate) fn from_tensors(layers: Vec<Layer>, tensors: &HashMap<String, Tensor>) -> Result<Network> {
        let mut net = Network::new(layers, 0)?;
        let get = |name: &str, like: &Tensor| -> Result<Tensor> {
            let t = tensors.get(name).ok_or_else(|| MlError::Read(format!("the weights lack the tensor `{name}`")))?;
            if t.dims() != like.dims() {
                return Err(MlError::Read(format!(
                    "the tensor `{name}` has shape {:?}; its layer needs {:?}",
                    t.dims(),
                    like.dims()
                )));
            }
            t.to_dtype(DType::F32).map_err(|e| MlError::Read(format!("the tensor `{name}`: {e}")))
        };
        for (name, var) in net.named_vars() {
            var.set(&get(&name, var.as_tensor())?).map_err(|e| MlError::Read(e.to_string()))?;
        }
        for (i, w) in net.weights.iter_mut().enumerate() {
            if let Weights::BatchNorm { norm, weight, bias } = w {
                let mean = get(&format!("{i}.running_mean"), bias.as_tensor())?;
                let var = get(&format!("{i}.running_var"), bias.as_tensor())?;
                *norm = batch_norm(bias.elem_count(), mean, var, weight, bias)?;
            }
        }
        Ok(net)
    }

    /// The network's output for `x`; `train` turns on batch statistics
    /// (updating the running ones) and dropout masks drawn from `rng`.
    fn forward(&self, x: &Tensor, train: bool, rng: &mut Xoshiro256PlusPlus) -> candle_core::Result<Tensor> {
        let mut x = x.clone();
        for (layer, w) in self.layers.iter().zip(&self.weights) {
            x = match (layer, w) {
                (Layer::Conv { out_channels, padding, .. }, Weights::Conv { weight, bias }) => x
                    .conv2d(weight.as_tensor(), *padding, 1, 1, 1)?
                    .broadcast_add(&bias.as_tensor().reshape((1, *out_channels, 1, 1))?)?,
                (Layer::BatchNorm { .. }, Weights::BatchNorm { norm, .. }) => norm.forward_t(&x, train)?,
                (Layer::Relu, _) => x.relu()?,
                (Layer::MaxPool { size }, _) => x.max_pool2d(*size)?,
                (Layer::Flatten, _) => x.flatten_from(1)?,
                (Layer::Dropout { rate }, _) if train && *rate > 0.0 => {
                    let keep = 1.0 - rate;
                    let mask: Vec<f32> = (0..x.elem_count())
                        .map(|_| if rng.r#gen::<f64>() < keep { (1.0 / keep) as f32 } else { 0.0 })
                        .collect();
                    (x.clone() * Tensor::from_vec(mask, x.shape(), x.device())?)?
                }
                (Layer::Dropout { .. }, _) => x,
                (Layer::Dense { .. }, Weights::Dense { weight, bias }) => {
                    let y = x.matmul(&weight.as_tensor().t()?)?;
                    match bias {
                        Some(b) => y.broadcast_add(b.as_tensor())?,
                        None => y,
                    }
                }
                _ => unreachable!("a layer's weights are made from the layer"),
            };
        }
        Ok(x)
    }

    /// The network's output (evaluation mode) for `inputs`, 256 rows at a time.
    pub(crate) fn predict(&self, inputs: &Tensor) -> Result<Tensor> {
        let n = inputs.dim(0).map_err(fit_error)?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
        let mut parts = Vec::new();
        for start in (0..n).step_by(256) {
            let batch = inputs.narrow(0, start, 256.min(n - start)).map_err(fit_error)?;
            parts.push(self.forward(&batch, false, &mut rng).map_err(fit_error)?);
        }
        Tensor::cat(&parts, 0).map_err(fit_error)
    }

    /// Softmax of [`Self::predict`]: N × classes probabilities.
    pub(crate) fn predict_proba(&self, inputs: &Tensor) -> Result<Vec<Vec<f32>>> {
        let logits = self.predict(inputs)?;
        candle_nn::ops::softmax_last_dim(&logits).and_then(|p| p.to_vec2::<f32>()).map_err(fit_error)
    }
}

/// What a network is trained to output.
pub(crate) enum Targets {
    /// Class ids (u32, N): cross-entropy on the logits.
    Classes(Tensor),
    /// Values (f32, N × k): mean squared error.
    Values(Tensor),
}

impl Targets {
    fn select(&self, idx: &Tensor) -> candle_core::Result<Targets> {
        Ok(match self {
            Targets::Classes(t) => Targets::Classes(t.index_select(idx, 0)?),
            Targets::Values(t) => Targets::Values(t.index_select(idx, 0)?),
        })
    }

    fn loss(&self, output: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Targets::Classes(t) => candle_nn::loss::cross_entropy(output, t),
            Targets::Values(t) => candle_nn::loss::mse(output, t),
        }
    }

    /// Correct predictions among `output`'s rows (classes only).
    fn correct(&self, output: &Tensor) -> candle_core::Result<Option<usize>> {
        match self {
            Targets::Classes(t) => {
                let predicted = output.argmax(D::Minus1)?;
                Ok(Some(predicted.eq(t)?.to_dtype(DType::F32)?.sum_all()?.to_scalar::<f32>()? as usize))
            }
            Targets::Values(_) => Ok(None),
        }
    }
}

/// Validation loss and accuracy (classes only) of `net` on `(inputs, targets)`.
fn evaluate(net: &Network, inputs: &Tensor, targets: &Targets) -> candle_core::Result<(f64, Option<f64>)> {
    let n = inputs.dim(0)?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let (mut loss, mut correct, mut classes) = (0.0, 0usize, false);
    for start in (0..n).step_by(256) {
        let len = 256.min(n - start);
        let idx = Tensor::arange(start as u32, (start + len) as u32, inputs.device())?;
        let output = net.forward(&inputs.narrow(0, start, len)?, false, &mut rng)?;
        let part = targets.select(&idx)?;
        loss += f64::from(part.loss(&output)?.to_scalar::<f32>()?) * len as f64;
        if let Some(c) = part.correct(&output)? {
            correct += c;
            classes = true;
        }
    }
    Ok((loss / n as f64, classes.then(|| correct as f64 / n as f64)))
}

/// Trains `net` on `(inputs, targets)` as `options` say, reporting each
/// epoch to `on_epoch`. With a validation set and `options.patience`, it
/// stops when the validation loss has not improved for that many epochs and
/// keeps the best epoch's weights.
///
/// # Errors
/// [`MlError::Fit`] when the loss is NaN or infinite in the first epoch (the
/// message says to lower the learning rate). A non-finite loss later stops
/// training with the last good epoch's weights, said in the history.
pub(crate) fn train(
    net: &mut Network,
    inputs: &Tensor,
    targets: &Targets,
    validation: Option<(&Tensor, &Targets)>,
    options: &TrainingOptions,
    on_epoch: &mut dyn FnMut(&EpochMetrics),
) -> Result<History> {
    let n = inputs.dim(0).map_err(fit_error)?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(options.seed.wrapping_add(1));
    let params = candle_nn::ParamsAdamW {
        lr: options.learning_rate,
        weight_decay: options.weight_decay,
        ..candle_nn::ParamsAdamW::default()
    };
    let mut optimiser = candle_nn::AdamW::new(net.trainable(), params).map_err(fit_error)?;
    let mut history = History { epochs: Vec::new(), best_epoch: None, stopped: None };
    let mut best: Option<(f64, HashMap<String, Tensor>)> = None;
    let mut last_good = net.tensors();
    let mut order: Vec<u32> = (0..n as u32).collect();
    'epochs: for epoch in 1..=options.epochs {
        let started = Instant::now();
        order.shuffle(&mut rng);
        let (mut total, mut seen) = (0.0, 0usize);
        for chunk in order.chunks(options.batch_size) {
            let mut step = || -> candle_core::Result<f64> {
                let idx = Tensor::from_slice(chunk, chunk.len(), inputs.device())?;
                let x = inputs.index_select(&idx, 0)?;
                let output = net.forward(&x, true, &mut rng)?;
                let loss = targets.select(&idx)?.loss(&output)?;
                let value = f64::from(loss.to_scalar::<f32>()?);
                if value.is_finite() {
                    optimiser.step(&loss.backward()?)?;
                }
                Ok(value)
            };
            let value = step().map_err(fit_error)?;
            if !value.is_finite() {
                let why = format!(
                    "the training loss became {value} in epoch {epoch} (learning rate {}); lower the learning rate",
                    options.learning_rate
                );
                if history.epochs.is_empty() {
                    return Err(MlError::Fit(why));
                }
                *net = Network::from_tensors(net.layers.clone(), &last_good)?;
                history.stopped = Some(format!("{why}. The weights are those after epoch {}.", epoch - 1));
                break 'epochs;
            }
            total += value * chunk.len() as f64;
            seen += chunk.len();
        }
        let (validation_loss, validation_accuracy) = match validation {
            Some((x, y)) => {
                let (loss, accuracy) = evaluate(net, x, y).map_err(fit_error)?;
                (Some(loss), accuracy)
            }
            None => (None, None),
        };
        let metrics = EpochMetrics {
            epoch,
            loss: total / seen.max(1) as f64,
            validation_loss,
            validation_accuracy,
            seconds: started.elapsed().as_secs_f64(),
        };
        on_epoch(&metrics);
        history.epochs.push(metrics);
        last_good = net.tensors();
        if let (Some(loss), Some(patience)) = (validation_loss, options.patience) {
            if best.as_ref().is_none_or(|(b, _)| loss < *b) {
                best = Some((loss, last_good.clone()));
                history.best_epoch = Some(epoch);
            } else if epoch - history.best_epoch.unwrap_or(0) >= patience {
                history.stopped = Some(format!(
                    "stopped early after epoch {epoch}: the validation loss has not improved for {patience} epochs"
                ));
                break;
            }
        }
    }
    if let Some((_, weights)) = best {
        *net = Network::from_tensors(net.layers.clone(), &weights)?;
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_survive_a_round_trip_through_tensors() {
        let layers = vec![
            Layer::Conv { in_channels: 1, out_channels: 2, kernel: 3, padding: 1 },
            Layer::BatchNorm { features: 2 },
            Layer::Relu,
            Layer::Flatten,
            Layer::Dense { inputs: 2 * 4 * 4, outputs: 3, bias: true },
        ];
        let net = Network::new(layers.clone(), 7).unwrap();
        let copy = Network::from_tensors(layers, &net.tensors()).unwrap();
        let x =
            Tensor::from_vec((0..32).map(|v| v as f32 / 32.0).collect::<Vec<_>>(), (2, 1, 4, 4), &Device::Cpu).unwrap();
        assert_eq!(
            net.predict(&x).unwrap().to_vec2::<f32>().unwrap(),
            copy.predict(&x).unwrap().to_vec2::<f32>().unwrap()
        );
        assert_eq!(net.parameter_count(), 2 * 9 + 2 + 2 + 2 + 32 * 3 + 3);
    }

    #[test]
    fn a_missing_or_misshapen_tensor_is_named() {
        let layers = vec![Layer::Dense { inputs: 4, outputs: 2, bias: true }];
        let mut tensors = Network::new(layers.clone(), 1).unwrap().tensors();
        tensors.insert("0.bias".into(), Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap());
        let e = Network::from_tensors(layers.clone(), &tensors).unwrap_err().to_string();
        assert!(e.contains("`0.bias` has shape [3]; its layer needs [2]"), "{e}");
        tensors.remove("0.weight");
        let e = Network::from_tensors(layers, &tensors).unwrap_err().to_string();
        assert!(e.contains("lack the tensor `0.weight`"), "{e}");
    }
}
