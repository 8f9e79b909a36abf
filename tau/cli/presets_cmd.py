"""`tau presets ls/show/create/edit/rm`, and the job of `tau run --preset NAME[@VERSION]` (`preset_document`).

Presets live in the session store's database (`<state>/catalog.sqlite`, `tau.sessions.catalog`; with `--store
postgres://…`, `TAU_STORE` or the user config's `[store] url`, in that Postgres database: `tau.sessions.catalog_port`),
the same ones `tau serve`'s preset RPCs manage: each `edit` adds a version, `rm` deletes every version. A preset's
spec is the RPC's `PresetSpec` in proto JSON (`jobText`, `model`, `job`, `permissions`, `environment`, `context`,
`description`); the CLI writes the job text (a job file: frontmatter and prompt) and the description, and keeps the
other fields an RPC client set when it edits.

`tau run --preset NAME`: the preset's job text is the job document (its frontmatter and its prompt; `-p TEXT`
replaces the prompt and keeps the frontmatter) and its other settings become flags under the command line's own
(flags given on the command line win; permission rules and MCP configs are added to the preset's). A job FILE and
--preset together are a usage error. Errors are one line, exit 2 (an unknown preset or version, a stale
`--expected-version`, a name taken). Only click is imported at module level.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tau.cli.options import examples, json_option, state_dir_option

if TYPE_CHECKING:
    from tau.sessions.catalog import PresetRow
    from tau.sessions.catalog_port import CatalogStore

__all__ = ["catalog_of", "preset_document", "presets_group"]

_APPENDED = ("allow", "ask", "deny", "mcp_config")
_DESCRIPTION = "One line saying what the preset is for (edit: keeps the current one unless given)."


def catalog_of(state_dir: str | None) -> CatalogStore:
    """The catalog of this invocation's store: the Postgres database of a chosen store URL (`tau.cli.stores`), else
    `catalog.sqlite` in the state dir (`default_state_dir`), checked as `tau run` checks it."""
    from tau.cli.stores import store_choice
    from tau.sessions import check_state_dir, default_state_dir, state_dir_source
    from tau.sessions.catalog import Catalog, catalog_path
    from tau.sessions.catalog_port import open_catalog

    choice = store_choice()
    if choice is not None:
        return open_catalog(choice.url)
    root = default_state_dir(os.environ, Path.cwd(), state_dir)
    check_state_dir(root, source=state_dir_source(os.environ, state_dir), write=True)
    return Catalog(catalog_path(root))


def _name(name: str) -> str:
    from tau.errors import ConfigError
    from tau.sessions.catalog import PRESET_NAME

    if not PRESET_NAME.fullmatch(name):
        raise ConfigError(f"invalid preset name {name!r}: use letters, digits, . _ -", source="tau presets")
    return name


def _versioned(text: str) -> tuple[str, int | None]:
    """NAME or NAME@N -> (name, version or None)."""
    from tau.errors import ConfigError

    name, at, version = text.partition("@")
    if at and not (version.isdigit() and int(version) > 0):
        raise ConfigError(f"invalid preset version {version!r}: use NAME@N with N >= 1", source="tau presets")
    return _name(name), int(version) if at else None


def _row_json(row: PresetRow) -> dict[str, Any]:
    return {"name": row.name, "version": row.version, "create_time": row.first, "update_time": row.created,
            "spec": json.loads(row.spec)}  # fmt: skip


def _read_text(path: str) -> str:
    from tau.errors import ConfigError

    if path == "-":
        from tau.cli.run import read_stdin

        return read_stdin()
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}", source="tau presets") from None


def _check_job_text(text: str, path: str) -> None:
    from tau.config.jobfile import split_frontmatter

    split_frontmatter(text, source=path)  # ConfigError for frontmatter that does not parse


def _missing(name: str, version: int | None = None) -> Exception:
    from tau.errors import ConfigError

    what = f"preset {name!r} has no version {version}" if version else f"no preset named {name!r}"
    return ConfigError(what, source="tau presets")


@click.group(
    "presets", epilog=examples("tau presets create review review.md", "tau run --preset review -p 'Check main'")
)
def presets_group() -> None:
    """Named, versioned agent configurations in the session store (`tau run --preset NAME`, CreateSession).

    With --store postgres://… (or TAU_STORE) they live in that database, shared by every machine and tau serve.
    """


@presets_group.command("ls", epilog=examples("tau presets ls", "tau presets ls --json | jq -r .name"))
@json_option
@state_dir_option
def presets_ls(as_json: bool, state_dir: str | None) -> None:
    """List presets (their latest versions).

    --json prints one object per preset, one per line (JSON Lines): name, version, create_time, update_time, spec.
    """
    rows = catalog_of(state_dir).presets()
    for row in rows:
        if as_json:
            click.echo(json.dumps(_row_json(row), ensure_ascii=False))
        else:
            description = json.loads(row.spec).get("description", "")
            click.echo(f"{row.name:<24}  v{row.version:<4}  {row.created[:19].replace('T', ' ')}  {description}")


@presets_group.command("show", epilog=examples("tau presets show review", "tau presets show review@1 --json"))
@click.argument("name", metavar="NAME[@N]")
@json_option
@state_dir_option
def presets_show(name: str, as_json: bool, state_dir: str | None) -> None:
    """Print a preset's job text (NAME@N: version N; default: the latest).

    --json prints one object: name, version, create_time, update_time, spec (the preset's settings).
    """
    name, version = _versioned(name)
    row = catalog_of(state_dir).preset(name, version)
    if row is None:
        raise _missing(name, version)
    spec = json.loads(row.spec)
    if as_json or "jobText" not in spec:
        click.echo(json.dumps(_row_json(row), ensure_ascii=False, indent=None if as_json else 2))
    else:
        click.echo(spec["jobText"], nl=not spec["jobText"].endswith("\n"))


@presets_group.command(
    "create", epilog=examples("tau presets create review review.md --description 'Code review'", "tau presets ls")
)
@click.argument("name")
@click.argument("job_file", metavar="FILE|-")
@click.option("--description", default=None, help=_DESCRIPTION)
@json_option
@state_dir_option
def presets_create(name: str, job_file: str, description: str | None, as_json: bool, state_dir: str | None) -> None:
    """Store a job file (frontmatter + prompt) as version 1 of a new preset.

    --json prints one object: name, version, create_time, update_time, spec.
    """
    from tau.errors import ConfigError
    from tau.sessions.catalog import PresetConflict

    text = _read_text(job_file)
    _check_job_text(text, job_file)
    spec = {"jobText": text, **({"description": description} if description else {})}
    try:
        row = catalog_of(state_dir).create_preset(_name(name), json.dumps(spec, sort_keys=True))
    except PresetConflict as error:
        raise ConfigError(str(error), source="tau presets create") from None
    _report(row, as_json)


@presets_group.command("edit", epilog=examples("tau presets edit review review.md --expected-version 1"))
@click.argument("name")
@click.argument("job_file", metavar="FILE|-")
@click.option("--description", default=None, help=_DESCRIPTION)
@click.option("--expected-version", type=click.IntRange(min=1), metavar="N", help="Refuse unless N is the latest.")
@json_option
@state_dir_option
def presets_edit(
    name: str,
    job_file: str,
    description: str | None,
    expected_version: int | None,
    as_json: bool,
    state_dir: str | None,
) -> None:
    """Store a new version of a preset with this job file (its other settings are kept).

    --json prints one object: name, version, create_time, update_time, spec.
    """
    from tau.errors import ConfigError
    from tau.sessions.catalog import PresetConflict

    catalog = catalog_of(state_dir)
    latest = catalog.preset(_name(name))
    if latest is None:
        raise _missing(name)
    text = _read_text(job_file)
    _check_job_text(text, job_file)
    spec = {**json.loads(latest.spec), "jobText": text}
    if description is not None:
        spec["description"] = description
    try:
        row = catalog.update_preset(name, json.dumps(spec, sort_keys=True), expected_version=expected_version)
    except PresetConflict as error:
        raise ConfigError(str(error), source="tau presets edit") from None
    _report(row, as_json)


@presets_group.command("rm", epilog=examples("tau presets rm review"))
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@state_dir_option
def presets_rm(names: tuple[str, ...], state_dir: str | None) -> None:
    """Delete presets, every version (sessions created from them keep their job)."""
    catalog = catalog_of(state_dir)
    for name in names:
        count = catalog.delete_preset(_name(name))
        if not count:
            raise _missing(name)
        click.echo(f"removed {name} ({count} version{'s' if count != 1 else ''})")


def _report(row: PresetRow, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(_row_json(row), ensure_ascii=False))
    else:
        click.echo(f"{row.name} v{row.version}")


# --- tau run --preset --------------------------------------------------------------------------------------------


def preset_document(
    preset: str, *, job_file: str | None, prompt_text: str | None, flags: dict[str, Any], state_dir: str | None
) -> tuple[str, dict[str, Any]]:
    """(job document text, flags) of `tau run --preset NAME[@VERSION]` (see the module docstring)."""
    from tau.config.jobfile import split_frontmatter
    from tau.errors import ConfigError

    if job_file is not None:
        raise ConfigError("give either a job file or --preset, not both", source="--preset")
    name, version = _versioned(preset)
    row = catalog_of(state_dir).preset(name, version)
    if row is None:
        raise _missing(name, version)
    spec = json.loads(row.spec)
    text = str(spec.get("jobText", ""))
    if prompt_text is not None:
        import yaml

        frontmatter, _ = split_frontmatter(text, source=f"preset {name}")
        text = f"---\n{yaml.safe_dump(frontmatter)}---\n{prompt_text}" if frontmatter else prompt_text
    merged = dict(flags)
    from tau.rpc.presets import preset_flags

    for key, value in preset_flags(spec, Path.cwd()).items():
        given = merged.get(key)
        if key in _APPENDED:
            merged[key] = (*value, *(given or ()))
        elif given in (None, (), False):
            merged[key] = value
    if not text.strip():
        raise ConfigError(f"preset {name!r} has no job text: give the prompt with -p TEXT", source="--preset")
    return text, merged
