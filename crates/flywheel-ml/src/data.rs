//! The values a participant holds: [`Matrix`] (features), [`Vector`]
//! (numbers per row), [`Labels`] (a class per row), [`Dataset`] (features
//! with a [`Target`]).

use std::collections::BTreeMap;
use std::fmt;

use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::display::{emit, html_table, number};
use crate::error::{MlError, Result};

/// Rows shown by the rich display of a table-like value.
const PREVIEW_ROWS: usize = 10;

/// An n × d matrix of `f64` features: one row per sample, one named column
/// per feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    data: Array2<f64>,
    columns: Vec<String>,
}

impl Matrix {
    /// A matrix from rows of equal length; columns are named `x0`, `x1`, ….
    ///
    /// # Errors
    /// [`MlError::Shape`] when rows differ in length.
    pub fn from_rows(rows: &[Vec<f64>]) -> Result<Self> {
        let d = rows.first().map_or(0, Vec::len);
        if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != d) {
            return Err(MlError::Shape(format!("row {i} has {} values, row 0 has {d}", r.len())));
        }
        let flat: Vec<f64> = rows.iter().flatten().copied().collect();
        Self::from_vec(rows.len(), d, flat)
    }

    /// A matrix of `nrows` × `ncols` from values in row-major order.
    ///
    /// # Errors
    /// [`MlError::Shape`] when `values.len() != nrows * ncols`.
    pub fn from_vec(nrows: usize, ncols: usize, values: Vec<f64>) -> Result<Self> {
        let data = Array2::from_shape_vec((nrows, ncols), values)
            .map_err(|_| MlError::Shape(format!("cannot shape the values into {nrows} × {ncols}")))?;
        Ok(Self::from_array(data))
    }

    /// Wraps an ndarray array (columns named `x0`, `x1`, …).
    pub fn from_array(data: Array2<f64>) -> Self {
        let columns = (0..data.ncols()).map(|j| format!("x{j}")).collect();
        Self { data, columns }
    }

    /// The same matrix with these column names.
    ///
    /// # Errors
    /// [`MlError::Shape`] when the number of names is not the number of columns.
    pub fn with_columns<S: AsRef<str>>(mut self, names: &[S]) -> Result<Self> {
        if names.len() != self.ncols() {
            return Err(MlError::Shape(format!("{} names for {} columns", names.len(), self.ncols())));
        }
        self.columns = names.iter().map(|s| s.as_ref().to_owned()).collect();
        Ok(self)
    }

    /// Number of rows (samples).
    pub fn nrows(&self) -> usize {
        self.data.nrows()
    }

    /// Number of columns (features).
    pub fn ncols(&self) -> usize {
        self.data.ncols()
    }

    /// `(rows, columns)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.nrows(), self.ncols())
    }

    /// The column names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The value at row `i`, column `j`, if in range.
    pub fn get(&self, i: usize, j: usize) -> Option<f64> {
        self.data.get((i, j)).copied()
    }

    /// Row `i` as a vector of its values.
    ///
    /// # Errors
    /// [`MlError::Shape`] when `i` is out of range.
    pub fn row(&self, i: usize) -> Result<Vec<f64>> {
        if i >= self.nrows() {
            return Err(MlError::Shape(format!("row {i} of a matrix with {} rows", self.nrows())));
        }
        Ok(self.data.row(i).to_vec())
    }

    /// The column called `name`.
    ///
    /// # Errors
    /// [`MlError::Shape`] when there is no such column.
    pub fn column(&self, name: &str) -> Result<Vector> {
        let j = self.column_index(name)?;
        Ok(Vector::from_array(self.data.column(j).to_owned()))
    }

    pub(crate) fn column_index(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| MlError::Shape(format!("no column `{name}`; the columns are {}", self.columns.join(", "))))
    }

    /// The matrix with only the named columns, in that order.
    ///
    /// # Errors
    /// [`MlError::Shape`] for an unknown name.
    pub fn select_columns<S: AsRef<str>>(&self, names: &[S]) -> Result<Matrix> {
        let idx = names.iter().map(|n| self.column_index(n.as_ref())).collect::<Result<Vec<_>>>()?;
        let data = self.data.select(Axis(1), &idx);
        let columns = idx.iter().map(|&j| self.columns[j].clone()).collect();
        Ok(Matrix { data, columns })
    }

    /// This matrix's columns followed by `other`'s (features side by side).
    ///
    /// # Errors
    /// [`MlError::Shape`] when the row counts differ or a column name is in both.
    pub fn hstack(&self, other: &Matrix) -> Result<Matrix> {
        if self.nrows() != other.nrows() {
            return Err(MlError::Shape(format!("{} rows beside {} rows", self.nrows(), other.nrows())));
        }
        if let Some(twice) = other.columns.iter().find(|c| self.columns.contains(c)) {
            return Err(MlError::Shape(format!("column `{twice}` is in both matrices")));
        }
        let data = ndarray::concatenate(Axis(1), &[self.data.view(), other.data.view()])
            .map_err(|e| MlError::Shape(e.to_string()))?;
        let columns = self.columns.iter().chain(&other.columns).cloned().collect();
        Ok(Matrix { data, columns })
    }

    /// The matrix with only the given rows, in that order.
    ///
    /// # Errors
    /// [`MlError::Shape`] for an index out of range.
    pub fn select_rows(&self, rows: &[usize]) -> Result<Matrix> {
        check_indices(rows, self.nrows())?;
        Ok(Matrix { data: self.data.select(Axis(0), rows), columns: self.columns.clone() })
    }

    /// Checks that every value is finite.
    ///
    /// # Errors
    /// [`MlError::NonFinite`] naming the first offending row and column.
    pub fn check_finite(&self) -> Result<()> {
        for ((i, j), v) in self.data.indexed_iter() {
            if !v.is_finite() {
                return Err(MlError::NonFinite { row: i, column: format!("`{}`", self.columns[j]) });
            }
        }
        Ok(())
    }

    /// The underlying array, read-only.
    pub fn view(&self) -> ArrayView2<'_, f64> {
        self.data.view()
    }

    /// The underlying array.
    pub fn array(&self) -> &Array2<f64> {
        &self.data
    }

    /// Shows the first rows as an HTML table in a notebook.
    pub fn evcxr_display(&self) {
        emit("text/html", &self.to_html());
    }

    /// The first rows as an HTML table.
    pub fn to_html(&self) -> String {
        let rows: Vec<Vec<String>> =
            self.data.outer_iter().take(PREVIEW_ROWS).map(|r| r.iter().map(|&v| number(v)).collect()).collect();
        let caption = format!("Matrix {} × {}", self.nrows(), self.ncols());
        html_table(&caption, &self.columns, &rows)
    }
}

fn check_indices(rows: &[usize], n: usize) -> Result<()> {
    match rows.iter().find(|&&i| i >= n) {
        Some(i) => Err(MlError::Shape(format!("row {i} requested from {n} rows"))),
        None => Ok(()),
    }
}

impl fmt::Display for Matrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Matrix {} × {} [{}]", self.nrows(), self.ncols(), self.columns.join(", "))?;
        for r in self.data.outer_iter().take(PREVIEW_ROWS) {
            let cells: Vec<String> = r.iter().map(|&v| number(v)).collect();
            writeln!(f, "  {}", cells.join("\t"))?;
        }
        if self.nrows() > PREVIEW_ROWS {
            writeln!(f, "  … {} more rows", self.nrows() - PREVIEW_ROWS)?;
        }
        Ok(())
    }
}

/// A column of `f64` values: a regression target, scores, predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vector(Array1<f64>);

impl Vector {
    /// A vector of these values.
    pub fn from_vec(values: Vec<f64>) -> Self {
        Self(Array1::from(values))
    }

    /// Wraps an ndarray array.
    pub fn from_array(values: Array1<f64>) -> Self {
        Self(values)
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value at `i`, if in range.
    pub fn get(&self, i: usize) -> Option<f64> {
        self.0.get(i).copied()
    }

    /// The values as a slice.
    pub fn as_slice(&self) -> &[f64] {
        self.0.as_slice().unwrap_or(&[])
    }

    /// The values as a `Vec`.
    pub fn to_vec(&self) -> Vec<f64> {
        self.0.to_vec()
    }

    /// The arithmetic mean (NaN when empty).
    pub fn mean(&self) -> f64 {
        self.0.mean().unwrap_or(f64::NAN)
    }

    /// The population standard deviation (NaN when empty).
    pub fn std(&self) -> f64 {
        if self.is_empty() { f64::NAN } else { self.0.std(0.0) }
    }

    /// The values at the given positions.
    ///
    /// # Errors
    /// [`MlError::Shape`] for an index out of range.
    pub fn select(&self, rows: &[usize]) -> Result<Vector> {
        check_indices(rows, self.len())?;
        Ok(Vector(self.0.select(Axis(0), rows)))
    }

    /// A new vector of `f(value)` for each value: a derived feature, e.g.
    /// `amount.map(f64::ln_1p)`.
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Vector {
        Vector(self.0.mapv(f))
    }

    /// A new vector of `f(a, b)` for each pair of values at the same
    /// position: a feature from two columns, e.g. power from torque and
    /// speed, `torque.zip_with(&rpm, |t, n| t * n * 2.0 * PI / 60.0)?`.
    ///
    /// # Errors
    /// [`MlError::Shape`] when the lengths differ.
    pub fn zip_with(&self, other: &Vector, f: impl Fn(f64, f64) -> f64) -> Result<Vector> {
        if self.len() != other.len() {
            return Err(MlError::Shape(format!(
                "zip_with needs vectors of the same length, got {} and {}",
                self.len(),
                other.len()
            )));
        }
        Ok(Vector(ndarray::Zip::from(&self.0).and(&other.0).map_collect(|&a, &b| f(a, b))))
    }

    /// The underlying array.
    pub fn array(&self) -> &Array1<f64> {
        &self.0
    }

    /// Checks that every value is finite.
    ///
    /// # Errors
    /// [`MlError::NonFinite`] naming the first offending position.
    pub fn check_finite(&self) -> Result<()> {
        match self.0.iter().position(|v| !v.is_finite()) {
            Some(i) => Err(MlError::NonFinite { row: i, column: "target".into() }),
            None => Ok(()),
        }
    }
}

impl fmt::Display for Vector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self.0.iter().take(PREVIEW_ROWS).map(|&v| number(v)).collect();
        let more = if self.len() > PREVIEW_ROWS { format!(", … ({} values)", self.len()) } else { String::new() };
        write!(f, "[{}{more}]", shown.join(", "))
    }
}

/// One class per row, stored as indices into a sorted list of class names.
///
/// For binary problems the classes are two, and the *positive* class is the
/// second one (`classes()[1]`): `1` of `0/1`, `true` of `false/true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Labels {
    ids: Vec<usize>,
    classes: Vec<String>,
}

impl Labels {
    /// Labels from class names; classes are sorted (numerically when every
    /// name is a number, else alphabetically).
    pub fn from_strings<S: AsRef<str>>(values: &[S]) -> Self {
        let mut classes: Vec<String> = values.iter().map(|v| v.as_ref().to_owned()).collect();
        classes.sort_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
            (Ok(x), Ok(y)) => x.total_cmp(&y),
            _ => a.cmp(b),
        });
        classes.dedup();
        let index: BTreeMap<&str, usize> = classes.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
        let ids = values.iter().map(|v| index[v.as_ref()]).collect();
        Self { ids, classes }
    }

    /// Labels from integer classes (`0`/`1` for binary problems).
    pub fn from_ints(values: &[i64]) -> Self {
        let names: Vec<String> = values.iter().map(ToString::to_string).collect();
        Self::from_strings(&names)
    }

    /// Binary labels: `false` is the negative class, `true` the positive.
    pub fn from_bools(values: &[bool]) -> Self {
        Self { ids: values.iter().map(|&b| usize::from(b)).collect(), classes: vec!["false".into(), "true".into()] }
    }

    /// Labels from class indices into `classes`.
    ///
    /// # Errors
    /// [`MlError::Shape`] when an index is not below `classes.len()`.
    pub fn from_ids(ids: Vec<usize>, classes: Vec<String>) -> Result<Self> {
        if let Some(bad) = ids.iter().find(|&&i| i >= classes.len()) {
            return Err(MlError::Shape(format!("class index {bad} with only {} classes", classes.len())));
        }
        Ok(Self { ids, classes })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The class names, in index order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The class index of every row.
    pub fn ids(&self) -> &[usize] {
        &self.ids
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.classes.len()
    }

    /// The class name of row `i`.
    pub fn get(&self, i: usize) -> Option<&str> {
        self.ids.get(i).map(|&c| self.classes[c].as_str())
    }

    /// Whether row `i` is in the positive (second) class of a binary problem.
    pub fn is_positive(&self, i: usize) -> bool {
        self.ids.get(i) == Some(&1)
    }

    /// How many rows each class has, in class order.
    pub fn counts(&self) -> Vec<(String, usize)> {
        let mut n = vec![0usize; self.classes.len()];
        for &c in &self.ids {
            n[c] += 1;
        }
        self.classes.iter().cloned().zip(n).collect()
    }

    /// The same labels with the class list of `other` (for comparing
    /// predictions with truth when one side lacks a class).
    ///
    /// # Errors
    /// [`MlError::InvalidData`] when a class of `self` is not in `other`.
    pub fn aligned_to(&self, other: &Labels) -> Result<Labels> {
        let map = self
            .classes
            .iter()
            .map(|c| {
                other.classes.iter().position(|o| o == c).ok_or_else(|| {
                    MlError::InvalidData(format!("class `{c}` is not among {}", other.classes.join(", ")))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Labels { ids: self.ids.iter().map(|&i| map[i]).collect(), classes: other.classes.clone() })
    }

    /// The labels at the given positions.
    ///
    /// # Errors
    /// [`MlError::Shape`] for an index out of range.
    pub fn select(&self, rows: &[usize]) -> Result<Labels> {
        check_indices(rows, self.len())?;
        Ok(Labels { ids: rows.iter().map(|&i| self.ids[i]).collect(), classes: self.classes.clone() })
    }

    /// Shows the class counts in a notebook.
    pub fn evcxr_display(&self) {
        let rows: Vec<Vec<String>> = self
            .counts()
            .into_iter()
            .map(|(c, n)| vec![c, n.to_string(), format!("{:.3} %", 100.0 * n as f64 / self.len().max(1) as f64)])
            .collect();
        let header = ["class".to_owned(), "rows".to_owned(), "share".to_owned()];
        emit("text/html", &html_table(&format!("Labels ({} rows)", self.len()), &header, &rows));
    }
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts: Vec<String> = self.counts().into_iter().map(|(c, n)| format!("{c}: {n}")).collect();
        write!(f, "Labels ({} rows; {})", self.len(), counts.join(", "))
    }
}

/// What a dataset is to predict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Target {
    /// Classification: a class per row.
    Classes(Labels),
    /// Regression: a number per row.
    Values(Vector),
    /// Unsupervised learning: nothing.
    None,
}

impl Target {
    fn len(&self) -> Option<usize> {
        match self {
            Target::Classes(l) => Some(l.len()),
            Target::Values(v) => Some(v.len()),
            Target::None => None,
        }
    }
}

/// Features with what to predict from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    features: Matrix,
    target: Target,
}

impl Dataset {
    /// Features with classes to predict.
    ///
    /// # Errors
    /// [`MlError::Shape`] when there are not as many labels as rows.
    pub fn classification(features: Matrix, labels: Labels) -> Result<Self> {
        Self::new(features, Target::Classes(labels))
    }

    /// Features with numbers to predict.
    ///
    /// # Errors
    /// [`MlError::Shape`] when there are not as many values as rows.
    pub fn regression(features: Matrix, values: Vector) -> Result<Self> {
        Self::new(features, Target::Values(values))
    }

    /// Features alone, for clustering, PCA and anomaly detection.
    pub fn unsupervised(features: Matrix) -> Self {
        Self { features, target: Target::None }
    }

    /// Features with any target.
    ///
    /// # Errors
    /// [`MlError::Shape`] when the target's length is not the number of rows.
    pub fn new(features: Matrix, target: Target) -> Result<Self> {
        if let Some(n) = target.len().filter(|&n| n != features.nrows()) {
            return Err(MlError::Shape(format!("{} rows of features but {n} targets", features.nrows())));
        }
        Ok(Self { features, target })
    }

    /// The features.
    pub fn features(&self) -> &Matrix {
        &self.features
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.features.nrows()
    }

    /// Number of feature columns.
    pub fn ncols(&self) -> usize {
        self.features.ncols()
    }

    /// The class labels.
    ///
    /// # Errors
    /// [`MlError::InvalidData`] when this is not a classification dataset.
    pub fn labels(&self) -> Result<&Labels> {
        match &self.target {
            Target::Classes(l) => Ok(l),
            _ => Err(MlError::InvalidData(
                "this dataset has no class labels (it is not a classification dataset)".into(),
            )),
        }
    }

    /// The regression target.
    ///
    /// # Errors
    /// [`MlError::InvalidData`] when this is not a regression dataset.
    pub fn values(&self) -> Result<&Vector> {
        match &self.target {
            Target::Values(v) => Ok(v),
            _ => {
                Err(MlError::InvalidData("this dataset has no numeric target (it is not a regression dataset)".into()))
            }
        }
    }

    /// The rows at the given positions, target included.
    ///
    /// # Errors
    /// [`MlError::Shape`] for an index out of range.
    pub fn select_rows(&self, rows: &[usize]) -> Result<Dataset> {
        let target = match &self.target {
            Target::Classes(l) => Target::Classes(l.select(rows)?),
            Target::Values(v) => Target::Values(v.select(rows)?),
            Target::None => Target::None,
        };
        Ok(Dataset { features: self.features.select_rows(rows)?, target })
    }

    /// Checks the dataset is usable for fitting: rows exist, every value finite.
    ///
    /// # Errors
    /// [`MlError::Empty`] or [`MlError::NonFinite`].
    pub fn check_fit_ready(&self) -> Result<()> {
        if self.nrows() == 0 {
            return Err(MlError::Empty("the dataset has no rows".into()));
        }
        if self.ncols() == 0 {
            return Err(MlError::Empty("the dataset has no feature columns".into()));
        }
        self.features.check_finite()?;
        if let Target::Values(v) = &self.target {
            v.check_finite()?;
        }
        Ok(())
    }

    /// Shows the first rows with their target in a notebook.
    pub fn evcxr_display(&self) {
        let mut header = self.features.columns().to_vec();
        header.push("target".into());
        let rows: Vec<Vec<String>> = (0..self.nrows().min(PREVIEW_ROWS))
            .map(|i| {
                let mut r: Vec<String> = self.features.view().row(i).iter().map(|&v| number(v)).collect();
                r.push(match &self.target {
                    Target::Classes(l) => l.get(i).unwrap_or_default().to_owned(),
                    Target::Values(v) => v.get(i).map(number).unwrap_or_default(),
                    Target::None => String::new(),
                });
                r
            })
            .collect();
        let caption = format!("Dataset {} rows × {} features", self.nrows(), self.ncols());
        emit("text/html", &html_table(&caption, &header, &rows));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_derive_features_value_by_value() {
        let torque = Vector::from_vec(vec![40.0, 10.0]);
        let rpm = Vector::from_vec(vec![1500.0, 3000.0]);
        assert_eq!(torque.zip_with(&rpm, |t, n| t * n).unwrap().to_vec(), [60_000.0, 30_000.0]);
        assert_eq!(torque.map(|t| t / 10.0).to_vec(), [4.0, 1.0]);
        let err = torque.zip_with(&Vector::from_vec(vec![1.0]), |a, b| a + b).unwrap_err();
        assert!(err.to_string().contains("same length, got 2 and 1"), "{err}");
    }

    #[test]
    fn matrices_check_their_shape_and_values() {
        assert!(Matrix::from_rows(&[vec![1.0, 2.0], vec![3.0]]).is_err());
        let m = Matrix::from_rows(&[vec![1.0, 2.0], vec![3.0, f64::NAN]]).unwrap().with_columns(&["a", "b"]).unwrap();
        assert_eq!(m.shape(), (2, 2));
        assert_eq!(m.check_finite(), Err(MlError::NonFinite { row: 1, column: "`b`".into() }));
        assert_eq!(m.column("a").unwrap().to_vec(), vec![1.0, 3.0]);
        assert!(m.column("c").unwrap_err().to_string().contains("the columns are a, b"));
        assert_eq!(m.select_columns(&["b"]).unwrap().columns(), ["b"]);
        assert!(m.select_rows(&[2]).is_err());
    }

    #[test]
    fn matrices_stack_side_by_side() {
        let a = Matrix::from_rows(&[vec![1.0], vec![2.0]]).unwrap().with_columns(&["a"]).unwrap();
        let b = Matrix::from_rows(&[vec![3.0, 4.0], vec![5.0, 6.0]]).unwrap().with_columns(&["b", "c"]).unwrap();
        let both = a.hstack(&b).unwrap();
        assert_eq!(
            (both.columns(), both.row(1).unwrap()),
            (&["a".to_owned(), "b".into(), "c".into()][..], vec![2.0, 5.0, 6.0])
        );
        assert!(a.hstack(&a).unwrap_err().to_string().contains("column `a` is in both"));
        assert!(a.hstack(&b.select_rows(&[0]).unwrap()).unwrap_err().to_string().contains("2 rows beside 1 rows"));
    }

    #[test]
    fn labels_sort_classes_naturally_and_count() {
        let l = Labels::from_strings(&["10", "2", "2", "1"]);
        assert_eq!(l.classes(), ["1", "2", "10"]);
        assert_eq!(l.ids(), [2, 1, 1, 0]);
        assert_eq!(l.counts(), vec![("1".into(), 1), ("2".into(), 2), ("10".into(), 1)]);
        let b = Labels::from_ints(&[0, 1, 1]);
        assert!(b.is_positive(1) && !b.is_positive(0));
        let only_one = Labels::from_ints(&[1, 1]);
        assert_eq!(only_one.aligned_to(&b).unwrap().ids(), [1, 1]);
        assert!(Labels::from_ints(&[7]).aligned_to(&b).is_err());
    }

    #[test]
    fn datasets_match_lengths() {
        let x = Matrix::from_rows(&[vec![1.0], vec![2.0]]).unwrap();
        assert!(Dataset::classification(x.clone(), Labels::from_ints(&[0])).is_err());
        let d = Dataset::regression(x, Vector::from_vec(vec![1.0, 2.0])).unwrap();
        assert!(d.labels().is_err());
        assert_eq!(d.select_rows(&[1]).unwrap().values().unwrap().to_vec(), vec![2.0]);
        assert!(Dataset::unsupervised(Matrix::from_vec(0, 3, vec![]).unwrap()).check_fit_ready().is_err());
    }
}
