// The JSON API under /api/v1, as the notebook page uses it.

/** An answer that was not 2xx, or no answer at all (`status` 0, `code` "network"). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }

  /** Worth trying again later: no answer, a timeout, or the server being restarted/overloaded. */
  get transient() {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

export class Api {
  constructor(csrf) {
    this.csrf = csrf;
  }

  async request(method, path, body) {
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin", cache: "no-store" };
    if (method !== "GET" && method !== "HEAD") {
      headers["X-CSRF-Token"] = this.csrf;
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body === undefined ? {} : body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, "network", "The server could not be reached.");
    }
    const text = await response.text().catch(() => "");
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      const err = data && data.error;
      const message = (err && err.message) || `The server answered ${response.status} ${response.statusText}.`.trim();
      throw new ApiError(response.status, (err && err.code) || "http_" + response.status, message);
    }
    return data;
  }

  get(path) { return this.request("GET", path); }
  post(path, body) { return this.request("POST", path, body); }
  patch(path, body) { return this.request("PATCH", path, body); }
}

/** URL-path pieces of the notebook API. */
export const paths = {
  notebook: (id) => `/api/v1/notebooks/${encodeURIComponent(id)}`,
  revision: (id) => `/api/v1/notebooks/${encodeURIComponent(id)}/revision`,
  run: (id, cell) => `/api/v1/notebooks/${encodeURIComponent(id)}/cells/${encodeURIComponent(cell)}/run`,
  reset: (id) => `/api/v1/notebooks/${encodeURIComponent(id)}/reset`,
  exportAs: (id, format) => `/api/v1/notebooks/${encodeURIComponent(id)}/export?format=${format}`,
  session: (sid) => `/api/v1/sessions/${encodeURIComponent(sid)}`,
  events: (sid, eid) => `/api/v1/sessions/${encodeURIComponent(sid)}/executions/${encodeURIComponent(eid)}/events`,
  execution: (sid, eid) => `/api/v1/sessions/${encodeURIComponent(sid)}/executions/${encodeURIComponent(eid)}`,
  interrupt: (sid) => `/api/v1/sessions/${encodeURIComponent(sid)}/interrupt`,
  restart: (sid) => `/api/v1/sessions/${encodeURIComponent(sid)}/restart`,
  kernels: () => "/api/v1/kernels",
};
