//! The Markdown notebook format: how labs are written in the repository.
//!
//! A diff-friendly subset of CommonMark, after Livebook's `.livemd`:
//!
//! ````markdown
//! <!-- flywheel:notebook {"day": 1, "minutes": 45} -->
//! # Intro lab
//!
//! Some explanation, which becomes a Markdown cell.
//!
//! <!-- flywheel:cell {"id": "fit", "exercise": true} -->
//! ```rust
//! let model = LinearRegression::params().fit(&train)?;
//! ```
//! ````
//!
//! - The file starts with `# Title` (after an optional
//!   `<!-- flywheel:notebook {…} -->` line of notebook metadata, a JSON
//!   object).
//! - A fenced block whose info string is `rust` is a code cell. To show Rust
//!   inside Markdown, label the fence `rs`.
//! - Text between code cells is a Markdown cell; a
//!   `<!-- flywheel:cell {…} -->` line starts a new cell and gives the next
//!   cell its metadata: `id` (nbformat's cell id), optional `type`
//!   (`"markdown"` makes everything up to the next marker one Markdown cell,
//!   fences included), and anything else (`exercise`, `hidden`, `check`, …)
//!   as the cell's metadata. Cells without an `id` get `cell-1`, `cell-2`, ….
//! - Outputs are not part of this format (use `.ipynb` for them).
//!
//! [`parse`] names the 1-based line of the first error; [`write`] produces
//! text that [`parse`] reads back to the same notebook (outputs aside).

use serde_json::{Map, Value};

use super::{Cell, CellId, CellType, IdFiller, Notebook, NotebookError};

const CELL_MARKER: &str = "flywheel:cell";
const NOTEBOOK_MARKER: &str = "flywheel:notebook";

/// A notebook read from the Markdown format, with its notebook-level metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The notebook (no outputs).
    pub notebook: Notebook,
    /// The `<!-- flywheel:notebook {…} -->` object, empty when absent.
    pub metadata: Map<String, Value>,
}

/// Reads a notebook in the Markdown format.
///
/// # Errors
/// [`NotebookError::Syntax`] with the line of the first problem (no title,
/// an unclosed code fence, a marker that is not a JSON object, a bad or
/// duplicate cell id), or what [`Notebook::validate`] refuses.
pub fn parse(text: &str) -> Result<Parsed, NotebookError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    let skip_blank = |i: &mut usize| {
        while *i < lines.len() && lines[*i].trim().is_empty() {
            *i += 1;
        }
    };
    skip_blank(&mut i);
    let mut metadata = Map::new();
    if let Some(json) = lines.get(i).and_then(|l| marker(l, NOTEBOOK_MARKER)) {
        metadata = marker_object(json, i + 1)?;
        i += 1;
        skip_blank(&mut i);
    }
    let title = match lines.get(i).and_then(|l| l.strip_prefix("# ")) {
        Some(t) if !t.trim().is_empty() => t.trim().to_owned(),
        _ => return Err(NotebookError::syntax(i + 1, "a notebook file starts with its title: `# Title`")),
    };
    i += 1;

    let mut cells: Vec<Draft> = Vec::new();
    let mut pending: Option<Marker> = None;
    let mut text_start = i;
    let mut text: Vec<&str> = Vec::new();
    while i < lines.len() {
        let line = lines[i];
        if let Some(json) = marker(line, CELL_MARKER) {
            flush_markdown(&mut cells, &mut pending, &mut text, text_start, true);
            pending = Some(Marker::parse(json, i + 1)?);
            i += 1;
            text_start = i;
            continue;
        }
        let forced_markdown = pending.as_ref().is_some_and(|m| m.cell_type == Some(CellType::Markdown));
        if let Some(fence) = Fence::open(line) {
            let end = fence
                .close_in(&lines, i + 1)
                .ok_or_else(|| NotebookError::syntax(i + 1, "the code fence opened on this line is never closed"))?;
            if fence.info == "rust" && fence.indent == 0 && !forced_markdown {
                let blank = text.iter().all(|l| l.trim().is_empty());
                flush_markdown(&mut cells, &mut pending, &mut text, text_start, false);
                let marker = if blank { pending.take() } else { None };
                cells.push(Draft {
                    line: marker.as_ref().map_or(i + 1, |m| m.line),
                    marker,
                    cell_type: CellType::Code,
                    source: lines[i + 1..end].join("\n"),
                });
                pending = None;
                i = end + 1;
                text_start = i;
                continue;
            }
            // A fence inside Markdown: keep it whole, so nothing in it is read as a marker.
            text.extend_from_slice(&lines[i..=end]);
            i = end + 1;
            continue;
        }
        text.push(line);
        i += 1;
    }
    flush_markdown(&mut cells, &mut pending, &mut text, text_start, true);

    let notebook = assemble(title, cells)?;
    Ok(Parsed { notebook, metadata })
}

/// A cell as read, before ids are filled in.
struct Draft {
    line: usize,
    marker: Option<Marker>,
    cell_type: CellType,
    source: String,
}

struct Marker {
    line: usize,
    id: Option<CellId>,
    /// `Some(Markdown)` when the marker says `"type": "markdown"`.
    cell_type: Option<CellType>,
    metadata: Map<String, Value>,
}

impl Marker {
    fn parse(json: &str, line: usize) -> Result<Self, NotebookError> {
        let mut metadata = marker_object(json, line)?;
        let id = match metadata.remove("id") {
            None => None,
            Some(Value::String(s)) => Some(CellId::parse(&s).map_err(|e| NotebookError::syntax(line, e.to_string()))?),
            Some(_) => return Err(NotebookError::syntax(line, "a cell `id` is a string")),
        };
        let cell_type = match metadata.remove("type") {
            None => None,
            Some(Value::String(s)) if s == "markdown" => Some(CellType::Markdown),
            Some(_) => return Err(NotebookError::syntax(line, "a cell `type`, when given, is \"markdown\"")),
        };
        Ok(Self { line, id, cell_type, metadata })
    }
}

/// Ends the Markdown text gathered so far as a cell. A marker with nothing
/// after it yet stays pending (it may belong to a code fence below), unless
/// `marker_ends` (the next marker or the end of the file) says it is over,
/// when it becomes an empty Markdown cell.
fn flush_markdown(
    cells: &mut Vec<Draft>,
    pending: &mut Option<Marker>,
    text: &mut Vec<&str>,
    text_start: usize,
    marker_ends: bool,
) {
    let first = text.iter().position(|l| !l.trim().is_empty());
    let last = text.iter().rposition(|l| !l.trim().is_empty());
    match (first, last) {
        (Some(first), Some(last)) => {
            let marker = pending.take();
            cells.push(Draft {
                line: marker.as_ref().map_or(text_start + first + 1, |m| m.line),
                marker,
                cell_type: CellType::Markdown,
                source: text[first..=last].join("\n"),
            });
        }
        _ if marker_ends => {
            if let Some(marker) = pending.take() {
                cells.push(Draft {
                    line: marker.line,
                    marker: Some(marker),
                    cell_type: CellType::Markdown,
                    source: String::new(),
                });
            }
        }
        _ => {}
    }
    text.clear();
}

fn assemble(title: String, drafts: Vec<Draft>) -> Result<Notebook, NotebookError> {
    let mut seen = std::collections::HashMap::new();
    for d in &drafts {
        if let Some(id) = d.marker.as_ref().and_then(|m| m.id.as_ref())
            && let Some(first) = seen.insert(id.as_str().to_owned(), d.line)
        {
            return Err(NotebookError::syntax(d.line, format!("cell id `{id}` is already used on line {first}")));
        }
    }
    let mut ids = IdFiller::new(seen.keys().map(String::as_str));
    let mut cells = Vec::with_capacity(drafts.len());
    for d in drafts {
        let (id, metadata) = match d.marker {
            Some(m) => (m.id, m.metadata),
            None => (None, Map::new()),
        };
        let id = id.unwrap_or_else(|| ids.fresh());
        let mut cell = Cell::new(id, d.cell_type, d.source);
        cell.metadata = metadata;
        if let Err(e) = super::check_source(&cell.id, &cell.source) {
            return Err(NotebookError::syntax(d.line, e.to_string()));
        }
        cells.push(cell);
    }
    let notebook = Notebook { title, cells };
    notebook.validate()?;
    Ok(notebook)
}

/// The JSON of `<!-- MARKER {json} -->` (an empty object for `<!-- MARKER -->`).
fn marker<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let inner = line.trim().strip_prefix("<!--")?.strip_suffix("-->")?.trim();
    let rest = inner.strip_prefix(name)?;
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let json = rest.trim();
    Some(if json.is_empty() { "{}" } else { json })
}

fn marker_object(json: &str, line: usize) -> Result<Map<String, Value>, NotebookError> {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(NotebookError::syntax(line, "the marker's metadata must be a JSON object: {\"id\": \"…\"}")),
        Err(e) => Err(NotebookError::syntax(line, format!("the marker's metadata is not valid JSON: {e}"))),
    }
}

/// A CommonMark fence opening: up to three spaces, then ``` or ~~~ (three or more).
struct Fence {
    indent: usize,
    ch: char,
    len: usize,
    info: String,
}

impl Fence {
    fn open(line: &str) -> Option<Self> {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if indent > 3 {
            return None;
        }
        let rest = &line[indent..];
        let ch = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
        let len = rest.chars().take_while(|c| *c == ch).count();
        if len < 3 {
            return None;
        }
        let info = rest[len..].trim();
        if ch == '`' && info.contains('`') {
            return None;
        }
        Some(Self { indent, ch, len, info: info.split_whitespace().next().unwrap_or("").to_owned() })
    }

    /// The index of the closing line, searching from `from`.
    fn close_in(&self, lines: &[&str], from: usize) -> Option<usize> {
        (from..lines.len()).find(|&j| {
            let l = lines[j];
            let indent = l.len() - l.trim_start_matches(' ').len();
            let rest = l.trim_start_matches(' ');
            indent <= 3
                && rest.chars().take_while(|c| *c == self.ch).count() >= self.len
                && rest.trim_start_matches(self.ch).trim().is_empty()
        })
    }
}

/// Writes a notebook in the Markdown format (outputs and execution counts
/// are left out). Every cell gets a marker with its id, so that ids survive.
pub fn write(notebook: &Notebook, metadata: &Map<String, Value>) -> String {
    let mut out = String::new();
    if !metadata.is_empty() {
        out.push_str(&format!("<!-- {NOTEBOOK_MARKER} {} -->\n", Value::Object(metadata.clone())));
    }
    out.push_str(&format!("# {}\n", notebook.title));
    for cell in &notebook.cells {
        // `id` (and `type`) first, for people reading the file; then the metadata.
        let mut fields = vec![format!("\"id\":{}", Value::String(cell.id.to_string()))];
        if cell.cell_type == CellType::Markdown && needs_forced_markdown(&cell.source) {
            fields.push("\"type\":\"markdown\"".to_owned());
        }
        // (Metadata keys named `id` or `type`, possible from an .ipynb, would clash: left out.)
        fields.extend(
            cell.metadata
                .iter()
                .filter(|(k, _)| *k != "id" && *k != "type")
                .map(|(k, v)| format!("{}:{v}", Value::String(k.clone()))),
        );
        out.push_str(&format!("\n<!-- {CELL_MARKER} {{{}}} -->\n", fields.join(",")));
        match cell.cell_type {
            CellType::Markdown => {
                if !cell.source.is_empty() {
                    out.push_str(&cell.source);
                    out.push('\n');
                }
            }
            CellType::Code => {
                let fence = "`".repeat(longest_backtick_run(&cell.source).max(2) + 1);
                out.push_str(&format!("{fence}rust\n"));
                if !cell.source.is_empty() {
                    out.push_str(&cell.source);
                    out.push('\n');
                }
                out.push_str(&fence);
                out.push('\n');
            }
        }
    }
    out
}

/// Whether Markdown text holds a line that the parser would otherwise take
/// for a code cell (a top-level ```` ```rust ```` fence).
fn needs_forced_markdown(source: &str) -> bool {
    source.lines().any(|l| Fence::open(l).is_some_and(|f| f.info == "rust" && f.indent == 0))
}

fn longest_backtick_run(source: &str) -> usize {
    source.lines().map(|l| l.trim_start().chars().take_while(|c| *c == '`').count()).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = r#"<!-- flywheel:notebook {"day": 1, "minutes": 30} -->
# Intro: fitting a line

Welcome. This lab fits a **line**.

| x | y |
|---|---|
| 1 | 2 |

```rust
let x = 1;
```

Between the cells, with an example that is not a cell:

```rs
let not_a_cell = true;
```

<!-- flywheel:cell {"id": "fit", "exercise": true} -->
````rust
let s = "```";
````
<!-- flywheel:cell {"id": "notes"} -->
Last words.
"#;

    #[test]
    fn a_lab_parses_into_cells() {
        let parsed = parse(LAB).unwrap();
        insta::assert_debug_snapshot!(parsed);
    }

    #[test]
    fn writing_then_parsing_gives_the_same_notebook() {
        let parsed = parse(LAB).unwrap();
        let text = write(&parsed.notebook, &parsed.metadata);
        insta::assert_snapshot!(text);
        assert_eq!(parse(&text).unwrap(), parsed);
    }

    #[test]
    fn markdown_that_shows_a_rust_fence_survives_a_round_trip() {
        let mut md = Cell::new(CellId::parse("m").unwrap(), CellType::Markdown, "See:\n\n```rust\nlet a = 1;\n```");
        md.metadata.insert("hidden".into(), Value::Bool(true));
        let nb = Notebook {
            title: "T".into(),
            cells: vec![
                md,
                Cell::new(CellId::parse("empty").unwrap(), CellType::Markdown, ""),
                Cell::new(CellId::parse("c").unwrap(), CellType::Code, ""),
            ],
        };
        let text = write(&nb, &Map::new());
        assert_eq!(parse(&text).unwrap().notebook, nb, "{text}");
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("Intro\n", 1, "starts with its title"),
            ("\n\n# T\n\n```rust\nlet x = 1;\n", 5, "never closed"),
            ("# T\n<!-- flywheel:cell {\"id\": 3} -->\n", 2, "`id` is a string"),
            ("# T\n<!-- flywheel:cell [1] -->\n", 2, "JSON object"),
            ("# T\n<!-- flywheel:cell {oops} -->\n", 2, "not valid JSON"),
            ("# T\n<!-- flywheel:cell {\"id\": \"a b\"} -->\n", 2, "not valid"),
            (
                "# T\n<!-- flywheel:cell {\"id\": \"a\"} -->\nx\n<!-- flywheel:cell {\"id\": \"a\"} -->\ny\n",
                4,
                "line 2",
            ),
        ];
        for (text, line, says) in cases {
            match parse(text) {
                Err(NotebookError::Syntax { line: l, message }) => {
                    assert_eq!(l, line, "{text:?}: {message}");
                    assert!(message.contains(says), "{text:?}: {message}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_huge_cell_is_refused_with_its_line() {
        let text = format!("# T\n\n```rust\n{}\n```\n", "x".repeat(super::super::MAX_CELL_SOURCE_BYTES + 1));
        let err = parse(&text).unwrap_err();
        assert!(matches!(err, NotebookError::Syntax { line: 3, .. }), "{err}");
    }
}
