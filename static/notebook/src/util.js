// Small DOM and formatting helpers shared by the notebook modules.

/**
 * Creates an element: `h("button", { class: "x", onclick: fn, "aria-label": "Run" }, "text", child)`.
 * Attributes whose value is null, undefined or false are left out; `on*` functions become listeners.
 */
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (key === "text") {
      node.textContent = value;
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

/** A new cell id: 12 characters of [a-z0-9] (nbformat allows 1–64 of [a-zA-Z0-9-_]). */
export function newCellId(taken = new Set()) {
  for (;;) {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    let id = "";
    // 36 does not divide 256; the tiny bias does not matter for ids.
    for (const b of bytes) id += ID_ALPHABET[b % ID_ALPHABET.length];
    if (!taken.has(id)) return id;
  }
}

/** nbformat multiline strings may be arrays of lines: join them. */
export function joinText(value) {
  if (Array.isArray(value)) return value.join("");
  if (value === null || value === undefined) return "";
  return typeof value === "string" ? value : String(value);
}

/** Drops ANSI colour/cursor escapes (kernels colour tracebacks). */
export function stripAnsi(text) {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, "").replace(/\x1b\][^\x07]*\x07/g, "");
}

/** "812 ms", "3.2 s", "2 min 5 s". */
export function formatDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "";
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const total = Math.round(ms / 1000);
  return `${Math.floor(total / 60)} min ${total % 60} s`;
}

/** 1 → "1st", 2 → "2nd", 11 → "11th", 23 → "23rd". */
export function ordinal(n) {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  switch (n % 10) {
    case 1: return `${n}st`;
    case 2: return `${n}nd`;
    case 3: return `${n}rd`;
    default: return `${n}th`;
  }
}

/** Base64 of a string's UTF-8 bytes (btoa alone only takes Latin-1). */
export function base64Utf8(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
