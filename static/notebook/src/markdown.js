// Markdown (GitHub-flavoured, with $…$ / $$…$$ maths) to sanitised DOM.

import { Marked } from "marked";
import DOMPurify from "dompurify";
import katex from "katex";

function renderMath(tex, displayMode) {
  return katex.renderToString(tex, { displayMode, throwOnError: false, output: "htmlAndMathml", strict: "ignore" });
}

// $$ … $$ on lines of their own (or one line) is a display block.
const blockMath = {
  name: "blockMath",
  level: "block",
  start(src) {
    const i = src.indexOf("$$");
    return i < 0 ? undefined : i;
  },
  tokenizer(src) {
    const m = /^ {0,3}\$\$([\s\S]+?)\$\$[ \t]*(?:\n+|$)/.exec(src);
    if (m) return { type: "blockMath", raw: m[0], text: m[1].trim() };
    return undefined;
  },
  renderer(token) {
    return `<div class="math math-display">${renderMath(token.text, true)}</div>\n`;
  },
};

// $$…$$ inline is display maths too; $…$ is inline maths. As in pandoc, an opening $ is not
// followed by a space and a closing $ is not preceded by one nor followed by a digit, so
// "costs $5 and $10" stays text.
const inlineMath = {
  name: "inlineMath",
  level: "inline",
  start(src) {
    const i = src.indexOf("$");
    return i < 0 ? undefined : i;
  },
  tokenizer(src) {
    let m = /^\$\$((?:\\.|[^$\\])+?)\$\$/.exec(src);
    if (m) return { type: "inlineMath", raw: m[0], text: m[1].trim(), display: true };
    m = /^\$(?![\s$])((?:\\.|[^$\\\n])*?[^\s\\])\$(?!\d)/.exec(src) || /^\$([^\s$\\])\$(?!\d)/.exec(src);
    if (m) return { type: "inlineMath", raw: m[0], text: m[1], display: false };
    return undefined;
  },
  renderer(token) {
    return `<span class="math math-inline">${renderMath(token.text, token.display)}</span>`;
  },
};

const marked = new Marked({ gfm: true, breaks: false, async: false });
marked.use({
  extensions: [blockMath, inlineMath],
  renderer: {
    // Task-list boxes as characters: the sanitiser drops form controls.
    checkbox({ checked }) {
      return `<span class="task-box" aria-hidden="true">${checked ? "☑" : "☐"}</span> `;
    },
  },
});

// Links out of the notebook open in a new tab (a same-tab click would leave unsaved work).
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    const href = node.getAttribute("href");
    if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith("//")) {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer");
    }
  }
});

const FORBID_TAGS = ["style", "form", "input", "button", "select", "option", "textarea", "iframe", "frame",
  "object", "embed", "base", "link", "meta", "dialog", "template"];
const FORBID_ATTR = ["action", "formaction", "srcset", "ping"];

/** Sanitised DOM for untrusted HTML (cell output): HTML only, no SVG or MathML, no scripts, handlers or forms. */
export function sanitizeHtml(html) {
  return DOMPurify.sanitize(html, {
    USE_PROFILES: { html: true },
    FORBID_TAGS,
    FORBID_ATTR,
    SANITIZE_NAMED_PROPS: true,
    RETURN_DOM_FRAGMENT: true,
  });
}

/** Sanitised DOM for a markdown cell's source (MathML allowed: KaTeX writes it for screen readers). */
export function renderMarkdown(source) {
  let html;
  try {
    html = marked.parse(source);
  } catch (e) {
    html = `<pre>${escapeHtml(source)}</pre>`;
  }
  return DOMPurify.sanitize(html, {
    USE_PROFILES: { html: true, mathMl: true },
    FORBID_TAGS,
    FORBID_ATTR,
    SANITIZE_NAMED_PROPS: true,
    RETURN_DOM_FRAGMENT: true,
  });
}

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
