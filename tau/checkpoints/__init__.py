"""Workspace checkpoints: the per-step recorder (`recorder`), the workspace scan it builds trees from (`tree_scan`,
with `.gitignore`-style rules in `ignore_rules`), and `tau rewind` (`rewind`). The object codec stays in
`tau.sessions.checkpoints`: the store owns the bytes, this package owns when and what to record.

Below the runtime, above tools, sessions and environment. Import the submodules directly.
"""
