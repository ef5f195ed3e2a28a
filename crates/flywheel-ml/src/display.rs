//! Rich output for notebook cells.
//!
//! The kernel (evcxr) shows a value richly when its type has a method
//! `evcxr_display(&self)` that prints the content between
//! `EVCXR_BEGIN_CONTENT <mime>` and `EVCXR_END_CONTENT` lines (evcxr's
//! documented display protocol). Types here print HTML tables or SVG plots.

use std::fmt::Write as _;

/// Prints `content` as a rich output of MIME type `mime` (`text/html`, `image/svg+xml`).
pub(crate) fn emit(mime: &str, content: &str) {
    println!("EVCXR_BEGIN_CONTENT {mime}\n{content}\nEVCXR_END_CONTENT");
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An HTML table with a header row and a caption (all text escaped).
pub(crate) fn html_table(caption: &str, header: &[String], rows: &[Vec<String>]) -> String {
    let mut t = String::from("<table class=\"flywheel-table\">");
    let _ = write!(t, "<caption>{}</caption><thead><tr>", escape(caption));
    for h in header {
        let _ = write!(t, "<th>{}</th>", escape(h));
    }
    t.push_str("</tr></thead><tbody>");
    for row in rows {
        t.push_str("<tr>");
        for cell in row {
            let _ = write!(t, "<td>{}</td>", escape(cell));
        }
        t.push_str("</tr>");
    }
    t.push_str("</tbody></table>");
    t
}

/// A number for people: up to 4 significant decimals, no trailing zeros.
pub(crate) fn number(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{x:.0}");
    }
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_escape_their_content() {
        let t = html_table("a<b", &["x".into()], &[vec!["<script>".into()]]);
        assert!(t.contains("<caption>a&lt;b</caption>") && t.contains("<td>&lt;script&gt;</td>"), "{t}");
        assert!(!t.contains("<script>"));
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.123456), "0.1235");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(f64::NAN), "NaN");
    }
}
