"""A run's side of the warm server's sandbox container pool: lease a running managed container from `tau serve
--local`'s parent instead of creating one, and give it back when the run lets go.

Only a run forked by `tau serve --local` has a pool: the server hands the child one end of its control socket
(`attach`, the same socket `tau.mcp.pooled` leases MCP servers through). Everywhere else (`tau run` without a server,
`tau serve`'s RPC runs, the temporal worker) `lease` is never asked and the backend makes its own container, as
before. `TAU_SANDBOX_POOL=0` (or false/no/off) in the run's environment keeps that run out of the pool; a kept
container (`sandbox.keep`) and an attached one (`sandbox.container`) are never pooled.

The definition is everything the container is made from (`definition`): image, the spec's limits and hardening,
the host workspace, the user, and the `Layout` (the workspace's mode and every read-only bind and mask). Two runs
share a container only when they would have made the very same one, so a pooled container has exactly the security
properties of the one the run would have created; only its labels differ (owner: the server; no session).

Contract with the server (`tau.environment.docker_warm_pool`, wired by `tau.cli.warm_pools`): JSON lines on the
control socket. `{"sandbox_lease": DEFINITION}` is answered by `{"lease": N, "container": ID}` (possibly after the
pool made or reset one: the run waits for it, at most `_ANSWER_S`) or by `{"refused": why}`, and then the run makes
its own container. `{"sandbox_release": N, "clean": bool}` gives it back; the server inspects and resets it before
anyone else gets it (or removes it), and removes a container whose run ended without giving it back. Requests are
made one at a time under a lock and before the run starts its MCP servers, so answers on the shared socket never
cross.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tau.environment.docker_layout import Bind, Layout
from tau.environment.sandbox_spec import SandboxSpec

__all__ = ["Lease", "attach", "available", "definition", "lease", "parse", "pooling_off"]

_CONTROL: list[socket.socket] = []  # the warm server child's control socket, when there is one
_LOCK = threading.Lock()
_ANSWER_S = 300.0  # the pool answers when its container is made or reset (bounded by the docker client's timeouts)
_OFF = {"0", "false", "no", "off"}


def attach(control: socket.socket | None) -> None:
    """Set (in a warm server's child) or clear the control socket leases go through."""
    _CONTROL[:] = [control] if control is not None else []


def pooling_off(env: Mapping[str, str]) -> bool:
    return env.get("TAU_SANDBOX_POOL", "").strip().lower() in _OFF


def available(env: Mapping[str, str]) -> bool:
    """Whether a run with environment `env` may lease (it was forked by a warm server with the pool on)."""
    return bool(_CONTROL) and not pooling_off(env)


def definition(*, image: str, spec: SandboxSpec, host_root: str, user: str, layout: Layout) -> dict[str, Any]:
    """What the container is made from, as the pool's key (see the module docstring)."""
    return {
        "image": image,
        "host_root": host_root,
        "user": user,
        "spec": {
            "network": spec.network,
            "memory": spec.memory,
            "cpus": spec.cpus,
            "pids_limit": spec.pids_limit,
            "tmp_size": spec.tmp_size,
            "read_only": spec.read_only,
            "workdir": spec.workdir,
            "env": dict(spec.env),
        },
        "layout": {"read_only": layout.workspace_read_only, "binds": [[b.source, b.target] for b in layout.binds]},
    }


def parse(data: Any) -> tuple[str, SandboxSpec, str, str, Layout] | None:
    """(image, spec, host root, user, layout) from a definition a run sent, or None when it is malformed."""
    try:
        spec_data, layout_data = data["spec"], data["layout"]
        image, host_root, user = data["image"], data["host_root"], data["user"]
        if not all(isinstance(value, str) and value for value in (image, host_root, user)):
            return None
        env = spec_data["env"]
        if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            return None
        spec = SandboxSpec(
            image=image,
            network=str(spec_data["network"]),
            memory=int(spec_data["memory"]),
            cpus=float(spec_data["cpus"]),
            pids_limit=int(spec_data["pids_limit"]),
            tmp_size=int(spec_data["tmp_size"]),
            read_only=spec_data["read_only"] is True,
            workdir=str(spec_data["workdir"]),
            env=env,
        )
        binds = tuple(Bind(str(source), str(target)) for source, target in layout_data["binds"])
        layout = Layout(workspace_read_only=layout_data["read_only"] is True, binds=binds)
    except (KeyError, TypeError, ValueError):
        return None
    return image, spec, host_root, user, layout


@dataclass
class Lease:
    """One pooled container held by this run."""

    number: int
    container: str
    released: bool = False

    def give_back(self, *, clean: bool) -> bool:
        """Send it back to the server (once); True."""
        if self.released:
            return True
        self.released = True
        message = json.dumps({"sandbox_release": self.number, "clean": clean}).encode() + b"\n"
        with _LOCK:
            for control in _CONTROL:
                with contextlib.suppress(OSError):
                    control.sendall(message)
        return True


def lease(wanted: dict[str, Any]) -> Lease | None:
    """A running pooled container made from `wanted` (`definition`), or None (no pool here, or refused)."""
    if not _CONTROL:
        return None
    control = _CONTROL[0]
    with _LOCK:
        try:
            control.sendall(json.dumps({"sandbox_lease": wanted}).encode() + b"\n")
            control.settimeout(_ANSWER_S)
            data = b""
            while not data.endswith(b"\n"):
                chunk = control.recv(1)  # one byte at a time: never read past this answer on the shared socket
                if not chunk:
                    return None
                data += chunk
        except OSError:
            return None
        finally:
            with contextlib.suppress(OSError):
                control.settimeout(None)
    try:
        answer = json.loads(data)
    except ValueError:
        return None
    if not isinstance(answer, dict) or not isinstance(answer.get("lease"), int):
        return None
    container = answer.get("container")
    return Lease(answer["lease"], container) if isinstance(container, str) and container else None
