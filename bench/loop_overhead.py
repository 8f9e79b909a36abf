"""Loop overhead: the same scripted N-step run through tau's runtime and through a bare pydantic-ai Agent.

Each step is one model request that calls the `read` tool on a small file; the last answers with text. Both sides
stream (Agent.iter + node.stream), offer the same built-in tools with the same instructions and run them against the
same host workspace, so the difference is what tau adds around pydantic-ai's loop: the permission capability, the
tool gate, event translation, budgets, step commits and a stream-json renderer writing to /dev/null.
Prints JSON: per-step times and the ratio (budget: tau <= 1.2x bare).  `--quick` runs fewer steps and repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from pydantic_ai import Agent, UsageLimits

from tau.cli.render import StreamJsonRenderer
from tau.config.spec import BUILTIN_TOOLS, EnvironmentSpec, JobSpec, LimitsSpec, ModelSpec, PermissionsSpec
from tau.environment import HostBackend
from tau.runtime import prepare_run
from tau.runtime.agent import BASE_INSTRUCTIONS
from tau.testing import Turn, calls, reply, scripted_model
from tau.tools import ToolLimits, build_toolset


def _script(steps: int) -> list[Turn]:
    return [calls(("read", {"file_path": "data.txt"})) for _ in range(steps - 1)] + [reply("done")]


async def _bare(workspace: str, steps: int) -> float:
    model, _ = scripted_model(_script(steps))
    tools = build_toolset(BUILTIN_TOOLS, limits=ToolLimits())
    agent: Agent[None, str] = Agent(model, instructions=BASE_INSTRUCTIONS.format(workspace=workspace), toolsets=[tools])

    started = time.perf_counter()
    async with agent.iter("go", workspace=HostBackend(workspace), usage_limits=UsageLimits(request_limit=None)) as run:
        async for node in run:
            if Agent.is_model_request_node(node) or Agent.is_call_tools_node(node):
                async with node.stream(run.ctx) as stream:
                    async for _ in stream:
                        pass
    return time.perf_counter() - started


async def _tau(workspace: str, steps: int) -> float:
    model, _ = scripted_model(_script(steps))
    job = JobSpec(
        source="<bench>",
        prompt="go",
        model=ModelSpec(provider="test", name="scripted"),
        environment=EnvironmentSpec(workspace=workspace),
        permissions=PermissionsSpec(mode="default"),
        limits=LimitsSpec(max_turns=None),
    )
    with open(os.devnull, "w") as devnull:
        driver = await prepare_run(job, sinks=[StreamJsonRenderer(devnull)], model=model)
        started = time.perf_counter()
        result = await driver.run()
        elapsed = time.perf_counter() - started
        await driver.close()
    if result.status != "completed":
        raise SystemExit(f"tau run failed: {result.error}")
    return elapsed


async def _measure(steps: int, repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workspace = str(Path(tmp).resolve())
        Path(workspace, "data.txt").write_text("alpha\nbeta\ngamma\n")
        await _bare(workspace, 5)  # warm imports and caches on both sides
        await _tau(workspace, 5)
        bare, tau = [], []
        for _ in range(repeats):
            bare.append(await _bare(workspace, steps))
            tau.append(await _tau(workspace, steps))
    bare_step = statistics.median(bare) / steps * 1000
    tau_step = statistics.median(tau) / steps * 1000
    return {
        "benchmark": "loop_overhead",
        "steps": steps,
        "repeats": repeats,
        "bare_ms_per_step": round(bare_step, 3),
        "tau_ms_per_step": round(tau_step, 3),
        "overhead_ms_per_step": round(tau_step - bare_step, 3),
        "ratio": round(tau_step / bare_step, 3),
        "budget_ratio": 1.2,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    steps, repeats = (50, 3) if args.quick else (args.steps, args.repeats)
    report = anyio.run(_measure, steps, repeats)
    report["within_budget"] = report["ratio"] <= report["budget_ratio"]
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
