"""Helpers for `tau watch` tests: job files, dropping them the two ways writers do, and reading the results."""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic_ai.models import Model
from pydantic_ai.models.test import TestModel

from tau.cli.render import result_object
from tau.config import JobSpec
from tau.watch import JobRunner, WatchConfig, Watcher, WatchReport


def job_text(prompt: str, *, model: str = "test:x", extra: str = "") -> str:
    return f"---\nmodel: {model}\n{extra}---\n{prompt}\n"


@dataclass
class Box:
    root: Path
    env: dict[str, str]
    prompts: list[str] = field(default_factory=list)

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def workspace(self) -> Path:
        return self.root / "ws"

    def drop(self, name: str, text: str) -> Path:
        """Write a temp name (ignored), then rename into place: the documented way."""
        temp = self.inbox / f".{name}.tmp"
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, self.inbox / name)
        return self.inbox / name

    def write_slowly(self, name: str, text: str, *, chunks: int = 4, pause: float = 0.15) -> None:
        """Write in place, reopening the file for each chunk (a picked-up-early file would be recreated)."""
        size = -(-len(text) // chunks)
        for start in range(0, len(text), size):
            with (self.inbox / name).open("a", encoding="utf-8") as handle:
                handle.write(text[start : start + size])
            time.sleep(pause)

    def model_factory(self, job: JobSpec) -> Model | None:
        self.prompts.append(job.prompt)
        return TestModel(call_tools=[], custom_output_text=f"did: {job.prompt}")

    def watcher(self, **config: Any) -> Watcher:
        config.setdefault("settle", 0.3)
        runner = JobRunner(
            env=self.env, cwd=self.workspace, result_object=result_object, model_factory=self.model_factory
        )
        return Watcher(WatchConfig(inbox=self.inbox, **config), runner)

    def run_once(self, **config: Any) -> WatchReport:
        return asyncio.run(self.watcher(once=True, **config).run())

    def entries(self, kind: str) -> dict[str, Path]:
        directory = self.inbox / kind
        return {p.name: p for p in sorted(directory.iterdir())} if directory.is_dir() else {}


def result_of(entry: Path) -> dict[str, Any]:
    data = json.loads((entry / "result.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def events_of(entry: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (entry / "events.jsonl").read_text(encoding="utf-8").splitlines()]
