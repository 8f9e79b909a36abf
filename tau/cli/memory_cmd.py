"""`tau memory show`: print exactly the memory a run started in a directory would load, at start and on demand.

Bootstrap files (with bytes, truncation, imports and the cap's drops), what loads on demand (`.claude/rules` files
with `paths:` and their globs; the memory files of folders below the directory, loaded when the model first touches a
path under them), warnings, then the rendered instructions text (bootstrap sections + working-memory guidance and
`INDEX.md`), composed by `tau.memory.memory_instructions`, the same function the runtime uses. `--json` prints one
JSON object instead. Registered by `tau.cli.main`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tau.cli.options import compat_option, cwd_option, examples, json_option

if TYPE_CHECKING:
    from tau.memory import BootstrapMemory
    from tau.memory.rules import ConditionalRule

__all__ = ["memory_group"]


@click.group("memory", epilog=examples("tau memory show"))
def memory_group() -> None:
    """Inspect the memory a run loads (AGENTS.md, CLAUDE.md, TAU.md, working memory)."""


@memory_group.command("show", epilog=examples("tau memory show", "tau memory show --cwd ~/src/project --json"))
@cwd_option()
@compat_option
@click.option("--max-bytes", type=int, default=None, metavar="N", help="Byte cap on memory files (default 256 KiB).")
@click.option("--memory-dir", default=None, metavar="DIR", help="Working-memory directory (default .tau/memory).")
@json_option
def memory_show(cwd: str | None, compat: bool, max_bytes: int | None, memory_dir: str | None, as_json: bool) -> None:
    """Print the memory files a run would load (at start and on demand), then the instructions text they become.
    --compat (the default) also loads ~/.claude/CLAUDE.md, ~/.claude/rules and ~/.codex/AGENTS.md.

    --json prints one object: project_root, max_bytes, total_bytes, files (path, scope, bytes, size, truncated,
    imported_from), dropped, warnings, working_memory (dir, index), instructions (the text) and on_demand (rules,
    nested).
    """
    import anyio

    from tau.environment import HostBackend
    from tau.errors import ConfigError
    from tau.memory import (
        DEFAULT_MAX_BYTES,
        DEFAULT_MEMORY_DIR,
        load_bootstrap_memory,
        load_memory_index,
        memory_instructions,
    )

    directory = os.path.realpath(cwd or os.getcwd())
    if not os.path.isdir(directory):
        raise ConfigError(f"--cwd {cwd}: not a directory")
    mem_dir = memory_dir or DEFAULT_MEMORY_DIR
    from tau.config.trust import trust_for

    trusted = trust_for(Path(directory), dict(os.environ)).trusted
    bootstrap = load_bootstrap_memory(
        cwd=directory,
        home=str(Path.home()),
        compat=compat,
        max_bytes=max_bytes or DEFAULT_MAX_BYTES,
        trusted=trusted,
    )
    from tau.memory import LocalFiles
    from tau.memory.ondemand import nested_memory_files

    nested = nested_memory_files(LocalFiles(), directory)
    index = anyio.run(load_memory_index, HostBackend(directory), mem_dir)
    text = memory_instructions(bootstrap, index, memory_dir=mem_dir)
    if as_json:
        data = _as_json(bootstrap, index, mem_dir, text)
        data["on_demand"] = {"rules": [_rule_json(rule) for rule in bootstrap.conditional], "nested": nested}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(f"project root: {bootstrap.project_root}")
    click.echo(f"memory files ({bootstrap.total_bytes} of {bootstrap.max_bytes} bytes):")
    for loaded in bootstrap.files:
        notes: list[str] = [loaded.scope]
        if loaded.truncated:
            notes.append(f"truncated from {loaded.size}")
        if loaded.imported_from:
            notes.append(f"imported from {loaded.imported_from}")
        click.echo(f"  {loaded.bytes:>7}  {loaded.path}  ({', '.join(notes)})")
    if not bootstrap.files:
        click.echo("  (none)")
    for path in bootstrap.dropped:
        click.echo(f"  dropped  {path}  (over the cap)")
    _echo_on_demand(bootstrap.conditional, nested)
    click.echo(f"working memory: {mem_dir}/INDEX.md {'loaded' if index is not None else '(none)'}")
    for warning in bootstrap.warnings:
        click.echo(f"warning: {warning}")
    click.echo("")
    click.echo(text)


def _echo_on_demand(rules: list[ConditionalRule], nested: list[str]) -> None:
    click.echo("on demand, when the model first touches a matching path with the file tools:")
    for rule in rules:
        click.echo(f"  {rule.path}  (rule; paths: {', '.join(rule.patterns)}; relative to {rule.base})")
    for path in nested:
        folder = os.path.dirname(path)
        folder = os.path.dirname(folder) if os.path.basename(folder) == ".claude" else folder
        click.echo(f"  {path}  (files under {folder})")
    if not rules and not nested:
        click.echo("  (none)")


def _rule_json(rule: ConditionalRule) -> dict[str, Any]:
    return {"path": rule.path, "paths": list(rule.patterns), "base": rule.base, "user": rule.user}


def _as_json(bootstrap: BootstrapMemory, index: str | None, memory_dir: str, text: str) -> dict[str, Any]:
    return {
        "project_root": bootstrap.project_root,
        "max_bytes": bootstrap.max_bytes,
        "total_bytes": bootstrap.total_bytes,
        "files": [
            {
                "path": loaded.path,
                "scope": loaded.scope,
                "bytes": loaded.bytes,
                "size": loaded.size,
                "truncated": loaded.truncated,
                "imported_from": loaded.imported_from,
            }
            for loaded in bootstrap.files
        ],
        "dropped": list(bootstrap.dropped),
        "warnings": list(bootstrap.warnings),
        "working_memory": {"dir": memory_dir, "index": index},
        "instructions": text,
    }
