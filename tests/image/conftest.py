"""Fixtures for the tau image smoke test: the top-level Containerfile + the frozen binary, brought up as a service by
pytest-docker with compose v1 (STACK.md: `docker-compose` 1.29, `up --build -d`; v1 answers `up --wait` with usage
text and exit 0).

The binary is `$TAU_BINARY`. Unset, the tests skip (the main pytest run, before the binary is built), or fail under
`CI=true` with `TAU_IMAGE_REQUIRED=1`. Given a binary, a missing daemon, docker-compose or pytest-docker skips them
with the reason, or fails them under `CI=true` (CI cannot pass by not building). The build context is a temporary
directory holding only `tau` and the Containerfile (dist/ also holds the one-directory build). The image is tagged
`tau:<hash>` (sha256 of the binary, the Containerfile and the base); the base is `$TAU_IMAGE_BASE`, else
`local/base:bookworm` when it exists (offline, STACK.md), else `debian:bookworm-slim`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CONTAINERFILE = ROOT / "Containerfile"
LOCAL_BASE = "local/base:bookworm"
TOKEN = "image-smoke-token"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def _binary() -> Path:
    """`$TAU_BINARY` (as for tests/frozen). Unset: skip, or fail under `CI=true` with `TAU_IMAGE_REQUIRED=1`."""
    given = os.environ.get("TAU_BINARY", "")
    if not given:
        reason = "TAU_BINARY is not set (scripts/build-binary, then TAU_BINARY=dist/tau)"
        if os.environ.get("CI", "").lower() == "true" and os.environ.get("TAU_IMAGE_REQUIRED") == "1":
            pytest.fail(f"the tau image test is required in CI (TAU_IMAGE_REQUIRED=1): {reason}")
        pytest.skip(reason)
    binary = Path(given)
    if not binary.is_file():
        _unavailable(f"no frozen binary at {binary} (scripts/build-binary)")
    with binary.open("rb") as handle:
        if handle.read(4) != b"\x7fELF":
            _unavailable(f"TAU_BINARY={binary} is not a frozen binary")
    return binary.resolve()


def _docker_ok() -> None:
    if shutil.which("docker") is None:
        _unavailable("docker CLI not installed (scripts/install-docker.sh)")
    if subprocess.run(["docker", "version"], capture_output=True, timeout=30, check=False).returncode != 0:
        _unavailable("no Docker daemon answers (scripts/install-docker.sh)")
    if shutil.which("docker-compose") is None:
        _unavailable("docker-compose (v1) is not installed: apt-get install docker-compose")
    try:
        import pytest_docker  # noqa: F401
    except ImportError:
        _unavailable("pytest-docker is not installed (dev dependency pytest-docker==3.2.6)")


def _base() -> str:
    if os.environ.get("TAU_IMAGE_BASE"):
        return os.environ["TAU_IMAGE_BASE"]
    found = subprocess.run(["docker", "image", "inspect", LOCAL_BASE], capture_output=True, timeout=30, check=False)
    return LOCAL_BASE if found.returncode == 0 else "debian:bookworm-slim"


def image_tag(binary: Path, base: str) -> str:
    digest = hashlib.sha256(f"base={base}\n".encode())
    digest.update(CONTAINERFILE.read_bytes())
    with binary.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"tau:{digest.hexdigest()[:16]}"


@pytest.fixture(scope="session")
def tau_image_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The variables tests/image/docker-compose.yml reads (set in os.environ while the session runs)."""
    binary = _binary()
    _docker_ok()
    context = tmp_path_factory.mktemp("tau-image-context")
    shutil.copy2(binary, context / "tau")
    shutil.copy2(CONTAINERFILE, context / "Containerfile")
    token_file = tmp_path_factory.mktemp("tau-image-token") / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o644)  # read by the container's non-root user through the bind mount
    base = _base()
    values = {
        "TAU_IMAGE_CONTEXT": str(context),
        "TAU_IMAGE_TAG": image_tag(binary, base),
        "TAU_IMAGE_BASE": base,
        "TAU_IMAGE_TOKEN_FILE": str(token_file),
    }
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    yield values
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


# pytest-docker overrides for compose v1 (STACK.md).
@pytest.fixture(scope="session")
def docker_compose_command() -> str:
    return "docker-compose"


@pytest.fixture(scope="session")
def docker_setup() -> list[str]:
    return ["up --build -d"]


@pytest.fixture(scope="session")
def docker_cleanup() -> list[str]:
    return ["down -v --timeout 20"]


@pytest.fixture(scope="session")
def docker_compose_file(tau_image_env: dict[str, str]) -> str:
    return str(HERE / "docker-compose.yml")


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return f"tauimage{os.getpid()}"
