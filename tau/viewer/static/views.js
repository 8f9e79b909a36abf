// tau session viewer: the session list and a session's sections (transcript, workspace diffs, fork tree, events).
// Everything is built with tau.h (text nodes only, see dom.js). Events are read by their `type` with a default
// branch, so event types this page does not know yet are listed, never fatal.
"use strict";

(function () {
  const tau = window.tau;
  const { h, badge, tokens, cost, clock, when, duration, between, short, pretty } = tau;
  const LONG_LINES = 24;

  // -- events by tool call -------------------------------------------------------------------------------------

  function indexEvents(events) {
    const byCall = {};
    const slot = (id) => (byCall[id] = byCall[id] || {});
    for (const ev of events || []) {
      const id = ev.call_id;
      switch (ev.type) {
        case "tool.started":
          if (id) slot(id).started = ev;
          break;
        case "tool.completed":
          if (id) slot(id).completed = ev;
          break;
        case "permission.decided":
          if (id) slot(id).permission = ev;
          break;
        case "approval.requested":
        case "clarification.requested":
          if (id) slot(id).requested = ev;
          break;
        default:
          break; // other events are shown in the Events section only
      }
    }
    return byCall;
  }

  // -- the session list ----------------------------------------------------------------------------------------

  function sessionList(rows, served, onOpen) {
    if (!rows.length) return h("p", { class: "empty" }, "No sessions match.");
    const body = rows.map((row) => {
      const rpc = served[row.id];
      return h("tr", { "data-session": row.id },
        h("td", {}, h("a", { href: "#/s/" + encodeURIComponent(row.id), onclick: () => onOpen(row.id) }, row.id)),
        h("td", {}, badge(row.status), rpc && rpc !== row.status ? badge(rpc, "b-served") : null),
        h("td", { class: "title" }, row.title || ""),
        h("td", { class: "num" }, String(row.turns)),
        h("td", { class: "num" }, tokens(row.tokens)),
        h("td", { class: "num" }, cost(row.cost)),
        h("td", {}, row.model || ""),
        h("td", {}, when(row.updated)));
    });
    return h("table", { class: "sessions" },
      h("thead", {}, h("tr", {}, ["Session", "Status", "Title", "Turns", "Tokens", "Cost", "Model", "Updated"]
        .map((t) => h("th", {}, t)))),
      h("tbody", {}, body));
  }

  // -- header and job ------------------------------------------------------------------------------------------

  function header(view) {
    const s = view.doc.session;
    const job = s.job || {};
    const env = job.environment || {};
    const perms = job.permissions || {};
    const facts = [
      ["model", s.model || job.model || ""],
      ["workspace", (env.kind || "") + " " + (env.workspace || "")],
      ["permissions", [perms.mode, (perms.allow || []).join(", ")].filter(Boolean).join(" · ")],
      ["created", when(s.created)],
      ["updated", when(s.updated)],
      ["turns", String(s.turns)],
      ["tokens", tokens(s.tokens)],
      ["cost", cost(s.cost_usd) || "unknown"],
    ];
    if (s.parent_snapshot) facts.push(["forked from", short(s.parent_snapshot)]);
    return h("section", { class: "head" },
      h("h2", {}, s.title || s.id),
      h("p", { class: "sid" }, h("code", {}, s.id), " ", badge(s.status),
        view.servedStatus && view.servedStatus !== s.status ? badge(view.servedStatus, "b-served") : null),
      h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
  }

  // -- transcript ----------------------------------------------------------------------------------------------

  function returnsByCall(doc) {
    const found = {};
    for (const step of doc.steps)
      for (const msg of step.messages)
        if (msg.role === "request")
          for (const part of msg.parts) if (part.kind === "tool_return" && part.call_id) found[part.call_id] = part;
    return found;
  }

  function textBlock(kind, label, part) {
    const lines = (part.text || "").split("\n").length;
    const pre = h("pre", { class: "text" }, part.text || "");
    const cut = part.cut ? h("p", { class: "cut" }, "… cut: " + part.cut + " characters in all") : null;
    if (kind === "system" || kind === "thinking" || lines > LONG_LINES * 2)
      return h("details", { class: "part " + kind }, h("summary", {}, label + " (" + lines + " lines)"), pre, cut);
    return h("div", { class: "part " + kind }, h("div", { class: "who" }, label), pre, cut);
  }

  function argsBlock(call) {
    const args = call.args || {};
    if (typeof args.command === "string") {
      const rest = Object.assign({}, args);
      delete rest.command;
      return [h("pre", { class: "command" }, "$ " + args.command),
        Object.keys(rest).length ? h("pre", { class: "args" }, pretty(rest)) : null];
    }
    return h("pre", { class: "args" }, pretty(args));
  }

  function resultBlock(ret) {
    if (!ret) return null;
    const lines = (ret.text || "").split("\n");
    const pre = h("pre", { class: "result" }, ret.text || "");
    const cut = ret.cut ? h("p", { class: "cut" }, "… cut: " + ret.cut + " characters in all") : null;
    if (lines.length > LONG_LINES)
      return h("details", { class: "result-wrap" }, h("summary", {}, "result: " + lines.length + " lines"), pre, cut);
    return h("div", { class: "result-wrap" }, pre, cut);
  }

  // A duration from two message timestamps, unless the response's own time is not of this run (a replayed
  // recording keeps the recording's times): then nothing rather than a wrong number.
  function plausible(responseTime, returnTime, stepStart) {
    const ms = between(responseTime, returnTime);
    const fresh = !stepStart || Date.parse(responseTime) >= Date.parse(stepStart) - 1000;
    return ms !== null && ms >= 0 && fresh ? ms : null;
  }

  function toolCard(call, ret, ctx, responseTime) {
    const seen = ctx.byCall[call.call_id] || {};
    const completed = seen.completed;
    const outcome = ret ? ret.outcome : ctx.pending.has(call.call_id) ? "pending" : completed ? completed.status : "no result";
    const took = completed && completed.duration_ms !== null && completed.duration_ms !== undefined
      ? completed.duration_ms : ret ? plausible(responseTime, ret.time, ctx.stepStart) : null;
    const perm = seen.permission;
    const permText = perm
      ? perm.decision + " → " + perm.resolution + (perm.rule ? " · " + perm.rule : "")
      : outcome === "denied" ? "denied" : "";
    return h("div", { class: "part tool", "data-call": call.call_id, "data-tool": call.tool },
      h("div", { class: "tool-head" },
        h("span", { class: "tool-name" }, call.tool),
        badge(outcome, "b-" + String(outcome).replace(/[^a-z]/g, "")),
        permText ? h("span", { class: "perm", title: perm ? perm.reason : "" }, "permission: " + permText) : null,
        took !== null ? h("span", { class: "took" }, duration(took)) : null,
        h("code", { class: "call-id" }, call.call_id)),
      perm && perm.reason ? h("p", { class: "perm-reason" }, perm.reason) : null,
      argsBlock(call),
      resultBlock(ret));
  }

  function responseMeta(msg) {
    const u = msg.usage || {};
    const bits = [msg.model, clock(msg.time)];
    if (u.input_tokens || u.output_tokens) bits.push("in " + tokens(u.input_tokens) + " · out " + tokens(u.output_tokens));
    return h("div", { class: "meta" }, bits.filter(Boolean).join(" · "));
  }

  function messageParts(msg, ctx) {
    const out = [];
    for (const part of msg.parts) {
      switch (part.kind) {
        case "user":
          out.push(textBlock("user", "user", part));
          break;
        case "system":
          out.push(textBlock("system", "system prompt", part));
          break;
        case "text":
          if ((part.text || "").trim()) out.push(textBlock("assistant", "assistant", part));
          break;
        case "thinking":
          out.push(textBlock("thinking", "thinking", part));
          break;
        case "tool_call":
          out.push(toolCard(part, ctx.returns[part.call_id], ctx, msg.time));
          break;
        case "tool_return":
          if (!ctx.calls.has(part.call_id)) out.push(toolCard({ tool: part.tool, call_id: part.call_id, args: {} }, part, ctx, null));
          break;
        case "retry":
          out.push(textBlock("retry", "sent back to the model" + (part.tool ? " (" + part.tool + ")" : ""), part));
          break;
        default:
          if (part.text) out.push(textBlock("other", part.part_kind || part.kind, part));
      }
    }
    if (msg.role === "response") out.push(responseMeta(msg));
    return out;
  }

  function stepHeader(step, previous) {
    const u = step.usage || {};
    const took = previous ? between(previous.created, step.created) : null;
    const bits = ["step " + step.step, clock(step.created)];
    if (u.input_tokens || u.output_tokens) bits.push("+" + tokens((u.input_tokens || 0) + (u.output_tokens || 0)) + " tokens");
    if (step.cost_usd !== null && step.cost_usd !== undefined) bits.push(cost(step.cost_usd));
    if (took !== null && step.messages.length) bits.push(duration(took));
    return h("div", { class: "step-head" }, bits.join(" · "), " ", badge(step.status),
      step.inherited ? h("span", { class: "inherited" }, "from session " + step.session) : null);
  }

  function transcript(view) {
    const doc = view.doc;
    const calls = new Set();
    for (const step of doc.steps)
      for (const msg of step.messages)
        for (const part of msg.parts) if (part.kind === "tool_call") calls.add(part.call_id);
    const ctx = {
      byCall: view.byCall, returns: returnsByCall(doc), calls,
      pending: new Set((doc.pending || []).map((p) => p.call_id)),
    };
    const out = [];
    let previous = null;
    for (const step of doc.steps) {
      ctx.stepStart = previous ? previous.created : step.created;
      if (step.messages.length || step.step === 0)
        out.push(h("section", { class: "step" + (step.inherited ? " inherited" : ""), "data-step": step.step },
          stepHeader(step, previous), step.messages.map((m) => messageParts(m, ctx))));
      previous = step;
    }
    return h("div", { class: "transcript" }, out);
  }

  // -- workspace diffs -----------------------------------------------------------------------------------------

  function patchBlock(lines) {
    return h("pre", { class: "patch" }, lines.map((line) => {
      const kind = line.startsWith("+++") || line.startsWith("---") ? "file"
        : line.startsWith("@@") ? "hunk" : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "ctx";
      return h("span", { class: "pl " + kind }, line);
    }));
  }

  function diffBlock(diff) {
    const title = diff.whole ? "all changes up to step " + diff.to_step
      : "step " + diff.from_step + " → step " + diff.to_step;
    const files = diff.files.map((f) =>
      h("div", { class: "file", "data-path": f.path },
        h("div", { class: "file-head" }, badge(f.kind), " ", h("code", {}, f.path)),
        f.patch ? patchBlock(f.patch) : null,
        f.note ? h("p", { class: "cut" }, f.note) : null));
    return h("section", { class: "diff" + (diff.whole ? " whole" : "") },
      h("h3", {}, title),
      diff.note ? h("p", { class: "empty" }, diff.note) : null,
      !diff.files.length && !diff.note ? h("p", { class: "empty" }, "no file changes") : null,
      files,
      diff.omitted ? h("p", { class: "cut" }, diff.omitted + " more files left out") : null);
  }

  function workspace(view, compare) {
    const diffs = view.doc.diffs || [];
    return h("div", { class: "workspace" },
      compare ? compare() : null,
      diffs.length ? diffs.slice().reverse().map(diffBlock) : h("p", { class: "empty" }, "The workspace was never pinned (no file-changing tool ran)."));
  }

  // -- fork tree -----------------------------------------------------------------------------------------------

  function forkTree(view, linkable) {
    const tree = view.doc.tree || { nodes: [] };
    const kids = {};
    for (const node of tree.nodes) (kids[node.parent || ""] = kids[node.parent || ""] || []).push(node);
    const item = (node) => {
      const name = linkable ? h("a", { href: "#/s/" + encodeURIComponent(node.id) }, node.id) : h("code", {}, node.id);
      const kind = node.kind === "subagent" ? "subagent " + (node.agent || "") : node.kind;
      return h("li", { class: node.id === tree.current ? "node current" : "node", "data-session": node.id },
        h("div", { class: "node-line" }, badge(kind.trim(), "b-kind"), " ", name, " ", badge(node.status),
          h("span", { class: "node-title" }, node.title || ""),
          h("span", { class: "node-facts" }, node.turns + " turns · " + tokens(node.tokens) + " tokens",
            node.parent_snapshot ? " · from " + short(node.parent_snapshot) : "")),
        (kids[node.id] || []).length ? h("ul", {}, kids[node.id].map(item)) : null);
    };
    const roots = tree.nodes.filter((n) => !n.parent || !tree.nodes.some((m) => m.id === n.parent));
    return h("div", { class: "tree" }, h("ul", {}, roots.map(item)),
      tree.truncated ? h("p", { class: "cut" }, "more sessions left out") : null);
  }

  // -- events --------------------------------------------------------------------------------------------------

  function eventSummary(ev) {
    switch (ev.type) {
      case "tool.started": return ev.tool;
      case "tool.completed": return ev.tool + " " + ev.status + (ev.duration_ms ? " · " + duration(ev.duration_ms) : "");
      case "permission.decided": return ev.tool + ": " + ev.decision + " → " + ev.resolution + (ev.rule ? " (" + ev.rule + ")" : "");
      case "turn.started": return "turn " + ev.turn;
      case "message.completed": return (ev.text || "").slice(0, 160);
      case "usage.updated": return tokens(((ev.usage || {}).input_tokens || 0) + ((ev.usage || {}).output_tokens || 0)) + " tokens " + cost(ev.cost_usd);
      case "run.completed": return ev.status + " · " + ev.terminal_reason + (ev.error ? " · " + ev.error : "");
      case "hook.ran": return ev.hook_event + " " + ev.command + " → " + ev.decision;
      case "notice.emitted": return ev.level + ": " + ev.message;
      default: return "";
    }
  }

  function eventsTable(view) {
    const events = view.events || [];
    if (!events.length) return h("p", { class: "empty" }, "No events recorded for this session (only runs served by tau serve keep them).");
    return h("table", { class: "events" },
      h("tbody", {}, events.filter((ev) => ev.type !== "message.delta" && ev.type !== "thinking.delta").map((ev) =>
        h("tr", { "data-type": ev.type || "" },
          h("td", { class: "num" }, ev._seq !== undefined ? String(ev._seq) : String(ev.seq === undefined ? "" : ev.seq)),
          h("td", {}, h("code", {}, ev.type || "status")),
          h("td", {}, eventSummary(ev)),
          h("td", {}, h("details", {}, h("summary", {}, "json"), h("pre", {}, pretty(ev))))))));
  }

  Object.assign(tau, { indexEvents, sessionList, header, transcript, workspace, diffBlock, forkTree, eventsTable });
})();
