// End-to-end test of a workshop in headless Chromium, against a running Flywheel server:
// an instructor and a participant, each in their own browser context (their own cookies).
//
//   FLYWHEEL_URL=http://127.0.0.1:4567 FLYWHEEL_INSTRUCTOR_EMAIL=… FLYWHEEL_PASSWORD=… \
//   ARTIFACTS_DIR=tests/artifacts/workshop node tests/browser/workshop.mjs
//
// The steps: the instructor logs in and creates a workshop from the form and reads its join
// code; the participant signs up with that code and lands on the workshop page, forms a team,
// writes the problem statement into the template and submits it (a double click submits once);
// the instructor opens it from the submissions table, grades it criterion by criterion with a
// comment (a score over a criterion's maximum is refused first), and releases the grades; the
// participant opens the submission and sees the grade and the comment.
// Screenshots: workshop-instructor.png, workshop-team.png, grading.png, grade-seen.png.

import path from "node:path";

import { env, fail, short, start } from "./lib.mjs";

const BASE = env("FLYWHEEL_URL").replace(/\/+$/, "");
const INSTRUCTOR = env("FLYWHEEL_INSTRUCTOR_EMAIL");
const PASSWORD = env("FLYWHEEL_PASSWORD");
const { artifacts, person, step, finish } = await start("tests/artifacts/workshop");
const shot = (p, name) => p.screenshot({ path: path.join(artifacts, name), fullPage: true });

const ins = await person("instructor");
const ada = await person("participant");
let workshopUrl = "";
let code = "";

await step("the instructor logs in and creates a workshop from the form", 30_000, async () => {
  await ins.goto(`${BASE}/login`);
  await ins.fill('input[name="email"]', INSTRUCTOR);
  await ins.fill('input[name="password"]', PASSWORD);
  await ins.locator('form:has(input[name="password"]) button[type="submit"]').click();
  // Forms are boosted by htmx: the page is swapped in place, so wait for what the next page shows.
  await ins.getByRole("navigation").getByRole("link", { name: "Workshops" }).click();
  await ins.locator("#create-workshop").waitFor();
  await ins.fill("#w-title", "Fraud week");
  await ins.fill("#w-day1", "2099-03-02");
  await ins.fill("#w-day2", "2099-03-03");
  await ins.fill("#w-day3", "2099-03-04");
  await ins.getByRole("button", { name: "Create workshop" }).click();
  const id = await ins.locator("h1[data-workshop]").getAttribute("data-workshop");
  workshopUrl = `${BASE}/workshops/${id}`;
  code = (await ins.locator("#join-code").textContent()).trim();
  if (!/^[A-Z2-9]{4}-[A-Z2-9]{4}$/.test(code)) fail(`no join code on the page: "${code}"`);
  await shot(ins, "workshop-instructor.png");
});

await step("the participant signs up with the join code and lands in the workshop", 30_000, async () => {
  await ada.goto(`${BASE}/signup?code=${encodeURIComponent(code.toLowerCase())}`);
  await ada.fill("#email", "ada@example.org");
  await ada.fill("#name", "Ada Lovelace");
  await ada.fill("#password", "correct horse battery");
  await ada.getByRole("button", { name: "Sign up" }).click();
  const title = await ada.locator("h1[data-workshop]").textContent();
  if (title.trim() !== "Fraud week") fail(`landed on "${short(title)}"`);
  if (await ada.locator("#join-code").count()) fail("a participant sees the join code");
});

await step("the participant forms a team and submits the problem statement once", 30_000, async () => {
  await ada.fill("#team-name", "Kestrel");
  await ada.getByRole("button", { name: "Form team" }).click();
  await ada.locator("#my-team", { hasText: "Kestrel" }).waitFor();
  const box = ada.locator("#ps-content");
  const skeleton = await box.inputValue();
  if (!skeleton.includes("## What is the problem?")) fail(`the form lacks the template's sections: ${short(skeleton)}`);
  // The blank template is refused: every section needs text.
  await ada.getByRole("button", { name: "Submit the problem statement" }).click();
  const refused = ada.locator("#workshop-error");
  await refused.waitFor();
  if (!(await refused.textContent()).includes("has nothing written under")) fail(`refusal: ${short(await refused.textContent())}`);
  const filled = skeleton
    .replace(/^(## .+)$/gm, "$1\n\nOur answer.")
    .replace("## What is the problem?\n\nOur answer.", "## What is the problem?\n\nFixed rules miss most fraud.");
  await box.fill(filled);
  await ada.getByRole("button", { name: "Submit the problem statement" }).dblclick();
  await ada.locator("#submissions tbody tr").first().waitFor();
  await ada.reload();
  const rows = await ada.locator("#submissions tbody tr").count();
  if (rows !== 1) fail(`a double click made ${rows} submissions`);
  await shot(ada, "workshop-team.png");
});

await step("a teammate joins; a notebook shared with the team shows the owner's edits in the teammate's page live", 60_000, async () => {
  const bob = await person("teammate");
  await bob.goto(`${BASE}/signup?code=${encodeURIComponent(code)}`);
  await bob.fill("#email", "bob@example.org");
  await bob.fill("#name", "Bob Babbage");
  await bob.fill("#password", "correct horse battery");
  await bob.getByRole("button", { name: "Sign up" }).click();
  await bob.locator("h1[data-workshop]").waitFor();
  await bob.getByRole("button", { name: "Join Kestrel" }).click();
  await bob.locator("#my-team", { hasText: "Kestrel" }).waitFor();

  await ada.goto(`${BASE}/notebooks`);
  await ada.getByRole("button", { name: "New notebook" }).click();
  await ada.locator("#notebook .cell").first().waitFor();
  const notebookUrl = ada.url();
  await ada.goto(workshopUrl);
  await ada.getByRole("button", { name: "Share" }).click();
  await ada.locator("#team-notebooks li a").first().waitFor();

  await bob.reload();
  await bob.locator("#team-notebooks li a").first().click();
  await bob.locator("#notebook .cell").first().waitFor();

  await ada.goto(notebookUrl);
  await ada.locator("#notebook .cell .cm-content").first().click();
  await ada.keyboard.type("let shared = 1; // typed by Ada");
  await ada.locator('#notebook .save-status[data-save-state="saved"]').waitFor({ timeout: 15_000 });
  await bob.locator("#notebook .cell .cm-content", { hasText: "typed by Ada" }).waitFor({ timeout: 15_000 })
    .catch(async () => fail(`Bob's page did not follow; it shows ${JSON.stringify(await bob.locator("#notebook .cell .cm-content").first().textContent())}`));
  await shot(bob, "team-notebook.png");
});

let submissionUrl = "";
await step("the instructor grades it criterion by criterion, with a comment", 30_000, async () => {
  await ins.reload();
  const open = ins.locator("#submissions tbody tr", { hasText: "Problem statement" }).getByRole("link", { name: "Open and grade" });
  submissionUrl = `${BASE}${await open.getAttribute("href")}`;
  await open.click();
  await ins.locator("#grade-form").waitFor();
  const text = await ins.locator("#write-up").textContent();
  if (!text.includes("Fixed rules miss most fraud.")) fail(`the write-up is not shown: ${short(text)}`);
  const points = ins.locator('#grade-form input[type="number"]');
  const n = await points.count();
  if (n < 3) fail(`the rubric has ${n} criteria`);
  for (let i = 0; i < n; i++) await points.nth(i).fill("3");
  await ins.locator("#grade-form textarea").first().fill("Put a number in the business question.");
  // Over the maximum: the browser's own check stops it, so send it the way a script would.
  const max = Number(await points.first().getAttribute("max"));
  await points.first().evaluate((el) => el.removeAttribute("max"));
  await points.first().fill(String(max + 5));
  await ins.getByRole("button", { name: "Save grade" }).click();
  const error = ins.locator("#grade-error");
  await error.waitFor();
  if (!(await error.textContent()).includes(`worth at most ${max}`)) fail(`refusal: ${short(await error.textContent())}`);
  const kept = await ins.locator("#grade-form textarea").first().inputValue();
  if (kept !== "Put a number in the business question.") fail(`the typed comment was lost: "${kept}"`);
  await ins.locator('#grade-form input[type="number"]').first().fill(String(max));
  await ins.getByRole("button", { name: "Save grade" }).click();
  await ins.locator("#grade-heading", { hasText: "graded:" }).waitFor();
  await shot(ins, "grading.png");
});

await step("the team sees no grade until the instructor releases it, then sees grade and comment", 30_000, async () => {
  await ada.goto(submissionUrl);
  await ada.locator("#not-graded").waitFor();
  await ins.goto(workshopUrl);
  await ins.getByRole("button", { name: "Release grades to teams" }).click();
  await ins.getByRole("button", { name: "Hide grades from teams" }).waitFor();
  await ada.reload();
  const total = await ada.locator("#grade-total").textContent();
  if (!/^\d+ \/ \d+$/.test(total.trim())) fail(`no total: "${total}"`);
  const table = await ada.locator("#grade").textContent();
  if (!table.includes("Put a number in the business question.")) fail(`no comment: ${short(table)}`);
  await shot(ada, "grade-seen.png");
});

console.log(`ok - all steps; artifacts in ${artifacts}`);
await finish(0);
