// End-to-end test of the Training page in headless Chromium, against a running Flywheel
// server with a training worker:
//
//   FLYWHEEL_URL=http://127.0.0.1:4567 FLYWHEEL_EMAIL=… FLYWHEEL_PASSWORD=… \
//   ARTIFACTS_DIR=tests/artifacts/training node tests/browser/training.mjs
//
// The steps: a participant logs in, opens Training from the navigation, submits a
// boosted-trees job from the form (German credit, validation set, hyper-parameters as
// `name = value` lines), sees it in the list, and — without reloading — watches the list
// refresh itself until the job has completed with a metric curve and its final metrics,
// with the line that loads the model in a notebook; the pool shows the worker idle again.
// Screenshot: training.png.

import path from "node:path";

import { env, fail, short, start } from "./lib.mjs";

const BASE = env("FLYWHEEL_URL").replace(/\/+$/, "");
const EMAIL = env("FLYWHEEL_EMAIL");
const PASSWORD = env("FLYWHEEL_PASSWORD");
const { artifacts, person, step, finish } = await start("tests/artifacts/training");

const ada = await person("participant");

await step("the participant logs in and opens the Training page", 30_000, async () => {
  await ada.goto(`${BASE}/login`);
  await ada.fill('input[name="email"]', EMAIL);
  await ada.fill('input[name="password"]', PASSWORD);
  await ada.locator('form:has(input[name="password"]) button[type="submit"]').click();
  await ada.getByRole("navigation").getByRole("link", { name: "Training" }).click();
  await ada.locator("#submit-job").waitFor();
  if (!(await ada.locator("#no-jobs").count())) fail("a new participant already has jobs");
});

await step("submits a boosted-trees job from the form and sees it queued or running", 30_000, async () => {
  await ada.selectOption('select[name="algorithm"]', "gradient_boosted_trees");
  await ada.selectOption('select[name="train"]', "builtin:german_credit");
  await ada.selectOption('select[name="validation"]', "builtin:german_credit");
  await ada.fill('input[name="target"]', "creditability");
  await ada.fill('textarea[name="hyperparameters"]', "iterations = 150\nmax_depth = 3\nlearning_rate = 0.05");
  await ada.getByRole("button", { name: "Submit training job" }).click();
  await ada.locator("tr.job").first().waitFor();
  const state = short(await ada.locator("tr.job td.state").first().textContent());
  if (!/pending|running|completed/.test(state)) fail(`the new job's state: "${state}"`);
});

await step("the list refreshes itself until the job completes with a curve and its metrics", 120_000, async () => {
  const url = ada.url();
  await ada.locator("tr.job.completed").waitFor({ timeout: 115_000 });
  if (ada.url() !== url) fail(`the page navigated to ${ada.url()}`);
  await ada.locator("figure.curve svg").waitFor();
  const metrics = short(await ada.locator("dl.metrics").textContent());
  if (!metrics.includes("validation_roc_auc")) fail(`final metrics: "${metrics}"`);
  const snippet = await ada.locator("code.snippet").textContent();
  if (!/GradientBoostedTreesModel::load\("data\/model-[0-9a-f]{8}\.json"\)/.test(snippet)) fail(`snippet: "${snippet}"`);
  const pool = short(await ada.locator("#pool-summary").textContent());
  if (!pool.includes("0 job(s) running")) fail(`pool: "${pool}"`);
  await ada.screenshot({ path: path.join(artifacts, "training.png"), fullPage: true });
});

await finish(0);
