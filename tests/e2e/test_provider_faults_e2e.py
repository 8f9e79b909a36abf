"""Provider faults through the real `tau run` against the local fault server of tests/providers (issue #13).

- 401: exit 1, terminal reason `provider_error`, `"retryable": false` (in `-o json` and the stream's terminal event),
  sent once; `-o text -q` is one line on stderr in tau's form; the API key — of OPENAI_API_KEY or of a variable
  named by `api_key_env`, even when the provider's error message quotes it — is printed nowhere;
- 503 every time: retried (one `retry.scheduled` event per retry, `max_retries` + 1 requests), then exit 1 with
  `"retryable": true`; 503 then an answer: retried and completed;
- `finish_reason: length`: a warning notice, exit 5, `output_truncated`, the cut text as the result; `-o text`
  prints that text as its one stdout line.

Retries are immediate: the fault server sends `Retry-After: 0`, which tau's backoff honours.
"""

from __future__ import annotations

from typing import Any

import pytest
from provider_faults import FaultServer, Status, Text
from tau_e2e import Sandbox, TauResult, assert_stream_contract, run_tau

from tau.protocol import Notice, RetryScheduled, RunCompleted

KEY = "sk-e2e-fault-0123456789abcdefABCDEF"
NOW = {"retry-after": "0"}


def kind(event: type[Any]) -> str:
    value = event.model_fields["type"].default
    assert isinstance(value, str)
    return value


def run(
    sandbox: Sandbox, faults: FaultServer, key: str, *steps: Any, output: str, extra: tuple[str, ...] = ()
) -> TauResult:
    tag = faults.script(key, *steps)
    env = {**sandbox.env, "OPENAI_API_KEY": KEY}
    args = ("run", "-p", f"{tag} answer me", "--model", "openai-chat:m", "--base-url", faults.base_url)
    return run_tau(*args, "-o", output, *extra, sandbox=sandbox, env=env)


def user_config(sandbox: Sandbox, text: str) -> None:
    """The user's own config (a repository's `providers` settings apply only in a trusted workspace)."""
    path = sandbox.home / ".config" / "tau" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def no_key(result: TauResult, key: str = KEY) -> None:
    assert key not in result.stdout and key not in result.stderr, result


def test_401_is_one_attempt_not_retryable_and_never_shows_the_key(sandbox: Sandbox, faults: FaultServer) -> None:
    refusal = Status(401, f"Incorrect API key provided: {KEY}. You can find your API key at https://example.invalid")
    result = run(sandbox, faults, "e2e-401-json", refusal, output="json")
    assert result.returncode == 1, result
    obj = result.json
    assert (obj["status"], obj["terminal_reason"], obj["exit_code"], obj["retryable"]) == (
        "failed",
        "provider_error",
        1,
        False,
    )
    assert obj["error"].startswith("provider error: model 'm': HTTP 401 authentication failed: Incorrect API key"), obj
    assert "\n" not in obj["error"]
    assert result.stderr == ""
    assert faults.attempts("e2e-401-json") == [1]
    no_key(result)

    text = run(sandbox, faults, "e2e-401-text", refusal, output="text", extra=("-q",))
    assert (text.returncode, text.stdout) == (1, ""), text
    (line,) = text.stderr_lines
    assert line.startswith("tau: provider_error: provider error: model 'm': HTTP 401 authentication failed: "), line
    assert faults.attempts("e2e-401-text") == [1]
    no_key(text)


def test_the_key_of_a_variable_named_by_api_key_env_is_masked_too(sandbox: Sandbox, faults: FaultServer) -> None:
    """A variable whose name says nothing about secrets (CORP_LLM) still holds the key: masked all the same."""
    secret = "corp-4f1d9a7c2b8e6d5a3f0e"
    user_config(sandbox, '[providers.openai-chat]\napi_key_env = "CORP_LLM"\n')
    tag = faults.script("e2e-401-corp", Status(401, f"key {secret} was revoked"))
    result = run_tau(
        "run", "-p", f"{tag} hi", "--model", "openai-chat:m", "--base-url", faults.base_url, "-o", "stream-json",
        sandbox=sandbox, env={**sandbox.env, "CORP_LLM": secret},
    )  # fmt: skip
    assert result.returncode == 1, result
    last = result.last()
    assert (last["terminal_reason"], last["retryable"]) == ("provider_error", False)
    assert "was revoked" in last["error"]
    no_key(result, secret)


def test_503_every_time_is_retried_then_retryable(
    sandbox: Sandbox, faults: FaultServer, event_schema: dict[str, Any]
) -> None:
    user_config(sandbox, "[providers.openai-chat]\nmax_retries = 3\n")
    result = run(sandbox, faults, "e2e-503", Status(503, "overloaded", headers=NOW), output="stream-json")
    assert result.returncode == 1, result
    assert_stream_contract(result.lines, event_schema)
    retries = [line for line in result.lines if line["type"] == kind(RetryScheduled)]
    assert [(r["attempt"], r["error"]) for r in retries] == [
        (n, "HTTP 503 unavailable: overloaded") for n in (1, 2, 3)
    ], retries
    assert faults.attempts("e2e-503") == [4]
    last = result.last()
    assert (last["type"], last["status"], last["terminal_reason"], last["exit_code"], last["retryable"]) == (
        kind(RunCompleted),
        "failed",
        "provider_error",
        1,
        True,
    )
    assert last["error"] == "provider error: model 'm': HTTP 503 unavailable: overloaded (gave up after 4 attempts)"
    assert result.stderr == ""
    no_key(result)


def test_503_then_an_answer_completes(sandbox: Sandbox, faults: FaultServer) -> None:
    busy = Status(503, "overloaded", headers=NOW)
    result = run(sandbox, faults, "e2e-503-ok", [busy, busy, Text("made it")], output="json")
    assert result.returncode == 0, result
    obj = result.json
    assert (obj["terminal_reason"], obj["result"], obj["retryable"]) == ("completed", "made it", False)
    assert faults.attempts("e2e-503-ok") == [3]


CUT = "The three causes are: first, the cache; second, the"


@pytest.mark.parametrize("output", ["stream-json", "json", "text"])
def test_a_length_cut_answer_is_a_notice_and_output_truncated(
    sandbox: Sandbox, faults: FaultServer, event_schema: dict[str, Any], output: str
) -> None:
    result = run(sandbox, faults, f"e2e-length-{output}", Text(CUT, finish_reason="length"), output=output)
    assert result.returncode == 5, result
    if output == "text":
        assert result.stdout == CUT + "\n"  # one line: the cut answer
        assert result.stderr_lines[-1].startswith("tau: output_truncated: the answer was cut off"), result
        return
    if output == "json":
        obj = result.json
    else:
        assert_stream_contract(result.lines, event_schema)
        notices = [line for line in result.lines if line["type"] == kind(Notice)]
        assert [(n["level"], n["message"]) for n in notices] == [
            ("warning", "model response 1 was cut off at the output token limit (finish_reason: length)")
        ]
        obj = result.last()
    assert (obj["status"], obj["terminal_reason"], obj["exit_code"], obj["result"], obj["retryable"]) == (
        "failed",
        "output_truncated",
        5,
        CUT,
        False,
    )
    assert result.stderr == ""
