//! Notebooks: an ordered list of Markdown and Rust code cells, each with an
//! id, a source and (for code) the outputs of its last run.
//!
//! Two file formats read and write a [`Notebook`]:
//! - [`markdown`]: the repository format for labs, a diff-friendly Markdown
//!   subset in the manner of Livebook's `.livemd` (a `# Title`, fenced
//!   ```` ```rust ```` code cells, cell metadata in HTML comments). Outputs are
//!   not kept in it.
//! - [`ipynb`]: Jupyter's nbformat 4.5 JSON, with a Rust kernelspec as
//!   evcxr_jupyter writes it; cells, sources, metadata and outputs
//!   round-trip.
//!
//! Outputs are held as nbformat's JSON objects (`{"output_type": …}`)
//! unchanged, so that what a Jupyter client wrote comes back out as it was.

pub mod ipynb;
pub mod markdown;

use serde::{Deserialize, Serialize};

/// The most cells a notebook may hold.
pub const MAX_CELLS: usize = 2_000;
/// The most bytes of source one cell may hold (1 MiB).
pub const MAX_CELL_SOURCE_BYTES: usize = 1 << 20;
/// The most characters of a notebook title.
pub const MAX_TITLE_CHARS: usize = 200;

/// A cell id, as nbformat 4.5 defines it: 1 to 64 characters of ASCII
/// letters, digits, `-` and `_`, unique within its notebook.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CellId(String);

impl CellId {
    /// Parses an id.
    ///
    /// # Errors
    /// [`NotebookError::BadCellId`] when it is empty, longer than 64
    /// characters, or holds anything but `[A-Za-z0-9_-]`.
    pub fn parse(id: &str) -> Result<Self, NotebookError> {
        let ok =
            !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok { Ok(Self(id.to_owned())) } else { Err(NotebookError::BadCellId(id.chars().take(80).collect())) }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CellId {
    type Error = NotebookError;
    fn try_from(s: String) -> Result<Self, NotebookError> {
        Self::parse(&s)
    }
}

impl From<CellId> for String {
    fn from(id: CellId) -> String {
        id.0
    }
}

impl std::fmt::Display for CellId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a cell holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellType {
    /// Rust source, run on the kernel.
    Code,
    /// Markdown text, rendered.
    Markdown,
}

/// One cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Unique within the notebook.
    pub id: CellId,
    /// Code or Markdown.
    pub cell_type: CellType,
    /// The text, without a trailing newline.
    pub source: String,
    /// nbformat cell metadata (e.g. `{"exercise": true}`); empty for most cells.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// nbformat outputs of the last run (code cells only).
    #[serde(default)]
    pub outputs: Vec<serde_json::Value>,
    /// nbformat's `execution_count` of the last run.
    #[serde(default)]
    pub execution_count: Option<u64>,
}

impl Cell {
    /// A cell with no metadata and no outputs.
    pub fn new(id: CellId, cell_type: CellType, source: impl Into<String>) -> Self {
        Self {
            id,
            cell_type,
            source: source.into(),
            metadata: serde_json::Map::new(),
            outputs: Vec::new(),
            execution_count: None,
        }
    }
}

/// A notebook: a title and its cells, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notebook {
    /// Shown at the top and in lists.
    pub title: String,
    /// The cells, in order.
    pub cells: Vec<Cell>,
}

impl Notebook {
    /// Checks the rules every stored notebook keeps: a title of at most
    /// [`MAX_TITLE_CHARS`], at most [`MAX_CELLS`] cells with unique ids,
    /// each source at most [`MAX_CELL_SOURCE_BYTES`].
    ///
    /// # Errors
    /// The first rule broken, naming the cell.
    pub fn validate(&self) -> Result<(), NotebookError> {
        check_title(&self.title)?;
        if self.cells.len() > MAX_CELLS {
            return Err(NotebookError::TooManyCells(self.cells.len()));
        }
        let mut seen = std::collections::HashSet::new();
        for cell in &self.cells {
            if !seen.insert(cell.id.as_str()) {
                return Err(NotebookError::DuplicateCellId(cell.id.to_string()));
            }
            check_source(&cell.id, &cell.source)?;
        }
        Ok(())
    }

    /// The cell with this id.
    pub fn cell(&self, id: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.id.as_str() == id)
    }
}

/// Checks a title against the rules of [`Notebook::validate`].
///
/// # Errors
/// [`NotebookError::BadTitle`].
pub fn check_title(title: &str) -> Result<(), NotebookError> {
    if title.trim().is_empty() {
        return Err(NotebookError::BadTitle("a notebook needs a title".to_owned()));
    }
    if title.chars().count() > MAX_TITLE_CHARS || title.contains(['\n', '\r']) {
        return Err(NotebookError::BadTitle(format!("a title is one line of at most {MAX_TITLE_CHARS} characters")));
    }
    Ok(())
}

fn check_source(id: &CellId, source: &str) -> Result<(), NotebookError> {
    if source.len() > MAX_CELL_SOURCE_BYTES {
        return Err(NotebookError::CellTooLarge { id: id.to_string(), bytes: source.len() });
    }
    Ok(())
}

/// Ids for cells that have none: `cell-1`, `cell-2`, … skipping ids
/// already taken. Deterministic, so that parsing the same file twice gives
/// the same ids.
pub(crate) struct IdFiller {
    taken: std::collections::HashSet<String>,
    next: usize,
}

impl IdFiller {
    pub(crate) fn new<'a>(taken: impl IntoIterator<Item = &'a str>) -> Self {
        Self { taken: taken.into_iter().map(str::to_owned).collect(), next: 1 }
    }

    pub(crate) fn fresh(&mut self) -> CellId {
        loop {
            let candidate = format!("cell-{}", self.next);
            self.next += 1;
            if self.taken.insert(candidate.clone()) {
                return CellId(candidate);
            }
        }
    }
}

uuid_id!(
    /// The stable identifier of a stored notebook (a UUID).
    NotebookId,
    "notebook"
);

/// A stored notebook: whose it is, where it came from, and its revision.
#[derive(Debug, Clone, PartialEq)]
pub struct NotebookRecord {
    /// Its id.
    pub id: NotebookId,
    /// Who it belongs to.
    pub owner: crate::UserId,
    /// The slug of the lab it was copied from, if any.
    pub lab: Option<String>,
    /// The workshop team it is shared with: its members open, edit and run it.
    pub team: Option<crate::TeamId>,
    /// Goes up by one with every saved edit (outputs written by runs do
    /// not count); a write that names an older revision is refused.
    pub revision: i64,
    /// When it was created.
    pub created_at: crate::Timestamp,
    /// When its cells or outputs last changed.
    pub updated_at: crate::Timestamp,
    /// The cells, with the outputs of their last runs.
    pub notebook: Notebook,
}

/// A notebook as listed: no cells.
#[derive(Debug, Clone, PartialEq)]
pub struct NotebookSummary {
    /// Its id.
    pub id: NotebookId,
    /// Its title.
    pub title: String,
    /// The lab it was copied from, if any.
    pub lab: Option<String>,
    /// The workshop team it is shared with, if any.
    pub team: Option<crate::TeamId>,
    /// When it last changed.
    pub updated_at: crate::Timestamp,
}

/// Why a notebook (or a notebook file) was refused. Messages are for the
/// person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotebookError {
    /// A cell id breaks nbformat's rule.
    #[error("cell id `{0}` is not valid: use 1 to 64 letters, digits, `-` or `_`")]
    BadCellId(String),
    /// Two cells share an id.
    #[error("two cells have the id `{0}`; cell ids must be unique")]
    DuplicateCellId(String),
    /// Too many cells.
    #[error("the notebook has {0} cells; at most {MAX_CELLS} are allowed")]
    TooManyCells(usize),
    /// A cell's source is too large.
    #[error("cell `{id}` holds {bytes} bytes of source; at most {MAX_CELL_SOURCE_BYTES} (1 MiB) are allowed")]
    CellTooLarge {
        /// The cell.
        id: String,
        /// Its size.
        bytes: usize,
    },
    /// The title is empty or too long.
    #[error("{0}")]
    BadTitle(String),
    /// A file did not parse; `line` is 1-based.
    #[error("line {line}: {message}")]
    Syntax {
        /// Where (1-based).
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl NotebookError {
    pub(crate) fn syntax(line: usize, message: impl Into<String>) -> Self {
        Self::Syntax { line, message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_ids_follow_nbformat() {
        assert!(CellId::parse("a-b_C9").is_ok());
        assert!(CellId::parse(&"x".repeat(64)).is_ok());
        for bad in ["", "has space", "dot.ted", &"x".repeat(65), "é"] {
            assert!(matches!(CellId::parse(bad), Err(NotebookError::BadCellId(_))), "{bad:?}");
        }
    }

    #[test]
    fn validate_names_the_broken_rule() {
        let id = |s: &str| CellId::parse(s).unwrap();
        let mut nb = Notebook { title: "T".into(), cells: vec![Cell::new(id("a"), CellType::Code, "1")] };
        assert_eq!(nb.validate(), Ok(()));
        nb.cells.push(Cell::new(id("a"), CellType::Markdown, "x"));
        assert_eq!(nb.validate(), Err(NotebookError::DuplicateCellId("a".into())));
        nb.cells[1] = Cell::new(id("b"), CellType::Code, "x".repeat(MAX_CELL_SOURCE_BYTES + 1));
        assert!(matches!(nb.validate(), Err(NotebookError::CellTooLarge { .. })));
        nb.cells = (0..=MAX_CELLS).map(|i| Cell::new(id(&format!("c{i}")), CellType::Code, "")).collect();
        assert_eq!(nb.validate(), Err(NotebookError::TooManyCells(MAX_CELLS + 1)));
        nb.cells.clear();
        nb.title = " ".into();
        assert!(matches!(nb.validate(), Err(NotebookError::BadTitle(_))));
    }

    #[test]
    fn filled_ids_skip_taken_ones() {
        let mut ids = IdFiller::new(["cell-1", "cell-3"]);
        assert_eq!(ids.fresh().as_str(), "cell-2");
        assert_eq!(ids.fresh().as_str(), "cell-4");
    }
}
