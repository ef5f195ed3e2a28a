//! Exercise checks for lab notebooks: a lab's check cell ends in a [`Check`],
//! which the notebook shows as a green ✓ or a red ✗ with what is wrong and
//! a hint behind a click — and which Flywheel reads to record the step in the
//! participant's progress.
//!
//! A check displays (evcxr's rich-output protocol) as two MIME types at
//! once: `text/html` for people, and [`CHECK_MIME`] with
//! `{"passed": bool, "name": "…", "failures": ["…"]}` for the server. That
//! MIME type and the `passed` field are a contract with the server
//! (`flywheel_domain::CHECK_MIME`).

use std::fmt::{self, Write as _};

use crate::display::{emit, escape, number};

/// The MIME type of a check's machine-readable result.
pub const CHECK_MIME: &str = "application/vnd.flywheel.check+json";

/// The outcome of an exercise check: a name, the conditions that failed
/// (none when it passed) and an optional hint.
///
/// ```
/// use flywheel_ml::prelude::*;
///
/// let rmse = 52.9;
/// let check = Check::new("Fit a line")
///     .at_most("test RMSE", rmse, 60.0)
///     .that(rmse > 0.0, "the RMSE of a real fit is positive")
///     .hint("Fit on `train`, predict on `test`.");
/// assert!(check.passed());
///
/// let failed = Check::new("Fit a line").at_most("test RMSE", 83.2, 60.0);
/// assert_eq!(failed.failures(), ["test RMSE is 83.2; it should be at most 60"]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    name: String,
    failures: Vec<String>,
    hint: Option<String>,
}

impl Check {
    /// A check named `name` (the step it checks, shown as its heading), with
    /// nothing failed yet.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), failures: Vec::new(), hint: None }
    }

    /// Fails with `message` unless `condition` holds.
    #[must_use]
    pub fn that(mut self, condition: bool, message: impl Into<String>) -> Self {
        if !condition {
            self.failures.push(message.into());
        }
        self
    }

    /// Fails unless `value ≤ limit` (a NaN value fails).
    #[must_use]
    pub fn at_most(self, what: &str, value: f64, limit: f64) -> Self {
        self.compare(what, value, value <= limit, format!("it should be at most {}", number(limit)))
    }

    /// Fails unless `value ≥ limit` (a NaN value fails).
    #[must_use]
    pub fn at_least(self, what: &str, value: f64, limit: f64) -> Self {
        self.compare(what, value, value >= limit, format!("it should be at least {}", number(limit)))
    }

    /// Fails unless `|value − expected| ≤ tolerance` (a NaN value fails).
    #[must_use]
    pub fn close_to(self, what: &str, value: f64, expected: f64, tolerance: f64) -> Self {
        let ok = (value - expected).abs() <= tolerance;
        self.compare(what, value, ok, format!("it should be {} ± {}", number(expected), number(tolerance)))
    }

    fn compare(self, what: &str, value: f64, ok: bool, should: String) -> Self {
        if value.is_nan() {
            return self.that(false, format!("{what} is not a number (NaN); {should}"));
        }
        self.that(ok, format!("{what} is {}; {should}", number(value)))
    }

    /// A hint for a participant who is stuck, shown behind a *Hint* toggle
    /// when the check fails.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Whether every condition held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The messages of the conditions that failed, in order.
    pub fn failures(&self) -> &[String] {
        &self.failures
    }

    /// The check's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The machine-readable result: `{"passed", "name", "failures"}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({ "passed": self.passed(), "name": self.name, "failures": self.failures }).to_string()
    }

    /// The result for people: a `div.flywheel-check.passed` (or `.failed`)
    /// with ✓/✗, the name, the failures and the hint (only when failed).
    pub fn to_html(&self) -> String {
        let (class, mark) = if self.passed() { ("passed", "✓") } else { ("failed", "✗") };
        let mut html =
            format!("<div class=\"flywheel-check {class}\"><p><strong>{mark} {}</strong></p>", escape(&self.name));
        if !self.failures.is_empty() {
            html.push_str("<ul>");
            for f in &self.failures {
                let _ = write!(html, "<li>{}</li>", escape(f));
            }
            html.push_str("</ul>");
            if let Some(hint) = &self.hint {
                let _ = write!(html, "<details><summary>Hint</summary><p>{}</p></details>", escape(hint));
            }
        }
        html.push_str("</div>");
        html
    }

    /// Shows the check in a notebook: HTML for people, [`CHECK_MIME`] for Flywheel.
    pub fn evcxr_display(&self) {
        emit("text/html", &self.to_html());
        emit(CHECK_MIME, &self.to_json());
    }
}

impl fmt::Display for Check {
    /// One line: `✓ name`, or `✗ name: failure; failure`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.passed() {
            write!(f, "✓ {}", self.name)
        } else {
            write!(f, "✗ {}: {}", self.name, self.failures.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_passes_when_every_condition_holds() {
        let check =
            Check::new("Fit").at_most("rmse", 50.0, 60.0).at_least("ap", 0.8, 0.7).close_to("w", 3.05, 3.0, 0.1);
        assert!(check.passed());
        assert_eq!(check.to_string(), "✓ Fit");
        let json: serde_json::Value = serde_json::from_str(&check.to_json()).unwrap();
        assert_eq!(json, serde_json::json!({"passed": true, "name": "Fit", "failures": []}));
        let html = check.hint("never shown").to_html();
        assert_eq!(html, "<div class=\"flywheel-check passed\"><p><strong>✓ Fit</strong></p></div>");
    }

    #[test]
    fn a_failed_check_says_what_is_wrong_and_offers_its_hint() {
        let check = Check::new("Fit")
            .at_most("rmse", 83.25, 60.0)
            .that(true, "not shown")
            .close_to("w", 0.0, 3.0, 0.1)
            .at_least("ap", f64::NAN, 0.7)
            .hint("Use <train>.");
        assert!(!check.passed());
        assert_eq!(
            check.failures(),
            [
                "rmse is 83.25; it should be at most 60",
                "w is 0; it should be 3 ± 0.1",
                "ap is not a number (NaN); it should be at least 0.7"
            ]
        );
        let json: serde_json::Value = serde_json::from_str(&check.to_json()).unwrap();
        assert_eq!(json["passed"], false);
        assert_eq!(json["failures"].as_array().unwrap().len(), 3);
        let html = check.to_html();
        assert!(
            html.starts_with("<div class=\"flywheel-check failed\"><p><strong>✗ Fit</strong></p><ul><li>rmse is 83.25")
        );
        assert!(html.contains("<details><summary>Hint</summary><p>Use &lt;train&gt;.</p></details>"), "{html}");
        assert!(check.to_string().starts_with("✗ Fit: rmse is 83.25; it should be at most 60; w is 0"));
    }

    #[test]
    fn names_and_messages_are_escaped() {
        let html = Check::new("<script>x</script>").that(false, "a & b").to_html();
        assert!(
            html.contains("&lt;script&gt;x&lt;/script&gt;") && html.contains("a &amp; b") && !html.contains("<script>")
        );
    }
}
