// End-to-end test of the notebook page in headless Chromium, against a running Flywheel server.
//
//   npm ci --prefix tests/browser
//   FLYWHEEL_URL=http://127.0.0.1:4567 FLYWHEEL_EMAIL=… FLYWHEEL_PASSWORD=… FLYWHEEL_LAB=slug \
//   ARTIFACTS_DIR=tests/artifacts/browser node tests/browser/notebook.mjs
//
// CHROMIUM names the browser (default /usr/bin/chromium, Debian's package `chromium`).
// Each step prints "ok - …" or fails with "FAIL - step: what was seen", a screenshot
// (failure.png) and the browser console (console.log) in ARTIFACTS_DIR, and exit code 1.

import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === "") {
    console.error(`FAIL - setup: environment variable ${name} is not set`);
    process.exit(2);
  }
  return value;
};
const BASE = env("FLYWHEEL_URL").replace(/\/+$/, "");
const EMAIL = env("FLYWHEEL_EMAIL");
const PASSWORD = env("FLYWHEEL_PASSWORD");
const LAB = env("FLYWHEEL_LAB");
const ARTIFACTS = path.resolve(env("ARTIFACTS_DIR", "tests/artifacts/browser"));
const CHROMIUM = env("CHROMIUM", "/usr/bin/chromium");
const FIRST_RUN_MS = 5 * 60_000; // the first kernel start compiles the ML library

fs.mkdirSync(ARTIFACTS, { recursive: true });
const consoleLines = [];

class StepError extends Error {}
const fail = (message) => {
  throw new StepError(message);
};

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
const page = await context.newPage();
page.on("console", (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
page.on("pageerror", (e) => consoleLines.push(`[pageerror] ${e.stack || e.message}`));
page.on("requestfailed", (r) => consoleLines.push(`[requestfailed] ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
page.on("dialog", (d) => {
  consoleLines.push(`[dialog] ${d.type()}: ${d.message()}`);
  d.accept().catch(() => {});
});

async function finish(code) {
  fs.writeFileSync(path.join(ARTIFACTS, "console.log"), consoleLines.join("\n") + "\n");
  await browser.close().catch(() => {});
  process.exit(code);
}

/** Runs one step with a time limit; on failure prints what was seen, saves a screenshot and exits 1. */
async function step(name, timeoutMs, fn) {
  let timer;
  const started = Date.now();
  try {
    const result = await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new StepError(`timed out after ${timeoutMs / 1000} s`)), timeoutMs);
      }),
    ]);
    console.log(`ok - ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return result;
  } catch (e) {
    const message = e instanceof StepError ? e.message : (e && e.message) || String(e);
    console.error(`FAIL - ${name}: ${message}`);
    console.error(`  page: ${page.url()}`);
    await page.screenshot({ path: path.join(ARTIFACTS, "failure.png"), fullPage: true }).catch(() => {});
    const errors = consoleLines.filter((l) => /^\[(error|pageerror|requestfailed)\]/.test(l)).slice(-10);
    if (errors.length) console.error(`  browser said:\n    ${errors.join("\n    ")}`);
    await finish(1);
  } finally {
    clearTimeout(timer);
  }
}

const short = (text, n = 400) => {
  const t = (text || "").replace(/\s+/g, " ").trim();
  return t.length > n ? `${t.slice(0, n)}…` : t;
};

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
async function screenshot(name) {
  for (const editor of await page.locator("#notebook .cm-editor").all()) {
    await editor.scrollIntoViewIfNeeded().catch(() => {});
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  }
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(100);
  await page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: true });
}

const editorText = (cellId) =>
  page.locator(`#notebook .cell[data-cell-id="${cellId}"] .cm-line`).allTextContents().then((lines) => lines.join("\n"));

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

console.log(`ok - all steps; artifacts in ${ARTIFACTS}`);
await finish(0);
