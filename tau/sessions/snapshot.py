"""Snapshot objects and the codecs of every object kind; pure (bytes in, bytes out), no I/O.

Object kinds (the kind of an object is known from the link that names it, never sniffed):
- snapshot: canonical JSON of `Snapshot` (`"type": "tau.snapshot"`); names its parent snapshot(s), the messages
  object it adds, the config object, the pending deferred calls and the workspace checkpoint it pins;
- messages: the bytes of `ModelMessagesTypeAdapter.dump_json(step_messages)`, one object per step;
- config: canonical JSON `{"type": "tau.config", "config": <resolved job config>}`, shared by every snapshot of a run;
- pending: the bytes of `TypeAdapter(DeferredToolRequests).dump_json(requests)` (pydantic-ai's own serialization).

Canonical JSON: sorted keys, no whitespace, UTF-8, no NaN. `step` is the depth along the first-parent chain (a new
session's root is 0); `root` names the session's root snapshot (None on the root itself); `usage` is what the step
added and `totals` the session's running sums (numeric usage keys plus `turns` = model responses and `messages`),
restarting at zero in a fork.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter, ModelResponse
from pydantic_ai.tools import DeferredToolRequests

from tau.sessions.errors import CorruptObjectError

Number = int | float
PendingTypeAdapter: TypeAdapter[DeferredToolRequests] = TypeAdapter(DeferredToolRequests)
LinkKind = Literal["snapshot", "messages", "config", "pending", "workspace", "tree", "blob"]


class Snapshot(BaseModel):
    """One immutable step of a session (see the module docstring for the fields' meaning)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: Literal["tau.snapshot"] = "tau.snapshot"
    version: Literal[1] = 1
    session: str
    step: int
    root: str | None = None
    parents: tuple[str, ...] = ()
    messages: str | None = None
    message_count: int = 0
    config: str
    status: str
    created: str
    usage: dict[str, Number] = {}
    totals: dict[str, Number] = {}
    workspace: str | None = None
    pending: str | None = None

    def links(self) -> list[tuple[LinkKind, str]]:
        """Every object this snapshot names, with the kind each must be."""
        found: list[tuple[LinkKind, str]] = [("snapshot", parent) for parent in self.parents]
        found.append(("config", self.config))
        if self.messages is not None:
            found.append(("messages", self.messages))
        if self.pending is not None:
            found.append(("pending", self.pending))
        if self.workspace is not None:
            found.append(("workspace", self.workspace))
        return found


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def encode_snapshot(snapshot: Snapshot) -> bytes:
    return canonical_json(snapshot.model_dump(mode="json"))


def decode_snapshot(data: bytes, path: Path) -> Snapshot:
    try:
        return Snapshot.model_validate_json(data)
    except ValidationError as error:
        raise CorruptObjectError(path, f"not a snapshot object ({error.error_count()} validation errors)") from None


def encode_config(config: Mapping[str, Any]) -> bytes:
    try:
        return canonical_json({"type": "tau.config", "config": dict(config)})
    except (TypeError, ValueError):
        return canonical_json({"type": "tau.config", "config": json.loads(json.dumps(dict(config), default=str))})


def decode_config(data: bytes, path: Path) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        value = None
    if not isinstance(value, dict) or value.get("type") != "tau.config" or not isinstance(value.get("config"), dict):
        raise CorruptObjectError(path, "not a config object")
    config: dict[str, Any] = value["config"]
    return config


def encode_messages(messages: Sequence[ModelMessage]) -> bytes:
    return ModelMessagesTypeAdapter.dump_json(list(messages))


def decode_messages(data: bytes, path: Path) -> list[ModelMessage]:
    try:
        return ModelMessagesTypeAdapter.validate_json(data)
    except ValidationError as error:
        raise CorruptObjectError(path, f"not pydantic-ai messages ({error.error_count()} validation errors)") from None


def join_message_arrays(chunks: Sequence[bytes]) -> bytes:
    """Concatenate JSON arrays (`[a,b]`, `[c]`) into one (`[a,b,c]`) so a whole history validates in one call."""
    inner = [chunk.strip()[1:-1] for chunk in chunks]
    return b"[" + b",".join(part for part in inner if part.strip()) + b"]"


def encode_pending(requests: DeferredToolRequests) -> bytes:
    return PendingTypeAdapter.dump_json(requests)


def decode_pending(data: bytes, path: Path) -> DeferredToolRequests:
    try:
        return PendingTypeAdapter.validate_json(data)
    except ValidationError as error:
        raise CorruptObjectError(path, f"not deferred tool requests ({error.error_count()} errors)") from None


def numeric_usage(usage: Mapping[str, Any]) -> dict[str, Number]:
    """The numeric entries of a usage mapping (None and non-numbers dropped; bools are not numbers)."""
    return {
        key: value
        for key, value in usage.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }


def add_totals(
    totals: Mapping[str, Number], usage: Mapping[str, Number], messages: Sequence[ModelMessage]
) -> dict[str, Number]:
    summed: dict[str, Number] = dict(totals)
    for key, value in usage.items():
        summed[key] = summed.get(key, 0) + value
    summed["turns"] = summed.get("turns", 0) + sum(isinstance(m, ModelResponse) for m in messages)
    summed["messages"] = summed.get("messages", 0) + len(messages)
    return summed
