//! Metrics: how good a model is, in numbers a participant can compare with
//! the literature and with what their colleagues get in Python.
//!
//! Every function here follows the definition of a scikit-learn function
//! (named in its documentation) and is checked against scikit-learn's output
//! in `tests/metrics_sklearn.rs`, so "ROC AUC 0.87" means the same here as in
//! a scikit-learn notebook — except [`average_precision_at_iou`], which
//! scikit-learn lacks: it follows the PASCAL VOC development kit. Beyond the textbook metrics, [`threshold_sweep`]
//! and [`total_cost`] turn a model's scores into money with a [`CostMatrix`],
//! because the best threshold for a business is rarely 0.5.
//!
//! Conventions:
//! - Functions take the crate's types ([`Labels`], [`Vector`], [`Matrix`]) and
//!   return [`Result`]; bad input is an [`MlError`], never a panic:
//!   different lengths → [`MlError::Shape`], no rows → [`MlError::Empty`],
//!   NaN or infinite values → [`MlError::NonFinite`], labels that cannot be
//!   used (one class where two are needed, …) → [`MlError::InvalidData`].
//! - For binary problems the positive class is the second class of the
//!   labels (`classes()[1]`: `1` of `0/1`, `true` of `false/true`), and scores
//!   are the score (or probability) of that class, higher meaning "more
//!   likely positive".
//! - When truth and predictions have different class lists (the predictions
//!   never use one class, or use one the truth lacks), both are compared over
//!   the union of the two lists, sorted as [`Labels`] sorts its classes.
//!
//! ```
//! use flywheel_ml::metrics::{CostMatrix, confusion_matrix, roc_auc, threshold_sweep};
//! use flywheel_ml::{Labels, Vector};
//!
//! let truth = Labels::from_ints(&[0, 0, 1, 1]);
//! let scores = Vector::from_vec(vec![0.1, 0.4, 0.35, 0.8]);
//! assert_eq!(roc_auc(&truth, &scores)?, 0.75);
//!
//! let pred = Labels::from_ints(&[0, 1, 0, 1]);
//! assert_eq!(confusion_matrix(&truth, &pred)?.true_positives()?, 1);
//!
//! // A missed positive costs 100, checking a flagged case costs 5.
//! let costs = CostMatrix { false_negative: 100.0, false_positive: 5.0, true_positive: 5.0, ..Default::default() };
//! let sweep = threshold_sweep(&truth, &scores, &costs)?;
//! assert_eq!(sweep.best.threshold, 0.35); // flag 3 cases: cost 15
//! # Ok::<(), flywheel_ml::MlError>(())
//! ```

use std::fmt;

use crate::display::{emit, html_table};
use crate::error::{MlError, Result};
use crate::{Labels, Matrix, Vector};

// ---------------------------------------------------------------------------
// Input checks shared by the metrics.
// ---------------------------------------------------------------------------

/// Checks two inputs have the same, non-zero length.
fn check_lengths(n_truth: usize, n_other: usize, other: &str) -> Result<()> {
    if n_truth != n_other {
        return Err(MlError::Shape(format!("{n_truth} truth values but {n_other} {other}")));
    }
    if n_truth == 0 {
        return Err(MlError::Empty(format!("no rows: the truth and the {other} are empty")));
    }
    Ok(())
}

/// Checks every value is finite; `what` names the column in the error.
fn check_finite(values: &[f64], what: &str) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(row) => Err(MlError::NonFinite { row, column: what.to_owned() }),
        None => Ok(()),
    }
}

/// Checks binary truth and scores: same non-zero length, finite scores, and
/// exactly two classes in the truth's class list.
fn check_scored(truth: &Labels, scores: &Vector, metric: &str) -> Result<()> {
    check_lengths(truth.len(), scores.len(), "scores")?;
    check_finite(scores.as_slice(), "scores")?;
    if truth.n_classes() == 1 {
        return Err(MlError::InvalidData(format!(
            "{metric} needs a negative and a positive class, but the truth's only class is `{}`; build the labels \
             with both classes, e.g. Labels::from_ids(ids, vec![\"0\".into(), \"1\".into()])",
            truth.classes()[0]
        )));
    }
    if truth.n_classes() != 2 {
        return Err(MlError::InvalidData(format!(
            "{metric} needs binary truth labels (a negative and a positive class), but the truth has {} class(es): {}",
            truth.n_classes(),
            truth.classes().join(", ")
        )));
    }
    Ok(())
}

/// Checks the truth has rows of both classes, naming the missing one.
fn check_both_classes(truth: &Labels, metric: &str) -> Result<()> {
    let positives = truth.ids().iter().filter(|&&c| c == 1).count();
    let missing = match positives {
        0 => ("positive", &truth.classes()[1]),
        p if p == truth.len() => ("negative", &truth.classes()[0]),
        _ => return Ok(()),
    };
    Err(MlError::InvalidData(format!(
        "{metric} needs rows of both classes, but the truth has no row of the {} class `{}`",
        missing.0, missing.1
    )))
}

/// Sorts class names as [`Labels::from_strings`] does (numbers numerically, else alphabetically).
fn sort_classes(names: &mut [String]) {
    names.sort_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        _ => a.cmp(b),
    });
}

/// Truth and predictions over one class list: the truth's when it holds every
/// predicted class, else the union of both lists.
fn common_classes(truth: &Labels, pred: &Labels) -> Result<(Labels, Labels)> {
    check_lengths(truth.len(), pred.len(), "predictions")?;
    if truth.classes() == pred.classes() {
        return Ok((truth.clone(), pred.clone()));
    }
    if let Ok(aligned) = pred.aligned_to(truth) {
        return Ok((truth.clone(), aligned));
    }
    let mut names = truth.classes().to_vec();
    names.extend(pred.classes().iter().filter(|c| !truth.classes().contains(c)).cloned());
    sort_classes(&mut names);
    let union = Labels::from_ids(Vec::new(), names)?;
    Ok((truth.aligned_to(&union)?, pred.aligned_to(&union)?))
}

/// `num / den`, or 0 when `den` is 0 (scikit-learn's default `zero_division`).
fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 { 0.0 } else { num as f64 / den as f64 }
}

// ---------------------------------------------------------------------------
// Classification from predicted classes.
// ---------------------------------------------------------------------------

/// Counts of (true class, predicted class) pairs.
///
/// Rows are the true classes, columns the predicted classes, both in the
/// order of [`classes`](Self::classes). Made by [`confusion_matrix`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    counts: Vec<Vec<usize>>,
    classes: Vec<String>,
}

impl ConfusionMatrix {
    /// The matrix as a heat-map plot, counts written in the cells.
    ///
    /// # Errors
    /// Never for a matrix made by [`confusion_matrix`].
    pub fn plot(&self) -> Result<crate::plot::Plot> {
        crate::plot::confusion_matrix_plot(self.counts(), self.classes())
    }

    /// The counts, k × k for k classes: `counts()[t][p]` rows of true class
    /// `t` predicted as class `p`.
    pub fn counts(&self) -> &[Vec<usize>] {
        &self.counts
    }

    /// The class names, in row (and column) order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// How many rows of class `truth_class` were predicted as
    /// `predicted_class` (by class name); `None` for an unknown class.
    pub fn get(&self, truth_class: &str, predicted_class: &str) -> Option<usize> {
        let t = self.classes.iter().position(|c| c == truth_class)?;
        let p = self.classes.iter().position(|c| c == predicted_class)?;
        Some(self.counts[t][p])
    }

    /// Number of rows counted.
    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    /// The count at (truth, predicted) class indices of a binary problem.
    fn binary(&self, t: usize, p: usize) -> Result<usize> {
        if self.classes.len() != 2 {
            return Err(MlError::InvalidData(format!(
                "true/false positives and negatives need two classes, this confusion matrix has {}: {}",
                self.classes.len(),
                self.classes.join(", ")
            )));
        }
        Ok(self.counts[t][p])
    }

    /// Binary problems: positive rows predicted positive.
    ///
    /// # Errors
    /// [`MlError::InvalidData`] unless there are exactly two classes.
    pub fn true_positives(&self) -> Result<usize> {
        self.binary(1, 1)
    }

    /// Binary problems: negative rows predicted positive.
    ///
    /// # Errors
    /// [`MlError::InvalidData`] unless there are exactly two classes.
    pub fn false_positives(&self) -> Result<usize> {
        self.binary(0, 1)
    }

    /// Binary problems: positive rows predicted negative.
    ///
    /// # Errors
    /// [`MlError::InvalidData`] unless there are exactly two classes.
    pub fn false_negatives(&self) -> Result<usize> {
        self.binary(1, 0)
    }

    /// Binary problems: negative rows predicted negative.
    ///
    /// # Errors
    /// [`MlError::InvalidData`] unless there are exactly two classes.
    pub fn true_negatives(&self) -> Result<usize> {
        self.binary(0, 0)
    }

    /// Shows the matrix as an HTML table in a notebook.
    pub fn evcxr_display(&self) {
        emit("text/html", &self.to_html());
    }

    /// The matrix as an HTML table (rows: truth, columns: predicted).
    pub fn to_html(&self) -> String {
        let mut header = vec![CORNER.to_owned()];
        header.extend(self.classes.iter().cloned());
        let rows: Vec<Vec<String>> = self
            .classes
            .iter()
            .zip(&self.counts)
            .map(|(class, row)| std::iter::once(class.clone()).chain(row.iter().map(ToString::to_string)).collect())
            .collect();
        let caption = format!("Confusion matrix ({} rows; rows: truth, columns: predicted)", self.total());
        html_table(&caption, &header, &rows)
    }
}

/// Top-left cell of a confusion matrix table.
const CORNER: &str = "truth \\ predicted";

impl fmt::Display for ConfusionMatrix {
    /// An aligned text table: class names down the left (truth) and across
    /// the top (predicted).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = self.classes.iter().map(|c| c.chars().count()).chain([CORNER.len()]).max().unwrap_or(0);
        let widths: Vec<usize> = (0..self.classes.len())
            .map(|p| {
                let widest = self.counts.iter().map(|row| row[p].to_string().len()).max().unwrap_or(0);
                widest.max(self.classes[p].chars().count())
            })
            .collect();
        write!(f, "{CORNER:<first$}")?;
        for (class, w) in self.classes.iter().zip(&widths) {
            write!(f, "  {class:>w$}")?;
        }
        writeln!(f)?;
        for (class, row) in self.classes.iter().zip(&self.counts) {
            write!(f, "{class:<first$}")?;
            for (n, w) in row.iter().zip(&widths) {
                write!(f, "  {n:>w$}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// The confusion matrix of predicted classes against true classes.
///
/// `truth` and `pred` have one class per row (n rows each). The result is
/// k × k over the truth's class list, or over the union of both class lists
/// when the predictions use a class the truth's list lacks; rows are true
/// classes, columns predicted classes. Classes with no rows on either side
/// still get a (zero) row and column.
///
/// Follows scikit-learn's `sklearn.metrics.confusion_matrix` (same layout:
/// `C[i][j]` = rows of true class i predicted as class j).
///
/// # Errors
/// [`MlError::Shape`] when the lengths differ, [`MlError::Empty`] when there
/// are no rows.
pub fn confusion_matrix(truth: &Labels, pred: &Labels) -> Result<ConfusionMatrix> {
    let (truth, pred) = common_classes(truth, pred)?;
    let k = truth.n_classes();
    let mut counts = vec![vec![0; k]; k];
    for (&t, &p) in truth.ids().iter().zip(pred.ids()) {
        counts[t][p] += 1;
    }
    Ok(ConfusionMatrix { counts, classes: truth.classes().to_vec() })
}

/// The fraction of rows whose predicted class is the true class, in [0, 1].
///
/// Follows scikit-learn's `sklearn.metrics.accuracy_score`.
///
/// # Errors
/// [`MlError::Shape`] when the lengths differ, [`MlError::Empty`] when there
/// are no rows.
pub fn accuracy(truth: &Labels, pred: &Labels) -> Result<f64> {
    let cm = confusion_matrix(truth, pred)?;
    let correct: usize = (0..cm.classes.len()).map(|c| cm.counts[c][c]).sum();
    Ok(correct as f64 / cm.total() as f64)
}

/// A per-class score from (true positives, false positives, false negatives).
type ClassScore = fn(usize, usize, usize) -> f64;

/// `score` of the positive class for two classes, else its macro average over
/// the classes that occur in the truth or the predictions.
fn binary_or_macro(truth: &Labels, pred: &Labels, metric: &str, score: ClassScore) -> Result<f64> {
    let cm = confusion_matrix(truth, pred)?;
    let k = cm.classes.len();
    let column = |c: usize| cm.counts.iter().map(|row| row[c]).sum::<usize>();
    let row = |c: usize| cm.counts[c].iter().sum::<usize>();
    match k {
        2 => Ok(score(cm.counts[1][1], cm.counts[0][1], cm.counts[1][0])),
        1 => Err(MlError::InvalidData(format!(
            "{metric} of a binary problem needs to know the negative and the positive class, but the truth and \
             the predictions only have the class `{}`; build the labels with both classes (Labels::from_ids)",
            cm.classes[0]
        ))),
        _ => {
            let scores: Vec<f64> = (0..k)
                .filter(|&c| row(c) + column(c) > 0)
                .map(|c| {
                    let tp = cm.counts[c][c];
                    score(tp, column(c) - tp, row(c) - tp)
                })
                .collect();
            Ok(scores.iter().sum::<f64>() / scores.len() as f64)
        }
    }
}

/// Precision, `tp / (tp + fp)`: of the rows predicted positive, the fraction
/// that are. In [0, 1].
///
/// Two classes: the precision of the positive class (the second one).
/// More than two: the *macro average*, the unweighted mean of each class's
/// precision (that class against the rest) over the classes that occur in
/// the truth or the predictions. 0 when nothing is predicted positive.
///
/// Follows scikit-learn's `sklearn.metrics.precision_score` with
/// `average="binary"` (two classes) or `average="macro"` (more), and its
/// default `zero_division` (0).
///
/// # Errors
/// [`MlError::Shape`] when the lengths differ, [`MlError::Empty`] when there
/// are no rows, [`MlError::InvalidData`] when only one class is known (the
/// positive class is then ambiguous).
pub fn precision(truth: &Labels, pred: &Labels) -> Result<f64> {
    binary_or_macro(truth, pred, "precision", |tp, fp, _| ratio(tp, tp + fp))
}

/// Recall (sensitivity, true positive rate), `tp / (tp + fn)`: of the
/// positive rows, the fraction predicted positive. In [0, 1].
///
/// Two classes: the recall of the positive class (the second one). More than
/// two: the macro average over the classes that occur in the truth or the
/// predictions, as for [`precision`]. 0 when there are no positive rows.
///
/// Follows scikit-learn's `sklearn.metrics.recall_score` (`average="binary"`
/// or `"macro"`, default `zero_division`).
///
/// # Errors
/// As [`precision`].
pub fn recall(truth: &Labels, pred: &Labels) -> Result<f64> {
    binary_or_macro(truth, pred, "recall", |tp, _, fn_| ratio(tp, tp + fn_))
}

/// F1 score, the harmonic mean of precision and recall,
/// `2·tp / (2·tp + fp + fn)`. In [0, 1].
///
/// Two classes: the F1 of the positive class (the second one). More than
/// two: the macro average of each class's F1 (not the F1 of the macro
/// precision and recall) over the classes that occur in the truth or the
/// predictions. 0 when there are neither positive rows nor positive
/// predictions.
///
/// Follows scikit-learn's `sklearn.metrics.f1_score` (`average="binary"` or
/// `"macro"`, default `zero_division`).
///
/// # Errors
/// As [`precision`].
pub fn f1(truth: &Labels, pred: &Labels) -> Result<f64> {
    binary_or_macro(truth, pred, "F1", |tp, fp, fn_| ratio(2 * tp, 2 * tp + fp + fn_))
}

// ---------------------------------------------------------------------------
// Classification from scores.
// ---------------------------------------------------------------------------

/// A curve traced by moving a decision threshold over the scores: one point
/// per threshold, from the highest threshold (flag nothing) down.
///
/// `x`, `y` and `thresholds` have the same length: one more than the number
/// of distinct scores. The first point has threshold `+∞` (nothing flagged);
/// point i flags the rows with `score >= thresholds[i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// ROC: false positive rate; precision–recall: recall. Non-decreasing.
    pub x: Vec<f64>,
    /// ROC: true positive rate; precision–recall: precision.
    pub y: Vec<f64>,
    /// The score thresholds, decreasing, starting at `+∞`.
    pub thresholds: Vec<f64>,
    /// ROC: the area under the curve ([`roc_auc`]); precision–recall: the
    /// average precision ([`average_precision`]).
    pub area: f64,
    /// Which curve this is.
    pub kind: CurveKind,
    /// Share of positive rows (the precision–recall chance baseline).
    pub positive_rate: f64,
}

/// Which threshold curve a [`Curve`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurveKind {
    /// Receiver operating characteristic: true against false positive rate.
    Roc,
    /// Precision against recall.
    PrecisionRecall,
}

impl Curve {
    /// The curve as a plot, with its chance line (the diagonal for ROC, the
    /// positive rate for precision–recall) and its area in the title.
    ///
    /// # Errors
    /// Only if the curve's values are not finite rates (never for curves
    /// made by [`roc_curve`] and [`pr_curve`]).
    pub fn plot(&self) -> Result<crate::plot::Plot> {
        match self.kind {
            CurveKind::Roc => crate::plot::roc_plot(&self.x, &self.y, self.area),
            CurveKind::PrecisionRecall => crate::plot::pr_plot(&self.x, &self.y, self.area, self.positive_rate),
        }
    }

    /// Shows the plot in a notebook.
    pub fn evcxr_display(&self) {
        match self.plot() {
            Ok(p) => p.evcxr_display(),
            Err(e) => println!("{e}"),
        }
    }
}

/// Cumulative counts at every distinct score, from the highest down.
struct Ranked {
    /// `+∞`, then the distinct scores, decreasing.
    thresholds: Vec<f64>,
    /// True positives when flagging `score >= threshold`.
    tps: Vec<usize>,
    /// False positives when flagging `score >= threshold`.
    fps: Vec<usize>,
    positives: usize,
    negatives: usize,
}

/// Sorts the rows by score once and counts, for each distinct score (tied
/// scores grouped), the positives and negatives at or above it. Inputs must
/// have passed [`check_scored`].
fn rank(truth: &Labels, scores: &Vector) -> Ranked {
    let s = scores.as_slice();
    let mut order: Vec<usize> = (0..s.len()).collect();
    order.sort_unstable_by(|&a, &b| s[b].total_cmp(&s[a]));
    let mut ranked = Ranked { thresholds: vec![f64::INFINITY], tps: vec![0], fps: vec![0], positives: 0, negatives: 0 };
    let (mut tp, mut fp) = (0, 0);
    for (k, &i) in order.iter().enumerate() {
        if truth.is_positive(i) {
            tp += 1;
        } else {
            fp += 1;
        }
        let last_of_tie = order.get(k + 1).is_none_or(|&next| s[next] != s[i]);
        if last_of_tie {
            ranked.thresholds.push(s[i]);
            ranked.tps.push(tp);
            ranked.fps.push(fp);
        }
    }
    ranked.positives = tp;
    ranked.negatives = fp;
    ranked
}

/// The ROC curve: false positive rate (x) against true positive rate (y) at
/// every distinct score, from threshold `+∞` (point (0, 0)) down to the lowest
/// score (point (1, 1)). `area` is the ROC AUC.
///
/// `truth`: binary labels (n rows, positive class second); `scores`: n
/// finite scores of the positive class, any scale. Tied scores form a
/// single point. O(n log n).
///
/// Matches scikit-learn's `sklearn.metrics.roc_curve` with
/// `drop_intermediate=False` (every threshold kept; scikit-learn's default
/// drops points collinear with their neighbours, which changes neither the
/// shape nor the area).
///
/// # Errors
/// [`MlError::Shape`] when the lengths differ, [`MlError::Empty`] when there
/// are no rows, [`MlError::NonFinite`] for a NaN or infinite score,
/// [`MlError::InvalidData`] unless the truth has two classes with rows of each.
pub fn roc_curve(truth: &Labels, scores: &Vector) -> Result<Curve> {
    check_scored(truth, scores, "a ROC curve")?;
    check_both_classes(truth, "a ROC curve")?;
    let r = rank(truth, scores);
    let x: Vec<f64> = r.fps.iter().map(|&fp| fp as f64 / r.negatives as f64).collect();
    let y: Vec<f64> = r.tps.iter().map(|&tp| tp as f64 / r.positives as f64).collect();
    let positive_rate = r.positives as f64 / (r.positives + r.negatives) as f64;
    let area = x.windows(2).zip(y.windows(2)).map(|(x, y)| (x[1] - x[0]) * (y[1] + y[0]) / 2.0).sum();
    Ok(Curve { x, y, thresholds: r.thresholds, area, kind: CurveKind::Roc, positive_rate })
}

/// The area under the ROC curve: the probability that a random positive row
/// scores higher than a random negative one (ties counting one half). In
/// [0, 1]; 0.5 is chance, 1 a perfect ranking, 0 a reversed one.
///
/// `truth`: binary labels (n rows, positive class second); `scores`: n
/// finite scores of the positive class, any scale. Computed with the
/// trapezoidal rule over the ROC curve with tied scores grouped into one
/// point, as scikit-learn's `sklearn.metrics.roc_auc_score`. O(n log n).
///
/// # Errors
/// As [`roc_curve`]; the [`MlError::InvalidData`] message names the class
/// that has no rows.
pub fn roc_auc(truth: &Labels, scores: &Vector) -> Result<f64> {
    Ok(roc_curve(truth, scores)?.area)
}

/// Recall at a fixed false-alarm rate: the highest share of positives
/// caught by any threshold that flags at most `max_false_alarm_rate` of the
/// negatives — "how many failures do we catch if we accept 1 % false
/// alarms?". In [0, 1]. The best point of [`roc_curve`] with false positive
/// rate ≤ the limit (the ROC curve's height at that rate, without
/// interpolation between thresholds).
///
/// `truth`: binary labels (n rows, positive class second); `scores`: n
/// finite scores of the positive class; `max_false_alarm_rate` in [0, 1].
///
/// Not a scikit-learn function; equals `max(tpr[fpr <= limit])` over
/// scikit-learn's `roc_curve(…, drop_intermediate=False)`.
///
/// # Errors
/// As [`roc_curve`]; [`MlError::InvalidParams`] for a rate outside [0, 1].
pub fn recall_at_false_alarm_rate(truth: &Labels, scores: &Vector, max_false_alarm_rate: f64) -> Result<f64> {
    if !(0.0..=1.0).contains(&max_false_alarm_rate) {
        return Err(MlError::InvalidParams(format!(
            "max_false_alarm_rate must be in [0, 1], got {max_false_alarm_rate}"
        )));
    }
    let roc = roc_curve(truth, scores)?;
    Ok(roc
        .x
        .iter()
        .zip(&roc.y)
        .filter(|(fpr, _)| **fpr <= max_false_alarm_rate)
        .map(|(_, tpr)| *tpr)
        .fold(0.0, f64::max))
}

/// The precision–recall curve: recall (x) against precision (y) at every
/// distinct score, from threshold `+∞` (recall 0, precision 1 by convention)
/// down to the lowest score (recall 1). `area` is the average precision.
///
/// `truth`: binary labels (n rows, positive class second); `scores`: n
/// finite scores of the positive class. Tied scores form a single point.
/// O(n log n).
///
/// Matches scikit-learn's `sklearn.metrics.precision_recall_curve` (which
/// keeps every threshold) in reverse order: scikit-learn lists thresholds
/// increasing and gives the final (recall 0, precision 1) point no threshold;
/// here it is the first point, with threshold `+∞`, so all three vectors have
/// the same length.
///
/// # Errors
/// As [`roc_curve`].
pub fn pr_curve(truth: &Labels, scores: &Vector) -> Result<Curve> {
    check_scored(truth, scores, "a precision-recall curve")?;
    check_both_classes(truth, "a precision-recall curve")?;
    let r = rank(truth, scores);
    let x: Vec<f64> = r.tps.iter().map(|&tp| tp as f64 / r.positives as f64).collect();
    let mut y: Vec<f64> = r.tps.iter().zip(&r.fps).map(|(&tp, &fp)| ratio(tp, tp + fp)).collect();
    y[0] = 1.0;
    let area = x.windows(2).zip(&y[1..]).map(|(x, p)| (x[1] - x[0]) * p).sum();
    let positive_rate = r.positives as f64 / (r.positives + r.negatives) as f64;
    Ok(Curve { x, y, thresholds: r.thresholds, area, kind: CurveKind::PrecisionRecall, positive_rate })
}

/// Average precision: the precision at each threshold weighted by the
/// increase in recall, `AP = Σₙ (Rₙ − Rₙ₋₁)·Pₙ` over the distinct scores from
/// the highest down (R₀ = 0). In [0, 1]; the fraction of positive rows is
/// chance level, 1 a perfect ranking.
///
/// No interpolation (unlike the trapezoidal area under the precision–recall
/// curve, which is optimistic). Follows scikit-learn's
/// `sklearn.metrics.average_precision_score`. O(n log n).
///
/// # Errors
/// As [`roc_curve`].
pub fn average_precision(truth: &Labels, scores: &Vector) -> Result<f64> {
    Ok(pr_curve(truth, scores)?.area)
}

/// Probabilities are kept this far from 0 and 1 by [`log_loss`]: the machine
/// epsilon of `f64`, as scikit-learn (since 1.5) does for float64 input.
const LOG_LOSS_EPS: f64 = f64::EPSILON;

/// Log loss (cross-entropy), the mean of `−ln p` where p is the probability
/// given to the true class: `−mean(y·ln(q) + (1 − y)·ln(1 − q))`, natural
/// log, in nats per row; 0 is perfect, ln 2 ≈ 0.693 is a coin flip.
///
/// `truth`: binary labels (n rows, positive class second; both classes need
/// not occur); `scores`: n probabilities of the positive class in [0, 1].
/// Each q is clipped to `[ε, 1 − ε]` with ε the `f64` machine epsilon
/// (2.2e-16), so a confident wrong answer costs about 36 rather than ∞.
///
/// Follows scikit-learn's `sklearn.metrics.log_loss`. scikit-learn clipped to
/// `[1e-15, 1 − 1e-15]` before version 1.5 (its old `eps` default); it now
/// clips to the dtype's machine epsilon, as here. The two differ only for
/// probabilities within 1e-15 of 0 or 1.
///
/// # Errors
/// [`MlError::Shape`], [`MlError::Empty`], [`MlError::NonFinite`] as
/// [`roc_curve`]; [`MlError::InvalidData`] unless the truth's class list has
/// two classes, or for a score outside [0, 1].
pub fn log_loss(truth: &Labels, scores: &Vector) -> Result<f64> {
    check_scored(truth, scores, "log loss")?;
    let s = scores.as_slice();
    if let Some(i) = s.iter().position(|q| !(0.0..=1.0).contains(q)) {
        return Err(MlError::InvalidData(format!(
            "log loss needs probabilities in [0, 1], but the score of row {i} is {}",
            s[i]
        )));
    }
    let total: f64 = s
        .iter()
        .enumerate()
        .map(|(i, &q)| {
            let q = q.clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS);
            if truth.is_positive(i) { -q.ln() } else { -(1.0 - q).ln() }
        })
        .sum();
    Ok(total / s.len() as f64)
}

// ---------------------------------------------------------------------------
// Business cost.
// ---------------------------------------------------------------------------

/// What each outcome of a binary decision costs, in your currency per case
/// (euros, dollars, hours of work, …). Negative values are gains.
///
/// Example: a fraud check where a missed fraud costs 500, reviewing a flagged
/// transaction costs 10 and a caught fraud still costs the review:
/// `CostMatrix { true_positive: 10.0, false_positive: 10.0, false_negative: 500.0, true_negative: 0.0 }`.
/// [`Default`] is all zeros, for `CostMatrix { false_negative: 500.0, ..Default::default() }`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CostMatrix {
    /// Cost of a positive case predicted positive (currency per case).
    pub true_positive: f64,
    /// Cost of a negative case predicted positive, a false alarm (currency per case).
    pub false_positive: f64,
    /// Cost of a positive case predicted negative, a miss (currency per case).
    pub false_negative: f64,
    /// Cost of a negative case predicted negative (currency per case).
    pub true_negative: f64,
}

impl CostMatrix {
    /// Checks every cost is finite.
    fn check(&self) -> Result<()> {
        let named = [
            ("true positive", self.true_positive),
            ("false positive", self.false_positive),
            ("false negative", self.false_negative),
            ("true negative", self.true_negative),
        ];
        match named.iter().find(|(_, c)| !c.is_finite()) {
            Some((name, c)) => Err(MlError::InvalidParams(format!("the cost of a {name} is {c}, not a finite number"))),
            None => Ok(()),
        }
    }

    /// The total cost of these outcome counts.
    fn total(&self, tp: usize, fp: usize, fn_: usize, tn: usize) -> f64 {
        tp as f64 * self.true_positive
            + fp as f64 * self.false_positive
            + fn_ as f64 * self.false_negative
            + tn as f64 * self.true_negative
    }
}

/// The outcome of flagging the rows whose score is at least `threshold`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdPoint {
    /// Rows with `score >= threshold` are predicted positive (`+∞`: none).
    pub threshold: f64,
    /// Total cost over all rows, in your currency (see [`CostMatrix`]).
    pub cost: f64,
    /// Precision of the flagged rows (0 when none are flagged, as [`precision`]).
    pub precision: f64,
    /// Recall, the fraction of positive rows flagged (0 when there are none, as [`recall`]).
    pub recall: f64,
}

/// The cost of every threshold, and the cheapest.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdSweep {
    /// One point per distinct score, then `+∞` (flag nothing): thresholds increasing.
    pub points: Vec<ThresholdPoint>,
    /// The point of least total cost; among equally cheap ones, the highest
    /// threshold (fewest rows flagged).
    pub best: ThresholdPoint,
}

/// Total cost, precision and recall of every decision threshold, and the
/// threshold of least total cost.
///
/// `truth`: binary labels (n rows, positive class second); `scores`: n
/// finite scores of the positive class, any scale; `costs` in your currency
/// per case. Rows with `score >= threshold` are predicted positive. The
/// candidates are every distinct score and `+∞` ("flag nothing"), so the
/// best point is the cheapest of all possible decisions by this score.
/// O(n log n).
///
/// Not a scikit-learn function; each point equals [`total_cost`],
/// [`precision`] and [`recall`] of the predictions `score >= threshold`
/// (scikit-learn's `confusion_matrix`, `precision_score`, `recall_score`),
/// which the tests check.
///
/// # Errors
/// [`MlError::Shape`], [`MlError::Empty`], [`MlError::NonFinite`] as
/// [`roc_curve`]; [`MlError::InvalidData`] unless the truth's class list has
/// two classes; [`MlError::InvalidParams`] for a non-finite cost.
pub fn threshold_sweep(truth: &Labels, scores: &Vector, costs: &CostMatrix) -> Result<ThresholdSweep> {
    check_scored(truth, scores, "a threshold sweep")?;
    costs.check()?;
    let r = rank(truth, scores);
    let mut points: Vec<ThresholdPoint> = (0..r.thresholds.len())
        .map(|k| {
            let (tp, fp) = (r.tps[k], r.fps[k]);
            ThresholdPoint {
                threshold: r.thresholds[k],
                cost: costs.total(tp, fp, r.positives - tp, r.negatives - fp),
                precision: ratio(tp, tp + fp),
                recall: ratio(tp, r.positives),
            }
        })
        .collect();
    // Points run from the highest threshold down: a strict `<` keeps the highest among ties.
    let best = points.iter().copied().reduce(|best, p| if p.cost < best.cost { p } else { best });
    let best = best.ok_or_else(|| MlError::Empty("no thresholds".into()))?;
    points.reverse();
    Ok(ThresholdSweep { points, best })
}

/// The total cost of predicted classes, in your currency:
/// `tp·c_tp + fp·c_fp + fn·c_fn + tn·c_tn` with the counts of
/// [`confusion_matrix`] and the costs per case of `costs`.
///
/// `truth`, `pred`: binary labels (n rows each; positive class second).
///
/// # Errors
/// [`MlError::Shape`] when the lengths differ, [`MlError::Empty`] when there
/// are no rows, [`MlError::InvalidData`] unless there are exactly two classes,
/// [`MlError::InvalidParams`] for a non-finite cost.
pub fn total_cost(truth: &Labels, pred: &Labels, costs: &CostMatrix) -> Result<f64> {
    costs.check()?;
    let cm = confusion_matrix(truth, pred)?;
    Ok(costs.total(cm.true_positives()?, cm.false_positives()?, cm.false_negatives()?, cm.true_negatives()?))
}

// ---------------------------------------------------------------------------
// Regression.
// ---------------------------------------------------------------------------

/// Checks regression inputs and pairs them up.
fn regression_pairs<'a>(truth: &'a Vector, pred: &'a Vector) -> Result<impl Iterator<Item = (f64, f64)> + 'a> {
    check_lengths(truth.len(), pred.len(), "predictions")?;
    check_finite(truth.as_slice(), "truth")?;
    check_finite(pred.as_slice(), "predictions")?;
    Ok(truth.as_slice().iter().copied().zip(pred.as_slice().iter().copied()))
}

/// Root mean squared error, `sqrt(mean((truth − pred)²))`, in the unit of
/// the target.
///
/// `truth`, `pred`: n finite values each. Follows scikit-learn's
/// `sklearn.metrics.root_mean_squared_error`.
///
/// # Errors
/// [`MlError::Shape`] when the lengths differ, [`MlError::Empty`] when there
/// are no values, [`MlError::NonFinite`] for a NaN or infinite value.
pub fn rmse(truth: &Vector, pred: &Vector) -> Result<f64> {
    let sum: f64 = regression_pairs(truth, pred)?.map(|(t, p)| (t - p) * (t - p)).sum();
    Ok((sum / truth.len() as f64).sqrt())
}

/// Mean absolute error, `mean(|truth − pred|)`, in the unit of the target.
///
/// `truth`, `pred`: n finite values each. Follows scikit-learn's
/// `sklearn.metrics.mean_absolute_error`.
///
/// # Errors
/// As [`rmse`].
pub fn mae(truth: &Vector, pred: &Vector) -> Result<f64> {
    let sum: f64 = regression_pairs(truth, pred)?.map(|(t, p)| (t - p).abs()).sum();
    Ok(sum / truth.len() as f64)
}

/// Mean absolute percentage error as a fraction (0.05 = 5 %):
/// `mean(|truth − pred| / max(|truth|, ε))` with ε the `f64` machine epsilon
/// (2.2e-16), so a zero truth gives a huge but finite error rather than ∞.
///
/// `truth`, `pred`: n finite values each. Follows scikit-learn's
/// `sklearn.metrics.mean_absolute_percentage_error` (a fraction too, not a
/// percentage, with the same ε).
///
/// # Errors
/// As [`rmse`].
pub fn mape(truth: &Vector, pred: &Vector) -> Result<f64> {
    let sum: f64 = regression_pairs(truth, pred)?.map(|(t, p)| (t - p).abs() / t.abs().max(f64::EPSILON)).sum();
    Ok(sum / truth.len() as f64)
}

/// Coefficient of determination,
/// `R² = 1 − Σ(truth − pred)² / Σ(truth − mean(truth))²`: 1 is perfect,
/// 0 is as good as predicting the mean, negative is worse. Unitless.
///
/// `truth`, `pred`: n ≥ 2 finite values each. When the truth is constant
/// (zero denominator), R² is 1 for perfect predictions and 0 otherwise, as
/// scikit-learn's `sklearn.metrics.r2_score` with its default
/// `force_finite=True`, which this follows.
///
/// # Errors
/// As [`rmse`], and [`MlError::InvalidData`] for a single value (scikit-learn
/// returns NaN: R² is not defined for fewer than two).
pub fn r2(truth: &Vector, pred: &Vector) -> Result<f64> {
    let pairs = regression_pairs(truth, pred)?;
    if truth.len() < 2 {
        return Err(MlError::InvalidData("R² needs at least two values".into()));
    }
    let mean = truth.mean();
    let (residual, total) =
        pairs.fold((0.0, 0.0), |(res, tot), (t, p)| (res + (t - p) * (t - p), tot + (t - mean) * (t - mean)));
    if total == 0.0 {
        return Ok(if residual == 0.0 { 1.0 } else { 0.0 });
    }
    Ok(1.0 - residual / total)
}

/// Pearson's correlation coefficient of two series, in [−1, 1]:
/// `cov(a, b) / (σ_a σ_b)` (as `scipy.stats.pearsonr`'s statistic). Used to
/// compare two models' scores on the same rows (an endpoint's shadow report).
///
/// # Errors
/// As [`rmse`] (lengths differ, non-finite values); [`MlError::InvalidData`]
/// for fewer than two values or a constant series (no correlation is defined).
pub fn pearson(a: &Vector, b: &Vector) -> Result<f64> {
    let pairs: Vec<(f64, f64)> = regression_pairs(a, b)?.collect();
    if pairs.len() < 2 {
        return Err(MlError::InvalidData("a correlation needs at least two values".into()));
    }
    let (ma, mb) = (a.mean(), b.mean());
    let (cov, va, vb) = pairs.iter().fold((0.0, 0.0, 0.0), |(c, x, y), (p, q)| {
        (c + (p - ma) * (q - mb), x + (p - ma) * (p - ma), y + (q - mb) * (q - mb))
    });
    if va == 0.0 || vb == 0.0 {
        return Err(MlError::InvalidData("a constant series has no correlation".into()));
    }
    Ok((cov / (va * vb).sqrt()).clamp(-1.0, 1.0))
}

// ---------------------------------------------------------------------------
// Clustering.
// ---------------------------------------------------------------------------

/// Mean silhouette coefficient of a clustering, in [−1, 1]: for each row,
/// `s = (b − a) / max(a, b)` with `a` its mean distance to the other rows of
/// its cluster and `b` its mean distance to the rows of the nearest other
/// cluster; `s = 0` for a row alone in its cluster. Near 1: tight, well
/// separated clusters; near 0: overlapping; negative: rows closer to another
/// cluster than their own.
///
/// `x`: n × d features (d ≥ 1, finite); `labels`: the cluster of each row
/// (n labels; only clusters with rows count). Euclidean distance, O(n²·d)
/// time, O(n·k) memory for k clusters.
///
/// Follows scikit-learn's `sklearn.metrics.silhouette_score` (default
/// `metric="euclidean"`, no sampling).
///
/// # Errors
/// [`MlError::Shape`] when `labels` has not one label per row,
/// [`MlError::Empty`] for no rows or no columns, [`MlError::NonFinite`] for a
/// NaN or infinite feature, [`MlError::InvalidData`] unless there are between
/// 2 and n − 1 clusters.
pub fn silhouette(x: &Matrix, labels: &Labels) -> Result<f64> {
    if labels.len() != x.nrows() {
        return Err(MlError::Shape(format!("{} rows of features but {} labels", x.nrows(), labels.len())));
    }
    let n = x.nrows();
    if n == 0 || x.ncols() == 0 {
        let d = x.ncols();
        return Err(MlError::Empty(format!("a silhouette needs rows and columns, the features are {n} × {d}")));
    }
    x.check_finite()?;

    // Number the clusters that have rows 0..k.
    let mut cluster_of_class = vec![usize::MAX; labels.n_classes()];
    let mut sizes = Vec::new();
    let cluster: Vec<usize> = labels
        .ids()
        .iter()
        .map(|&c| {
            if cluster_of_class[c] == usize::MAX {
                cluster_of_class[c] = sizes.len();
                sizes.push(0usize);
            }
            sizes[cluster_of_class[c]] += 1;
            cluster_of_class[c]
        })
        .collect();
    let k = sizes.len();
    if k < 2 || k > n - 1 {
        return Err(MlError::InvalidData(format!(
            "a silhouette needs between 2 and n − 1 = {} clusters, the labels have {k}",
            n.saturating_sub(1)
        )));
    }

    // sums[i * k + c]: total distance from row i to the rows of cluster c.
    let view = x.view();
    let mut sums = vec![0.0; n * k];
    for i in 0..n {
        for j in i + 1..n {
            let d = view.row(i).iter().zip(view.row(j)).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
            sums[i * k + cluster[j]] += d;
            sums[j * k + cluster[i]] += d;
        }
    }

    let total: f64 = (0..n)
        .map(|i| {
            let own = cluster[i];
            if sizes[own] == 1 {
                return 0.0;
            }
            let a = sums[i * k + own] / (sizes[own] - 1) as f64;
            let mean_to = |c: usize| sums[i * k + c] / sizes[c] as f64;
            let b = (0..k).filter(|&c| c != own).map(mean_to).fold(f64::INFINITY, f64::min);
            let m = a.max(b);
            if m == 0.0 { 0.0 } else { (b - a) / m }
        })
        .sum();
    Ok(total / n as f64)
}

/// Average precision of a detector at an IoU threshold, as the PASCAL VOC
/// challenge defines it (Everingham et al., *The PASCAL Visual Object
/// Classes Challenge*, IJCV 2010; the devkit's `VOCevaldet`, with the
/// all-points interpolation used from VOC 2010 on): `truth[i]` holds image
/// `i`'s true boxes and `detections[i]` the detector's boxes with scores.
/// All detections, over all images, are taken by falling score; each one
/// is a true positive when its best-overlapping true box in its image has
/// IoU ≥ `iou_threshold` (0.5 in VOC) and was not matched before, else a
/// false positive (a second box on one object is a false positive). AP is
/// the area under the precision–recall curve after each precision is
/// raised to the best precision at any higher recall. 0–1; no detections
/// give 0. (VOC's "difficult" objects do not exist here.)
///
/// ```
/// use flywheel_ml::detection::{BoundingBox, Detection};
/// use flywheel_ml::metrics::average_precision_at_iou;
///
/// let truth = vec![vec![BoundingBox::new(0.0, 0.0, 10.0, 10.0), BoundingBox::new(50.0, 50.0, 10.0, 10.0)]];
/// let found = |x: f64, score: f64| Detection { bbox: BoundingBox::new(x, x, 10.0, 10.0), score };
/// // Hit, miss, hit: precision 1, ½, ⅔ at recall ½, ½, 1 → AP = ½·1 + ½·⅔.
/// let ap = average_precision_at_iou(&truth, &[vec![found(1.0, 0.9), found(200.0, 0.8), found(51.0, 0.7)]], 0.5)?;
/// assert!((ap - 5.0 / 6.0).abs() < 1e-12);
/// # Ok::<(), flywheel_ml::MlError>(())
/// ```
///
/// # Errors
/// [`MlError::Shape`] when `truth` and `detections` cover different
/// numbers of images; [`MlError::InvalidParams`] for a threshold outside
/// (0, 1]; [`MlError::InvalidData`] when there is no true box at all (recall
/// is undefined); [`MlError::NonFinite`] for a NaN or infinite score.
pub fn average_precision_at_iou(
    truth: &[Vec<crate::detection::BoundingBox>],
    detections: &[Vec<crate::detection::Detection>],
    iou_threshold: f64,
) -> Result<f64> {
    if truth.len() != detections.len() {
        return Err(MlError::Shape(format!(
            "true boxes for {} images, detections for {}",
            truth.len(),
            detections.len()
        )));
    }
    if !(iou_threshold > 0.0 && iou_threshold <= 1.0) {
        return Err(MlError::InvalidParams(format!("an IoU threshold is in (0, 1], not {iou_threshold}")));
    }
    let positives: usize = truth.iter().map(Vec::len).sum();
    if positives == 0 {
        return Err(MlError::InvalidData("no true boxes: average precision needs at least one object".into()));
    }
    let mut all: Vec<(usize, &crate::detection::Detection)> = Vec::new();
    for (image, found) in detections.iter().enumerate() {
        for (k, d) in found.iter().enumerate() {
            if !d.score.is_finite() {
                return Err(MlError::NonFinite { row: image, column: format!("score of detection {k}") });
            }
            all.push((image, d));
        }
    }
    // Falling score; ties keep their order (the devkit's sort is stable too).
    all.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
    let mut matched: Vec<Vec<bool>> = truth.iter().map(|t| vec![false; t.len()]).collect();
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut curve: Vec<(f64, f64)> = Vec::with_capacity(all.len()); // (recall, precision)
    for (image, d) in all {
        let best = truth[image].iter().enumerate().map(|(j, t)| (j, t.iou(&d.bbox))).max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((j, iou)) if iou >= iou_threshold && !matched[image][j] => {
                matched[image][j] = true;
                tp += 1;
            }
            _ => fp += 1,
        }
        curve.push((tp as f64 / positives as f64, tp as f64 / (tp + fp) as f64));
    }
    // The precision envelope, then the area under it at each recall step.
    let mut ap = 0.0;
    let mut best_after = 0.0f64;
    let mut envelope = vec![0.0; curve.len()];
    for i in (0..curve.len()).rev() {
        best_after = best_after.max(curve[i].1);
        envelope[i] = best_after;
    }
    let mut previous_recall = 0.0;
    for (i, &(recall, _)) in curve.iter().enumerate() {
        ap += (recall - previous_recall) * envelope[i];
        previous_recall = recall;
    }
    Ok(ap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_and_confusion_matrices_plot_themselves() {
        let truth = Labels::from_ints(&[0, 0, 1, 1, 0]);
        let scores = Vector::from_vec(vec![0.1, 0.6, 0.4, 0.9, 0.2]);
        let roc = roc_curve(&truth, &scores).unwrap();
        assert_eq!(roc.kind, CurveKind::Roc);
        assert_eq!(roc.plot().unwrap().title(), format!("ROC curve (AUC = {:.3})", roc.area));
        let pr = pr_curve(&truth, &scores).unwrap();
        assert_eq!((pr.kind, pr.positive_rate), (CurveKind::PrecisionRecall, 0.4));
        assert!(pr.plot().unwrap().title().starts_with("Precision-recall curve"));
        let pred = Labels::from_ints(&[0, 1, 0, 1, 0]);
        let svg = confusion_matrix(&truth, &pred).unwrap().plot().unwrap();
        assert!(svg.to_svg().starts_with("<svg"));
    }

    fn ints(v: &[i64]) -> Labels {
        Labels::from_ints(v)
    }

    fn vector(v: &[f64]) -> Vector {
        Vector::from_vec(v.to_vec())
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn binary_classification_by_hand() {
        // tp = 2 (rows 2, 3), fp = 1 (row 1), fn = 1 (row 4), tn = 2 (rows 0, 5).
        let truth = ints(&[0, 0, 1, 1, 1, 0]);
        let pred = ints(&[0, 1, 1, 1, 0, 0]);
        let cm = confusion_matrix(&truth, &pred).unwrap();
        assert_eq!(cm.counts(), [vec![2, 1], vec![1, 2]]);
        assert_eq!(cm.classes(), ["0", "1"]);
        assert_eq!(cm.get("0", "1"), Some(1));
        assert_eq!(cm.get("0", "7"), None);
        assert_eq!(
            [cm.true_positives(), cm.false_positives(), cm.false_negatives(), cm.true_negatives()],
            [Ok(2), Ok(1), Ok(1), Ok(2)]
        );
        assert!(close(accuracy(&truth, &pred).unwrap(), 4.0 / 6.0));
        assert!(close(precision(&truth, &pred).unwrap(), 2.0 / 3.0));
        assert!(close(recall(&truth, &pred).unwrap(), 2.0 / 3.0));
        assert!(close(f1(&truth, &pred).unwrap(), 2.0 / 3.0));
        let costs = CostMatrix { true_positive: 1.0, false_positive: 10.0, false_negative: 100.0, true_negative: 0.5 };
        assert!(close(total_cost(&truth, &pred, &costs).unwrap(), 2.0 + 10.0 + 100.0 + 1.0));
    }

    #[test]
    fn recall_at_a_false_alarm_rate_by_hand() {
        // Negatives score 0.1, 0.2, 0.3, 0.8; positives 0.9, 0.7, 0.25.
        let truth = ints(&[0, 0, 0, 0, 1, 1, 1]);
        let scores = vector(&[0.1, 0.2, 0.3, 0.8, 0.9, 0.7, 0.25]);
        // No false alarm: only 0.9 is above every negative.
        assert!(close(recall_at_false_alarm_rate(&truth, &scores, 0.0).unwrap(), 1.0 / 3.0));
        // One of four negatives (0.8) flagged: 0.9 and 0.7 caught.
        assert!(close(recall_at_false_alarm_rate(&truth, &scores, 0.25).unwrap(), 2.0 / 3.0));
        // Two of four (0.8, 0.3): 0.25 caught as well.
        assert!(close(recall_at_false_alarm_rate(&truth, &scores, 0.5).unwrap(), 1.0));
        assert!(matches!(recall_at_false_alarm_rate(&truth, &scores, 1.5), Err(MlError::InvalidParams(_))));
        assert!(matches!(recall_at_false_alarm_rate(&truth, &vector(&[0.1]), 0.1), Err(MlError::Shape(_))));
    }

    #[test]
    fn predictions_missing_or_adding_classes_are_aligned() {
        // Predictions never say "1": aligned to the truth's two classes.
        let truth = ints(&[0, 1, 1]);
        let all_negative = ints(&[0, 0, 0]);
        assert_eq!(precision(&truth, &all_negative).unwrap(), 0.0);
        assert_eq!(recall(&truth, &all_negative).unwrap(), 0.0);
        assert_eq!(f1(&truth, &all_negative).unwrap(), 0.0);
        // Truth only has "1" but predictions have both: compared over the union.
        let cm = confusion_matrix(&ints(&[1, 1]), &ints(&[0, 1])).unwrap();
        assert_eq!(cm.classes(), ["0", "1"]);
        assert_eq!(cm.counts(), [vec![0, 0], vec![1, 1]]);
        assert_eq!(recall(&ints(&[1, 1]), &ints(&[0, 1])).unwrap(), 0.5);
        // Union of class names sorts numerically, as Labels does.
        let cm = confusion_matrix(&ints(&[2, 10]), &ints(&[1, 10])).unwrap();
        assert_eq!(cm.classes(), ["1", "2", "10"]);
    }

    #[test]
    fn multiclass_scores_are_macro_averages() {
        // Same case as scikit-learn's f1_score(['a','b','c','a'], ['a','b','b','d'], average='macro') = 1/3.
        let truth = Labels::from_strings(&["a", "b", "c", "a"]);
        let pred = Labels::from_strings(&["a", "b", "b", "d"]);
        assert!(close(f1(&truth, &pred).unwrap(), 1.0 / 3.0));
        // precision: a 1, b 1/2, c 0, d 0; recall: a 1/2, b 1, c 0, d 0.
        assert!(close(precision(&truth, &pred).unwrap(), 1.5 / 4.0));
        assert!(close(recall(&truth, &pred).unwrap(), 1.5 / 4.0));
        assert!(close(accuracy(&truth, &pred).unwrap(), 0.5));
        // A class in the list with no rows on either side is left out of the average.
        let with_unused = Labels::from_ids(vec![0, 1], vec!["a".into(), "b".into(), "z".into()]).unwrap();
        assert_eq!(precision(&with_unused, &with_unused).unwrap(), 1.0);
        assert!(confusion_matrix(&truth, &pred).unwrap().true_positives().is_err());
    }

    #[test]
    fn one_known_class_cannot_say_which_is_positive() {
        let only = ints(&[1, 1]);
        let err = precision(&only, &only).unwrap_err();
        assert!(matches!(&err, MlError::InvalidData(m) if m.contains("`1`")), "{err}");
        assert_eq!(accuracy(&only, &only).unwrap(), 1.0);
        assert!(total_cost(&only, &only, &CostMatrix::default()).is_err());
    }

    #[test]
    fn confusion_matrices_display_as_aligned_tables() {
        let truth = Labels::from_strings(&["cat", "dog", "dog", "elephant"]);
        let pred = Labels::from_strings(&["cat", "dog", "cat", "elephant"]);
        let cm = confusion_matrix(&truth, &pred).unwrap();
        let text = cm.to_string();
        let expected = "\
truth \\ predicted  cat  dog  elephant
cat                  1    0         0
dog                  1    1         0
elephant             0    0         1
";
        assert_eq!(text, expected);
        let html = cm.to_html();
        assert!(html.contains("<th>elephant</th>") && html.contains("<td>dog</td><td>1</td><td>1</td><td>0</td>"));
    }

    #[test]
    fn perfect_and_reversed_rankings() {
        let truth = ints(&[0, 0, 1, 0, 1, 1]);
        let good = vector(&[0.1, 0.2, 0.7, 0.3, 0.8, 0.9]);
        assert_eq!(roc_auc(&truth, &good).unwrap(), 1.0);
        assert_eq!(average_precision(&truth, &good).unwrap(), 1.0);
        let reversed = vector(&[0.9, 0.8, 0.3, 0.7, 0.2, 0.1]);
        assert_eq!(roc_auc(&truth, &reversed).unwrap(), 0.0);
        // Reversed: positives at ranks 4, 5, 6 → AP = (1/3)(1/4 + 2/5 + 3/6).
        assert!(close(average_precision(&truth, &reversed).unwrap(), (0.25 + 0.4 + 0.5) / 3.0));
        // All scores tied: one step from (0, 0) to (1, 1).
        let tied = vector(&[0.5; 6]);
        let roc = roc_curve(&truth, &tied).unwrap();
        assert_eq!((roc.x, roc.y, roc.area), (vec![0.0, 1.0], vec![0.0, 1.0], 0.5));
        assert_eq!(average_precision(&truth, &tied).unwrap(), 0.5);
    }

    #[test]
    fn ties_count_one_half() {
        // Pairs (positive, negative): (0.8, 0.4) win, (0.8, 0.8) tie, (0.3, 0.4) loss, (0.3, 0.8) loss.
        let truth = ints(&[1, 0, 1, 0]);
        let scores = vector(&[0.8, 0.8, 0.3, 0.4]);
        assert!(close(roc_auc(&truth, &scores).unwrap(), 1.5 / 4.0));
        let roc = roc_curve(&truth, &scores).unwrap();
        assert_eq!(roc.thresholds, [f64::INFINITY, 0.8, 0.4, 0.3]);
        assert_eq!(roc.x, [0.0, 0.5, 1.0, 1.0]);
        assert_eq!(roc.y, [0.0, 0.5, 0.5, 1.0]);
        let pr = pr_curve(&truth, &scores).unwrap();
        assert_eq!(pr.x, [0.0, 0.5, 0.5, 1.0]);
        assert_eq!(pr.y, [1.0, 0.5, 1.0 / 3.0, 0.5]);
        assert!(close(pr.area, 0.5 * 0.5 + 0.5 * 0.5));
    }

    #[test]
    fn log_loss_by_hand_and_clipped() {
        let truth = ints(&[1, 0]);
        let got = log_loss(&truth, &vector(&[0.8, 0.4])).unwrap();
        assert!(close(got, -(0.8f64.ln() + 0.6f64.ln()) / 2.0));
        // Certain and wrong: clipped to machine epsilon, finite.
        let wrong = log_loss(&truth, &vector(&[0.0, 1.0])).unwrap();
        assert!(close(wrong, -f64::EPSILON.ln()));
        assert_eq!(log_loss(&truth, &vector(&[1.0, 0.0])).unwrap(), -(1.0 - f64::EPSILON).ln());
        // Only one class present is fine for log loss.
        assert!(log_loss(&ints(&[0, 1]).select(&[1, 1]).unwrap(), &vector(&[0.9, 0.9])).is_ok());
        let err = log_loss(&truth, &vector(&[1.5, 0.5])).unwrap_err();
        assert!(matches!(&err, MlError::InvalidData(m) if m.contains("row 0")), "{err}");
    }

    #[test]
    fn threshold_sweep_finds_the_cheapest_cut() {
        let truth = ints(&[0, 0, 1, 1]);
        let scores = vector(&[0.1, 0.4, 0.35, 0.8]);
        let costs = CostMatrix { false_negative: 100.0, false_positive: 5.0, true_positive: 5.0, ..Default::default() };
        let sweep = threshold_sweep(&truth, &scores, &costs).unwrap();
        let thresholds: Vec<f64> = sweep.points.iter().map(|p| p.threshold).collect();
        assert_eq!(thresholds, [0.1, 0.35, 0.4, 0.8, f64::INFINITY]);
        let cost: Vec<f64> = sweep.points.iter().map(|p| p.cost).collect();
        assert_eq!(cost, [20.0, 15.0, 110.0, 105.0, 200.0]);
        assert_eq!(sweep.best, ThresholdPoint { threshold: 0.35, cost: 15.0, precision: 2.0 / 3.0, recall: 1.0 });
        let nothing = sweep.points.last().unwrap();
        assert_eq!((nothing.precision, nothing.recall), (0.0, 0.0));

        // Free misses: flagging nothing is best; ties go to the highest threshold.
        let lazy = CostMatrix { false_positive: 1.0, ..Default::default() };
        let sweep = threshold_sweep(&truth, &scores, &lazy).unwrap();
        assert_eq!(sweep.best.threshold, f64::INFINITY);
        // Each point is the total cost of its predictions.
        for p in &sweep.points {
            let pred: Vec<bool> = scores.as_slice().iter().map(|&s| s >= p.threshold).collect();
            let pred = Labels::from_ids(pred.iter().map(|&b| usize::from(b)).collect(), truth.classes().to_vec());
            assert_eq!(p.cost, total_cost(&truth, &pred.unwrap(), &lazy).unwrap());
        }
        let bad = CostMatrix { true_negative: f64::NAN, ..Default::default() };
        assert!(matches!(threshold_sweep(&truth, &scores, &bad), Err(MlError::InvalidParams(_))));
    }

    #[test]
    fn regression_by_hand() {
        let truth = vector(&[1.0, 2.0, 4.0]);
        let pred = vector(&[2.0, 2.0, 1.0]);
        assert!(close(rmse(&truth, &pred).unwrap(), (10.0f64 / 3.0).sqrt()));
        assert!(close(mae(&truth, &pred).unwrap(), 4.0 / 3.0));
        assert!(close(mape(&truth, &pred).unwrap(), (1.0 + 0.0 + 0.75) / 3.0));
        // mean 7/3, total sum of squares 14/3, residual 10.
        assert!(close(r2(&truth, &pred).unwrap(), 1.0 - 10.0 / (14.0 / 3.0)));
        assert_eq!(r2(&truth, &truth).unwrap(), 1.0);
        // Constant truth: 1 when exact, 0 otherwise.
        let flat = vector(&[3.0, 3.0]);
        assert_eq!(r2(&flat, &flat).unwrap(), 1.0);
        assert_eq!(r2(&flat, &vector(&[3.0, 4.0])).unwrap(), 0.0);
        // Zero truth: divided by machine epsilon.
        assert_eq!(mape(&vector(&[0.0]), &vector(&[1.0])).unwrap(), 1.0 / f64::EPSILON);
        assert!(matches!(r2(&vector(&[1.0]), &vector(&[1.0])), Err(MlError::InvalidData(_))));
    }

    #[test]
    fn silhouette_by_hand() {
        // Clusters {0, 1} and {10, 11} on a line.
        let x = Matrix::from_rows(&[vec![0.0], vec![1.0], vec![10.0], vec![11.0]]).unwrap();
        let labels = ints(&[0, 0, 1, 1]);
        // Row 0: a = 1, b = 10.5; row 1: a = 1, b = 9.5; symmetric for the others.
        let expected = (9.5 / 10.5 + 8.5 / 9.5) / 2.0;
        assert!(close(silhouette(&x, &labels).unwrap(), expected));
        // A singleton cluster scores 0 for its row; unused classes in the list do not count.
        let x = Matrix::from_rows(&[vec![0.0], vec![1.0], vec![10.0]]).unwrap();
        let labels = Labels::from_ids(vec![0, 0, 2], vec!["a".into(), "b".into(), "c".into()]).unwrap();
        let expected = (9.0 / 10.0 + 8.0 / 9.0) / 3.0;
        assert!(close(silhouette(&x, &labels).unwrap(), expected));
    }

    #[test]
    fn silhouette_rejects_bad_input() {
        let x = Matrix::from_rows(&[vec![0.0], vec![1.0], vec![2.0]]).unwrap();
        assert!(matches!(silhouette(&x, &ints(&[0, 1])), Err(MlError::Shape(_))));
        assert!(matches!(silhouette(&x, &ints(&[0, 0, 0])), Err(MlError::InvalidData(_))));
        assert!(matches!(silhouette(&x, &ints(&[0, 1, 2])), Err(MlError::InvalidData(_))));
        let empty = Matrix::from_vec(0, 1, vec![]).unwrap();
        assert!(matches!(silhouette(&empty, &ints(&[])), Err(MlError::Empty(_))));
        let no_columns = Matrix::from_vec(3, 0, vec![]).unwrap();
        assert!(matches!(silhouette(&no_columns, &ints(&[0, 0, 1])), Err(MlError::Empty(_))));
        let nan = Matrix::from_rows(&[vec![0.0], vec![f64::NAN], vec![2.0]]).unwrap();
        assert!(matches!(silhouette(&nan, &ints(&[0, 0, 1])), Err(MlError::NonFinite { row: 1, .. })));
    }

    #[test]
    fn classification_rejects_bad_input() {
        let three = ints(&[0, 1, 1]);
        let two = ints(&[0, 1]);
        let empty = ints(&[]);
        type Metric = fn(&Labels, &Labels) -> Result<f64>;
        for metric in [accuracy, precision, recall, f1] as [Metric; 4] {
            assert!(matches!(metric(&three, &two), Err(MlError::Shape(_))));
            assert!(matches!(metric(&empty, &empty), Err(MlError::Empty(_))));
        }
        assert!(matches!(confusion_matrix(&three, &two), Err(MlError::Shape(_))));
        assert!(matches!(total_cost(&empty, &empty, &CostMatrix::default()), Err(MlError::Empty(_))));
    }

    #[test]
    fn scores_reject_bad_input() {
        let truth = ints(&[0, 1, 1]);
        type Metric = fn(&Labels, &Vector) -> Result<f64>;
        let sweep: Metric = |t, s| threshold_sweep(t, s, &CostMatrix::default()).map(|s| s.best.cost);
        let roc: Metric = |t, s| roc_curve(t, s).map(|c| c.area);
        let pr: Metric = |t, s| pr_curve(t, s).map(|c| c.area);
        for metric in [roc_auc, average_precision, log_loss, sweep, roc, pr] {
            assert!(matches!(metric(&truth, &vector(&[0.1, 0.2])), Err(MlError::Shape(_))));
            assert!(matches!(metric(&ints(&[]), &vector(&[])), Err(MlError::Empty(_))));
            let nan = metric(&truth, &vector(&[0.1, f64::NAN, 0.3]));
            assert_eq!(nan, Err(MlError::NonFinite { row: 1, column: "scores".into() }));
            assert!(metric(&truth, &vector(&[0.1, 0.2, f64::INFINITY])).is_err());
            let multi = metric(&ints(&[0, 1, 2]), &vector(&[0.1, 0.2, 0.3]));
            assert!(matches!(multi, Err(MlError::InvalidData(_))));
        }
        // AUC and AP need both classes and say which one is missing.
        let no_positive = ints(&[0, 1]).select(&[0, 0]).unwrap();
        let no_negative = Labels::from_bools(&[true, true]);
        for metric in [roc_auc, average_precision] as [Metric; 2] {
            let err = metric(&no_positive, &vector(&[0.1, 0.2])).unwrap_err();
            assert!(matches!(&err, MlError::InvalidData(m) if m.contains("positive class `1`")), "{err}");
            let err = metric(&no_negative, &vector(&[0.1, 0.2])).unwrap_err();
            assert!(matches!(&err, MlError::InvalidData(m) if m.contains("negative class `false`")), "{err}");
            let err = metric(&ints(&[1, 1]), &vector(&[0.1, 0.2])).unwrap_err();
            assert!(matches!(&err, MlError::InvalidData(m) if m.contains("only class is `1`")), "{err}");
        }
    }

    #[test]
    fn regression_rejects_bad_input() {
        type Metric = fn(&Vector, &Vector) -> Result<f64>;
        for metric in [rmse, mae, mape, r2] as [Metric; 4] {
            assert!(matches!(metric(&vector(&[1.0, 2.0]), &vector(&[1.0])), Err(MlError::Shape(_))));
            assert!(matches!(metric(&vector(&[]), &vector(&[])), Err(MlError::Empty(_))));
            let nan = metric(&vector(&[1.0, f64::NAN]), &vector(&[1.0, 2.0]));
            assert_eq!(nan, Err(MlError::NonFinite { row: 1, column: "truth".into() }));
            let inf = metric(&vector(&[1.0, 2.0]), &vector(&[f64::NEG_INFINITY, 2.0]));
            assert_eq!(inf, Err(MlError::NonFinite { row: 0, column: "predictions".into() }));
        }
    }

    #[test]
    fn average_precision_at_iou_follows_the_voc_rules() {
        use crate::detection::{BoundingBox, Detection};
        let b = |x: f64| BoundingBox::new(x, 0.0, 10.0, 10.0);
        let d = |x: f64, score: f64| Detection { bbox: b(x), score };
        let truth = vec![vec![b(0.0), b(100.0)], vec![b(0.0)]];
        // Everything found, nothing else: 1.
        let perfect = vec![vec![d(0.0, 0.9), d(100.0, 0.8)], vec![d(1.0, 0.7)]];
        assert_eq!(average_precision_at_iou(&truth, &perfect, 0.5).unwrap(), 1.0);
        // Nothing found: 0.
        assert_eq!(average_precision_at_iou(&truth, &[vec![], vec![]], 0.5).unwrap(), 0.0);
        // A duplicate on one object is a false positive; a box in the wrong
        // image matches nothing. Ranked: hit (1/1), duplicate (1/2), hit (2/3), wrong image (2/4).
        let ranked = vec![vec![d(0.0, 0.9), d(1.0, 0.8), d(100.0, 0.7)], vec![d(100.0, 0.6)]];
        let ap = average_precision_at_iou(&truth, &ranked, 0.5).unwrap();
        assert!((ap - (1.0 / 3.0 * 1.0 + 1.0 / 3.0 * (2.0 / 3.0))).abs() < 1e-12, "{ap}");
        // IoU 5/15 = ⅓ is a hit at 0.3 and a miss at 0.5.
        let shifted = vec![vec![d(5.0, 0.9)], vec![]];
        let one = vec![vec![b(0.0)], vec![]];
        assert_eq!(average_precision_at_iou(&one, &shifted, 0.3).unwrap(), 1.0);
        assert_eq!(average_precision_at_iou(&one, &shifted, 0.5).unwrap(), 0.0);
        // Bad input.
        assert!(matches!(average_precision_at_iou(&truth, &[vec![]], 0.5), Err(MlError::Shape(_))));
        assert!(matches!(average_precision_at_iou(&truth, &perfect, 0.0), Err(MlError::InvalidParams(_))));
        assert!(matches!(average_precision_at_iou(&[vec![]], &[vec![]], 0.5), Err(MlError::InvalidData(_))));
        let nan = vec![vec![d(0.0, f64::NAN)], vec![]];
        assert!(matches!(average_precision_at_iou(&truth, &nan, 0.5), Err(MlError::NonFinite { .. })));
    }

    #[test]
    fn pearson_is_one_for_a_line_and_refuses_a_constant() {
        let a = Vector::from_vec(vec![1.0, 2.0, 3.0, 4.0]);
        assert!((pearson(&a, &a.map(|x| 3.0 * x - 1.0)).unwrap() - 1.0).abs() < 1e-12);
        assert!((pearson(&a, &a.map(|x| -x)).unwrap() + 1.0).abs() < 1e-12);
        // scipy.stats.pearsonr([1, 2, 3, 4], [1, 3, 2, 4]).statistic == 0.8
        let b = Vector::from_vec(vec![1.0, 3.0, 2.0, 4.0]);
        assert!((pearson(&a, &b).unwrap() - 0.8).abs() < 1e-12);
        assert!(pearson(&a, &Vector::from_vec(vec![2.0; 4])).is_err());
    }
}
