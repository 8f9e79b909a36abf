"""The session viewer: one web page that shows sessions of the store — the list with filters, a session's transcript
(messages, tool calls and results, permission decisions, usage, cost and timings per step), the workspace diff
between snapshots, the fork tree, a running session live, and its pending approvals and questions.

- `api`: the data, read from the `FileSessionStore` (`load_sessions`, `load_document`, `load_diff`);
- `document`, `messages`, `tree`: how a session becomes the page's JSON document;
- `page`: the static assets (`static/`: plain HTML, CSS and JavaScript, no build step) and `export_html`, the one
  self-contained file `tau sessions view ID FILE.html` writes;
- `web`: the ASGI routes `tau serve` mounts at `/` and `/ui/` (`with_viewer`).

Layer: above the runtime (it reads subagent links through `runtime.features.subagents`), below `tau.rpc` and `tau.cli`,
which mount and call it. The page itself talks to `tau serve` only through these routes and the RuntimeService's
Connect JSON methods (ListSessions, GetSession, StreamEvents, Respond).
"""
