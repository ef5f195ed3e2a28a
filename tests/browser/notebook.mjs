// End-to-end test of the notebook page in headless Chromium, against a running Flywheel server.
//
//   npm ci --prefix tests/browser
//   FLYWHEEL_URL=http://127.0.0.1:4567 FLYWHEEL_EMAIL=… FLYWHEEL_PASSWORD=… FLYWHEEL_LAB=slug \
//   ARTIFACTS_DIR=tests/artifacts/browser node tests/browser/notebook.mjs
//
// CHROMIUM names the browser (default /usr/bin/chromium, Debian's package `chromium`).
//
// The steps, on the lab's notebook (it needs two code cells: one to edit, one that draws an SVG):
// log in, open the lab, type and run cells (Shift+Enter, Ctrl+Enter), autosave, reload;
// then a second tab whose stale edit must get the conflict banner, and which then follows the first
// tab's next save live (no reload); the kernel session closed
// through the API (as culling does) and the "gone" banner's rerun; command-mode keys
// (Esc, B, M, Enter, Shift+Enter, D D); Interrupt of an endless loop; a compile error marking
// its line; the .ipynb export and its upload; and last a CSV on My data (a bad row refused
// with its line, then left out on request). Screenshots: notebook.png, notebook-reloaded.png,
// conflict.png, kernel-gone.png, uploaded.png, data-upload.png.
// Each step prints "ok - …" or fails with "FAIL - step: what was seen", a screenshot
// (failure.png) and the browser console (console.log) in ARTIFACTS_DIR, and exit code 1.

import fs from "node:fs";
import path from "node:path";

import { env, fail, short, start } from "./lib.mjs";

const BASE = env("FLYWHEEL_URL").replace(/\/+$/, "");
const EMAIL = env("FLYWHEEL_EMAIL");
const PASSWORD = env("FLYWHEEL_PASSWORD");
const LAB = env("FLYWHEEL_LAB");
const FIRST_RUN_MS = 5 * 60_000; // the first kernel start compiles the ML library

const { artifacts: ARTIFACTS, browser, watchTab, step, finish } = await start("tests/artifacts/browser");
const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
const page = watchTab(await context.newPage());

/** Waits until the cell's data-state is finished; fails at once on error/interrupted. */
async function waitForCellOk(cellId, timeoutMs) {
  const sel = `#notebook .cell[data-cell-id="${cellId}"]`;
  const handle = await page.waitForFunction(
    (s) => {
      const el = document.querySelector(s);
      return el && ["ok", "error", "interrupted"].includes(el.dataset.state) ? el.dataset.state : false;
    },
    sel,
    { timeout: timeoutMs, polling: 250 },
  ).catch(async () => {
    const state = await page.locator(sel).getAttribute("data-state").catch(() => "?");
    const badge = await page.locator(`${sel} .cell-badge`).textContent().catch(() => "");
    fail(`cell ${cellId} did not finish within ${timeoutMs / 1000} s (data-state=${state}, badge "${short(badge)}")`);
  });
  const state = await handle.jsonValue();
  if (state !== "ok") {
    const outputs = await page.locator(`${sel} .outputs`).textContent().catch(() => "");
    const banners = await page.locator("#notebook .nb-banner").allTextContents().catch(() => []);
    fail(`cell ${cellId} ended "${state}"; outputs: "${short(outputs)}"${banners.length ? `; banners: ${short(banners.join(" | "))}` : ""}`);
  }
}

/**
 * A full-page screenshot. CodeMirror measures an editor's lines only once it has been on screen,
 * so each editor is scrolled into view first (else editors below the fold show squeezed line
 * numbers in the picture), then the page goes back to the top (the toolbar is sticky).
 */
async function screenshot(name, p = page) {
  for (const editor of await p.locator("#notebook .cm-editor").all()) {
    await editor.scrollIntoViewIfNeeded().catch(() => {});
    await p.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  }
  await p.evaluate(() => window.scrollTo(0, 0));
  await p.waitForTimeout(100);
  await p.screenshot({ path: path.join(ARTIFACTS, name), fullPage: true });
}

const cellSel = (cellId) => `#notebook .cell[data-cell-id="${cellId}"]`;
const editorText = (cellId, p = page) =>
  p.locator(`${cellSel(cellId)} .cm-line`).allTextContents().then((lines) => lines.join("\n"));

/** Waits until everything typed is saved: indicator "Saved", nothing dirty, no PATCH in flight. */
async function waitForSaved(p = page, timeoutMs = 15_000) {
  await p.waitForFunction(() => {
    const nb = document.getElementById("notebook")?.notebook;
    const state = document.querySelector("#notebook .save-status")?.dataset.saveState;
    return nb && !nb.isDirty && !nb.savePromise && state === "saved";
  }, null, { timeout: timeoutMs, polling: 100 }).catch(async () => {
    const el = p.locator("#notebook .save-status");
    fail(`not saved within ${timeoutMs / 1000} s: save state "${await el.getAttribute("data-save-state")}" ("${await el.textContent()}")`);
  });
}

/** Waits until the cell's data-state is `want`; fails with what it is instead. */
async function waitForCellState(cellId, want, timeoutMs) {
  await page.waitForFunction(([s, w]) => document.querySelector(s)?.dataset.state === w, [cellSel(cellId), want],
    { timeout: timeoutMs, polling: 100 }).catch(async () => {
    const state = await page.locator(cellSel(cellId)).getAttribute("data-state").catch(() => "?");
    const outputs = await page.locator(`${cellSel(cellId)} .outputs`).textContent().catch(() => "");
    fail(`cell ${cellId} is "${state}", not "${want}", after ${timeoutMs / 1000} s; outputs: "${short(outputs)}"`);
  });
}

/** Clicks into a code cell's editor and runs it with `keys`; it must be queued/running at once. */
async function runWithKeys(cellId, keys = "ControlOrMeta+Enter") {
  await page.locator(`${cellSel(cellId)} .cm-content`).click();
  await page.keyboard.press(keys);
  // The key handler marks the cell queued before its first await, so this holds when press() returns.
  const state = await page.locator(cellSel(cellId)).getAttribute("data-state");
  if (!["queued", "running"].includes(state)) fail(`after ${keys} cell ${cellId} is "${state}", not queued/running`);
}

/** Replaces a code cell's source by typing `lines` (CodeMirror closes brackets/quotes; typing over them is fine). */
async function typeInto(cellId, lines) {
  await page.locator(`${cellSel(cellId)} .cm-content`).click();
  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.press("Delete");
  for (const [i, line] of lines.entries()) {
    if (i) await page.keyboard.press("Enter");
    await page.keyboard.type(line);
  }
  const text = await editorText(cellId);
  if (text !== lines.join("\n")) fail(`editor of ${cellId} holds ${JSON.stringify(text)}, expected ${JSON.stringify(lines.join("\n"))}`);
}

const cellIds = (p = page) => p.locator("#notebook .cell").evaluateAll((els) => els.map((e) => e.dataset.cellId));

// ---------------------------------------------------------------------------------------------

await step("log in", 30_000, async () => {
  await page.goto(`${BASE}/login`, { waitUntil: "domcontentloaded" });
  await page.fill('input[name="email"]', EMAIL);
  await page.fill('input[name="password"]', PASSWORD);
  await page.locator('form:has(input[name="password"]) button[type="submit"], form:has(input[name="password"]) button:not([type])').first().click();
  // The site's forms are boosted by htmx (the page is swapped in place, and the address bar may
  // keep /login), so success is the login form going away, failure an error message.
  await page.waitForFunction(
    () => !document.querySelector('input[name="password"]') || document.querySelector(".error, [role=alert]"),
    null, { timeout: 20_000 },
  ).catch(() => fail("the login form is still there 20 s after submitting, with no error shown"));
  if (await page.locator('input[name="password"]').count()) {
    const err = await page.locator(".error, [role=alert]").first().textContent().catch(() => "");
    fail(`login refused: "${short(err)}"`);
  }
});

await step(`open lab ${LAB} from /labs`, 90_000, async () => {
  await page.goto(`${BASE}/labs`, { waitUntil: "domcontentloaded" });
  const opener = page.locator(`[data-lab="${LAB}"] a, [data-lab="${LAB}"] button`).first();
  if ((await opener.count()) === 0) {
    const labs = await page.locator("[data-lab]").evaluateAll((els) => els.map((e) => e.dataset.lab));
    fail(`no link or button inside [data-lab="${LAB}"] on /labs; labs there: ${JSON.stringify(labs)}`);
  }
  await opener.click();
  await page.waitForSelector("#notebook .cell", { timeout: 80_000 }).catch(async () => {
    const err = await page.locator("#notebook .error, .error").first().textContent().catch(() => "");
    fail(`no #notebook .cell appeared (at ${page.url()})${err ? `; page says "${short(err)}"` : ""}`);
  });
});

const notebookId = await page.locator("#notebook").getAttribute("data-notebook-id");
console.log(`   notebook ${notebookId}`);

await step("a markdown cell rendered a heading", 10_000, async () => {
  const headings = page.locator('#notebook .cell[data-cell-type="markdown"] .markdown-body :is(h1, h2)');
  await headings.first().waitFor({ timeout: 8_000 }).catch(async () => {
    const md = await page.locator('#notebook .cell[data-cell-type="markdown"]').count();
    fail(`no h1/h2 in any rendered markdown cell (${md} markdown cells)`);
  });
});

const codeCellIds = await page.locator('#notebook .cell[data-cell-type="code"]').evaluateAll((els) => els.map((e) => e.dataset.cellId));
if (codeCellIds.length < 2) {
  console.error(`FAIL - find code cells: the lab has ${codeCellIds.length} code cells, the test needs 2`);
  await finish(1);
}
const [firstId, plotId] = codeCellIds;
const first = `#notebook .cell[data-cell-id="${firstId}"]`;
const plot = `#notebook .cell[data-cell-id="${plotId}"]`;

await step("type into the first code cell", 20_000, async () => {
  await page.locator(`${first} .cm-content`).click();
  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.press("Delete");
  await page.keyboard.type('println!("hello from the browser");');
  await page.keyboard.press("Enter");
  await page.keyboard.type("let answer = 6 * 7;");
  await page.keyboard.press("Enter");
  await page.keyboard.type("answer");
  const text = await editorText(firstId);
  const want = 'println!("hello from the browser");\nlet answer = 6 * 7;\nanswer';
  if (text !== want) fail(`editor holds ${JSON.stringify(text)}, expected ${JSON.stringify(want)}`);
});

await step("Shift+Enter runs it: hello from the browser, 42", FIRST_RUN_MS + 30_000, async () => {
  await page.keyboard.press("Shift+Enter");
  await page.waitForFunction((s) => document.querySelector(s)?.dataset.state !== "idle", first, { timeout: 15_000 })
    .catch(() => fail("the cell never left data-state=idle after Shift+Enter (run not requested?)"));
  await waitForCellOk(firstId, FIRST_RUN_MS);
  const outputs = await page.locator(`${first} .outputs`).textContent();
  if (!outputs.includes("hello from the browser")) fail(`outputs lack "hello from the browser": "${short(outputs)}"`);
  if (!/\b42\b/.test(outputs)) fail(`outputs lack 42: "${short(outputs)}"`);
});

await step("Ctrl+Enter runs the plot cell: an SVG image", FIRST_RUN_MS, async () => {
  await page.locator(`${plot} .cm-content`).click();
  await page.keyboard.press("ControlOrMeta+Enter");
  await page.waitForFunction((s) => document.querySelector(s)?.dataset.state !== "idle", plot, { timeout: 15_000 })
    .catch(() => fail("the plot cell never left data-state=idle after Ctrl+Enter"));
  await waitForCellOk(plotId, FIRST_RUN_MS - 20_000);
  const img = page.locator(`${plot} .outputs img[src^="data:image/svg+xml"]`);
  if ((await img.count()) === 0) {
    const outputs = await page.locator(`${plot} .outputs`).innerHTML();
    fail(`no img[src^="data:image/svg+xml"] in the plot cell's outputs: ${short(outputs)}`);
  }
});

await step("autosave settles on Saved", 30_000, async () => {
  await page.waitForSelector('[data-save-state="saved"]', { timeout: 28_000 }).catch(async () => {
    const el = page.locator("[data-save-state]");
    fail(`save state is "${await el.getAttribute("data-save-state")}" ("${await el.textContent()}")`);
  });
  await screenshot("notebook.png");
});

await step("after reload the source and outputs are still there", 60_000, async () => {
  await page.reload({ waitUntil: "domcontentloaded" });
  await page.waitForSelector(`${first} .cm-line`, { timeout: 30_000 })
    .catch(() => fail(`cell ${firstId} is not on the page after reload`));
  const text = await editorText(firstId);
  if (!text.includes("let answer = 6 * 7;")) fail(`first code cell after reload holds ${JSON.stringify(text)}`);
  const outputs = await page.locator(`${first} .outputs`).textContent();
  if (!/\b42\b/.test(outputs)) fail(`first code cell's outputs after reload lack 42: "${short(outputs)}"`);
  if ((await page.locator(`${plot} .outputs img[src^="data:image/svg+xml"]`).count()) === 0) {
    fail("the plot cell's SVG output is gone after reload");
  }
  await screenshot("notebook-reloaded.png");
});

// ---- two tabs on one notebook: the stale one is told, nothing is lost silently ----

const TAB_A_MARK = "// edited in tab A";
await step("two tabs: tab A saves an edit, tab B's later edit gets the conflict banner, reload shows A's edit; then B follows A's next edit live", 60_000, async () => {
  const tabB = watchTab(await context.newPage(), "tab B");
  // Tab B must not hear of A's save before it edits (it polls the revision every 3 s): the
  // two edits are made on the same version, as two people typing at once do.
  const revisionPoll = /\/api\/v1\/notebooks\/[^/]+\/revision$/;
  await tabB.route(revisionPoll, (r) => r.abort());
  try {
    await tabB.goto(page.url(), { waitUntil: "domcontentloaded" });
    await tabB.waitForSelector(`${plot} .cm-line`, { timeout: 20_000 }).catch(() => fail(`tab B (${page.url()}) shows no plot cell`));

    // Tab A: a comment line on top of the first code cell (its code, and so the export, stay as they are).
    await page.locator(`${first} .cm-content`).click();
    await page.keyboard.press("ControlOrMeta+Home");
    await page.keyboard.type(TAB_A_MARK);
    await page.keyboard.press("Enter");
    await waitForSaved(page);

    // Tab B still has the revision from before A's save.
    await tabB.locator(`${plot} .cm-content`).click();
    await tabB.keyboard.press("ControlOrMeta+End");
    await tabB.keyboard.press("Enter");
    await tabB.keyboard.type("// edited in tab B");
    await tabB.locator('#notebook .nb-banner[data-banner="conflict"]').waitFor({ timeout: 10_000 }).catch(async () => {
      const el = tabB.locator("#notebook .save-status");
      fail(`tab B shows no conflict banner; its save state is "${await el.getAttribute("data-save-state")}" ("${await el.textContent()}")`);
    });
    const saveState = await tabB.locator("#notebook .save-status").getAttribute("data-save-state");
    const saveError = await tabB.locator("#notebook .save-status").getAttribute("data-save-error");
    if (saveState !== "error" || saveError !== "conflict") {
      fail(`tab B's save state is "${saveState}" (data-save-error "${saveError}"), expected "error" / "conflict"`);
    }
    if (!(await editorText(plotId, tabB)).includes("// edited in tab B")) fail("tab B's unsaved edit vanished from its editor");
    await screenshot("conflict.png", tabB);

    // The banner's Reload (tab B has unsaved edits, so beforeunload asks; watchTab accepts).
    await tabB.locator('#notebook .nb-banner[data-banner="conflict"]').getByRole("button", { name: "Reload" }).click();
    await tabB.locator(`${first} .cm-content`, { hasText: TAB_A_MARK }).waitFor({ timeout: 20_000 })
      .catch(async () => fail(`after reload tab B's first code cell holds ${JSON.stringify(await editorText(firstId, tabB).catch(() => "?"))}`));
    if (await tabB.locator('#notebook .nb-banner[data-banner="conflict"]').count()) fail("tab B still shows the conflict banner after reload");
    const plotText = await editorText(plotId, tabB);
    if (plotText.includes("edited in tab B")) fail("tab B's refused edit reached the server");

    // Live: with nothing unsaved, tab B takes A's next save without a reload.
    await tabB.unroute(revisionPoll);
    await page.locator(`${first} .cm-content`).click();
    await page.keyboard.press("ControlOrMeta+Home");
    await page.keyboard.type("// live from tab A");
    await page.keyboard.press("Enter");
    await waitForSaved(page);
    await tabB.locator(`${first} .cm-content`, { hasText: "// live from tab A" }).waitFor({ timeout: 15_000 })
      .catch(async () => fail(`tab B did not follow A's edit; its first cell holds ${JSON.stringify(await editorText(firstId, tabB).catch(() => "?"))}`));
    await tabB.locator('#notebook .nb-banner[data-banner="remote"]').waitFor({ timeout: 5_000 })
      .catch(() => fail("tab B shows no notice that it took a newer version"));
    // Tab A takes the comment out again, so the cells are as before for the steps below.
    await page.locator(`${first} .cm-content`).click();
    await page.keyboard.press("ControlOrMeta+Home");
    await page.keyboard.press("Shift+End");
    await page.keyboard.press("Delete");
    await page.keyboard.press("Delete");
    await waitForSaved(page);
  } finally {
    await tabB.close().catch(() => {});
  }
});

// ---- the kernel session goes away (as culling an idle kernel does) ----

await step("kernel stopped: the page says so over the old outputs; its Run all above runs the cells again", 90_000, async () => {
  const res = await page.request.get(`${BASE}/api/v1/notebooks/${notebookId}`);
  if (res.status() !== 200) fail(`GET the notebook answered ${res.status()}`);
  const sid = (await res.json()).session?.id;
  if (!sid) fail("the notebook has no open session after its runs");
  const csrf = await page.locator("#notebook").getAttribute("data-csrf");
  const del = await page.request.delete(`${BASE}/api/v1/sessions/${sid}`, { headers: { "X-CSRF-Token": csrf } });
  if (del.status() !== 204) fail(`DELETE /api/v1/sessions/${sid} answered ${del.status()}: ${short(await del.text())}`);

  await page.reload({ waitUntil: "domcontentloaded" });
  const banner = page.locator('#notebook .nb-banner[data-banner="gone"]');
  await banner.waitFor({ timeout: 10_000 }).catch(async () => {
    const banners = await page.locator("#notebook .nb-banner").allTextContents();
    const kernel = await page.locator("#notebook .kernel-status").getAttribute("data-kernel-state").catch(() => "?");
    fail(`no "gone" banner after reload (kernel-state ${kernel}; banners: ${JSON.stringify(banners)})`);
  });
  if (!/\b42\b/.test(await page.locator(`${first} .outputs`).textContent())) fail("the first cell's old output 42 is not shown under the banner");
  if ((await page.locator(`${plot} .outputs img[src^="data:image/svg+xml"]`).count()) === 0) fail("the old plot is not shown under the banner");
  await screenshot("kernel-gone.png");

  const rerun = banner.getByRole("button", { name: "Run all above" });
  if ((await rerun.count()) === 0) fail(`the banner has no "Run all above" button: "${short(await banner.textContent())}"`);
  await rerun.click();
  // After a reload the cells are "idle"; "ok" now means they ran again on a new kernel.
  await waitForCellOk(firstId, 80_000);
  await waitForCellOk(plotId, 30_000);
  const outputs = await page.locator(`${first} .outputs`).textContent();
  if (!/\b42\b/.test(outputs)) fail(`the rerun first cell lacks 42: "${short(outputs)}"`);
  if (await banner.count()) fail("the gone banner is still shown after the rerun");
});

// ---- Jupyter's command-mode keys ----

await step("command mode: Esc, B adds a cell, M makes it markdown, Enter edits, Shift+Enter renders, D D deletes", 30_000, async () => {
  const before = await cellIds();
  await page.locator(`${plot} .cm-content`).click();
  await page.keyboard.press("Escape");
  const mode = await page.locator("#notebook").getAttribute("data-mode");
  const focused = await page.evaluate(() => document.activeElement?.closest?.(".cell")?.dataset.cellId ?? null);
  if (mode !== "command" || focused !== plotId) fail(`after Esc: data-mode "${mode}", focus on cell ${focused} (expected command mode on ${plotId})`);

  await page.keyboard.press("b");
  const after = await cellIds();
  const added = after.filter((id) => !before.includes(id));
  if (added.length !== 1 || after.indexOf(added[0]) !== after.indexOf(plotId) + 1) {
    fail(`B: cells went from ${JSON.stringify(before)} to ${JSON.stringify(after)}, expected one new cell right below ${plotId}`);
  }
  const newId = added[0];
  const cell = cellSel(newId);
  if ((await page.locator(cell).getAttribute("data-cell-type")) !== "code") fail("B did not add a code cell");

  await page.keyboard.press("m");
  await page.locator(`${cell}[data-cell-type="markdown"]`).waitFor({ timeout: 3_000 })
    .catch(() => fail("M: the new cell is still a code cell"));

  await page.keyboard.press("Enter");
  await page.locator(`${cell} .cm-editor.cm-focused`).waitFor({ timeout: 3_000 }).catch(() => fail("Enter: the markdown editor did not open with focus"));
  await page.keyboard.type("# Added heading");
  if ((await editorText(newId)) !== "# Added heading") fail(`the markdown editor holds ${JSON.stringify(await editorText(newId))}`);
  await page.keyboard.press("Shift+Enter");
  await page.locator(`${cell} .markdown-body h1`, { hasText: "Added heading" }).waitFor({ timeout: 3_000 })
    .catch(async () => fail(`Shift+Enter: no rendered h1; the cell shows "${short(await page.locator(cell).innerHTML())}"`));

  // Shift+Enter moved on to the next cell; a click on the rendered text selects the new one again.
  await page.locator(`${cell} .markdown-body h1`).click();
  await page.keyboard.press("d");
  await page.keyboard.press("d");
  await page.locator(cell).waitFor({ state: "detached", timeout: 3_000 }).catch(() => fail("D D: the cell is still there"));
  await waitForSaved();

  await page.reload({ waitUntil: "domcontentloaded" });
  await page.waitForSelector(`${plot} .cm-line`, { timeout: 20_000 });
  const reloaded = await cellIds();
  if (JSON.stringify(reloaded) !== JSON.stringify(before)) fail(`after reload the cells are ${JSON.stringify(reloaded)}, expected ${JSON.stringify(before)}`);
});

// ---- Interrupt, and a compile error, on a scratch cell below the plot ----

let scratchId;
await step("Interrupt stops an endless loop within 10 s", 45_000, async () => {
  const before = await cellIds();
  await page.locator(`${plot} + .adder`).getByRole("button", { name: "+ Add code" }).click();
  scratchId = (await cellIds()).find((id) => !before.includes(id));
  if (!scratchId) fail("+ Add code below the plot added no cell");
  await typeInto(scratchId, ["loop { std::thread::sleep(std::time::Duration::from_millis(50)); }"]);
  await runWithKeys(scratchId);
  await waitForCellState(scratchId, "running", 30_000);
  await page.locator("#notebook .nb-actions").getByRole("button", { name: "Interrupt", exact: true }).click();
  await waitForCellState(scratchId, "interrupted", 10_000);
});

await step("after the interrupt the kernel runs cells again (the plot cell)", 60_000, async () => {
  await runWithKeys(plotId);
  await waitForCellOk(plotId, 55_000);
  if ((await page.locator(`${plot} .outputs img[src^="data:image/svg+xml"]`).count()) === 0) fail("the plot cell ran but shows no SVG");
});

await step("a compile error marks its line in the editor", 60_000, async () => {
  await typeInto(scratchId, ["let fine = 1;", 'let x: i32 = "no";']);
  await runWithKeys(scratchId);
  await waitForCellState(scratchId, "error", 55_000);
  const scratch = cellSel(scratchId);
  const error = page.locator(`${scratch} .outputs`);
  if (!(await error.isVisible()) || !/mismatched types|expected `i32`/.test(await error.textContent())) {
    fail(`the error output is not shown: "${short(await error.textContent())}"`);
  }
  const marked = await page.locator(`${scratch} .cm-line.cm-error-line`).allTextContents();
  if (marked.length !== 1 || !marked[0].includes('let x: i32 = "no";')) {
    fail(`marked lines (.cm-error-line): ${JSON.stringify(marked)}, expected just line 2`);
  }
  const underlined = await page.locator(`${scratch} .cm-lintRange-error`).allTextContents();
  if (!underlined.length) fail("no .cm-lintRange-error diagnostic in the editor");
});

await step("the scratch cell is deleted again; after reload the lab's cells and outputs are as before", 30_000, async () => {
  await page.locator(cellSel(scratchId)).getByRole("button", { name: "Delete cell" }).click();
  await page.locator(cellSel(scratchId)).waitFor({ state: "detached", timeout: 3_000 });
  await waitForSaved();
  await page.reload({ waitUntil: "domcontentloaded" });
  await page.waitForSelector(`${first} .cm-line`, { timeout: 20_000 });
  if ((await cellIds()).includes(scratchId)) fail("the deleted scratch cell is back after reload");
  if (!(await editorText(firstId)).includes("let answer = 6 * 7;")) fail("the first code cell lost its source");
  if (!/\b42\b/.test(await page.locator(`${first} .outputs`).textContent())) fail("the first code cell lost its output 42");
  if ((await page.locator(`${plot} .outputs img[src^="data:image/svg+xml"]`).count()) === 0) fail("the plot cell lost its SVG");
});

await step("export as .ipynb", 30_000, async () => {
  const res = await page.request.get(`${BASE}/api/v1/notebooks/${notebookId}/export?format=ipynb`);
  const body = await res.body();
  if (res.status() !== 200) fail(`export answered ${res.status()}: ${short(body.toString("utf8"))}`);
  fs.writeFileSync(path.join(ARTIFACTS, "notebook.ipynb"), body);
  let nb;
  try {
    nb = JSON.parse(body.toString("utf8"));
  } catch (e) {
    fail(`export is not JSON: ${short(body.toString("utf8"))}`);
  }
  if (nb.nbformat !== 4 || !Array.isArray(nb.cells)) fail(`export is not nbformat 4 (nbformat=${nb.nbformat})`);
  const src = (c) => (Array.isArray(c.source) ? c.source.join("") : c.source || "");
  if (!nb.cells.some((c) => src(c).includes("let answer = 6 * 7;"))) fail("the exported notebook lacks the edited source");
});

await step("upload the exported .ipynb on /notebooks: a new notebook with the same cells and outputs", 30_000, async () => {
  await page.goto(`${BASE}/notebooks`);
  await page.locator("#upload-file").setInputFiles(path.join(ARTIFACTS, "notebook.ipynb"));
  await page.getByRole("button", { name: "Upload", exact: true }).click();
  await page.waitForURL((url) => /\/notebooks\/[0-9a-f-]{36}$/.test(url.pathname) && !url.pathname.endsWith(notebookId));
  await page.locator("#notebook .cell").first().waitFor();
  const codeCells = page.locator('#notebook .cell[data-cell-type="code"]');
  const sources = await codeCells.evaluateAll((els) => els.map((e) => e.querySelector(".cm-content")?.textContent ?? ""));
  if (!sources.some((s) => s.includes("let answer = 6 * 7;"))) fail(`the upload lacks the edited source: ${short(JSON.stringify(sources))}`);
  if ((await page.locator('#notebook .outputs img[src^="data:image/svg+xml"]').count()) === 0) fail("the upload lacks the SVG output");
  await screenshot("uploaded.png");
});

await step("My data: a CSV with a bad row is refused with its line, then stored without it on request", 30_000, async () => {
  const csv = path.join(ARTIFACTS, "sensors.csv");
  fs.writeFileSync(csv, "mote,temperature\n1,21.5\n2\n3,22.0\n");
  await page.goto(`${BASE}/data`);
  await page.locator("#upload-file").setInputFiles(csv);
  await page.getByRole("button", { name: "Upload", exact: true }).click();
  const error = page.locator("#upload-error");
  await error.waitFor({ state: "visible" });
  const said = await error.textContent();
  if (!said.includes("line 3: 1 fields, the header has 2")) fail(`the refusal does not name the bad line: ${short(said)}`);
  await page.getByLabel("Leave out rows that cannot be read").check();
  await page.getByRole("button", { name: "Upload", exact: true }).click();
  const report = page.locator("#upload-report");
  await report.waitFor({ state: "visible" });
  const reported = await report.textContent();
  if (!reported.includes("Stored sensors.csv: 2 rows. Left out 1 rows")) fail(`no report of the left-out row: ${short(reported)}`);
  await screenshot("data-upload.png");
  await page.getByRole("link", { name: "Show my data" }).click();
  await page.locator("table.datasets").getByText("data/sensors.csv").waitFor();
});

console.log(`ok - all steps; artifacts in ${ARTIFACTS}`);
await finish(0);
