"""`tau serve`: the ConnectRPC `tau.runtime.v1.RuntimeService` over HTTP — the runtime's only extensibility boundary.

Modules: `service` (the RPC implementation: sessions, runs, event logs), `runs` (one run, start to final event),
`respond` (Respond's answers), `timers` (loop clean-up after a run), `server` (uvicorn + zttp hosting, `run_server`),
`auth` (bearer token, bind rule), `events` (tau events -> `RunResponse`), `jobs` (CreateSession -> JobSpec),
`registry` (in-memory sessions and bounded event logs), `launch` (the seam to `tau.runtime`), and `_gen` (generated
by `scripts/gen-proto` from proto/tau/runtime/v1/runtime.proto; never edited). Sits at the top of the layers beside
`tau.cli`; nothing in tau imports it except the CLI. Imported lazily: nothing here is loaded by `tau run`.
"""
