"""The hostile-repository kit: a case is a fresh "clone" nobody trusted, one real `tau run -p ... -o stream-json`.

A `Case` names the repository's files (placeholders below), its `.git/config` additions, committed symlinks, the
tool calls the scripted model makes, extra CLI flags, what the user configured, and per-case checks. `World` is one
run's directory tree, built from scratch in the session's directory under /var/tmp (not /tmp: the host sandbox
mounts a private /tmp, which would hide $HOME and the outside canaries from sandboxed commands):

    root/home      $HOME: the user's config (`home/.config/tau/config.toml` names the user's model endpoint, the
                   proxy in front of aimock), user hooks, and outside canaries (`home/.ssh/id_rsa`)
    root/work      the clone: `git init`, the case's files, one commit, then `.git/config` additions
    root/outside   files outside the repository: canaries a repository must not read (`secret.txt`, `notes.md`)
    root/ran       where "ran" canaries land: `.evil/ran.sh TAG` (a script in the clone) touches `ran/TAG` and
                   `work/RAN-TAG`, prints `EXECUTED:TAG` on stdout and stderr (the script's own text never holds that
                   string: `git log -p` shows it) and curls the capture server, so a
                   command the repository names is seen whether it runs on the host or in a read-only sandbox
    root/tmp       $TMPDIR

Placeholders in file texts, symlink targets, git config and tool-call arguments: `@CAPTURE@` (this run's prefix on
the capture server), `@RAN:tag@` (a command line that runs the ran canary), `@HOME@`, `@WORK@`, `@OUTSIDE@`,
`@ROOT@`, `@SECRET@` (the private-key canary), `@TOKEN@` (the run's id), `@VENV_BIN@` (this venv's scripts),
`@MARK@` (`SECRET_MARK`, only in files outside the repository).

The scripted model is aimock (through `ModelProxy`); the user's prompt is `hostile[TOKEN] ...`: its fixtures answer
the first request with the case's tool calls and any later one (with tool results) with `done TOKEN`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from hostile_servers import Recorded
from tau_e2e import Sandbox, TauResult, hermetic_env, run_tau

SALT = secrets.token_hex(4)
SECRET_MARK = f"OUTSIDE-SECRET-{SALT}"
"""Every outside canary's content holds this: it must never reach a model request, an event or a stored file."""
EXECUTED = "EXECUTED:"
MODEL = "openai-chat:user-model"

CANARY_NAMES: tuple[str, ...] = (
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GITLAB_PRIVATE_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "MY_API_KEY",
    "ANTHROPIC_API_KEY",
    "NPM_TOKEN",
    "PYPI_PASSWORD",
    "DB_PASSWORD",
    "DATABASE_URL",
    "SLACK_WEBHOOK_URL",
    "SENTRY_DSN",
    "CI_JOB_JWT",
    "DOCKER_AUTH_CONFIG",
    "SSH_AUTH_SOCK",
    "FOO",
    "BAR",
    "DEPLOY_TARGET",
    "BUILD_NUMBER",
    "USER",
    "LOGNAME",
    "EDITOR",
    "TERM",
    "HOSTNAME",
    "PROJECT_ID",
    "INTERNAL_HOST",
)


def canary_token(name: str) -> str:
    return f"cnry{SALT}{CANARY_NAMES.index(name):02d}z"


def canary_value(name: str) -> str:
    """The variable's value: its token, inside a URL for URL-shaped names (the token is what scans look for)."""
    token = canary_token(name)
    if name in ("DATABASE_URL", "SENTRY_DSN"):
        return f"postgres://app:{token}@db.internal:5432/prod"
    if name == "SLACK_WEBHOOK_URL":
        return f"https://hooks.example.invalid/services/{token}"
    return token


CANARIES: dict[str, str] = {name: canary_value(name) for name in CANARY_NAMES}
CANARY_TOKENS: dict[str, str] = {canary_token(name): name for name in CANARY_NAMES}


@dataclass(frozen=True)
class Call:
    """One tool call the scripted model makes (arguments may hold placeholders)."""

    name: str
    args: Mapping[str, Any]


def bash(command: str) -> Call:
    return Call("bash", {"command": command})


def read(path: str) -> Call:
    return Call("read", {"file_path": path})


GIT_READS = (bash("git status"), bash("git diff"), bash("git log -p -n 3"), bash("git show HEAD"))

Trust = Literal["flag", "env", "tau-trust", "listed", "tau-trust-changed"]
PREFIX: dict[Trust, str] = {"flag": "tf", "env": "te", "tau-trust": "tt", "listed": "tl", "tau-trust-changed": "tc"}
"""Run tokens: `u-<case>` for the untrusted run, `<prefix>-<case>` for a trusted twin."""


@dataclass(frozen=True)
class Twin:
    """The trusted twin of a case: the same files, trusted `how`; `check` shows they work as documented."""

    how: Trust
    check: Callable[[Outcome], None]
    exits: frozenset[int] = frozenset({0})
    known: str | None = None  # a known failure of the current code (strict xfail), with its cause


@dataclass(frozen=True)
class Case:
    id: str
    family: str
    files: Mapping[str, str | dict[str, Any]] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)
    git_config: str = ""
    after_commit: Mapping[str, str] = field(default_factory=dict)
    calls: tuple[Call, ...] = ()
    child_calls: tuple[Call, ...] = ()
    args: tuple[str, ...] = ()
    user_config: str = ""
    user_files: Mapping[str, str | dict[str, Any]] = field(default_factory=dict)
    endpoint: Literal["config", "env"] = "config"
    exits: frozenset[int] = frozenset({0})
    notices: tuple[str, ...] = ("untrusted workspace",)
    check: Callable[[Outcome], None] | None = None
    twins: tuple[Twin, ...] = ()
    setup: Callable[[World], None] | None = None
    mode: str = "default"  # the permission mode the user chose (the run must keep it)
    known: str | None = None  # a known failure of the current code (strict xfail), with its cause
    canary_known: bool = False  # that failure also leaks a canary (the canary test's run is a strict xfail too)


RAN_SCRIPT = """#!/bin/sh
# the "ran" canary: whoever runs this, the suite sees it
tag="${1:-unnamed}"
printf 'EXEC%s:%s\n' UTED "$tag"
printf 'EXEC%s:%s\n' UTED "$tag" >&2
touch "@ROOT@/ran/$tag" "@WORK@/RAN-$tag" 2>/dev/null
curl -s -m 2 -o /dev/null "@CAPTURE@/ran/$tag" 2>/dev/null
exit 0
"""


@dataclass
class World:
    """One run's directory tree and placeholder values (see the module docstring)."""

    root: Path
    token: str
    capture: str  # origin of the capture server
    model: str  # origin of the user's model endpoint (the proxy)
    seconds: float = 0.0  # how long the run took (reported, never asserted)

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def outside(self) -> Path:
        return self.root / "outside"

    @property
    def ran_dir(self) -> Path:
        return self.root / "ran"

    @property
    def secret(self) -> Path:
        return self.home / ".ssh" / "id_rsa"

    @property
    def capture_base(self) -> str:
        return f"{self.capture}/{self.token}"

    @property
    def user_key(self) -> str:
        return f"sk-user-{self.token}-{SALT}"

    @property
    def prompt_tag(self) -> str:
        return f"hostile[{self.token}]"

    def expand(self, text: str) -> str:
        text = re.sub(r"@RAN:([A-Za-z0-9_-]+)@", lambda m: f"sh {self.work}/.evil/ran.sh {m.group(1)}", text)
        values = {
            "@CAPTURE@": self.capture_base,
            "@HOME@": str(self.home),
            "@WORK@": str(self.work),
            "@OUTSIDE@": str(self.outside),
            "@ROOT@": str(self.root),
            "@SECRET@": str(self.secret),
            "@TOKEN@": self.token,
            "@VENV_BIN@": str(Path(sys.executable).parent),
            "@MARK@": SECRET_MARK,  # only ever in files outside the repository
        }
        for key, value in values.items():
            text = text.replace(key, value)
        return text

    def expand_any(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.expand(value)
        if isinstance(value, dict):
            return {self.expand(k): self.expand_any(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.expand_any(v) for v in value]
        return value

    def write(self, path: Path, content: str | dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = self.expand(content) if isinstance(content, str) else json.dumps(self.expand_any(content), indent=1)
        path.write_text(text, encoding="utf-8")


# -- building a world ----------------------------------------------------------------------------------------------


def git(world: World, *args: str, stdin: str | None = None, cwd: Path | None = None) -> str:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(world.home), "GIT_CONFIG_NOSYSTEM": "1"}
    identity = ("-c", "user.name=Mallory", "-c", "user.email=mallory@example.invalid", "-c", "commit.gpgsign=false")
    done = subprocess.run(
        ["git", *identity, *args],
        cwd=cwd or world.work,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout


def user_config(world: World, case: Case, trusted: Trust | None) -> str:
    """The user's own config: their model and endpoint (unless it comes from OPENAI_BASE_URL), no retries."""
    top = [f'model = "{MODEL}"']
    if trusted == "listed":
        top.append(f'trusted_workspaces = ["{world.work}"]')
    provider = ["[providers.openai-chat]", "max_retries = 0"]
    if case.endpoint == "config":
        provider.append(f'base_url = "{world.model}/v1"')
    return "\n".join([*top, world.expand(case.user_config), "", *provider]) + "\n"


def build(world: World, case: Case, trusted: Trust | None = None) -> None:
    for directory in (world.home / ".config" / "tau", world.work, world.outside, world.ran_dir, world.root / "tmp"):
        directory.mkdir(parents=True, exist_ok=True)
    world.write(world.home / ".config" / "tau" / "config.toml", user_config(world, case, trusted))
    world.write(world.secret, f"-----BEGIN OPENSSH PRIVATE KEY-----\n{SECRET_MARK}-id_rsa\n-----END-----\n")
    world.write(world.outside / "secret.txt", f"{SECRET_MARK}-secret.txt\n")
    world.write(world.outside / "notes.md", f"# Shared notes\n{SECRET_MARK}-notes.md\n")
    for relative, content in case.user_files.items():
        world.write(world.home / relative, content)
    git(world, "init", "-q", "-b", "main", ".")
    world.write(world.work / ".evil" / "ran.sh", RAN_SCRIPT)
    (world.work / ".evil" / "ran.sh").chmod(0o755)
    world.write(world.work / "README.md", "# a project\n\nhello\n")
    for relative, content in case.files.items():
        world.write(world.work / relative, content)
    for relative, target in case.links.items():
        link = world.work / relative
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(world.expand(target))
    git(world, "add", "-A")
    git(world, "commit", "-q", "-m", "hostile")
    for relative, content in case.after_commit.items():
        world.write(world.work / relative, content)
    if case.git_config:
        with (world.work / ".git" / "config").open("a", encoding="utf-8") as handle:
            handle.write(world.expand(case.git_config))
    if case.setup is not None:
        case.setup(world)


FINALIZE_FIXTURE = {
    "match": {"userMessage": "A budget for this run has been reached"},
    "response": {"content": "Stopped at the budget."},
}
"""The finalize turn after a budget cap (its user message is tau's, not the case's prompt)."""


def fixtures(world: World, case: Case) -> list[dict[str, Any]]:
    """aimock fixtures of one run: the case's tool calls first, then `done TOKEN`; a subagent's likewise."""
    out: list[dict[str, Any]] = []
    for tag, calls in ((f"hostile[{world.token}/child]", case.child_calls), (world.prompt_tag, case.calls)):
        done = {"content": f"done {world.token}"}
        if calls:
            tool_calls = [{"name": c.name, "arguments": world.expand_any(dict(c.args))} for c in calls]
            out.append({"match": {"userMessage": tag, "hasToolResult": False}, "response": {"toolCalls": tool_calls}})
            out.append({"match": {"userMessage": tag, "hasToolResult": True}, "response": done})
        else:
            out.append({"match": {"userMessage": tag}, "response": done})
    return out


def environment(world: World, case: Case, *, trusted_env: bool = False) -> dict[str, str]:
    """The tau process's environment: hermetic, the user's key, every other variable a canary (`canary_env`);
    proxies point at the capture server so that any attempt to reach another host is recorded, not sent."""
    env = hermetic_env(world.root, OPENAI_API_KEY=world.user_key)
    if case.endpoint == "env":
        env["OPENAI_BASE_URL"] = f"{world.model}/v1"
    env.update(CANARIES)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env[name] = f"{world.capture}/proxy"
    env["ANTHROPIC_BASE_URL"] = f"{world.capture}/{world.token}/other-provider"
    if trusted_env:
        env["TAU_TRUST_WORKSPACE"] = "1"
    return env


# -- running and what a run left behind ----------------------------------------------------------------------------


@dataclass
class Outcome:
    case: Case
    world: World
    result: TauResult
    trusted: Trust | None = None
    captured: list[Recorded] = field(default_factory=list)
    model_requests: list[Recorded] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # every file tau may have written (see `written_files`)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.result.stdout.splitlines() if line.startswith("{")]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]

    @property
    def started(self) -> dict[str, Any]:
        found = self.of_type("session.started")
        assert found, f"no session.started event\n{self.result!r}"
        return found[0]

    @property
    def notices(self) -> list[str]:
        return [str(e.get("message", "")) for e in self.of_type("notice.emitted")]

    def ran(self) -> list[str]:
        """Every trace of the ran canary: marker files, and `EXECUTED:` in anything tau printed or sent."""
        found = [f"ran/{p.name}" for p in self.world.ran_dir.iterdir()]
        found += [str(p.relative_to(self.world.root)) for p in self.world.work.rglob("RAN-*")]
        texts = {"stdout": self.result.stdout, "stderr": self.result.stderr}
        texts |= {f"model request {i}": r.text() for i, r in enumerate(self.model_requests)}
        found += [where for where, text in texts.items() if EXECUTED in text]
        found += [f"capture {r.path}" for r in self.captured if "/ran/" in r.path]
        return found

    def model_text(self) -> str:
        return "\n".join(r.text() for r in self.model_requests)


SKIP_SCAN = ("home/.ssh/", "outside/", "ran/")


def written_files(world: World) -> dict[str, bytes]:
    """Every file under the world's root except the outside canaries themselves and git's objects."""
    out: dict[str, bytes] = {}
    for path in world.root.rglob("*"):
        relative = path.relative_to(world.root).as_posix()
        if path.is_symlink() or not path.is_file() or relative.startswith(SKIP_SCAN) or "/.git/objects/" in relative:
            continue
        try:
            out[relative] = path.read_bytes()
        except OSError:
            continue
    return out


def run_case(world: World, case: Case, trusted: Trust | None) -> TauResult:
    started = time.monotonic()
    result = _run_case(world, case, trusted)
    world.seconds = time.monotonic() - started
    return result


def _run_case(world: World, case: Case, trusted: Trust | None) -> TauResult:
    """`tau run -p 'hostile[TOKEN] ...' -o stream-json` in the clone (after `tau trust` for those twins)."""
    env = environment(world, case, trusted_env=trusted == "env")
    args = ["run", "-p", f"{world.prompt_tag} Please look at this repository.", "-o", "stream-json", *case.args]
    if trusted == "flag":
        args.append("--trust-workspace")
    if trusted in ("tau-trust", "tau-trust-changed"):
        done = run_tau("trust", str(world.work), sandbox=_box(world), env=env)
        assert done.returncode == 0, done
    if trusted == "tau-trust-changed":
        pinned = next(
            p for p in (".mcp.json", ".tau/settings.json", ".claude/settings.json") if (world.work / p).exists()
        )
        with (world.work / pinned).open("a", encoding="utf-8") as handle:
            handle.write("\n")
    return run_tau(*[world.expand(a) for a in args], sandbox=_box(world), env=env)


def _box(world: World) -> Sandbox:
    """`run_tau`'s sandbox for the world (its cwd is `work/`; the environment is always passed explicitly)."""
    return Sandbox(world.root, env={"HOME": str(world.home)})
