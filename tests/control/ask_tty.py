"""Run by test_clarify.py in a subprocess: one `ask_user` call under the `tty` policy, with whatever stdin the test
gives it. Prints the tool results the model received as one JSON list on stdout."""

from __future__ import annotations

import asyncio
import json
import sys

from pydantic_ai import Agent
from pydantic_ai.messages import ModelRequest, ToolReturnPart

from tau.runtime.features.clarify import clarify_toolset
from tau.testing import calls, reply, scripted_model


def main() -> None:
    timeout = None if sys.argv[1] == "none" else float(sys.argv[1])
    ask = ("ask_user", {"question": "Which colour?", "choices": ["red", "blue"]})
    model, script = scripted_model([calls(ask), reply("ok")])
    agent: Agent[None, str] = Agent(model, toolsets=[clarify_toolset("tty", timeout=timeout)])
    asyncio.run(agent.run("go"))
    returns = [
        part.content
        for message in script.requests[1]
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, ToolReturnPart) and part.tool_name == "ask_user"
    ]
    sys.stdout.write(json.dumps(returns) + "\n")


if __name__ == "__main__":
    main()
