//! Rich output for notebook cells.
//!
//! The kernel (evcxr) shows a value richly when its type has a method
//! `evcxr_display(&self)` that prints the content between
//! `EVCXR_BEGIN_CONTENT <mime>` and `EVCXR_END_CONTENT` lines (evcxr's
//! documented display protocol). Types here print HTML tables or SVG plots.
//! [`show!`](crate::show) picks the display of a cell's last value at
//! compile time, which the kernel uses to spare evcxr a second compile.

use std::fmt::Write as _;

/// A value shown richly in a notebook: every type of this crate with an
/// `evcxr_display` method. [`show!`](crate::show) picks this at compile time.
pub trait Rich {
    /// Prints the value's rich output (its `evcxr_display`).
    fn show_rich(&self);
}

/// Implements [`Rich`] by the type's own `evcxr_display`.
macro_rules! rich {
    ($($t:ty),* $(,)?) => {
        $(impl $crate::display::Rich for $t {
            fn show_rich(&self) {
                self.evcxr_display();
            }
        })*
    };
}
rich!(
    crate::Matrix,
    crate::Labels,
    crate::Dataset,
    crate::Table,
    crate::Images,
    crate::datasets::ShipChips,
    crate::datasets::ShipScene,
    crate::datasets::SceneView,
    crate::text::Corpus,
    crate::text::CountVectorizerModel,
    crate::text::TfIdfModel,
    crate::metrics::ConfusionMatrix,
    crate::metrics::Curve,
    crate::plot::Plot,
    crate::check::Check,
    crate::LdaModel,
    crate::job::SubmittedJob,
    crate::endpoint::EndpointSummary,
    crate::endpoint::ShadowReport,
    crate::endpoint::Alarms,
    crate::deep::History,
    crate::deep::ConvNetModel,
    crate::deep::MlpClassifier,
    crate::deep::MlpRegressor,
    crate::deep::AutoencoderModel,
    crate::deep::TextClassifierModel,
);

/// A reference shows as its value: a cell may end in `model.history()`.
impl<T: Rich + ?Sized> Rich for &T {
    fn show_rich(&self) {
        (**self).show_rich();
    }
}

/// The value of a cell's last expression, as [`show!`](crate::show) wraps it.
#[doc(hidden)]
pub struct Show<'a, T: ?Sized>(pub &'a T);

/// [`show!`](crate::show)'s first choice: the rich output of a [`Rich`] value.
#[doc(hidden)]
pub trait ShowRich {
    fn flywheel_show(&self);
}
impl<T: Rich + ?Sized> ShowRich for &&Show<'_, T> {
    fn flywheel_show(&self) {
        self.0.show_rich();
    }
}

/// [`show!`](crate::show)'s second choice: `{:?}` as `text/plain`, and
/// nothing for `()`, as evcxr does.
#[doc(hidden)]
pub trait ShowDebug {
    fn flywheel_show(&self);
}
impl<T: std::fmt::Debug + ?Sized> ShowDebug for &Show<'_, T> {
    fn flywheel_show(&self) {
        if std::any::type_name::<T>() != "()" {
            emit("text/plain", &format!("{:?}", self.0));
        }
    }
}

/// [`show!`](crate::show)'s last choice: the type's name, for a value that
/// has neither (evcxr refuses to compile such a cell).
#[doc(hidden)]
pub trait ShowTypeName {
    fn flywheel_show(&self);
}
impl<T: ?Sized> ShowTypeName for Show<'_, T> {
    fn flywheel_show(&self) {
        emit("text/plain", std::any::type_name::<T>());
    }
}

/// Shows a cell's last value: richly if its type is [`Rich`], else with
/// `{:?}`, else by its type's name — chosen at compile time (method
/// resolution tries `&&Show`, then `&Show`, then `Show`: "autoref
/// specialisation", D. Tolnay, *case-studies/autoref-specialization*).
///
/// The kernel rewrites a cell's final expression `expr` into `show!(expr);`,
/// so evcxr compiles the cell once. Left to itself evcxr compiles
/// `(expr).evcxr_display()` and, when that fails, the cell again with `{:?}`.
#[macro_export]
macro_rules! show {
    ($value:expr) => {{
        #[allow(unused_imports)]
        use $crate::display::{ShowDebug as _, ShowRich as _, ShowTypeName as _};
        (&&&$crate::display::Show(&($value))).flywheel_show();
    }};
}

/// Prints `content` as a rich output of MIME type `mime` (`text/html`, `image/svg+xml`).
pub(crate) fn emit(mime: &str, content: &str) {
    println!("{}", rich_content(mime, content));
}

/// What [`emit`] prints, without the final line break.
pub(crate) fn rich_content(mime: &str, content: &str) -> String {
    format!("EVCXR_BEGIN_CONTENT {mime}\n{content}\nEVCXR_END_CONTENT")
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
