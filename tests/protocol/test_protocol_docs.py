"""The docs name events as the code does: every event type the README, the usage skill, AGENTS.md and the contributor
skill mention exists, and none calls an event by its v1 name."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from tau.protocol import Event
from tau.protocol.upgrade import V1_TYPES

ROOT = Path(__file__).resolve().parents[2]
DOCS = [
    "README.md",
    "AGENTS.md",
    "skills/tau/SKILL.md",
    ".claude/skills/tau-dev/SKILL.md",
    ".claude/skills/tau-dev/recipes.md",
]
VERBS = "started|completed|delta|decided|requested|updated|created|scheduled|emitted|ran|submitted|applied"
EVENT_NAME = re.compile(rf"`([a-z]+\.(?:{VERBS}))`")
V1_NAME = re.compile(rf"`({'|'.join(V1_TYPES)})` events?\b|\b(?:an?|each|the) `({'|'.join(V1_TYPES)})`(?= event)")


def _types() -> set[str]:
    union = typing.get_args(Event)[0]
    return {cls.model_fields["type"].default for cls in typing.get_args(union)}


@pytest.mark.parametrize("doc", DOCS)
def test_every_event_a_doc_names_exists(doc: str) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    named = {name for name in EVENT_NAME.findall(text) if not name.startswith("subject.")}  # the recipe's pattern
    assert named - _types() == set()


@pytest.mark.parametrize("doc", DOCS)
def test_no_doc_calls_an_event_by_its_v1_name(doc: str) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if V1_NAME.search(line) and "became" not in line]
    assert lines == []


def test_the_patterns_catch_what_they_are_for() -> None:
    assert EVENT_NAME.findall("a `tool.finished` and `usage.updated` event, `compaction.threshold`") == [
        "usage.updated"
    ]
    assert V1_NAME.search("each retry is a `retry` event.") is not None
    assert V1_NAME.search("emits a `plan` event and exits 4") is not None
    assert V1_NAME.search("`plan` (read-only tools and commands only)") is None
