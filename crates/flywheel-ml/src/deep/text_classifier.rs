//! [`TextClassifier`]: fastText-style document classification.

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::net::{Layer, Network, Targets, fit_error, train};
use super::{History, TrainingOptions, check_labels, class_tensor, labels_of, proba_matrix, saveable_deep};
use crate::error::{MlError, Result};
use crate::text::{Corpus, CountVectorizer, CountVectorizerModel};
use crate::{Labels, Matrix};

/// A fastText-style classifier (Joulin et al. 2017, "Bag of Tricks for
/// Efficient Text Classification"): each document is the mean of its
/// tokens' learned embeddings (an embedding bag), followed by a linear layer
/// to the classes. The bag is computed as the document's length-normalised
/// term counts times the embedding matrix — the same sum as looking each
/// token up — over a vocabulary from [`CountVectorizer`] (`min_df`,
/// `max_features`, English stop words removed).
pub struct TextClassifier;

impl TextClassifier {
    /// The default params: 32-dimensional embeddings, terms in ≥ 2
    /// documents, at most 20,000 terms, 20 epochs, learning rate 0.01.
    pub fn params() -> TextClassifierParams {
        let training = TrainingOptions { epochs: 20, learning_rate: 0.01, ..TrainingOptions::default() };
        TextClassifierParams { dimensions: 32, min_df: 2, max_features: 20_000, training }
    }
}

/// [`TextClassifier`]'s hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextClassifierParams {
    dimensions: usize,
    min_df: usize,
    max_features: usize,
    training: TrainingOptions,
}

super::training_options!(TextClassifierParams);

impl TextClassifierParams {
    /// Embedding dimensions (default 32).
    pub fn dimensions(mut self, n: usize) -> Self {
        self.dimensions = n;
        self
    }

    /// Keep terms found in at least `n` documents (default 2).
    pub fn min_df(mut self, n: usize) -> Self {
        self.min_df = n;
        self
    }

    /// Keep at most the `n` most frequent terms (default 20,000).
    pub fn max_features(mut self, n: usize) -> Self {
        self.max_features = n;
        self
    }

    /// Fits the classifier to `docs` and their `labels`.
    ///
    /// # Errors
    /// [`MlError::Empty`] for no documents, [`MlError::Shape`] for a label
    /// count unlike the document count, [`MlError::InvalidData`] for one
    /// class or no terms left, [`MlError::InvalidParams`] for bad
    /// hyper-parameters.
    pub fn fit(&self, docs: &Corpus, labels: &Labels) -> Result<TextClassifierModel> {
        self.training.validate()?;
        if docs.is_empty() {
            return Err(MlError::Empty("no documents to fit".into()));
        }
        check_labels(labels, docs.len(), "documents")?;
        if self.dimensions == 0 {
            return Err(MlError::InvalidParams("dimensions must be at least 1".into()));
        }
        let vectorizer =
            CountVectorizer::params().min_df(self.min_df).max_features(self.max_features).stop_words(true).fit(docs)?;
        let layers = vec![
            Layer::Dense { inputs: vectorizer.n_terms(), outputs: self.dimensions, bias: false },
            Layer::Dense { inputs: self.dimensions, outputs: labels.n_classes(), bias: true },
        ];
        let mut net = Network::new(layers, self.training.seed)?;
        let history = train(
            &mut net,
            &bags(&vectorizer, docs)?,
            &Targets::Classes(class_tensor(labels)?),
            None,
            &self.training,
            &mut self.training.reporter("TextClassifier"),
        )?;
        Ok(TextClassifierModel {
            config: TextConfig {
                vectorizer,
                classes: labels.classes().to_vec(),
                layers: net.layers().to_vec(),
                history,
            },
            net,
        })
    }
}

/// Length-normalised term counts: N × terms (a document without known terms is all zeros).
fn bags(vectorizer: &CountVectorizerModel, docs: &Corpus) -> Result<Tensor> {
    let counts = vectorizer.transform(docs)?;
    let (n, d) = counts.shape();
    let mut values = Vec::with_capacity(n * d);
    for row in counts.array().rows() {
        let total: f64 = row.sum();
        values.extend(row.iter().map(|c| if total > 0.0 { (c / total) as f32 } else { 0.0 }));
    }
    Tensor::from_vec(values, (n, d), &Device::Cpu).map_err(fit_error)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TextConfig {
    vectorizer: CountVectorizerModel,
    classes: Vec<String>,
    layers: Vec<Layer>,
    history: History,
}

/// A fitted [`TextClassifier`].
#[derive(Debug)]
pub struct TextClassifierModel {
    config: TextConfig,
    net: Network,
}

impl TextClassifierModel {
    /// The class names.
    pub fn classes(&self) -> &[String] {
        &self.config.classes
    }

    /// The vocabulary's size.
    pub fn n_terms(&self) -> usize {
        self.config.vectorizer.n_terms()
    }

    /// The most probable class of each document.
    ///
    /// # Errors
    /// [`MlError::Fit`] only if the network fails.
    pub fn predict(&self, docs: &Corpus) -> Result<Labels> {
        labels_of(&self.net.predict_proba(&bags(&self.config.vectorizer, docs)?)?, &self.config.classes)
    }

    /// Every class's probability: documents × classes.
    ///
    /// # Errors
    /// As [`Self::predict`].
    pub fn predict_proba_all(&self, docs: &Corpus) -> Result<Matrix> {
        proba_matrix(&self.net.predict_proba(&bags(&self.config.vectorizer, docs)?)?, &self.config.classes)
    }

    /// The training curve.
    pub fn evcxr_display(&self) {
        self.config.history.evcxr_display();
    }
}

saveable_deep!(TextClassifierModel: TextConfig);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_topics_apart_by_their_words() {
        let sport = [
            "the team won the match",
            "a goal in the final match",
            "the striker scored a goal",
            "fans cheered the team",
        ];
        let money = [
            "the bank raised interest rates",
            "stock prices fell at the bank",
            "interest on savings rose",
            "markets and stock prices",
        ];
        let mut docs = Vec::new();
        let mut ids = Vec::new();
        for k in 0..5 {
            for (i, (s, m)) in sport.iter().zip(&money).enumerate() {
                docs.push(format!("{s} {}", sport[(i + k) % 4]));
                ids.push(1);
                docs.push(format!("{m} {}", money[(i + k) % 4]));
                ids.push(0);
            }
        }
        let labels = Labels::from_ids(ids, vec!["money".into(), "sport".into()]).unwrap();
        let corpus = Corpus::new(docs);
        let model = TextClassifier::params().epochs(30).batch_size(8).verbose(false).fit(&corpus, &labels).unwrap();
        let test = Corpus::from_strs(&["the match and the goal", "interest rates at the bank"]);
        let p = model.predict(&test).unwrap();
        assert_eq!((p.get(0), p.get(1)), (Some("sport"), Some("money")));
    }
}
