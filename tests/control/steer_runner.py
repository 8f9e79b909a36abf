"""Run by test_steering.py in a subprocess: a real `prepare_run` driver (file store, scripted model) steered by its
inbox the way `tau run` wires it. Prints `READY` once the session is open and the first step is under way, then
the terminal event as JSON (and the user prompts the second request carried, for `inject`).

    steer_runner.py STATE_DIR WORKSPACE SESSION_ID inject|stop
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from controlsupport import make_job, user_prompts
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo

from tau.config.spec import PermissionsSpec
from tau.runtime import prepare_run
from tau.runtime.features.steering import inbox_dir, steered
from tau.sessions import FileSessionStore
from tau.testing import Turn, calls, reply, scripted_model

BYPASS = PermissionsSpec(mode="bypassPermissions")  # the scripted bash loop is not analysable shell


async def main(state_dir: Path, workspace: Path, session_id: str, mode: str) -> None:
    marker = workspace / "delivered"
    seen: list[str] = []

    def first(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        print("READY", flush=True)
        if mode == "stop":
            return calls(("bash", {"command": "sleep 20"}))
        wait = f"for i in $(seq 400); do [ -e {marker} ] && exit 0; sleep 0.05; done; exit 1"
        return calls(("bash", {"command": wait}))

    def second(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        seen.extend(user_prompts(messages))
        return reply("done")

    model, _ = scripted_model([first, second])
    job = make_job(workspace, permissions=BYPASS, session_id=session_id)
    driver = await prepare_run(job, model=model, store=FileSessionStore(state_dir))

    def inject(text: str) -> None:
        driver.inject(text)
        marker.touch()

    try:
        async with steered(inbox_dir(state_dir, session_id), inject=inject, cancel=driver.cancel, poll_interval=5):
            completed = await driver.run()
    finally:
        await driver.close()
    result: dict[str, Any] = completed.model_dump(mode="json")
    print(json.dumps({"completed": result, "prompts": seen}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]))
