"""Bad sandbox images and a bad `tau serve --presets-dir` through the real CLI (issue #13): one line, no traceback.

- `sandbox.image` that is not an image reference at all (upper case, `a b`, `:::`) is an operator mistake in a file:
  exit 2, the line names the file and the field (docs/decisions.md, "Bad input": the grammar is checked when the
  job is loaded, before any daemon is asked);
- a well-formed reference the Docker daemon refuses (a digest of the wrong length, an unknown digest algorithm, an
  IPv6 registry it cannot parse) or an image that is not there: preflight, exit 3, the daemon's own reason on one
  line — never the SDK's dump, never a pull (these tests run offline);
- `tau serve --presets-dir` naming nothing, or a file: exit 2, one line, before anything listens.
"""

from __future__ import annotations

import os

import pytest
from tau_e2e import Sandbox, TauResult, run_tau

JOB = "---\nmodel: test:m\nsandbox:\n  image: {image}\n---\nSay hello.\n"


def run_with_image(sandbox: Sandbox, image: str) -> TauResult:
    sandbox.write("job.md", JOB.format(image=f'"{image}"'))
    return run_tau("run", "job.md", "--sandbox", "docker", "--trust-workspace", "-o", "stream-json", sandbox=sandbox)


def one_line(result: TauResult) -> str:
    assert result.stdout == "", result  # no event: nothing started
    (line,) = result.stderr_lines
    assert line.startswith("tau: ") and "Traceback" not in result.stderr, result
    return line


@pytest.mark.parametrize("image", ["Tau/Sandbox:latest", "UPPER", "a b", ":::", "alpine:", "x" * 256])
def test_an_image_that_is_no_reference_is_a_config_error(sandbox: Sandbox, image: str) -> None:
    result = run_with_image(sandbox, image)
    assert result.returncode == 2, result
    line = one_line(result)
    assert line.startswith("tau: job.md: sandbox.image: invalid image reference "), line
    assert line.endswith(": expected [registry/]name[:tag][@digest]"), line


@pytest.fixture(scope="module")
def docker_daemon() -> None:
    """A Docker daemon that answers; without one: skip with the reason, or fail when CI=true."""
    from tau.environment.docker_engine import DockerEngine

    if not DockerEngine().ping():
        reason = "no Docker daemon answers (run scripts/install-docker.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)


REFUSED = {
    "alpine@sha256:" + "0" * 32: "invalid checksum digest length",
    "alpine@md5:" + "a" * 32: "unsupported digest algorithm",
    "[::1]:5000/tau-e2e:1": "invalid reference format",
}


@pytest.mark.docker
@pytest.mark.parametrize("image", sorted(REFUSED))
def test_an_image_the_daemon_refuses_is_a_preflight_failure(sandbox: Sandbox, docker_daemon: None, image: str) -> None:
    result = run_with_image(sandbox, image)
    assert result.returncode == 3, result
    line = one_line(result)
    assert line.startswith(f"tau: docker sandbox: image {image}: the Docker daemon answered HTTP 400: "), line
    assert line.endswith(REFUSED[image]), line


@pytest.mark.docker
@pytest.mark.parametrize("image", ["tau-e2e-no-such-image:1", "localhost:1/tau-e2e/nothing:1"])
def test_a_missing_image_is_a_preflight_failure(sandbox: Sandbox, docker_daemon: None, image: str) -> None:
    result = run_with_image(sandbox, image)
    assert result.returncode == 3, result
    assert one_line(result) == f"tau: docker sandbox: image {image} is not present (build or load it first)"


def test_serve_presets_dir_missing_or_a_file(sandbox: Sandbox) -> None:
    sandbox.write("presets.toml", "")
    missing = sandbox.root / "no-such-presets"
    for given, problem in (
        (str(missing), f"{missing} does not exist"),
        ("presets.toml", "presets.toml is not a directory"),
    ):
        result = run_tau("serve", "--port", "0", "--presets-dir", given, sandbox=sandbox, timeout=30)
        assert result.returncode == 2, result
        assert (result.stdout, result.stderr_lines) == ("", [f"tau: --presets-dir: {problem}"]), result
