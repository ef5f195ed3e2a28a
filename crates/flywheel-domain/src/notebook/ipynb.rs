//! Jupyter's `.ipynb` format (nbformat 4.5), with the Rust kernelspec that
//! evcxr_jupyter writes.
//!
//! [`write`] produces a notebook that nbformat's own validator accepts
//! (`nbformat.validate`); [`read`] takes any nbformat 4 notebook (sources as
//! strings or lists of lines, cells with or without ids) and keeps cells,
//! sources, cell metadata, outputs and execution counts as they were. Raw
//! cells become Markdown cells marked `"flywheel": {"raw": true}` and are
//! written back as raw cells.
//!
//! nbformat's error outputs allow no extra fields, so the compile-error
//! positions Flywheel adds (`locations`) travel in the cell's metadata
//! (`"flywheel": {"error_locations": […]}`) and are put back on reading.
//!
//! Reference: the nbformat 4.5 JSON schema
//! (<https://github.com/jupyter/nbformat>, `nbformat/v4/nbformat.v4.5.schema.json`).

use serde_json::{Map, Value, json};

use super::{Cell, CellId, CellType, IdFiller, Notebook, NotebookError};

const OURS: &str = "flywheel";

/// Writes `notebook` as nbformat 4.5 JSON (pretty-printed, one-space
/// indent as Jupyter does, sources as lists of lines).
pub fn write(notebook: &Notebook) -> String {
    let cells: Vec<Value> = notebook.cells.iter().map(cell_json).collect();
    let doc = json!({
        "cells": cells,
        "metadata": {
            "kernelspec": { "display_name": "Rust", "language": "rust", "name": "rust" },
            "language_info": {
                "codemirror_mode": "rust",
                "file_extension": ".rs",
                "mimetype": "text/rust",
                "name": "Rust",
                "pygment_lexer": "rust",
                "version": ""
            },
            "title": notebook.title,
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    });
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(&doc, &mut ser).expect("a JSON value always serialises");
    out.push(b'\n');
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

fn cell_json(cell: &Cell) -> Value {
    let mut metadata = cell.metadata.clone();
    let raw = take_ours(&mut metadata, "raw").is_some_and(|v| v == Value::Bool(true));
    let mut obj = Map::new();
    obj.insert("id".into(), Value::String(cell.id.to_string()));
    match cell.cell_type {
        CellType::Markdown => {
            obj.insert("cell_type".into(), Value::String(if raw { "raw" } else { "markdown" }.into()));
        }
        CellType::Code => {
            let mut locations = Vec::new();
            let outputs: Vec<Value> = cell
                .outputs
                .iter()
                .map(|o| {
                    let mut o = o.clone();
                    if let Some(map) = o.as_object_mut()
                        && map.get("output_type").and_then(Value::as_str) == Some("error")
                        && let Some(l) = map.remove("locations")
                    {
                        locations.push(l);
                    }
                    o
                })
                .collect();
            if !locations.is_empty() {
                put_ours(&mut metadata, "error_locations", Value::Array(locations));
            }
            obj.insert("cell_type".into(), Value::String("code".into()));
            obj.insert("execution_count".into(), cell.execution_count.map_or(Value::Null, Value::from));
            obj.insert("outputs".into(), Value::Array(outputs));
        }
    }
    obj.insert("metadata".into(), Value::Object(metadata));
    obj.insert("source".into(), lines(&cell.source));
    Value::Object(obj)
}

/// nbformat's multiline string: a list of lines, each but the last ending in `\n`.
fn lines(text: &str) -> Value {
    Value::Array(text.split_inclusive('\n').map(|l| Value::String(l.to_owned())).collect())
}

fn take_ours(metadata: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let ours = metadata.get_mut(OURS)?.as_object_mut()?;
    let v = ours.remove(key);
    if ours.is_empty() {
        metadata.remove(OURS);
    }
    v
}

fn put_ours(metadata: &mut Map<String, Value>, key: &str, value: Value) {
    let ours = metadata.entry(OURS).or_insert_with(|| Value::Object(Map::new()));
    if !ours.is_object() {
        *ours = Value::Object(Map::new());
    }
    if let Some(o) = ours.as_object_mut() {
        o.insert(key.into(), value);
    }
}

/// Reads an nbformat 4 notebook. The title is the notebook's
/// `metadata.title`, else its first `# heading`, else `fallback_title`.
/// Missing, invalid or repeated cell ids (notebooks before nbformat 4.5)
/// are replaced by `cell-1`, `cell-2`, ….
///
/// # Errors
/// [`NotebookError::Syntax`] for malformed JSON (with its line), or for a
/// document that is not an nbformat 4 notebook (line 1, naming the field:
/// `cells[3].source: …`); what [`Notebook::validate`] refuses.
pub fn read(text: &str, fallback_title: &str) -> Result<Notebook, NotebookError> {
    let doc: Value = serde_json::from_str(text)
        .map_err(|e| NotebookError::syntax(e.line().max(1), format!("not valid JSON: {e}")))?;
    let bad = |what: String| NotebookError::syntax(1, what);
    let doc = doc.as_object().ok_or_else(|| bad("an .ipynb file is a JSON object".into()))?;
    match doc.get("nbformat").and_then(Value::as_u64) {
        Some(4) => {}
        Some(n) => {
            return Err(bad(format!(
                "this is an nbformat {n} notebook; only nbformat 4 (Jupyter 4.0 and later) can be read"
            )));
        }
        None => return Err(bad("`nbformat` is missing: this does not look like a Jupyter notebook".into())),
    }
    let raw_cells = doc.get("cells").and_then(Value::as_array).ok_or_else(|| bad("`cells` must be a list".into()))?;
    if raw_cells.len() > super::MAX_CELLS {
        return Err(NotebookError::TooManyCells(raw_cells.len()));
    }

    let given: Vec<Option<String>> = raw_cells
        .iter()
        .map(|c| c.get("id").and_then(Value::as_str).filter(|id| CellId::parse(id).is_ok()).map(str::to_owned))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let kept: Vec<Option<String>> = given.into_iter().map(|id| id.filter(|id| seen.insert(id.clone()))).collect();
    let mut ids = IdFiller::new(kept.iter().flatten().map(String::as_str));

    let mut cells = Vec::with_capacity(raw_cells.len());
    for (i, (raw, id)) in raw_cells.iter().zip(kept).enumerate() {
        let at = |field: &str, what: &str| bad(format!("cells[{i}].{field}: {what}"));
        let raw = raw.as_object().ok_or_else(|| bad(format!("cells[{i}]: a cell is a JSON object")))?;
        let id = match id {
            Some(id) => CellId::parse(&id)?,
            None => ids.fresh(),
        };
        let source =
            multiline(raw.get("source")).ok_or_else(|| at("source", "expected a string or a list of strings"))?;
        let mut metadata = match raw.get("metadata") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err(at("metadata", "expected an object")),
        };
        let cell_type = raw.get("cell_type").and_then(Value::as_str).ok_or_else(|| at("cell_type", "missing"))?;
        let mut cell = match cell_type {
            "code" => {
                let mut outputs = match raw.get("outputs") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(o)) => o.clone(),
                    Some(_) => return Err(at("outputs", "expected a list")),
                };
                for (j, o) in outputs.iter().enumerate() {
                    if o.get("output_type").and_then(Value::as_str).is_none() {
                        return Err(at(&format!("outputs[{j}]"), "an output is an object with an `output_type`"));
                    }
                }
                if let Some(Value::Array(locations)) = take_ours(&mut metadata, "error_locations") {
                    let mut locations = locations.into_iter();
                    for o in outputs.iter_mut().filter(|o| o["output_type"] == "error") {
                        if let (Some(map), Some(l)) = (o.as_object_mut(), locations.next()) {
                            map.insert("locations".into(), l);
                        }
                    }
                }
                let mut cell = Cell::new(id, CellType::Code, source);
                cell.outputs = outputs;
                cell.execution_count = raw.get("execution_count").and_then(Value::as_u64);
                cell
            }
            "markdown" => Cell::new(id, CellType::Markdown, source),
            "raw" => {
                put_ours(&mut metadata, "raw", Value::Bool(true));
                Cell::new(id, CellType::Markdown, source)
            }
            other => return Err(at("cell_type", &format!("`{other}` is not code, markdown or raw"))),
        };
        cell.metadata = metadata;
        cells.push(cell);
    }

    let title = doc
        .get("metadata")
        .and_then(|m| m.get("title"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty() && super::check_title(t).is_ok())
        .map(str::to_owned)
        .or_else(|| first_heading(&cells))
        .unwrap_or_else(|| fallback_title.to_owned());
    let notebook = Notebook { title, cells };
    notebook.validate()?;
    Ok(notebook)
}

fn multiline(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => parts.iter().map(Value::as_str).collect::<Option<Vec<_>>>().map(|p| p.concat()),
        _ => None,
    }
}

fn first_heading(cells: &[Cell]) -> Option<String> {
    cells
        .iter()
        .filter(|c| c.cell_type == CellType::Markdown)
        .flat_map(|c| c.source.lines())
        .find_map(|l| l.strip_prefix("# "))
        .map(|t| t.trim().chars().take(super::MAX_TITLE_CHARS).collect())
        .filter(|t: &String| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Notebook {
        let id = |s: &str| CellId::parse(s).unwrap();
        let mut code = Cell::new(id("c1"), CellType::Code, "println!(\"hi\");\n1 + 1");
        code.execution_count = Some(2);
        code.outputs = vec![
            json!({"output_type": "stream", "name": "stdout", "text": "hi\n"}),
            json!({"output_type": "execute_result", "execution_count": 2, "data": {"text/plain": "2"}, "metadata": {}}),
        ];
        let mut failed = Cell::new(id("c2"), CellType::Code, "let x: i32 = \"no\";");
        failed.execution_count = Some(3);
        failed.outputs = vec![json!({
            "output_type": "error", "ename": "CompilationError", "evalue": "mismatched types",
            "traceback": ["error[E0308]: mismatched types"], "locations": [{"line": 1, "column": 14}]
        })];
        let mut exercise = Cell::new(id("c3"), CellType::Code, "");
        exercise.metadata.insert("exercise".into(), Value::Bool(true));
        Notebook {
            title: "Sample".into(),
            cells: vec![Cell::new(id("intro"), CellType::Markdown, "# Sample\n\nText."), code, failed, exercise],
        }
    }

    #[test]
    fn writes_nbformat_4_5_with_a_rust_kernelspec() {
        insta::assert_snapshot!(write(&sample()));
    }

    #[test]
    fn round_trips_cells_sources_and_outputs() {
        let nb = sample();
        assert_eq!(read(&write(&nb), "x").unwrap(), nb);
    }

    #[test]
    fn reads_what_older_jupyter_writes() {
        // nbformat 4.2: no cell ids, a raw cell, string sources, no title.
        let text = r##"{"nbformat": 4, "nbformat_minor": 2, "metadata": {},
          "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# From Jupyter\n", "hello"]},
            {"cell_type": "code", "metadata": {}, "execution_count": null, "outputs": [], "source": "1"},
            {"cell_type": "raw", "metadata": {}, "source": "raw text"},
            {"cell_type": "code", "id": "keep-me", "metadata": {}, "execution_count": 1, "outputs": [], "source": []}
          ]}"##;
        let nb = read(text, "upload.ipynb").unwrap();
        assert_eq!(nb.title, "From Jupyter");
        let ids: Vec<&str> = nb.cells.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["cell-1", "cell-2", "cell-3", "keep-me"]);
        assert_eq!(nb.cells[0].source, "# From Jupyter\nhello");
        assert_eq!(nb.cells[3].execution_count, Some(1));
        let again: Value = serde_json::from_str(&write(&nb)).unwrap();
        assert_eq!(again["cells"][2]["cell_type"], "raw");
        assert_eq!(again["cells"][2]["metadata"], json!({}));
    }

    #[test]
    fn malformed_files_are_refused_clearly() {
        let cases = [
            ("{\n\"cells\": [\n}", 3, "not valid JSON"),
            ("[]", 1, "JSON object"),
            (r#"{"nbformat": 3, "cells": []}"#, 1, "nbformat 3"),
            (r#"{"cells": []}"#, 1, "`nbformat` is missing"),
            (r#"{"nbformat": 4, "cells": [{"cell_type": "code", "source": 5}]}"#, 1, "cells[0].source"),
            (r#"{"nbformat": 4, "cells": [{"cell_type": "sql", "source": ""}]}"#, 1, "`sql`"),
            (r#"{"nbformat": 4, "cells": [{"cell_type": "code", "source": "", "outputs": [{}]}]}"#, 1, "outputs[0]"),
        ];
        for (text, line, says) in cases {
            match read(text, "x") {
                Err(NotebookError::Syntax { line: l, message }) => {
                    assert_eq!(l, line, "{text}: {message}");
                    assert!(message.contains(says), "{text}: {message}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
