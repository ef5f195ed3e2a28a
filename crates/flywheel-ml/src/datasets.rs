//! Small real datasets for first steps, shipped inside the `linfa-datasets`
//! crate (gzipped CSV compiled into the binary: no download, no file path).
//!
//! | function | rows × features | target | source, licence |
//! | --- | --- | --- | --- |
//! | [`iris`] | 150 × 4 | 3 species | Fisher (1936), UCI Machine Learning Repository, CC BY 4.0 |
//! | [`diabetes`] | 441 × 10 (see its note) | disease progression after one year | Efron, Hastie, Johnstone & Tibshirani, *Least Angle Regression* (2004), as distributed with scikit-learn (BSD-3-Clause) |
//! | [`wine_quality`] | 1,599 × 11 | quality score 3–8 | Cortez et al. (2009), UCI Machine Learning Repository (red wine), CC BY 4.0 |

use crate::{Dataset, Labels, Matrix, Vector};

// The data is compiled in with fixed shapes, names and classes, so the
// conversions below cannot fail; `expect` states that invariant.
const FIXED: &str = "linfa-datasets ships this data with fixed shapes, names and classes";

fn features(records: &ndarray::Array2<f64>, names: &[String]) -> Matrix {
    Matrix::from_array(records.clone()).with_columns(names).expect(FIXED)
}

/// Fisher's iris flowers: 150 rows, 4 measurements in cm (sepal length and
/// width, petal length and width), 3 balanced classes `setosa`,
/// `versicolor`, `virginica`.
pub fn iris() -> Dataset {
    let ds = linfa_datasets::iris();
    let x = features(ds.records(), ds.feature_names());
    let ids = ds.targets().to_vec();
    let classes = ["setosa", "versicolor", "virginica"].map(String::from).to_vec();
    Dataset::classification(x, Labels::from_ids(ids, classes).expect(FIXED)).expect(FIXED)
}

/// The diabetes regression data: 442 patients, 10 baseline variables (age,
/// sex, BMI, blood pressure, six blood serum measurements — each centred and
/// scaled as in scikit-learn), target a quantitative measure of disease
/// progression one year later.
///
/// Note: the published set has 442 patients; linfa-datasets 0.8.1 reads
/// its header-less CSV as if it had a header, so the first patient is
/// dropped and 441 rows remain.
pub fn diabetes() -> Dataset {
    let ds = linfa_datasets::diabetes();
    let x = features(ds.records(), ds.feature_names());
    let y = Vector::from_array(ds.targets().clone());
    Dataset::regression(x, y).expect(FIXED)
}

/// Red wine quality: 1,599 wines, 11 physico-chemical measurements, target
/// the tasters' quality score as a class `3` … `8`.
pub fn wine_quality() -> Dataset {
    let ds = linfa_datasets::winequality();
    let x = features(ds.records(), ds.feature_names());
    let scores: Vec<i64> = ds.targets().iter().map(|&q| i64::try_from(q).expect(FIXED)).collect();
    Dataset::classification(x, Labels::from_ints(&scores)).expect(FIXED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_classes_are_the_published_ones() {
        let iris = iris();
        assert_eq!((iris.nrows(), iris.ncols()), (150, 4));
        assert_eq!(iris.labels().unwrap().counts().iter().map(|c| c.1).collect::<Vec<_>>(), [50, 50, 50]);
        assert_eq!(iris.features().columns()[2], "petal length");
        let d = diabetes();
        assert_eq!((d.nrows(), d.ncols()), (441, 10), "442 published, first lost upstream (see `diabetes`)");
        let w = wine_quality();
        assert_eq!((w.nrows(), w.ncols()), (1599, 11));
        assert_eq!(w.labels().unwrap().classes(), ["3", "4", "5", "6", "7", "8"]);
    }
}
