"""The error tree and the exit codes a script can trust.

    TauError
    ├── ConfigError            exit 2   operator mistake: bad job file, config, flag, variable, credentials
    ├── PreflightError         exit 3   a required resource is missing before any model call
    └── RunError               typed terminal reasons of a run that started
        ├── ProviderError      exit 1   the model provider failed: after retries (429/5xx/timeouts/broken or
        │                               malformed responses; `retryable`), or at once (400/401/403/404/422: not)
        ├── ModelBehaviorError exit 1   the model kept producing unusable output
        ├── ReplayDivergence   exit 1   a replayed run asked for something the cassette does not hold
        ├── InternalError      exit 1   a bug in tau or an unforeseen library error (still a terminal event)
        ├── PromptBlocked      exit 1   a UserPromptSubmit hook refused the prompt
        ├── HookStopped        exit 1   a hook answered `continue: false`
        ├── BudgetExceeded     exit 5   tokens, USD, tool calls, consecutive failures
        ├── OutputTruncated    exit 5   the answer was cut off at the model's output token limit
        ├── TurnLimitReached   exit 53
        ├── RunTimeout         exit 124 wall clock or idle
        └── Interrupted        exit 130 (SIGINT) / 143 (SIGTERM)

Errors the model can fix (a bad path, an ambiguous edit, a denied permission) are never exceptions here: tools return
them to the model as tool results. Messages are one line; the CLI prints `tau: <message>` and exits with `exit_code`.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes (DESIGN.md §4). Stable contract."""

    COMPLETED = 0
    FAILED = 1
    USAGE = 2
    PREFLIGHT = 3
    NEEDS_INPUT = 4
    BUDGET = 5
    TURN_LIMIT = 53
    TIMEOUT = 124
    SIGINT = 130
    SIGTERM = 143


class TauError(Exception):
    """Base of every error tau reports to an operator. `str(err)` is one line."""

    exit_code: ExitCode = ExitCode.FAILED
    reason: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))  # one line, always

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(TauError):
    """Invalid input from the operator. Message names the source (file or flag), the field, and the problem."""

    exit_code = ExitCode.USAGE
    reason = "config_error"

    def __init__(self, problem: str, *, source: str | None = None, field: str | None = None) -> None:
        where = ": ".join(part for part in (source, field) if part)
        super().__init__(f"{where}: {problem}" if where else problem)
        self.source = source
        self.field = field
        self.problem = problem


class PreflightError(TauError):
    exit_code = ExitCode.PREFLIGHT
    reason = "preflight_failed"


class RunError(TauError):
    """A run that started and ended without completing. `reason` is the terminal reason in events."""

    exit_code = ExitCode.FAILED
    reason = "error"
    retryable = False


class ProviderError(RunError):
    """`retryable`: whether running the same job again later may succeed (a rate limit, an outage, a broken or
    malformed response); False when the request itself was refused (bad credentials, unknown model, bad request)."""

    reason = "provider_error"

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class ModelBehaviorError(RunError):
    reason = "model_error"


class ReplayDivergence(RunError):
    reason = "replay_diverged"


class InternalError(RunError):
    reason = "internal_error"


class PromptBlocked(RunError):
    reason = "prompt_blocked"


class HookStopped(RunError):
    reason = "hook_stopped"


class BudgetExceeded(RunError):
    exit_code = ExitCode.BUDGET

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class OutputTruncated(RunError):
    """The model's answer ended with `finish_reason: length`: it was cut off at its output token limit (the
    `max_tokens` model setting or the provider's default). The cut answer is still the run's result."""

    exit_code = ExitCode.BUDGET
    reason = "output_truncated"


class TurnLimitReached(RunError):
    exit_code = ExitCode.TURN_LIMIT
    reason = "max_turns"


class RunTimeout(RunError):
    exit_code = ExitCode.TIMEOUT

    def __init__(self, message: str, *, reason: str = "timeout") -> None:
        super().__init__(message)
        self.reason = reason


class Interrupted(RunError):
    def __init__(self, message: str, *, signal_name: str = "SIGINT") -> None:
        super().__init__(message)
        self.exit_code = ExitCode.SIGTERM if signal_name == "SIGTERM" else ExitCode.SIGINT
        self.reason = "terminated" if signal_name == "SIGTERM" else "interrupted"
