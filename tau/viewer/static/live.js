// tau session viewer: what a served session adds — its pending requests answered with Respond, and its events
// followed live with StreamEvents (Connect JSON). Events are read by `type` with a default branch; the server's own
// status changes (no tau event behind them) arrive as {type: "status"}.
"use strict";

(function () {
  const tau = window.tau;
  const { h, badge, pick, pretty, tokens, cost } = tau;

  // -- pending requests ----------------------------------------------------------------------------------------

  function cliHint(sessionId, item) {
    const flag = item.kind === "question" ? "--answer " + item.call_id + "=TEXT" : "--approve " + item.call_id;
    return h("p", { class: "hint" }, "Answer from a shell: ", h("code", {}, "tau resume " + sessionId + " " + flag));
  }

  function requestCard(title, details, controls) {
    return h("div", { class: "request" }, h("div", { class: "request-head" }, badge("pending", "b-pending"), " ", title),
      details, controls);
  }

  function approvalControls(send) {
    const message = h("input", { type: "text", class: "deny-message", placeholder: "reason told to the model if denied (optional)" });
    return h("div", { class: "controls" },
      h("button", { class: "approve", onclick: () => send({ approval: { approved: true } }) }, "Approve"),
      h("button", { class: "deny", onclick: () => send({ approval: { approved: false, message: message.value } }) }, "Deny"),
      message);
  }

  function answerControls(send, options) {
    const text = h("input", { type: "text", class: "answer-text", placeholder: "your answer" });
    return h("div", { class: "controls" },
      (options || []).map((o) => h("button", { class: "choice", onclick: () => send({ answer: { text: o } }) }, o)),
      text, h("button", { class: "answer", onclick: () => send({ answer: { text: text.value } }) }, "Answer"));
  }

  function planControls(send) {
    const feedback = h("input", { type: "text", class: "plan-feedback", placeholder: "feedback if rejected" });
    return h("div", { class: "controls" },
      h("button", { class: "approve", onclick: () => send({ plan: { decision: "PLAN_DECISION_APPROVE" } }) }, "Approve plan"),
      h("button", { class: "deny", onclick: () => send({ plan: { decision: "PLAN_DECISION_REJECT", feedback: feedback.value } }) }, "Reject plan"),
      feedback);
  }

  function servedCard(request, sendFor) {
    const id = pick(request, "requestId", "request_id");
    const send = sendFor(id);
    const permission = request.permission, question = request.clarification, plan = request.plan;
    if (permission)
      return requestCard(["approve ", h("code", {}, permission.tool), " ", h("code", { class: "call-id" }, id)],
        [h("pre", { class: "args" }, pretty(permission.input || {})), permission.reason ? h("p", { class: "perm-reason" }, permission.reason) : null],
        approvalControls(send));
    if (question)
      return requestCard(["question ", h("code", { class: "call-id" }, id)], h("p", { class: "question" }, question.question || ""),
        answerControls(send, question.options));
    if (plan)
      return requestCard(["plan ", h("code", { class: "call-id" }, id)], h("pre", { class: "text" }, plan.text || ""), planControls(send));
    return requestCard(["request ", h("code", {}, id)], h("pre", {}, pretty(request)), null);
  }

  function storedCard(sessionId, item) {
    const title = [item.kind === "question" ? "question " : "approve ", h("code", {}, item.tool), " ", h("code", { class: "call-id" }, item.call_id)];
    return requestCard(title,
      [h("pre", { class: "args" }, pretty(item.args || {})), item.reason ? h("p", { class: "perm-reason" }, item.reason) : null,
        item.rule ? h("p", { class: "perm-reason" }, "rule: " + item.rule) : null],
      cliHint(sessionId, item));
  }

  // The pending panel: requests the server can take (Respond) with controls; the rest with the shell command.
  function pendingPanel(view, respond) {
    const served = (view.served && pick(view.served, "pending")) || [];
    const servedIds = new Set(served.map((r) => pick(r, "requestId", "request_id")));
    const stored = (view.doc.pending || []).filter((p) => !servedIds.has(p.call_id));
    if (!served.length && !stored.length) return null;
    const sendFor = (requestId) => (answer) => respond(Object.assign({ sessionId: view.doc.session.id, requestId }, answer));
    return h("section", { class: "pending" }, h("h3", {}, "Waiting for an answer"),
      view.respondError ? h("p", { class: "error" }, view.respondError) : null,
      served.map((r) => servedCard(r, sendFor)),
      stored.map((item) => storedCard(view.doc.session.id, item)));
  }

  // -- the live panel ------------------------------------------------------------------------------------------

  function livePanel() {
    const state = h("span", { class: "live-state" }, "connecting");
    const facts = h("span", { class: "live-facts" }, "");
    const tool = h("span", { class: "live-tool" }, "");
    const text = h("pre", { class: "live-text" }, "");
    const panel = h("section", { class: "live" }, h("div", { class: "live-line" }, badge("live", "b-live"), " ", state, " ", facts, " ", tool), text);
    const live = { panel, turn: 0, tokens: 0, cost: null };
    live.show = () => {
      state.textContent = live.state || "";
      facts.textContent = ["turn " + live.turn, tokens(live.tokens) + " tokens", cost(live.cost)].filter(Boolean).join(" · ");
      tool.textContent = live.tool ? "running " + live.tool : "";
    };
    live.text = text;
    return live;
  }

  function summary(input) {
    for (const key of ["command", "file_path", "pattern", "path", "description"])
      if (typeof input[key] === "string") return input[key].length > 120 ? input[key].slice(0, 119) + "…" : input[key];
    return "";
  }

  // Updates the live panel from one event; returns what the page should do: "refresh" (the document changed),
  // "annotate" (the transcript's per-call notes changed) or "" (nothing else).
  function onEvent(live, ev) {
    switch (ev.type) {
      case "session.started":
        live.state = "running";
        live.text.textContent = "";
        return "";
      case "turn.started":
        live.turn = ev.turn;
        live.text.textContent = "";
        return "";
      case "message.delta":
        live.text.textContent += ev.text || "";
        return "";
      case "message.completed":
        live.text.textContent = ev.text || "";
        return "";
      case "tool.started":
        live.tool = ev.tool + ": " + summary(ev.input || {});
        return "";
      case "tool.completed":
        live.tool = "";
        return "annotate";
      case "permission.decided":
        return "annotate";
      case "usage.updated":
        live.tokens = ((ev.usage || {}).input_tokens || 0) + ((ev.usage || {}).output_tokens || 0);
        live.cost = ev.cost_usd;
        return "";
      case "snapshot.created":
      case "approval.requested":
      case "clarification.requested":
      case "plan.submitted":
        return "refresh";
      case "run.completed":
        live.state = ev.status + " (" + ev.terminal_reason + ")";
        live.tool = "";
        return "refresh";
      case "status":
        live.state = String(ev.status || "").replace("SESSION_STATUS_", "").toLowerCase().replace(/_/g, " ");
        return "refresh";
      default:
        return "";
    }
  }

  // StreamEvents(follow) as tau events: `event_json` parsed, a server status as {type: "status"}; `_seq` is the
  // session's sequence number. Returns the AbortController that ends it.
  function follow(sessionId, afterSeq, onEvt, onEnd) {
    const controller = new AbortController();
    const handle = (msg) => {
      let ev = null;
      const raw = pick(msg, "eventJson", "event_json");
      if (raw) {
        try {
          ev = JSON.parse(raw);
        } catch (e) {
          ev = { type: "unreadable", text: raw };
        }
      } else if (msg.status) {
        ev = { type: "status", status: msg.status.status, detail: msg.status.detail };
      } else {
        ev = { type: "unknown" };
      }
      ev._seq = Number(pick(msg, "seq") || 0);
      ev._run = msg.run;
      onEvt(ev);
    };
    tau.stream("StreamEvents", { sessionId, afterSeq: String(afterSeq || 0), follow: true }, handle, controller.signal)
      .then(() => onEnd(null), (error) => onEnd(controller.signal.aborted ? null : error));
    return controller;
  }

  Object.assign(tau, { pendingPanel, livePanel, onEvent, follow });
})();
