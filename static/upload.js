// The notebook list's upload form: sends the chosen file to
// POST /api/v1/notebooks/import (with the page's CSRF token) and opens the
// new notebook, or shows why the file was refused.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("upload");
  if (!form) return;
  const error = document.getElementById("upload-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const file = form.querySelector("input[type=file]").files[0];
    if (!file) return;
    const format = file.name.toLowerCase().endsWith(".md") ? "md" : "ipynb";
    const url = `/api/v1/notebooks/import?format=${format}&filename=${encodeURIComponent(file.name)}`;
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "X-CSRF-Token": form.dataset.csrf, "Content-Type": "application/octet-stream" },
        body: file,
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.error?.message ?? `The upload failed (${response.status}).`);
      window.location.href = `/notebooks/${body.id}`;
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    }
  });
});
