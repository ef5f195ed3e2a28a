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

// What a cell's `TrainingJob::…::submit()` leaves: `{"jobs": ["<token>", …]}` (flywheel_ml's TRAINING_JOB_MIME).
const TRAINING_JOB_MIME = "application/vnd.flywheel.training-job+json";
const FINISHED = ["completed", "failed", "cancelled"];

/** A metric curve as an <img> of an SVG polyline (one per metric, values scaled to the box). */
function curveImage(metrics) {
  const series = Object.entries(metrics || {}).filter(([, v]) => Array.isArray(v) && v.length >= 2);
  if (!series.length) return null;
  const [w, hgt, pad] = [320, 120, 6];
  const all = series.flatMap(([, v]) => v);
  const [lo, hi] = [Math.min(...all), Math.max(...all)];
  const colours = ["#2563eb", "#dc2626", "#16a34a", "#9333ea"];
  const lines = series.map(([, v], i) => {
    const pts = v.map((y, x) => `${(pad + (x * (w - 2 * pad)) / (v.length - 1)).toFixed(1)},${(hgt - pad - ((y - lo) / (hi - lo || 1)) * (hgt - 2 * pad)).toFixed(1)}`);
    return `<polyline fill="none" stroke="${colours[i % colours.length]}" stroke-width="2" points="${pts.join(" ")}"/>`;
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${hgt}">${lines.join("")}</svg>`;
  const names = series.map(([k, v]) => `${k}: ${v[v.length - 1].toFixed(4)}`).join(", ");
  return h("img", { src: `data:image/svg+xml;base64,${base64Utf8(svg)}`, alt: names, title: names });
}

/** A live card for a job a cell submitted: state, place in the queue and why, the curve, the final metrics. */
function trainingJobCard(token) {
  const state = h("span", { class: "training-state" }, "sent to the training pool when the cell finishes");
  const curve = h("div", { class: "training-curve" });
  const card = h("div", { class: "training-job", "data-token": token },
    h("strong", {}, "Training job "), h("code", {}, token.slice(0, 8)), ": ", state, curve,
    h("a", { href: "/training" }, "Training page"));
  let polls = 0;
  const poll = async () => {
    if (polls++ > 0 && !card.isConnected) return;
    let job = null;
    try {
      const r = await fetch(`/api/v1/training-jobs?cell_token=${token}`, { credentials: "same-origin", cache: "no-store" });
      if (r.ok) [job] = await r.json();
    } catch (e) { /* the next poll tries again */ }
    if (job) {
      const parts = [job.state];
      if (job.position) parts.push(`#${job.position} in the queue (${job.reason}: ${job.reason_text})`);
      if (job.progress) parts.push(`round ${job.progress[0]} of ${job.progress[1]}`);
      if (job.error) parts.push(job.error);
      const finals = Object.entries(job.final_metrics || {}).map(([k, v]) => `${k} ${Number(v).toFixed(4)}`);
      if (finals.length) parts.push(finals.join(", "));
      state.textContent = parts.join(" · ");
      card.dataset.state = job.state;
      const img = curveImage(job.metrics);
      curve.replaceChildren(...(img ? [img] : []));
      if (FINISHED.includes(job.state)) return;
    }
    setTimeout(poll, 2000);
  };
  setTimeout(poll, 300);
  return card;
}

function renderTrainingJobs(value) {
  let tokens = [];
  try {
    const parsed = typeof value === "string" || Array.isArray(value) ? JSON.parse(joinText(value)) : value;
    tokens = (parsed && parsed.jobs) || [];
  } catch (e) { tokens = []; }
  const box = h("div", { class: "output training-jobs" });
  box.append(...tokens.filter((t) => /^[0-9a-f]{16}$/.test(t)).map(trainingJobCard));
  return box;
}

function renderData(output) {
  const data = output.data || {};
  if (data[TRAINING_JOB_MIME] !== undefined) {
    const rest = { ...data };
    delete rest[TRAINING_JOB_MIME];
    const box = renderTrainingJobs(data[TRAINING_JOB_MIME]);
    if (Object.keys(rest).length) box.prepend(renderData({ ...output, data: rest }));
    return box;
  }
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
