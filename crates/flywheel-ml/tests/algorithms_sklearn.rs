//! flywheel-ml's algorithms agree with scikit-learn on the same data.
//!
//! `fixtures/algorithms_sklearn.json` holds seeded data sets and what
//! scikit-learn fits on them, written by `fixtures/make_algorithm_fixtures.py`
//! (the versions are recorded in the file). Where both libraries solve the
//! same problem exactly, the numbers must agree to a tolerance stated at each
//! check (rounding, or an iterative solver's stopping point); where the
//! algorithms differ by design (CART and forests with other random draws,
//! boosted trees with other binning), the test-set quality must be within a
//! stated margin of scikit-learn's (the random forest's margin is wider, for
//! a known reason stated there).

use flywheel_ml::prelude::*;
use serde_json::Value;

fn fixtures() -> Value {
    serde_json::from_str(include_str!("fixtures/algorithms_sklearn.json")).expect("the fixture file is valid JSON")
}

fn case(name: &str) -> Value {
    fixtures()["cases"][name].clone()
}

fn matrix(v: &Value) -> Matrix {
    let rows: Vec<Vec<f64>> = v
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r.as_array().expect("a row").iter().map(|x| x.as_f64().expect("a number")).collect())
        .collect();
    Matrix::from_rows(&rows).expect("a matrix")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().expect("numbers").iter().map(|x| x.as_f64().expect("a number")).collect()
}

fn labels(v: &Value) -> Labels {
    let ids: Vec<i64> = v.as_array().expect("classes").iter().map(|x| x.as_i64().expect("a class")).collect();
    Labels::from_ints(&ids)
}

/// Every `got[i]` within `tol · max(1, |want[i]|)` of `want[i]`.
#[track_caller]
fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * w.abs().max(1.0), "{what}[{i}]: flywheel {g:e}, scikit-learn {w:e}");
    }
}

#[test]
fn least_squares_matches_linear_regression() {
    let c = case("linear_regression");
    let data = Dataset::regression(matrix(&c["x_train"]), Vector::from_vec(floats(&c["y_train"]))).unwrap();
    let model = LinearLearner::regressor().fit(&data).unwrap();
    // The same normal equations: only rounding differs.
    assert_close(&model.coefficients(), &floats(&c["coefficients"]), 1e-8, "coefficients");
    let predicted = model.predict(&matrix(&c["x_test"])).unwrap();
    assert_close(predicted.as_slice(), &floats(&c["predictions"]), 1e-8, "predictions");
}

#[test]
fn l2_logistic_regression_matches_scikit_learn_at_a_tight_tolerance() {
    let c = case("logistic_regression");
    let data = Dataset::classification(matrix(&c["x_train"]), labels(&c["y_train"])).unwrap();
    let model = LinearLearner::classifier().tolerance(1e-10).max_iterations(10_000).fit(&data).unwrap();
    let p = model.predict_proba(&matrix(&c["x_test"])).unwrap();
    // The same penalised objective (L2 = 1 ⇔ C = 1, standardised features);
    // two L-BFGS runs stop within 1e-6 of its optimum.
    assert_close(p.as_slice(), &floats(&c["probabilities"]), 1e-6, "probabilities");
}

#[test]
fn k_means_finds_scikit_learns_clusters() {
    let c = case("kmeans");
    let x = matrix(&c["x"]);
    let model = KMeans::params(3).seed(0).fit(&Dataset::unsupervised(x.clone())).unwrap();
    // flywheel reports the mean squared distance; scikit-learn the sum.
    let total = model.inertia() * x.nrows() as f64;
    assert_close(&[total], &[c["inertia"].as_f64().unwrap()], 1e-9, "inertia");
    let centroids = model.centroids();
    let mut rows: Vec<Vec<f64>> = (0..3).map(|i| centroids.row(i).unwrap()).collect();
    rows.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let want = matrix(&c["centroids_by_first_coordinate"]);
    // The stopping rules differ (flywheel: centroids move less than 1e-4;
    // scikit-learn: relative to the data's variance), so the last Lloyd step
    // can leave the centres ~1e-7 apart; the inertia is flat there.
    for (i, row) in rows.iter().enumerate() {
        assert_close(row, &want.row(i).unwrap(), 1e-6, &format!("centroid {i}"));
    }
}

#[test]
fn pca_matches_a_full_svd() {
    let c = case("pca");
    let x = matrix(&c["x"]);
    let model = Pca::params(3).fit(&Dataset::unsupervised(x.clone())).unwrap();
    assert_close(model.explained_variance().as_slice(), &floats(&c["explained_variance"]), 1e-9, "variance");
    let ratio = model.explained_variance_ratio();
    assert_close(ratio.as_slice(), &floats(&c["explained_variance_ratio"]), 1e-9, "variance ratio");
    // A component's sign is arbitrary: compare each up to sign, and the
    // projections with the same signs.
    let (mine, theirs) = (model.components(), matrix(&c["components"]));
    let mut signs = Vec::new();
    for k in 0..3 {
        let (a, b) = (mine.row(k).unwrap(), theirs.row(k).unwrap());
        let sign = if a.iter().zip(&b).map(|(x, y)| x * y).sum::<f64>() < 0.0 { -1.0 } else { 1.0 };
        assert_close(&a.iter().map(|v| v * sign).collect::<Vec<_>>(), &b, 1e-7, &format!("component {k}"));
        signs.push(sign);
    }
    let projected = model.transform(&x.select_rows(&[0, 1, 2, 3, 4]).unwrap()).unwrap();
    let want = matrix(&c["transform_first_rows"]);
    for i in 0..5 {
        let row: Vec<f64> = projected.row(i).unwrap().iter().zip(&signs).map(|(v, s)| v * s).collect();
        assert_close(&row, &want.row(i).unwrap(), 1e-7, &format!("projection of row {i}"));
    }
}

#[test]
fn k_nearest_neighbours_vote_and_average_as_scikit_learn() {
    let c = case("knn");
    let (train, test) = (matrix(&c["x_train"]), matrix(&c["x_test"]));
    let classes = Dataset::classification(train.clone(), labels(&c["y_train_class"])).unwrap();
    let clf = Knn::params(5).fit_classifier(&classes).unwrap();
    let predicted = clf.predict(&test).unwrap();
    let ids: Vec<i64> = (0..test.nrows()).map(|i| predicted.get(i).unwrap().parse().unwrap()).collect();
    let want: Vec<i64> = c["predicted_classes"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    assert_eq!(ids, want, "the same neighbours, the same votes");
    assert_close(clf.predict_proba(&test).unwrap().as_slice(), &floats(&c["probabilities"]), 1e-12, "vote shares");
    let values = Dataset::regression(train, Vector::from_vec(floats(&c["y_train_value"]))).unwrap();
    let reg = Knn::params(5).fit_regressor(&values).unwrap();
    assert_close(reg.predict(&test).unwrap().as_slice(), &floats(&c["predicted_values"]), 1e-12, "averages");
}

#[test]
fn gaussian_naive_bayes_gives_scikit_learns_probabilities() {
    let c = case("naive_bayes");
    let data = Dataset::classification(matrix(&c["x_train"]), labels(&c["y_train"])).unwrap();
    let model = NaiveBayes::params().var_smoothing(1e-9).fit(&data).unwrap();
    let p = model.predict_proba(&matrix(&c["x_test"])).unwrap();
    assert_close(p.as_slice(), &floats(&c["probabilities"]), 1e-9, "probabilities");
}

#[test]
fn trees_forests_and_boosting_reach_scikit_learns_test_quality() {
    let c = case("trees");
    let data = Dataset::classification(matrix(&c["x_train"]), labels(&c["y_train"])).unwrap();
    let (test, truth) = (matrix(&c["x_test"]), labels(&c["y_test"]));
    // Other algorithms by design (split search and tie-breaks, random draws,
    // histogram bins): within these margins of scikit-learn, on 300 test rows.
    let tree = DecisionTree::params().max_depth(Some(4)).fit(&data).unwrap();
    let tree_accuracy = metrics::accuracy(&truth, &tree.predict(&test).unwrap().aligned_to(&truth).unwrap()).unwrap();
    let want = c["tree_accuracy"].as_f64().unwrap();
    assert!(tree_accuracy >= want - 0.03, "decision tree accuracy {tree_accuracy} vs scikit-learn {want}");

    // A known loss: linfa-ensemble draws the random feature subset once per
    // tree, scikit-learn at every split. Here the label hangs on x0·x1, and a
    // tree that sees ⌈√6⌉ = 3 of the 6 columns has both in only a fifth of
    // the trees: 0.830 against scikit-learn's 0.877 when this was written.
    // The margin keeps that gap from growing unnoticed.
    let forest = RandomForest::params().trees(100).seed(0).fit(&data).unwrap();
    let forest_accuracy =
        metrics::accuracy(&truth, &forest.predict(&test).unwrap().aligned_to(&truth).unwrap()).unwrap();
    let want = c["forest_accuracy"].as_f64().unwrap();
    assert!(forest_accuracy >= want - 0.06, "random forest accuracy {forest_accuracy} vs scikit-learn {want}");

    let gbt =
        GradientBoostedTrees::params().iterations(100).max_depth(4).learning_rate(0.1).seed(0).fit(&data).unwrap();
    let auc = metrics::roc_auc(&truth, &gbt.predict_proba(&test).unwrap()).unwrap();
    let want = c["boosting_roc_auc"].as_f64().unwrap();
    assert!(auc >= want - 0.01, "boosted trees ROC AUC {auc} vs scikit-learn {want}");
}
