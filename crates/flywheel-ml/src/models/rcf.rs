//! `RandomCutForest`: SageMaker's Random Cut Forest anomaly detector, on
//! krcf — a Rust port of AWS's reference implementation
//! (random-cut-forest-by-aws; Guha, Mishra, Roy & Schrijvers, *Robust Random
//! Cut Forest Based Anomaly Detection on Streams*, ICML 2016).
//!
//! Unsupervised: the forest keeps a reservoir sample of the points it has
//! seen; a point's score is how much it would change the trees' shape
//! (collusive displacement, normalised so that typical points score around
//! 1 and clear outliers well above). It learns in streams: fit on history,
//! then score and update point by point.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{check_predict_input, fit_error};
use crate::error::{MlError, Result};
use crate::{Dataset, Matrix, Vector};

/// Entry point: `RandomCutForest::params()`.
///
/// ```
/// use flywheel_ml::prelude::*;
///
/// let rows: Vec<Vec<f64>> = (0..300).map(|i| vec![(i as f64 * 0.1).sin(), 0.5]).collect();
/// let model = RandomCutForest::params().trees(30).fit(&Dataset::unsupervised(Matrix::from_rows(&rows)?))?;
/// let scores = model.score(&Matrix::from_rows(&[vec![0.0, 0.5], vec![4.0, 9.0]])?)?;
/// assert!(scores.get(1).unwrap() > scores.get(0).unwrap());
/// # Ok::<(), MlError>(())
/// ```
pub struct RandomCutForest;

impl RandomCutForest {
    /// SageMaker's defaults: 100 trees of 256 sampled points each; seed 42.
    pub fn params() -> RandomCutForestParams {
        RandomCutForestParams { trees: 100, sample_size: 256, seed: 42 }
    }
}

/// Hyper-parameters of [`RandomCutForestModel`].
#[derive(Debug, Clone, PartialEq)]
pub struct RandomCutForestParams {
    pub(crate) trees: usize,
    pub(crate) sample_size: usize,
    pub(crate) seed: u64,
}

impl RandomCutForestParams {
    /// Number of trees (SageMaker's `num_trees`, 50–1000 there), ≥ 1.
    pub fn trees(mut self, n: usize) -> Self {
        self.trees = n;
        self
    }
    /// Points kept per tree (SageMaker's `num_samples_per_tree`), ≥ 4.
    pub fn sample_size(mut self, n: usize) -> Self {
        self.sample_size = n;
        self
    }
    /// Random seed: the same seed and data give the same scores.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Builds a forest from the rows of `data`, in order (any target is ignored).
    ///
    /// # Errors
    /// `trees = 0` or `sample_size < 4`; empty data; NaN/inf.
    pub fn fit(&self, data: &Dataset) -> Result<RandomCutForestModel> {
        data.check_fit_ready()?;
        if self.trees == 0 || self.sample_size < 4 {
            return Err(MlError::InvalidParams("trees must be ≥ 1 and sample_size ≥ 4".into()));
        }
        let options = krcf::RandomCutForestOptions {
            dimensions: data.ncols(),
            shingle_size: 1,
            num_trees: Some(self.trees),
            sample_size: Some(self.sample_size),
            // Score as soon as a quarter of a tree's sample has been seen (AWS's default),
            // or after the whole training set when it is smaller.
            output_after: Some((self.sample_size / 4).min(data.nrows()).max(1)),
            random_seed: Some(self.seed),
            parallel_execution_enabled: Some(false),
            ..krcf::RandomCutForestOptions::default()
        };
        let forest = krcf::RandomCutForest::new(options).map_err(|e| fit_error(format!("{e:?}")))?;
        let mut model = RandomCutForestModel { forest, feature_names: data.features().columns().to_vec() };
        model.update(data.features())?;
        Ok(model)
    }
}

/// A fitted (and still learning) random cut forest.
#[derive(Clone, Serialize, Deserialize)]
pub struct RandomCutForestModel {
    forest: krcf::RandomCutForest,
    feature_names: Vec<String>,
}

impl fmt::Debug for RandomCutForestModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RandomCutForestModel({} features, {} points seen)",
            self.feature_names.len(),
            self.forest.entries_seen()
        )
    }
}

fn point(row: ndarray::ArrayView1<'_, f64>) -> Vec<f32> {
    #[allow(clippy::cast_possible_truncation)] // the forest stores f32, as AWS's does
    row.iter().map(|&v| v as f32).collect()
}

impl RandomCutForestModel {
    fn check(&self, x: &Matrix) -> Result<()> {
        check_predict_input(x, self.feature_names.len())
    }

    /// The anomaly score of each row (n values; higher is more anomalous),
    /// without learning from the rows.
    ///
    /// # Errors
    /// [`MlError::Shape`] for another number of features; NaN/inf.
    pub fn score(&self, x: &Matrix) -> Result<Vector> {
        self.check(x)?;
        let scores = x
            .array()
            .outer_iter()
            .map(|row| self.forest.score(&point(row)).map_err(|e| fit_error(format!("{e:?}"))))
            .collect::<Result<Vec<f64>>>()?;
        Ok(Vector::from_vec(scores))
    }

    /// Learns from the rows, in order (streaming update).
    ///
    /// # Errors
    /// As [`Self::score`].
    pub fn update(&mut self, x: &Matrix) -> Result<()> {
        self.check(x)?;
        for row in x.array().outer_iter() {
            self.forest.update(&point(row)).map_err(|e| fit_error(format!("{e:?}")))?;
        }
        Ok(())
    }

    /// For a stream: scores each row against what came before it, then learns it.
    ///
    /// # Errors
    /// As [`Self::score`].
    pub fn score_and_update(&mut self, x: &Matrix) -> Result<Vector> {
        self.check(x)?;
        let mut scores = Vec::with_capacity(x.nrows());
        for row in x.array().outer_iter() {
            let p = point(row);
            scores.push(self.forest.score(&p).map_err(|e| fit_error(format!("{e:?}")))?);
            self.forest.update(&p).map_err(|e| fit_error(format!("{e:?}")))?;
        }
        Ok(Vector::from_vec(scores))
    }

    /// How many points the forest has learnt from.
    pub fn points_seen(&self) -> u64 {
        self.forest.entries_seen()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outlier_scores_far_above_typical_points() {
        let rows: Vec<Vec<f64>> = (0..500).map(f64::from).map(|t| vec![(t * 0.1).sin(), (t * 0.1).cos()]).collect();
        let d = Dataset::unsupervised(Matrix::from_rows(&rows).unwrap());
        let m = RandomCutForest::params().trees(50).fit(&d).unwrap();
        assert_eq!(m.points_seen(), 500);
        let s = m.score(&Matrix::from_rows(&[vec![0.0, 1.0], vec![5.0, -5.0]]).unwrap()).unwrap().to_vec();
        assert!(s[1] > 2.0 * s[0], "outlier {} vs typical {}", s[1], s[0]);
        let again = RandomCutForest::params().trees(50).fit(&d).unwrap();
        assert_eq!(again.score(&Matrix::from_rows(&[vec![5.0, -5.0]]).unwrap()).unwrap().to_vec()[0], s[1], "seeded");

        let mut stream = m.clone();
        let out = stream.score_and_update(&Matrix::from_rows(&[vec![5.0, -5.0], vec![5.0, -5.0]]).unwrap()).unwrap();
        assert!(out.get(1).unwrap() < out.get(0).unwrap(), "a repeated point is less surprising once learnt");
        assert!(m.score(&Matrix::from_rows(&[vec![1.0]]).unwrap()).is_err());
        assert!(RandomCutForest::params().sample_size(2).fit(&d).is_err());
    }
}
