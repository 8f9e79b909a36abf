"""Layer precedence: defaults < user config < project config < frontmatter < TAU_* env < CLI flags.

The project is trusted here (precedence is about trusted layers); what an untrusted project may set is
`test_trust.py`'s subject.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from config_sandbox import Sandbox

from tau.config import JobSpec, load_job

LAYERS = ("user", "project", "frontmatter", "env", "flags")


@pytest.fixture(autouse=True)
def _trusted(sandbox: Sandbox) -> None:
    sandbox.env["TAU_TRUST_WORKSPACE"] = "1"


def _arrange(sandbox: Sandbox, upto: int) -> tuple[dict[str, str], dict[str, object]]:
    """Set max_turns / model / output format in the first `upto` layers; layer i uses max_turns 10*(i+1)."""
    enabled = LAYERS[:upto]
    if "user" in enabled:
        sandbox.user_config('model = "test:user"\noutput = "json"\n[limits]\nmax_turns = 10\n')
    if "project" in enabled:
        sandbox.project_config('model = "test:project"\n[output]\nformat = "stream-json"\n[limits]\nmax_turns = 20\n')
    front = "model: test:frontmatter\noutput: {format: claude-stream-json}\nlimits: {max_turns: 30}\n"
    sandbox.job(f"---\n{front}---\nGo.\n" if "frontmatter" in enabled else "---\n---\nGo.\n")
    env = {"TAU_MODEL": "test:env", "TAU_OUTPUT": "json", "TAU_MAX_TURNS": "40"} if "env" in enabled else {}
    flags: dict[str, object] = {"model": "test:flags", "output": "text", "max_turns": 50} if "flags" in enabled else {}
    return env, flags


@pytest.mark.parametrize("upto", range(len(LAYERS) + 1), ids=["defaults", *LAYERS])
def test_each_layer_overrides_the_ones_below(sandbox: Sandbox, upto: int) -> None:
    env, flags = _arrange(sandbox, upto)
    if upto == 0:
        flags = {"model": "test:only"}  # there is no default model
    spec = sandbox.load(flags=flags, env=env)
    expected_turns = 100 if upto == 0 else 10 * upto
    expected_model = "only" if upto == 0 else LAYERS[upto - 1]
    expected_format = ["text", "json", "stream-json", "claude-stream-json", "json", "text"][upto]
    assert (spec.limits.max_turns, spec.model.name, spec.output.format) == (
        expected_turns,
        expected_model,
        expected_format,
    )


def test_unset_keys_fall_through_to_lower_layers(sandbox: Sandbox) -> None:
    sandbox.user_config('[limits]\nmax_usd = 2.5\ntimeout = "10m"\n')
    sandbox.project_config("[limits]\nmax_turns = 7\n")
    sandbox.job("---\nmodel: test:x\nlimits: {idle_timeout: 90s}\n---\nGo.")
    spec = sandbox.load(env={"TAU_MAX_TOOL_CALLS": "9"}, flags={"max_tokens": 1000})
    assert spec.limits.model_dump() == {
        "max_turns": 7,
        "max_tool_calls": 9,
        "max_consecutive_failures": 8,
        "max_tokens": 1000,
        "max_usd": 2.5,
        "timeout": 600.0,
        "idle_timeout": 90.0,
        "tool_timeout": 120.0,
        "tool_output_chars": 30_000,
        "ask_timeout": None,
    }


def test_permission_rules_are_appended_across_layers_and_scalars_overridden(sandbox: Sandbox) -> None:
    sandbox.user_config('[permissions]\nallow = ["Read"]\ndeny = ["Bash(rm:*)"]\nmode = "plan"\n')
    sandbox.project_config('[permissions]\nallow = ["Bash(git:*)", "Read"]\n')
    sandbox.job("---\nmodel: test:x\npermissions: {ask: [Write], mode: acceptEdits}\n---\nGo.")
    spec = sandbox.load(flags={"allow": ("Edit",), "deny": ["WebFetch"], "ask": (), "permission_mode": None})
    assert spec.permissions.model_dump() == {
        "mode": "acceptEdits",
        "allow": ("Read", "Bash(git:*)", "Edit"),
        "ask": ("Write",),
        "deny": ("Bash(rm:*)", "WebFetch"),
        "on_ask": "deny",
        "additional_directories": (),
    }


def test_permission_mode_and_on_ask_from_env_and_flags(sandbox: Sandbox) -> None:
    sandbox.job("---\nmodel: test:x\npermissions: {mode: plan, on_ask: tty}\n---\nGo.")
    env = {"TAU_PERMISSION_MODE": "bypassPermissions", "TAU_ON_ASK": "suspend"}
    assert sandbox.load(env=env).permissions.mode == "bypassPermissions"
    spec = sandbox.load(env=env, flags={"on_ask": "deny"})
    assert (spec.permissions.mode, spec.permissions.on_ask) == ("bypassPermissions", "deny")


def test_vars_defaults_layer_and_var_flags_win(sandbox: Sandbox) -> None:
    sandbox.user_config('[vars]\nwho = "user"\nlang = "en"\nextra = "x"\n')
    sandbox.job(
        "---\nmodel: test:x\nvars: {who: frontmatter, lang: fr, n: 3, flag: true}\n---\n"
        "{{who}} {{ lang }} {{n}} {{flag}}"
    )
    spec = sandbox.load(flags={"vars": ["lang=de=DE", "new=1"]})
    assert spec.prompt == "frontmatter de=DE 3 true"
    assert spec.vars == {"who": "frontmatter", "lang": "de=DE", "extra": "x", "n": "3", "flag": "true", "new": "1"}


def test_tools_list_is_replaced_not_appended(sandbox: Sandbox) -> None:
    sandbox.user_config('tools = ["read", "grep"]\n')
    sandbox.job("---\nmodel: test:x\ntools: [Bash, read]\n---\nGo.")
    assert sandbox.load().tools == ("bash", "read")
    assert sandbox.load(env={"TAU_TOOLS": "glob, mcp__time__now"}).tools == ("glob", "mcp__time__now")
    assert sandbox.load(flags={"tools": ["edit"]}).tools == ("edit",)


def test_tables_merge_deeply(sandbox: Sandbox) -> None:
    sandbox.user_config('[env]\nA = "1"\nB = "2"\n[model_settings]\ntemperature = 0.1\nmax_tokens = 100\n')
    sandbox.project_config('[env]\nB = "project"\n')
    sandbox.job("---\nmodel: test:x\nmodel_settings: {temperature: 0.7}\n---\nGo.")
    spec = sandbox.load()
    assert spec.env == {"A": "1", "B": "project"}
    assert spec.model.settings == {"temperature": 0.7, "max_tokens": 100}


def test_output_schema_is_replaced_whole_and_null_clears_it(sandbox: Sandbox) -> None:
    sandbox.user_config(
        '[output.schema]\ntype = "object"\nrequired = ["a"]\n[output.schema.properties.a]\ntype = "string"\n'
    )
    sandbox.job("---\nmodel: test:x\noutput: {schema: {type: object, properties: {b: {type: integer}}}}\n---\nGo.")
    spec = sandbox.load()
    assert spec.output.schema_ == {"type": "object", "properties": {"b": {"type": "integer"}}}
    assert spec.output.schema_source == "job.md"
    sandbox.job("---\nmodel: test:x\noutput: {schema: null}\n---\nGo.")
    cleared = sandbox.load()
    assert (cleared.output.schema_, cleared.output.schema_source) == (None, None)


def test_null_removes_a_cap_from_a_lower_layer(sandbox: Sandbox) -> None:
    sandbox.user_config("[limits]\nmax_turns = 5\nmax_usd = 1.0\n")
    sandbox.job("---\nmodel: test:x\nlimits: {max_turns: null}\n---\nGo.")
    assert sandbox.load(env={"TAU_MAX_USD": "none"}).limits.model_dump(include={"max_turns", "max_usd"}) == {
        "max_turns": None,
        "max_usd": None,
    }


def test_empty_tau_variables_count_as_unset(sandbox: Sandbox) -> None:
    sandbox.job("---\nmodel: test:x\nlimits: {max_turns: 3}\n---\nGo.")
    assert sandbox.load(env={"TAU_MAX_TURNS": "", "TAU_MODEL": " "}).limits.max_turns == 3


def test_config_sources_are_recorded(sandbox: Sandbox) -> None:
    user = sandbox.user_config("")
    project = sandbox.project_config("")
    sandbox.job("---\nmodel: test:x\n---\nGo.")
    assert sandbox.load().config_sources == (str(user), str(project))


def test_project_config_is_found_from_a_subdirectory(sandbox: Sandbox) -> None:
    sandbox.project_config("[limits]\nmax_turns = 4\n")
    sub = sandbox.proj / "a" / "b"
    sub.mkdir(parents=True)
    spec = load_job(prompt_text="hi", flags={"model": "test:x"}, env=sandbox.env, cwd=sub)
    assert spec.limits.max_turns == 4
    assert spec.environment.workspace == str(sub)


def test_xdg_config_home_replaces_dot_config(sandbox: Sandbox) -> None:
    sandbox.user_config("[limits]\nmax_turns = 1\n")
    xdg = sandbox.write("xdg/tau/config.toml", "[limits]\nmax_turns = 2\n").parent.parent
    spec = sandbox.load(job_path=None, prompt_text="hi", flags={"model": "test:x"}, env={"XDG_CONFIG_HOME": str(xdg)})
    assert spec.limits.max_turns == 2


def _spec(sandbox: Sandbox, **kwargs: object) -> JobSpec:
    return sandbox.load(job_path=None, prompt_text="hi", flags={"model": "test:x"}, **kwargs)  # type: ignore[arg-type]


def test_no_home_means_no_user_config(sandbox: Sandbox, tmp_path: Path) -> None:
    spec = load_job(prompt_text="hi", flags={"model": "test:x"}, env={}, cwd=sandbox.proj)
    assert spec.config_sources == ()
    assert _spec(sandbox).config_sources == ()
