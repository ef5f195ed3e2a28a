// Entry point of the notebook page's script (bundled to dist/notebook.js by build.sh).
//
// The page has <div id="notebook" data-notebook-id data-csrf> and, beside it,
// <script id="notebook-data" type="application/json"> with the notebook as GET
// /api/v1/notebooks/{id} answers it. Without that script the notebook is fetched.

import { Notebook } from "./app.js";
import { Api, paths } from "./api.js";

async function boot() {
  const root = document.getElementById("notebook");
  if (!root || root.dataset.nbReady) return;
  root.dataset.nbReady = "1";
  // htmx (used by the rest of the site) must not process anything the notebook renders.
  root.setAttribute("hx-disable", "");
  const csrf = root.dataset.csrf || "";
  let data = null;
  const script = document.getElementById("notebook-data");
  if (script && script.textContent.trim()) {
    try {
      data = JSON.parse(script.textContent);
    } catch (e) {
      console.error("notebook-data is not valid JSON", e);
    }
  }
  try {
    if (!data) data = await new Api(csrf).get(paths.notebook(root.dataset.notebookId));
    const nb = new Notebook(root, data, csrf);
    // For debugging from the console and for tests.
    root.notebook = nb;
  } catch (e) {
    console.error(e);
    root.replaceChildren();
    const p = document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = `The notebook could not be opened: ${e.message}`;
    root.append(p);
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot, { once: true });
else boot();
// Pages swapped in by htmx's boosted navigation do not run this module again.
document.addEventListener("htmx:load", () => boot());
