"""The config-test sandbox: a fake home with a project under it and an injected environment (never os.environ).

Kept out of conftest.py so tests can import it by a name no other test directory uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tau.config import JobSpec, load_job


@dataclass
class Sandbox:
    """`home/` is $HOME; `proj` (= cwd) lives under it, so the project-config walk never leaves the sandbox."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def proj(self) -> Path:
        return self.home / "code" / "proj"

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def job(self, text: str, name: str = "job.md") -> Path:
        return self.write(f"home/code/proj/{name}", text)

    def user_config(self, text: str) -> Path:
        return self.write("home/.config/tau/config.toml", text)

    def project_config(self, text: str) -> Path:
        return self.write("home/code/proj/.tau/config.toml", text)

    def load(
        self,
        job_path: str | None = "job.md",
        *,
        flags: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> JobSpec:
        return load_job(job_path=job_path, flags=flags, env={**self.env, **(env or {})}, cwd=self.proj, **kwargs)
