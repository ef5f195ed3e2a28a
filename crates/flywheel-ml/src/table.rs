//! [`Table`]: a small data frame, enough for the labs — read a CSV with
//! typed columns, look at it (`head`, `describe`, `value_counts`), pick
//! columns, one-hot encode text, and turn it into a [`Dataset`].
//!
//! Why not polars: it would be a second way to hold data, and its types
//! cannot be kept in a notebook variable without the cell depending on
//! polars directly. A column here is numbers (`f64`, missing = NaN) or text.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::display::{emit, html_table, number};
use crate::error::{MlError, Result};
use crate::{Dataset, Labels, Matrix, Vector};

/// One column's values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ColumnData {
    /// Numbers; a missing value is NaN.
    Numbers(Vec<f64>),
    /// Text.
    Text(Vec<String>),
}

/// A named column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    name: String,
    data: ColumnData,
}

/// A table of named, typed columns of equal length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    columns: Vec<Column>,
    nrows: usize,
}

impl Table {
    /// Reads a CSV file with a header row. A column is numeric when every
    /// non-empty cell parses as a number (empty cells become NaN);
    /// otherwise it is text.
    ///
    /// # Errors
    /// [`MlError::Read`] naming the file for I/O errors, and the line for a
    /// row with the wrong number of fields; [`MlError::Empty`] without a header.
    pub fn read_csv(path: impl AsRef<Path>) -> Result<Table> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| MlError::Read(format!("{}: {e}", path.display())))?;
        Self::from_reader(file).map_err(|e| match e {
            MlError::Read(m) => MlError::Read(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Parses CSV text with a header row (see [`Table::read_csv`]).
    ///
    /// # Errors
    /// As [`Table::read_csv`].
    pub fn from_csv_str(text: &str) -> Result<Table> {
        Self::from_reader(text.as_bytes())
    }

    fn from_reader(reader: impl Read) -> Result<Table> {
        let mut csv = csv::ReaderBuilder::new().flexible(false).from_reader(reader);
        let header: Vec<String> =
            csv.headers().map_err(|e| MlError::Read(e.to_string()))?.iter().map(|h| h.trim().to_owned()).collect();
        if header.is_empty() || header.iter().all(String::is_empty) {
            return Err(MlError::Empty("the CSV has no header row".into()));
        }
        let mut seen = BTreeMap::new();
        for (i, h) in header.iter().enumerate() {
            if let Some(j) = seen.insert(h.as_str(), i) {
                return Err(MlError::Read(format!("columns {} and {} are both named `{h}`", j + 1, i + 1)));
            }
        }
        let mut cells: Vec<Vec<String>> = vec![Vec::new(); header.len()];
        for record in csv.records() {
            let record = record.map_err(|e| match e.kind() {
                csv::ErrorKind::UnequalLengths { pos, expected_len, len } => MlError::Read(format!(
                    "line {}: expected {expected_len} fields like the header, found {len}",
                    pos.as_ref().map_or(0, csv::Position::line)
                )),
                _ => MlError::Read(e.to_string()),
            })?;
            for (col, value) in cells.iter_mut().zip(record.iter()) {
                col.push(value.trim().to_owned());
            }
        }
        let nrows = cells.first().map_or(0, Vec::len);
        let columns =
            header.into_iter().zip(cells).map(|(name, values)| Column { name, data: infer(values) }).collect();
        Ok(Table { columns, nrows })
    }

    /// The table as CSV text: a header row of the column names, then one
    /// line per row. Numbers are written so that they parse back to the same
    /// `f64` (the shortest exact decimal, in exponent form below 1e-5 or
    /// from 1e16 up); a missing number (NaN) is an empty cell; text is
    /// quoted where it needs to be (commas, quotes, line breaks), as the
    /// `csv` crate does. [`Table::from_csv_str`] reads it back, with the
    /// reader's rules: surrounding spaces are trimmed, a text column whose
    /// values all look like numbers becomes numeric, and a numeric column
    /// with no value at all becomes text.
    ///
    /// ```
    /// use flywheel_ml::Table;
    ///
    /// let t = Table::from_csv_str("x,name\n0.1,\"Smith, J.\"\n,Lee\n")?;
    /// assert_eq!(t.to_csv_string()?, "x,name\n0.1,\"Smith, J.\"\n,Lee\n");
    /// # Ok::<(), flywheel_ml::MlError>(())
    /// ```
    ///
    /// # Errors
    /// [`MlError::Empty`] for a table without columns (CSV needs a header).
    pub fn to_csv_string(&self) -> Result<String> {
        let mut bytes = Vec::new();
        self.write_csv_to(&mut bytes)?;
        String::from_utf8(bytes).map_err(|e| MlError::Write(format!("the table as CSV: {e}")))
    }

    /// Writes the table to `path` as CSV ([`Table::to_csv_string`]'s text),
    /// replacing any file there.
    ///
    /// # Errors
    /// [`MlError::Empty`] for a table without columns; [`MlError::Write`]
    /// naming the path when the file cannot be written.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let file = std::fs::File::create(path).map_err(|e| MlError::Write(format!("{}: {e}", path.display())))?;
        self.write_csv_to(std::io::BufWriter::new(file)).map_err(|e| match e {
            MlError::Write(m) => MlError::Write(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    fn write_csv_to(&self, out: impl std::io::Write) -> Result<()> {
        if self.columns.is_empty() {
            return Err(MlError::Empty("a table without columns has no CSV header".into()));
        }
        let failed = |e: csv::Error| MlError::Write(e.to_string());
        let mut csv = csv::Writer::from_writer(out);
        csv.write_record(self.columns.iter().map(|c| c.name.as_str())).map_err(failed)?;
        let mut record = Vec::with_capacity(self.columns.len());
        for i in 0..self.nrows {
            record.clear();
            record.extend(self.columns.iter().map(|c| match &c.data {
                ColumnData::Numbers(v) => exact_number(v[i]),
                ColumnData::Text(t) => t[i].clone(),
            }));
            csv.write_record(&record).map_err(failed)?;
        }
        csv.flush().map_err(|e| MlError::Write(e.to_string()))
    }

    /// A table from columns of numbers.
    ///
    /// # Errors
    /// [`MlError::Shape`] when the columns differ in length.
    pub fn from_numbers(columns: Vec<(String, Vec<f64>)>) -> Result<Table> {
        let nrows = columns.first().map_or(0, |c| c.1.len());
        if let Some((name, _)) = columns.iter().find(|c| c.1.len() != nrows) {
            return Err(MlError::Shape(format!("column `{name}` has a different length")));
        }
        Ok(Table {
            columns: columns.into_iter().map(|(name, v)| Column { name, data: ColumnData::Numbers(v) }).collect(),
            nrows,
        })
    }

    /// A table from named columns of numbers or text.
    ///
    /// # Errors
    /// [`MlError::Shape`] when the columns differ in length;
    /// [`MlError::Read`] when two columns share a name.
    pub fn new(columns: Vec<(String, ColumnData)>) -> Result<Table> {
        let len = |d: &ColumnData| match d {
            ColumnData::Numbers(v) => v.len(),
            ColumnData::Text(t) => t.len(),
        };
        let nrows = columns.first().map_or(0, |c| len(&c.1));
        if let Some((name, _)) = columns.iter().find(|c| len(&c.1) != nrows) {
            return Err(MlError::Shape(format!("column `{name}` has a different length")));
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some((name, _)) = columns.iter().find(|c| !seen.insert(c.0.clone())) {
            return Err(MlError::Read(format!("two columns are named `{name}`")));
        }
        Ok(Table { columns: columns.into_iter().map(|(name, data)| Column { name, data }).collect(), nrows })
    }

    /// The table with only these columns, in this order.
    ///
    /// # Errors
    /// [`MlError::Shape`] naming a column the table does not have.
    pub fn select<S: AsRef<str>>(&self, names: &[S]) -> Result<Table> {
        let columns = names.iter().map(|n| self.column(n.as_ref()).cloned()).collect::<Result<Vec<_>>>()?;
        Ok(Table { columns, nrows: self.nrows })
    }

    /// The table without these columns (identifiers, leaking labels…).
    ///
    /// # Errors
    /// [`MlError::Shape`] naming a column the table does not have.
    pub fn drop<S: AsRef<str>>(&self, names: &[S]) -> Result<Table> {
        for n in names {
            self.column(n.as_ref())?;
        }
        let columns = self.columns.iter().filter(|c| !names.iter().any(|n| n.as_ref() == c.name)).cloned().collect();
        Ok(Table { columns, nrows: self.nrows })
    }

    /// The table with a numeric column added at the end, or replaced in
    /// place when a column of that name exists: an engineered feature.
    ///
    /// # Errors
    /// [`MlError::Shape`] when `values` does not have one value per row.
    pub fn with_column(&self, name: &str, values: &Vector) -> Result<Table> {
        if values.len() != self.nrows {
            return Err(MlError::Shape(format!(
                "column `{name}` has {} values, the table {} rows",
                values.len(),
                self.nrows
            )));
        }
        let mut table = self.clone();
        let data = ColumnData::Numbers(values.to_vec());
        match table.columns.iter_mut().find(|c| c.name == name) {
            Some(c) => c.data = data,
            None => table.columns.push(Column { name: name.to_owned(), data }),
        }
        Ok(table)
    }

    /// The rows where `keep` is true, in order.
    ///
    /// # Errors
    /// [`MlError::Shape`] when `keep` does not have one value per row.
    pub fn filter(&self, keep: &[bool]) -> Result<Table> {
        if keep.len() != self.nrows {
            return Err(MlError::Shape(format!("filter has {} values, the table {} rows", keep.len(), self.nrows)));
        }
        let rows: Vec<usize> = keep.iter().enumerate().filter(|(_, k)| **k).map(|(i, _)| i).collect();
        Ok(self.take_rows(&rows))
    }

    /// A text column's values (a numeric column's as written by [`Table::to_html`]).
    ///
    /// # Errors
    /// [`MlError::Shape`] for a column the table does not have.
    pub fn texts(&self, name: &str) -> Result<Vec<String>> {
        let col = self.column(name)?;
        Ok(match &col.data {
            ColumnData::Text(t) => t.clone(),
            ColumnData::Numbers(v) => v.iter().map(|&x| number(x)).collect(),
        })
    }

    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.nrows
    }

    /// Number of columns.
    pub fn ncols(&self) -> usize {
        self.columns.len()
    }

    /// The column names, in order.
    pub fn column_names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// The names of the numeric columns.
    pub fn numeric_columns(&self) -> Vec<String> {
        self.columns.iter().filter(|c| matches!(c.data, ColumnData::Numbers(_))).map(|c| c.name.clone()).collect()
    }

    fn column(&self, name: &str) -> Result<&Column> {
        self.columns.iter().find(|c| c.name == name).ok_or_else(|| {
            MlError::Shape(format!("no column `{name}`; the columns are {}", self.column_names().join(", ")))
        })
    }

    /// A numeric column's values.
    ///
    /// # Errors
    /// [`MlError::Shape`] for an unknown column; [`MlError::InvalidData`] for a text column.
    pub fn numbers(&self, name: &str) -> Result<Vector> {
        match &self.column(name)?.data {
            ColumnData::Numbers(v) => Ok(Vector::from_vec(v.clone())),
            ColumnData::Text(t) => {
                let example = t.iter().find(|s| s.parse::<f64>().is_err()).cloned().unwrap_or_default();
                Err(MlError::InvalidData(format!(
                    "column `{name}` holds text (e.g. {example:?}), not numbers; use `labels` for a class column or `one_hot` for a feature"
                )))
            }
        }
    }

    /// A column as class labels (numbers or text; missing numbers are refused).
    ///
    /// # Errors
    /// [`MlError::Shape`] for an unknown column; [`MlError::InvalidData`] for a missing value.
    pub fn labels(&self, name: &str) -> Result<Labels> {
        let values: Vec<String> = match &self.column(name)?.data {
            ColumnData::Numbers(v) => {
                if let Some(i) = v.iter().position(|x| x.is_nan()) {
                    return Err(MlError::InvalidData(format!("column `{name}` has no value on row {i}")));
                }
                v.iter().map(|&x| number(x)).collect()
            }
            ColumnData::Text(t) => t.clone(),
        };
        Ok(Labels::from_strings(&values))
    }

    /// The named numeric columns as a matrix (n × len(names)).
    ///
    /// # Errors
    /// An unknown or text column, as [`Table::numbers`].
    pub fn matrix<S: AsRef<str>>(&self, names: &[S]) -> Result<Matrix> {
        let cols = names.iter().map(|n| self.numbers(n.as_ref())).collect::<Result<Vec<_>>>()?;
        let mut values = Vec::with_capacity(self.nrows * cols.len());
        for i in 0..self.nrows {
            values.extend(cols.iter().map(|c| c.get(i).unwrap_or(f64::NAN)));
        }
        Matrix::from_vec(self.nrows, cols.len(), values)?.with_columns(names)
    }

    fn features_except(&self, target: &str) -> Result<Matrix> {
        self.column(target)?;
        let names: Vec<String> = self.numeric_columns().into_iter().filter(|c| c != target).collect();
        if names.is_empty() {
            return Err(MlError::Empty(format!("no numeric feature columns besides `{target}`")));
        }
        self.matrix(&names)
    }

    /// A classification dataset: `target` as labels, every other numeric
    /// column as a feature (one-hot encode text columns first to include them).
    ///
    /// # Errors
    /// An unknown target; no numeric features; a missing label.
    pub fn classification(&self, target: &str) -> Result<Dataset> {
        Dataset::classification(self.features_except(target)?, self.labels(target)?)
    }

    /// A regression dataset: `target` as numbers, every other numeric column as a feature.
    ///
    /// # Errors
    /// An unknown or text target; no numeric features.
    pub fn regression(&self, target: &str) -> Result<Dataset> {
        Dataset::regression(self.features_except(target)?, self.numbers(target)?)
    }

    /// The first `n` rows.
    pub fn head(&self, n: usize) -> Table {
        let rows: Vec<usize> = (0..n.min(self.nrows)).collect();
        self.take_rows(&rows)
    }

    fn take_rows(&self, rows: &[usize]) -> Table {
        let columns = self
            .columns
            .iter()
            .map(|c| Column {
                name: c.name.clone(),
                data: match &c.data {
                    ColumnData::Numbers(v) => ColumnData::Numbers(rows.iter().map(|&i| v[i]).collect()),
                    ColumnData::Text(t) => ColumnData::Text(rows.iter().map(|&i| t[i].clone()).collect()),
                },
            })
            .collect();
        Table { columns, nrows: rows.len() }
    }

    /// Summary statistics of each numeric column, as pandas' `describe`:
    /// rows `count` (non-missing), `missing`, `mean`, `std` (sample, n − 1),
    /// `min`, `25%`, `50%`, `75%`, `max` (linear-interpolated quantiles).
    pub fn describe(&self) -> Table {
        let stats = ["count", "missing", "mean", "std", "min", "25%", "50%", "75%", "max"];
        let mut columns =
            vec![Column { name: "statistic".into(), data: ColumnData::Text(stats.map(String::from).to_vec()) }];
        for c in &self.columns {
            if let ColumnData::Numbers(v) = &c.data {
                let mut present: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
                present.sort_by(f64::total_cmp);
                let n = present.len() as f64;
                let mean = present.iter().sum::<f64>() / n;
                let var = present.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
                let q = |p: f64| quantile(&present, p);
                let values = vec![
                    n,
                    (v.len() - present.len()) as f64,
                    mean,
                    var.sqrt(),
                    q(0.0),
                    q(0.25),
                    q(0.5),
                    q(0.75),
                    q(1.0),
                ];
                columns.push(Column { name: c.name.clone(), data: ColumnData::Numbers(values) });
            }
        }
        Table { columns, nrows: stats.len() }
    }

    /// How often each value of a column occurs, most frequent first.
    ///
    /// # Errors
    /// An unknown column, or a missing number in it.
    pub fn value_counts(&self, name: &str) -> Result<Table> {
        let labels = self.labels(name)?;
        let mut counts = labels.counts();
        counts.sort_by_key(|c| std::cmp::Reverse(c.1));
        let total = labels.len().max(1) as f64;
        Ok(Table {
            nrows: counts.len(),
            columns: vec![
                Column { name: name.to_owned(), data: ColumnData::Text(counts.iter().map(|c| c.0.clone()).collect()) },
                Column { name: "count".into(), data: ColumnData::Numbers(counts.iter().map(|c| c.1 as f64).collect()) },
                Column {
                    name: "share".into(),
                    data: ColumnData::Numbers(counts.iter().map(|c| c.1 as f64 / total).collect()),
                },
            ],
        })
    }

    /// Replaces a column by one 0/1 column per distinct value, named
    /// `name=value` (values in sorted order).
    ///
    /// # Errors
    /// An unknown column, or a missing number in it.
    pub fn one_hot(&self, name: &str) -> Result<Table> {
        let labels = self.labels(name)?;
        let mut columns = Vec::with_capacity(self.columns.len() + labels.n_classes());
        for c in &self.columns {
            if c.name == name {
                for (k, class) in labels.classes().iter().enumerate() {
                    let v = labels.ids().iter().map(|&id| f64::from(u8::from(id == k))).collect();
                    columns.push(Column { name: format!("{name}={class}"), data: ColumnData::Numbers(v) });
                }
            } else {
                columns.push(c.clone());
            }
        }
        Ok(Table { columns, nrows: self.nrows })
    }

    fn cell(&self, col: &Column, i: usize) -> String {
        match &col.data {
            ColumnData::Numbers(v) => number(v[i]),
            ColumnData::Text(t) => t[i].clone(),
        }
    }

    /// The first rows as an HTML table.
    pub fn to_html(&self) -> String {
        let rows: Vec<Vec<String>> =
            (0..self.nrows.min(20)).map(|i| self.columns.iter().map(|c| self.cell(c, i)).collect()).collect();
        html_table(&format!("Table {} rows × {} columns", self.nrows, self.ncols()), &self.column_names(), &rows)
    }

    /// Shows the first rows in a notebook.
    pub fn evcxr_display(&self) {
        emit("text/html", &self.to_html());
    }
}

/// Linear-interpolated quantile of sorted values (NaN when empty).
fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = p * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// A number as CSV text that parses back to the same `f64`: Rust's
/// shortest round-trip form, in exponent notation where the plain one
/// would be long; NaN (missing) as nothing, infinities as `inf`, `-inf`.
fn exact_number(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else if x == 0.0 || !x.is_finite() || (1e-5..1e16).contains(&x.abs()) {
        x.to_string()
    } else {
        format!("{x:e}")
    }
}

fn infer(values: Vec<String>) -> ColumnData {
    let numeric =
        values.iter().any(|v| !v.is_empty()) && values.iter().all(|v| v.is_empty() || v.parse::<f64>().is_ok());
    if numeric {
        ColumnData::Numbers(values.iter().map(|v| v.parse().unwrap_or(f64::NAN)).collect())
    } else {
        ColumnData::Text(values)
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Table {} rows × {} columns", self.nrows, self.ncols())?;
        writeln!(f, "{}", self.column_names().join("\t"))?;
        for i in 0..self.nrows.min(10) {
            let cells: Vec<String> = self.columns.iter().map(|c| self.cell(c, i)).collect();
            writeln!(f, "{}", cells.join("\t"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "amount,country,class\n10.5,DE,0\n,FR,0\n99,DE,1\n3,US,0\n";

    #[test]
    fn columns_are_picked_dropped_added_and_rows_filtered() {
        let t = Table::from_csv_str(CSV).unwrap();
        assert_eq!(t.select(&["class", "amount"]).unwrap().column_names(), ["class", "amount"]);
        assert_eq!(t.drop(&["country"]).unwrap().column_names(), ["amount", "class"]);
        assert!(t.drop(&["nope"]).unwrap_err().to_string().contains("no column `nope`"));
        let doubled = t.numbers("amount").unwrap().map(|a| 2.0 * a);
        let t2 = t.with_column("double", &doubled).unwrap().with_column("amount", &doubled).unwrap();
        assert_eq!(t2.column_names(), ["amount", "country", "class", "double"], "added at the end, replaced in place");
        assert_eq!(t2.numbers("amount").unwrap().get(0), Some(21.0));
        assert!(matches!(t.with_column("x", &Vector::from_vec(vec![1.0])), Err(MlError::Shape(_))));
        let de = t.filter(&[true, false, true, false]).unwrap();
        assert_eq!((de.nrows(), de.texts("country").unwrap()), (2, vec!["DE".to_owned(), "DE".to_owned()]));
        assert!(matches!(t.filter(&[true]), Err(MlError::Shape(_))));
        assert_eq!(t.texts("class").unwrap(), ["0", "0", "1", "0"]);
        let built = Table::new(vec![
            ("n".into(), ColumnData::Numbers(vec![1.0])),
            ("s".into(), ColumnData::Text(vec!["a".into()])),
        ])
        .unwrap();
        assert_eq!(built.column_names(), ["n", "s"]);
        assert!(matches!(
            Table::new(vec![("n".into(), ColumnData::Numbers(vec![1.0])), ("s".into(), ColumnData::Text(vec![]))]),
            Err(MlError::Shape(_))
        ));
        assert!(matches!(
            Table::new(vec![("n".into(), ColumnData::Numbers(vec![])), ("n".into(), ColumnData::Numbers(vec![]))]),
            Err(MlError::Read(_))
        ));
    }

    #[test]
    fn reads_typed_columns_and_makes_datasets() {
        let t = Table::from_csv_str(CSV).unwrap();
        assert_eq!((t.nrows(), t.ncols()), (4, 3));
        assert_eq!(t.numeric_columns(), ["amount", "class"]);
        assert!(t.numbers("amount").unwrap().get(1).unwrap().is_nan(), "empty cell is missing");
        assert!(t.numbers("country").unwrap_err().to_string().contains("holds text (e.g. \"DE\")"));
        let d = t.one_hot("country").unwrap().classification("class").unwrap();
        assert_eq!(d.features().columns(), ["amount", "country=DE", "country=FR", "country=US"]);
        assert_eq!(d.labels().unwrap().classes(), ["0", "1"]);
    }

    #[test]
    fn tables_written_as_csv_read_back_the_same() {
        let numbers = vec![0.1, 1.0 / 3.0, -2.5e-8, 1e300, f64::NAN, f64::INFINITY, -0.0, 123456789.125];
        let n = numbers.len();
        let text: Vec<String> =
            ["plain", "a, b", "say \"hi\"", "two\nlines", "ünïcode", "x", "", "last"].map(String::from).to_vec();
        let table = Table::new(vec![
            ("value".into(), ColumnData::Numbers(numbers.clone())),
            ("name, quoted".into(), ColumnData::Text(text.clone())),
            ("id".into(), ColumnData::Numbers((0..n).map(|i| i as f64).collect())),
        ])
        .unwrap();
        let csv = table.to_csv_string().unwrap();
        assert!(
            csv.starts_with("value,\"name, quoted\",id\n0.1,plain,0\n0.3333333333333333,\"a, b\",1\n-2.5e-8,"),
            "{csv}"
        );
        assert!(csv.contains("\n1e300,"), "{csv}");
        let back = Table::from_csv_str(&csv).unwrap();
        assert_eq!(back.column_names(), table.column_names());
        let read = back.numbers("value").unwrap().to_vec();
        for (a, b) in numbers.iter().zip(&read) {
            assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "{a} read back as {b}");
        }
        assert_eq!(back.texts("name, quoted").unwrap(), text);
        assert_eq!(back.to_csv_string().unwrap(), csv, "written again, the same text");

        let credit = crate::datasets::german_credit();
        assert_eq!(Table::from_csv_str(&credit.to_csv_string().unwrap()).unwrap(), credit);
        let path = std::env::temp_dir().join(format!("flywheel-table-{}.csv", std::process::id()));
        credit.head(5).write_csv(&path).unwrap();
        let read = Table::read_csv(&path);
        std::fs::remove_file(&path).ok();
        assert_eq!(read.unwrap(), credit.head(5));
        assert!(matches!(Table::new(vec![]).unwrap().to_csv_string(), Err(MlError::Empty(_))));
        let err = credit.write_csv("/no/such/dir/t.csv").unwrap_err();
        assert!(matches!(&err, MlError::Write(m) if m.contains("/no/such/dir/t.csv")), "{err}");
    }

    #[test]
    fn broken_csvs_name_the_line() {
        let err = Table::from_csv_str("a,b\n1,2\n3\n").unwrap_err().to_string();
        assert!(err.contains("line 3: expected 2 fields like the header, found 1"), "{err}");
        assert!(Table::from_csv_str("a,a\n1,2\n").unwrap_err().to_string().contains("both named `a`"));
        assert!(Table::read_csv("/no/such/file.csv").unwrap_err().to_string().contains("/no/such/file.csv"));
    }

    #[test]
    fn describe_and_value_counts_match_pandas() {
        let t = Table::from_numbers(vec![("x".into(), vec![1.0, 2.0, 3.0, 4.0, f64::NAN])]).unwrap();
        let d = t.describe();
        let x = d.numbers("x").unwrap().to_vec();
        // pandas: count 4, mean 2.5, std 1.290994, min 1, 25% 1.75, 50% 2.5, 75% 3.25, max 4
        assert_eq!(x[0], 4.0);
        assert_eq!(x[1], 1.0);
        assert!((x[3] - 1.2909944487358056).abs() < 1e-12);
        assert_eq!(&x[4..], &[1.0, 1.75, 2.5, 3.25, 4.0]);
        let vc = Table::from_csv_str(CSV).unwrap().value_counts("country").unwrap();
        assert_eq!(vc.labels("country").unwrap().get(0), Some("DE"));
        assert_eq!(vc.numbers("count").unwrap().to_vec(), vec![2.0, 1.0, 1.0]);
    }
}
