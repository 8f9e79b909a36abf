"""A `tau serve` process with a scripted model, for tests/rpc/test_mailbox_restart.py: tau's own `run_server` (what
`tau serve` runs), in its own process so the test can SIGKILL it, with the lead/researcher script below.

    python mail_kill_server.py WORKSPACE STATE_DIR DEBOUNCE

Script: a prompt starting `delegate` calls `task(background=true)` three times (`research 1..3`) and ends; a
`research N` run runs `echo checked-N`, then waits in `bash` for a file `go-N` or `go`, then answers `result-N`; a
resumed agent (the mailbox's `RESUMED_PROMPT`) answers `result-N` with N read from its own history's tool call
(so it only can if its session was continued from its snapshot);
mail (`new message`) is answered with every `result-N` in the history.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessage, ToolCallPart
from pydantic_ai.models.function import AgentInfo
from rpc_helpers import Scripts, prompts

from tau.config import JobSpec
from tau.rpc.mailbox import RESUMED_PROMPT, MailLimits
from tau.rpc.server import run_server
from tau.rpc.service import ServiceLimits
from tau.testing import Turn, calls, reply


def _final(messages: list[ModelMessage], info: AgentInfo) -> Turn:
    seen = sorted(set(re.findall(r"result-\d", "\n".join(prompts(messages)))))
    return reply("final: " + " ".join(seen))


def _resumed(messages: list[ModelMessage], info: AgentInfo) -> Turn:
    """Answers from the session's own history: its first step's call, committed before the kill (a step's tool
    output is committed with the next request, so the call is what the snapshot holds)."""
    steps = [part.args_as_json_str() for m in messages for part in m.parts if isinstance(part, ToolCallPart)]
    topics = re.findall(r"checked-(\d)", "\n".join(steps))
    return reply(f"result-{topics[0]}" if topics else "lost my work")


def script(job: JobSpec) -> list[Any]:
    if job.prompt.startswith("delegate"):
        tasks = [
            ("task", {"description": f"topic {n}", "prompt": f"research {n}", "subagent_type": "researcher",
                      "background": True})
            for n in "123"
        ]  # fmt: skip
        return [calls(*tasks), reply("three agents are on it")]
    if job.prompt.startswith("research"):
        topic = job.prompt.split()[-1]
        wait = f"while [ ! -e go-{topic} ] && [ ! -e go ]; do sleep 0.05; done"
        steps = [calls(("bash", {"command": f"echo checked-{topic}"})), calls(("bash", {"command": wait}))]
        return [*steps, reply(f"result-{topic}")]
    if job.prompt.startswith(RESUMED_PROMPT):
        return [_resumed]
    if "new message" in job.prompt:
        return [_final]
    return [reply("pong")]


if __name__ == "__main__":
    workspace, state, debounce = sys.argv[1:4]
    limits = ServiceLimits(mail=MailLimits(debounce=float(debounce)))
    sys.exit(
        run_server(
            port=0, env=dict(os.environ), cwd=Path(workspace), state_dir=Path(state), model_factory=Scripts(script),
            limits=limits,
        )
    )  # fmt: skip
