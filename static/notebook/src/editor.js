// CodeMirror 6 editors for cells: Rust for code, Markdown for text.

import { EditorState, StateEffect, StateField, Prec, RangeSetBuilder } from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLineGutter, highlightActiveLine, drawSelection,
  highlightSpecialChars, Decoration, placeholder as placeholderExt,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import {
  indentOnInput, bracketMatching, syntaxHighlighting, defaultHighlightStyle, indentUnit, LanguageSupport,
} from "@codemirror/language";
import { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { setDiagnostics } from "@codemirror/lint";
import { rust } from "@codemirror/lang-rust";
import { markdownLanguage } from "@codemirror/lang-markdown";

// Whole-line marks for error locations (the lint diagnostics underline the exact spot).
const setErrorLines = StateEffect.define();
const errorLines = StateField.define({
  create: () => Decoration.none,
  update(value, tr) {
    value = value.map(tr.changes);
    for (const effect of tr.effects) if (effect.is(setErrorLines)) value = effect.value;
    return value;
  },
  provide: (field) => EditorView.decorations.from(field),
});
const errorLineMark = Decoration.line({ class: "cm-error-line" });

const theme = EditorView.theme({
  "&": { fontSize: "0.9rem", backgroundColor: "var(--nb-editor-bg)" },
  ".cm-content": { fontFamily: "var(--nb-mono)", padding: "0.4rem 0" },
  ".cm-gutters": { fontFamily: "var(--nb-mono)", backgroundColor: "var(--nb-gutter-bg)", color: "var(--muted)",
    border: "none", borderRight: "1px solid var(--line)" },
  "&.cm-focused": { outline: "none" },
  ".cm-scroller": { lineHeight: "1.45" },
});

/**
 * A new editor in `parent`.
 * handlers: { onChange(text), onFocus(), onBlur(), keys: { "Shift-Enter": fn, … }, onEdge(dir) }
 */
export function createEditor(parent, { doc, language, label, handlers }) {
  const keys = Object.entries(handlers.keys || {}).map(([key, run]) => ({ key, run: () => (run(), true), preventDefault: true }));
  // Arrow up on the first line / down on the last line moves to the neighbouring cell.
  const edgeKeys = [
    { key: "ArrowUp", run: (view) => atEdge(view, -1) && (handlers.onEdge(-1), true) },
    { key: "ArrowDown", run: (view) => atEdge(view, 1) && (handlers.onEdge(1), true) },
  ];
  const extensions = [
    Prec.highest(keymap.of(keys)),
    lineNumbers(),
    highlightActiveLineGutter(),
    highlightSpecialChars(),
    history(),
    drawSelection(),
    EditorState.allowMultipleSelections.of(true),
    indentOnInput(),
    indentUnit.of("    "),
    EditorState.tabSize.of(4),
    bracketMatching(),
    closeBrackets(),
    highlightActiveLine(),
    syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
    keymap.of([...edgeKeys, ...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, indentWithTab]),
    errorLines,
    theme,
    EditorView.contentAttributes.of({ "aria-label": label }),
    // Keep the cursor clear of the notebook's sticky toolbar when the editor scrolls to it.
    EditorView.scrollMargins.of(() => {
      const bar = document.querySelector(".nb-toolbar");
      return { top: bar ? bar.offsetHeight + 8 : 0, bottom: 16 };
    }),
    EditorView.updateListener.of((update) => {
      if (update.docChanged) handlers.onChange(update.state.doc.toString());
      if (update.focusChanged) (update.view.hasFocus ? handlers.onFocus : handlers.onBlur)();
    }),
  ];
  if (language === "markdown") {
    extensions.push(new LanguageSupport(markdownLanguage), EditorView.lineWrapping,
      placeholderExt("Markdown: # heading, **bold**, $e^{i\\pi}+1=0$ …"));
  } else {
    extensions.push(rust());
  }
  return new EditorView({ parent, state: EditorState.create({ doc, extensions }) });
}

function atEdge(view, dir) {
  const sel = view.state.selection.main;
  if (!sel.empty) return false;
  const line = view.state.doc.lineAt(sel.head);
  return dir < 0 ? line.number === 1 : line.number === view.state.doc.lines;
}

/** Marks error locations ({line, column, message}, 1-based) in the editor; an empty list clears them. */
export function setErrorMarks(view, locations) {
  const doc = view.state.doc;
  const diagnostics = [];
  const lines = new Set();
  for (const loc of locations) {
    if (!Number.isInteger(loc.line) || loc.line < 1 || loc.line > doc.lines) continue;
    const line = doc.line(loc.line);
    lines.add(line.number);
    let from = line.from;
    if (Number.isInteger(loc.column) && loc.column >= 1) from = Math.min(line.from + loc.column - 1, line.to);
    // Underline the token at the column (or the whole line when there is none).
    const rest = doc.sliceString(from, line.to);
    const token = /^(?:[A-Za-z0-9_]+|"(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)'|\S)/.exec(rest);
    let to = token ? from + token[0].length : line.to;
    if (from === to) {
      from = line.from;
      to = line.to;
    }
    diagnostics.push({ from, to, severity: "error", source: "rustc", message: loc.message || "error" });
  }
  const builder = new RangeSetBuilder();
  for (const n of [...lines].sort((a, b) => a - b)) builder.add(doc.line(n).from, doc.line(n).from, errorLineMark);
  view.dispatch(setDiagnostics(view.state, diagnostics));
  view.dispatch({ effects: setErrorLines.of(builder.finish()) });
}

/** Puts the cursor at the start or end of the document and focuses. */
export function focusEditor(view, where = "keep") {
  if (where === "start") view.dispatch({ selection: { anchor: 0 } });
  if (where === "end") view.dispatch({ selection: { anchor: view.state.doc.length } });
  view.focus();
}

/** Replaces the whole document (not recorded as a user edit by the caller's onChange guard). */
export function setDoc(view, text) {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}
