//! Labs: the guided notebooks of the curriculum, written in the Markdown
//! notebook format ([`crate::notebook::markdown`]) with their place in the
//! agenda in the notebook marker:
//!
//! ````markdown
//! <!-- flywheel:notebook {"day": 1, "minutes": 45, "summary": "Fit a line by gradient descent.", "target": "test RMSE below 60"} -->
//! # Intro: your first model
//!
//! <!-- flywheel:cell {"id": "fit", "exercise": true} -->
//! ```rust
//! let learning_rate = 0.0; // pick one
//! ```
//!
//! <!-- flywheel:cell {"id": "fit-solution", "solution": "fit"} -->
//! ```rust
//! let learning_rate = 0.1;
//! ```
//!
//! <!-- flywheel:cell {"id": "check-fit", "check": "Fit a line"} -->
//! ```rust
//! Check::new("Fit a line").at_most("test RMSE", rmse, 60.0)
//! ```
//! ````
//!
//! Three kinds of cell make a lab more than a notebook:
//! - an **exercise** (`"exercise": true`): code the participant completes;
//!   the lab ships a skeleton that runs but does not yet pass its check;
//! - its **solution** (`"solution": "<exercise id>"`): the reference answer,
//!   taken out of the notebook participants copy and kept for the tests
//!   (and, later, instructors) — [`Lab::solved`] puts it back in;
//! - a **check** (`"check": "<step title>"`): a code cell ending in a
//!   `Check` value from the algorithm library. When its run outputs a
//!   passed check ([`check_passed`]), the server records that step of the
//!   lab as done for the participant. The lab's steps are its check cells,
//!   in order ([`Lab::steps`]).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::notebook::{CellId, CellType, Notebook, NotebookError, markdown};

/// The MIME type of a check's machine-readable result in a cell's outputs:
/// `{"passed": bool, "name": …, "failures": […]}`. The algorithm library's
/// `Check` prints it (`flywheel_ml::check::CHECK_MIME`, the same string);
/// the labs suite runs real checks through a real kernel to keep the two
/// in step.
pub const CHECK_MIME: &str = "application/vnd.flywheel.check+json";

/// One step of a lab: a check cell and the title it gives the step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The check cell's id, which names the step.
    pub id: CellId,
    /// What the step is, for people ("Fit a line").
    pub title: String,
}

/// A step of a lab that a user passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepDone {
    /// The lab's slug.
    pub lab: String,
    /// The step (its check cell's id).
    pub step: String,
    /// When its check first passed.
    pub passed_at: crate::Timestamp,
}

/// One lab: its slug (the directory it lives in), its place in the
/// three-day agenda, and its notebook, which each participant copies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lab {
    /// URL-safe name: lower-case letters, digits and `-` (e.g. `intro`).
    pub slug: String,
    /// The notebook's title.
    pub title: String,
    /// Which day of the workshop (1, 2 or 3).
    pub day: u8,
    /// About how long it takes, in minutes.
    pub minutes: u32,
    /// One sentence for the lab list.
    pub summary: String,
    /// What the reference solution reaches, for people ("PR AUC ≥ 0.75
    /// on the test split"); empty when the lab names none.
    pub target: String,
    /// The steps: the check cells, in order.
    pub steps: Vec<Step>,
    /// The notebook participants copy (no outputs, no solutions).
    #[serde(skip)]
    pub notebook: Notebook,
    /// Exercise cell → the source of its reference solution.
    #[serde(skip)]
    pub solutions: BTreeMap<CellId, String>,
}

impl Lab {
    /// Reads a lab from its notebook file.
    ///
    /// # Errors
    /// [`NotebookError::Syntax`] for a bad slug, a notebook that does not
    /// parse, or a marker without `day` (1–3), `minutes` (1–600) and
    /// `summary`; a solution that names no exercise, an exercise without a
    /// solution, or a check or solution that is not a code cell (each
    /// naming the cell's line).
    pub fn from_markdown(slug: &str, text: &str) -> Result<Self, NotebookError> {
        let slug_ok = !slug.is_empty()
            && slug.len() <= 64
            && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !slug_ok {
            return Err(NotebookError::syntax(1, format!("lab slug `{slug}`: use lower-case letters, digits and `-`")));
        }
        let parsed = markdown::parse(text)?;
        let meta = &parsed.metadata;
        let missing = |what: &str| {
            NotebookError::syntax(
                1,
                format!(
                    "a lab starts with <!-- flywheel:notebook {{\"day\": 1, \"minutes\": 45, \"summary\": \"…\"}} -->: {what}"
                ),
            )
        };
        let day = meta.get("day").and_then(serde_json::Value::as_u64).filter(|d| (1..=3).contains(d));
        let day = day.ok_or_else(|| missing("`day` must be 1, 2 or 3"))?;
        let minutes = meta.get("minutes").and_then(serde_json::Value::as_u64).filter(|m| (1..=600).contains(m));
        let minutes = minutes.ok_or_else(|| missing("`minutes` must be 1 to 600"))?;
        let summary = meta.get("summary").and_then(serde_json::Value::as_str).map(str::trim).unwrap_or_default();
        if summary.is_empty() {
            return Err(missing("`summary` is a sentence for the lab list"));
        }
        let target = meta.get("target").and_then(serde_json::Value::as_str).map(str::trim).unwrap_or_default();
        let (notebook, solutions) = split_solutions(parsed.notebook, text)?;
        let steps = steps(&notebook, text)?;
        Ok(Self {
            slug: slug.to_owned(),
            title: notebook.title.clone(),
            day: u8::try_from(day).unwrap_or(1),
            minutes: u32::try_from(minutes).unwrap_or(1),
            summary: summary.to_owned(),
            target: target.to_owned(),
            steps,
            notebook,
            solutions,
        })
    }

    /// The lab's notebook with every exercise replaced by its reference
    /// solution: what the tests run to show the lab can be completed.
    pub fn solved(&self) -> Notebook {
        let mut notebook = self.notebook.clone();
        for cell in &mut notebook.cells {
            if let Some(solution) = self.solutions.get(&cell.id) {
                cell.source.clone_from(solution);
            }
        }
        notebook
    }

    /// The step that check cell `cell` records, if it is one.
    pub fn step(&self, cell: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id.as_str() == cell)
    }
}

/// Whether a cell's outputs (nbformat JSON) hold a passed check: an output
/// whose `data` has [`CHECK_MIME`] with `"passed": true` (as a JSON object,
/// or as text holding one, which is how kernels send it).
pub fn check_passed(outputs: &[serde_json::Value]) -> bool {
    outputs.iter().filter_map(|o| o.get("data")?.get(CHECK_MIME)).any(|v| {
        let parsed = match v {
            serde_json::Value::String(s) => serde_json::from_str(s).ok(),
            other => Some(other.clone()),
        };
        parsed.and_then(|p: serde_json::Value| p.get("passed")?.as_bool()) == Some(true)
    })
}

fn flag(cell: &crate::Cell, key: &str) -> bool {
    cell.metadata.get(key).and_then(serde_json::Value::as_bool) == Some(true)
}

/// Takes the solution cells out of `notebook`: exercise id → solution source.
fn split_solutions(mut notebook: Notebook, text: &str) -> Result<(Notebook, BTreeMap<CellId, String>), NotebookError> {
    let mut solutions = BTreeMap::new();
    let mut kept = Vec::with_capacity(notebook.cells.len());
    for cell in std::mem::take(&mut notebook.cells) {
        let Some(target) = cell.metadata.get("solution") else {
            kept.push(cell);
            continue;
        };
        let exercise = target.as_str().and_then(|t| kept.iter().find(|c: &&crate::Cell| c.id.as_str() == t));
        let Some(exercise) = exercise.filter(|e| flag(e, "exercise") && e.cell_type == CellType::Code) else {
            return Err(at_cell(
                text,
                &cell.id,
                "a solution cell names the exercise it solves, a code cell above it marked \"exercise\": true",
            ));
        };
        if cell.cell_type != CellType::Code {
            return Err(at_cell(text, &cell.id, "a solution is a ```rust code cell"));
        }
        solutions.insert(exercise.id.clone(), cell.source);
    }
    notebook.cells = kept;
    if let Some(unsolved) = notebook.cells.iter().find(|c| flag(c, "exercise") && !solutions.contains_key(&c.id)) {
        return Err(at_cell(
            text,
            &unsolved.id,
            format!("exercise `{}` has no solution cell ({{\"solution\": \"{}\"}})", unsolved.id, unsolved.id),
        ));
    }
    Ok((notebook, solutions))
}

/// The check cells, in order, as steps.
fn steps(notebook: &Notebook, text: &str) -> Result<Vec<Step>, NotebookError> {
    let mut steps = Vec::new();
    for cell in &notebook.cells {
        let Some(check) = cell.metadata.get("check") else { continue };
        let title = check.as_str().map(str::trim).unwrap_or_default();
        if title.is_empty() || cell.cell_type != CellType::Code {
            return Err(at_cell(text, &cell.id, "a check is a ```rust code cell with \"check\": \"<step title>\""));
        }
        steps.push(Step { id: cell.id.clone(), title: title.to_owned() });
    }
    Ok(steps)
}

/// An error at the line of cell `id`'s marker (line 1 if it has none).
fn at_cell(text: &str, id: &CellId, message: impl Into<String>) -> NotebookError {
    let needle = format!("\"{id}\"");
    let line = text
        .lines()
        .position(|l| l.trim_start().starts_with("<!-- flywheel:cell") && l.contains(&needle))
        .map_or(1, |i| i + 1);
    NotebookError::syntax(line, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lab_needs_its_place_in_the_agenda() {
        let ok =
            "<!-- flywheel:notebook {\"day\": 2, \"minutes\": 30, \"summary\": \"S.\"} -->\n# T\n\n```rust\n1\n```\n";
        let lab = Lab::from_markdown("fraud", ok).unwrap();
        assert_eq!((lab.day, lab.minutes, lab.title.as_str(), lab.notebook.cells.len()), (2, 30, "T", 1));
        assert!(Lab::from_markdown("Fraud!", ok).unwrap_err().to_string().contains("slug"));
        let no_day = "<!-- flywheel:notebook {\"minutes\": 30, \"summary\": \"S.\"} -->\n# T\n";
        assert!(Lab::from_markdown("x", no_day).unwrap_err().to_string().contains("`day`"));
        assert!(Lab::from_markdown("x", "# T\n").unwrap_err().to_string().contains("line 1"));
    }

    const LAB: &str = r#"<!-- flywheel:notebook {"day": 1, "minutes": 20, "summary": "S.", "target": "RMSE below 60"} -->
# Lab

<!-- flywheel:cell {"id": "fit", "exercise": true} -->
```rust
let rate = 0.0;
```

<!-- flywheel:cell {"id": "fit-solution", "solution": "fit"} -->
```rust
let rate = 0.1;
```

<!-- flywheel:cell {"id": "check-fit", "check": "Fit a line"} -->
```rust
Check::new("Fit a line").that(rate > 0.0, "rate")
```
"#;

    #[test]
    fn solutions_are_kept_apart_and_checks_are_the_steps() {
        let lab = Lab::from_markdown("intro", LAB).unwrap();
        let ids: Vec<&str> = lab.notebook.cells.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["fit", "check-fit"], "participants' copy has no solution cell");
        assert_eq!(lab.notebook.cells[0].source, "let rate = 0.0;");
        assert_eq!(lab.solved().cells[0].source, "let rate = 0.1;");
        assert_eq!(lab.solved().cells.len(), 2);
        assert_eq!(lab.steps, vec![Step { id: CellId::parse("check-fit").unwrap(), title: "Fit a line".into() }]);
        assert_eq!(lab.target, "RMSE below 60");
        assert!(lab.step("check-fit").is_some() && lab.step("fit").is_none());
    }

    #[test]
    fn broken_exercises_and_checks_name_their_line() {
        let orphan = LAB.replace(r#""solution": "fit""#, r#""solution": "nope""#);
        let e = Lab::from_markdown("x", &orphan).unwrap_err().to_string();
        assert!(e.starts_with("line 9:") && e.contains("exercise"), "{e}");
        let unsolved = LAB.replace(r#""solution": "fit""#, r#""hidden": true"#);
        let e = Lab::from_markdown("x", &unsolved).unwrap_err().to_string();
        assert!(e.starts_with("line 4:") && e.contains("no solution"), "{e}");
        let empty_check = LAB.replace(r#""check": "Fit a line""#, r#""check": """#);
        let e = Lab::from_markdown("x", &empty_check).unwrap_err().to_string();
        assert!(e.starts_with("line 14:") && e.contains("check"), "{e}");
    }

    #[test]
    fn a_passed_check_is_read_from_the_outputs() {
        let out = |data: serde_json::Value| vec![serde_json::json!({"output_type": "execute_result", "data": data})];
        let passed = r#"{"passed": true, "name": "x", "failures": []}"#;
        assert!(check_passed(&out(serde_json::json!({ CHECK_MIME: passed, "text/html": "<div/>" }))));
        assert!(check_passed(&out(serde_json::json!({ CHECK_MIME: {"passed": true} }))));
        assert!(!check_passed(&out(serde_json::json!({ CHECK_MIME: r#"{"passed": false}"# }))));
        assert!(!check_passed(&out(serde_json::json!({ "text/plain": passed }))));
        assert!(!check_passed(&out(serde_json::json!({ CHECK_MIME: "not json" }))));
        assert!(!check_passed(&[]));
    }
}
