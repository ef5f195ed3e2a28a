//! Scoring submitted models on a lab's hidden test set, as a Kaggle
//! competition does: the Flywheel server (not the participant's kernel)
//! loads a model a team saved with `to_json`/`save`, predicts on rows the
//! participants never saw, and ranks teams by the lab's metric on a
//! *public* part (shown during the workshop) and a *private* part (shown
//! once it closes, so that tuning to the public number does not pay).
//!
//! A hidden test set is a fresh draw of the lab's data generator with a
//! seed only the server knows (one per workshop): the same distribution as
//! the lab's data, none of its rows. What a lab is scored on is data, not
//! code: the lab declares a [`HiddenTestSpec`] (a generator of
//! [`GENERATORS`], a size, the target, the feature columns and a
//! [`Metric`]) in its notebook's marker, e.g. the fraud lab's
//! `{"generator": "credit_card_fraud", "rows": 100000, "target": "Class",
//! "metric": "average_precision"}`: [`datasets::credit_card_fraud_with`]`(100_000, seed)`,
//! the 30 columns of `fraud.classification("Class")`, PR AUC of the fraud
//! score.

use crate::Table;
use crate::data::{Dataset, Labels, Matrix, Vector};
use crate::error::{MlError, Result};
use crate::models::{GradientBoostedTreesModel, KnnClassifier, LinearClassifier, NaiveBayesModel, RandomForestModel};
use crate::{datasets, metrics, stratified_split};

/// A seeded data generator: `(rows, seed)` → the same table every time.
pub type Generator = fn(usize, u64) -> Result<Table>;

/// The data generators a hidden test set can be drawn from, by the name a
/// lab gives: `credit_card_fraud` ([`datasets::credit_card_fraud_with`])
/// and `ai4i_2020` ([`datasets::ai4i_2020_with`]).
pub const GENERATORS: &[(&str, Generator)] =
    &[("credit_card_fraud", datasets::credit_card_fraud_with), ("ai4i_2020", datasets::ai4i_2020_with)];

/// Most rows a hidden test set may have.
pub const MAX_HIDDEN_ROWS: usize = 1_000_000;

/// What ranks submitted models: a metric of the positive class's
/// probability (higher is better).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// `average_precision`: PR AUC ([`metrics::average_precision`]), for rare positives.
    AveragePrecision,
    /// `roc_auc`: ROC AUC ([`metrics::roc_auc`]).
    RocAuc,
}

impl Metric {
    /// The metric a lab names (`average_precision`, `roc_auc`).
    ///
    /// # Errors
    /// [`MlError::InvalidParams`] for another name, listing the known ones.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "average_precision" => Ok(Self::AveragePrecision),
            "roc_auc" => Ok(Self::RocAuc),
            other => Err(MlError::InvalidParams(format!(
                "no scoring metric `{other}`: use `average_precision` or `roc_auc`"
            ))),
        }
    }

    /// The metric, as people say it.
    pub fn title(self) -> &'static str {
        match self {
            Self::AveragePrecision => "PR AUC (average precision)",
            Self::RocAuc => "ROC AUC",
        }
    }

    fn score(self, truth: &Labels, scores: &Vector) -> Result<f64> {
        match self {
            Self::AveragePrecision => metrics::average_precision(truth, scores),
            Self::RocAuc => metrics::roc_auc(truth, scores),
        }
    }
}

/// How a lab's hidden test set is drawn and scored, as the lab declares it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct HiddenTestSpec {
    /// A name of [`GENERATORS`].
    pub generator: String,
    /// Rows drawn (2 to [`MAX_HIDDEN_ROWS`]); split in stratified halves.
    pub rows: usize,
    /// The class column.
    pub target: String,
    /// The feature columns a model takes, in order; empty: every numeric
    /// column but the target.
    #[serde(default)]
    pub columns: Vec<String>,
    /// A [`Metric`] by name.
    pub metric: String,
}

impl HiddenTestSpec {
    /// The generator and metric, checked.
    ///
    /// # Errors
    /// [`MlError::InvalidParams`] for an unknown generator or metric, or a
    /// size outside 2–[`MAX_HIDDEN_ROWS`].
    pub fn check(&self) -> Result<(Generator, Metric)> {
        let generator = GENERATORS.iter().find(|(name, _)| *name == self.generator).map(|(_, g)| *g);
        let generator = generator.ok_or_else(|| {
            let known: Vec<&str> = GENERATORS.iter().map(|(name, _)| *name).collect();
            MlError::InvalidParams(format!("no data generator `{}`: use one of {}", self.generator, known.join(", ")))
        })?;
        if !(2..=MAX_HIDDEN_ROWS).contains(&self.rows) {
            return Err(MlError::InvalidParams(format!(
                "a hidden test set has 2 to {MAX_HIDDEN_ROWS} rows, not {}",
                self.rows
            )));
        }
        Ok((generator, Metric::parse(&self.metric)?))
    }
}

/// A classifier a team submitted: any saved model of the library that
/// gives a probability for the positive class.
#[derive(Debug, Clone)]
pub enum SubmittedModel {
    /// A [`LinearClassifier`].
    Linear(LinearClassifier),
    /// A [`GradientBoostedTreesModel`].
    BoostedTrees(GradientBoostedTreesModel),
    /// A [`RandomForestModel`].
    RandomForest(RandomForestModel),
    /// A [`NaiveBayesModel`].
    NaiveBayes(NaiveBayesModel),
    /// A [`KnnClassifier`].
    Knn(KnnClassifier),
}

impl SubmittedModel {
    /// Reads a saved model (the JSON of `to_json` or `save`) of any type
    /// that can be scored.
    ///
    /// # Errors
    /// [`MlError::Read`] for text that is not a saved model, a model type
    /// that gives no probabilities (the message names it and lists the
    /// types that do), or a damaged model.
    pub fn from_json(text: &str) -> Result<Self> {
        #[derive(serde::Deserialize)]
        struct Head {
            flywheel_model: Option<String>,
        }
        let head: Head = serde_json::from_str(text)
            .map_err(|e| MlError::Read(format!("a submitted model is a saved model's JSON; this is not JSON: {e}")))?;
        let kind = head.flywheel_model.ok_or_else(|| {
            MlError::Read("this JSON is not a saved Flywheel model (no `flywheel_model` field)".into())
        })?;
        Ok(match kind.as_str() {
            "LinearClassifier" => Self::Linear(LinearClassifier::from_json(text)?),
            "GradientBoostedTreesModel" => Self::BoostedTrees(GradientBoostedTreesModel::from_json(text)?),
            "RandomForestModel" => Self::RandomForest(RandomForestModel::from_json(text)?),
            "NaiveBayesModel" => Self::NaiveBayes(NaiveBayesModel::from_json(text)?),
            "KnnClassifier" => Self::Knn(KnnClassifier::from_json(text)?),
            other => {
                return Err(MlError::Read(format!(
                    "a {other} cannot be scored: submit a classifier that gives probabilities \
                     (LinearClassifier, GradientBoostedTreesModel, RandomForestModel, NaiveBayesModel, KnnClassifier)"
                )));
            }
        })
    }

    /// The saved type's name, e.g. `GradientBoostedTreesModel`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Linear(_) => "LinearClassifier",
            Self::BoostedTrees(_) => "GradientBoostedTreesModel",
            Self::RandomForest(_) => "RandomForestModel",
            Self::NaiveBayes(_) => "NaiveBayesModel",
            Self::Knn(_) => "KnnClassifier",
        }
    }

    /// The feature columns the model was trained on, in order, when it
    /// records them (boosted trees and random forests do; the others know
    /// only how many).
    pub fn feature_names(&self) -> Option<&[String]> {
        match self {
            Self::BoostedTrees(m) => Some(m.feature_names()),
            Self::RandomForest(m) => Some(m.feature_names()),
            Self::Linear(_) | Self::NaiveBayes(_) | Self::Knn(_) => None,
        }
    }

    /// The predicted class of each row.
    ///
    /// # Errors
    /// As the model's `predict` ([`MlError::Shape`] for another number of features).
    pub fn predict(&self, x: &Matrix) -> Result<Labels> {
        match self {
            Self::Linear(m) => m.predict(x),
            Self::BoostedTrees(m) => m.predict(x),
            Self::RandomForest(m) => m.predict(x),
            Self::NaiveBayes(m) => m.predict(x),
            Self::Knn(m) => m.predict(x),
        }
    }

    /// The probability of the positive class (the second, sorted) of each row.
    ///
    /// # Errors
    /// As the model's `predict_proba` (binary models only).
    pub fn predict_proba(&self, x: &Matrix) -> Result<Vector> {
        match self {
            Self::Linear(m) => m.predict_proba(x),
            Self::BoostedTrees(m) => m.predict_proba(x),
            Self::RandomForest(m) => m.predict_proba(x),
            Self::NaiveBayes(m) => m.predict_proba(x),
            Self::Knn(m) => m.predict_proba(x),
        }
    }
}

/// A model's scores on a hidden test set (higher is better).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HiddenScore {
    /// On the public part.
    pub public: f64,
    /// On the private part.
    pub private: f64,
}

/// A lab's hidden test set, split into a public and a private half
/// (stratified, so each holds half the positives, give or take a row).
#[derive(Debug, Clone)]
pub struct HiddenTest {
    lab: String,
    metric: Metric,
    public: Dataset,
    private: Dataset,
}

impl HiddenTest {
    /// The hidden test set of `lab` as `spec` declares it, drawn with
    /// `seed`. Deterministic: the same seed, the same rows.
    ///
    /// # Errors
    /// As [`HiddenTestSpec::check`]; a target or column the generator's
    /// table does not have.
    pub fn draw(lab: &str, spec: &HiddenTestSpec, seed: u64) -> Result<Self> {
        let (generator, metric) = spec.check()?;
        let table = generator(spec.rows, seed)?;
        let data = if spec.columns.is_empty() {
            table.classification(&spec.target)?
        } else {
            Dataset::classification(table.matrix(&spec.columns)?, table.labels(&spec.target)?)?
        };
        let (public, private) = stratified_split(&data, 0.5, seed)?;
        Ok(Self { lab: lab.to_owned(), metric, public, private })
    }

    /// The lab it belongs to.
    pub fn lab(&self) -> &str {
        &self.lab
    }

    /// The metric, as people say it.
    pub fn metric(&self) -> &'static str {
        self.metric.title()
    }

    /// The feature columns a model must take, in order.
    pub fn columns(&self) -> &[String] {
        self.public.features().columns()
    }

    /// Rows in the public and in the private part.
    pub fn sizes(&self) -> (usize, usize) {
        (self.public.nrows(), self.private.nrows())
    }

    /// Scores `model` on both parts.
    ///
    /// # Errors
    /// [`MlError::Shape`] when the model takes another number of features
    /// than [`Self::columns`]; [`MlError::InvalidData`] when it predicts
    /// other classes than the lab's (a model for another problem).
    pub fn score(&self, model: &SubmittedModel) -> Result<HiddenScore> {
        let width = self.columns().len();
        let one = |part: &Dataset| -> Result<f64> {
            let truth = part.labels()?;
            let predicted = model.predict(part.features()).map_err(|e| match e {
                MlError::Shape(m) => MlError::Shape(format!(
                    "the {} lab's test rows have {width} features ({}); this model takes another number: {m}",
                    self.lab,
                    self.columns().join(", ")
                )),
                other => other,
            })?;
            if predicted.classes() != truth.classes() {
                return Err(MlError::InvalidData(format!(
                    "this model predicts the classes {:?}; the {} lab's are {:?}",
                    predicted.classes(),
                    self.lab,
                    truth.classes()
                )));
            }
            self.metric.score(truth, &model.predict_proba(part.features())?)
        };
        Ok(HiddenScore { public: one(&self.public)?, private: one(&self.private)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{DecisionTree, GradientBoostedTrees, LinearLearner};

    /// The fraud lab's declaration (`labs/fraud/notebook.md`).
    fn fraud() -> HiddenTestSpec {
        HiddenTestSpec {
            generator: "credit_card_fraud".into(),
            rows: 100_000,
            target: "Class".into(),
            columns: Vec::new(),
            metric: "average_precision".into(),
        }
    }

    #[test]
    fn a_fraud_model_is_scored_on_rows_it_never_saw() {
        let hidden = HiddenTest::draw("fraud", &fraud(), 11).unwrap();
        let (public, private) = hidden.sizes();
        assert!(public + private == 100_000 && public.abs_diff(private) <= 2, "{public} + {private}");
        assert_eq!(hidden.columns().len(), 30);
        let again = HiddenTest::draw("fraud", &fraud(), 11).unwrap();
        assert_eq!(again.public.features().array(), hidden.public.features().array());

        let train = datasets::credit_card_fraud_with(20_000, 1).unwrap().classification("Class").unwrap();
        let gbt = GradientBoostedTrees::params().iterations(30).max_depth(3).seed(1).fit(&train).unwrap();
        let submitted = SubmittedModel::from_json(&gbt.to_json().unwrap()).unwrap();
        assert_eq!(submitted.kind(), "GradientBoostedTreesModel");
        let score = hidden.score(&submitted).unwrap();
        // The same numbers computed here by hand from the model itself.
        let by_hand = |d: &Dataset| {
            metrics::average_precision(d.labels().unwrap(), &gbt.predict_proba(d.features()).unwrap()).unwrap()
        };
        assert_eq!((score.public, score.private), (by_hand(&hidden.public), by_hand(&hidden.private)));
        assert!(score.public > 0.3 && score.private > 0.3, "{score:?}");

        let linear = LinearLearner::classifier().fit(&train).unwrap();
        let linear_score = hidden.score(&SubmittedModel::from_json(&linear.to_json().unwrap()).unwrap()).unwrap();
        assert!(linear_score.public > 0.1, "{linear_score:?}");
    }

    #[test]
    fn a_declaration_names_a_known_generator_metric_size_and_columns() {
        let bad = |f: fn(&mut HiddenTestSpec)| {
            let mut spec = fraud();
            f(&mut spec);
            HiddenTest::draw("fraud", &spec, 1).unwrap_err().to_string()
        };
        assert!(bad(|s| s.generator = "mnist".into()).contains("credit_card_fraud, ai4i_2020"));
        assert!(bad(|s| s.metric = "accuracy".into()).contains("`average_precision` or `roc_auc`"));
        assert!(bad(|s| s.rows = 1).contains("2 to 1000000 rows"));
        assert!(bad(|s| s.target = "Fraud".into()).contains("Fraud"));
        assert!(bad(|s| s.columns = vec!["V1".into(), "V99".into()]).contains("V99"));

        // Machines: named columns leave out the failure modes and the ids; ROC AUC.
        let columns = ["Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", "Torque [Nm]"];
        let spec = HiddenTestSpec {
            generator: "ai4i_2020".into(),
            rows: 4_000,
            target: "Machine failure".into(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            metric: "roc_auc".into(),
        };
        let hidden = HiddenTest::draw("maintenance", &spec, 5).unwrap();
        assert_eq!((hidden.columns().len(), hidden.metric(), hidden.lab()), (4, "ROC AUC", "maintenance"));
        let train = datasets::ai4i_2020_with(4_000, 6).unwrap();
        let train =
            Dataset::classification(train.matrix(&columns).unwrap(), train.labels("Machine failure").unwrap()).unwrap();
        let gbt = GradientBoostedTrees::params().iterations(20).max_depth(3).seed(1).fit(&train).unwrap();
        let score = hidden.score(&SubmittedModel::from_json(&gbt.to_json().unwrap()).unwrap()).unwrap();
        let by_hand =
            |d: &Dataset| metrics::roc_auc(d.labels().unwrap(), &gbt.predict_proba(d.features()).unwrap()).unwrap();
        assert_eq!((score.public, score.private), (by_hand(&hidden.public), by_hand(&hidden.private)));
        assert!(score.public > 0.7, "{score:?}");
    }

    #[test]
    fn models_that_cannot_be_scored_are_refused_with_the_reason() {
        let hidden = HiddenTest::draw("fraud", &fraud(), 3).unwrap();
        let train = datasets::credit_card_fraud_with(5_000, 1).unwrap().classification("Class").unwrap();
        let narrow = Dataset::classification(
            train.features().select_columns(&["V1".to_owned(), "V2".to_owned()]).unwrap(),
            train.labels().unwrap().clone(),
        )
        .unwrap();
        let gbt = GradientBoostedTrees::params().iterations(3).fit(&narrow).unwrap();
        let err = hidden.score(&SubmittedModel::from_json(&gbt.to_json().unwrap()).unwrap()).unwrap_err();
        assert!(matches!(&err, MlError::Shape(m) if m.contains("have 30 features")), "{err}");

        let iris = GradientBoostedTrees::params().iterations(3).fit(&datasets::iris()).unwrap();
        let err = hidden.score(&SubmittedModel::from_json(&iris.to_json().unwrap()).unwrap()).unwrap_err();
        assert!(matches!(&err, MlError::Shape(_) | MlError::InvalidData(_)), "{err}");

        let tree = DecisionTree::params().fit(&train).unwrap();
        let err = SubmittedModel::from_json(&tree.to_json().unwrap()).unwrap_err();
        assert!(err.to_string().contains("a DecisionTreeModel cannot be scored"), "{err}");
        for bad in [
            "",
            "{\"x\": 1}",
            "[1, 2]",
            "{\"flywheel_model\": \"GradientBoostedTreesModel\", \"format\": 1, \"model\": 7}",
        ] {
            assert!(matches!(SubmittedModel::from_json(bad), Err(MlError::Read(_))), "{bad}");
        }
    }
}
