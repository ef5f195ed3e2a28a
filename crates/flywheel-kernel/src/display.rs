//! The display of a cell's last value, chosen at compile time.
//!
//! evcxr shows a cell's final expression `expr` by compiling
//! `(expr).evcxr_display();` and, when that fails, compiling the cell again
//! with `{:?}`: two compiles for every cell ending in a number or a string
//! (measured: the second one was ≈ 250 ms of a ≈ 650 ms warm cell), and any
//! compile error that evcxr attributes to that line — even one it then
//! fixes, such as a variable's inferred type — makes it fall back to `{:?}`:
//! the likely cause of the first table of a new session sometimes coming
//! back as text instead of HTML (seen in the labs, not reproduced on demand). With the library loaded, the worker therefore
//! rewrites the final expression into `flywheel_ml::show!(expr);`, which
//! picks rich, `{:?}` or the type's name at compile time in one compile.
//!
//! Not rewritten (evcxr's own way applies): cells with `:` commands or that
//! do not parse, and every cell of a session in which a cell mentioned
//! `evcxr_display` (a participant's own rich type, which `show!` cannot
//! see: it only knows the library's types).

use ra_ap_syntax::{AstNode, Edition, SourceFile, ast};

/// What the macro call adds in front of the expression.
/// (Not `::flywheel_ml`: evcxr takes a line that starts with `:` for a command.)
const PREFIX: &str = "flywheel_ml::show!(";

/// A cell whose final expression was rewritten.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Rewritten {
    /// The cell as evcxr gets it.
    pub code: String,
    /// 1-based line of the final expression's start.
    pub line: usize,
    /// 1-based column (in characters) of its start on that line.
    pub column: usize,
}

impl Rewritten {
    /// Maps a compile error's column on the rewritten cell back to the
    /// participant's cell (only the final expression's first line moved).
    pub fn original_column(&self, line: usize, column: usize) -> usize {
        let shift = PREFIX.chars().count();
        if line == self.line && column >= self.column + shift { column - shift } else { column }
    }
}

/// The cell with its final expression shown by `show!`, or `None` when it
/// has none, has `:` commands, or does not parse.
pub(crate) fn rewrite(code: &str) -> Option<Rewritten> {
    if code.lines().any(|l| l.trim_start().starts_with(':')) {
        return None;
    }
    // Parsed as evcxr parses a cell: as the body of a function.
    let wrapper = "fn f(){";
    let parsed = SourceFile::parse(&format!("{wrapper}{code}\n}}"), Edition::Edition2024);
    if !parsed.errors().is_empty() {
        return None;
    }
    let tail = parsed
        .tree()
        .syntax()
        .children()
        .next()
        .and_then(ast::Fn::cast)
        .and_then(|f| f.body())
        .and_then(|b| b.stmt_list())
        .and_then(|s| s.tail_expr())?;
    let range = tail.syntax().text_range();
    let start = usize::from(range.start()).checked_sub(wrapper.len())?;
    let end = usize::from(range.end()).checked_sub(wrapper.len())?.min(code.len());
    let before = code.get(..start)?;
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let code = format!("{before}{PREFIX}{});{}", code.get(start..end)?, code.get(end..)?);
    Some(Rewritten { code, line, column })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_final_expression_is_shown_by_the_macro() {
        let r = rewrite("let x = 40;\nx + 2").expect("a final expression");
        assert_eq!(r.code, "let x = 40;\nflywheel_ml::show!(x + 2);");
        assert_eq!((r.line, r.column), (2, 1));
        let r = rewrite("let t = Table::new();\n  t.head(5)  \n").expect("a final expression");
        assert_eq!(r.code, "let t = Table::new();\n  flywheel_ml::show!(t.head(5));  \n");
        assert_eq!((r.line, r.column), (2, 3));
        assert_eq!(r.original_column(2, 3 + PREFIX.len() + 2), 5, "an error in the expression");
        assert_eq!(r.original_column(1, 30), 30, "other lines do not move");
        let r = rewrite("if ok {\n    \"yes\"\n} else {\n    \"no\"\n}").expect("a block-like expression");
        assert!(r.code.starts_with("flywheel_ml::show!(if ok {") && r.code.ends_with("});"), "{}", r.code);
    }

    #[test]
    fn cells_without_a_final_expression_or_that_do_not_parse_stay_as_they_are() {
        assert_eq!(rewrite("let x = 1;"), None);
        assert_eq!(rewrite("println!(\"hi\");"), None);
        assert_eq!(rewrite("fn f() -> i32 { 1 }"), None);
        assert_eq!(rewrite("let x = ;\nx"), None);
        assert_eq!(rewrite(":vars\nx"), None);
        assert_eq!(rewrite(""), None);
    }
}
