// What the browser scripts share: settings from the environment, one headless Chromium,
// tabs whose console is recorded, and `step`: a named, time-limited step that prints
// "ok - …" or "FAIL - step: what was seen", and on failure saves a screenshot of every tab
// (failure.png, failure-tab2.png, …) and the console (console.log) in ARTIFACTS_DIR and exits 1.

import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

/** An environment variable, or `fallback`; exits 2 when neither is set. */
export const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === "") {
    console.error(`FAIL - setup: environment variable ${name} is not set`);
    process.exit(2);
  }
  return value;
};

export class StepError extends Error {}
/** Fails the current step with `message`. */
export const fail = (message) => {
  throw new StepError(message);
};

/** `text` on one line, cut at `n` characters. */
export const short = (text, n = 400) => {
  const t = (text || "").replace(/\s+/g, " ").trim();
  return t.length > n ? `${t.slice(0, n)}…` : t;
};

/**
 * Starts Chromium (CHROMIUM, default /usr/bin/chromium) for a script whose artifacts go to
 * ARTIFACTS_DIR (default `fallbackArtifacts`). Returns what the steps need.
 */
export async function start(fallbackArtifacts) {
  const artifacts = path.resolve(env("ARTIFACTS_DIR", fallbackArtifacts));
  fs.mkdirSync(artifacts, { recursive: true });
  const consoleLines = [];
  const browser = await chromium.launch({
    executablePath: env("CHROMIUM", "/usr/bin/chromium"),
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run"],
  });

  /** Logs a tab's console, errors, failed requests and dialogs (accepting them: confirm, beforeunload). */
  function watchTab(p, tab = "") {
    const at = tab ? ` (${tab})` : "";
    p.on("console", (m) => consoleLines.push(`[${m.type()}]${at} ${m.text()}`));
    p.on("pageerror", (e) => consoleLines.push(`[pageerror]${at} ${e.stack || e.message}`));
    p.on("requestfailed", (r) => consoleLines.push(`[requestfailed]${at} ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
    p.on("dialog", (d) => {
      consoleLines.push(`[dialog]${at} ${d.type()}: ${d.message()}`);
      d.accept().catch(() => {});
    });
    return p;
  }

  /** A new browser context (its own cookies: another person) with one watched tab. */
  async function person(name = "") {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    return watchTab(await context.newPage(), name);
  }

  async function finish(code) {
    fs.writeFileSync(path.join(artifacts, "console.log"), consoleLines.join("\n") + "\n");
    await browser.close().catch(() => {});
    process.exit(code);
  }

  /** Runs one step with a time limit; on failure prints what was seen, saves screenshots and exits 1. */
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
      const tabs = browser.contexts().flatMap((c) => c.pages());
      for (const [i, tab] of tabs.entries()) {
        console.error(`  tab ${i + 1}: ${tab.url()}`);
        const file = i === 0 ? "failure.png" : `failure-tab${i + 1}.png`;
        await tab.screenshot({ path: path.join(artifacts, file), fullPage: true }).catch(() => {});
      }
      const errors = consoleLines.filter((l) => /^\[(error|pageerror|requestfailed)\]/.test(l)).slice(-10);
      if (errors.length) console.error(`  browser said:\n    ${errors.join("\n    ")}`);
      await finish(1);
    } finally {
      clearTimeout(timer);
    }
  }

  return { artifacts, browser, watchTab, person, step, finish };
}
