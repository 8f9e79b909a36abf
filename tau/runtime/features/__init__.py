"""The features room: what tau adds around the loop rather than the run core.

- `plan`: plan mode (`submit_plan`, the plan file, reviews); `clarify`: `ask_user`;
- `compaction`: shrinking what the model is sent; `steering`: `tau inject` / `tau stop` inboxes;
- `subagents` (+ `subagent_children`, `subagent_rules`): the `task` tool, whose children run through the one loop
  (`runtime.loop`) with a `Budget` carved from the parent's; `agent_defs`: agent definition files;
- `skill_activation`: skills with `context: fork`, run on the subagent machinery.

Rule (import-linter, pyproject): a feature never imports the run core above the loop — `runtime.driver`,
`runtime.service`, `runtime.engine`, `runtime.agent`, `runtime.extensions`, `runtime.operations` and the
`tau.runtime` package itself. Features may use the loop's lower parts (`loop`, `budget`, `emitter`, `setup`'s types);
the core composes features (`agent`, `extensions`, `driver`, `pending`), never the other way round.
"""
