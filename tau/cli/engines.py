"""The engine a command's runs execute on, from `--engine`/`--address`/`--namespace`/`--task-queue`
(`tau.cli.options.engine_options`; each also an environment variable): inline (this process: the runtime's default)
or temporal (`tau.temporal.TemporalEngine`, imported only then). Click only at module level."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tau.runtime import Engine

ENGINE_KEYS = ("engine", "address", "namespace", "task_queue")


@dataclass(frozen=True)
class EngineChoice:
    kind: str = "inline"
    address: str | None = None
    namespace: str = "default"
    task_queue: str = "tau"

    @property
    def temporal(self) -> bool:
        return self.kind == "temporal"

    def checked_address(self) -> str:
        """The Temporal address; ConfigError (exit 2) when --engine temporal has none."""
        from tau.errors import ConfigError

        if not self.address or not self.address.strip():
            raise ConfigError("--engine temporal needs the server: --address HOST:PORT or TAU_TEMPORAL_ADDRESS")
        return self.address.strip()

    def build(self) -> Engine | None:
        """The runtime's engine: None for inline (the runtime makes its own `InlineEngine`)."""
        if not self.temporal:
            return None
        from tau.temporal.engine import TemporalEngine

        return TemporalEngine(self.checked_address(), namespace=self.namespace, task_queue=self.task_queue)


def pop_engine(flags: dict[str, Any]) -> EngineChoice:
    """The engine options taken out of a command's flags (what is left are job settings)."""
    given = {key: flags.pop(key, None) for key in ENGINE_KEYS}
    return EngineChoice(
        kind=given["engine"] or "inline",
        address=given["address"],
        namespace=given["namespace"] or "default",
        task_queue=given["task_queue"] or "tau",
    )
