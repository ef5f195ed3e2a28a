// The notebook page: toolbar, cells, autosave, runs, keyboard.

import { Api, ApiError, paths } from "./api.js";
import { Cell, TERMINAL } from "./cell.js";
import { Streams } from "./streams.js";
import { h, newCellId } from "./util.js";

const SAVE_DEBOUNCE_MS = 800;
const SAVE_RETRY_MAX_MS = 30_000;
const SESSION_POLL_MS = 15_000;
const SESSION_POLL_STARTING_MS = 2_000;
const KERNELS_POLL_MS = 10_000;
// How often the page asks whether someone else (a teammate, another tab) saved a newer version.
const REVISION_POLL_MS = 3_000;

const CONFLICT_TEXT =
  "This notebook was changed elsewhere (another tab?). Reload to see that version; your unsaved edits are still in this page.";
const GONE_TEXT = "No kernel is running for this notebook (it is stopped after being idle) — variables are gone; outputs shown are from earlier runs.";

const KERNEL_TEXT = {
  none: "Kernel: not started",
  starting: "Kernel: starting…",
  idle: "Kernel: idle",
  busy: "Kernel: busy",
  dead: "Kernel: stopped",
  culled: "Kernel: stopped (idle)",
};

export class Notebook {
  constructor(root, data, csrf) {
    this.root = root;
    this.api = new Api(csrf);
    this.id = root.dataset.notebookId || data.id;
    this.cells = [];
    this.selected = null;
    this.mode = "command";
    this.session = null;
    this.streams = new Streams(this);
    // Autosave: every edit bumps changeSeq; savedSeq is the last one the server has.
    this.changeSeq = 0;
    this.savedSeq = 0;
    this.savePromise = null;
    this.saveTimer = null;
    this.retryDelay = 0;
    this.conflict = false;
    this.nextSessionPoll = Infinity;
    this.nextRevisionPoll = Date.now() + REVISION_POLL_MS;
    this.revisionPolling = false;
    this.pendingD = 0;
    this.disposed = false;
    this.adders = new WeakMap();
    this.buildChrome();
    this.load(data);
    this.installHandlers();
    this.checkKernels();
    this.ticker = setInterval(() => this.onTick(), 200);
  }

  // ------------------------------------------------------------------ layout

  buildChrome() {
    this.root.classList.add("nb");
    this.root.replaceChildren();
    this.titleInput = h("input", {
      type: "text", class: "nb-title", "aria-label": "Notebook title", maxlength: "200", spellcheck: "false",
      oninput: () => {
        this.title = this.titleInput.value;
        this.markDirty();
      },
      onkeydown: (e) => {
        if (e.key === "Enter") this.titleInput.blur();
      },
      onblur: () => this.isDirty && this.save().catch(() => {}),
    });
    this.saveStatus = h("span", { class: "save-status", role: "status", "aria-live": "polite", "data-save-state": "saved" }, "Saved");
    this.kernelStatus = h("span", { class: "kernel-status", "data-kernel-state": "none" }, KERNEL_TEXT.none);
    const button = (text, onclick, cls = "") => h("button", { type: "button", class: `nb-btn ${cls}`, onclick }, text);
    this.runAllBtn = button("Run all", () => this.runAll(), "primary");
    this.interruptBtn = button("Interrupt", () => this.interrupt());
    this.restartBtn = button("Restart kernel", () => this.restart());
    this.resetBtn = button("Reset to original", () => this.reset(), "danger");
    this.ipynbLink = h("a", { class: "nb-btn", href: paths.exportAs(this.id, "ipynb"), download: "" }, "Download .ipynb");
    this.mdLink = h("a", { class: "nb-btn", href: paths.exportAs(this.id, "md"), download: "" }, "Download .md");
    for (const link of [this.ipynbLink, this.mdLink]) {
      // Download what is on screen: save first when there are unsaved edits.
      link.addEventListener("click", (e) => {
        if (!this.isDirty && !this.savePromise) return;
        e.preventDefault();
        this.flush().then(() => link.click(), (err) => this.showBanner("export", "error", `Not downloaded: ${err.message}`));
      });
    }
    this.toolbar = h("header", { class: "nb-toolbar" },
      h("div", { class: "nb-titlebar" }, this.titleInput,
        h("div", { class: "nb-indicators" }, this.saveStatus, this.kernelStatus)),
      h("div", { class: "nb-actions", role: "toolbar", "aria-label": "Notebook actions" },
        this.runAllBtn, this.interruptBtn, this.restartBtn, this.resetBtn,
        h("span", { class: "nb-spacer" }), this.ipynbLink, this.mdLink));
    this.bannerEl = h("div", { class: "nb-banners" });
    this.banners = new Map();
    this.cellsEl = h("div", { class: "nb-cells" });
    this.topAdder = this.makeAdder(() => 0);
    this.topAdder.classList.add("top");
    this.help = h("details", { class: "nb-help" },
      h("summary", {}, "Keyboard shortcuts"),
      h("dl", {},
        ...[
          ["Shift+Enter", "run, go to the next cell"],
          ["Ctrl/⌘+Enter", "run in place"],
          ["Alt+Enter", "run, insert a cell below"],
          ["Esc", "leave the editor (command mode)"],
          ["Enter", "edit the selected cell"],
          ["A / B", "insert a cell above / below"],
          ["D D", "delete the cell"],
          ["M / Y", "make it markdown / code"],
          ["↑ ↓ or K J", "select the previous / next cell"],
          ["Ctrl/⌘+S", "save now"],
        ].flatMap(([k, v]) => [h("dt", {}, h("kbd", {}, k)), h("dd", {}, v)])));
    this.root.append(this.toolbar, this.bannerEl, this.cellsEl, this.help);
  }

  makeAdder(indexFn) {
    const add = (type) => {
      const cell = this.insertCell(indexFn(), type);
      this.editCell(cell);
    };
    return h("div", { class: "adder" },
      h("button", { type: "button", class: "add-btn", onclick: () => add("code") }, "+ Add code"),
      h("button", { type: "button", class: "add-btn", onclick: () => add("markdown") }, "+ Add markdown"));
  }

  adderAfter(cell) {
    let adder = this.adders.get(cell);
    if (!adder) {
      adder = this.makeAdder(() => this.cells.indexOf(cell) + 1);
      this.adders.set(cell, adder);
    }
    return adder;
  }

  renderOrder() {
    const nodes = [this.topAdder];
    this.cells.forEach((cell, i) => {
      cell.updateLabel(i + 1);
      nodes.push(cell.el, this.adderAfter(cell));
    });
    // Only move what is out of place: moving a node with focus in it would blur the editor.
    const current = [...this.cellsEl.children];
    if (current.length !== nodes.length || current.some((n, i) => n !== nodes[i])) {
      const active = document.activeElement;
      this.cellsEl.replaceChildren(...nodes);
      if (active && active !== document.body && this.cellsEl.contains(active)) active.focus({ preventScroll: true });
    }
    this.cellsEl.classList.toggle("empty", this.cells.length === 0);
  }

  /** Shows (or replaces) a banner. kind: error | warning | notice. */
  showBanner(key, kind, text, actions = [], { dismissible = true } = {}) {
    this.hideBanner(key);
    const el = h("div", { class: `nb-banner ${kind}`, role: kind === "error" ? "alert" : "status", "data-banner": key },
      h("p", {}, text),
      h("div", { class: "nb-banner-actions" },
        ...actions.map((a) => h("button", { type: "button", class: "nb-btn", onclick: a.onclick }, a.label)),
        dismissible ? h("button", { type: "button", class: "nb-btn subtle", "aria-label": "Dismiss", onclick: () => this.hideBanner(key) }, "✕") : null));
    this.banners.set(key, el);
    this.bannerEl.append(el);
  }

  hideBanner(key) {
    const el = this.banners.get(key);
    if (el) el.remove();
    this.banners.delete(key);
  }

  // ------------------------------------------------------------------ loading

  load(data) {
    this.streams.closeAll();
    for (const cell of this.cells) cell.destroy();
    this.selected = null;
    this.title = data.title || "";
    this.titleInput.value = this.title;
    this.lab = data.lab ?? null;
    this.revision = data.revision;
    this.resetBtn.hidden = this.lab === null;
    this.cells = (data.cells || []).map((c) => new Cell(this, c));
    this.renderOrder();
    this.savedSeq = this.changeSeq;
    this.conflict = false;
    this.hideBanner("conflict");
    this.hideBanner("save");
    this.setSaveState("saved");
    this.updateSession(data.session || null);
    // A run still going (the server may say so per cell): follow it again.
    for (const [i, c] of (data.cells || []).entries()) {
      const ex = c.execution;
      const sid = (ex && ex.session_id) || (this.session && this.session.id);
      if (ex && sid && !TERMINAL.has(ex.status)) {
        this.cells[i].applyExecution(ex, sid);
        this.streams.follow(this.cells[i], sid, ex.id);
      }
    }
    this.updateKernelBanner();
  }

  // ------------------------------------------------------------------ selection & modes

  select(cell, { mode = "command", focus = false, where = "keep" } = {}) {
    if (!cell) return;
    if (this.selected !== cell) {
      if (this.selected) this.selected.el.classList.remove("selected", "editing");
      this.selected = cell;
      cell.el.classList.add("selected");
    }
    this.mode = mode;
    cell.el.classList.toggle("editing", mode === "edit");
    this.root.dataset.mode = mode;
    if (focus) {
      if (mode === "edit") cell.focusEditor(where);
      else cell.el.focus({ preventScroll: true });
      cell.el.scrollIntoView({ block: "nearest" });
    }
  }

  editCell(cell) {
    this.select(cell, { mode: "edit", focus: true, where: cell.type === "markdown" ? "end" : "keep" });
  }

  commandMode(cell) {
    if (cell.type === "markdown" && cell.editing) cell.renderMarkdown();
    this.select(cell, { mode: "command", focus: true });
  }

  onEditorBlur() {
    if (this.isDirty) this.save().catch(() => {});
  }

  moveSelection(cell, dir, { edit = false, from = "keep" } = {}) {
    const i = this.cells.indexOf(cell);
    const target = this.cells[i + dir];
    if (!target) return;
    if (edit && cell.type === "markdown" && cell.editing) cell.renderMarkdown();
    if (edit && target.type === "code") this.select(target, { mode: "edit", focus: true, where: from });
    else this.select(target, { mode: "command", focus: true });
  }

  // ------------------------------------------------------------------ structure edits

  insertCell(index, type, source = "") {
    const taken = new Set(this.cells.map((c) => c.id));
    const cell = new Cell(this, { id: newCellId(taken), cell_type: type, source, outputs: [], execution_count: null });
    this.cells.splice(Math.max(0, Math.min(index, this.cells.length)), 0, cell);
    this.renderOrder();
    this.markDirty();
    this.updateKernelBanner();
    return cell;
  }

  deleteCell(cell) {
    const i = this.cells.indexOf(cell);
    if (i < 0) return;
    this.streams.cancel(cell);
    this.cells.splice(i, 1);
    if (this.selected === cell) this.selected = null;
    cell.destroy();
    this.renderOrder();
    this.markDirty();
    this.updateKernelBanner();
    const next = this.cells[i] || this.cells[i - 1];
    if (next) this.select(next, { mode: "command", focus: true });
    else this.topAdder.querySelector("button").focus();
  }

  moveCell(cell, dir) {
    const i = this.cells.indexOf(cell);
    const j = i + dir;
    if (i < 0 || j < 0 || j >= this.cells.length) return;
    [this.cells[i], this.cells[j]] = [this.cells[j], this.cells[i]];
    const editing = cell.hasFocusInEditor;
    this.renderOrder();
    this.markDirty();
    if (editing) cell.focusEditor();
    else this.select(cell, { mode: "command", focus: true });
  }

  changeType(cell, type) {
    const i = this.cells.indexOf(cell);
    if (i < 0 || cell.type === type) return;
    this.streams.cancel(cell);
    const fresh = new Cell(this, { id: cell.id, cell_type: type, source: cell.source, outputs: [], execution_count: null });
    this.cells[i] = fresh;
    if (this.selected === cell) this.selected = null;
    cell.destroy();
    this.renderOrder();
    this.markDirty();
    this.updateKernelBanner();
    this.select(fresh, { mode: "command", focus: true });
  }

  // ------------------------------------------------------------------ autosave

  get isDirty() {
    return this.changeSeq !== this.savedSeq;
  }

  markDirty() {
    this.changeSeq += 1;
    if (this.conflict) return; // nothing more is sent until the page is reloaded
    // While retrying after a network failure the indicator keeps saying so.
    if (!this.savePromise && !this.retryDelay) this.setSaveState("dirty");
    this.scheduleSave(SAVE_DEBOUNCE_MS);
  }

  scheduleSave(delay) {
    clearTimeout(this.saveTimer);
    if (this.conflict || this.disposed) return;
    this.saveTimer = setTimeout(() => this.autosave().catch(() => {}), delay);
  }

  saveNow() {
    this.save().catch(() => {});
  }

  /** Saves until the server has every change made so far; resolves true, or rejects with the ApiError. */
  save() {
    this.flushRequested = true;
    return this.autosave();
  }

  /** Before a run or a download: saves until clean (a few rounds if edits keep arriving meanwhile). */
  async flush() {
    for (let round = 0; round < 3; round++) {
      await this.save();
      if (!this.isDirty) break;
    }
    return true;
  }

  /** One PATCH at a time; edits made while it is in flight are sent after the next debounce (or at once when flushing). */
  autosave() {
    clearTimeout(this.saveTimer);
    if (!this.savePromise) {
      this.savePromise = this.saveLoop().finally(() => {
        this.savePromise = null;
        this.flushRequested = false;
      });
    }
    return this.savePromise;
  }

  async saveLoop() {
    for (;;) {
      if (this.conflict) throw new ApiError(409, "conflict", CONFLICT_TEXT);
      if (!this.isDirty) {
        this.setSaveState("saved");
        return true;
      }
      const seq = this.changeSeq;
      const body = { revision: this.revision, title: this.title, cells: this.cells.map((c) => c.toJSON()) };
      this.setSaveState("saving");
      try {
        const saved = await this.api.patch(paths.notebook(this.id), body);
        if (saved && Number.isInteger(saved.revision)) this.revision = saved.revision;
        this.savedSeq = Math.max(this.savedSeq, seq);
        this.retryDelay = 0;
        this.lastSavedAt = new Date();
        this.hideBanner("save");
        if (this.isDirty && !this.flushRequested) {
          this.setSaveState("dirty");
          this.scheduleSave(SAVE_DEBOUNCE_MS);
          return false;
        }
      } catch (e) {
        const err = e instanceof ApiError ? e : new ApiError(0, "network", String(e));
        if (err.status === 409) {
          this.conflict = true;
          this.setSaveState("error", "conflict");
          this.showBanner("conflict", "error", CONFLICT_TEXT, [{ label: "Reload", onclick: () => location.reload() }], { dismissible: false });
        } else if (err.transient) {
          this.retryDelay = Math.min(SAVE_RETRY_MAX_MS, Math.max(1000, this.retryDelay * 2));
          this.setSaveState("error", "network");
          this.scheduleSave(this.retryDelay);
        } else {
          // 413, 422, 401, 403…: sending the same again would fail the same way; the next edit retries.
          this.setSaveState("error", "rejected");
          this.showBanner("save", "error", `Not saved: ${err.message}`);
        }
        throw err;
      }
    }
  }

  setSaveState(state, reason = "") {
    const text = {
      saved: "Saved",
      saving: "Saving…",
      dirty: "Unsaved changes",
      error: reason === "conflict" ? "Not saved — changed elsewhere" : reason === "rejected" ? "Not saved" : "Save failed — retrying",
    }[state];
    this.saveStatus.dataset.saveState = state;
    if (reason) this.saveStatus.dataset.saveError = reason;
    else delete this.saveStatus.dataset.saveError;
    this.saveStatus.textContent = text;
    this.saveStatus.title = state === "saved" && this.lastSavedAt ? `Saved at ${this.lastSavedAt.toLocaleTimeString()}` : "";
  }

  // ------------------------------------------------------------------ running

  runCell(cell, after = "stay") {
    const i = this.cells.indexOf(cell);
    if (cell.type === "markdown") {
      if (cell.editing) cell.renderMarkdown();
    } else {
      this.run([cell]);
    }
    if (after === "next") {
      const next = this.cells[i + 1];
      if (next) {
        if (next.type === "code") this.select(next, { mode: "edit", focus: true, where: "start" });
        else this.select(next, { mode: "command", focus: true });
      } else {
        this.editCell(this.insertCell(i + 1, "code"));
      }
    } else if (after === "insert") {
      this.editCell(this.insertCell(i + 1, "code"));
    } else if (cell.type === "markdown") {
      this.select(cell, { mode: "command", focus: true });
    }
  }

  runAll() {
    this.run(this.cells);
  }

  runAllAbove(cell) {
    const i = this.cells.indexOf(cell);
    this.run(this.cells.slice(0, Math.max(0, i)));
  }

  /** Saves, then asks the server to run each code cell in order (it queues them). */
  async run(cells) {
    const code = cells.filter((c) => c.type === "code");
    if (!code.length) return;
    for (const c of code) {
      this.streams.cancel(c);
      c.markPending();
    }
    this.hideBanner("gone");
    try {
      await this.flush();
    } catch (e) {
      for (const c of code) c.abandon();
      this.showBanner("run", "error", `Not run: the notebook could not be saved first (${e.message})`);
      this.updateKernelBanner();
      return;
    }
    for (let k = 0; k < code.length; k++) {
      const c = code[k];
      if (!this.cells.includes(c)) continue;
      try {
        const res = await this.api.post(paths.run(this.id, c.id), {});
        if (res && res.session) this.updateSession(res.session);
        const sid = (res && res.session && res.session.id) || (this.session && this.session.id);
        c.applyExecution(res.execution, sid);
        this.hideBanner("run");
        if (!TERMINAL.has(res.execution.status) && sid) this.streams.follow(c, sid, res.execution.id);
        this.onExecutionChanged(c);
      } catch (e) {
        for (const rest of code.slice(k)) rest.abandon();
        this.showBanner("run", "error", `Not run: ${e.message}`);
        this.updateKernelBanner();
        return;
      }
    }
  }

  onExecutionChanged() {
    this.inferKernelState();
  }

  onExecutionDone() {
    this.inferKernelState();
    this.updateKernelBanner();
  }

  /** Asks how an execution ended when its stream could not be followed. */
  async recoverExecution(cell, sid, eid) {
    try {
      const ex = await this.api.get(paths.execution(sid, eid));
      if (!cell.execution || cell.execution.id !== eid) return;
      cell.applyExecution(ex, sid);
      if (!TERMINAL.has(ex.status)) setTimeout(() => this.streams.follow(cell, sid, eid), 3000);
    } catch (e) {
      if (!cell.execution || cell.execution.id !== eid) return;
      if (e.status === 404) {
        cell.abandon();
        this.showBanner("run", "warning", "A run was lost: its kernel session is gone. Run the cell again.");
        this.updateSession(null);
      } else {
        setTimeout(() => this.streams.follow(cell, sid, eid), 5000);
      }
    }
    this.inferKernelState();
  }

  async interrupt() {
    if (!this.session) return;
    try {
      await this.api.post(paths.interrupt(this.session.id), {});
    } catch (e) {
      this.showBanner("kernel", "error", `Could not interrupt: ${e.message}`);
    }
  }

  async restart() {
    if (!this.session) return;
    if (!confirm("Restart the kernel? Its variables will be lost (outputs on the page stay).")) return;
    try {
      await this.api.post(paths.restart(this.session.id), {});
      this.updateSession({ ...this.session, kernel: "starting", kernel_message: null });
      this.nextSessionPoll = Date.now() + SESSION_POLL_STARTING_MS;
    } catch (e) {
      this.showBanner("kernel", "error", `Could not restart the kernel: ${e.message}`);
    }
  }

  async reset() {
    if (this.lab === null) return;
    if (!confirm("Reset this notebook to the lab's original? Your edits and outputs in it will be lost.")) return;
    clearTimeout(this.saveTimer);
    if (this.savePromise) await this.savePromise.catch(() => {});
    try {
      const data = await this.api.post(paths.reset(this.id), {});
      this.load(data);
    } catch (e) {
      this.showBanner("reset", "error", `Could not reset: ${e.message}`);
    }
  }

  // ------------------------------------------------------------------ kernel state

  updateSession(session) {
    this.session = session && session.id ? { ...session } : null;
    const state = this.session ? this.session.kernel || "idle" : "none";
    this.kernelStatus.dataset.kernelState = state;
    this.kernelStatus.textContent = KERNEL_TEXT[state] || `Kernel: ${state}`;
    this.kernelStatus.title = (this.session && this.session.kernel_message) || "";
    this.interruptBtn.disabled = !this.session;
    this.restartBtn.disabled = !this.session;
    this.nextSessionPoll = this.session
      ? Date.now() + (state === "starting" ? SESSION_POLL_STARTING_MS : SESSION_POLL_MS)
      : Infinity;
    this.updateKernelBanner();
  }

  /** Between polls, the cells tell whether the kernel is busy. */
  inferKernelState() {
    if (!this.session) return;
    const running = this.cells.some((c) => c.state === "running");
    const pending = this.cells.some((c) => c.isPending);
    const k = this.session.kernel;
    if (running && k !== "busy") this.updateSession({ ...this.session, kernel: "busy" });
    else if (!pending && k === "busy") this.updateSession({ ...this.session, kernel: "idle" });
  }

  async pollSession() {
    if (!this.session) return;
    const sid = this.session.id;
    this.nextSessionPoll = Infinity;
    this.nextRevisionPoll = Date.now() + REVISION_POLL_MS;
    this.revisionPolling = false;
    try {
      const s = await this.api.get(paths.session(sid));
      if (this.session && this.session.id === sid) this.updateSession(s);
    } catch (e) {
      if (!this.session || this.session.id !== sid) return;
      if (e.status === 404) this.updateSession(null);
      else this.nextSessionPoll = Date.now() + SESSION_POLL_MS;
    }
  }

  updateKernelBanner() {
    const s = this.session;
    const gone = !s || s.kernel === "culled" || s.kernel === "dead";
    const show = gone && this.cells.some((c) => c.hasOutputs()) && !this.cells.some((c) => c.isPending);
    if (!show) {
      this.hideBanner("gone");
      return;
    }
    if (this.banners.has("gone")) return;
    const text = s && s.kernel === "dead"
      ? `The kernel stopped${s.kernel_message ? ` (${s.kernel_message})` : ""} — variables are gone; outputs shown are from earlier runs.`
      : GONE_TEXT;
    this.showBanner("gone", "warning", text, [{
      label: "Run all above",
      // Above the selected cell; everything when none is selected or nothing is above it.
      onclick: () => {
        const at = this.selected ? this.cells.indexOf(this.selected) : -1;
        const above = at > 0 && this.cells.slice(0, at).some((c) => c.type === "code");
        return above ? this.runAllAbove(this.selected) : this.runAll();
      },
    }]);
  }

  async checkKernels() {
    if (this.disposed) return;
    let next = null;
    try {
      const k = await this.api.get(paths.kernels());
      if (k.state === "ready") {
        this.hideBanner("kernels");
      } else {
        this.showBanner("kernels", k.state === "preparing" ? "notice" : "error", k.message || `Kernels are ${k.state}.`);
        if (k.state === "preparing") next = KERNELS_POLL_MS;
      }
    } catch (e) {
      next = e.transient ? 3 * KERNELS_POLL_MS : null;
    }
    if (next) this.kernelsTimer = setTimeout(() => this.checkKernels(), next);
  }

  // ------------------------------------------------------------------ events

  onTick() {
    if (!this.root.isConnected) {
      this.dispose();
      return;
    }
    for (const c of this.cells) if (c.state === "running") c.updateBadge();
    if (Date.now() >= this.nextSessionPoll && document.visibilityState === "visible") this.pollSession();
    if (Date.now() >= this.nextRevisionPoll && document.visibilityState === "visible") this.pollRevision();
  }

  /**
   * Follows edits saved elsewhere (a teammate on a shared notebook, another tab): when the
   * server has a newer revision and this page has nothing unsaved, the page takes that version
   * (keeping the selected cell); with unsaved edits it leaves them alone and says so — the next
   * save would be refused (409) and the conflict banner offers a reload.
   */
  async pollRevision() {
    if (this.revisionPolling || this.disposed) return;
    this.revisionPolling = true;
    this.nextRevisionPoll = Date.now() + REVISION_POLL_MS;
    try {
      if (this.conflict) return;
      const remote = await this.api.get(paths.revision(this.id));
      // A save of this page's own in flight: its answer brings the revision; decide next time.
      if (!remote || !(remote.revision > this.revision) || this.savePromise) return;
      if (this.isDirty) {
        this.showBanner("remote", "warning", "Someone saved a newer version of this notebook (a teammate or another tab). Your unsaved edits are kept here; reload to see theirs.",
          [{ label: "Reload", onclick: () => location.reload() }]);
        return;
      }
      const fresh = await this.api.get(paths.notebook(this.id));
      if (!fresh || this.isDirty || this.savePromise || !(fresh.revision > this.revision)) return;
      const at = this.selected ? this.cells.indexOf(this.selected) : -1;
      this.load(fresh);
      if (at >= 0 && this.cells.length) this.select(this.cells[Math.min(at, this.cells.length - 1)], { mode: "command" });
      this.showBanner("remote", "notice", "Updated with changes saved elsewhere (a teammate or another tab).");
    } catch {
      // A failed poll is retried at the next one.
    } finally {
      this.revisionPolling = false;
    }
  }

  installHandlers() {
    this.onRootKeyDown = (e) => this.handleCommandKey(e);
    this.root.addEventListener("keydown", this.onRootKeyDown);
    this.onDocKeyDown = (e) => {
      if (e.defaultPrevented) return; // the editor's own Mod-s binding saved already
      if ((e.ctrlKey || e.metaKey) && !e.altKey && (e.key === "s" || e.key === "S")) {
        e.preventDefault();
        this.saveNow();
      }
    };
    document.addEventListener("keydown", this.onDocKeyDown);
    this.onBeforeUnload = (e) => {
      if (this.isDirty || this.savePromise) {
        e.preventDefault();
        e.returnValue = "";
      }
    };
    window.addEventListener("beforeunload", this.onBeforeUnload);
    this.onVisibility = () => {
      if (document.visibilityState === "hidden" && this.isDirty) this.saveNow();
    };
    document.addEventListener("visibilitychange", this.onVisibility);
    // The site's pages use htmx's boosted links, which leave without beforeunload: save first.
    this.onHtmxConfirm = (e) => {
      if (this.root.contains(e.target) || !(this.isDirty || this.savePromise) || !e.detail || !e.detail.issueRequest) return;
      e.preventDefault();
      this.flush().then(
        () => e.detail.issueRequest(true),
        () => confirm("Your latest edits could not be saved. Leave anyway?") && e.detail.issueRequest(true));
    };
    document.addEventListener("htmx:confirm", this.onHtmxConfirm);
  }

  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    clearInterval(this.ticker);
    clearTimeout(this.saveTimer);
    clearTimeout(this.kernelsTimer);
    this.streams.closeAll();
    document.removeEventListener("keydown", this.onDocKeyDown);
    window.removeEventListener("beforeunload", this.onBeforeUnload);
    document.removeEventListener("visibilitychange", this.onVisibility);
    document.removeEventListener("htmx:confirm", this.onHtmxConfirm);
  }

  /** Command mode: keys on a selected cell (not in an editor, field or button). */
  handleCommandKey(e) {
    const t = e.target;
    if (e.defaultPrevented || t.closest(".cm-editor")) return;
    if (t.closest("input, textarea, select, button, a, summary, [contenteditable]")) return;
    const cell = this.selected;
    const mod = e.ctrlKey || e.metaKey;
    if (e.key === "Enter") {
      if (!cell) return;
      e.preventDefault();
      if (e.shiftKey) this.runCell(cell, "next");
      else if (mod) this.runCell(cell, "stay");
      else if (e.altKey) this.runCell(cell, "insert");
      else this.editCell(cell);
      return;
    }
    if (mod || e.altKey) return;
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    const i = cell ? this.cells.indexOf(cell) : -1;
    let handled = true;
    switch (key) {
      case "ArrowUp":
      case "k":
        if (cell) this.moveSelection(cell, -1);
        else if (this.cells.length) this.select(this.cells[this.cells.length - 1], { focus: true });
        break;
      case "ArrowDown":
      case "j":
        if (cell) this.moveSelection(cell, 1);
        else if (this.cells.length) this.select(this.cells[0], { focus: true });
        break;
      case "a":
        this.select(this.insertCell(Math.max(0, i), "code"), { focus: true });
        break;
      case "b":
        this.select(this.insertCell(i + 1, "code"), { focus: true });
        break;
      case "d":
        if (!cell) break;
        if (Date.now() - this.pendingD < 800) {
          this.pendingD = 0;
          this.deleteCell(cell);
        } else {
          this.pendingD = Date.now();
        }
        break;
      case "m":
        if (cell) this.changeType(cell, "markdown");
        break;
      case "y":
        if (cell) this.changeType(cell, "code");
        break;
      default:
        handled = false;
    }
    if (handled) e.preventDefault();
    if (key !== "d") this.pendingD = 0;
  }
}
