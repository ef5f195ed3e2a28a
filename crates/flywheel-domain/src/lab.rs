//! Labs: the guided notebooks of the curriculum, written in the Markdown
//! notebook format ([`crate::notebook::markdown`]) with their place in the
//! agenda in the notebook marker:
//!
//! ```markdown
//! <!-- flywheel:notebook {"day": 1, "minutes": 45, "summary": "Fit a line by gradient descent."} -->
//! # Intro: your first model
//! ```

use serde::Serialize;

use crate::notebook::{Notebook, NotebookError, markdown};

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
    /// The original notebook (no outputs).
    #[serde(skip)]
    pub notebook: Notebook,
}

impl Lab {
    /// Reads a lab from its notebook file.
    ///
    /// # Errors
    /// [`NotebookError::Syntax`] for a bad slug, a notebook that does not
    /// parse, or a marker without `day` (1–3), `minutes` (1–600) and `summary`.
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
        Ok(Self {
            slug: slug.to_owned(),
            title: parsed.notebook.title.clone(),
            day: u8::try_from(day).unwrap_or(1),
            minutes: u32::try_from(minutes).unwrap_or(1),
            summary: summary.to_owned(),
            notebook: parsed.notebook,
        })
    }
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
}
