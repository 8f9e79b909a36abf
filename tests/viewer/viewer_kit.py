"""What the viewer tests share: a real `tau serve` (in-process uvicorn on 127.0.0.1, a file store, a bearer token)
whose model is one scripted "brain" playing a scenario per session, and the sessions the tests look at.

The brain picks its scenario by a marker word in the latest user prompt and its turn by the number of model
responses after that prompt, so a continuation after Respond (no new prompt) and a fork (a new prompt on an old
history) both get the right next turn.

- `refactor`: writes notes.md, runs a bash command whose output is hostile HTML (`HOSTILE`), edits notes.md, answers;
- `variant`: run in a fork of `refactor`: edits notes.md differently, answers;
- `live`: a bash command that waits for the file `go` in the workspace (the test creates it), then answers;
- `approve`: (no permission to run bash) asks to run `echo approved > approved.txt`, suspends; once approved, answers.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rpc"))

from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, UserPromptPart
from pydantic_ai.models import Model
from pydantic_ai.models.function import AgentInfo
from rpc_helpers import Served, start_server

from tau.config import JobSpec
from tau.rpc._gen import runtime_pb2 as pb
from tau.testing import Turn, calls, reply, scripted_model

TOKEN = "viewer-test-token"
HOSTILE = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
ANSWER = "Done: notes.md is written and revised."
SCENARIOS: dict[str, list[Turn]] = {
    "refactor": [
        calls(("write", {"file_path": "notes.md", "content": "# Notes\n\nfirst draft\n"}), text="Writing the notes."),
        calls(("bash", {"command": f"printf '%s\\n' '{HOSTILE}'"})),
        calls(("edit", {"file_path": "notes.md", "old_string": "first draft", "new_string": "second draft"})),
        reply(ANSWER),
    ],
    "variant": [
        calls(("edit", {"file_path": "notes.md", "old_string": "second draft", "new_string": "a bolder draft"})),
        reply("Done: the variant is bolder."),
    ],
    "live": [
        calls(("bash", {"command": "while [ ! -e go ]; do sleep 0.05; done; echo released"}), text="Waiting for go."),
        reply("Released and finished."),
    ],
    "approve": [
        calls(("bash", {"command": "echo approved > approved.txt"}), text="I need to write approved.txt."),
        reply("Approved and done."),
    ],
}


def _latest_prompt(messages: list[ModelMessage]) -> tuple[str, int]:
    """The latest user prompt and how many model responses came after it."""
    prompt, after = "", 0
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                    prompt, after = part.content, 0
        elif isinstance(message, ModelResponse):
            after += 1
    return prompt, after


def brain(messages: list[ModelMessage], info: AgentInfo) -> Turn:
    prompt, after = _latest_prompt(messages)
    for marker, turns in SCENARIOS.items():
        if marker in prompt:
            return turns[after]
    raise AssertionError(f"no scenario for prompt {prompt!r}")


def model_factory(job: JobSpec) -> Model:
    model, _ = scripted_model([brain] * 40)
    return model


@dataclass
class Server:
    served: Served
    state: Path

    @property
    def url(self) -> str:
        return self.served.url

    @property
    def workspace(self) -> Path:
        return self.served.workspace

    def client(self) -> Any:
        return self.served.client()

    def create(self, session_id: str, **fields: Any) -> str:
        return self.served.create(self.client(), session_id=session_id, **fields)

    def run(self, session_id: str, prompt: str) -> list[pb.RunResponse]:
        request = pb.RunRequest(session_id=session_id, prompt=prompt)
        return list(self.client().run(request, headers=self.served.headers))

    def start_run(self, session_id: str, prompt: str) -> Iterator[pb.RunResponse]:
        """A Run whose stream the caller reads (the run goes on server-side either way)."""
        request = pb.RunRequest(session_id=session_id, prompt=prompt)
        return iter(self.client().run(request, headers=self.served.headers))

    def fork(self, session_id: str, new_id: str) -> str:
        request = pb.ForkSessionRequest(session_id=session_id, new_session_id=new_id)
        return str(self.client().fork_session(request, headers=self.served.headers).session_id)

    def get(self, session_id: str) -> pb.Session:
        request = pb.GetSessionRequest(session_id=session_id)
        return self.client().get_session(request, headers=self.served.headers).session


@contextmanager
def running_server(root: Path, *, token: str | None = TOKEN) -> Iterator[Server]:
    workspace, home, state = root / "ws", root / "home", root / "state"
    for directory in (workspace, home):
        directory.mkdir(parents=True, exist_ok=True)
    served, _ = start_server(workspace, home, model_factory, token=token, state_dir=state)
    try:
        yield Server(served, state)
    finally:
        served.stop()


def finished_pair(server: Server) -> tuple[str, str]:
    """`refactor` run to completion, then forked and the fork run (`variant`): (session, fork)."""
    server.create("demo-notes")
    events = server.run("demo-notes", "refactor: write notes.md, check it, then revise the draft")
    assert events[-1].final.status == "completed", events[-1]
    server.fork("demo-notes", "demo-notes-variant")
    events = server.run("demo-notes-variant", "variant: make the draft bolder")
    assert events[-1].final.status == "completed", events[-1]
    return "demo-notes", "demo-notes-variant"


def suspended(server: Server) -> str:
    """`approve` suspended on its bash call (default mode, nothing allowed; the RPC default on_ask suspends)."""
    server.create("demo-approval", permissions=pb.Permissions(mode="default"))
    events = server.run("demo-approval", "approve: write approved.txt with bash")
    assert events[-1].final.status == "suspended", events[-1]
    return "demo-approval"
