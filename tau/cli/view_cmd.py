"""`tau sessions view ID FILE.html`: the session viewer's page for one session, as one self-contained HTML file.

The file holds the page's stylesheet and scripts and the session document (transcript, per-step usage and cost,
workspace diffs, fork tree; `tau.viewer.api.load_document`, the same data `tau serve` shows at /ui/), and loads
nothing when opened: a CI job uploads it beside the session bundle. `--events FILE` adds the run's events (a
`tau run --output stream-json` capture; lines of any event-vocabulary major, others skipped with a count), which
give tool calls their permission decisions and durations. The file is written whole (temp file, rename).
Errors are one line: an unknown or ambiguous id is exit 2, a damaged store exit 1. FILE is an argument, as for
`tau sessions export` (`-o` is a run's output format on every command; `-o FILE` here says so, exit 2).
"""

from __future__ import annotations

from pathlib import Path

import click

from tau.cli.options import examples, renamed, state_dir_option


@click.command(
    "view",
    epilog=examples(
        "tau sessions view nightly-1 nightly-1.html",
        "tau sessions view nightly-1 nightly-1.html --events events.jsonl",
    ),
)
@click.argument("session", metavar="ID")
@click.argument("output", metavar="FILE")
@renamed("-o", "--output", new="give the HTML file as an argument: tau sessions view ID FILE")
@click.option("--events", "events_file", metavar="FILE", help="The run's `--output stream-json` lines to include.")
@state_dir_option
def view_command(session: str, output: str, events_file: str | None, state_dir: str | None) -> None:
    """Write the session viewer's page of ID (a session, a unique prefix or a snapshot) to FILE as one HTML file
    (self-contained: it loads nothing when opened)."""
    import anyio

    from tau.cli.run import open_store
    from tau.viewer.api import load_document
    from tau.viewer.page import export_html

    store = open_store(state_dir, write=False)
    events = _read_events(Path(events_file)) if events_file else []
    document = anyio.run(lambda: load_document(store, session, events=events))
    target = Path(output)
    _write_whole(target, export_html(document).encode("utf-8"))
    steps = sum(1 for step in document["steps"] if step["messages"])
    click.echo(f"wrote {document['session']['id']} ({steps} steps, {len(events)} events) to {target}")


def _read_events(path: Path) -> list[dict[str, object]]:
    """The events of a stream-json capture, upgraded to the current vocabulary; unreadable lines are skipped."""
    from pydantic import ValidationError

    from tau.config.jobfile import read_text_file
    from tau.protocol import parse_event

    text = read_text_file(path, source="--events", what="events file")
    events: list[dict[str, object]] = []
    skipped = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            events.append(parse_event(line).model_dump(mode="json"))
        except (ValueError, ValidationError):
            skipped += 1
    if skipped:
        click.echo(f"tau: --events: skipped {skipped} line(s) that are not tau events", err=True)
    return events


def _write_whole(target: Path, data: bytes) -> None:
    """Write `data` to `target` through a temp file in the same directory and a rename (never half a file)."""
    import contextlib
    import os
    import tempfile

    from tau.errors import ConfigError

    temp: str | None = None
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except OSError as error:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        raise ConfigError(f"cannot write {target}: {error.strerror or error}", source="FILE") from None
