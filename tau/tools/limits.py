"""ToolLimits: the bounds every built-in tool honours (timeouts, what the model is shown, what is read).

Pure data. Built from the job's `LimitsSpec` by `ToolLimits.from_spec`; tools read it, never environment variables.
"""

from __future__ import annotations

from dataclasses import dataclass

from tau.config.spec import LimitsSpec


@dataclass(frozen=True, kw_only=True)
class ToolLimits:
    """Bounds for the built-in tools.

    Attributes:
        bash_timeout: Seconds a `bash` call may run when the model gives no `timeout`.
        bash_max_timeout: Upper bound on a `timeout` the model asks for, in seconds.
        max_output_chars: Most characters one tool result shows the model; longer output is cut with a note.
        max_file_bytes: Largest file `read`, `edit` and grep's fallback engine will load.
        max_retries: Per-tool retry budget for malformed arguments (`ModelRetry`, schema validation); resets on a
            successful call. Well-formed calls that fail (`ToolFailed`) do not spend it.
    """

    bash_timeout: float = 120.0
    bash_max_timeout: float = 600.0
    max_output_chars: int = 30_000
    max_file_bytes: int = 5 * 1024 * 1024
    max_retries: int = 3

    def __post_init__(self) -> None:
        if self.bash_timeout <= 0 or self.bash_max_timeout < self.bash_timeout:
            raise ValueError("need 0 < bash_timeout <= bash_max_timeout")
        if self.max_output_chars < 200 or self.max_file_bytes < 1 or self.max_retries < 0:
            raise ValueError("max_output_chars >= 200, max_file_bytes >= 1 and max_retries >= 0 are required")

    @classmethod
    def from_spec(cls, spec: LimitsSpec) -> ToolLimits:
        """The tool bounds a job's limits imply (`tool_timeout`, `tool_output_chars`); the rest keep defaults."""
        return cls(
            bash_timeout=spec.tool_timeout,
            bash_max_timeout=max(spec.tool_timeout, cls.bash_max_timeout),
            max_output_chars=spec.tool_output_chars,
        )
