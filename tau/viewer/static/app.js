// tau session viewer: start-up and pages. Two modes:
// - file: an exported page (`tau sessions view ID -o FILE.html`) carries its session document in
//   <script type="application/json" id="tau-data">; nothing is fetched.
// - serve: `tau serve` at /ui/; the list and documents come from /ui/api/..., live state from the RuntimeService's
//   Connect JSON methods. The bearer token, when the server wants one, is pasted once and kept in sessionStorage.
"use strict";

(function () {
  const tau = window.tau;
  const { h, clear, pick } = tau;
  const app = () => document.getElementById("app");
  const TABS = [["transcript", "Transcript"], ["workspace", "Workspace diff"], ["tree", "Fork tree"], ["events", "Events"]];
  let current = null; // the session view on screen (serve mode)

  // -- token ---------------------------------------------------------------------------------------------------

  function tokenForm(message) {
    const input = h("input", { type: "password", id: "token-input", placeholder: "bearer token", autocomplete: "off" });
    const save = () => {
      sessionStorage.setItem("tau-token", input.value.trim());
      route();
    };
    const form = h("form", { class: "token" },
      h("p", {}, message || "This server wants its bearer token (kept in this browser tab only)."),
      input, h("button", { id: "token-save", type: "submit" }, "Use token"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      save();
    });
    return form;
  }

  function showError(error) {
    stopFollowing();
    if (error instanceof tau.HttpError && error.status === 401) {
      clear(app()).appendChild(tokenForm(sessionStorage.getItem("tau-token") ? "That token was refused; paste the right one." : null));
      return;
    }
    clear(app()).appendChild(h("p", { class: "error" }, String(error.message || error)));
  }

  // -- the list ------------------------------------------------------------------------------------------------

  const filters = { status: "", q: "" };
  const STATUSES = ["", "running", "completed", "suspended", "failed", "interrupted", "forked"];

  async function listPage() {
    stopFollowing();
    const params = new URLSearchParams({ status: filters.status, q: filters.q, limit: "500" });
    const [list, served] = await Promise.all([tau.getJSON("/ui/api/sessions?" + params), servedStatuses()]);
    const status = h("select", { id: "filter-status", onchange: (e) => { filters.status = e.target.value; route(); } },
      STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, s || "any status")));
    const text = h("input", { type: "search", id: "filter-text", placeholder: "filter: id, title, model", value: filters.q });
    let timer = null;
    text.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => { filters.q = text.value; route(); }, 250);
    });
    clear(app()).append(
      h("section", { class: "filters" }, status, text, h("span", { class: "count" }, list.sessions.length + " sessions")),
      tau.sessionList(list.sessions, served, () => {}));
    if (document.activeElement !== text && filters.q) text.focus();
  }

  async function servedStatuses() {
    const found = {};
    try {
      const answer = await tau.rpc("ListSessions", { pageSize: 1000 });
      for (const s of answer.sessions || [])
        found[pick(s, "sessionId", "session_id")] = String(s.status || "").replace("SESSION_STATUS_", "").toLowerCase().replace(/_/g, " ");
    } catch (error) {
      if (error instanceof tau.HttpError && error.status === 401) throw error;
    }
    return found;
  }

  // -- a session -----------------------------------------------------------------------------------------------

  function stopFollowing() {
    if (current && current.controller) current.controller.abort();
    current = null;
  }

  function compareForm(view) {
    const pinned = view.doc.steps.filter((s) => s.workspace);
    if (pinned.length < 2) return null;
    const option = (s) => h("option", { value: s.id }, "step " + s.step + " · " + tau.short(s.id));
    const a = h("select", { id: "diff-a" }, pinned.map(option));
    const b = h("select", { id: "diff-b" }, pinned.map(option));
    b.value = pinned[pinned.length - 1].id;
    const out = h("div", { class: "compared" });
    const go = async () => {
      try {
        clear(out).appendChild(tau.diffBlock(await tau.getJSON("/ui/api/diff?" + new URLSearchParams({ a: a.value, b: b.value }))));
      } catch (error) {
        clear(out).appendChild(h("p", { class: "error" }, String(error.message || error)));
      }
    };
    return h("div", { class: "compare" }, "compare ", a, " with ", b, " ", h("button", { id: "diff-go", onclick: go }, "Diff"), out);
  }

  function render(view) {
    const tab = TABS.some(([k]) => k === view.tab) ? view.tab : "transcript";
    const served = tau.mode === "serve";
    const body = tab === "workspace" ? tau.workspace(view, served ? () => compareForm(view) : null)
      : tab === "tree" ? tau.forkTree(view, served)
      : tab === "events" ? tau.eventsTable(view)
      : tau.transcript(view);
    const nav = h("nav", { class: "tabs" }, TABS.map(([key, label]) =>
      h("button", { class: key === tab ? "tab active" : "tab", "data-tab": key, onclick: () => { view.tab = key; render(view); } },
        key === "events" ? label + " (" + view.events.length + ")" : label)));
    clear(view.root).append(...[
      tau.header(view),
      tau.pendingPanel(view, (request) => respond(view, request)),
      view.live && view.live.visible ? view.live.panel : null,
      nav, h("div", { class: "tab-body", "data-tab": tab }, body)].filter(Boolean));
  }

  async function respond(view, request) {
    view.respondError = "";
    try {
      await tau.rpc("Respond", request);
    } catch (error) {
      view.respondError = String(error.message || error);
    }
    await refresh(view);
  }

  async function refresh(view) {
    if (view !== current) return;
    try {
      view.doc = await tau.getJSON("/ui/api/session?id=" + encodeURIComponent(view.id));
      view.served = await servedSession(view.doc.session.id);
      view.servedStatus = view.served ? String(view.served.status || "").replace("SESSION_STATUS_", "").toLowerCase().replace(/_/g, " ") : "";
    } catch (error) {
      if (view === current) showError(error);
      return;
    }
    if (view === current) render(view);
  }

  async function servedSession(sessionId) {
    try {
      return (await tau.rpc("GetSession", { sessionId })).session || null;
    } catch (error) {
      if (error instanceof tau.HttpError && error.status === 401) throw error;
      return null; // not a session this server runs (a `tau run` session): read-only
    }
  }

  function later(view, what) {
    view.todo = what === "refresh" || view.todo === "refresh" ? "refresh" : "annotate";
    if (view.timer) return;
    view.timer = setTimeout(() => {
      const todo = view.todo;
      view.timer = null;
      view.todo = "";
      view.byCall = tau.indexEvents(view.events);
      if (todo === "refresh") refresh(view);
      else if (view === current) render(view);
    }, 200);
  }

  async function sessionPage(id) {
    stopFollowing();
    const view = { id, root: h("div", { class: "session" }), events: [], byCall: {}, tab: "transcript" };
    current = view;
    clear(app()).appendChild(view.root);
    await refresh(view);
    if (view !== current || !view.served) return;
    view.live = tau.livePanel();
    view.live.state = String(view.servedStatus);
    view.live.visible = view.servedStatus === "running";
    view.live.show();
    const replayed = Number(pick(view.served, "lastSeq", "last_seq") || 0); // events up to here are history
    view.controller = tau.follow(view.doc.session.id, 0, (ev) => {
      view.events.push(ev);
      const todo = tau.onEvent(view.live, ev);
      const appears = ev._seq > replayed && !view.live.visible;
      if (appears) view.live.visible = true;
      view.live.show();
      if (todo || appears) later(view, todo || "annotate");
    }, (error) => {
      if (view.live) view.live.state = error ? "disconnected: " + (error.message || error) : "stream ended";
      if (view.live) view.live.show();
    });
    render(view);
  }

  // -- start ---------------------------------------------------------------------------------------------------

  async function route() {
    const hash = location.hash || "#/";
    try {
      if (hash.startsWith("#/s/")) await sessionPage(decodeURIComponent(hash.slice(4)));
      else await listPage();
    } catch (error) {
      showError(error);
    }
  }

  function fileMode(data) {
    tau.mode = "file";
    const doc = JSON.parse(data.textContent);
    const view = { id: doc.session.id, doc, root: h("div", { class: "session" }), events: doc.events || [], tab: "transcript" };
    view.byCall = tau.indexEvents(view.events);
    clear(app()).appendChild(view.root);
    render(view);
    document.title = "tau · " + (doc.session.title || doc.session.id);
  }

  function start() {
    const data = document.getElementById("tau-data");
    const tokenButton = document.getElementById("token-button");
    if (data) {
      if (tokenButton) tokenButton.remove();
      fileMode(data);
      return;
    }
    tau.mode = "serve";
    if (tokenButton) tokenButton.addEventListener("click", () => clear(app()).appendChild(tokenForm()));
    window.addEventListener("hashchange", route);
    route();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
