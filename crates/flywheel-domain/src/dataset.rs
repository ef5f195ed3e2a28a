//! Datasets a participant brings ("your own data"): a CSV file uploaded
//! into their workspace, checked here before anything is stored, and
//! readable from their own kernel sessions as `data/<name>`.
//!
//! The check reads the file the way the algorithm library's
//! `Table::read_csv` will (a header row; a column is numeric when every
//! non-empty cell parses as a number), and lists the rows it could not
//! read — with their line numbers — so the participant can fix the file or
//! choose to store it without them. Parsing happens in memory; no I/O.

use serde::{Deserialize, Serialize};

use crate::{Timestamp, UserId, ValidationError};

/// Bad rows listed by name in a [`CsvReport`]; the rest are only counted.
pub const BAD_ROWS_LISTED: usize = 20;

/// Longest dataset name, in characters.
pub const MAX_NAME_CHARS: usize = 80;

uuid_id!(
    /// A stored dataset's id.
    DatasetId,
    "dataset"
);

/// A dataset's file name in the workspace: what a kernel cell opens as
/// `data/<name>`. Letters, digits, `-`, `_` and `.`, ending in `.csv`, at
/// most [`MAX_NAME_CHARS`] characters, not starting with a dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DatasetName(String);

impl DatasetName {
    /// Checks a name as given.
    ///
    /// # Errors
    /// A [`ValidationError`] on `name` saying which rule it breaks.
    pub fn parse(name: &str) -> Result<Self, ValidationError> {
        let err = |m: &str| Err(ValidationError::new("name", m));
        if name.is_empty() {
            return err("is empty");
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(ValidationError::new("name", format!("is longer than {MAX_NAME_CHARS} characters")));
        }
        if !name.to_ascii_lowercase().ends_with(".csv") || name.len() == 4 {
            return err("must be a CSV file name ending in .csv");
        }
        if name.starts_with('.') {
            return err("must not start with a dot");
        }
        if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
            return Err(ValidationError::new("name", format!("may hold letters, digits, '-', '_' and '.', not {c:?}")));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name for an uploaded file's name as a browser sends it: the last
    /// path component, with every other character than those allowed
    /// replaced by `-` (`"Sales 2024 (v2).csv"` → `Sales-2024--v2-.csv`).
    ///
    /// # Errors
    /// As [`DatasetName::parse`] when what remains is not a CSV name.
    pub fn from_file_name(file_name: &str) -> Result<Self, ValidationError> {
        let last = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name).trim();
        let cleaned: String = last
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' })
            .collect();
        Self::parse(cleaned.trim_start_matches('.'))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for DatasetName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for DatasetName {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<DatasetName> for String {
    fn from(n: DatasetName) -> String {
        n.0
    }
}

/// How a column reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Every non-empty cell is a number.
    Number,
    /// Anything else.
    Text,
}

/// One column of a checked CSV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSummary {
    /// The header's name for it.
    pub name: String,
    /// Numbers or text.
    pub kind: ColumnKind,
    /// Empty cells (missing values) among the good rows.
    pub missing: u64,
}

/// A row that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadRow {
    /// Its line in the file (1 is the header).
    pub line: u64,
    /// What is wrong with it.
    pub message: String,
}

/// What the check found: the good rows, the columns, the bad rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvReport {
    /// Rows that read (the header not counted).
    pub rows: u64,
    /// The columns, in order.
    pub columns: Vec<ColumnSummary>,
    /// Rows that could not be read, in total.
    pub bad_row_count: u64,
    /// The first [`BAD_ROWS_LISTED`] of them.
    pub bad_rows: Vec<BadRow>,
}

/// Why a CSV cannot become a dataset at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    /// The file is not UTF-8 text.
    #[error("the file is not UTF-8 text (line {line}); save it as CSV UTF-8 and upload it again")]
    NotUtf8 {
        /// The first line with bytes that are not UTF-8.
        line: u64,
    },
    /// No header row.
    #[error("the file is empty: a CSV needs a header row naming the columns")]
    Empty,
    /// A header problem.
    #[error("the header row: {0}")]
    Header(String),
    /// Nothing but a header.
    #[error("the file has a header but no row that reads")]
    NoRows,
}

/// Checks CSV bytes: UTF-8, a header of distinct non-empty names, and
/// which rows read. Returns the report and the text to store: the input
/// unchanged when every row reads, else the header and the rows that read,
/// written again as CSV (`\n` line ends).
///
/// A row is bad when it has another number of fields than the header (a
/// stray quote usually shows up this way: it swallows the separators up to
/// the next quote). Empty lines are skipped, as `Table::read_csv` does.
///
/// # Errors
/// [`CsvError`] when the file cannot be a table at all: not UTF-8, empty,
/// a bad header, or no row that reads.
pub fn check_csv(bytes: &[u8]) -> Result<(CsvReport, String), CsvError> {
    let text = std::str::from_utf8(bytes).map_err(|e| CsvError::NotUtf8 {
        line: 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() as u64,
    })?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).has_headers(false).from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        None => return Err(CsvError::Empty),
        Some(Err(e)) => return Err(CsvError::Header(e.to_string())),
        Some(Ok(h)) => h,
    };
    let names: Vec<String> = header.iter().map(|h| h.trim().to_owned()).collect();
    if names.iter().all(String::is_empty) {
        return Err(CsvError::Empty);
    }
    if let Some(i) = names.iter().position(String::is_empty) {
        return Err(CsvError::Header(format!("column {} has no name", i + 1)));
    }
    for (i, n) in names.iter().enumerate() {
        if let Some(j) = names[..i].iter().position(|m| m == n) {
            return Err(CsvError::Header(format!("columns {} and {} are both named `{n}`", j + 1, i + 1)));
        }
    }

    // The line a record starts on. The csv crate's position is where it
    // began reading, before the empty lines it skips: step over them.
    let line_at = |p: Option<&csv::Position>| {
        let mut byte = p.map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX)).min(text.len());
        while matches!(text.as_bytes().get(byte), Some(b'\n' | b'\r')) {
            byte += 1;
        }
        1 + text.as_bytes()[..byte].iter().filter(|&&b| b == b'\n').count() as u64
    };
    let mut good = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    let write_failed = "writing CSV to memory does not fail";
    good.write_record(&header).expect(write_failed);
    let mut numeric = vec![true; names.len()];
    let mut missing = vec![0_u64; names.len()];
    let (mut rows, mut bad_row_count, mut bad_rows) = (0_u64, 0_u64, Vec::new());
    let mut bad = |line: u64, message: String| {
        bad_row_count += 1;
        if bad_rows.len() < BAD_ROWS_LISTED {
            bad_rows.push(BadRow { line, message });
        }
    };
    for record in records {
        match record {
            Err(e) => bad(line_at(e.position()), e.to_string()),
            Ok(r) if r.len() != names.len() => {
                bad(line_at(r.position()), format!("{} fields, the header has {}", r.len(), names.len()));
            }
            Ok(r) => {
                rows += 1;
                for (j, cell) in r.iter().enumerate() {
                    let cell = cell.trim();
                    if cell.is_empty() {
                        missing[j] += 1;
                    } else if numeric[j] && cell.parse::<f64>().is_err() {
                        numeric[j] = false;
                    }
                }
                good.write_record(&r).expect(write_failed);
            }
        }
    }
    if rows == 0 {
        return Err(CsvError::NoRows);
    }
    let columns = names
        .into_iter()
        .zip(numeric.iter().zip(&missing))
        .map(|(name, (&n, &missing))| ColumnSummary {
            name,
            kind: if n { ColumnKind::Number } else { ColumnKind::Text },
            missing,
        })
        .collect();
    let cleaned = if bad_row_count == 0 {
        text.to_owned()
    } else {
        String::from_utf8(good.into_inner().expect(write_failed)).expect("CSV of UTF-8 fields is UTF-8")
    };
    Ok((CsvReport { rows, columns, bad_row_count, bad_rows }, cleaned))
}

/// A stored dataset, without its content.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetRecord {
    /// Its id.
    pub id: DatasetId,
    /// Whose it is: only they see it, and only their kernels read it.
    pub owner: UserId,
    /// The file name kernels open as `data/<name>`.
    pub name: DatasetName,
    /// Size of the stored CSV, bytes.
    pub size_bytes: u64,
    /// Rows (the header not counted).
    pub rows: u64,
    /// Its columns.
    pub columns: Vec<ColumnSummary>,
    /// When it was uploaded.
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_file_names_kernels_can_open() {
        assert_eq!(DatasetName::parse("sales_2024.csv").unwrap().as_str(), "sales_2024.csv");
        for bad in ["", "sales.txt", ".csv", ".hidden.csv", "a/b.csv", "../x.csv", "sp ace.csv"] {
            assert!(DatasetName::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            DatasetName::from_file_name("C:\\Users\\me\\Sales 2024 (v2).csv").unwrap().as_str(),
            "Sales-2024--v2-.csv"
        );
        assert_eq!(DatasetName::from_file_name("/tmp/../.x.csv").unwrap().as_str(), "x.csv");
        assert!(DatasetName::from_file_name("notes.xlsx").is_err());
        assert!(DatasetName::parse(&format!("{}.csv", "a".repeat(80))).is_err());
    }

    #[test]
    fn a_clean_csv_is_typed_and_kept_as_it_is() {
        let (report, text) = check_csv(b"a,b,c\n1,x,\n2.5,y,3\n").unwrap();
        assert_eq!(report.rows, 2);
        assert_eq!(report.bad_row_count, 0);
        let kinds: Vec<_> = report.columns.iter().map(|c| (c.name.as_str(), c.kind, c.missing)).collect();
        assert_eq!(kinds, [("a", ColumnKind::Number, 0), ("b", ColumnKind::Text, 0), ("c", ColumnKind::Number, 1)]);
        assert_eq!(text, "a,b,c\n1,x,\n2.5,y,3\n");
    }

    #[test]
    fn bad_rows_are_listed_by_line_and_left_out() {
        // A quoted field may span lines; a blank line is no row.
        let mut csv = String::from("a,b\n1,2\n3\n\n4,5,6\n7,\"8\n9\"\n");
        let (report, text) = check_csv(csv.as_bytes()).unwrap();
        assert_eq!(report.rows, 2);
        assert_eq!(report.bad_row_count, 2, "{report:?}");
        assert_eq!(report.bad_rows[0], BadRow { line: 3, message: "1 fields, the header has 2".into() });
        assert_eq!(report.bad_rows[1], BadRow { line: 5, message: "3 fields, the header has 2".into() });
        assert_eq!(text, "a,b\n1,2\n7,\"8\n9\"\n");
        csv = "a,b\n1,2\n".to_owned() + &"x\n".repeat(50);
        let (report, _) = check_csv(csv.as_bytes()).unwrap();
        assert_eq!((report.bad_row_count, report.bad_rows.len()), (50, BAD_ROWS_LISTED));
    }

    #[test]
    fn files_that_cannot_be_a_table_are_refused() {
        assert_eq!(check_csv(b""), Err(CsvError::Empty));
        assert_eq!(check_csv(b"a,b\n"), Err(CsvError::NoRows));
        assert_eq!(check_csv(b"a,b\n1,2\n\xff,3\n"), Err(CsvError::NotUtf8 { line: 3 }));
        assert!(matches!(check_csv(b"a,a\n1,2\n"), Err(CsvError::Header(m)) if m.contains("both named `a`")));
        assert!(matches!(check_csv(b"a,,c\n1,2,3\n"), Err(CsvError::Header(m)) if m.contains("column 2 has no name")));
    }
}
