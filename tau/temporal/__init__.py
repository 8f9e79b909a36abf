"""The temporal engine (issue #16): tau runs on Temporal workers instead of in the front end's process.

- `engine.TemporalEngine`: the runtime's engine port as a Temporal client (`tau run|serve --engine temporal`);
- `workflow.RunWorkflow` + `activity.RunActivity`: the workflow `tau.run` and the activity that executes one whole
  run with tau's own driver in a worker (`worker.serve_worker`, `tau worker`);
- `wire`: the data that crosses Temporal; `devserver.DevServer`: `temporal server start-dev` for tests and benches.

Layering: above `tau.runtime`, beside `tau.rpc` and `tau.watch`; only `tau.cli` imports it. Nothing here is imported
until a command asks for the temporal engine (temporalio is not loaded by `tau run` inline). Decisions and
guarantees: docs/decisions.md, "The temporal engine (issue #16)".
"""
