"""Helpers for the Claude Code hook compatibility tests: a "clone" holding a real-world-shaped `.claude/settings.json`
and hook scripts, and real `tau run` subprocesses over a replayed scripted model (see tests/e2e/tau_e2e.py).

A case records its cassette in-process first (that run executes the hooks too), then `fresh()` removes what the
hooks left behind, so the files a test reads come from the `tau run` subprocess alone.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from tau_e2e import Sandbox, TauResult, record_cassette, run_tau

__all__ = ["Clone", "Sandbox", "TauResult", "jsonl", "run_tau"]

STOP_HOOK = """#!/bin/sh
# a Stop hook as Claude Code users write them: keep a copy of the transcript, note the last thing Claude said
input=$(cat)
transcript=$(printf '%s' "$input" | jq -r .transcript_path)
out="$CLAUDE_PROJECT_DIR/../hook-out"
mkdir -p "$out"
cp "$transcript" "$out/transcript-copy.jsonl"
jq -rs '[.[] | select(.type == "assistant")] | last | .message.content[] | select(.type == "text") | .text' \\
  "$transcript" > "$out/last-message.txt"
printf '%s' "$transcript" > "$out/transcript-path.txt"
"""

POST_BASH_HOOK = """#!/bin/sh
out="$CLAUDE_PROJECT_DIR/../hook-out"
mkdir -p "$out"
jq -c '{tool_name, tool_input, tool_response}' > "$out/post-tool-use.json"
"""

ENV_HOOK = """#!/bin/sh
out="$CLAUDE_PROJECT_DIR/../hook-out"
mkdir -p "$out"
printf '%s' "${DEPLOY_TARGET-unset}" > "$out/hook-env.txt"
"""


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@dataclass
class Clone:
    """A cloned repository (the sandbox's workspace) with Claude Code files."""

    box: Sandbox

    @property
    def out(self) -> Path:
        return self.box.root / "hook-out"

    def claude_settings(self, settings: dict[str, Any]) -> None:
        self.box.write(".claude/settings.json", json.dumps(settings, indent=2))

    def hook_script(self, name: str, text: str) -> str:
        """An executable script under `.claude/hooks/`; returns the command Claude Code users write for it."""
        path = self.box.write(f".claude/hooks/{name}", text)
        path.chmod(0o755)
        return f'"$CLAUDE_PROJECT_DIR"/.claude/hooks/{name}'

    def record(self, args: Sequence[str], steps: Sequence[Any], name: str = "run") -> Path:
        cassette = self.box.root / f"{name}.cassette.json"
        record_cassette(self.box, args, steps, cassette)
        self.fresh()
        return cassette

    def fresh(self) -> None:
        shutil.rmtree(self.out, ignore_errors=True)

    def tau(self, *args: str, env: dict[str, str] | None = None) -> TauResult:
        return run_tau(*args, sandbox=self.box, env=env)

    def state_dir(self) -> Path:
        return self.box.home / ".local" / "state" / "tau"
