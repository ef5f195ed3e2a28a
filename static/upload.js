// The upload forms (`form#upload`): the notebook list's sends the chosen
// file to POST /api/v1/notebooks/import and opens the new notebook; "My
// data" (data-endpoint="/api/v1/datasets") sends a CSV, with the "leave out
// rows that cannot be read" choice, and reloads the list (data-then). Both
// send the page's CSRF token, and show why a file was refused.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("upload");
  if (!form) return;
  const error = document.getElementById("upload-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const file = form.querySelector("input[type=file]").files[0];
    if (!file) return;
    const name = encodeURIComponent(file.name);
    let url;
    if (form.dataset.endpoint) {
      const drop = form.querySelector("input[name=drop_bad_rows]")?.checked ? "true" : "false";
      url = `${form.dataset.endpoint}?filename=${name}&drop_bad_rows=${drop}`;
    } else {
      const format = file.name.toLowerCase().endsWith(".md") ? "md" : "ipynb";
      url = `/api/v1/notebooks/import?format=${format}&filename=${name}`;
    }
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "X-CSRF-Token": form.dataset.csrf, "Content-Type": "application/octet-stream" },
        body: file,
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.error?.message ?? `The upload failed (${response.status}).`);
      const report = document.getElementById("upload-report");
      if (report && body.bad_row_count > 0) {
        // Say which rows were left out before going on to the list.
        const lines = body.bad_rows.map((b) => `line ${b.line}: ${b.message}`).join("; ");
        const more = body.bad_row_count > body.bad_rows.length ? ` and ${body.bad_row_count - body.bad_rows.length} more` : "";
        report.querySelector("span").textContent =
          `Stored ${body.dataset.name}: ${body.dataset.rows} rows. Left out ${body.bad_row_count} rows that cannot be read (${lines}${more}).`;
        report.hidden = false;
        return;
      }
      window.location.href = form.dataset.then ?? `/notebooks/${body.id}`;
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    }
  });
});
