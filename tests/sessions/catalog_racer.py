"""A catalog writer for the concurrency tests (tests/sessions/test_catalog_contract.py): run as a process of its
own, it races its siblings on one catalog (`open_catalog(LOCATION)`: a SQLite file or a Postgres URL) and prints
what it got as one JSON object.

    catalog_racer.py LOCATION NAME ROUNDS BARRIER

It opens the catalog, creates `BARRIER/ready.<pid>` and waits for `BARRIER/go` (so every racer starts at once). Each
round: read preset NAME's latest version V and update it with `expected_version=V` (a `stale` conflict is
counted, not retried), then post one message to session NAME's mailbox. At the end it marks every pending message
of NAME delivered. Output: {"updated": [[expected, got], ...], "stale": N, "seqs": [...], "claimed": [mail ids]}.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from tau.sessions.catalog import PresetConflict
from tau.sessions.catalog_port import open_catalog


def main(location: str, name: str, rounds: int, barrier: Path) -> None:
    catalog = open_catalog(location)
    catalog.preset(name)  # connected
    (barrier / f"ready.{os.getpid()}").touch()
    while not (barrier / "go").exists():
        time.sleep(0.005)
    updated: list[tuple[int, int]] = []
    stale, seqs = 0, []
    for number in range(rounds):
        latest = catalog.preset(name)
        assert latest is not None
        try:
            row = catalog.update_preset(name, json.dumps({"round": number}), expected_version=latest.version)
            updated.append((latest.version, row.version))
        except PresetConflict as error:
            assert error.kind == "stale", error.kind
            stale += 1
        seqs.append(catalog.post_mail(name, sender="racer", kind="message", body=str(number)).seq)
    claimed = catalog.mark_delivered(row.id for row in catalog.mail(name, pending_only=True))
    catalog.close()
    print(json.dumps({"updated": updated, "stale": stale, "seqs": seqs, "claimed": claimed}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
