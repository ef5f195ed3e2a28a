// One cell: its DOM, editor, outputs and run state.

import { h, formatDuration, ordinal, joinText } from "./util.js";
import { createEditor, setErrorMarks, focusEditor } from "./editor.js";
import { renderMarkdown } from "./markdown.js";
import { OutputArea } from "./outputs.js";

export const TERMINAL = new Set(["ok", "error", "interrupted"]);

export class Cell {
  /**
   * data: { id, cell_type, source, outputs, execution_count }
   * nb: the Notebook (its methods are the cell's actions)
   */
  constructor(nb, data) {
    this.nb = nb;
    this.id = data.id;
    this.type = data.cell_type === "markdown" ? "markdown" : "code";
    this.source = joinText(data.source);
    this.executionCount = Number.isInteger(data.execution_count) ? data.execution_count : null;
    this.state = "idle";
    this.execution = null; // { sid, id, status, queue_position, elapsed_ms }
    this.runningSince = null;
    this.editor = null;
    this.editing = false;
    this.build();
    if (this.type === "code") {
      this.outputArea.set(data.outputs || []);
      this.createEditor();
      this.markErrors();
    } else {
      this.renderMarkdown();
    }
    this.updatePrompt();
    this.updateBadge();
  }

  build() {
    const isCode = this.type === "code";
    const btn = (label, glyph, onclick, extra = {}) =>
      h("button", { type: "button", class: "cell-btn", "aria-label": label, title: label, onclick, ...extra }, glyph);
    this.toolbar = h("div", { class: "cell-toolbar", role: "toolbar", "aria-label": "Cell actions" },
      btn(isCode ? "Run cell" : "Render cell", "▶", () => this.nb.runCell(this, "stay")),
      btn("Run all above", "⤒", () => this.nb.runAllAbove(this)),
      btn("Move cell up", "↑", () => this.nb.moveCell(this, -1)),
      btn("Move cell down", "↓", () => this.nb.moveCell(this, 1)),
      btn(isCode ? "Change to markdown" : "Change to code", isCode ? "M↓" : "{ }", () =>
        this.nb.changeType(this, isCode ? "markdown" : "code")),
      btn("Delete cell", "✕", () => this.nb.deleteCell(this), { class: "cell-btn danger-btn" }),
    );
    this.prompt = h("span", { class: "prompt", "aria-hidden": "true" });
    // Not a live region: the running timer changes five times a second.
    this.badge = h("div", { class: "cell-badge" });
    this.inputEl = h("div", { class: "cell-input" });
    this.outputArea = new OutputArea();
    this.el = h("section", {
      class: "cell",
      "data-cell-id": this.id,
      "data-cell-type": this.type,
      "data-state": this.state,
      role: "group",
      tabindex: "-1",
    },
    h("div", { class: "cell-gutter" }, this.prompt),
    h("div", { class: "cell-main" },
      this.toolbar,
      this.inputEl,
      this.badge,
      isCode ? this.outputArea.el : null));
    this.el.addEventListener("focusin", (e) => {
      const inEditor = this.editor && this.editor.dom.contains(e.target);
      this.nb.select(this, { mode: inEditor ? "edit" : "command", focus: false });
    });
    // A click on the cell's frame, prompt, rendered text or outputs focuses the section (it has
    // tabindex -1), which the focusin above turns into command-mode selection; text stays selectable.
    this.updateLabel(1);
  }

  updateLabel(index) {
    this.el.setAttribute("aria-label", `Cell ${index}, ${this.type}`);
    this.index = index;
  }

  createEditor() {
    const holder = h("div", { class: "cell-editor" });
    this.inputEl.append(holder);
    const nb = this.nb;
    this.editor = createEditor(holder, {
      doc: this.source,
      language: this.type === "markdown" ? "markdown" : "rust",
      label: this.type === "markdown" ? "Markdown source" : "Rust code",
      handlers: {
        onChange: (text) => {
          this.source = text;
          nb.markDirty();
        },
        onFocus: () => nb.select(this, { mode: "edit", focus: false }),
        onBlur: () => nb.onEditorBlur(this),
        onEdge: (dir) => nb.moveSelection(this, dir, { edit: true, from: dir < 0 ? "end" : "start" }),
        keys: {
          "Shift-Enter": () => nb.runCell(this, "next"),
          "Mod-Enter": () => nb.runCell(this, "stay"),
          "Alt-Enter": () => nb.runCell(this, "insert"),
          Escape: () => nb.commandMode(this),
          "Mod-s": () => nb.saveNow(),
        },
      },
    });
  }

  // ---- markdown ----

  renderMarkdown() {
    if (!this.rendered) {
      this.rendered = h("div", { class: "markdown-body", title: "Double-click to edit" });
      this.rendered.addEventListener("dblclick", () => this.nb.editCell(this));
      this.inputEl.append(this.rendered);
    }
    if (this.source.trim()) {
      this.rendered.replaceChildren(renderMarkdown(this.source));
      this.rendered.classList.remove("empty");
    } else {
      this.rendered.replaceChildren(h("p", {}, "Empty text cell — double-click or press Enter to write in it."));
      this.rendered.classList.add("empty");
    }
    this.rendered.hidden = false;
    if (this.editor) this.editor.dom.parentElement.hidden = true;
    this.editing = false;
    this.el.classList.remove("md-editing");
  }

  openMarkdownEditor() {
    if (!this.editor) this.createEditor();
    this.editor.dom.parentElement.hidden = false;
    if (this.rendered) this.rendered.hidden = true;
    this.editing = true;
    this.el.classList.add("md-editing");
  }

  // ---- focus ----

  /** Edit mode: the editor gets the keyboard. */
  focusEditor(where = "keep") {
    if (this.type === "markdown") this.openMarkdownEditor();
    focusEditor(this.editor, where);
  }

  get hasFocusInEditor() {
    return !!this.editor && this.editor.hasFocus;
  }

  // ---- run state ----

  setState(state) {
    this.state = state;
    this.el.dataset.state = state;
    if (state === "running") {
      if (!this.runningSince) this.runningSince = performance.now();
    } else {
      this.runningSince = null;
    }
    this.updatePrompt();
    this.updateBadge();
  }

  /** Before the run request is answered: shown as queued, outputs untouched. */
  markPending() {
    this.execution = null;
    this.setState("queued");
  }

  /** A full execution object (from the run answer or an `execution` event): replaces what is shown. */
  applyExecution(exec, sid) {
    this.execution = {
      sid: sid || (this.execution && this.execution.sid),
      id: exec.id,
      status: exec.status,
      queue_position: exec.queue_position ?? null,
      elapsed_ms: exec.elapsed_ms ?? null,
    };
    if (Number.isInteger(exec.id)) this.executionCount = exec.id;
    this.outputArea.set(exec.outputs || [], !!exec.truncated);
    if (exec.status === "running" && Number.isFinite(exec.elapsed_ms)) {
      this.runningSince = performance.now() - exec.elapsed_ms;
    }
    this.setState(exec.status || "queued");
    if (TERMINAL.has(exec.status)) this.markErrors();
    else this.clearErrors();
  }

  applyStatus(status) {
    if (!this.execution) return;
    this.execution.status = status;
    if (status === "running") this.execution.queue_position = null;
    this.setState(status);
  }

  appendOutput(output) {
    this.outputArea.append(output);
  }

  finish(status, elapsedMs) {
    if (this.execution) {
      this.execution.status = status;
      this.execution.elapsed_ms = elapsedMs ?? this.execution.elapsed_ms;
      this.execution.queue_position = null;
    }
    this.setState(status);
    this.markErrors();
  }

  /** The run was not accepted or was lost: back to a plain state. */
  abandon() {
    this.execution = null;
    this.setState("idle");
  }

  setQueuePosition(pos) {
    if (this.execution && this.state === "queued") {
      this.execution.queue_position = pos;
      this.updateBadge();
    }
  }

  get isPending() {
    return this.state === "queued" || this.state === "running";
  }

  updatePrompt() {
    if (this.type !== "code") {
      this.prompt.textContent = "";
      return;
    }
    if (this.isPending) this.prompt.textContent = "[*]";
    else this.prompt.textContent = this.executionCount === null ? "[ ]" : `[${this.executionCount}]`;
  }

  updateBadge() {
    const ex = this.execution;
    let text = "";
    switch (this.state) {
      case "queued": {
        const pos = ex && ex.queue_position;
        text = Number.isInteger(pos) && pos > 0 ? `queued (${ordinal(pos)} in line)` : "queued";
        break;
      }
      case "running":
        text = `running ${formatDuration(this.runningSince ? performance.now() - this.runningSince : 0)}`;
        break;
      case "ok":
        text = ex && Number.isFinite(ex.elapsed_ms) ? `ok ${formatDuration(ex.elapsed_ms)}` : "ok";
        break;
      case "error":
        text = "error";
        break;
      case "interrupted":
        text = "interrupted";
        break;
      default:
        text = "";
    }
    if (this.badge.textContent !== text) this.badge.textContent = text;
    this.badge.dataset.state = this.state;
  }

  // ---- error marks ----

  markErrors() {
    if (!this.editor || this.type !== "code") return;
    setErrorMarks(this.editor, this.outputArea.errorLocations());
  }

  clearErrors() {
    if (this.editor && this.type === "code") setErrorMarks(this.editor, []);
  }

  hasOutputs() {
    return this.type === "code" && this.outputArea.outputs.length > 0;
  }

  toJSON() {
    return { id: this.id, cell_type: this.type, source: this.source };
  }

  destroy() {
    if (this.editor) this.editor.destroy();
    this.el.remove();
  }
}
