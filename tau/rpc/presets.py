"""Presets over RPC: CreatePreset / GetPreset / ListPresets / UpdatePreset / DeletePreset, and how a preset becomes
a session's job (`PresetBook.expand`: `CreateSession{preset, preset_version, overrides}`).

Two sources, one namespace: stored presets (`tau.sessions.catalog.Catalog`, versioned, read-write) and the server's
presets directory (`<dir>/<name>.md` job files, read-only, shown as version 0 with source "directory"). A name lives
in one source: CreatePreset refuses a name the directory has (ALREADY_EXISTS), Update and Delete of a directory
preset are FAILED_PRECONDITION.

Expansion: a preset is a `PresetSpec` (job_text, job options, model, environment, permissions, context); the
CreateSession request's own fields override it field by field — job options a request sets replace the preset's,
model, environment, job_text and permission mode / on_ask replace, allow / ask / deny rules are appended (as config
layers append them), context entries are added after the preset's. The result is an ordinary CreateSessionRequest,
so a preset resolves to a `JobSpec` through `rpc.jobs.build_session_job` exactly as inline settings do.

Errors are Connect errors with one line: INVALID_ARGUMENT (a bad name or spec), NOT_FOUND (no such preset or
version), ALREADY_EXISTS, ABORTED (a stale `expected_version`), FAILED_PRECONDITION (a read-only preset).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from google.protobuf import json_format

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc.jobs import placement_of, request_flags
from tau.sessions.catalog import PRESET_NAME, PresetConflict, PresetRow
from tau.sessions.catalog_port import PresetCatalog

_CONFLICT_CODES = {"exists": Code.ALREADY_EXISTS, "missing": Code.NOT_FOUND, "stale": Code.ABORTED}
_SPEC_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Expanded:
    """A CreateSession request with its preset applied, and which preset version it used (name "" for none)."""

    request: pb.CreateSessionRequest
    preset: str
    version: int


def check_name(name: str) -> str:
    if not name:
        raise ConnectError(Code.INVALID_ARGUMENT, "name is required")
    if not PRESET_NAME.fullmatch(name):
        raise ConnectError(Code.INVALID_ARGUMENT, f"invalid preset name {name!r}: use letters, digits, . _ -")
    return name


def _spec_json(spec: pb.PresetSpec) -> str:
    text = json_format.MessageToJson(spec, indent=None, sort_keys=True)
    if len(text.encode()) > _SPEC_MAX_BYTES:
        raise ConnectError(Code.RESOURCE_EXHAUSTED, f"the preset spec is over {_SPEC_MAX_BYTES} bytes")
    return text


def _message(row: PresetRow) -> pb.Preset:
    spec = json_format.Parse(row.spec, pb.PresetSpec(), ignore_unknown_fields=True)
    return pb.Preset(
        name=row.name, version=row.version, spec=spec, create_time=row.first, update_time=row.created, source="store"
    )


class PresetBook:
    """Stored presets in `catalog`, plus the read-only files of `directory` (None: none)."""

    def __init__(self, catalog: PresetCatalog, directory: Path | None) -> None:
        self.catalog = catalog
        self.directory = directory

    def _file(self, name: str) -> pb.Preset | None:
        if self.directory is None:
            return None
        path = self.directory / f"{name}.md"
        if not path.is_file():
            return None
        text = path.read_text(encoding="utf-8-sig")
        return pb.Preset(name=name, version=0, spec=pb.PresetSpec(job_text=text), source="directory")

    def create(self, request: pb.CreatePresetRequest) -> pb.Preset:
        name = check_name(request.name)
        if self._file(name) is not None:
            raise ConnectError(Code.ALREADY_EXISTS, f"preset {name!r} is a file of the server's presets directory")
        try:
            return _message(self.catalog.create_preset(name, _spec_json(request.spec)))
        except PresetConflict as error:
            raise ConnectError(_CONFLICT_CODES[error.kind], str(error)) from None

    def update(self, request: pb.UpdatePresetRequest) -> pb.Preset:
        name = check_name(request.name)
        if self.catalog.preset(name) is None and self._file(name) is not None:
            raise ConnectError(
                Code.FAILED_PRECONDITION, f"preset {name!r} is a file of the server's presets directory (read-only)"
            )
        expected = request.expected_version or None
        try:
            return _message(self.catalog.update_preset(name, _spec_json(request.spec), expected_version=expected))
        except PresetConflict as error:
            raise ConnectError(_CONFLICT_CODES[error.kind], str(error)) from None

    def get(self, name: str, version: int = 0) -> pb.Preset:
        check_name(name)
        row = self.catalog.preset(name, version or None)
        if row is not None:
            return _message(row)
        if version == 0 and (found := self._file(name)) is not None:
            return found
        if version and self.catalog.preset(name) is not None:
            raise ConnectError(Code.NOT_FOUND, f"preset {name!r} has no version {version}")
        raise ConnectError(Code.NOT_FOUND, f"no preset named {name!r}")

    def list(self) -> list[pb.Preset]:
        stored = {row.name: _message(row) for row in self.catalog.presets()}
        files: dict[str, pb.Preset] = {}
        if self.directory is not None and self.directory.is_dir():
            for path in sorted(self.directory.glob("*.md")):
                name = path.stem
                if PRESET_NAME.fullmatch(name) and name not in stored and (found := self._file(name)) is not None:
                    files[name] = found
        merged = {**files, **stored}
        return [merged[name] for name in sorted(merged)]

    def delete(self, name: str) -> int:
        check_name(name)
        count = self.catalog.delete_preset(name)
        if count:
            return count
        if self._file(name) is not None:
            raise ConnectError(
                Code.FAILED_PRECONDITION, f"preset {name!r} is a file of the server's presets directory (read-only)"
            )
        raise ConnectError(Code.NOT_FOUND, f"no preset named {name!r}")

    def expand(self, request: pb.CreateSessionRequest) -> Expanded:
        """`request` with its preset applied (see the module docstring); unchanged without a preset."""
        if not request.preset:
            if request.preset_version:
                raise ConnectError(Code.INVALID_ARGUMENT, "preset_version needs a preset")
            return Expanded(request, "", 0)
        preset = self.get(request.preset, request.preset_version)
        return Expanded(apply_preset(preset.spec, request), preset.name, preset.version)


def apply_preset(spec: pb.PresetSpec, request: pb.CreateSessionRequest) -> pb.CreateSessionRequest:
    """A CreateSession request: the preset's settings, with the request's own fields over them."""
    merged = pb.CreateSessionRequest(
        context=[*spec.context, *request.context],
        job_text=request.job_text or spec.job_text,
        model=request.model or spec.model,
        session_id=request.session_id,
        labels=dict(request.labels),
        conversation_id=request.conversation_id,
    )
    merged.job.CopyFrom(spec.job)
    for field, value in request.job.ListFields():
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            getattr(merged.job, field.name).update(value)
        elif field.is_repeated:
            target = getattr(merged.job, field.name)
            del target[:]
            target.extend(value)
        elif field.message_type is not None:
            getattr(merged.job, field.name).CopyFrom(value)
        else:
            setattr(merged.job, field.name, value)
    merged.environment.CopyFrom(request.environment if request.HasField("environment") else spec.environment)
    merged.permissions.CopyFrom(spec.permissions)
    own = request.permissions
    if own.mode:
        merged.permissions.mode = own.mode
    if own.on_ask:
        merged.permissions.on_ask = own.on_ask
    merged.permissions.allow.extend(own.allow)
    merged.permissions.ask.extend(own.ask)
    merged.permissions.deny.extend(own.deny)
    return merged


def preset_flags(spec: Mapping[str, Any], cwd: Path) -> dict[str, Any]:
    """A preset spec's settings other than its job text (proto JSON, as the catalog stores it) as `load_job` flags:
    what `tau run --preset` layers under its own command line (`tau.cli.presets_cmd`)."""
    message = json_format.ParseDict(
        {key: value for key, value in spec.items() if key not in ("jobText", "job_text")},
        pb.PresetSpec(),
        ignore_unknown_fields=True,
    )
    merged = apply_preset(message, pb.CreateSessionRequest())
    flags = request_flags(merged)
    if merged.HasField("environment"):
        flags.update(placement_of(merged.environment, cwd).flags)
    return flags
