// nbformat outputs to DOM. Nothing from a cell's output runs in the page: HTML is sanitised,
// SVG is only ever shown through <img> (an image cannot run script), never inlined.

import { h, joinText, stripAnsi, base64Utf8 } from "./util.js";
import { sanitizeHtml, renderMarkdown } from "./markdown.js";

// Richest first.
const MIME_ORDER = ["image/svg+xml", "image/png", "image/jpeg", "image/gif", "text/html", "text/markdown",
  "application/json", "text/plain"];

/** Applies carriage returns the way a terminal shows them (progress bars overwrite their line). */
function applyCarriageReturns(text) {
  if (!text.includes("\r")) return text;
  return text
    .replace(/\r\n/g, "\n")
    .split("\n")
    .map((line) => {
      const i = line.lastIndexOf("\r");
      return i < 0 ? line : line.slice(i + 1);
    })
    .join("\n");
}

/** A copy of `outputs` with multiline arrays joined and consecutive same-name streams concatenated. */
export function normalizeOutputs(outputs) {
  const result = [];
  for (const raw of outputs || []) {
    if (!raw || typeof raw !== "object") continue;
    const out = { ...raw };
    if (out.output_type === "stream") {
      out.text = joinText(out.text);
      const last = result[result.length - 1];
      if (last && last.output_type === "stream" && last.name === out.name) {
        last.text += out.text;
        continue;
      }
    }
    result.push(out);
  }
  return result;
}

function pickMime(data) {
  for (const mime of MIME_ORDER) {
    if (data[mime] !== undefined && data[mime] !== null) return mime;
  }
  return Object.keys(data).find((m) => m.startsWith("text/")) || null;
}

function renderData(output) {
  const data = output.data || {};
  const mime = pickMime(data);
  const value = mime ? data[mime] : "";
  const box = h("div", { class: "output output-data", "data-mime": mime || "none" });
  switch (mime) {
    case "image/svg+xml": {
      const svg = joinText(value);
      box.append(h("img", { src: `data:image/svg+xml;base64,${base64Utf8(svg)}`, alt: altText(data, "Plot") }));
      break;
    }
    case "image/png":
    case "image/jpeg":
    case "image/gif": {
      const b64 = joinText(value).replace(/\s+/g, "");
      box.append(h("img", { src: `data:${mime};base64,${b64}`, alt: altText(data, "Image") }));
      break;
    }
    case "text/html": {
      const div = h("div", { class: "output-html" });
      div.append(sanitizeHtml(joinText(value)));
      box.append(div);
      break;
    }
    case "text/markdown": {
      const div = h("div", { class: "output-markdown markdown-body" });
      div.append(renderMarkdown(joinText(value)));
      box.append(div);
      break;
    }
    case "application/json":
      box.append(h("pre", { class: "output-text" }, JSON.stringify(value, null, 2)));
      break;
    case null:
      box.append(h("pre", { class: "output-text muted" }, "(output in a format this page cannot show)"));
      break;
    default:
      box.append(h("pre", { class: "output-text" }, stripAnsi(joinText(value))));
  }
  return box;
}

function altText(data, fallback) {
  const plain = data["text/plain"] && joinText(data["text/plain"]).trim();
  return plain && plain.length < 200 ? plain : fallback;
}

function renderError(output) {
  const ename = stripAnsi(joinText(output.ename));
  const evalue = stripAnsi(joinText(output.evalue));
  const head = [ename, evalue].filter(Boolean).join(": ");
  const lines = (output.traceback || []).map((l) => stripAnsi(joinText(l)));
  const body = lines.filter((l) => l.trim() && l.trim() !== head.trim() && l.trim() !== evalue.trim()).join("\n");
  const box = h("div", { class: "output output-error", role: "group", "aria-label": "Error" });
  box.append(h("pre", {}, h("strong", {}, head || "Error"), body ? "\n" + body : ""));
  return box;
}

function renderStream(output) {
  const name = output.name === "stderr" ? "stderr" : "stdout";
  return h("pre", { class: `output output-stream ${name}` }, applyCarriageReturns(stripAnsi(output.text)));
}

export function renderOutput(output) {
  switch (output.output_type) {
    case "stream":
      return renderStream(output);
    case "execute_result":
    case "display_data":
      return renderData(output);
    case "error":
      return renderError(output);
    default:
      return h("pre", { class: "output output-text muted" }, `(unknown output type ${String(output.output_type)})`);
  }
}

/** The outputs of one cell, kept in step with its DOM (live appends concatenate streams). */
export class OutputArea {
  constructor() {
    this.el = h("div", { class: "outputs" });
    this.outputs = [];
    this.nodes = [];
    this.truncatedNote = null;
  }

  set(outputs, truncated = false) {
    this.outputs = normalizeOutputs(outputs);
    this.nodes = this.outputs.map(renderOutput);
    this.el.replaceChildren(...this.nodes);
    this.truncatedNote = null;
    this.setTruncated(truncated);
  }

  append(raw) {
    const [out] = normalizeOutputs([raw]);
    if (!out) return;
    const last = this.outputs[this.outputs.length - 1];
    if (out.output_type === "stream" && last && last.output_type === "stream" && last.name === out.name) {
      last.text += out.text;
      const node = renderStream(last);
      this.nodes[this.nodes.length - 1].replaceWith(node);
      this.nodes[this.nodes.length - 1] = node;
      return;
    }
    const node = renderOutput(out);
    this.outputs.push(out);
    this.nodes.push(node);
    if (this.truncatedNote) this.el.insertBefore(node, this.truncatedNote);
    else this.el.append(node);
  }

  setTruncated(truncated) {
    if (truncated && !this.truncatedNote) {
      this.truncatedNote = h("p", { class: "output-note" }, "Output was cut short: it exceeded the size limit.");
      this.el.append(this.truncatedNote);
    } else if (!truncated && this.truncatedNote) {
      this.truncatedNote.remove();
      this.truncatedNote = null;
    }
  }

  clear() {
    this.set([]);
  }

  /** Error locations ({line, column}, 1-based) and a message, from the error outputs. */
  errorLocations() {
    const found = [];
    for (const out of this.outputs) {
      if (out.output_type !== "error" || !Array.isArray(out.locations)) continue;
      const message = stripAnsi([joinText(out.ename), joinText(out.evalue)].filter(Boolean).join(": "));
      for (const loc of out.locations) {
        if (loc && Number.isInteger(loc.line)) found.push({ line: loc.line, column: loc.column, message });
      }
    }
    return found;
  }
}
