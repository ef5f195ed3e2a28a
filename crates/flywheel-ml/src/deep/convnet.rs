//! [`ConvNet`]: an image classifier of convolution blocks and a dense head.

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::net::{Layer, Network, Targets, fit_error, train};
use super::{
    History, TrainingOptions, check_labels, class_tensor, labels_of, positive_proba, proba_matrix, saveable_deep,
};
use crate::display::{emit, escape};
use crate::error::{MlError, Result};
use crate::{Images, Labels, Matrix, Vector};

/// A convolutional image classifier: `blocks` of (3 × 3 convolution, batch
/// norm, ReLU, 2 × 2 max pooling), then dropout, an optional dense ReLU
/// layer and a dense layer to the classes — the LeNet/VGG pattern
/// (LeCun et al. 1998; Simonyan & Zisserman 2015) at notebook size.
///
/// ```no_run
/// use flywheel_ml::prelude::*;
/// let chips = datasets::ship_chips(400, 1)?;
/// let model = ConvNet::params().blocks(&[16, 32]).epochs(3).fit(&chips.images, &chips.labels)?;
/// let predicted = model.predict(&chips.images)?;
/// # Ok::<(), MlError>(())
/// ```
pub struct ConvNet;

impl ConvNet {
    /// The default params: blocks of 32 and 64 channels, a dense layer of
    /// 128, dropout 0.25, and [`TrainingOptions`]' defaults.
    pub fn params() -> ConvNetParams {
        ConvNetParams {
            blocks: vec![32, 64],
            kernel: 3,
            batch_norm: true,
            dense: 128,
            dropout: 0.25,
            training: TrainingOptions::default(),
        }
    }
}

/// [`ConvNet`]'s hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConvNetParams {
    blocks: Vec<usize>,
    kernel: usize,
    batch_norm: bool,
    dense: usize,
    dropout: f64,
    training: TrainingOptions,
}

super::training_options!(ConvNetParams);

impl ConvNetParams {
    /// Output channels of each convolution block, in order (default `[32, 64]`);
    /// each block halves the image's height and width.
    pub fn blocks(mut self, channels: &[usize]) -> Self {
        self.blocks = channels.to_vec();
        self
    }

    /// The convolutions' kernel size, odd (default 3; padded to keep the size).
    pub fn kernel_size(mut self, k: usize) -> Self {
        self.kernel = k;
        self
    }

    /// Batch normalisation after each convolution (default on).
    pub fn batch_norm(mut self, on: bool) -> Self {
        self.batch_norm = on;
        self
    }

    /// Units of the dense ReLU layer before the output (0: none; default 128).
    pub fn dense(mut self, units: usize) -> Self {
        self.dense = units;
        self
    }

    /// Dropout rate before the dense layers, in [0, 1) (default 0.25).
    pub fn dropout(mut self, rate: f64) -> Self {
        self.dropout = rate;
        self
    }

    /// Fits the network to `images` (N × C × H × W) and their `labels`.
    ///
    /// # Errors
    /// [`MlError::Empty`] for no images; [`MlError::Shape`] for a label
    /// count unlike the image count, or images too small for the blocks;
    /// [`MlError::InvalidData`] for one class; [`MlError::InvalidParams`]
    /// for bad hyper-parameters; [`MlError::Fit`] when the loss is NaN from
    /// the start (lower the learning rate).
    pub fn fit(&self, images: &Images, labels: &Labels) -> Result<ConvNetModel> {
        self.fit_inner(images, labels, None)
    }

    /// [`Self::fit`], measuring loss and accuracy on `(validation, validation_labels)`
    /// after each epoch (and stopping early with [`Self::early_stopping`]).
    ///
    /// # Errors
    /// As [`Self::fit`]; [`MlError::Shape`] when the validation images have
    /// another shape, [`MlError::InvalidData`] when their classes differ.
    pub fn fit_with_validation(
        &self,
        images: &Images,
        labels: &Labels,
        validation: &Images,
        validation_labels: &Labels,
    ) -> Result<ConvNetModel> {
        self.fit_inner(images, labels, Some((validation, validation_labels)))
    }

    fn fit_inner(
        &self,
        images: &Images,
        labels: &Labels,
        validation: Option<(&Images, &Labels)>,
    ) -> Result<ConvNetModel> {
        self.training.validate()?;
        if images.is_empty() {
            return Err(MlError::Empty("no images to fit".into()));
        }
        check_labels(labels, images.len(), "images")?;
        if self.kernel.is_multiple_of(2) {
            return Err(MlError::InvalidParams(format!("kernel_size must be odd, not {}", self.kernel)));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(MlError::InvalidParams(format!("dropout must be in [0, 1), not {}", self.dropout)));
        }
        let [_, c, h, w] = images.shape();
        let shrink = 1usize << self.blocks.len();
        if h / shrink == 0 || w / shrink == 0 {
            return Err(MlError::Shape(format!(
                "{h} × {w} images are too small for {} blocks (each halves the size); use fewer blocks",
                self.blocks.len()
            )));
        }
        let normalisation = ChannelNormalisation::fit(images);
        let mut layers = Vec::new();
        let mut channels = c;
        for &out in &self.blocks {
            if out == 0 {
                return Err(MlError::InvalidParams("a block needs at least one channel".into()));
            }
            layers.push(Layer::Conv {
                in_channels: channels,
                out_channels: out,
                kernel: self.kernel,
                padding: self.kernel / 2,
            });
            if self.batch_norm {
                layers.push(Layer::BatchNorm { features: out });
            }
            layers.extend([Layer::Relu, Layer::MaxPool { size: 2 }]);
            channels = out;
        }
        let mut width = channels * (h / shrink) * (w / shrink);
        layers.extend([Layer::Flatten, Layer::Dropout { rate: self.dropout }]);
        if self.dense > 0 {
            layers.extend([Layer::Dense { inputs: width, outputs: self.dense, bias: true }, Layer::Relu]);
            width = self.dense;
        }
        layers.push(Layer::Dense { inputs: width, outputs: labels.n_classes(), bias: true });
        let mut net = Network::new(layers, self.training.seed)?;

        let x = normalisation.tensor(images)?;
        let y = Targets::Classes(class_tensor(labels)?);
        let validation = match validation {
            Some((vi, vl)) => {
                if vi.shape()[1..] != images.shape()[1..] {
                    return Err(MlError::Shape(format!(
                        "validation images are {}; training images are {}",
                        shape_text(vi),
                        shape_text(images)
                    )));
                }
                check_labels(vl, vi.len(), "validation images")?;
                let vl = vl.aligned_to(labels)?;
                Some((normalisation.tensor(vi)?, Targets::Classes(class_tensor(&vl)?)))
            }
            None => None,
        };
        let history = train(
            &mut net,
            &x,
            &y,
            validation.as_ref().map(|(a, b)| (a, b)),
            &self.training,
            &mut self.training.reporter("ConvNet"),
        )?;
        Ok(ConvNetModel {
            config: ConvNetConfig {
                input: [c, h, w],
                classes: labels.classes().to_vec(),
                normalisation,
                layers: net.layers().to_vec(),
                params: self.clone(),
                history,
            },
            net,
        })
    }
}

fn shape_text(images: &Images) -> String {
    let [_, c, h, w] = images.shape();
    format!("{c} × {h} × {w}")
}

/// Per-channel mean and standard deviation of the training images, applied
/// to every input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ChannelNormalisation {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl ChannelNormalisation {
    fn fit(images: &Images) -> ChannelNormalisation {
        let [n, c, h, w] = images.shape();
        let plane = h * w;
        let (mut mean, mut std) = (vec![0f32; c], vec![1f32; c]);
        for ch in 0..c {
            let (mut s, mut s2) = (0f64, 0f64);
            for i in 0..n {
                let img = images.image(i).unwrap_or_default();
                for &v in &img[ch * plane..(ch + 1) * plane] {
                    s += f64::from(v);
                    s2 += f64::from(v) * f64::from(v);
                }
            }
            let count = (n * plane).max(1) as f64;
            let m = s / count;
            let sd = (s2 / count - m * m).max(0.0).sqrt();
            mean[ch] = m as f32;
            std[ch] = if sd > 1e-6 { sd as f32 } else { 1.0 };
        }
        ChannelNormalisation { mean, std }
    }

    fn tensor(&self, images: &Images) -> Result<Tensor> {
        let [n, c, h, w] = images.shape();
        let plane = h * w;
        let mut values = images.as_slice().to_vec();
        for (k, v) in values.iter_mut().enumerate() {
            let ch = (k / plane) % c;
            *v = (*v - self.mean[ch]) / self.std[ch];
        }
        Tensor::from_vec(values, (n, c, h, w), &Device::Cpu).map_err(fit_error)
    }
}

/// What a saved [`ConvNetModel`] keeps besides its tensors.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ConvNetConfig {
    input: [usize; 3],
    classes: Vec<String>,
    normalisation: ChannelNormalisation,
    layers: Vec<Layer>,
    params: ConvNetParams,
    history: History,
}

/// A fitted [`ConvNet`].
#[derive(Debug)]
pub struct ConvNetModel {
    config: ConvNetConfig,
    net: Network,
}

impl ConvNetModel {
    /// The class names, in the order of [`Self::predict_proba_all`]'s columns.
    pub fn classes(&self) -> &[String] {
        &self.config.classes
    }

    /// The image shape it takes: channels, height, width.
    pub fn input_shape(&self) -> [usize; 3] {
        self.config.input
    }

    /// The hyper-parameters it was fitted with.
    pub fn params(&self) -> &ConvNetParams {
        &self.config.params
    }

    /// The number of trained weights.
    pub fn parameter_count(&self) -> usize {
        self.net.parameter_count()
    }

    fn probabilities(&self, images: &Images) -> Result<Vec<Vec<f32>>> {
        let [_, c, h, w] = images.shape();
        if [c, h, w] != self.config.input {
            let [ec, eh, ew] = self.config.input;
            return Err(MlError::Shape(format!(
                "the model was trained on {ec} × {eh} × {ew} images (channels × height × width); these are {c} × {h} × {w}"
            )));
        }
        if images.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(k) = images.as_slice().iter().position(|v| !v.is_finite()) {
            return Err(MlError::NonFinite { row: k / (c * h * w), column: format!("pixel {}", k % (c * h * w)) });
        }
        self.net.predict_proba(&self.config.normalisation.tensor(images)?)
    }

    /// The most probable class of each image.
    ///
    /// # Errors
    /// [`MlError::Shape`] naming both shapes when the images are not the
    /// model's channel count and size; [`MlError::NonFinite`] for NaN pixels.
    pub fn predict(&self, images: &Images) -> Result<Labels> {
        labels_of(&self.probabilities(images)?, &self.config.classes)
    }

    /// Every class's probability: N × classes, columns named by class.
    ///
    /// # Errors
    /// As [`Self::predict`].
    pub fn predict_proba_all(&self, images: &Images) -> Result<Matrix> {
        proba_matrix(&self.probabilities(images)?, &self.config.classes)
    }

    /// The positive (second) class's probability, for a binary classifier.
    ///
    /// # Errors
    /// As [`Self::predict`]; [`MlError::InvalidData`] for more than two classes.
    pub fn predict_proba(&self, images: &Images) -> Result<Vector> {
        positive_proba(&self.probabilities(images)?, &self.config.classes)
    }

    /// A summary: layers, weights, input, classes and the training curves.
    pub fn evcxr_display(&self) {
        let [c, h, w] = self.config.input;
        let layers: Vec<String> = self.config.layers.iter().map(|l| format!("{l:?}")).collect();
        let mut html = format!(
            "<div><strong>ConvNet</strong> on {c} × {h} × {w} images, {} classes ({}), {} weights<br><small>{}</small></div>",
            self.config.classes.len(),
            escape(&self.config.classes.join(", ")),
            self.parameter_count(),
            escape(&layers.join(" → ")),
        );
        if let Ok(p) = self.config.history.loss_plot() {
            html.push_str(p.to_svg());
        }
        emit("text/html", &html);
    }
}

saveable_deep!(ConvNetModel: ConvNetConfig);

#[cfg(test)]
mod tests {
    use super::*;

    /// Bright-left vs bright-right 1 × 8 × 8 images.
    fn halves(n: usize) -> (Images, Labels) {
        let mut pixels = Vec::new();
        let mut ids = Vec::new();
        for i in 0..n {
            let class = i % 2;
            for y in 0..8 {
                for x in 0..8 {
                    let bright = (x < 4) == (class == 0);
                    pixels.push(if bright { 0.8 } else { 0.2 } + ((i * 7 + y * 3 + x) % 5) as f32 * 0.02);
                }
            }
            ids.push(class);
        }
        (
            Images::from_pixels([n, 1, 8, 8], pixels).unwrap(),
            Labels::from_ids(ids, vec!["left".into(), "right".into()]).unwrap(),
        )
    }

    #[test]
    fn learns_a_simple_image_rule_the_same_way_for_the_same_seed() {
        let (images, labels) = halves(64);
        let params =
            ConvNet::params().blocks(&[4]).dense(8).epochs(8).batch_size(16).learning_rate(0.01).verbose(false);
        let model = params.fit_with_validation(&images, &labels, &images, &labels).unwrap();
        let predicted = model.predict(&images).unwrap();
        assert_eq!(predicted.ids(), labels.ids());
        assert_eq!(model.history().epochs.len(), 8);
        let again = params.fit(&images, &labels).unwrap();
        assert_eq!(
            model.predict_proba(&images).unwrap().as_slice(),
            again.predict_proba(&images).unwrap().as_slice(),
            "same seed, same model"
        );
    }

    #[test]
    fn saves_and_loads_and_refuses_wrong_shapes_and_damaged_files() {
        let (images, labels) = halves(32);
        let model = ConvNet::params().blocks(&[2]).dense(0).epochs(1).verbose(false).fit(&images, &labels).unwrap();
        let dir = std::env::temp_dir().join(format!("flywheel-convnet-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.safetensors");
        model.save(&path).unwrap();
        let loaded = ConvNetModel::load(&path).unwrap();
        assert_eq!(loaded.predict_proba(&images).unwrap().as_slice(), model.predict_proba(&images).unwrap().as_slice());
        assert_eq!(loaded.history(), model.history());

        let rgb = Images::from_pixels([1, 3, 8, 8], vec![0.5; 192]).unwrap();
        let e = model.predict(&rgb).unwrap_err().to_string();
        assert!(e.contains("1 × 8 × 8 images") && e.contains("these are 3 × 8 × 8"), "{e}");

        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(bytes.len() / 2);
        let e = ConvNetModel::from_bytes(&bytes).unwrap_err().to_string();
        assert!(e.contains("not a readable safetensors file"), "{e}");
        let e = ConvNetModel::from_bytes(b"{}").unwrap_err().to_string();
        assert!(e.contains("safetensors"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_input_is_named() {
        let (images, labels) = halves(8);
        let e = ConvNet::params().fit(&images, &labels.select(&[0, 1]).unwrap()).unwrap_err().to_string();
        assert!(e.contains("2 labels for 8 images"), "{e}");
        let e = ConvNet::params().blocks(&[4, 4, 4, 4]).fit(&images, &labels).unwrap_err().to_string();
        assert!(e.contains("too small for 4 blocks"), "{e}");
        let one = Labels::from_ids(vec![0; 8], vec!["a".into()]).unwrap();
        assert!(ConvNet::params().fit(&images, &one).unwrap_err().to_string().contains("at least two classes"));
        let e = ConvNet::params()
            .learning_rate(1e30)
            .batch_size(2)
            .epochs(1)
            .verbose(false)
            .fit(&images, &labels)
            .unwrap_err()
            .to_string();
        assert!(e.contains("lower the learning rate"), "{e}");
    }
}
