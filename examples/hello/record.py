"""Re-record cassette.json for this example with a scripted model (there is no real model here).

The script below plays the model's side; tau's real runtime, tools and permissions run against this directory and
RecordingModel writes every exchange. Run: .venv/bin/python examples/hello/record.py
"""

from __future__ import annotations

from pathlib import Path

import anyio

from tau.config import load_job
from tau.runtime import prepare_run
from tau.runtime.cassette import RecordingModel
from tau.testing import calls, reply, scripted_model

HERE = Path(__file__).resolve().parent
SUMMARY = "tau runs agent jobs from markdown files and exits with codes scripts trust.\n" \
    "Its sessions are immutable snapshots.\n"


async def main() -> None:
    model, _ = scripted_model(
        [
            calls(("read", {"file_path": "data.txt"}), text="Let me read the file first."),
            calls(("bash", {"command": "wc -l -w data.txt", "description": "Count lines and words"})),
            calls(("write", {"file_path": "notes/summary.md", "content": SUMMARY})),
            reply("data.txt has 3 lines and 20 words. I wrote a two-line summary to notes/summary.md.", chunk=12),
        ],
        model_name="scripted-hello",
    )
    job = load_job(job_path=str(HERE / "hello.md"), flags={"model": "test:scripted-hello"}, env={}, cwd=HERE)
    driver = await prepare_run(job, model=RecordingModel(model, HERE / "cassette.json", workspace=str(HERE)))
    result = await driver.run()
    await driver.close()
    print(result.status, result.result)


if __name__ == "__main__":
    anyio.run(main)
