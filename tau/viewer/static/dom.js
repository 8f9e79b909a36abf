// tau session viewer: DOM building, formatting and the server API (plain JavaScript, no build step).
//
// Invariant: text that comes from a session (model output, tool arguments and results, file contents, ids) is
// only ever put into the page as text nodes (textContent) through `h` below; nothing here sets innerHTML, and `h`
// refuses attributes outside a small allowlist (links only to in-page "#..." targets).
"use strict";

(function () {
  const tau = (window.tau = window.tau || {});
  const SAFE_ATTRS = new Set(["id", "type", "value", "placeholder", "title", "name", "for", "open", "disabled",
    "autocomplete", "spellcheck", "role", "tabindex", "selected", "colspan", "rows"]);

  function append(el, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) append(el, child);
      else if (child instanceof Node) el.appendChild(child);
      else el.appendChild(document.createTextNode(String(child)));
    }
  }

  // h("div", {class: "x", onclick: fn}, "text", child, [more]) -> an element; strings become text nodes.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = String(value);
      else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
      else if (key === "href") {
        if (String(value).startsWith("#")) el.setAttribute("href", String(value));
      } else if (SAFE_ATTRS.has(key) || key.startsWith("data-") || key.startsWith("aria-")) {
        el.setAttribute(key, value === true ? "" : String(value));
      }
    }
    append(el, children);
    return el;
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  function pick(obj, ...names) {
    if (!obj) return undefined;
    for (const name of names) if (obj[name] !== undefined) return obj[name];
    return undefined;
  }

  function tokens(n) {
    n = Number(n || 0);
    if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
    if (n >= 1e3) return (n / 1e3).toFixed(1) + "k";
    return String(n);
  }

  function cost(usd) {
    if (usd === null || usd === undefined || usd === "") return "";
    const n = Number(usd);
    return isFinite(n) ? "$" + (n < 0.01 ? n.toFixed(4) : n.toFixed(2)) : "";
  }

  function clock(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toLocaleTimeString([], { hour12: false });
  }

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    return d.toLocaleDateString() + " " + d.toLocaleTimeString([], { hour12: false });
  }

  function duration(ms) {
    if (ms === null || ms === undefined || !isFinite(ms) || ms < 0) return "";
    if (ms < 1000) return Math.round(ms) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    const s = Math.round(ms / 1000);
    return Math.floor(s / 60) + " min " + (s % 60) + " s";
  }

  function between(a, b) {
    const t0 = Date.parse(a), t1 = Date.parse(b);
    return isNaN(t0) || isNaN(t1) ? null : t1 - t0;
  }

  function short(id) {
    return id ? String(id).slice(0, 12) : "";
  }

  function badge(text, kind) {
    return h("span", { class: "badge " + (kind || "b-" + String(text).replace(/[^a-z_]/gi, "")) }, text);
  }

  function pretty(value) {
    try {
      return JSON.stringify(value, null, 2);
    } catch (e) {
      return String(value);
    }
  }

  // -- the server API (serve mode only) -----------------------------------------------------------------------

  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function authHeaders(extra) {
    const headers = Object.assign({}, extra || {});
    const token = sessionStorage.getItem("tau-token");
    if (token) headers["Authorization"] = "Bearer " + token;
    return headers;
  }

  async function failure(response) {
    let message = response.status + " " + response.statusText;
    try {
      const body = await response.json();
      message = body.message || body.error || message;
    } catch (e) {
      /* not JSON */
    }
    return new HttpError(response.status, message);
  }

  async function getJSON(path) {
    const response = await fetch(path, { headers: authHeaders(), cache: "no-store" });
    if (!response.ok) throw await failure(response);
    return response.json();
  }

  const SERVICE = "/tau.runtime.v1.RuntimeService/";

  async function rpc(method, body) {
    const response = await fetch(SERVICE + method, {
      method: "POST",
      headers: authHeaders({ "Content-Type": "application/json", "Connect-Protocol-Version": "1" }),
      body: JSON.stringify(body || {}),
    });
    if (!response.ok) throw await failure(response);
    return response.json();
  }

  // A Connect server stream (JSON): each message is a 5-byte envelope (flags, big-endian length) and JSON; the
  // last one has flag 0x02 and carries the end-of-stream error, if any. Calls onMessage(obj) per message.
  async function stream(method, body, onMessage, signal) {
    const payload = new TextEncoder().encode(JSON.stringify(body || {}));
    const framed = new Uint8Array(5 + payload.length);
    new DataView(framed.buffer).setUint32(1, payload.length);
    framed.set(payload, 5);
    const response = await fetch(SERVICE + method, {
      method: "POST",
      headers: authHeaders({ "Content-Type": "application/connect+json", "Connect-Protocol-Version": "1" }),
      body: framed,
      signal,
    });
    if (!response.ok) throw await failure(response);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = new Uint8Array(0);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      const joined = new Uint8Array(buffer.length + value.length);
      joined.set(buffer);
      joined.set(value, buffer.length);
      buffer = joined;
      while (buffer.length >= 5) {
        const view = new DataView(buffer.buffer, buffer.byteOffset);
        const flags = view.getUint8(0), size = view.getUint32(1);
        if (buffer.length < 5 + size) break;
        const obj = JSON.parse(decoder.decode(buffer.subarray(5, 5 + size)));
        buffer = buffer.slice(5 + size);
        if (flags & 2) {
          if (obj.error) throw new HttpError(obj.error.code === "unauthenticated" ? 401 : 500, obj.error.message);
          return;
        }
        onMessage(obj);
      }
    }
  }

  Object.assign(tau, {
    h, clear, pick, tokens, cost, clock, when, duration, between, short, badge, pretty,
    HttpError, getJSON, rpc, stream,
  });
})();
