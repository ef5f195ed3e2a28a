//! `flywheel_ml::metrics` agrees with scikit-learn.
//!
//! `fixtures/metrics_sklearn.json` holds seeded inputs and scikit-learn's
//! outputs for them, written by `fixtures/make_metrics_fixtures.py` (the
//! scikit-learn version is recorded in the file). Counts must match exactly;
//! real numbers within [`TOLERANCE`], relative to the expected value or
//! absolute below 1. The only differences expected are rounding: summation
//! order, and scikit-learn's Euclidean distances computed as
//! `sqrt(|x|² − 2x·y + |y|²)` in the silhouette.

use flywheel_ml::metrics::{self, CostMatrix, ThresholdPoint};
use flywheel_ml::{Labels, Matrix, Vector};
use serde_json::Value;

/// Largest accepted difference: `1e-9 · max(1, |expected|)`.
const TOLERANCE: f64 = 1e-9;

fn fixtures() -> Value {
    serde_json::from_str(include_str!("fixtures/metrics_sklearn.json")).expect("the fixture file is valid JSON")
}

fn cases<'a>(fixtures: &'a Value, kind: &str) -> &'a [Value] {
    let cases = fixtures[kind].as_array().unwrap_or_else(|| panic!("no `{kind}` cases"));
    assert!(!cases.is_empty(), "no `{kind}` cases");
    cases
}

/// A number, with `null` standing for +∞ (JSON has no infinity).
fn float(v: &Value) -> f64 {
    if v.is_null() { f64::INFINITY } else { v.as_f64().unwrap_or_else(|| panic!("not a number: {v}")) }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}")).iter().map(float).collect()
}

/// Labels from a JSON array of integers or of strings, as a participant would build them.
fn labels(v: &Value) -> Labels {
    let items = v.as_array().unwrap_or_else(|| panic!("not an array: {v}"));
    match items.iter().map(Value::as_i64).collect::<Option<Vec<i64>>>() {
        Some(ints) => Labels::from_ints(&ints),
        None => Labels::from_strings(&items.iter().map(|s| s.as_str().expect("a class name")).collect::<Vec<_>>()),
    }
}

#[track_caller]
fn assert_close(got: f64, want: f64, what: &str) {
    let ok = if want.is_infinite() { got == want } else { (got - want).abs() <= TOLERANCE * want.abs().max(1.0) };
    assert!(ok, "{what}: flywheel {got:e}, scikit-learn {want:e} (difference {:e})", got - want);
}

/// Checks `got` against the expected value `want` of metric `metric` in case `case`.
#[track_caller]
fn check(case: &str, metric: &str, got: f64, want: &Value) {
    assert_close(got, float(want), &format!("{case}: {metric}"));
}

#[track_caller]
fn assert_all_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert_close(g, w, &format!("{what}[{i}]"));
    }
}

fn counts(v: &Value) -> Vec<Vec<usize>> {
    serde_json::from_value(v.clone()).expect("a matrix of counts")
}

fn class_names(v: &Value) -> Vec<String> {
    serde_json::from_value(v.clone()).expect("a list of class names")
}

#[test]
fn the_fixtures_come_from_scikit_learn() {
    let f = fixtures();
    let version = f["sklearn_version"].as_str().expect("scikit-learn version recorded");
    assert!(version.split('.').next().and_then(|major| major.parse::<u32>().ok()).is_some(), "{version}");
}

#[test]
fn classification_from_classes_agrees() {
    let f = fixtures();
    for case in cases(&f, "binary").iter().chain(cases(&f, "multiclass")) {
        let name = case["name"].as_str().unwrap();
        let (truth, pred, want) = (labels(&case["truth"]), labels(&case["pred"]), &case["expected"]);
        let cm = metrics::confusion_matrix(&truth, &pred).unwrap();
        assert_eq!(cm.classes(), class_names(&want["classes"]), "{name}: classes");
        assert_eq!(cm.counts(), counts(&want["confusion_matrix"]), "{name}: confusion matrix");
        check(name, "accuracy", metrics::accuracy(&truth, &pred).unwrap(), &want["accuracy"]);
        check(name, "precision", metrics::precision(&truth, &pred).unwrap(), &want["precision"]);
        check(name, "recall", metrics::recall(&truth, &pred).unwrap(), &want["recall"]);
        check(name, "f1", metrics::f1(&truth, &pred).unwrap(), &want["f1"]);
    }
}

fn cost_matrix(v: &Value) -> CostMatrix {
    CostMatrix {
        true_positive: float(&v["true_positive"]),
        false_positive: float(&v["false_positive"]),
        false_negative: float(&v["false_negative"]),
        true_negative: float(&v["true_negative"]),
    }
}

fn threshold_point(v: &Value) -> ThresholdPoint {
    ThresholdPoint {
        threshold: float(&v["threshold"]),
        cost: float(&v["cost"]),
        precision: float(&v["precision"]),
        recall: float(&v["recall"]),
    }
}

#[track_caller]
fn assert_point(got: &ThresholdPoint, want: &ThresholdPoint, what: &str) {
    assert_close(got.threshold, want.threshold, &format!("{what} threshold"));
    assert_close(got.cost, want.cost, &format!("{what} cost"));
    assert_close(got.precision, want.precision, &format!("{what} precision"));
    assert_close(got.recall, want.recall, &format!("{what} recall"));
}

#[test]
fn classification_from_scores_agrees() {
    let f = fixtures();
    for case in cases(&f, "binary") {
        let name = case["name"].as_str().unwrap();
        let (truth, want) = (labels(&case["truth"]), &case["expected"]);
        let scores = Vector::from_vec(floats(&case["scores"]));
        assert_eq!(truth.classes(), class_names(&want["classes"]), "{name}: classes");

        check(name, "roc_auc", metrics::roc_auc(&truth, &scores).unwrap(), &want["roc_auc"]);
        let ap = metrics::average_precision(&truth, &scores).unwrap();
        check(name, "average_precision", ap, &want["average_precision"]);
        if !want["log_loss"].is_null() {
            check(name, "log_loss", metrics::log_loss(&truth, &scores).unwrap(), &want["log_loss"]);
        }

        // roc_curve(drop_intermediate=False): the same points in the same order, thresholds starting at +inf.
        let roc = metrics::roc_curve(&truth, &scores).unwrap();
        let sk = &want["roc_curve"];
        assert_all_close(&roc.x, &floats(&sk["fpr"]), &format!("{name}: ROC fpr"));
        assert_all_close(&roc.y, &floats(&sk["tpr"]), &format!("{name}: ROC tpr"));
        assert_all_close(&roc.thresholds, &floats(&sk["thresholds"]), &format!("{name}: ROC thresholds"));
        check(name, "ROC area", roc.area, &want["roc_auc"]);

        // precision_recall_curve: thresholds increasing, and a last point (precision 1, recall 0)
        // without threshold. Flywheel lists the points the other way round, that one first at +inf.
        let pr = metrics::pr_curve(&truth, &scores).unwrap();
        let sk = &want["precision_recall_curve"];
        let reversed = |v: &Value| floats(v).into_iter().rev().collect::<Vec<f64>>();
        let mut sk_thresholds = vec![f64::INFINITY];
        sk_thresholds.extend(reversed(&sk["thresholds"]));
        assert_all_close(&pr.x, &reversed(&sk["recall"]), &format!("{name}: PR recall"));
        assert_all_close(&pr.y, &reversed(&sk["precision"]), &format!("{name}: PR precision"));
        assert_all_close(&pr.thresholds, &sk_thresholds, &format!("{name}: PR thresholds"));
        check(name, "PR area", pr.area, &want["average_precision"]);

        let costs = cost_matrix(&case["costs"]);
        let pred = labels(&case["pred"]);
        check(name, "total_cost", metrics::total_cost(&truth, &pred, &costs).unwrap(), &want["total_cost"]);

        let sweep = metrics::threshold_sweep(&truth, &scores, &costs).unwrap();
        let sk = &want["threshold_sweep"];
        let points = sk["points"].as_array().unwrap();
        assert_eq!(sweep.points.len(), points.len(), "{name}: number of thresholds");
        for (i, (got, want)) in sweep.points.iter().zip(points).enumerate() {
            assert_point(got, &threshold_point(want), &format!("{name}: sweep point {i}"));
        }
        assert_point(&sweep.best, &threshold_point(&sk["best"]), &format!("{name}: best threshold"));
    }
}

#[test]
fn regression_agrees() {
    let f = fixtures();
    for case in cases(&f, "regression") {
        let name = case["name"].as_str().unwrap();
        let truth = Vector::from_vec(floats(&case["truth"]));
        let pred = Vector::from_vec(floats(&case["pred"]));
        let want = &case["expected"];
        check(name, "rmse", metrics::rmse(&truth, &pred).unwrap(), &want["rmse"]);
        check(name, "mae", metrics::mae(&truth, &pred).unwrap(), &want["mae"]);
        check(name, "mape", metrics::mape(&truth, &pred).unwrap(), &want["mape"]);
        check(name, "r2", metrics::r2(&truth, &pred).unwrap(), &want["r2"]);
    }
}

#[test]
fn silhouette_agrees() {
    let f = fixtures();
    for case in cases(&f, "clustering") {
        let name = case["name"].as_str().unwrap();
        let rows: Vec<Vec<f64>> = case["x"].as_array().unwrap().iter().map(floats).collect();
        let x = Matrix::from_rows(&rows).unwrap();
        let got = metrics::silhouette(&x, &labels(&case["labels"])).unwrap();
        check(name, "silhouette", got, &case["expected"]["silhouette"]);
    }
}
